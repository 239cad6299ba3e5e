//! Debian package version comparison, the rules of `dpkg --compare-versions`.
//!
//! A version is `[epoch:]upstream_version[-debian_revision]`. The epoch decides first, then the
//! upstream version, then the revision. Upstream version and revision are compared with dpkg's
//! `verrevcmp` (dpkg 1.21, `lib/dpkg/version.c`): alternating runs of non-digits and digits,
//! where non-digits compare by "`~` first, then the end of the string, then letters, then every
//! other character", and digit runs compare as numbers.

use std::cmp::Ordering;

/// Compares two Debian package versions, as `dpkg --compare-versions A lt|eq|gt B` does.
///
/// A version without an epoch has epoch 0, and one without a revision compares as revision `0`.
/// Text before the first `:` that is not a number is kept as part of the upstream version.
pub fn compare(left: &str, right: &str) -> Ordering {
    let left = Parts::split(left);
    let right = Parts::split(right);
    left.epoch
        .cmp(&right.epoch)
        .then_with(|| compare_part(left.upstream.as_bytes(), right.upstream.as_bytes()))
        .then_with(|| compare_part(left.revision.as_bytes(), right.revision.as_bytes()))
}

/// Returns whether `candidate` is newer than `installed`.
pub fn is_newer(candidate: &str, installed: &str) -> bool {
    compare(candidate, installed) == Ordering::Greater
}

struct Parts<'a> {
    epoch: u64,
    upstream: &'a str,
    revision: &'a str,
}

impl<'a> Parts<'a> {
    fn split(version: &'a str) -> Self {
        let (epoch, rest) = match version.split_once(':') {
            Some((epoch, rest))
                if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) =>
            {
                (epoch.parse().unwrap_or(u64::MAX), rest)
            }
            _ => (0, version),
        };
        let (upstream, revision) = rest.rsplit_once('-').unwrap_or((rest, ""));
        Self {
            epoch,
            upstream,
            revision,
        }
    }
}

/// Sort weight of one character of a non-digit run; `None` is the end of the string.
fn weight(character: Option<u8>) -> i32 {
    match character {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp` on one part (upstream version or revision).
fn compare_part(left: &[u8], right: &[u8]) -> Ordering {
    let mut i = 0;
    let mut j = 0;
    let at = |text: &[u8], index: usize| text.get(index).copied();
    let is_digit = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_digit());

    while i < left.len() || j < right.len() {
        while (i < left.len() && !is_digit(at(left, i)))
            || (j < right.len() && !is_digit(at(right, j)))
        {
            let difference = weight(at(left, i)) - weight(at(right, j));
            if difference != 0 {
                return difference.cmp(&0);
            }
            i += 1;
            j += 1;
        }

        while at(left, i) == Some(b'0') {
            i += 1;
        }
        while at(right, j) == Some(b'0') {
            j += 1;
        }
        let mut first_difference = Ordering::Equal;
        while is_digit(at(left, i)) && is_digit(at(right, j)) {
            if first_difference == Ordering::Equal {
                first_difference = at(left, i).cmp(&at(right, j));
            }
            i += 1;
            j += 1;
        }
        if is_digit(at(left, i)) {
            return Ordering::Greater;
        }
        if is_digit(at(right, j)) {
            return Ordering::Less;
        }
        if first_difference != Ordering::Equal {
            return first_difference;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pairs from the Debian Policy Manual (section 5.6.12, "Version") and from dpkg's own
    /// version tests (`lib/dpkg/t/t-version.c`), with the expected order of left to right.
    const CASES: &[(&str, &str, Ordering)] = &[
        ("1.0", "1.0", Ordering::Equal),
        ("0:1.0", "1.0", Ordering::Equal),
        ("0:0-0", "0:0-0", Ordering::Equal),
        ("0:0-0", "0:00-0", Ordering::Equal),
        ("1.001", "1.1", Ordering::Equal),
        ("1.0", "1.0-0", Ordering::Equal),
        ("1.0", "1.0-1", Ordering::Less),
        ("1.0-1", "1.0-2", Ordering::Less),
        ("1.0-9", "1.0-10", Ordering::Less),
        ("1.2.3", "1.2.10", Ordering::Less),
        ("1:1.0", "2.0", Ordering::Greater),
        ("1:0.1", "0:9.9", Ordering::Greater),
        ("2:1.0", "10:0.1", Ordering::Less),
        ("1.0~rc1", "1.0", Ordering::Less),
        ("1.0~rc1-1", "1.0-1", Ordering::Less),
        ("1.0~~", "1.0~~a", Ordering::Less),
        ("1.0~~a", "1.0~", Ordering::Less),
        ("1.0~", "1.0", Ordering::Less),
        ("1.0", "1.0a", Ordering::Less),
        ("1.0a", "1.0+", Ordering::Less),
        ("1.0a", "1.0b", Ordering::Less),
        ("1.0Z", "1.0a", Ordering::Less),
        ("1.0-1", "1.0-1+b1", Ordering::Less),
        ("1.0+dfsg-1", "1.0-1", Ordering::Greater),
        ("3.0.11-1~deb12u1", "3.0.11-1~deb12u2", Ordering::Less),
        ("3.0.11-1~deb12u2", "3.0.11-1", Ordering::Less),
        ("2023c-5", "2024a-0+deb12u1", Ordering::Less),
        ("7.88.1-10+deb12u5", "7.88.1-10+deb12u6", Ordering::Less),
        ("1:2.3~rc1-1", "1:2.3-1", Ordering::Less),
        ("1.2-3-4", "1.2-3-5", Ordering::Less),
        ("1.2-3-4", "1.2-4", Ordering::Greater),
        ("a", "b", Ordering::Less),
        ("1.0.0", "1.0", Ordering::Greater),
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
        assert!(is_newer("2.0", "1.0"));
        assert!(!is_newer("1.0", "1.0"));
        assert!(!is_newer("1.0", "1:0.5"));
    }

    /// Cross-checks the table with the real `dpkg --compare-versions` where dpkg is installed.
    #[test]
    fn compare_agrees_with_dpkg() {
        if !crate::packages::is_on_path("dpkg") {
            return;
        }
        for (left, right, expected) in CASES {
            let operator = match expected {
                Ordering::Less => "lt",
                Ordering::Equal => "eq",
                Ordering::Greater => "gt",
            };
            let status = std::process::Command::new("dpkg")
                .args(["--compare-versions", left, operator, right])
                .status()
                .unwrap();
            assert!(
                status.success(),
                "dpkg disagrees: {left} {operator} {right}"
            );
        }
    }
}
