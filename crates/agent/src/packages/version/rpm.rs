//! RPM version comparison, the rules of rpm's `rpmvercmp` and `rpmverCmp` (rpm 4.18,
//! `rpmio/rpmvercmp.c` and `lib/rpmver.c`), which dnf, yum and zypper all follow.
//!
//! A full version is `[epoch:]version[-release]`. The epoch decides first, then the version, then
//! the release. Version and release are compared segment by segment: runs of ASCII digits
//! compare as numbers, runs of ASCII letters compare as text, any other character only separates
//! segments. `~` sorts before everything, even the end of the string (`1.0~rc1` < `1.0`), and
//! `^` sorts after the end of the string but before any other segment (`1.0` < `1.0^git1` <
//! `1.0.1`). Not for parsing package specs; see [`Evr`] and [`Nevra`] for that.

use std::cmp::Ordering;
use std::fmt;

/// Compares two version or release strings as rpm's `rpmvercmp` does.
pub fn rpmvercmp(left: &str, right: &str) -> Ordering {
    if left == right {
        return Ordering::Equal;
    }
    let mut one = left.as_bytes();
    let mut two = right.as_bytes();
    let is_separator = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';

    while !one.is_empty() || !two.is_empty() {
        one = trim_start(one, is_separator);
        two = trim_start(two, is_separator);

        // A tilde sorts before everything else, including the end of the string.
        if one.first() == Some(&b'~') || two.first() == Some(&b'~') {
            if one.first() != Some(&b'~') {
                return Ordering::Greater;
            }
            if two.first() != Some(&b'~') {
                return Ordering::Less;
            }
            one = &one[1..];
            two = &two[1..];
            continue;
        }

        // A caret sorts like a tilde, except that the end of the string sorts before it.
        if one.first() == Some(&b'^') || two.first() == Some(&b'^') {
            if one.is_empty() {
                return Ordering::Less;
            }
            if two.is_empty() {
                return Ordering::Greater;
            }
            if one.first() != Some(&b'^') {
                return Ordering::Greater;
            }
            if two.first() != Some(&b'^') {
                return Ordering::Less;
            }
            one = &one[1..];
            two = &two[1..];
            continue;
        }

        if one.is_empty() || two.is_empty() {
            break;
        }

        let numeric = one[0].is_ascii_digit();
        let segment_of = |text: &[u8]| -> usize {
            if numeric {
                text.iter().take_while(|c| c.is_ascii_digit()).count()
            } else {
                text.iter().take_while(|c| c.is_ascii_alphabetic()).count()
            }
        };
        let (segment_one, rest_one) = one.split_at(segment_of(one));
        let (segment_two, rest_two) = two.split_at(segment_of(two));

        // Segments of different kinds: a number is newer than letters.
        if segment_two.is_empty() {
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }

        let order = if numeric {
            let segment_one = trim_start(segment_one, |c| c == b'0');
            let segment_two = trim_start(segment_two, |c| c == b'0');
            segment_one
                .len()
                .cmp(&segment_two.len())
                .then_with(|| segment_one.cmp(segment_two))
        } else {
            segment_one.cmp(segment_two)
        };
        if order != Ordering::Equal {
            return order;
        }
        one = rest_one;
        two = rest_two;
    }

    // Every segment compared equal; whichever string has characters left is newer.
    match (one.is_empty(), two.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, _) => Ordering::Greater,
    }
}

fn trim_start(text: &[u8], remove: impl Fn(u8) -> bool) -> &[u8] {
    let start = text.iter().take_while(|c| remove(**c)).count();
    &text[start..]
}

/// Epoch, version and release of a package, such as `1:2.3-4.el9`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Evr {
    /// The epoch as written, `None` when absent (which compares as `0`).
    pub epoch: Option<String>,
    pub version: String,
    /// The release, `None` when the text has no `-`.
    pub release: Option<String>,
}

impl Evr {
    /// Splits `[epoch:]version[-release]`. The epoch is the text before the first `:` when it
    /// is all digits; the release is the text after the last `-`.
    pub fn parse(text: &str) -> Self {
        let (epoch, rest) = match text.split_once(':') {
            Some((epoch, rest))
                if !epoch.is_empty() && epoch.bytes().all(|c| c.is_ascii_digit()) =>
            {
                (Some(epoch.to_owned()), rest)
            }
            _ => (None, text),
        };
        let (version, release) = match rest.rsplit_once('-') {
            Some((version, release)) => (version.to_owned(), Some(release.to_owned())),
            None => (rest.to_owned(), None),
        };
        Self {
            epoch,
            version,
            release,
        }
    }

