//! Parsers for the pacman output that update detection reads, and the reboot rule.
//!
//! The formats are those of pacman 6.0 with `LC_ALL=C` and `--color never`:
//! `pacman -Qu` (`name old -> new`, with ` [ignored]` for `IgnorePkg` and `IgnoreGroup`), `pacman -Sl`
//! (`repo name version [installed...]`) and `arch-audit -u --format %n` (one name per line).
//! Every line must be recognised: an unknown line may mean a format change that would otherwise
//! turn into a silent "no updates".

use std::collections::BTreeSet;

use sysmanage_protocol::validate_package_name_for;

use super::MANAGER;

/// One line of `pacman -Qu`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryUpgrade {
    pub name: String,
    pub current_version: String,
    pub new_version: String,
    /// The package is in `IgnorePkg` or in a group of `IgnoreGroup`, so `pacman -Syu` skips it.
    pub ignored: bool,
}

/// Error in pacman output that the parser does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unrecognised line {number}: {line:?}")]
    UnrecognisedLine { number: usize, line: String },
    #[error("package {name} is listed twice (line {number})")]
    Duplicate { name: String, number: usize },
}

/// Meaning of the exit status of `pacman -Qu`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryExit {
    /// Exit 0: stdout lists the upgrades.
    Upgrades,
    /// Exit 1 with empty stdout and no `error:` line: nothing to upgrade. pacman's query
    /// operations exit 1 when they select no package.
    NoUpgrades,
    /// Any other status, or exit 1 with an error message.
    Failed,
}

/// Decodes the exit status of `pacman -Qu` together with its output.
pub fn decode_query_exit(code: Option<i32>, stdout: &str, stderr: &str) -> QueryExit {
    let has_error = stderr.lines().any(|line| line.starts_with("error:"));
    match code {
        Some(0) if !has_error => QueryExit::Upgrades,
        Some(1) if stdout.trim().is_empty() && !has_error => QueryExit::NoUpgrades,
        _ => QueryExit::Failed,
    }
}

/// Parses the output of `pacman -Qu`.
pub fn parse_query_upgrades(output: &str) -> Result<Vec<QueryUpgrade>, ParseError> {
    let mut upgrades: Vec<QueryUpgrade> = Vec::new();
    for (index, line) in output.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let upgrade = parse_query_line(line).ok_or_else(|| ParseError::UnrecognisedLine {
            number,
            line: line.to_owned(),
        })?;
        if upgrades.iter().any(|known| known.name == upgrade.name) {
            return Err(ParseError::Duplicate {
                name: upgrade.name,
                number,
            });
        }
        upgrades.push(upgrade);
    }
    Ok(upgrades)
}

/// Parses `name old -> new` or `name old -> new [ignored]`.
fn parse_query_line(line: &str) -> Option<QueryUpgrade> {
    let fields: Vec<&str> = line.split(' ').collect();
    let (ignored, fields) = match fields.as_slice() {
        [rest @ .., "[ignored]"] => (true, rest),
        all => (false, all),
    };
    let [name, current, "->", new] = fields else {
        return None;
    };
    if validate_package_name_for(MANAGER, name).is_err() || current.is_empty() || new.is_empty() {
        return None;
    }
    Some(QueryUpgrade {
        name: (*name).to_owned(),
        current_version: (*current).to_owned(),
        new_version: (*new).to_owned(),
        ignored,
    })
}

/// One line of `pacman -Sl`: a package of a sync repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPackage {
    pub repository: String,
    pub name: String,
    pub version: String,
}

/// Parses the output of `pacman -Sl`, in the repository order of pacman.conf.
pub fn parse_sync_list(output: &str) -> Result<Vec<SyncPackage>, ParseError> {
    let mut packages = Vec::new();
    for (index, line) in output.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let package = parse_sync_line(line).ok_or_else(|| ParseError::UnrecognisedLine {
            number: index + 1,
            line: line.to_owned(),
        })?;
        packages.push(package);
    }
    Ok(packages)
}

/// Parses `repo name version`, optionally followed by `[installed]` or `[installed: version]`.
fn parse_sync_line(line: &str) -> Option<SyncPackage> {
    let mut fields = line.splitn(4, ' ');
    let repository = fields.next().filter(|field| !field.is_empty())?;
    let name = fields.next().filter(|field| !field.is_empty())?;
    let version = fields.next().filter(|field| !field.is_empty())?;
    match fields.next() {
        None | Some("[installed]") => {}
        Some(marker) if marker.starts_with("[installed: ") && marker.ends_with(']') => {}
        Some(_) => return None,
    }
    Some(SyncPackage {
        repository: repository.to_owned(),
        name: name.to_owned(),
        version: version.to_owned(),
    })
}

