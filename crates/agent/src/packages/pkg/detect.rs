//! Parsers for the FreeBSD pkg output that update detection reads.
//!
//! Written against pkg 1.20 on FreeBSD 13.2 and 14.0: the dry run `pkg upgrade -n` and the
//! audit `pkg audit -F -q`. Every line of the dry run must be recognised, because an unknown
//! line may mean a format change that would otherwise turn into a silent "no updates".

use std::collections::BTreeSet;

/// One line of the "Installed packages to be UPGRADED:" section: `name: old -> new [repo]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedUpgrade {
    pub name: String,
    pub current_version: String,
    pub new_version: String,
    /// Repository of the new version, such as `FreeBSD`, when pkg prints it.
    pub repository: Option<String>,
}

/// Parsed output of `pkg upgrade -n`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DryRun {
    pub upgrades: Vec<PlannedUpgrade>,
    /// Packages pkg would reinstall at the same version, listed as `name-version`.
    pub reinstalls: Vec<String>,
    /// Packages pkg would newly install as dependencies, listed as `name: version`.
    pub new_packages: Vec<String>,
}

/// Error in pkg output that the parser does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unrecognised line {number}: {line:?}")]
    UnrecognisedLine { number: usize, line: String },
    #[error("malformed {section} line {number}: {line:?}")]
    MalformedLine {
        section: &'static str,
        number: usize,
        line: String,
    },
    #[error(
        "the output lists {found} upgrades but says \"Number of packages to be upgraded: {expected}\""
    )]
    CountMismatch { expected: usize, found: usize },
    #[error("the output lists upgrades but has no \"Number of packages to be upgraded\" line")]
    MissingCount,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Upgraded,
    Reinstalled,
    New,
    /// Removals and downgrades: accepted, but they are not updates.
    Ignored,
}

const SECTION_HEADERS: &[(&str, Section)] = &[
    ("Installed packages to be UPGRADED:", Section::Upgraded),
    (
        "Installed packages to be REINSTALLED:",
        Section::Reinstalled,
    ),
    ("New packages to be INSTALLED:", Section::New),
    ("Installed packages to be REMOVED:", Section::Ignored),
    ("Installed packages to be DOWNGRADED:", Section::Ignored),
];

/// Returns whether `line` is a progress or summary line of pkg that carries no update.
fn is_progress_line(line: &str) -> bool {
    let prefixes = [
        "Updating ",
        "Fetching ",
        "Processing entries",
        "Processing candidates",
        "Checking for upgrades",
        "Checking integrity",
        "The following ",
        "The process will require ",
        "The process will free ",
        "Number of packages to be reinstalled: ",
        "Number of packages to be installed: ",
        "Number of packages to be removed: ",
        "Number of packages to be downgraded: ",
    ];
    let suffixes = [
        " repository is up to date.",
        " to be downloaded.",
        " packages processed.",
    ];
    line == "All repositories are up to date."
        || line == "Your packages are up to date."
        || prefixes.iter().any(|prefix| line.starts_with(prefix))
        || suffixes.iter().any(|suffix| line.ends_with(suffix))
        // Conflict details that follow "Checking integrity... done (N conflicting)".
        || line.starts_with("  - ")
}

