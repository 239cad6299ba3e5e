//! The freebsd-update backend for FreeBSD base system patches: detection and installs.
//!
//! Written against `freebsd-update` of FreeBSD 13.x and 14.x. The base system is reported as
//! ONE update named [`NAME`], from the running userland (`freebsd-version -u`) to the patch
//! level that `freebsd-update fetch` prepared, such as `14.1-RELEASE-p5`. It is always a
//! security update: FreeBSD publishes patch levels only to fix security advisories (FreeBSD-SA)
//! and errata notices (FreeBSD-EN), and freebsd-update does not say which of the two a patch
//! level carries.
//!
//! freebsd-update installs whatever the last fetch prepared and cannot pin another patch
//! level; an install fetches again and says so when the patch level moved on since the
//! approval. Every command runs without a shell, with `--not-running-from-cron` (no terminal)
//! and `PAGER=cat`; a run that finds the working directory locked by another instance (exit
//! 75) is retried with backoff (see [`crate::packages::busy`]).

pub mod detect;

use std::process::Command;
use std::time::Duration;

use sysmanage_protocol::{
    JobFailure, JobFailureKind, PackageOutcome, PackageResult, UpdateInfo, UpdateStatus,
};

use self::detect::{FetchReport, FetchStatus, InstallStatus, UpdatesReady};
use super::busy::{self, Attempt, BusyPolicy, BusyTimeout};
use super::command::{self, CommandError, CommandOutput, describe};
use super::{InstallOutcome, InstallSelection, PackageManager, ScanError, is_on_path};

/// Name of this manager in the protocol.
pub const MANAGER: &str = "freebsd_update";
/// Name of the one update this manager reports.
pub const NAME: &str = "freebsd-base";

/// Time limit of a fetch, which may download hundreds of megabytes of patches.
const FETCH_TIMEOUT: Duration = Duration::from_mins(30);
const INSTALL_TIMEOUT: Duration = Duration::from_hours(1);
const QUERY_TIMEOUT: Duration = Duration::from_mins(1);

/// Returns whether freebsd-update can be used: `freebsd-update` is on `PATH`.
pub fn is_available() -> bool {
    is_on_path("freebsd-update")
}

/// FreeBSD Update.
#[derive(Debug, Clone, Default)]
pub struct FreebsdUpdate {
    busy: BusyPolicy,
}

/// Builds a freebsd-update command: non-interactive, with `PAGER=cat` so that file lists are
/// printed instead of paged, and `LC_ALL=C` (which the script sets itself as well).
pub fn freebsd_update_command(subcommand: &str) -> Command {
    let mut command = Command::new("freebsd-update");
    command
        .args(freebsd_update_arguments(subcommand))
        .env("PAGER", "cat")
        .env("LC_ALL", "C")
        .env_remove("LANGUAGE");
    command
}

/// Arguments of a freebsd-update run: the subcommand and `--not-running-from-cron`, without
/// which `fetch` refuses to run without a terminal.
pub fn freebsd_update_arguments(subcommand: &str) -> [&str; 2] {
    [subcommand, "--not-running-from-cron"]
}

/// Error of a run that gave no output to interpret.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Busy(#[from] BusyTimeout),
}

impl FreebsdUpdate {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs a freebsd-update subcommand, retrying with backoff while another instance holds
    /// the lock of the working directory.
    fn run_retrying(&self, subcommand: &str, timeout: Duration) -> Result<CommandOutput, RunError> {
        let result =
            busy::retry_while_busy(self.busy, std::thread::sleep, || {
                match command::run(freebsd_update_command(subcommand), timeout) {
                    Ok(output)
                        if output.status.code() == Some(detect::EXIT_LOCKED)
                            || detect::is_locked(&output.stdout)
                            || detect::is_locked(&output.stderr) =>
                    {
                        Attempt::Busy {
                            holder:
                                "another freebsd-update instance (lock in /var/db/freebsd-update)"
                                    .to_owned(),
                        }
                    }
                    other => Attempt::Done(other),
                }
            })?;
        Ok(result?)
    }