/// Returns the repository that carries `name` at `version`: the first one in pacman.conf
/// order, which is the one `pacman -Syu` installs from.
pub fn repository_of<'a>(
    packages: &'a [SyncPackage],
    name: &str,
    version: &str,
) -> Option<&'a str> {
    packages
        .iter()
        .find(|package| package.name == name && package.version == version)
        .map(|package| package.repository.as_str())
}

/// Parses `arch-audit -u --format %n`: the names of installed packages with a vulnerability
/// that an available update fixes, one per line.
pub fn parse_audit_names(output: &str) -> Result<BTreeSet<String>, ParseError> {
    let mut names = BTreeSet::new();
    for (index, line) in output.lines().enumerate() {
        let name = line.trim();
        if name.is_empty() {
            continue;
        }
        if validate_package_name_for(MANAGER, name).is_err() {
            return Err(ParseError::UnrecognisedLine {
                number: index + 1,
                line: line.to_owned(),
            });
        }
        names.insert(name.to_owned());
    }
    Ok(names)
}

/// Kernel packages of Arch Linux. Each installs `/usr/lib/modules/<release>/pkgbase` with its
/// own name in it.
pub const KERNEL_PACKAGES: &[&str] = &["linux", "linux-lts", "linux-zen", "linux-hardened"];

/// One directory of `/usr/lib/modules`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleDirectory {
    /// Directory name: the kernel release, as `uname -r` prints it.
    pub release: String,
    /// Contents of its `pkgbase` file, trimmed, when it has one.
    pub package: Option<String>,
}