/// Parses the output of `pkg upgrade -n`.
///
/// Fails on the first line it does not recognise and when the count line disagrees with the
/// listed upgrades.
pub fn parse_dry_run(output: &str) -> Result<DryRun, ParseError> {
    let mut dry_run = DryRun::default();
    let mut section = None;
    let mut expected_upgrades = None;

    for (index, raw_line) in output.lines().enumerate() {
        let number = index + 1;
        let line = strip_jail_prefix(raw_line.trim_end());
        if line.trim().is_empty() {
            section = None;
            continue;
        }
        if line.starts_with('\t') || line.starts_with("    ") {
            let entry = line.trim();
            match section {
                Some(Section::Upgraded) => {
                    let upgrade =
                        parse_upgrade_line(entry).ok_or_else(|| ParseError::MalformedLine {
                            section: "UPGRADED",
                            number,
                            line: raw_line.to_owned(),
                        })?;
                    dry_run.upgrades.push(upgrade);
                }
                Some(Section::Reinstalled) => dry_run.reinstalls.push(first_word(entry)),
                Some(Section::New) => dry_run.new_packages.push(first_word(entry)),
                Some(Section::Ignored) => {}
                None => {
                    return Err(ParseError::UnrecognisedLine {
                        number,
                        line: raw_line.to_owned(),
                    });
                }
            }
            continue;
        }
        section = None;
        if let Some((_, kind)) = SECTION_HEADERS.iter().find(|(header, _)| line == *header) {
            section = Some(*kind);
            continue;
        }
        if let Some(count) = line.strip_prefix("Number of packages to be upgraded: ") {
            let count = count
                .trim()
                .parse()
                .map_err(|_| ParseError::MalformedLine {
                    section: "count",
                    number,
                    line: raw_line.to_owned(),
                })?;
            expected_upgrades = Some(count);
            continue;
        }
        if is_progress_line(line) {
            continue;
        }
        return Err(ParseError::UnrecognisedLine {
            number,
            line: raw_line.to_owned(),
        });
    }

    match expected_upgrades {
        Some(expected) if expected != dry_run.upgrades.len() => Err(ParseError::CountMismatch {
            expected,
            found: dry_run.upgrades.len(),
        }),
        None if !dry_run.upgrades.is_empty() => Err(ParseError::MissingCount),
        _ => Ok(dry_run),
    }
}

/// Removes the `[jailname] ` prefix that `pkg -j` puts before progress lines.
fn strip_jail_prefix(line: &str) -> &str {
    if let Some(rest) = line.strip_prefix('[')
        && let Some((name, after)) = rest.split_once("] ")
        && !name.contains(' ')
        && !name.contains('/')
    {
        return after;
    }
    line
}

fn first_word(entry: &str) -> String {
    entry
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Parses `curl: 8.4.0 -> 8.5.0 [FreeBSD] (reason)`; the repository and reason are optional.
fn parse_upgrade_line(entry: &str) -> Option<PlannedUpgrade> {
    let (name, rest) = entry.split_once(": ")?;
    let mut words = rest.split_whitespace();
    let current_version = words.next()?;
    if words.next()? != "->" {
        return None;
    }
    let new_version = words.next()?;
    let repository = match words.next() {
        Some(word) if word.starts_with('[') && word.ends_with(']') => {
            Some(word.trim_matches(['[', ']']).to_owned())
        }
        Some(word) if word.starts_with('(') => None,
        Some(_) => return None,
        None => None,
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    Some(PlannedUpgrade {
        name: name.to_owned(),
        current_version: current_version.to_owned(),
        new_version: new_version.to_owned(),
        repository,
    })
}

/// Error in the output of `pkg audit -q`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognised line {number} of pkg audit: {line:?}")]
pub struct AuditParseError {
    pub number: usize,
    pub line: String,
}

/// Parses `pkg audit -q`: one vulnerable installed package per line, as `name-version`.
///
/// Returns the `name-version` strings, so that a match needs both the name and the installed
/// version.
pub fn parse_audit(output: &str) -> Result<BTreeSet<String>, AuditParseError> {
    let mut vulnerable = BTreeSet::new();
    for (index, line) in output.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        // With -F, pkg prints the fetch progress of vuln.xml before the list.
        if line.starts_with("Fetching vuln.xml") || line.starts_with("vulnxml file up-to-date") {
            continue;
        }
        if line.contains(char::is_whitespace) || !line.contains('-') || line.contains(':') {
            return Err(AuditParseError {
                number: index + 1,
                line: line.to_owned(),
            });
        }
        vulnerable.insert(line.to_owned());
    }
    Ok(vulnerable)
}

/// Returns whether the output of a pkg command says that another process holds the database
/// lock. pkg 1.20 prints "Cannot get an advisory lock on a database, it is locked by another
/// process", older versions "Cannot get an exclusive lock on database. It is locked by another
/// process".
pub fn is_locked(output: &str) -> bool {
    output.lines().any(|line| {
        line.contains("Cannot get an")
            && line.contains("lock on")
            && line
                .to_ascii_lowercase()
                .contains("locked by another process")
    })
}

/// Meaning of the exit status of `pkg upgrade -n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DryRunStatus {
    /// Exit 0: nothing to do.
    UpToDate,
    /// Exit 1 with a plan: the plan lists what an upgrade does. pkg exits 1 in dry-run mode
    /// whenever it has actions, so the plan must be present.
    ActionsPlanned,
    /// Any other case: an error.
    Failed,
}

