//! Parsers and exit-code decoding for freebsd-update, written against `freebsd-update.sh` of
//! FreeBSD 13.x and 14.x.
//!
//! `freebsd-update fetch` prints progress lines, then either "No updates needed to update
//! system to RELEASE." or up to four file lists, each under a heading that names the target
//! patch level. FreeBSD 13 and later print the heading on two lines ("... as part of updating
//! to" / "14.1-RELEASE-p5:"), older releases on one. Every line must be recognised, because an
//! unknown line may mean a format change that would otherwise turn into a silent "no updates".

/// What a `freebsd-update fetch` run reported.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FetchReport {
    /// Patch level the fetched updates lead to, such as `14.1-RELEASE-p5`.
    pub target: Option<String>,
    /// "No updates needed to update system to ...": nothing to install.
    pub up_to_date: bool,
    pub updated: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Files affected by the updates that were left alone because they were modified locally.
    pub modified_locally: Vec<String>,
    /// The "HAS PASSED ITS END-OF-LIFE DATE" warning line, when the release is end of life.
    pub end_of_life: Option<String>,
}

impl FetchReport {
    /// Returns whether the fetch prepared files to install.
    pub fn has_changes(&self) -> bool {
        !(self.updated.is_empty() && self.added.is_empty() && self.removed.is_empty())
    }

    /// Returns whether the fetched updates touch the kernel (anything under `/boot/`).
    pub fn touches_kernel(&self) -> bool {
        self.updated
            .iter()
            .chain(&self.added)
            .chain(&self.removed)
            .any(|path| path.starts_with("/boot/"))
    }
}

/// Error in the output that the parser does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unrecognised line {number}: {line:?}")]
    UnrecognisedLine { number: usize, line: String },
    #[error("the file list heading on line {number} names no target release")]
    MissingTarget { number: usize },
    #[error("the file lists name two targets, {first} and {second}")]
    TwoTargets { first: String, second: String },
    #[error("the output has neither file lists nor \"No updates needed\"")]
    NoSummary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    Updated,
    Added,
    Removed,
    ModifiedLocally,
}

const LIST_HEADINGS: &[(&str, List)] = &[
    (
        "The following files will be updated as part of updating to",
        List::Updated,
    ),
    (
        "The following files will be added as part of updating to",
        List::Added,
    ),
    (
        "The following files will be removed as part of updating to",
        List::Removed,
    ),
];

/// Progress and notice lines that carry nothing to parse. Prefixes, matched after trimming.
const PROGRESS_PREFIXES: &[&str] = &[
    "src component not installed, skipped",
    "Looking up ",
    "Fetching public key from ",
    "Fetching metadata signature for ",
    "Fetching metadata index...",
    "Fetching ",
    "Applying metadata patches...",
    "Applying patches...",
    "Inspecting system...",
    "Preparing to download files...",
    // The end-of-life notices that follow the warning line.
    "Any security issues discovered after ",
    "will not have been corrected.",
    "It is strongly recommended that you upgrade to a newer",
    "release within the next ",
];