    /// Runs `freebsd-update fetch` and returns what it prepared.
    fn fetch(&self) -> Result<FetchReport, ScanError> {
        let description = describe(&freebsd_update_command("fetch"));
        let output = self
            .run_retrying("fetch", FETCH_TIMEOUT)
            .map_err(|error| scan_error(&description, error))?;
        match detect::decode_fetch(output.status.code(), &output.stdout) {
            FetchStatus::Done(report) => Ok(report),
            FetchStatus::EndOfLife(report) => {
                tracing::warn!(
                    manager = MANAGER,
                    warning = report.end_of_life.as_deref().unwrap_or_default(),
                    "the FreeBSD release is past its end of life"
                );
                Ok(report)
            }
            FetchStatus::Busy => Err(ScanError::CommandFailed {
                command: description,
                status: "busy".to_owned(),
                output_tail: output.output_tail,
            }),
            FetchStatus::Failed(reason) => Err(ScanError::CommandFailed {
                command: description,
                status: reason,
                output_tail: output.output_tail,
            }),
        }
    }

    /// Runs `freebsd-update updatesready`.
    fn updates_ready(&self) -> Result<bool, ScanError> {
        let description = describe(&freebsd_update_command("updatesready"));
        let output = self
            .run_retrying("updatesready", QUERY_TIMEOUT)
            .map_err(|error| scan_error(&description, error))?;
        match detect::decode_updatesready(output.status.code()) {
            UpdatesReady::Ready => Ok(true),
            UpdatesReady::None => Ok(false),
            UpdatesReady::Busy | UpdatesReady::Failed => Err(ScanError::CommandFailed {
                command: description,
                status: output.status.to_string(),
                output_tail: output.output_tail,
            }),
        }
    }

    /// Fetches and returns the pending base system update, if any.
    fn pending(&self) -> Result<Option<UpdateInfo>, ScanError> {
        let report = self.fetch()?;
        let ready = self.updates_ready()?;
        let current = userland_version();
        update_from(&report, ready, current.as_deref())
    }
}

fn scan_error(description: &str, error: RunError) -> ScanError {
    match error {
        RunError::Command(error) => ScanError::Command(error),
        RunError::Busy(error) => ScanError::CommandFailed {
            command: description.to_owned(),
            status: "busy".to_owned(),
            output_tail: error.to_string(),
        },
    }
}

/// Origin reported for the base system update.
pub const ORIGIN: &str = "FreeBSD security advisories and errata notices";

/// Turns a fetch report and the `updatesready` answer into the base system update.
///
/// Fails when the two disagree: a fetch that listed files leaves updates ready, and a fetch
/// that needed nothing leaves none.
pub fn update_from(
    report: &FetchReport,
    ready: bool,
    current_version: Option<&str>,
) -> Result<Option<UpdateInfo>, ScanError> {
    let inconsistent = |reason: &str| ScanError::Parse {
        command: "freebsd-update fetch; freebsd-update updatesready".to_owned(),
        reason: reason.to_owned(),
    };
    match (report.has_changes(), ready) {
        (false, false) => return Ok(None),
        (true, false) => {
            return Err(inconsistent(
                "fetch listed files to update, but updatesready reports nothing to install",
            ));
        }
        (false, true) => {
            return Err(inconsistent(
                "fetch needed no updates, but updatesready reports updates to install",
            ));
        }
        (true, true) => {}
    }
    let target = report
        .target
        .clone()
        .ok_or_else(|| inconsistent("the fetch output names no target patch level"))?;
    let origin = match &report.end_of_life {
        Some(warning) => format!("{ORIGIN}; {warning}"),
        None => ORIGIN.to_owned(),
    };
    Ok(Some(UpdateInfo {
        manager: MANAGER.to_owned(),
        name: NAME.to_owned(),
        architecture: None,
        current_version: current_version.map(str::to_owned),
        new_version: target,
        origin: Some(origin.chars().take(256).collect()),
        security: true,
        status: UpdateStatus::Available,
    }))
}

/// Runs `freebsd-version` with these arguments and returns its stdout, or `None`.
fn freebsd_version(arguments: &[&str]) -> Option<String> {
    let mut command = Command::new("freebsd-version");
    command.args(arguments);
    match command::run(command, QUERY_TIMEOUT) {
        Ok(output) if output.status.success() => Some(output.stdout),
        Ok(output) => {
            tracing::warn!(manager = MANAGER, status = %output.status, "freebsd-version failed");
            None
        }
        Err(error) => {
            tracing::warn!(manager = MANAGER, %error, "freebsd-version failed");
            None
        }
    }
}

