//! Advisories (updateinfo) of dnf 4, dnf5 and yum, and which updates they make security updates.
//!
//! dnf 4 and yum print `dnf updateinfo list` as `ID  LABEL  NEVRA`, where LABEL is `bugfix`,
//! `enhancement`, `newpackage`, `unknown` or, for security advisories, the severity with `/Sec.`
//! (`Important/Sec.`, `Unknown/Sec.` without a severity). dnf5 prints `dnf5 advisory list --json`
//! as an array of objects, and a table with the columns Name, Type, Severity, Package and Issued
//! without `--json`.

use std::cmp::Ordering;

use serde::Deserialize;

use super::ParseError;
use crate::packages::version::rpm::{Evr, Nevra};

/// Kind of an advisory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdvisoryKind {
    Security,
    Bugfix,
    Enhancement,
    NewPackage,
    Unknown,
}

/// One package of one advisory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advisory {
    /// Advisory id, such as `RHSA-2024:2394` or `FEDORA-2024-9a5cf1fd3b`.
    pub id: String,
    pub kind: AdvisoryKind,
    /// Severity as the advisory gives it (`Critical`, `Important`, `Moderate`, `Low`), if any.
    pub severity: Option<String>,
    /// The package version that fixes what the advisory describes.
    pub package: Nevra,
}

/// Lines that dnf 4 and yum print around an advisory list.
const MESSAGE_PREFIXES: &[&str] = &[
    "Last metadata expiration check:",
    "Security: ",
    "Loaded plugins:",
    "Loading mirror speeds from cached hostfile",
    "Determining fastest mirrors",
    "Updating Subscription Management repositories.",
    "Unable to read consumer identity",
    "This system is not registered",
    "This system is receiving updates from",
    "updateinfo list done",
];

/// Parses the output of `dnf updateinfo list` (dnf 4) or `yum updateinfo list`.
///
/// The `i ` marks of `--all` and the issue date of `--verbose` are accepted. Fails on a line that
/// is neither a known message nor an advisory with a known label and a valid NEVRA.
pub fn parse_updateinfo_list(output: &str) -> Result<Vec<Advisory>, ParseError> {
    let mut advisories = Vec::new();
    for (index, line) in output.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty()
            || MESSAGE_PREFIXES
                .iter()
                .any(|prefix| trimmed.starts_with(prefix))
            || trimmed.starts_with("* ")
            || trimmed.starts_with(": ")
        {
            continue;
        }
        let mut fields: Vec<&str> = trimmed.split_whitespace().collect();
        if fields.first() == Some(&"i") {
            fields.remove(0);
        }
        let advisory = match fields.as_slice() {
            [id, label, nevra] | [id, label, nevra, _, _] => {
                label_kind(label).and_then(|(kind, severity)| {
                    Some(Advisory {
                        id: (*id).to_owned(),
                        kind,
                        severity,
                        package: Nevra::parse(nevra)?,
                    })
                })
            }
            _ => None,
        };
        advisories.push(advisory.ok_or_else(|| ParseError::UnrecognisedLine {
            number: index + 1,
            line: line.to_owned(),
        })?);
    }
    Ok(advisories)
}

/// Reads a dnf 4 or yum label: `Important/Sec.` is a security advisory of severity Important.
fn label_kind(label: &str) -> Option<(AdvisoryKind, Option<String>)> {
    if let Some(severity) = label.strip_suffix("/Sec.") {
        let severity = (severity != "Unknown").then(|| severity.to_owned());
        return Some((AdvisoryKind::Security, severity));
    }
    Some((kind_from_type(label)?, None))
}

/// Reads an advisory type as updateinfo.xml and dnf5 name it.
fn kind_from_type(kind: &str) -> Option<AdvisoryKind> {
    match kind.to_ascii_lowercase().as_str() {
        "security" => Some(AdvisoryKind::Security),
        "bugfix" => Some(AdvisoryKind::Bugfix),
        "enhancement" => Some(AdvisoryKind::Enhancement),
        "newpackage" => Some(AdvisoryKind::NewPackage),
        "unknown" | "unspecified" => Some(AdvisoryKind::Unknown),
        _ => None,
    }
}

fn severity_value(severity: &str) -> Option<String> {
    let severity = severity.trim();
    (!severity.is_empty() && !severity.eq_ignore_ascii_case("none")).then(|| severity.to_owned())
}

#[derive(Debug, Deserialize)]
struct JsonAdvisory {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    severity: String,
    nevra: String,
}

/// Parses `dnf5 advisory list --json`.
pub fn parse_dnf5_json(output: &str) -> Result<Vec<Advisory>, ParseError> {
    let entries: Vec<JsonAdvisory> =
        serde_json::from_str(output).map_err(|error| ParseError::Json(error.to_string()))?;
    entries
        .into_iter()
        .map(|entry| {
            let kind = kind_from_type(&entry.kind).ok_or_else(|| {
                ParseError::Json(format!("unknown advisory type {:?}", entry.kind))
            })?;
            let package = Nevra::parse(&entry.nevra)
                .ok_or_else(|| ParseError::Json(format!("invalid NEVRA {:?}", entry.nevra)))?;
            Ok(Advisory {
                id: entry.name,
                kind,
                severity: severity_value(&entry.severity),
                package,
            })
        })
        .collect()
}