/// Parses the stdout of `freebsd-update fetch --not-running-from-cron` run with `PAGER=cat`.
pub fn parse_fetch(output: &str) -> Result<FetchReport, ParseError> {
    let mut report = FetchReport::default();
    let mut list: Option<List> = None;
    // A heading whose target is on the next line (FreeBSD 13 and later).
    let mut pending_heading: Option<(List, usize)> = None;
    let mut in_local_heading = false;

    for (index, raw) in output.lines().enumerate() {
        let number = index + 1;
        let line = raw.trim();
        if let Some((kind, heading_number)) = pending_heading.take() {
            let target = line
                .strip_suffix(':')
                .filter(|target| is_release_name(target))
                .ok_or(ParseError::MissingTarget {
                    number: heading_number,
                })?;
            set_target(&mut report, target)?;
            list = Some(kind);
            continue;
        }
        if line.is_empty() {
            list = None;
            continue;
        }
        if line.starts_with('/') && !line.contains(' ') {
            match list {
                Some(List::Updated) => report.updated.push(line.to_owned()),
                Some(List::Added) => report.added.push(line.to_owned()),
                Some(List::Removed) => report.removed.push(line.to_owned()),
                Some(List::ModifiedLocally) => report.modified_locally.push(line.to_owned()),
                None => {
                    return Err(ParseError::UnrecognisedLine {
                        number,
                        line: raw.to_owned(),
                    });
                }
            }
            continue;
        }
        list = None;
        if let Some((heading, kind)) = LIST_HEADINGS
            .iter()
            .find(|(heading, _)| line.starts_with(heading))
        {
            let rest = line[heading.len()..].trim();
            if rest.is_empty() {
                pending_heading = Some((*kind, number));
            } else {
                let target = rest
                    .strip_suffix(':')
                    .filter(|target| is_release_name(target))
                    .ok_or(ParseError::MissingTarget { number })?;
                set_target(&mut report, target)?;
                list = Some(*kind);
            }
            continue;
        }
        if line.starts_with("The following files are affected by updates") {
            // The heading runs over two or three lines and ends with "locally:".
            in_local_heading = !line.ends_with("locally:");
            list = (!in_local_heading).then_some(List::ModifiedLocally);
            continue;
        }
        if in_local_heading {
            in_local_heading = !line.ends_with("locally:");
            list = (!in_local_heading).then_some(List::ModifiedLocally);
            continue;
        }
        if let Some(target) = line
            .strip_prefix("No updates needed to update system to ")
            .and_then(|rest| rest.strip_suffix('.'))
        {
            set_target(&mut report, target)?;
            report.up_to_date = true;
            continue;
        }
        if line.starts_with("WARNING: ") && line.ends_with("HAS PASSED ITS END-OF-LIFE DATE.") {
            report.end_of_life = Some(line.to_owned());
            continue;
        }
        if line.starts_with("WARNING: ") && line.ends_with("is approaching its End-of-Life date.") {
            continue;
        }
        // A download that failed ends in "failed."; it is never progress.
        if !line.ends_with("failed.")
            && PROGRESS_PREFIXES
                .iter()
                .any(|prefix| line.starts_with(prefix))
        {
            continue;
        }
        return Err(ParseError::UnrecognisedLine {
            number,
            line: raw.to_owned(),
        });
    }
    if let Some((_, number)) = pending_heading {
        return Err(ParseError::MissingTarget { number });
    }
    if !report.up_to_date && !report.has_changes() {
        return Err(ParseError::NoSummary);
    }
    Ok(report)
}

fn set_target(report: &mut FetchReport, target: &str) -> Result<(), ParseError> {
    match &report.target {
        Some(first) if first != target => Err(ParseError::TwoTargets {
            first: first.clone(),
            second: target.to_owned(),
        }),
        _ => {
            report.target = Some(target.to_owned());
            Ok(())
        }
    }
}

/// Returns whether `text` looks like a FreeBSD release name such as `14.1-RELEASE-p5`.
fn is_release_name(text: &str) -> bool {
    text.split_once('-').is_some_and(|(number, rest)| {
        !number.is_empty()
            && number.chars().all(|c| c.is_ascii_digit() || c == '.')
            && !rest.is_empty()
            && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

/// Meaning of the exit of `freebsd-update fetch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchStatus {
    /// The fetch finished; the report says what it prepared.
    Done(FetchReport),
    /// The fetch finished, but exited 1 only because the release is past its end of life.
    EndOfLife(FetchReport),
    /// Another freebsd-update holds the lock of the working directory.
    Busy,
    /// The fetch failed; the string says why.
    Failed(String),
}

/// `EX_TEMPFAIL`: the exit status of freebsd-update when `lockf` finds the working directory
/// locked by another instance.
pub const EXIT_LOCKED: i32 = 75;

/// Returns whether the output says that another freebsd-update holds the working directory.
pub fn is_locked(output: &str) -> bool {
    output.lines().any(|line| {
        let line = line.trim();
        line.starts_with("another freebsd-update") && line.contains("instance is running")
    })
}

/// Decodes a `freebsd-update fetch` run from its exit status and stdout.
pub fn decode_fetch(code: Option<i32>, stdout: &str) -> FetchStatus {
    if code == Some(EXIT_LOCKED) || is_locked(stdout) {
        return FetchStatus::Busy;
    }
    match (code, parse_fetch(stdout)) {
        (Some(0), Ok(report)) => FetchStatus::Done(report),
        (Some(0), Err(error)) => FetchStatus::Failed(error.to_string()),
        // fetch_warn_eol returns 1 after a complete fetch when the release is end of life.
        (Some(1), Ok(report)) if report.end_of_life.is_some() => FetchStatus::EndOfLife(report),
        (Some(code), _) => FetchStatus::Failed(format!("freebsd-update fetch exited with {code}")),
        (None, _) => FetchStatus::Failed("freebsd-update fetch was killed by a signal".to_owned()),
    }
}

/// Meaning of the exit status of `freebsd-update updatesready`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdatesReady {
    /// 0: fetched updates wait to be installed.
    Ready,
    /// 2: nothing is waiting.
    None,
    /// Another instance holds the lock (75).
    Busy,
    /// Any other status, such as 1 when the working directory cannot be entered.
    Failed,
}

/// Decodes the exit status of `freebsd-update updatesready`.
pub fn decode_updatesready(code: Option<i32>) -> UpdatesReady {
    match code {
        Some(0) => UpdatesReady::Ready,
        Some(2) => UpdatesReady::None,
        Some(EXIT_LOCKED) => UpdatesReady::Busy,
        _ => UpdatesReady::Failed,
    }
}

/// Meaning of the exit of `freebsd-update install`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallStatus {
    Installed,
    /// Exit 1 with "No updates are available to install.": nothing was fetched.
    NothingToInstall,
    Busy,
    Failed(String),
}