/// Returns the installed userland version (`freebsd-version -u`).
fn userland_version() -> Option<String> {
    freebsd_version(&["-u"]).and_then(|output| detect::parse_userland_version(&output))
}

/// Returns whether the installed kernel differs from the running one.
fn kernel_reboot_pending() -> bool {
    freebsd_version(&["-k", "-r"])
        .and_then(|output| detect::parse_kernel_versions(&output))
        .is_some_and(|(installed, running)| detect::kernel_reboot_required(&installed, &running))
}

/// Builds the result of an install of the base system.
pub fn package_result(
    approved: Option<&str>,
    fetched_target: &str,
    status: &InstallStatus,
    installed_version: Option<String>,
    reboot_required: bool,
) -> PackageResult {
    let mut notes = Vec::new();
    if let Some(approved) = approved
        && approved != fetched_target
    {
        notes.push(format!(
            "approved {approved}, but freebsd-update now offers {fetched_target}; freebsd-update \
             installs the latest patch level and cannot pin another one"
        ));
    }
    let outcome = match status {
        InstallStatus::Installed => PackageOutcome::Installed,
        InstallStatus::NothingToInstall => {
            notes.push("freebsd-update found nothing to install".to_owned());
            PackageOutcome::Failed
        }
        InstallStatus::Busy => {
            notes.push("another freebsd-update instance held the lock".to_owned());
            PackageOutcome::NotAttempted
        }
        InstallStatus::Failed(message) => {
            notes.push(message.clone());
            PackageOutcome::Failed
        }
    };
    if outcome == PackageOutcome::Installed && reboot_required {
        notes.push(
            "installed; the kernel was updated, so the host must reboot to run it".to_owned(),
        );
    }
    PackageResult {
        manager: MANAGER.to_owned(),
        name: NAME.to_owned(),
        requested_version: Some(approved.unwrap_or(fetched_target).to_owned()),
        installed_version,
        outcome,
        message: (!notes.is_empty()).then(|| notes.join("; ")),
    }
}

/// Result of an approved base system update when freebsd-update has nothing to install:
/// installed when the userland already runs the approved patch level (installed by hand or by
/// an earlier job), else not attempted.
pub fn nothing_pending_result(approved: &str, userland: Option<String>) -> PackageResult {
    let installed = userland.as_deref() == Some(approved);
    PackageResult {
        manager: MANAGER.to_owned(),
        name: NAME.to_owned(),
        requested_version: Some(approved.to_owned()),
        installed_version: userland,
        outcome: if installed {
            PackageOutcome::Installed
        } else {
            PackageOutcome::NotAttempted
        },
        message: Some(if installed {
            "already installed; freebsd-update has nothing more to install".to_owned()
        } else {
            "freebsd-update has nothing to install for this patch level".to_owned()
        }),
    }
}

/// Checks that a selection names only the base system; returns the approved version.
pub fn approved_version(selection: &InstallSelection) -> Result<Option<String>, JobFailure> {
    match selection {
        InstallSelection::All | InstallSelection::SecurityOnly => Ok(None),
        InstallSelection::Packages(specs) => {
            if let Some(spec) = specs
                .iter()
                .find(|spec| spec.manager != MANAGER || spec.name != NAME)
            {
                return Err(JobFailure {
                    kind: JobFailureKind::InvalidRequest,
                    message: format!(
                        "freebsd-update installs only {NAME}, not {} of {}",
                        spec.name, spec.manager
                    ),
                });
            }
            let mut versions: Vec<&str> = specs.iter().map(|spec| spec.version.as_str()).collect();
            versions.dedup();
            match versions.as_slice() {
                [] => Ok(None),
                [version] => Ok(Some((*version).to_owned())),
                _ => Err(JobFailure {
                    kind: JobFailureKind::InvalidRequest,
                    message: format!("{NAME} is listed with several versions"),
                }),
            }
        }
    }
}

