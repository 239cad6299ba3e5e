//! The softwareupdate backend for macOS system updates: detection and installs.
//!
//! Written against `softwareupdate` of macOS 13 Ventura and 14 Sonoma. It runs as root (the
//! agent's user on macOS) with `LC_ALL=C`. Each update is reported under its label, which may
//! contain spaces and brackets (the protocol's softwareupdate names allow them), and an install
//! lists again to check that the label still carries the approved version.

pub mod detect;
pub mod install;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sysmanage_protocol::{
    JobFailure, JobFailureKind, PackageOutcome, PackageResult, UpdateInfo, UpdateStatus,
};

use self::detect::SoftwareUpdateItem;
use super::busy::{self, Attempt, BusyPolicy, BusyTimeout};
use super::command::{self, CommandError, CommandOutput, describe};
use super::{InstallOutcome, InstallSelection, PackageManager, ScanError, is_on_path};

/// Name of this manager in the protocol.
pub const MANAGER: &str = "softwareupdate";

const LIST_TIMEOUT: Duration = Duration::from_mins(10);
/// Time limit of an install; a macOS point release downloads several gigabytes.
const INSTALL_TIMEOUT: Duration = Duration::from_hours(3);

/// Returns whether softwareupdate can be used: `softwareupdate` is on `PATH`.
pub fn is_available() -> bool {
    is_on_path("softwareupdate")
}

/// macOS Software Update.
///
/// A run that reports another Software Update session or a busy `softwareupdated` is retried
/// with backoff (see [`crate::packages::busy`]).
#[derive(Debug, Default)]
pub struct SoftwareUpdate {
    reboot_required: AtomicBool,
    busy: BusyPolicy,
}

fn command(arguments: &[String]) -> Command {
    let mut command = Command::new("softwareupdate");
    command
        .args(arguments)
        .env("LC_ALL", "C")
        .env_remove("LANGUAGE");
    command
}

impl SoftwareUpdate {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs softwareupdate, and retries with backoff while Software Update is busy.
    fn run_retrying(
        &self,
        arguments: &[String],
        timeout: Duration,
    ) -> Result<Result<CommandOutput, CommandError>, BusyTimeout> {
        busy::retry_while_busy(self.busy, std::thread::sleep, || {
            match command::run(command(arguments), timeout) {
                Ok(output) if !output.status.success() || output.stdout.trim().is_empty() => {
                    match detect::busy_holder(&output.stderr)
                        .or_else(|| detect::busy_holder(&output.stdout))
                    {
                        Some(holder) => Attempt::Busy { holder },
                        None => Attempt::Done(Ok(output)),
                    }
                }
                other => Attempt::Done(other),
            }
        })
    }

    fn list(&self) -> Result<Vec<SoftwareUpdateItem>, ScanError> {
        let arguments = ["--list".to_owned()];
        let description = describe(&command(&arguments));
        let output = self
            .run_retrying(&arguments, LIST_TIMEOUT)
            .map_err(|error| ScanError::CommandFailed {
                command: description.clone(),
                status: "busy".to_owned(),
                output_tail: error.to_string(),
            })??;
        if detect::is_nothing_available(&output.stderr) {
            return Ok(Vec::new());
        }
        if !output.status.success() {
            return Err(ScanError::CommandFailed {
                command: description,
                status: output.status.to_string(),
                output_tail: output.output_tail,
            });
        }
        detect::parse_list(&output.stdout).map_err(|error| ScanError::Parse {
            command: description,
            reason: error.to_string(),
        })
    }
}

/// Turns an item into an update, named by its label.
pub fn update_from(item: &SoftwareUpdateItem) -> UpdateInfo {
    UpdateInfo {
        manager: MANAGER.to_owned(),
        name: item.label.clone(),
        architecture: None,
        current_version: None,
        new_version: item.version.clone(),
        origin: Some(item.title.clone()),
        security: item.is_security(),
        status: UpdateStatus::Available,
    }
}

impl PackageManager for SoftwareUpdate {
    fn name(&self) -> &'static str {
        MANAGER
    }

    fn detect_updates(&self) -> Result<Vec<UpdateInfo>, ScanError> {
        Ok(self.list()?.iter().map(update_from).collect())
    }

    fn install(&self, selection: &InstallSelection) -> InstallOutcome {
        let items = match self.list() {
            Ok(items) => items,
            Err(error) => {
                return InstallOutcome::failed(
                    JobFailureKind::CommandFailed,
                    format!("listing updates before the install failed: {error}"),
                );
            }
        };
        let map = install::items_by_label(&items);
        let mut packages = Vec::new();
        let mut chosen: Vec<&SoftwareUpdateItem> = Vec::new();
        match selection {
            InstallSelection::Packages(specs) => {
                for spec in specs {
                    match install::label_for(spec, &map) {
                        Ok(item) => chosen.push(item),
                        Err(message) => packages.push(PackageResult {
                            manager: MANAGER.to_owned(),
                            name: spec.name.clone(),
                            requested_version: Some(spec.version.clone()),
                            installed_version: None,
                            outcome: PackageOutcome::NotAttempted,
                            message: Some(message),
                        }),
                    }
                }
            }
            InstallSelection::All => chosen.extend(items.iter()),
            InstallSelection::SecurityOnly => {
                chosen.extend(items.iter().filter(|item| item.is_security()));
            }
        }
        if chosen.is_empty() {
            return InstallOutcome {
                packages,
                output_tail: "no updates to install".to_owned(),
                failure: None,
            };
        }

        let arguments = if *selection == InstallSelection::All {
            install::install_all_arguments()
        } else {
            let labels: Vec<&str> = chosen.iter().map(|item| item.label.as_str()).collect();
            install::install_arguments(&labels)
        };
        let description = describe(&command(&arguments));
        tracing::info!(manager = MANAGER, command = %description, "install started");
        let mut failure_kind = JobFailureKind::CommandFailed;
        let (status, output_tail) = match self.run_retrying(&arguments, INSTALL_TIMEOUT) {
            Ok(Ok(output)) => (
                install::decode_exit_code(output.status.code()),
                output.output_tail,
            ),
            Ok(Err(error)) => (Err(error.to_string()), String::new()),
            Err(timeout) => {
                failure_kind = JobFailureKind::LockTimeout;
                (Err(timeout.to_string()), String::new())
            }
        };
        let succeeded = status.is_ok();
        if succeeded && chosen.iter().any(|item| item.restart_required) {
            self.reboot_required.store(true, Ordering::Relaxed);
        }
        for item in &chosen {
            packages.push(PackageResult {
                manager: MANAGER.to_owned(),
                name: item.label.clone(),
                requested_version: Some(item.version.clone()),
                installed_version: succeeded.then(|| item.version.clone()),
                outcome: if succeeded {
                    PackageOutcome::Installed
                } else {
                    PackageOutcome::Failed
                },
                message: (succeeded && item.restart_required)
                    .then(|| "installed; the Mac must restart to finish".to_owned()),
            });
        }
        InstallOutcome {
            packages,
            output_tail,
            failure: status.err().map(|message| JobFailure {
                kind: failure_kind,
                message: format!("`{description}` failed: {message}"),
            }),
        }
    }

    fn reboot_required(&self) -> bool {
        self.reboot_required.load(Ordering::Relaxed)
    }
}
