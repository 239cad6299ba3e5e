//! Parsers for the apk output that update detection reads (apk-tools 2.14, Alpine 3.19 and
//! 3.20): `apk list --upgradable` and `apk upgrade --simulate`.
//!
//! apk has no translations, so the English words are stable, but the parsers still read the
//! fixed structure (`name-version arch {origin} (license) [upgradable from: name-version]`,
//! `(i/n) Upgrading name (old -> new)`). Every line must be recognised.

use std::collections::BTreeMap;

use sysmanage_protocol::validate_package_name_for;

use super::MANAGER;

/// One line of `apk list --upgradable`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedUpgrade {
    pub name: String,
    pub new_version: String,
    pub current_version: String,
    pub architecture: String,
}

/// Error in apk output that the parser does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unrecognised line {number}: {line:?}")]
    UnrecognisedLine { number: usize, line: String },
    #[error("the output ends without the \"OK: ...\" summary line")]
    MissingSummary,
}

/// Splits `name-version-rN` into name and version. Alpine versions always end in `-rN`, so the
/// version starts after the second-to-last `-`.
pub fn split_name_version(text: &str) -> Option<(&str, &str)> {
    let (rest, revision) = text.rsplit_once('-')?;
    let number = revision.strip_prefix('r')?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (name, upstream) = rest.rsplit_once('-')?;
    if !upstream.starts_with(|c: char| c.is_ascii_digit())
        || validate_package_name_for(MANAGER, name).is_err()
    {
        return None;
    }
    Some((name, &text[name.len() + 1..]))
}

/// Parses the output of `apk list --upgradable`.
pub fn parse_upgradable(output: &str) -> Result<Vec<ListedUpgrade>, ParseError> {
    let mut upgrades = Vec::new();
    for (index, line) in output.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let upgrade = parse_list_line(line).ok_or_else(|| ParseError::UnrecognisedLine {
            number: index + 1,
            line: line.to_owned(),
        })?;
        upgrades.push(upgrade);
    }
    Ok(upgrades)
}

/// Parses `name-new arch {origin} (license) [upgradable from: name-old]`. The license may
/// contain spaces and parentheses, so the line is read from both ends.
fn parse_list_line(line: &str) -> Option<ListedUpgrade> {
    let (head, from) = line.strip_suffix(']')?.rsplit_once(" [upgradable from: ")?;
    let mut fields = head.splitn(4, ' ');
    let package = fields.next()?;
    let architecture = fields.next()?;
    let origin = fields.next()?;
    let license = fields.next()?;
    let origin_valid = origin.starts_with('{') && origin.ends_with('}');
    let license_valid = license.starts_with('(') && license.ends_with(')');
    if !origin_valid || !license_valid || architecture.is_empty() {
        return None;
    }
    let (name, new_version) = split_name_version(package)?;
    let (old_name, current_version) = split_name_version(from)?;
    if old_name != name {
        return None;
    }
    Some(ListedUpgrade {
        name: name.to_owned(),
        new_version: new_version.to_owned(),
        current_version: current_version.to_owned(),
        architecture: architecture.to_owned(),
    })
}

