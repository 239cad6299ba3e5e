//! Parsers for `apt-cache policy`: the overview it prints without arguments (package files and
//! pinned packages) and the version tables of `apt-cache policy NAME...`.
//!
//! The formats are those of apt 2.6 (Debian 12), checked against the real output of apt 2.6.2.

use super::detect::ParseError;
use crate::packages::version::dpkg;

/// Installed version, candidate and version table of one package from `apt-cache policy NAME...`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// Package name as apt prints it, with an architecture qualifier for foreign packages.
    pub name: String,
    pub installed: Option<String>,
    pub candidate: Option<String>,
    /// Rows of the version table, in apt's order (newest first).
    pub versions: Vec<PolicyVersion>,
}

/// One row of a version table: `     2.0 500` or ` *** 1.0 1001` with its sources below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    pub version: String,
    /// Priority of this version after pins; pins can make it negative.
    pub priority: i32,
    /// Whether apt marks the row with `***`: the installed version.
    pub installed: bool,
    pub sources: Vec<PolicySource>,
}

/// One source of a version: `500 http://deb.debian.org/debian bookworm/main amd64 Packages`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySource {
    /// Priority of the package file.
    pub priority: i32,
    /// The package file, the text after the priority. It is the same text as the
    /// [`PackageFile::file`] of the overview.
    pub file: String,
}

impl PolicySource {
    /// Returns whether this source is the dpkg status file (`/var/lib/dpkg/status`), which
    /// apt prints as a path without a distribution.
    pub fn is_dpkg_status(&self) -> bool {
        self.file.split_whitespace().count() == 1
    }

    /// Returns the suite of the source without its component, such as `bookworm-security` for
    /// `bookworm-security/main`. `None` for the dpkg status file and for flat repositories
    /// (`./`), whose line names no suite.
    pub fn suite(&self) -> Option<&str> {
        let fields: Vec<&str> = self.file.split_whitespace().collect();
        if fields.len() < 3 {
            return None;
        }
        let distribution = fields.get(1)?;
        let suite = distribution.split('/').next().unwrap_or(distribution);
        (!suite.is_empty() && suite != ".").then_some(suite)
    }
}

impl PolicyVersion {
    /// Returns whether a source other than the dpkg status file carries this version.
    pub fn is_downloadable(&self) -> bool {
        self.sources.iter().any(|source| !source.is_dpkg_status())
    }
}

impl Policy {
    /// Returns the row of the candidate version.
    pub fn candidate_row(&self) -> Option<&PolicyVersion> {
        let candidate = self.candidate.as_deref()?;
        self.versions.iter().find(|row| row.version == candidate)
    }

    /// Returns the newest version that a source offers, compared with the rules of dpkg.
    pub fn newest_downloadable(&self) -> Option<&PolicyVersion> {
        self.versions
            .iter()
            .filter(|row| row.is_downloadable())
            .max_by(|left, right| dpkg::compare(&left.version, &right.version))
    }
}

/// Parses the output of `apt-cache policy NAME...`, one block per package.
///
/// `(none)` for the installed or candidate version becomes `None`. Fails on a line outside a
/// package block and on a version or source row without a numeric priority.
pub fn parse_policy(output: &str) -> Result<Vec<Policy>, ParseError> {
    let mut policies: Vec<Policy> = Vec::new();
    for (index, line) in output.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let unrecognised = || ParseError::UnrecognisedLine {
            number,
            line: line.to_owned(),
        };
        if !line.starts_with(' ') {
            let name = line.strip_suffix(':').ok_or_else(unrecognised)?;
            policies.push(Policy {
                name: name.to_owned(),
                ..Policy::default()
            });
            continue;
        }
        let policy = policies.last_mut().ok_or_else(unrecognised)?;

        let trimmed = line.trim();
        if let Some(version) = trimmed.strip_prefix("Installed:") {
            policy.installed = none_as_option(version);
        } else if let Some(version) = trimmed.strip_prefix("Candidate:") {
            policy.candidate = none_as_option(version);
        } else if trimmed == "Version table:" || trimmed.starts_with("Package pin:") {
            // Neither line carries data that detection uses.
        } else if line.starts_with("        ") {
            let source = parse_source(trimmed).ok_or_else(|| ParseError::MalformedLine {
                kind: "policy source",
                number,
                line: line.to_owned(),
            })?;
            let row = policy.versions.last_mut().ok_or_else(unrecognised)?;
            row.sources.push(source);
        } else {
            let row = parse_version_row(trimmed).ok_or_else(|| ParseError::MalformedLine {
                kind: "policy version",
                number,
                line: line.to_owned(),
            })?;
            policy.versions.push(row);
        }
    }
    Ok(policies)
}

