//! Parser for the package lists of `dnf check-update` (dnf 4), `dnf5 check-upgrade` and
//! `yum check-update`.
//!
//! All three print one package per entry in three columns, `name.arch  [epoch:]version-release
//! repository`, then an optional "Obsoleting Packages" section where each obsoleting package is
//! followed by the installed packages it replaces, indented by four spaces. dnf 4 and yum wrap an
//! entry whose column overflows: the rest of the entry continues on the next line, indented to
//! its column. The parser therefore reads an entry as three whitespace-separated fields that may
//! span lines. Every line must be an entry, part of one, or a message the parser knows: an
//! unknown line may mean a format change that would otherwise turn into a silent "no updates".

use super::ParseError;
use crate::packages::version::rpm::Evr;

/// One package line: `name.arch  evr  repository`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedPackage {
    pub name: String,
    pub architecture: String,
    /// `[epoch:]version-release` as printed; dnf omits a zero epoch.
    pub evr: String,
    /// Repository id; `@System` or `@repo` for installed packages.
    pub repository: String,
}

/// A package of the "Obsoleting Packages" section and the installed packages it replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obsoleting {
    pub package: ListedPackage,
    pub replaces: Vec<ListedPackage>,
}

/// Parsed output of a check-update command.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpdateList {
    pub updates: Vec<ListedPackage>,
    pub obsoleting: Vec<Obsoleting>,
}

/// Lines that dnf, dnf5 and yum print around the list, matched by their start.
const MESSAGE_PREFIXES: &[&str] = &[
    "Last metadata expiration check:",
    // dnf 4 and yum with the security plugin, when a newer kernel than the running one fixes a
    // security issue: "Security: kernel-core-... is an installed security update" and "...is the
    // currently running version".
    "Security: ",
    // yum: plugin list and mirror selection.
    "Loaded plugins:",
    "Loading mirror speeds from cached hostfile",
    "Determining fastest mirrors",
    // RHEL with subscription-manager.
    "Updating Subscription Management repositories.",
    "Unable to read consumer identity",
    "This system is not registered",
    "This system is receiving updates from",
    // `--security` filters of dnf 4, dnf5 and yum.
    "No security updates needed",
    "No packages needed for security",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Updates,
    Obsoleting,
}

/// Returns whether `line` is a message around the list rather than part of an entry.
fn is_message(line: &str) -> bool {
    let trimmed = line.trim();
    if MESSAGE_PREFIXES
        .iter()
        .any(|prefix| trimmed.starts_with(prefix))
    {
        return true;
    }
    // yum: " * base: mirror.example.com" and the continuation of a wrapped plugin list, which
    // starts with ": ".
    if trimmed.starts_with("* ") || trimmed.starts_with(": ") {
        return true;
    }
    // yum: "12 packages needed for security, out of 40 available".
    if trimmed.contains(" needed for security, out of ") {
        return true;
    }
    is_download_progress(trimmed)
}

/// Returns whether `line` is the final line of a metadata download, which dnf 4 prints to
/// stdout when not on a terminal: `Fedora 39 - x86_64 - Updates   1.2 MB/s |  20 MB     00:16`.
fn is_download_progress(line: &str) -> bool {
    let Some((_, after)) = line.rsplit_once(" | ") else {
        return false;
    };
    let Some(elapsed) = after.split_whitespace().last() else {
        return false;
    };
    elapsed.contains(':')
        && elapsed
            .chars()
            .all(|character| character.is_ascii_digit() || character == ':')
}