/// Parses the table of `dnf5 advisory list` without `--json`, for dnf5 releases before 5.2.
pub fn parse_dnf5_table(output: &str) -> Result<Vec<Advisory>, ParseError> {
    let mut advisories = Vec::new();
    for (index, line) in output.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() || fields.first() == Some(&"Name") && fields.contains(&"Type") {
            continue;
        }
        // Name, Type, [Severity,] Package, Issued date and time.
        let (id, kind, severity, nevra) = match fields.as_slice() {
            [id, kind, severity, nevra, _, _] => (id, kind, Some(*severity), nevra),
            [id, kind, nevra, _, _] => (id, kind, None, nevra),
            _ => {
                return Err(ParseError::UnrecognisedLine {
                    number: index + 1,
                    line: line.to_owned(),
                });
            }
        };
        let advisory = kind_from_type(kind)
            .zip(Nevra::parse(nevra))
            .map(|(kind, package)| Advisory {
                id: (*id).to_owned(),
                kind,
                severity: severity.and_then(severity_value),
                package,
            });
        advisories.push(advisory.ok_or_else(|| ParseError::UnrecognisedLine {
            number: index + 1,
            line: line.to_owned(),
        })?);
    }
    Ok(advisories)
}

/// How the advisories classify one update.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Classification {
    pub security: bool,
    /// Highest severity among the security advisories that the update fixes.
    pub severity: Option<String>,
    /// Ids of every advisory that the update fixes, sorted.
    pub advisories: Vec<String>,
}

/// Returns which advisories an update from `installed` to `new` of `name.architecture` fixes.
///
/// An advisory counts when it names the same package and architecture (or `noarch` on either
/// side) with a version newer than the installed one and not newer than the update: installing
/// the update installs the fix. An advisory for a version newer than the update does not count.
pub fn classify(
    name: &str,
    architecture: &str,
    installed: Option<&Evr>,
    new: &Evr,
    advisories: &[Advisory],
) -> Classification {
    let mut classification = Classification::default();
    for advisory in advisories {
        let package = &advisory.package;
        let same_architecture = package.architecture == architecture
            || package.architecture == "noarch"
            || architecture == "noarch";
        if package.name != name || !same_architecture {
            continue;
        }
        if package.evr.compare(new) == Ordering::Greater {
            continue;
        }
        if installed.is_some_and(|installed| package.evr.compare(installed) != Ordering::Greater) {
            continue;
        }
        if !classification.advisories.contains(&advisory.id) {
            classification.advisories.push(advisory.id.clone());
        }
        if advisory.kind == AdvisoryKind::Security {
            classification.security = true;
            if severity_rank(advisory.severity.as_deref())
                > severity_rank(classification.severity.as_deref())
            {
                classification.severity.clone_from(&advisory.severity);
            }
        }
    }
    classification.advisories.sort();
    classification
}