/// Decodes a `freebsd-update install` run from its exit status and output.
pub fn decode_install(code: Option<i32>, output: &str) -> InstallStatus {
    if code == Some(EXIT_LOCKED) || is_locked(output) {
        return InstallStatus::Busy;
    }
    match code {
        Some(0) => InstallStatus::Installed,
        Some(1)
            if output
                .lines()
                .any(|line| line.trim() == "No updates are available to install.") =>
        {
            InstallStatus::NothingToInstall
        }
        Some(code) => InstallStatus::Failed(format!("freebsd-update install exited with {code}")),
        None => InstallStatus::Failed("freebsd-update install was killed by a signal".to_owned()),
    }
}

/// Returns whether the host must reboot: the installed kernel (`freebsd-version -k`) differs
/// from the running one (`freebsd-version -r`). Unknown versions never ask for a reboot.
pub fn kernel_reboot_required(installed_kernel: &str, running_kernel: &str) -> bool {
    let installed = installed_kernel.trim();
    let running = running_kernel.trim();
    !installed.is_empty() && !running.is_empty() && installed != running
}

/// Parses the output of `freebsd-version -k -r`: the installed kernel on the first line, the
/// running kernel on the second.
pub fn parse_kernel_versions(output: &str) -> Option<(String, String)> {
    let mut lines = output
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty());
    let installed = lines.next()?;
    let running = lines.next()?;
    if lines.next().is_some() || !is_release_name(installed) || !is_release_name(running) {
        return None;
    }
    Some((installed.to_owned(), running.to_owned()))
}