impl PackageManager for FreebsdUpdate {
    fn name(&self) -> &'static str {
        MANAGER
    }

    fn detect_updates(&self) -> Result<Vec<UpdateInfo>, ScanError> {
        Ok(self.pending()?.into_iter().collect())
    }

    fn install(&self, selection: &InstallSelection) -> InstallOutcome {
        let approved = match approved_version(selection) {
            Ok(approved) => approved,
            Err(failure) => return failed(failure),
        };
        // Fetch again, so that the install applies what the mirrors offer now and the result
        // can say when that moved on since the approval.
        let update = match self.pending() {
            Ok(Some(update)) => update,
            Ok(None) => {
                return InstallOutcome {
                    packages: approved
                        .as_deref()
                        .map(|approved| nothing_pending_result(approved, userland_version()))
                        .into_iter()
                        .collect(),
                    output_tail: "no base system updates to install".to_owned(),
                    failure: None,
                };
            }
            Err(error) => {
                return failed(JobFailure {
                    kind: JobFailureKind::CommandFailed,
                    message: format!("fetching updates before the install failed: {error}"),
                });
            }
        };

        let description = describe(&freebsd_update_command("install"));
        tracing::info!(manager = MANAGER, command = %description, "install started");
        let (status, output_tail, failure) = match self.run_retrying("install", INSTALL_TIMEOUT) {
            Ok(output) => {
                let text = format!("{}\n{}", output.stdout, output.stderr);
                let status = detect::decode_install(output.status.code(), &text);
                let failure = match &status {
                    InstallStatus::Installed => None,
                    InstallStatus::NothingToInstall | InstallStatus::Failed(_) => {
                        Some(JobFailure {
                            kind: JobFailureKind::CommandFailed,
                            message: format!("`{description}` failed ({})", output.status),
                        })
                    }
                    InstallStatus::Busy => Some(JobFailure {
                        kind: JobFailureKind::LockTimeout,
                        message: "another freebsd-update instance held the lock".to_owned(),
                    }),
                };
                (status, output.output_tail, failure)
            }
            Err(RunError::Busy(error)) => (
                InstallStatus::Busy,
                String::new(),
                Some(JobFailure {
                    kind: JobFailureKind::LockTimeout,
                    message: error.to_string(),
                }),
            ),
            Err(RunError::Command(CommandError::Timeout {
                output_tail,
                timeout,
                ..
            })) => (
                InstallStatus::Failed("timed out".to_owned()),
                output_tail,
                Some(JobFailure {
                    kind: JobFailureKind::Timeout,
                    message: format!(
                        "`{description}` did not finish within {} s and was killed",
                        timeout.as_secs()
                    ),
                }),
            ),
            Err(RunError::Command(error)) => (
                InstallStatus::Failed(error.to_string()),
                String::new(),
                Some(JobFailure {
                    kind: JobFailureKind::CommandFailed,
                    message: error.to_string(),
                }),
            ),
        };
        let installed_version = match status {
            InstallStatus::Installed => userland_version(),
            _ => None,
        };
        let result = package_result(
            approved.as_deref(),
            &update.new_version,
            &status,
            installed_version,
            kernel_reboot_pending(),
        );
        InstallOutcome {
            packages: vec![result],
            output_tail,
            failure,
        }
    }

    /// The host must reboot when the installed kernel differs from the running one.
    fn reboot_required(&self) -> bool {
        kernel_reboot_pending()
    }
}