fn severity_rank(severity: Option<&str>) -> u8 {
    match severity.map(str::to_ascii_lowercase).as_deref() {
        None => 0,
        Some("low") => 2,
        Some("moderate") => 3,
        Some("important") => 4,
        Some("critical") => 5,
        Some(_) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(path: &str) -> String {
        let path = format!("{}/testdata/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[test]
    fn dnf4_list_with_all_labels() {
        let advisories = parse_updateinfo_list(&fixture("dnf/updateinfo-list.txt")).unwrap();
        let summary: Vec<(&str, AdvisoryKind, Option<&str>, &str)> = advisories
            .iter()
            .map(|advisory| {
                (
                    advisory.id.as_str(),
                    advisory.kind,
                    advisory.severity.as_deref(),
                    advisory.package.name.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("RHBA-2024:2400", AdvisoryKind::Bugfix, None, "tzdata"),
                (
                    "RHEA-2024:2401",
                    AdvisoryKind::Enhancement,
                    None,
                    "python3-perf"
                ),
                (
                    "RHSA-2024:2394",
                    AdvisoryKind::Security,
                    Some("Important"),
                    "kernel"
                ),
                (
                    "RHSA-2024:2394",
                    AdvisoryKind::Security,
                    Some("Important"),
                    "kernel-core"
                ),
                (
                    "RHSA-2024:2779",
                    AdvisoryKind::Security,
                    Some("Moderate"),
                    "openssl"
                ),
                (
                    "RHSA-2024:2779",
                    AdvisoryKind::Security,
                    Some("Moderate"),
                    "openssl-libs"
                ),
                (
                    "RHSA-2024:9999",
                    AdvisoryKind::Security,
                    None,
                    "openssl-libs"
                ),
            ]
        );
        assert_eq!(advisories[4].package.evr.to_string(), "1:3.0.7-27.el9_4.1");
    }

    #[test]
    fn dnf4_real_output_and_all_marks() {
        let advisories =
            parse_updateinfo_list("SMTEST-2026-0001 Important/Sec. smtest-secure-2.0-1.noarch\n")
                .unwrap();
        assert_eq!(advisories[0].package.evr.to_string(), "2.0-1");
        let advisories = parse_updateinfo_list(
            "  SMTEST-2026-0001 Important/Sec. smtest-secure-2.0-1.noarch\n\
             i SMTEST-2026-0000 bugfix         smtest-secure-1.0-1.noarch\n",
        )
        .unwrap();
        assert_eq!(advisories.len(), 2);
        assert_eq!(advisories[1].kind, AdvisoryKind::Bugfix);
    }

    #[test]
    fn dnf4_rejects_unknown_lines() {
        for output in [
            "RHSA-2024:1 Frobnicated/Sec.x kernel-1-1.x86_64\n",
            "RHSA-2024:1 security notanevra\n",
            "Error: something went wrong here\n",
        ] {
            assert!(
                matches!(
                    parse_updateinfo_list(output),
                    Err(ParseError::UnrecognisedLine { number: 1, .. })
                ),
                "{output}"
            );
        }
    }

    #[test]
    fn yum_list() {
        let advisories =
            parse_updateinfo_list(&fixture("yum/updateinfo-list-security.txt")).unwrap();
        assert_eq!(advisories.len(), 3);
        assert!(
            advisories
                .iter()
                .all(|advisory| advisory.kind == AdvisoryKind::Security)
        );
        assert_eq!(advisories[0].id, "RHSA-2024:3741");
        assert_eq!(advisories[0].severity.as_deref(), Some("Important"));
        assert_eq!(
            advisories[0].package.evr.to_string(),
            "3.10.0-1160.119.1.el7"
        );
    }

    #[test]
    fn dnf5_json_and_table_agree() {
        let from_json = parse_dnf5_json(&fixture("dnf/dnf5-advisory-list.json")).unwrap();
        let from_table = parse_dnf5_table(&fixture("dnf/dnf5-advisory-list.txt")).unwrap();
        assert_eq!(from_json, from_table);
        assert_eq!(from_json.len(), 3);
        assert_eq!(from_json[0].kind, AdvisoryKind::Security);
        assert_eq!(from_json[0].severity.as_deref(), Some("Important"));
        assert_eq!(from_json[2].kind, AdvisoryKind::Bugfix);
        assert_eq!(from_json[2].severity, None);
    }

    #[test]
    fn dnf5_json_errors() {
        assert!(matches!(
            parse_dnf5_json("[{\"name\": 1}]"),
            Err(ParseError::Json(_))
        ));
        assert!(matches!(
            parse_dnf5_json(
                "[{\"name\":\"A\",\"type\":\"frob\",\"severity\":\"\",\"nevra\":\"a-1-1.noarch\"}]"
            ),
            Err(ParseError::Json(_))
        ));
        assert_eq!(parse_dnf5_json("[]").unwrap(), []);
    }

    fn advisory(id: &str, kind: AdvisoryKind, severity: Option<&str>, nevra: &str) -> Advisory {
        Advisory {
            id: id.into(),
            kind,
            severity: severity.map(str::to_owned),
            package: Nevra::parse(nevra).unwrap(),
        }
    }

    #[test]
    fn classification_needs_version_between_installed_and_new() {
        let advisories = [
            advisory(
                "A-1",
                AdvisoryKind::Security,
                Some("Moderate"),
                "foo-1.5-1.x86_64",
            ),
            advisory(
                "A-2",
                AdvisoryKind::Security,
                Some("Critical"),
                "foo-2.0-1.x86_64",
            ),
            advisory(
                "A-3",
                AdvisoryKind::Security,
                Some("Critical"),
                "foo-3.0-1.x86_64",
            ),
            advisory(
                "A-4",
                AdvisoryKind::Security,
                Some("Critical"),
                "foo-0.9-1.x86_64",
            ),
            advisory(
                "A-5",
                AdvisoryKind::Security,
                Some("Critical"),
                "foo-2.0-1.i686",
            ),
            advisory("A-6", AdvisoryKind::Bugfix, None, "foo-2.0-1.x86_64"),
            advisory(
                "A-7",
                AdvisoryKind::Security,
                Some("Critical"),
                "foobar-2.0-1.x86_64",
            ),
        ];
        let installed = Evr::parse("1.0-1");
        let new = Evr::parse("2.0-1");
        let result = classify("foo", "x86_64", Some(&installed), &new, &advisories);
        assert!(result.security);
        assert_eq!(result.severity.as_deref(), Some("Critical"));
        assert_eq!(result.advisories, ["A-1", "A-2", "A-6"]);

        let result = classify(
            "foo",
            "x86_64",
            Some(&installed),
            &Evr::parse("1.2-1"),
            &advisories,
        );
        assert_eq!(result, Classification::default());

        let only_bugfix = [advisory(
            "B-1",
            AdvisoryKind::Bugfix,
            None,
            "foo-2.0-1.noarch",
        )];
        let result = classify("foo", "x86_64", None, &new, &only_bugfix);
        assert!(!result.security);
        assert_eq!(result.advisories, ["B-1"]);
    }
}