/// Parses `2.0 500` or `*** 1.0 1001`.
fn parse_version_row(trimmed: &str) -> Option<PolicyVersion> {
    let (installed, rest) = match trimmed.strip_prefix("***") {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let mut fields = rest.split_whitespace();
    let version = fields.next()?;
    let priority = fields.next()?.parse().ok()?;
    if fields.next().is_some() {
        return None;
    }
    Some(PolicyVersion {
        version: version.to_owned(),
        priority,
        installed,
        sources: Vec::new(),
    })
}

/// Parses `500 http://deb.debian.org/debian bookworm/main amd64 Packages`.
fn parse_source(trimmed: &str) -> Option<PolicySource> {
    let (priority, file) = trimmed.split_once(' ')?;
    let file = file.trim();
    if file.is_empty() {
        return None;
    }
    Some(PolicySource {
        priority: priority.parse().ok()?,
        file: file.to_owned(),
    })
}

fn none_as_option(version: &str) -> Option<String> {
    let version = version.trim();
    (version != "(none)" && !version.is_empty()).then(|| version.to_owned())
}

/// Parsed output of `apt-cache policy` without arguments.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyOverview {
    pub package_files: Vec<PackageFile>,
    /// The `Pinned packages:` section: one entry per pinned version, so a package whose pin
    /// matches several versions appears several times.
    pub pins: Vec<Pin>,
}

impl PolicyOverview {
    /// Returns the package file whose line is `file`, as a version table prints it.
    pub fn package_file(&self, file: &str) -> Option<&PackageFile> {
        self.package_files
            .iter()
            .find(|package_file| package_file.file == file)
    }
}

/// One entry of `Package files:`: ` 500 http://... bookworm/main amd64 Packages` and the
/// `release` line under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFile {
    pub priority: i32,
    /// The package file, the text after the priority.
    pub file: String,
    /// Fields of the `release` line, such as `v=12,o=Debian,a=oldstable,l=Debian`. Empty when
    /// the repository has no Release file.
    pub release: Release,
}

/// The fields of a Release file that apt prints in its origins.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Release {
    /// `l=`, such as `Debian-Security`.
    pub label: Option<String>,
    /// `v=`, such as `12`.
    pub version: Option<String>,
    /// `a=`, the suite, such as `oldstable-security`.
    pub archive: Option<String>,
}

impl Release {
    /// Formats the release as the `Inst` lines of a simulation print it: `Label:Version/Suite`,
    /// `Label:Suite` or `Suite`. `None` without a suite and for the dpkg status file (`a=now`).
    pub fn origin(&self) -> Option<String> {
        let archive = self
            .archive
            .as_deref()
            .filter(|archive| *archive != "now")?;
        let label = self
            .label
            .as_deref()
            .map(|label| format!("{label}:"))
            .unwrap_or_default();
        Some(match &self.version {
            Some(version) => format!("{label}{version}/{archive}"),
            None => format!("{label}{archive}"),
        })
    }
}

/// A line of `Pinned packages:`: `foo -> 1.0 with priority 1001`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// Package name as apt prints it, with an architecture qualifier for foreign packages
    /// (`libc6:i386`).
    pub name: String,
    pub version: String,
    pub priority: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OverviewSection {
    PackageFiles,
    PinnedPackages,
}