/// Decodes the exit status of `pkg upgrade -n` together with its output.
pub fn decode_dry_run_status(code: Option<i32>, stdout: &str) -> DryRunStatus {
    let has_plan = stdout.contains("package(s) will be affected");
    match code {
        Some(0) => DryRunStatus::UpToDate,
        Some(1) if has_plan => DryRunStatus::ActionsPlanned,
        _ => DryRunStatus::Failed,
    }
}

/// Meaning of the exit status of `pkg audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditStatus {
    /// Exit 0: no installed package is vulnerable.
    Clean,
    /// Exit 1 with package lines: those packages are vulnerable.
    Vulnerable,
    /// Exit 1 without package lines, or any other status: the audit failed.
    Failed,
}

/// Decodes the exit status of `pkg audit -F -q`. pkg audit exits 1 both when it finds
/// vulnerable packages and when it fails, so the output decides between the two.
pub fn decode_audit_status(code: Option<i32>, parsed: Option<&BTreeSet<String>>) -> AuditStatus {
    match (code, parsed) {
        (Some(0), _) => AuditStatus::Clean,
        (Some(1), Some(vulnerable)) if !vulnerable.is_empty() => AuditStatus::Vulnerable,
        _ => AuditStatus::Failed,
    }
}

/// A package locked with `pkg lock`: pkg neither upgrades nor removes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedPackage {
    pub name: String,
    pub version: String,
}

/// Parses `pkg lock -l`: the header "Currently locked packages:", then one `name-version` line
/// per package (pkg versions never contain `-`, so the name ends at the last one).
pub fn parse_locked(output: &str) -> Result<Vec<LockedPackage>, ParseError> {
    let mut locked = Vec::new();
    for (index, raw_line) in output.lines().enumerate() {
        let line = raw_line.trim();
        if line.is_empty() || line == "Currently locked packages:" {
            continue;
        }
        let parsed = line
            .rsplit_once('-')
            .filter(|(name, version)| {
                !name.is_empty()
                    && !version.is_empty()
                    && !line.contains(char::is_whitespace)
                    && version.starts_with(|c: char| c.is_ascii_alphanumeric())
            })
            .map(|(name, version)| LockedPackage {
                name: name.to_owned(),
                version: version.to_owned(),
            });
        match parsed {
            Some(package) => locked.push(package),
            None => {
                return Err(ParseError::UnrecognisedLine {
                    number: index + 1,
                    line: raw_line.to_owned(),
                });
            }
        }
    }
    Ok(locked)
}