fn failed(failure: JobFailure) -> InstallOutcome {
    InstallOutcome {
        packages: Vec::new(),
        output_tail: String::new(),
        failure: Some(failure),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sysmanage_protocol::PackageSpec;

    fn report(name: &str) -> FetchReport {
        let path = format!(
            "{}/testdata/freebsd_update/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        detect::parse_fetch(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn argv() {
        let command = freebsd_update_command("fetch");
        assert_eq!(
            describe(&command),
            "freebsd-update fetch --not-running-from-cron"
        );
        let pager = command
            .get_envs()
            .find(|(key, _)| *key == "PAGER")
            .and_then(|(_, value)| value);
        assert_eq!(pager, Some(std::ffi::OsStr::new("cat")));
        assert_eq!(
            freebsd_update_arguments("install"),
            ["install", "--not-running-from-cron"]
        );
    }

    #[test]
    fn one_security_update_for_the_base_system() {
        let update = update_from(&report("fetch-updates.txt"), true, Some("14.1-RELEASE-p4"))
            .unwrap()
            .unwrap();
        assert_eq!(update.manager, "freebsd_update");
        assert_eq!(update.name, "freebsd-base");
        assert_eq!(update.current_version.as_deref(), Some("14.1-RELEASE-p4"));
        assert_eq!(update.new_version, "14.1-RELEASE-p5");
        assert!(update.security);
        assert_eq!(update.status, UpdateStatus::Available);
        assert!(
            sysmanage_protocol::validate_version_for(&update.manager, &update.new_version).is_ok()
        );
        assert!(
            sysmanage_protocol::validate_package_name_for(&update.manager, &update.name).is_ok()
        );
        assert!(sysmanage_protocol::validate_manager(&update.manager).is_ok());
    }

    #[test]
    fn nothing_when_up_to_date() {
        assert_eq!(
            update_from(&report("fetch-none.txt"), false, None).unwrap(),
            None
        );
    }

    #[test]
    fn fetch_and_updatesready_must_agree() {
        assert!(update_from(&report("fetch-none.txt"), true, None).is_err());
        assert!(update_from(&report("fetch-updates.txt"), false, None).is_err());
    }

    #[test]
    fn end_of_life_warning_is_in_the_origin() {
        let update = update_from(&report("fetch-eol.txt"), true, Some("13.1-RELEASE-p8"))
            .unwrap()
            .unwrap();
        let origin = update.origin.unwrap();
        assert!(origin.contains("END-OF-LIFE"), "{origin}");
        assert!(origin.len() <= 256);
    }

    #[test]
    fn selection_names_only_the_base_system() {
        let spec = |name: &str, version: &str| PackageSpec {
            manager: MANAGER.into(),
            name: name.into(),
            version: version.into(),
        };
        assert_eq!(approved_version(&InstallSelection::All), Ok(None));
        assert_eq!(
            approved_version(&InstallSelection::Packages(vec![spec(
                "freebsd-base",
                "14.1-RELEASE-p5"
            )])),
            Ok(Some("14.1-RELEASE-p5".to_owned()))
        );
        let error = approved_version(&InstallSelection::Packages(vec![spec("openssl", "3.0")]))
            .unwrap_err();
        assert_eq!(error.kind, JobFailureKind::InvalidRequest);
        assert!(
            approved_version(&InstallSelection::Packages(vec![
                spec("freebsd-base", "14.1-RELEASE-p5"),
                spec("freebsd-base", "14.1-RELEASE-p6"),
            ]))
            .is_err()
        );
    }

    #[test]
    fn install_results() {
        let done = package_result(
            Some("14.1-RELEASE-p5"),
            "14.1-RELEASE-p5",
            &InstallStatus::Installed,
            Some("14.1-RELEASE-p5".into()),
            true,
        );
        assert_eq!(done.outcome, PackageOutcome::Installed);
        assert!(done.message.unwrap().contains("reboot"));

        let moved_on = package_result(
            Some("14.1-RELEASE-p5"),
            "14.1-RELEASE-p6",
            &InstallStatus::Installed,
            Some("14.1-RELEASE-p6".into()),
            false,
        );
        assert_eq!(moved_on.outcome, PackageOutcome::Installed);
        assert!(moved_on.message.unwrap().contains("cannot pin"));

        let quiet = package_result(
            None,
            "14.1-RELEASE-p5",
            &InstallStatus::Installed,
            Some("14.1-RELEASE-p5".into()),
            false,
        );
        assert_eq!(quiet.message, None);
        assert_eq!(quiet.requested_version.as_deref(), Some("14.1-RELEASE-p5"));

        let failed = package_result(
            None,
            "14.1-RELEASE-p5",
            &InstallStatus::Failed("freebsd-update install exited with 1".into()),
            None,
            false,
        );
        assert_eq!(failed.outcome, PackageOutcome::Failed);
    }

    #[test]
    fn nothing_pending() {
        let done = nothing_pending_result("14.1-RELEASE-p5", Some("14.1-RELEASE-p5".into()));
        assert_eq!(done.outcome, PackageOutcome::Installed);
        let other = nothing_pending_result("14.1-RELEASE-p5", Some("14.1-RELEASE-p4".into()));
        assert_eq!(other.outcome, PackageOutcome::NotAttempted);
        assert_eq!(
            nothing_pending_result("14.1-RELEASE-p5", None).outcome,
            PackageOutcome::NotAttempted
        );
    }
}
