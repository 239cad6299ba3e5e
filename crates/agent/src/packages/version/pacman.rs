//! Arch Linux package version comparison, the rules of pacman's `vercmp`.
//!
//! A version is `[epoch:]pkgver[-pkgrel]`. The epoch decides first, then `pkgver`, then
//! `pkgrel` only when both versions have one. Each part is compared by `rpmvercmp` as pacman
//! 6.0 implements it (`lib/libalpm/version.c`): runs of digits and runs of letters are compared
//! in turn, numbers as numbers and letters as text, a number beats letters, a longer separator
//! run wins, and trailing letters (`1.0rc`) sort before the end of the string (`1.0`).

use std::cmp::Ordering;

/// Compares two pacman package versions, as `vercmp A B` does.
pub fn compare(left: &str, right: &str) -> Ordering {
    if left == right {
        return Ordering::Equal;
    }
    let left = Parts::split(left);
    let right = Parts::split(right);
    let mut order = rpmvercmp(left.epoch.as_bytes(), right.epoch.as_bytes());
    if order == Ordering::Equal {
        order = rpmvercmp(left.version.as_bytes(), right.version.as_bytes());
        if order == Ordering::Equal
            && let (Some(left_release), Some(right_release)) = (left.release, right.release)
        {
            order = rpmvercmp(left_release.as_bytes(), right_release.as_bytes());
        }
    }
    order
}

/// Returns whether `candidate` is newer than `installed`.
pub fn is_newer(candidate: &str, installed: &str) -> bool {
    compare(candidate, installed) == Ordering::Greater
}

struct Parts<'a> {
    epoch: &'a str,
    version: &'a str,
    release: Option<&'a str>,
}

impl<'a> Parts<'a> {
    /// Splits like libalpm's `parseEVR`: the epoch is the leading digits when a `:` follows
    /// them, the release is the text after the last `-`.
    fn split(text: &'a str) -> Self {
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        let (epoch, rest) = if text.as_bytes().get(digits) == Some(&b':') {
            let epoch = &text[..digits];
            (
                if epoch.is_empty() { "0" } else { epoch },
                &text[digits + 1..],
            )
        } else {
            ("0", text)
        };
        match rest.rsplit_once('-') {
            Some((version, release)) => Self {
                epoch,
                version,
                release: Some(release),
            },
            None => Self {
                epoch,
                version: rest,
                release: None,
            },
        }
    }
}