/// Parses the output of `apt-cache policy` without arguments.
///
/// Fails on a line outside the two sections and on a malformed package file or pin line, so
/// that a format change cannot hide a pinned package.
pub fn parse_policy_overview(output: &str) -> Result<PolicyOverview, ParseError> {
    let mut overview = PolicyOverview::default();
    let mut section = None;
    for (index, line) in output.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let unrecognised = || ParseError::UnrecognisedLine {
            number,
            line: line.to_owned(),
        };
        match line {
            "Package files:" => section = Some(OverviewSection::PackageFiles),
            "Pinned packages:" => section = Some(OverviewSection::PinnedPackages),
            _ if !line.starts_with(' ') => return Err(unrecognised()),
            _ => match section {
                Some(OverviewSection::PackageFiles) => {
                    parse_package_file_line(&mut overview, line, number)?;
                }
                Some(OverviewSection::PinnedPackages) => {
                    let pin = parse_pin(line.trim()).ok_or_else(|| ParseError::MalformedLine {
                        kind: "pinned package",
                        number,
                        line: line.to_owned(),
                    })?;
                    overview.pins.push(pin);
                }
                None => return Err(unrecognised()),
            },
        }
    }
    Ok(overview)
}

/// Parses one indented line of `Package files:`: a package file (one space of indent), or its
/// `release` or `origin` line (five spaces).
fn parse_package_file_line(
    overview: &mut PolicyOverview,
    line: &str,
    number: usize,
) -> Result<(), ParseError> {
    let malformed = || ParseError::MalformedLine {
        kind: "package file",
        number,
        line: line.to_owned(),
    };
    let trimmed = line.trim();
    if !line.starts_with("  ") {
        let source = parse_source(trimmed).ok_or_else(malformed)?;
        overview.package_files.push(PackageFile {
            priority: source.priority,
            file: source.file,
            release: Release::default(),
        });
        return Ok(());
    }
    let package_file = overview.package_files.last_mut().ok_or_else(malformed)?;
    if let Some(fields) = trimmed.strip_prefix("release ") {
        package_file.release = parse_release(fields);
        Ok(())
    } else if trimmed == "origin" || trimmed.starts_with("origin ") {
        Ok(())
    } else {
        Err(malformed())
    }
}

/// Parses `v=12,o=Debian,a=oldstable,n=bookworm,l=Debian,c=main,b=amd64`. Empty values count as
/// missing.
fn parse_release(fields: &str) -> Release {
    let mut release = Release::default();
    for field in fields.split(',') {
        let Some((key, value)) = field.split_once('=') else {
            continue;
        };
        let value = (!value.is_empty()).then(|| value.to_owned());
        match key {
            "l" => release.label = value,
            "v" => release.version = value,
            "a" => release.archive = value,
            _ => {}
        }
    }
    release
}

