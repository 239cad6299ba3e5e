//! FreeBSD package version comparison, the rules of `pkg version -t`.
//!
//! A version is `PORTVERSION[_PORTREVISION][,PORTEPOCH]`. The epoch decides first, then the
//! port version component by component, then the revision. Written against the algorithm of
//! `pkg_version_cmp` in pkg 1.20 (`libpkg/pkg_version.c`), which comes from the ports tools:
//! components are split at separators, each is a number, a letter or stage name (`alpha`,
//! `beta`, `pre`, `rc`, `pl`) and a patch level, and a stage sorts before the release.

use std::cmp::Ordering;

/// Compares two FreeBSD package versions, as `pkg version -t A B` does.
pub fn compare(left: &str, right: &str) -> Ordering {
    let left = Parts::split(left);
    let right = Parts::split(right);
    left.epoch
        .cmp(&right.epoch)
        .then_with(|| compare_port_versions(left.version, right.version))
        .then_with(|| left.revision.cmp(&right.revision))
}

/// A version split into port version, revision and epoch.
struct Parts<'a> {
    version: &'a [u8],
    revision: u64,
    epoch: u64,
}

impl<'a> Parts<'a> {
    fn split(text: &'a str) -> Self {
        let (rest, epoch) = match text.rsplit_once(',') {
            Some((rest, epoch)) => (rest, leading_number(epoch.as_bytes()).0),
            None => (text, 0),
        };
        let (version, revision) = match rest.rsplit_once('_') {
            Some((version, revision)) => (version, leading_number(revision.as_bytes()).0),
            None => (rest, 0),
        };
        Self {
            version: version.as_bytes(),
            revision,
            epoch,
        }
    }
}

/// One component of a port version: number, letter or stage, and patch level.
///
/// `number` is -1 for a component that starts with a letter (a stage such as `alpha1`) and -2
/// for `*`, so both sort before any release number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
struct Component {
    number: i64,
    letter: i64,
    patch_level: i64,
}

/// Stage names and the value they sort by: the value of their first letter, except `pl`.
const STAGES: &[(&str, i64)] = &[
    ("pl", 0),
    ("alpha", 1),
    ("beta", 2),
    ("pre", 16),
    ("rc", 18),
];