/// pacman's `rpmvercmp` on one part of a version.
fn rpmvercmp(left: &[u8], right: &[u8]) -> Ordering {
    if left == right {
        return Ordering::Equal;
    }
    let at = |text: &[u8], index: usize| text.get(index).copied().unwrap_or(0);
    let mut one = 0;
    let mut two = 0;
    let mut segment_one = 0;
    let mut segment_two = 0;

    while one < left.len() && two < right.len() {
        while one < left.len() && !at(left, one).is_ascii_alphanumeric() {
            one += 1;
        }
        while two < right.len() && !at(right, two).is_ascii_alphanumeric() {
            two += 1;
        }
        if one >= left.len() || two >= right.len() {
            break;
        }
        // Separator runs of different length decide: `2___a` is newer than `2_a`.
        if one - segment_one != two - segment_two {
            return (one - segment_one).cmp(&(two - segment_two));
        }

        segment_one = one;
        segment_two = two;
        let is_number = at(left, segment_one).is_ascii_digit();
        let belongs = |c: u8| {
            if is_number {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        while segment_one < left.len() && belongs(at(left, segment_one)) {
            segment_one += 1;
        }
        while segment_two < right.len() && belongs(at(right, segment_two)) {
            segment_two += 1;
        }

        // The right side has a segment of the other kind here: a number beats letters.
        if two == segment_two {
            return if is_number {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }

        let mut first = &left[one..segment_one];
        let mut second = &right[two..segment_two];
        if is_number {
            while first.first() == Some(&b'0') {
                first = &first[1..];
            }
            while second.first() == Some(&b'0') {
                second = &second[1..];
            }
            if first.len() != second.len() {
                return first.len().cmp(&second.len());
            }
        }
        let order = first.cmp(second);
        if order != Ordering::Equal {
            return order;
        }
        one = segment_one;
        two = segment_two;
    }

    let left_done = one >= left.len();
    let right_done = two >= right.len();
    if left_done && right_done {
        return Ordering::Equal;
    }
    // A remaining letter run never beats the end of the other version, anything else does.
    if (left_done && !at(right, two).is_ascii_alphabetic()) || at(left, one).is_ascii_alphabetic() {
        Ordering::Less
    } else {
        Ordering::Greater
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pairs from pacman's `vercmp` test script (`test/util/vercmptest.sh`, pacman 6.0) and the
    /// examples of the vercmp(8) manual page.
    const CASES: &[(&str, &str, Ordering)] = &[
        ("1.5.0", "1.5.0", Ordering::Equal),
        ("1.5.1", "1.5.0", Ordering::Greater),
        ("1.5.1", "1.5", Ordering::Greater),
        ("1.5.0-1", "1.5.0-1", Ordering::Equal),
        ("1.5.0-1", "1.5.0-2", Ordering::Less),
        ("1.5.0-1", "1.5.1-1", Ordering::Less),
        ("1.5.0-2", "1.5.1-1", Ordering::Less),
        ("1.5-1", "1.5.1-1", Ordering::Less),
        ("1.5-2", "1.5.1-1", Ordering::Less),
        ("1.5-2", "1.5.1-2", Ordering::Less),
        ("1.5", "1.5-1", Ordering::Equal),
        ("1.5-1", "1.5", Ordering::Equal),
        ("1.1-1", "1.1", Ordering::Equal),
        ("1.0-1", "1.1", Ordering::Less),
        ("1.1-1", "1.0", Ordering::Greater),
        ("1.5b-1", "1.5-1", Ordering::Less),
        ("1.5b", "1.5", Ordering::Less),
        ("1.5b-1", "1.5", Ordering::Less),
        ("1.5b", "1.5.1", Ordering::Less),
        ("1.0a", "1.0alpha", Ordering::Less),
        ("1.0alpha", "1.0b", Ordering::Less),
        ("1.0b", "1.0beta", Ordering::Less),
        ("1.0beta", "1.0rc", Ordering::Less),
        ("1.0rc", "1.0", Ordering::Less),
        ("1.5.a", "1.5", Ordering::Greater),
        ("1.5.b", "1.5.a", Ordering::Greater),
        ("1.5.1", "1.5.b", Ordering::Greater),
        ("1.5.b-1", "1.5.b", Ordering::Equal),
        ("1.5-1", "1.5.b", Ordering::Less),
        ("2.0", "2_0", Ordering::Equal),
        ("2.0_a", "2_0.a", Ordering::Equal),
        ("2.0a", "2.0.a", Ordering::Less),
        ("2___a", "2_a", Ordering::Greater),
        ("0:1.0", "0:1.0", Ordering::Equal),
        ("0:1.0", "0:1.1", Ordering::Less),
        ("1:1.0", "0:1.0", Ordering::Greater),
        ("1:1.0", "0:1.1", Ordering::Greater),
        ("1:1.0", "2:1.1", Ordering::Less),
        ("1:1.0", "0:1.0-1", Ordering::Greater),
        ("1:1.0-1", "0:1.1-1", Ordering::Greater),
        ("0:1.0", "1.0", Ordering::Equal),
        ("0:1.1", "1.0", Ordering::Greater),
        ("0:1.1", "1.1", Ordering::Equal),
        ("1:1.0", "1.0", Ordering::Greater),
        ("1:1.0", "2.0", Ordering::Greater),
        ("1:1.0", "1.1", Ordering::Greater),
        ("1:1.0", "1:1.1", Ordering::Less),
        ("1.01", "1.1", Ordering::Equal),
        ("1.10", "1.9", Ordering::Greater),
        ("6.7.9.arch1-1", "6.8.1.arch1-1", Ordering::Less),
        ("2:4.2.1-1", "1:9.0-1", Ordering::Greater),
    ];

    #[test]
    fn compare_known_pairs() {
        for (left, right, expected) in CASES {
            assert_eq!(compare(left, right), *expected, "{left} vs {right}");
            assert_eq!(
                compare(right, left),
                expected.reverse(),
                "{right} vs {left}"
            );
        }
    }

    #[test]
    fn newer_is_strict() {
        assert!(is_newer("1.0-2", "1.0-1"));
        assert!(!is_newer("1.0-1", "1.0-1"));
        assert!(!is_newer("9.0-1", "1:1.0-1"));
    }

    /// Cross-checks the table with the real `vercmp` (pacman's) where it is installed.
    #[test]
    fn compare_agrees_with_vercmp() {
        if !crate::packages::is_on_path("vercmp") {
            return;
        }
        for (left, right, expected) in CASES {
            let output = std::process::Command::new("vercmp")
                .args([left, right])
                .output()
                .unwrap();
            let printed = String::from_utf8_lossy(&output.stdout);
            let value: i32 = printed.trim().parse().unwrap();
            assert_eq!(value.cmp(&0), *expected, "vercmp {left} {right}");
        }
    }
}