/// Returns whether the host must reboot into an upgraded kernel.
///
/// Upgrading an Arch kernel package removes the module directory of the old release, so the
/// running kernel has no module directory left. The rule applies only when a kernel package of
/// [`KERNEL_PACKAGES`] is installed, because containers run the kernel of their host and have no
/// module directories of their own.
pub fn kernel_reboot_required(running_release: &str, directories: &[ModuleDirectory]) -> bool {
    let kernel_installed = directories.iter().any(|directory| {
        directory
            .package
            .as_deref()
            .is_some_and(|package| KERNEL_PACKAGES.contains(&package))
    });
    let running_present = directories
        .iter()
        .any(|directory| directory.release == running_release.trim());
    kernel_installed && !running_present
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/pacman/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[test]
    fn query_fixtures_parse() {
        type Row = (&'static str, &'static str, &'static str, bool);
        let cases: [(&str, &[Row]); 3] = [
            (
                "qu-updates.txt",
                &[
                    ("curl", "8.6.0-3", "8.7.1-1", false),
                    ("linux", "6.7.9.arch1-1", "6.8.1.arch1-1", false),
                    ("openssl", "3.2.1-1", "3.3.0-1", false),
                    ("python", "3.11.8-1", "3.12.3-1", false),
                    ("tzdata", "2024a-1", "2024a-2", false),
                ],
            ),
            (
                "qu-ignored.txt",
                &[
                    ("firefox", "124.0.1-1", "125.0.1-1", false),
                    ("linux", "6.7.9.arch1-1", "6.8.1.arch1-1", true),
                    ("linux-headers", "6.7.9.arch1-1", "6.8.1.arch1-1", true),
                    ("vim", "9.1.0252-1", "9.1.0299-1", false),
                ],
            ),
            (
                "qu-epoch.txt",
                &[
                    ("ffmpeg", "2:6.1.1-5", "2:7.0-1", false),
                    ("libgcrypt", "1.10.3-1", "1:1.10.3-2", false),
                ],
            ),
        ];
        for (file, expected) in cases {
            let upgrades = parse_query_upgrades(&fixture(file))
                .unwrap_or_else(|error| panic!("{file}: {error}"));
            let rows: Vec<(&str, &str, &str, bool)> = upgrades
                .iter()
                .map(|upgrade| {
                    (
                        upgrade.name.as_str(),
                        upgrade.current_version.as_str(),
                        upgrade.new_version.as_str(),
                        upgrade.ignored,
                    )
                })
                .collect();
            assert_eq!(rows, expected, "{file}");
        }
    }

    #[test]
    fn query_none_is_empty() {
        assert_eq!(
            parse_query_upgrades(&fixture("qu-none.txt")),
            Ok(Vec::new())
        );
    }

    #[test]
    fn query_rejects_unknown_lines() {
        let error = parse_query_upgrades(&fixture("qu-unrecognised.txt")).unwrap_err();
        assert_eq!(
            error,
            ParseError::UnrecognisedLine {
                number: 2,
                line: "warning: database file for 'extra' does not exist (use '-Sy' to download)"
                    .into()
            }
        );
        assert!(parse_query_upgrades("curl 8.6.0-3 => 8.7.1-1\n").is_err());
        assert!(parse_query_upgrades("curl 8.6.0-3 -> 8.7.1-1 [frozen]\n").is_err());
        assert!(parse_query_upgrades("-curl 8.6.0-3 -> 8.7.1-1\n").is_err());
        assert!(parse_query_upgrades("curl 8.6.0-3 ->\n").is_err());
    }

    #[test]
    fn query_rejects_duplicates() {
        let error = parse_query_upgrades("curl 1-1 -> 2-1\ncurl 1-1 -> 2-1\n").unwrap_err();
        assert!(
            matches!(error, ParseError::Duplicate { number: 2, .. }),
            "{error}"
        );
    }

    #[test]
    fn query_exit_codes() {
        let cases = [
            (Some(0), "curl 1-1 -> 2-1\n", "", QueryExit::Upgrades),
            (Some(1), "", "", QueryExit::NoUpgrades),
            (Some(1), "\n", "", QueryExit::NoUpgrades),
            (
                Some(1),
                "",
                "error: failed to initialize alpm library\n(could not find or read directory)\n",
                QueryExit::Failed,
            ),
            (Some(1), "curl 1-1 -> 2-1\n", "", QueryExit::Failed),
            (
                Some(0),
                "",
                "error: could not open file /x\n",
                QueryExit::Failed,
            ),
            (Some(2), "", "", QueryExit::Failed),
            (None, "", "", QueryExit::Failed),
        ];
        for (code, stdout, stderr, expected) in cases {
            assert_eq!(
                decode_query_exit(code, stdout, stderr),
                expected,
                "{code:?} {stdout:?} {stderr:?}"
            );
        }
    }

    #[test]
    fn sync_list_fixture() {
        let packages = parse_sync_list(&fixture("sl.txt")).unwrap();
        assert_eq!(packages.len(), 7);
        assert_eq!(
            repository_of(&packages, "linux", "6.8.1.arch1-1"),
            Some("core")
        );
        assert_eq!(
            repository_of(&packages, "curl", "8.7.1-1"),
            Some("core-testing")
        );
        assert_eq!(
            repository_of(&packages, "firefox", "125.0.1-1"),
            Some("extra")
        );
        assert_eq!(repository_of(&packages, "firefox", "1.0-1"), None);
        assert!(parse_sync_list("core linux 6.8.1.arch1-1 [frozen]\n").is_err());
        assert!(parse_sync_list("core linux\n").is_err());
    }

    #[test]
    fn audit_names_fixture() {
        let names = parse_audit_names(&fixture("arch-audit-upgradable.txt")).unwrap();
        assert_eq!(names.into_iter().collect::<Vec<_>>(), ["curl", "openssl"]);
        assert!(parse_audit_names("Package curl is affected by CVE-2024-2398\n").is_err());
    }

    #[test]
    fn kernel_reboot_rule() {
        let directory = |release: &str, package: Option<&str>| ModuleDirectory {
            release: release.to_owned(),
            package: package.map(str::to_owned),
        };
        let upgraded = [directory("6.8.1-arch1-1", Some("linux"))];
        let both_kernels = [
            directory("6.8.1-arch1-1", Some("linux")),
            directory("6.6.23-1-lts", Some("linux-lts")),
        ];
        let extra_modules_only = [directory("6.8.1-arch1-1", None)];
        let cases: [(&str, &[ModuleDirectory], bool); 6] = [
            ("6.7.9-arch1-1", &upgraded, true),
            ("6.8.1-arch1-1", &upgraded, false),
            ("6.8.1-arch1-1\n", &upgraded, false),
            ("6.6.23-1-lts", &both_kernels, false),
            ("6.1.0-18-amd64", &[], false),
            ("6.7.9-arch1-1", &extra_modules_only, false),
        ];
        for (running, directories, expected) in cases {
            assert_eq!(
                kernel_reboot_required(running, directories),
                expected,
                "{running} {directories:?}"
            );
        }
    }
}