/// Parses the standard output of a check-update command that exited with status 100.
pub fn parse_update_list(output: &str) -> Result<UpdateList, ParseError> {
    let mut list = UpdateList::default();
    let mut section = Section::Updates;
    let mut pending: Vec<&str> = Vec::new();
    let mut pending_indented = false;
    let mut pending_start = 0;

    for (index, line) in output.lines().enumerate() {
        let number = index + 1;
        let unrecognised = || ParseError::UnrecognisedLine {
            number,
            line: line.to_owned(),
        };
        let indented = line.starts_with(' ') || line.starts_with('\t');

        if pending.is_empty() {
            if line.trim().is_empty() || is_message(line) {
                continue;
            }
            if line.trim().eq_ignore_ascii_case("Obsoleting Packages") {
                section = Section::Obsoleting;
                continue;
            }
            if indented && section == Section::Updates {
                return Err(unrecognised());
            }
            pending_indented = indented;
            pending_start = number;
        } else if !indented {
            // A new entry while the last one still lacks a field: the last one was cut short.
            return Err(ParseError::IncompleteEntry {
                number: pending_start,
                fields: pending.join(" "),
            });
        }

        let fields: Vec<&str> = line.split_whitespace().collect();
        if pending.len() + fields.len() > 3 {
            return Err(unrecognised());
        }
        pending.extend(fields);
        if pending.len() < 3 {
            continue;
        }

        let package = listed_package(&pending).ok_or_else(|| ParseError::MalformedEntry {
            number: pending_start,
            fields: pending.join(" "),
        })?;
        match section {
            Section::Updates => list.updates.push(package),
            Section::Obsoleting if pending_indented => {
                let Some(obsoleting) = list.obsoleting.last_mut() else {
                    return Err(ParseError::MalformedEntry {
                        number: pending_start,
                        fields: pending.join(" "),
                    });
                };
                obsoleting.replaces.push(package);
            }
            Section::Obsoleting => list.obsoleting.push(Obsoleting {
                package,
                replaces: Vec::new(),
            }),
        }
        pending.clear();
    }

    if !pending.is_empty() {
        return Err(ParseError::IncompleteEntry {
            number: pending_start,
            fields: pending.join(" "),
        });
    }
    if list
        .obsoleting
        .iter()
        .any(|entry| entry.replaces.is_empty())
    {
        return Err(ParseError::Truncated(
            "an obsoleting package is not followed by the package it replaces",
        ));
    }
    Ok(list)
}