/// Returns the newest version in the output of `pkg rquery -U %v NAME`, one line per
/// repository that offers the package, compared with pkg's rules.
pub fn newest_remote_version(output: &str) -> Option<String> {
    output
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.contains(char::is_whitespace))
        .max_by(|left, right| crate::packages::version::freebsd::compare(left, right))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/pkg/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[test]
    fn dry_run_fixtures_parse() {
        struct Case {
            file: &'static str,
            upgrades: &'static [(&'static str, &'static str, &'static str)],
            reinstalls: usize,
            new_packages: usize,
        }
        let cases = [
            Case {
                file: "upgrade-available.txt",
                upgrades: &[
                    ("curl", "8.4.0", "8.5.0"),
                    ("openssl", "3.0.12,1", "3.0.13,1"),
                    ("py39-urllib3", "1.26.17,1", "1.26.18,1"),
                ],
                reinstalls: 1,
                new_packages: 1,
            },
            Case {
                file: "up-to-date.txt",
                upgrades: &[],
                reinstalls: 0,
                new_packages: 0,
            },
            Case {
                file: "jail-prefix.txt",
                upgrades: &[
                    ("curl", "8.9.1", "8.9.1_1"),
                    ("perl5", "5.36.3_1", "5.36.3_2"),
                ],
                reinstalls: 0,
                new_packages: 0,
            },
        ];
        for case in cases {
            let dry_run = parse_dry_run(&fixture(case.file))
                .unwrap_or_else(|error| panic!("{}: {error}", case.file));
            let found: Vec<(&str, &str, &str)> = dry_run
                .upgrades
                .iter()
                .map(|upgrade| {
                    (
                        upgrade.name.as_str(),
                        upgrade.current_version.as_str(),
                        upgrade.new_version.as_str(),
                    )
                })
                .collect();
            assert_eq!(found, case.upgrades, "{}", case.file);
            assert_eq!(dry_run.reinstalls.len(), case.reinstalls, "{}", case.file);
            assert_eq!(
                dry_run.new_packages.len(),
                case.new_packages,
                "{}",
                case.file
            );
        }
    }

    #[test]
    fn dry_run_repository_column() {
        let dry_run = parse_dry_run(&fixture("upgrade-available.txt")).unwrap();
        assert_eq!(dry_run.upgrades[0].repository.as_deref(), Some("FreeBSD"));
    }

    #[test]
    fn dry_run_fixtures_fail() {
        let error = parse_dry_run(&fixture("repo-error.txt")).unwrap_err();
        assert!(
            matches!(&error, ParseError::UnrecognisedLine { line, .. } if line.contains("load error")),
            "{error}"
        );
        let error = parse_dry_run(&fixture("count-mismatch.txt")).unwrap_err();
        assert_eq!(
            error,
            ParseError::CountMismatch {
                expected: 3,
                found: 2
            }
        );
    }

    #[test]
    fn audit_fixture_lists_packages() {
        let vulnerable = parse_audit(&fixture("audit-vulnerable.txt")).unwrap();
        assert_eq!(
            vulnerable.into_iter().collect::<Vec<_>>(),
            ["curl-8.4.0", "py39-urllib3-1.26.17,1"]
        );
        assert!(parse_audit(&fixture("audit-fetch-error.txt")).is_err());
    }

    #[test]
    fn lock_messages_are_busy() {
        assert!(is_locked(&fixture("locked.txt")));
        assert!(is_locked(
            "pkg: Cannot get an exclusive lock on database. It is locked by another process"
        ));
        assert!(!is_locked(&fixture("upgrade-available.txt")));
    }

    #[test]
    fn dry_run_exit_codes() {
        let plan = "The following 1 package(s) will be affected (of 0 checked):";
        assert_eq!(decode_dry_run_status(Some(0), ""), DryRunStatus::UpToDate);
        assert_eq!(
            decode_dry_run_status(Some(1), plan),
            DryRunStatus::ActionsPlanned
        );
        assert_eq!(decode_dry_run_status(Some(1), ""), DryRunStatus::Failed);
        assert_eq!(decode_dry_run_status(Some(70), plan), DryRunStatus::Failed);
        assert_eq!(decode_dry_run_status(None, plan), DryRunStatus::Failed);
    }

    #[test]
    fn audit_exit_codes() {
        let some: BTreeSet<String> = ["curl-8.4.0".to_owned()].into();
        let none = BTreeSet::new();
        assert_eq!(decode_audit_status(Some(0), None), AuditStatus::Clean);
        assert_eq!(
            decode_audit_status(Some(1), Some(&some)),
            AuditStatus::Vulnerable
        );
        assert_eq!(
            decode_audit_status(Some(1), Some(&none)),
            AuditStatus::Failed
        );
        assert_eq!(decode_audit_status(Some(1), None), AuditStatus::Failed);
        assert_eq!(
            decode_audit_status(Some(3), Some(&some)),
            AuditStatus::Failed
        );
    }

    #[test]
    fn locked_packages() {
        let locked = parse_locked(&fixture("lock-list.txt")).unwrap();
        let found: Vec<(&str, &str)> = locked
            .iter()
            .map(|package| (package.name.as_str(), package.version.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("postgresql15-server", "15.5"),
                ("py39-urllib3", "1.26.17,1")
            ]
        );
        assert!(
            parse_locked("Currently locked packages:\n")
                .unwrap()
                .is_empty()
        );
        assert!(parse_locked("pkg: Cannot open database\n").is_err());
    }

    #[test]
    fn remote_versions() {
        assert_eq!(
            newest_remote_version("15.5\n15.6_1\n15.10\n").as_deref(),
            Some("15.10")
        );
        assert_eq!(newest_remote_version(""), None);
    }
}