    /// Returns the epoch as a number, `0` when absent.
    pub fn epoch_number(&self) -> u64 {
        self.epoch
            .as_deref()
            .and_then(|epoch| epoch.parse().ok())
            .unwrap_or(0)
    }

    /// Compares as rpm's `rpmverCmp`: epoch, then version, then release when both have one.
    pub fn compare(&self, other: &Self) -> Ordering {
        let epoch = |evr: &Self| evr.epoch.clone().unwrap_or_else(|| "0".to_owned());
        rpmvercmp(&epoch(self), &epoch(other))
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| match (&self.release, &other.release) {
                (Some(left), Some(right)) => rpmvercmp(left, right),
                _ => Ordering::Equal,
            })
    }
}

impl fmt::Display for Evr {
    /// Formats as dnf prints versions: the epoch only when it is not zero.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch_number() != 0 {
            write!(formatter, "{}:", self.epoch_number())?;
        }
        formatter.write_str(&self.version)?;
        if let Some(release) = &self.release {
            write!(formatter, "-{release}")?;
        }
        Ok(())
    }
}

/// Compares two `[epoch:]version[-release]` strings.
pub fn compare(left: &str, right: &str) -> Ordering {
    Evr::parse(left).compare(&Evr::parse(right))
}

/// Returns whether `candidate` is newer than `installed`.
pub fn is_newer(candidate: &str, installed: &str) -> bool {
    compare(candidate, installed) == Ordering::Greater
}

/// Name, epoch, version, release and architecture of one package, as in
/// `openssl-libs-1:3.0.7-27.el9.x86_64`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nevra {
    pub name: String,
    pub evr: Evr,
    pub architecture: String,
}

impl Nevra {
    /// Splits `name-[epoch:]version-release.arch`. Returns `None` when a part is missing.
    ///
    /// The architecture is the text after the last `.`, the release the text after the last
    /// `-` before it and the version the text after the `-` before that: names may contain `-`,
    /// versions and releases may not.
    pub fn parse(text: &str) -> Option<Self> {
        let (rest, architecture) = text.rsplit_once('.')?;
        let (rest, release) = rest.rsplit_once('-')?;
        let (name, epoch_version) = rest.rsplit_once('-')?;
        if name.is_empty() || architecture.is_empty() || release.is_empty() {
            return None;
        }
        let evr = Evr::parse(&format!("{epoch_version}-{release}"));
        if evr.version.is_empty() {
            return None;
        }
        Some(Self {
            name: name.to_owned(),
            evr,
            architecture: architecture.to_owned(),
        })
    }
}

/// Architectures that RPM distributions build for, used to tell `name.arch` from a name that
/// contains a dot (`python3.11`).
pub const ARCHITECTURES: &[&str] = &[
    "noarch",
    "x86_64",
    "i686",
    "i586",
    "i486",
    "i386",
    "aarch64",
    "ppc64le",
    "ppc64",
    "s390x",
    "armv7hl",
    "armv7l",
    "armv6hl",
    "riscv64",
    "loongarch64",
    "src",
    "nosrc",
];