fn listed_package(fields: &[&str]) -> Option<ListedPackage> {
    let [name_arch, evr, repository] = fields else {
        return None;
    };
    let (name, architecture) = name_arch.rsplit_once('.')?;
    let parsed = Evr::parse(evr);
    if name.is_empty()
        || architecture.is_empty()
        || parsed.version.is_empty()
        || parsed.release.as_deref().is_none_or(str::is_empty)
    {
        return None;
    }
    Some(ListedPackage {
        name: name.to_owned(),
        architecture: architecture.to_owned(),
        evr: (*evr).to_owned(),
        repository: (*repository).to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(path: &str) -> String {
        let path = format!("{}/testdata/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    fn names(list: &UpdateList) -> Vec<(&str, &str, &str, &str)> {
        list.updates
            .iter()
            .map(|package| {
                (
                    package.name.as_str(),
                    package.architecture.as_str(),
                    package.evr.as_str(),
                    package.repository.as_str(),
                )
            })
            .collect()
    }

    #[test]
    fn refresh_progress_and_obsoletes() {
        let list = parse_update_list(&fixture("dnf/check-update-refresh.txt")).unwrap();
        assert_eq!(list.updates.len(), 13);
        assert_eq!(
            names(&list)[5],
            ("smtest-epoch", "noarch", "2:1.5-1", "smtest-fixtures")
        );
        assert_eq!(list.obsoleting.len(), 1);
        assert_eq!(list.obsoleting[0].package.name, "smtest-new");
        assert_eq!(list.obsoleting[0].replaces[0].name, "smtest-old");
        assert_eq!(list.obsoleting[0].replaces[0].repository, "@System");
    }

    #[test]
    fn wrapped_lines_join() {
        let wrapped = parse_update_list(&fixture("dnf/check-update-wrapped.txt")).unwrap();
        let plain = parse_update_list(&fixture("dnf/check-update-refresh.txt")).unwrap();
        assert_eq!(wrapped, plain);
        let long = wrapped
            .updates
            .iter()
            .find(|package| package.name.starts_with("smtest-with-a-really"))
            .unwrap();
        assert_eq!(long.evr, "1.1-1");
        let version = wrapped
            .updates
            .iter()
            .find(|package| package.name == "smtest-longversion")
            .unwrap();
        assert_eq!(
            version.evr,
            "1.0.20260115git0123456789abcdef0123456789abcdef-3.el9_4.sysmanage.test"
        );
    }

    #[test]
    fn rhel_messages_and_kernel_notice() {
        let list = parse_update_list(&fixture("dnf/check-update-rhel9.txt")).unwrap();
        assert_eq!(
            names(&list),
            [
                ("kernel", "x86_64", "5.14.0-427.16.1.el9_4", "baseos"),
                ("kernel-core", "x86_64", "5.14.0-427.16.1.el9_4", "baseos"),
                ("openssl", "x86_64", "1:3.0.7-27.el9_4.1", "baseos"),
                ("openssl-libs", "x86_64", "1:3.0.7-27.el9_4.1", "baseos"),
                ("python3-perf", "x86_64", "5.14.0-427.16.1.el9_4", "baseos"),
                ("tzdata", "noarch", "2024a-1.el9", "baseos"),
            ]
        );
    }

    #[test]
    fn dnf5_sections() {
        let list = parse_update_list(&fixture("dnf/dnf5-check-upgrade.txt")).unwrap();
        assert_eq!(list.updates.len(), 3);
        assert_eq!(list.obsoleting.len(), 1);
        assert_eq!(list.obsoleting[0].package.name, "python3-dnf-plugin-new");
        assert_eq!(list.obsoleting[0].replaces.len(), 2);
    }

    #[test]
    fn yum_output() {
        let list = parse_update_list(&fixture("yum/check-update.txt")).unwrap();
        assert_eq!(
            names(&list),
            [
                ("bind-libs", "x86_64", "32:9.11.4-26.P2.el7_9.16", "updates"),
                ("kernel", "x86_64", "3.10.0-1160.119.1.el7", "updates"),
                (
                    "python-perf-with-a-long-name-for-wrapping",
                    "x86_64",
                    "3.10.0-1160.119.1.el7",
                    "updates"
                ),
                ("tzdata", "noarch", "2024a-1.el7", "updates"),
            ]
        );
        assert_eq!(list.obsoleting.len(), 1);
        assert_eq!(list.obsoleting[0].package.name, "grub2-tools-minimal");
    }

    #[test]
    fn rejects_unknown_and_cut_entries() {
        let cases = [
            (
                "\nfoo.x86_64   1.0-1   updates\nSomething unexpected happened here\n",
                "unrecognised",
            ),
            ("\nfoo.x86_64   1.0-1   updates\nbar.x86_64\n", "incomplete"),
            ("\nfoo.x86_64\nbar.x86_64   1.0-1   updates\n", "incomplete"),
            ("\nfoo   1.0-1   updates\n", "malformed"),
            ("\nfoo.x86_64   1.0   updates\n", "malformed"),
            ("\n   foo.x86_64   1.0-1   updates\n", "unrecognised"),
            (
                "Obsoleting Packages\nnew.noarch  2.0-1  updates\n",
                "truncated",
            ),
        ];
        for (output, kind) in cases {
            let error = parse_update_list(output).unwrap_err();
            let matches = match kind {
                "unrecognised" => matches!(error, ParseError::UnrecognisedLine { .. }),
                "incomplete" => matches!(error, ParseError::IncompleteEntry { .. }),
                "malformed" => matches!(error, ParseError::MalformedEntry { .. }),
                _ => matches!(error, ParseError::Truncated(_)),
            };
            assert!(matches, "{output:?}: {error}");
        }
    }

    #[test]
    fn progress_lines() {
        assert!(is_download_progress(
            "SysManage test                                  128 kB/s | 929  B     00:00    "
        ));
        assert!(is_download_progress(
            "Fedora 39 - x86_64 - Updates   1.2 MB/s |  20 MB     01:16"
        ));
        assert!(!is_download_progress("foo.x86_64  1.0-1  updates"));
    }
}