/// Parses the output of `apk upgrade --simulate`: the new version of each package the upgrade
/// would install, by name.
///
/// Fails on unknown lines and when the `OK:` summary is missing (truncated output).
pub fn parse_simulation(output: &str) -> Result<BTreeMap<String, String>, ParseError> {
    let mut upgrades = BTreeMap::new();
    let mut summary = false;
    for (index, line) in output.lines().enumerate() {
        let unrecognised = || ParseError::UnrecognisedLine {
            number: index + 1,
            line: line.to_owned(),
        };
        if line.trim().is_empty()
            || line == "Upgrading critical system libraries and apk-tools:"
            || line == "Continuing the upgrade transaction with new apk-tools:"
            || line.starts_with("Executing ")
            || line.starts_with("WARNING: ")
        {
            continue;
        }
        if line.starts_with("OK: ") {
            summary = true;
            continue;
        }
        let Some(step) = line
            .strip_prefix('(')
            .and_then(|rest| rest.split_once(") "))
        else {
            return Err(unrecognised());
        };
        let (counter, action) = step;
        if !counter
            .split('/')
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(unrecognised());
        }
        let (verb, rest) = action.split_once(' ').ok_or_else(unrecognised)?;
        let (name, versions) = rest.split_once(" (").ok_or_else(unrecognised)?;
        let versions = versions.strip_suffix(')').ok_or_else(unrecognised)?;
        match verb {
            "Upgrading" => {
                let (_, new) = versions.split_once(" -> ").ok_or_else(unrecognised)?;
                upgrades.insert(name.to_owned(), new.to_owned());
            }
            "Downgrading" | "Replacing" => {
                if !versions.contains(" -> ") {
                    return Err(unrecognised());
                }
            }
            "Installing" | "Purging" | "Re-installing" | "Updating" => {}
            _ => return Err(unrecognised()),
        }
    }
    if !summary {
        return Err(ParseError::MissingSummary);
    }
    Ok(upgrades)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/apk/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[test]
    fn name_version_split() {
        let cases = [
            ("busybox-1.36.1-r29", Some(("busybox", "1.36.1-r29"))),
            (
                "py3-charset-normalizer-3.3.2-r1",
                Some(("py3-charset-normalizer", "3.3.2-r1")),
            ),
            ("libcrypto3-3.1.4-r5", Some(("libcrypto3", "3.1.4-r5"))),
            ("linux-lts-6.6.16-r0", Some(("linux-lts", "6.6.16-r0"))),
            ("openssl-3.3.0_rc1-r0", Some(("openssl", "3.3.0_rc1-r0"))),
            ("busybox-1.36.1", None),
            ("busybox-1.36.1-rx", None),
            ("busybox-r1", None),
        ];
        for (text, expected) in cases {
            assert_eq!(split_name_version(text), expected, "{text}");
        }
    }

    #[test]
    fn upgradable_fixture() {
        let upgrades = parse_upgradable(&fixture("list-upgradable.txt")).unwrap();
        let rows: Vec<(&str, &str, &str, &str)> = upgrades
            .iter()
            .map(|u| {
                (
                    u.name.as_str(),
                    u.current_version.as_str(),
                    u.new_version.as_str(),
                    u.architecture.as_str(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("busybox", "1.36.1-r28", "1.36.1-r29", "x86_64"),
                ("libcrypto3", "3.1.4-r5", "3.1.5-r0", "x86_64"),
                ("libssl3", "3.1.4-r5", "3.1.5-r0", "x86_64"),
                (
                    "musl",
                    "1.2.4_git20230717-r4",
                    "1.2.4_git20230717-r5",
                    "x86_64"
                ),
                (
                    "ca-certificates-bundle",
                    "20230506-r0",
                    "20240226-r0",
                    "x86_64"
                ),
                ("tzdata", "2024a-r0", "2024a-r1", "noarch"),
            ]
        );
    }

    #[test]
    fn upgradable_none_and_errors() {
        assert_eq!(parse_upgradable(&fixture("list-none.txt")), Ok(Vec::new()));
        let error = parse_upgradable(&fixture("list-unrecognised.txt")).unwrap_err();
        assert!(
            matches!(error, ParseError::UnrecognisedLine { number: 2, .. }),
            "{error}"
        );
        assert!(parse_upgradable("busybox-1.36.1-r29 x86_64 {busybox} (GPL-2.0-only)\n").is_err());
        assert!(
            parse_upgradable(
                "busybox-1.36.1-r29 x86_64 {busybox} (GPL-2.0-only) [upgradable from: musl-1.2-r0]\n"
            )
            .is_err()
        );
    }

    #[test]
    fn simulation_fixtures() {
        let upgrades = parse_simulation(&fixture("upgrade-simulate.txt")).unwrap();
        assert_eq!(upgrades.len(), 5);
        assert_eq!(upgrades["busybox"], "1.36.1-r29");
        assert_eq!(upgrades["apk-tools"], "2.14.4-r0");
        assert!(
            !upgrades.contains_key("libssl3"),
            "held by a world constraint"
        );

        let none = parse_simulation(&fixture("upgrade-simulate-none.txt")).unwrap();
        assert!(none.is_empty());

        assert_eq!(
            parse_simulation(&fixture("upgrade-simulate-truncated.txt")),
            Err(ParseError::MissingSummary)
        );
        assert!(parse_simulation("(1/1) Frobnicating busybox (1.0-r0)\nOK: 1 MiB\n").is_err());
        assert!(
            parse_simulation("(x/1) Upgrading busybox (1.0-r0 -> 1.1-r0)\nOK: 1 MiB\n").is_err()
        );
    }
}
