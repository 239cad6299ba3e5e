//! The syspatch backend for OpenBSD base system patches: detection and installs.
//!
//! Written against syspatch of OpenBSD 7.4. Every OpenBSD errata patch fixes a security or a
//! reliability problem, and syspatch does not say which, so every patch is reported as a
//! security update. syspatch installs all available patches in sequence and cannot install a
//! chosen one, so a selection installs all of them and says so.

pub mod detect;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sysmanage_protocol::{
    JobFailure, JobFailureKind, PackageOutcome, PackageResult, UpdateInfo, UpdateStatus,
};

use self::detect::ExitMeaning;
use super::command::{self, describe};
use super::{InstallOutcome, InstallSelection, PackageManager, ScanError, is_on_path};

/// Name of this manager in the protocol.
pub const MANAGER: &str = "syspatch";

const CHECK_TIMEOUT: Duration = Duration::from_mins(10);
const INSTALL_TIMEOUT: Duration = Duration::from_hours(1);

/// Returns whether syspatch can be used: `syspatch` is on `PATH`.
pub fn is_available() -> bool {
    is_on_path("syspatch")
}

/// OpenBSD syspatch.
// NOTE: syspatch takes no lock that it reports, so nothing is retried as busy.
#[derive(Debug, Default)]
pub struct Syspatch {
    reboot_required: AtomicBool,
}

fn command(arguments: &[&str]) -> Command {
    let mut command = Command::new("syspatch");
    command
        .args(arguments)
        .env("LC_ALL", "C")
        .env_remove("LANGUAGE");
    command
}

impl Syspatch {
    pub fn new() -> Self {
        Self::default()
    }

    fn check() -> Result<Vec<String>, ScanError> {
        let command = command(&["-c"]);
        let description = describe(&command);
        let output = command::run(command, CHECK_TIMEOUT)?;
        if !output.status.success() {
            return Err(ScanError::CommandFailed {
                command: description,
                status: output.status.to_string(),
                output_tail: output.output_tail,
            });
        }
        detect::parse_check(&output.stdout).map_err(|error| ScanError::Parse {
            command: description,
            reason: error.to_string(),
        })
    }
}

/// Turns a patch name into an update: the patch is the name and the version.
pub fn update_from(patch: &str) -> UpdateInfo {
    UpdateInfo {
        manager: MANAGER.to_owned(),
        name: patch.to_owned(),
        architecture: None,
        current_version: None,
        new_version: patch.to_owned(),
        origin: Some("OpenBSD errata".to_owned()),
        security: true,
        status: UpdateStatus::Available,
    }
}

impl PackageManager for Syspatch {
    fn name(&self) -> &'static str {
        MANAGER
    }

    fn detect_updates(&self) -> Result<Vec<UpdateInfo>, ScanError> {
        Ok(Self::check()?
            .iter()
            .map(|patch| update_from(patch))
            .collect())
    }

    fn install(&self, selection: &InstallSelection) -> InstallOutcome {
        let patches = match Self::check() {
            Ok(patches) => patches,
            Err(error) => {
                return failed(format!(
                    "listing patches before the install failed: {error}"
                ));
            }
        };
        let note = match selection {
            InstallSelection::Packages(_) => {
                Some("syspatch cannot install chosen patches: all available patches were applied")
            }
            InstallSelection::All | InstallSelection::SecurityOnly => None,
        };
        let command = command(&[]);
        let description = describe(&command);
        tracing::info!(manager = MANAGER, command = %description, "install started");
        let (meaning, output_tail) = match command::run(command, INSTALL_TIMEOUT) {
            Ok(output) => (
                detect::decode_exit_code(output.status.code()),
                output.output_tail,
            ),
            Err(error) => (ExitMeaning::Failed(error.to_string()), String::new()),
        };
        if meaning == ExitMeaning::Installed && detect::needs_reboot(&patches, &output_tail) {
            self.reboot_required.store(true, Ordering::Relaxed);
        }
        let installed =
            meaning != ExitMeaning::NothingToDo && !matches!(meaning, ExitMeaning::Failed(_));
        let packages = patches
            .iter()
            .map(|patch| PackageResult {
                manager: MANAGER.to_owned(),
                name: patch.clone(),
                requested_version: Some(patch.clone()),
                installed_version: installed.then(|| patch.clone()),
                outcome: if installed {
                    PackageOutcome::Installed
                } else {
                    PackageOutcome::Failed
                },
                message: note.map(str::to_owned),
            })
            .collect();
        InstallOutcome {
            packages,
            output_tail,
            failure: match meaning {
                ExitMeaning::Failed(message) => Some(JobFailure {
                    kind: JobFailureKind::CommandFailed,
                    message: format!("`{description}` failed: {message}"),
                }),
                ExitMeaning::Installed | ExitMeaning::NothingToDo => None,
            },
        }
    }

    fn reboot_required(&self) -> bool {
        self.reboot_required.load(Ordering::Relaxed)
    }
}

fn failed(message: String) -> InstallOutcome {
    InstallOutcome {
        failure: Some(JobFailure {
            kind: JobFailureKind::CommandFailed,
            message,
        }),
        ..InstallOutcome::default()
    }
}