/// Parses the output of `freebsd-version -u`: one release name.
pub fn parse_userland_version(output: &str) -> Option<String> {
    let version = output.trim();
    is_release_name(version).then(|| version.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/testdata/freebsd_update/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[test]
    fn fetch_with_kernel_and_userland_updates() {
        let report = parse_fetch(&fixture("fetch-updates.txt")).unwrap();
        assert_eq!(report.target.as_deref(), Some("14.1-RELEASE-p5"));
        assert!(!report.up_to_date);
        assert!(report.has_changes());
        assert!(report.touches_kernel());
        assert_eq!(
            report.updated,
            [
                "/bin/freebsd-version",
                "/boot/kernel/kernel",
                "/boot/kernel/zfs.ko",
                "/lib/libc.so.7",
                "/usr/bin/openssl",
                "/usr/lib/libcrypto.so.30",
                "/usr/sbin/sshd",
            ]
        );
        assert_eq!(report.added, ["/usr/share/zoneinfo/America/Ciudad_Juarez"]);
        assert!(report.removed.is_empty());
        assert_eq!(report.end_of_life, None);
    }

    #[test]
    fn fetch_one_line_headings_and_local_changes() {
        let report = parse_fetch(&fixture("fetch-updates-oneline.txt")).unwrap();
        assert_eq!(report.target.as_deref(), Some("12.4-RELEASE-p9"));
        assert_eq!(report.updated, ["/usr/sbin/unbound"]);
        assert_eq!(report.removed, ["/usr/share/misc/old.txt"]);
        assert_eq!(report.modified_locally, ["/etc/ssh/sshd_config"]);
        assert!(!report.touches_kernel());
    }

    #[test]
    fn fetch_none_needed() {
        let report = parse_fetch(&fixture("fetch-none.txt")).unwrap();
        assert!(report.up_to_date);
        assert!(!report.has_changes());
        assert_eq!(report.target.as_deref(), Some("14.1-RELEASE-p5"));
        assert_eq!(
            decode_fetch(Some(0), &fixture("fetch-none.txt")),
            FetchStatus::Done(report)
        );
    }

    #[test]
    fn fetch_mirror_error_fails() {
        let output = fixture("fetch-error.txt");
        assert!(parse_fetch(&output).is_err());
        assert!(matches!(
            decode_fetch(Some(1), &output),
            FetchStatus::Failed(_)
        ));
    }

    #[test]
    fn fetch_end_of_life_is_not_a_failure() {
        let output = fixture("fetch-eol.txt");
        let FetchStatus::EndOfLife(report) = decode_fetch(Some(1), &output) else {
            panic!("an end-of-life fetch with exit 1 must be decoded as EndOfLife");
        };
        assert_eq!(
            report.end_of_life.as_deref(),
            Some("WARNING: FreeBSD 13.1-RELEASE HAS PASSED ITS END-OF-LIFE DATE.")
        );
        assert_eq!(report.target.as_deref(), Some("13.1-RELEASE-p9"));
        assert!(report.touches_kernel());
    }

    #[test]
    fn fetch_end_of_life_approaching_is_a_plain_result() {
        let output = fixture("fetch-eol-approaching.txt");
        let FetchStatus::Done(report) = decode_fetch(Some(0), &output) else {
            panic!("an approaching end of life must not fail the fetch");
        };
        assert!(report.up_to_date);
        assert_eq!(report.end_of_life, None);
        assert_eq!(report.target.as_deref(), Some("14.0-RELEASE-p6"));
    }

    #[test]
    fn fetch_lock_is_busy() {
        let output = fixture("fetch-locked.txt");
        assert!(is_locked(&output));
        assert_eq!(decode_fetch(Some(75), &output), FetchStatus::Busy);
        assert_eq!(decode_fetch(Some(1), &output), FetchStatus::Busy);
    }

    #[test]
    fn fetch_without_summary_fails() {
        let output = "Looking up update.FreeBSD.org mirrors... 3 mirrors found.\n\
                      Fetching metadata index... done.\n";
        assert_eq!(parse_fetch(output), Err(ParseError::NoSummary));
        let output = "The following files will be updated as part of updating to\n";
        assert!(matches!(
            parse_fetch(output),
            Err(ParseError::MissingTarget { number: 1 })
        ));
        let output = "Frobnicating the mirrors... done.\nNo updates needed to update system to 14.1-RELEASE-p5.\n";
        assert!(matches!(
            parse_fetch(output),
            Err(ParseError::UnrecognisedLine { number: 1, .. })
        ));
    }

    #[test]
    fn updatesready_exit_codes() {
        assert_eq!(decode_updatesready(Some(0)), UpdatesReady::Ready);
        assert_eq!(decode_updatesready(Some(2)), UpdatesReady::None);
        assert_eq!(decode_updatesready(Some(75)), UpdatesReady::Busy);
        assert_eq!(decode_updatesready(Some(1)), UpdatesReady::Failed);
        assert_eq!(decode_updatesready(None), UpdatesReady::Failed);
    }

    #[test]
    fn install_exit_codes() {
        assert_eq!(
            decode_install(Some(0), &fixture("install-done.txt")),
            InstallStatus::Installed
        );
        assert_eq!(
            decode_install(Some(1), &fixture("install-nothing.txt")),
            InstallStatus::NothingToInstall
        );
        assert_eq!(
            decode_install(Some(75), &fixture("fetch-locked.txt")),
            InstallStatus::Busy
        );
        assert!(matches!(
            decode_install(
                Some(1),
                "Update files missing -- this should never happen.\n"
            ),
            InstallStatus::Failed(_)
        ));
        assert!(matches!(decode_install(None, ""), InstallStatus::Failed(_)));
    }

    #[test]
    fn reboot_when_installed_kernel_differs_from_running() {
        let (installed, running) =
            parse_kernel_versions(&fixture("freebsd-version-kr.txt")).unwrap();
        assert_eq!(installed, "14.1-RELEASE-p5");
        assert_eq!(running, "14.1-RELEASE-p4");
        assert!(kernel_reboot_required(&installed, &running));
        assert!(!kernel_reboot_required(
            "14.1-RELEASE-p5",
            "14.1-RELEASE-p5\n"
        ));
        assert!(!kernel_reboot_required("", "14.1-RELEASE-p5"));
        assert_eq!(parse_kernel_versions("14.1-RELEASE-p5\n"), None);
        assert_eq!(parse_kernel_versions("freebsd-version: bad option\n"), None);
    }

    #[test]
    fn userland_version() {
        assert_eq!(
            parse_userland_version("14.1-RELEASE-p4\n").as_deref(),
            Some("14.1-RELEASE-p4")
        );
        assert_eq!(parse_userland_version("\n"), None);
        assert_eq!(parse_userland_version("usage: freebsd-version"), None);
    }
}