/// Splits `name.arch` when the suffix is a known architecture.
pub fn split_architecture(name_arch: &str) -> Option<(&str, &str)> {
    let (name, architecture) = name_arch.rsplit_once('.')?;
    (!name.is_empty() && ARCHITECTURES.contains(&architecture)).then_some((name, architecture))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Cases from rpm's own test suite (`tests/rpmvercmp.at`), which the implementation must
    /// agree with.
    const RPM_CASES: &[(&str, &str, i8)] = &[
        ("1.0", "1.0", 0),
        ("1.0", "2.0", -1),
        ("2.0", "1.0", 1),
        ("2.0.1", "2.0.1", 0),
        ("2.0", "2.0.1", -1),
        ("2.0.1", "2.0", 1),
        ("2.0.1a", "2.0.1a", 0),
        ("2.0.1a", "2.0.1", 1),
        ("2.0.1", "2.0.1a", -1),
        ("5.5p1", "5.5p1", 0),
        ("5.5p1", "5.5p2", -1),
        ("5.5p2", "5.5p1", 1),
        ("5.5p10", "5.5p10", 0),
        ("5.5p1", "5.5p10", -1),
        ("5.5p10", "5.5p1", 1),
        ("10xyz", "10.1xyz", -1),
        ("10.1xyz", "10xyz", 1),
        ("xyz10", "xyz10", 0),
        ("xyz10", "xyz10.1", -1),
        ("xyz10.1", "xyz10", 1),
        ("xyz.4", "xyz.4", 0),
        ("xyz.4", "8", -1),
        ("8", "xyz.4", 1),
        ("xyz.4", "2", -1),
        ("2", "xyz.4", 1),
        ("5.5p2", "5.6p1", -1),
        ("5.6p1", "5.5p2", 1),
        ("5.6p1", "6.5p1", -1),
        ("6.5p1", "5.6p1", 1),
        ("6.0.rc1", "6.0", 1),
        ("6.0", "6.0.rc1", -1),
        ("10b2", "10a1", 1),
        ("10a2", "10b2", -1),
        ("1.0aa", "1.0aa", 0),
        ("1.0a", "1.0aa", -1),
        ("1.0aa", "1.0a", 1),
        ("10.0001", "10.0001", 0),
        ("10.0001", "10.1", 0),
        ("10.1", "10.0001", 0),
        ("10.0001", "10.0039", -1),
        ("10.0039", "10.0001", 1),
        ("4.999.9", "5.0", -1),
        ("5.0", "4.999.9", 1),
        ("20101121", "20101121", 0),
        ("20101121", "20101122", -1),
        ("20101122", "20101121", 1),
        ("2_0", "2_0", 0),
        ("2.0", "2_0", 0),
        ("2_0", "2.0", 0),
        ("a", "a", 0),
        ("a+", "a+", 0),
        ("a+", "a_", 0),
        ("a_", "a+", 0),
        ("+a", "+a", 0),
        ("+a", "_a", 0),
        ("_a", "+a", 0),
        ("+_", "+_", 0),
        ("_+", "+_", 0),
        ("_+", "_+", 0),
        ("+", "_", 0),
        ("_", "+", 0),
        ("1.0~rc1", "1.0~rc1", 0),
        ("1.0~rc1", "1.0", -1),
        ("1.0", "1.0~rc1", 1),
        ("1.0~rc1", "1.0~rc2", -1),
        ("1.0~rc2", "1.0~rc1", 1),
        ("1.0~rc1~git123", "1.0~rc1~git123", 0),
        ("1.0~rc1~git123", "1.0~rc1", -1),
        ("1.0~rc1", "1.0~rc1~git123", 1),
        ("1.0^", "1.0^", 0),
        ("1.0^", "1.0", 1),
        ("1.0", "1.0^", -1),
        ("1.0^git1", "1.0^git1", 0),
        ("1.0^git1", "1.0", 1),
        ("1.0", "1.0^git1", -1),
        ("1.0^git1", "1.0^git2", -1),
        ("1.0^git2", "1.0^git1", 1),
        ("1.0^git1", "1.01", -1),
        ("1.01", "1.0^git1", 1),
        ("1.0^20160101", "1.0^20160101", 0),
        ("1.0^20160101", "1.0.1", -1),
        ("1.0.1", "1.0^20160101", 1),
        ("1.0^20160101^git1", "1.0^20160101^git1", 0),
        ("1.0^20160102", "1.0^20160101^git1", 1),
        ("1.0^20160101^git1", "1.0^20160102", -1),
        ("1.0~rc1^git1", "1.0~rc1^git1", 0),
        ("1.0~rc1^git1", "1.0~rc1", 1),
        ("1.0~rc1", "1.0~rc1^git1", -1),
        ("1.0^git1~pre", "1.0^git1~pre", 0),
        ("1.0^git1", "1.0^git1~pre", 1),
        ("1.0^git1~pre", "1.0^git1", -1),
        ("1b.fc17", "1b.fc17", 0),
        ("1b.fc17", "1.fc17", -1),
        ("1.fc17", "1b.fc17", 1),
        ("1g.fc17", "1g.fc17", 0),
        ("1g.fc17", "1.fc17", 1),
        ("1.fc17", "1g.fc17", -1),
    ];

    #[test]
    fn agrees_with_rpm_test_suite() {
        for (left, right, expected) in RPM_CASES {
            let expected = expected.cmp(&0);
            assert_eq!(rpmvercmp(left, right), expected, "{left} vs {right}");
        }
    }

    #[test]
    fn evr_epoch_outranks_version() {
        let cases = [
            ("1:1.0-1", "2.0-1", Ordering::Greater),
            ("0:2.0-1", "2.0-1", Ordering::Equal),
            ("2.0-1", "1:1.0-1", Ordering::Less),
            ("2:1.5-1", "1:9.9-9", Ordering::Greater),
            ("1.0-1.el9", "1.0-1.el9_4", Ordering::Less),
            ("1.0-2", "1.0-10", Ordering::Less),
            ("3.0.7-27.el9", "3.0.7-27.el9", Ordering::Equal),
            // A side without a release compares equal on the release, as rpm's rpmverCmp does.
            ("1.0", "1.0-5", Ordering::Equal),
            ("1.0~rc1-1", "1.0-1", Ordering::Less),
            ("1.0^git1-1", "1.0-1", Ordering::Greater),
            ("10:1-1", "9:1-1", Ordering::Greater),
        ];
        for (left, right, expected) in cases {
            assert_eq!(compare(left, right), expected, "{left} vs {right}");
        }
        assert!(is_newer("2.0-1", "1.0-1"));
        assert!(!is_newer("1.0-1", "1.0-1"));
    }

    #[test]
    fn evr_parse_and_display() {
        let evr = Evr::parse("1:2.3-4.el9");
        assert_eq!(evr.epoch.as_deref(), Some("1"));
        assert_eq!(evr.version, "2.3");
        assert_eq!(evr.release.as_deref(), Some("4.el9"));
        assert_eq!(evr.to_string(), "1:2.3-4.el9");
        assert_eq!(Evr::parse("0:2.3-4").to_string(), "2.3-4");
        assert_eq!(Evr::parse("2.3").release, None);
        // Text before a colon that is not a number stays in the version.
        assert_eq!(Evr::parse("a:1-2").version, "a:1");
    }

    #[test]
    fn nevra_parse() {
        let nevra = Nevra::parse("openssl-libs-1:3.0.7-27.el9.x86_64").unwrap();
        assert_eq!(nevra.name, "openssl-libs");
        assert_eq!(nevra.evr.to_string(), "1:3.0.7-27.el9");
        assert_eq!(nevra.architecture, "x86_64");

        let nevra = Nevra::parse("kernel-core-5.14.0-427.13.1.el9_4.x86_64").unwrap();
        assert_eq!(nevra.name, "kernel-core");
        assert_eq!(nevra.evr.version, "5.14.0");
        assert_eq!(nevra.evr.release.as_deref(), Some("427.13.1.el9_4"));

        assert_eq!(Nevra::parse("noversion.x86_64"), None);
        // Without an architecture the release would be taken for one, which leaves no name.
        assert_eq!(Nevra::parse("name-1.0-1"), None);
    }

    #[test]
    fn architecture_suffix() {
        assert_eq!(split_architecture("glibc.i686"), Some(("glibc", "i686")));
        assert_eq!(split_architecture("python3.11"), None);
        assert_eq!(split_architecture(".noarch"), None);
    }

    fn version_text() -> impl Strategy<Value = String> {
        // Letters, digits, the separators rpm skips, and the two special characters.
        proptest::string::string_regex("[0-9a-c.~^_+]{0,8}").unwrap()
    }

    proptest! {
        #[test]
        fn reflexive(version in version_text()) {
            prop_assert_eq!(rpmvercmp(&version, &version), Ordering::Equal);
        }

        #[test]
        fn antisymmetric(left in version_text(), right in version_text()) {
            prop_assert_eq!(rpmvercmp(&left, &right), rpmvercmp(&right, &left).reverse());
        }

        #[test]
        fn transitive(a in version_text(), b in version_text(), c in version_text()) {
            let mut sorted = [a, b, c];
            sorted.sort_by(|x, y| rpmvercmp(x, y));
            prop_assert_ne!(rpmvercmp(&sorted[0], &sorted[1]), Ordering::Greater);
            prop_assert_ne!(rpmvercmp(&sorted[1], &sorted[2]), Ordering::Greater);
            prop_assert_ne!(rpmvercmp(&sorted[0], &sorted[2]), Ordering::Greater);
        }

        #[test]
        fn tilde_sorts_before_release(version in "[0-9]{1,3}(\\.[0-9]{1,3}){0,2}", suffix in "[a-z0-9]{1,5}") {
            let pre = format!("{version}~{suffix}");
            let snapshot = format!("{version}^{suffix}");
            prop_assert_eq!(rpmvercmp(&pre, &version), Ordering::Less);
            prop_assert_eq!(rpmvercmp(&snapshot, &version), Ordering::Greater);
            prop_assert_eq!(rpmvercmp(&pre, &snapshot), Ordering::Less);
        }
    }
}