fn compare_port_versions(mut left: &[u8], mut right: &[u8]) -> Ordering {
    if left.eq_ignore_ascii_case(right) {
        return Ordering::Equal;
    }
    while !left.is_empty() || !right.is_empty() {
        let left_blocked = left.is_empty() || left[0] == b'+';
        let right_blocked = right.is_empty() || right[0] == b'+';
        if left_blocked && right_blocked {
            // A `+` ends the comparable part on both sides, so skip it and go on after it.
            left = left.get(1..).unwrap_or_default();
            right = right.get(1..).unwrap_or_default();
            continue;
        }
        let mut left_component = Component::default();
        let mut right_component = Component::default();
        if !left_blocked {
            (left_component, left) = next_component(left);
        }
        if !right_blocked {
            (right_component, right) = next_component(right);
        }
        let order = left_component.cmp(&right_component);
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

/// Reads one component from the start of `text` and returns it with the rest of the text.
fn next_component(text: &[u8]) -> (Component, &[u8]) {
    let mut component = Component::default();
    let mut rest = text;
    let mut is_stage_component = false;

    match rest.first() {
        Some(byte) if byte.is_ascii_digit() => {
            let (number, after) = leading_number(rest);
            component.number = i64::try_from(number).unwrap_or(i64::MAX);
            rest = after;
        }
        Some(b'*') => {
            component.number = -2;
            while let Some(&byte) = rest.first() {
                if byte == b'+' {
                    break;
                }
                rest = &rest[1..];
            }
        }
        _ => {
            component.number = -1;
            is_stage_component = true;
        }
    }

    let mut has_patch_level = false;
    if rest.first().is_some_and(u8::is_ascii_alphabetic) {
        has_patch_level = true;
        let stage = STAGES.iter().find(|(name, _)| {
            rest.len() >= name.len()
                && rest[..name.len()].eq_ignore_ascii_case(name.as_bytes())
                && !rest.get(name.len()).is_some_and(u8::is_ascii_alphabetic)
        });
        match stage {
            Some((name, value)) if is_stage_component => {
                component.letter = *value;
                rest = &rest[name.len()..];
            }
            Some(_) => {
                // A stage right after a number ("1.0alpha1") is read as the next component.
                component.letter = 0;
                has_patch_level = false;
            }
            None => {
                component.letter = i64::from(rest[0].to_ascii_lowercase() - b'a' + 1);
                while rest.first().is_some_and(u8::is_ascii_alphabetic) {
                    rest = &rest[1..];
                }
            }
        }
    }

    if has_patch_level {
        if rest.first().is_some_and(u8::is_ascii_digit) {
            let (number, after) = leading_number(rest);
            component.patch_level = i64::try_from(number).unwrap_or(i64::MAX);
            rest = after;
        } else {
            component.patch_level = -1;
        }
    }

    while let Some(&byte) = rest.first() {
        if byte.is_ascii_alphanumeric() || byte == b'+' || byte == b'*' {
            break;
        }
        rest = &rest[1..];
    }
    (component, rest)
}

/// Reads the decimal number at the start of `text`, saturating, and returns it with the rest.
fn leading_number(text: &[u8]) -> (u64, &[u8]) {
    let digits = text.iter().take_while(|byte| byte.is_ascii_digit()).count();
    let number = text[..digits].iter().fold(0_u64, |total, digit| {
        total
            .saturating_mul(10)
            .saturating_add(u64::from(digit - b'0'))
    });
    (number, &text[digits..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_table() {
        use Ordering::{Equal, Greater, Less};
        let cases = [
            ("1", "2", Less),
            ("1.0", "1.0", Equal),
            ("1.0", "1", Equal),
            ("1.10", "1.9", Greater),
            ("1.0_1", "1.0", Greater),
            ("1.0_10", "1.0_9", Greater),
            ("1.0,1", "2.0", Greater),
            ("2.0_5", "1.0_1,1", Less),
            ("1.0,1", "1.0_1,1", Less),
            ("1.0alpha1", "1.0", Less),
            ("1.0alpha2", "1.0alpha1", Greater),
            ("1.0beta1", "1.0alpha9", Greater),
            ("1.0pre1", "1.0beta1", Greater),
            ("1.0rc1", "1.0pre1", Greater),
            ("1.0rc1", "1.0", Less),
            ("1.0a", "1.0", Greater),
            ("1.0b", "1.0a", Greater),
            ("1.0.a", "1.0.b", Less),
            ("3.0.11_1", "3.0.12", Less),
            ("1.1.1w,1", "1.1.1v,1", Greater),
            ("20230101", "20221231", Greater),
            // After a `+` the comparison goes on, and a letter component sorts below zero.
            ("1.2.3+gitabc", "1.2.3", Less),
            ("1.2.4+git", "1.2.3", Greater),
            ("1.ALPHA1", "1.alpha1", Equal),
            // The orderings the pkg sources document next to the algorithm.
            ("2.*", "2pl1", Less),
            ("2pl1", "2alpha3", Less),
            ("2alpha3", "2.9f7", Less),
            ("2.9f7", "3.*", Less),
            ("10alpha", "10.a", Equal),
            ("10", "10a", Less),
            ("1.d2", "1.dev2", Equal),
            ("1.dev2", "1.Development2", Equal),
            ("10..1", "10.1", Equal),
        ];
        for (left, right, expected) in cases {
            assert_eq!(compare(left, right), expected, "{left} vs {right}");
            assert_eq!(
                compare(right, left),
                expected.reverse(),
                "{right} vs {left}"
            );
        }
    }

    #[test]
    fn huge_numbers_saturate() {
        assert_eq!(compare("99999999999999999999999", "1"), Ordering::Greater);
    }
}