/// Parses `foo -> 1.0 with priority 1001`.
fn parse_pin(trimmed: &str) -> Option<Pin> {
    let (name, rest) = trimmed.split_once(" -> ")?;
    let (version, priority) = rest.split_once(" with priority ")?;
    let name = name.trim();
    let version = version.trim();
    if name.is_empty() || name.contains(' ') || version.is_empty() || version.contains(' ') {
        return None;
    }
    Some(Pin {
        name: name.to_owned(),
        version: version.to_owned(),
        priority: priority.trim().parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/apt/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    fn find<'a>(policies: &'a [Policy], name: &str) -> &'a Policy {
        policies
            .iter()
            .find(|policy| policy.name == name)
            .unwrap_or_else(|| panic!("{name} missing from {policies:?}"))
    }

    #[test]
    fn policy_with_none_and_suites() {
        let output = "\
openssl:
  Installed: 3.0.11-1~deb12u1
  Candidate: 3.0.11-1~deb12u2
  Version table:
     3.0.11-1~deb12u2 500
        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
 *** 3.0.11-1~deb12u1 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
not-installed:
  Installed: (none)
  Candidate: (none)
  Version table:
";
        let policies = parse_policy(output).unwrap();
        assert_eq!(policies.len(), 2);
        let openssl = &policies[0];
        assert_eq!(openssl.name, "openssl");
        assert_eq!(openssl.installed.as_deref(), Some("3.0.11-1~deb12u1"));
        assert_eq!(openssl.candidate.as_deref(), Some("3.0.11-1~deb12u2"));
        let candidate = openssl.candidate_row().unwrap();
        let suites: Vec<Option<&str>> = candidate.sources.iter().map(PolicySource::suite).collect();
        assert_eq!(suites, [Some("bookworm-security")]);
        assert_eq!(policies[1].installed, None);
        assert_eq!(policies[1].candidate, None);
        assert!(policies[1].versions.is_empty());
    }

    #[test]
    fn policy_version_table_rows() {
        let policies = parse_policy(&fixture("policy-packages.txt")).unwrap();
        assert_eq!(policies.len(), 9);

        let openssl = find(&policies, "openssl");
        let rows: Vec<(&str, i32, bool, usize)> = openssl
            .versions
            .iter()
            .map(|row| {
                (
                    row.version.as_str(),
                    row.priority,
                    row.installed,
                    row.sources.len(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("3.0.15-1~deb12u1", 500, false, 2),
                ("3.0.14-1~deb12u2", 500, false, 1),
                ("3.0.11-1~deb12u1", 1001, true, 1),
            ]
        );
        let newest = &openssl.versions[0];
        assert_eq!(
            newest.sources[0].file,
            "http://deb.debian.org/debian-security bookworm-security/main amd64 Packages"
        );
        assert_eq!(newest.sources[1].suite(), Some("bookworm"));
        let status = &openssl.versions[2].sources[0];
        assert_eq!(status.priority, 100);
        assert!(status.is_dpkg_status());
        assert_eq!(status.suite(), None);
        assert!(!openssl.versions[2].is_downloadable());

        let sqlite = find(&policies, "sqlite3");
        let installed: Vec<&str> = sqlite
            .versions
            .iter()
            .filter(|row| row.installed)
            .map(|row| row.version.as_str())
            .collect();
        assert_eq!(installed, ["3.40.1-2+deb12u2"]);
        assert_eq!(find(&policies, "libc6:i386").versions.len(), 2);
    }

    #[test]
    fn newest_downloadable_uses_dpkg_order() {
        let policies = parse_policy(&fixture("policy-packages.txt")).unwrap();
        let cases = [
            // 1.5.10 is newer than 1.5.9, which a string comparison gets wrong.
            ("zstd", Some("1.5.10-1")),
            ("openssl", Some("3.0.15-1~deb12u1")),
            ("nodejs", Some("18.19.0+dfsg-6~deb12u2")),
            ("sqlite3", Some("3.40.1-2+deb12u3")),
        ];
        for (name, expected) in cases {
            let newest = find(&policies, name)
                .newest_downloadable()
                .map(|row| row.version.as_str());
            assert_eq!(newest, expected, "{name}");
        }
    }

    #[test]
    fn newest_downloadable_ignores_row_order() {
        let output = "\
foo:
  Installed: 1:0.9
  Candidate: 1:0.9
  Version table:
     1.9 500
        500 http://deb.example.org/debian stable/main amd64 Packages
     1:1.0 500
        500 http://deb.example.org/debian stable/main amd64 Packages
 *** 1:0.9 1001
        100 /var/lib/dpkg/status
     2.0 500
        500 http://deb.example.org/debian stable/main amd64 Packages
";
        let policies = parse_policy(output).unwrap();
        let newest = policies[0].newest_downloadable().unwrap();
        assert_eq!(newest.version, "1:1.0");
    }

    #[test]
    fn policy_rejects_malformed_lines() {
        let cases = [
            ("N: Unable to locate package foo\n", 1),
            ("  Installed: 1.0\n", 1),
            ("foo:\n  Version table:\n     2.0 high\n", 3),
            ("foo:\n  Version table:\n     2.0 500 extra\n", 3),
            (
                "foo:\n  Version table:\n        500 http://x stable/main all Packages\n",
                3,
            ),
            (
                "foo:\n  Version table:\n     2.0 500\n        five http://x ./ Packages\n",
                4,
            ),
        ];
        for (output, line_number) in cases {
            let error = parse_policy(output).unwrap_err();
            let number = match error {
                ParseError::UnrecognisedLine { number, .. }
                | ParseError::MalformedLine { number, .. } => number,
                other => panic!("{output:?}: unexpected {other}"),
            };
            assert_eq!(number, line_number, "{output:?}");
        }
    }

    #[test]
    fn overview_pins_and_package_files() {
        let overview = parse_policy_overview(&fixture("policy-overview-pinned.txt")).unwrap();
        let pins: Vec<(&str, &str, i32)> = overview
            .pins
            .iter()
            .map(|pin| (pin.name.as_str(), pin.version.as_str(), pin.priority))
            .collect();
        assert_eq!(
            pins,
            [
                ("openssl", "3.0.11-1~deb12u1", 1001),
                ("curl", "7.88.1-10+deb12u5", 1001),
                ("libc6:i386", "2.36-9+deb12u7", 990),
                ("tzdata", "2024a-0+deb12u1", 1001),
                ("nodejs", "18.19.0+dfsg-6~deb12u1", 1001),
                ("nodejs", "18.19.0+dfsg-6~deb12u2", 1001),
                ("zstd", "1.5.4+dfsg2-5", 1001),
                ("sqlite3", "3.40.1-2+deb12u1", 990),
            ]
        );

        assert_eq!(overview.package_files.len(), 7);
        let origins: Vec<Option<String>> = overview
            .package_files
            .iter()
            .map(|package_file| package_file.release.origin())
            .collect();
        assert_eq!(
            origins,
            [
                None,
                Some("Debian-Security:12/oldstable-security".to_owned()),
                Some("Debian-Security:12/oldstable-security".to_owned()),
                Some("Debian:12-updates/oldstable-updates".to_owned()),
                Some("Debian:12.15/oldstable".to_owned()),
                Some("Debian:12.15/oldstable".to_owned()),
                None,
            ]
        );
        let local = overview
            .package_file("file:/srv/local-repo ./ Packages")
            .unwrap();
        assert_eq!(local.priority, 500);
        assert_eq!(local.release, Release::default());
    }

    #[test]
    fn overview_without_pins() {
        let overview = parse_policy_overview(&fixture("policy-overview-no-pins.txt")).unwrap();
        assert!(overview.pins.is_empty());
        assert_eq!(overview.package_files.len(), 2);
    }

    #[test]
    fn release_origin_formats() {
        let release = |label: Option<&str>, version: Option<&str>, archive: Option<&str>| Release {
            label: label.map(str::to_owned),
            version: version.map(str::to_owned),
            archive: archive.map(str::to_owned),
        };
        let cases = [
            (
                parse_release("v=12,o=Debian,a=stable-security,l=Debian-Security,c=main"),
                Some("Debian-Security:12/stable-security"),
            ),
            (
                parse_release("o=SysManageTest,a=testing,n=testing,l=SysManageTest,c="),
                Some("SysManageTest:testing"),
            ),
            (release(None, None, Some("jammy")), Some("jammy")),
            (parse_release("a=now"), None),
            (release(Some("Debian"), Some("12"), None), None),
        ];
        for (release, expected) in cases {
            assert_eq!(release.origin().as_deref(), expected, "{release:?}");
        }
    }

    #[test]
    fn pin_lines() {
        let cases = [
            ("foo -> 1.0 with priority 1001", Some(("foo", "1.0", 1001))),
            (
                "libc6:amd64 -> 2.36-9+deb12u7 with priority 990",
                Some(("libc6:amd64", "2.36-9+deb12u7", 990)),
            ),
            ("foo -> 3.0 with priority -1", Some(("foo", "3.0", -1))),
            ("foo -> 1.0", None),
            ("foo -> 1.0 with priority high", None),
            ("foo bar -> 1.0 with priority 1001", None),
            (" -> 1.0 with priority 1001", None),
        ];
        for (line, expected) in cases {
            let pin = parse_pin(line);
            let parsed = pin
                .as_ref()
                .map(|pin| (pin.name.as_str(), pin.version.as_str(), pin.priority));
            assert_eq!(parsed, expected, "{line}");
        }
    }

    #[test]
    fn overview_rejects_unknown_lines() {
        let cases = [
            ("Package files:\nPinned packages:\nSomething else:\n", 3),
            ("     foo -> 1.0 with priority 1001\n", 1),
            ("Pinned packages:\n     foo => 1.0\n", 2),
            ("Package files:\n     release a=now\n", 2),
            (
                "Package files:\n 100 /var/lib/dpkg/status\n     frobbed yes\n",
                3,
            ),
        ];
        for (output, line_number) in cases {
            let error = parse_policy_overview(output).unwrap_err();
            let number = match error {
                ParseError::UnrecognisedLine { number, .. }
                | ParseError::MalformedLine { number, .. } => number,
                other => panic!("{output:?}: unexpected {other}"),
            };
            assert_eq!(number, line_number, "{output:?}");
        }
    }
}
