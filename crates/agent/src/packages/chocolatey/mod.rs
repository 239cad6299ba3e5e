//! The Chocolatey backend for Windows: update detection and installs.
//!
//! Written against Chocolatey CLI 2.2 on Windows 11. `--limit-output` gives machine-readable
//! lines whatever the display language. Chocolatey has no security metadata: every update is
//! reported with `security: false`, and a security-only install is unsupported. Pinned
//! packages are reported as held.

pub mod detect;
pub mod install;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sysmanage_protocol::{
    JobFailure, JobFailureKind, PackageOutcome, PackageResult, PackageSpec, UpdateInfo,
    UpdateStatus,
};

use self::detect::Outdated;
use self::install::ExitMeaning;
use super::busy::{self, Attempt, BusyPolicy};
use super::command::{self, describe};
use super::{InstallOutcome, InstallSelection, PackageManager, ScanError, is_on_path};

/// Name of this manager in the protocol.
pub const MANAGER: &str = "chocolatey";

const DETECTION_TIMEOUT: Duration = Duration::from_mins(10);
const INSTALL_TIMEOUT: Duration = Duration::from_hours(1);

/// Returns whether Chocolatey can be used: `choco` is on `PATH`.
pub fn is_available() -> bool {
    is_on_path("choco")
}

/// The Chocolatey package manager.
///
/// An install that finds the `NuGet` package lock held, or another MSI installation running
/// (exit code 1618), is retried with backoff (see [`crate::packages::busy`]).
#[derive(Debug, Default)]
pub struct Chocolatey {
    reboot_required: AtomicBool,
    busy: BusyPolicy,
}

impl Chocolatey {
    pub fn new() -> Self {
        Self::default()
    }

    fn run(arguments: &[String], timeout: Duration) -> Result<command::CommandOutput, String> {
        let mut command = Command::new("choco");
        command.args(arguments);
        let description = describe(&command);
        command::run(command, timeout).map_err(|error| format!("`{description}`: {error}"))
    }
}

/// Turns an outdated package into an update; pinned packages are held.
pub fn update_from(package: &Outdated) -> UpdateInfo {
    UpdateInfo {
        manager: MANAGER.to_owned(),
        name: package.name.clone(),
        architecture: None,
        current_version: Some(package.current_version.clone()),
        new_version: package.available_version.clone(),
        origin: None,
        security: false,
        status: if package.pinned {
            UpdateStatus::Held
        } else {
            UpdateStatus::Available
        },
    }
}

impl PackageManager for Chocolatey {
    fn name(&self) -> &'static str {
        MANAGER
    }

    fn detect_updates(&self) -> Result<Vec<UpdateInfo>, ScanError> {
        let arguments: Vec<String> = vec!["outdated".into(), "--limit-output".into()];
        let mut command = Command::new("choco");
        command.args(&arguments);
        let description = describe(&command);
        let output = command::run(command, DETECTION_TIMEOUT)?;
        if !output.status.success() {
            return Err(ScanError::CommandFailed {
                command: description,
                status: output.status.to_string(),
                output_tail: output.output_tail,
            });
        }
        let packages =
            detect::parse_outdated(&output.stdout).map_err(|error| ScanError::Parse {
                command: description,
                reason: error.to_string(),
            })?;
        Ok(packages.iter().map(update_from).collect())
    }

    fn install(&self, selection: &InstallSelection) -> InstallOutcome {
        let specs: Vec<PackageSpec> = match selection {
            InstallSelection::Packages(specs) => specs.clone(),
            InstallSelection::SecurityOnly => {
                return failed(
                    JobFailureKind::Unsupported,
                    "Chocolatey has no security metadata, so a security-only install is not possible",
                );
            }
            InstallSelection::All => match self.detect_updates() {
                Ok(updates) => updates
                    .into_iter()
                    .filter(|update| update.status == UpdateStatus::Available)
                    .map(|update| PackageSpec {
                        manager: MANAGER.to_owned(),
                        name: update.name,
                        version: update.new_version,
                    })
                    .collect(),
                Err(error) => {
                    return failed(
                        JobFailureKind::CommandFailed,
                        &format!("update detection before the install failed: {error}"),
                    );
                }
            },
        };
        // Each package gets its own run, pinned to its version, so that each has an exit code.
        let mut outcome = InstallOutcome::default();
        for spec in &specs {
            let (result, tail, failure) = self.install_one(spec);
            outcome.packages.push(result);
            if outcome.failure.is_none() {
                outcome.failure = failure;
            }
            outcome.output_tail.push_str(&tail);
            outcome.output_tail.push('\n');
        }
        outcome.output_tail = command::tail(outcome.output_tail.lines());
        outcome
    }

    fn reboot_required(&self) -> bool {
        self.reboot_required.load(Ordering::Relaxed)
    }
}

impl Chocolatey {
    /// Installs one package; the failure is that of the job, when the lock stayed held.
    fn install_one(&self, spec: &PackageSpec) -> (PackageResult, String, Option<JobFailure>) {
        let mut result = PackageResult {
            manager: MANAGER.to_owned(),
            name: spec.name.clone(),
            requested_version: Some(spec.version.clone()),
            installed_version: None,
            outcome: PackageOutcome::Failed,
            message: None,
        };
        let arguments = match install::upgrade_arguments(spec) {
            Ok(arguments) => arguments,
            Err(error) => {
                result.outcome = PackageOutcome::NotAttempted;
                result.message = Some(error.to_string());
                return (result, String::new(), None);
            }
        };
        let attempt = busy::retry_while_busy(self.busy, std::thread::sleep, || {
            match Self::run(&arguments, INSTALL_TIMEOUT) {
                Ok(output) => match busy_holder(&output) {
                    Some(holder) => Attempt::Busy { holder },
                    None => Attempt::Done(Ok(output)),
                },
                Err(message) => Attempt::Done(Err(message)),
            }
        });
        let output = match attempt {
            Ok(Ok(output)) => output,
            Ok(Err(message)) => {
                result.message = Some(message);
                return (result, String::new(), None);
            }
            Err(timeout) => {
                result.outcome = PackageOutcome::NotAttempted;
                result.message = Some(timeout.to_string());
                let failure = JobFailure {
                    kind: JobFailureKind::LockTimeout,
                    message: timeout.to_string(),
                };
                return (result, String::new(), Some(failure));
            }
        };
        match output.status.code().map(install::decode_exit_code) {
            Some(ExitMeaning::Success) => {
                result.outcome = PackageOutcome::Installed;
                result.installed_version = Some(spec.version.clone());
            }
            Some(ExitMeaning::SuccessRebootRequired) => {
                result.outcome = PackageOutcome::Installed;
                result.installed_version = Some(spec.version.clone());
                result.message = Some("installed; the host must reboot to finish".to_owned());
                self.reboot_required.store(true, Ordering::Relaxed);
            }
            Some(ExitMeaning::Busy) => {
                result.message =
                    Some("another installation is in progress (exit code 1618)".into());
            }
            Some(ExitMeaning::Failed(message)) => result.message = Some(message),
            None => result.message = Some(format!("choco ended with {}", output.status)),
        }
        (result, output.output_tail, None)
    }
}

/// Returns who holds the lock when a choco run ended busy: exit code 1618 or a lock message.
/// A run that succeeded is never busy, whatever it printed.
fn busy_holder(output: &command::CommandOutput) -> Option<String> {
    let code = output.status.code();
    if matches!(code, Some(0 | 3010 | 1641)) {
        return None;
    }
    install::lock_holder(&output.stdout)
        .or_else(|| install::lock_holder(&output.stderr))
        .or_else(|| {
            (code == Some(install::ERROR_INSTALL_ALREADY_RUNNING))
                .then(|| "another Windows Installer (MSI) installation".to_owned())
        })
}

fn failed(kind: JobFailureKind, message: &str) -> InstallOutcome {
    InstallOutcome {
        failure: Some(JobFailure {
            kind,
            message: message.to_owned(),
        }),
        ..InstallOutcome::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_is_held() {
        let path = format!(
            "{}/testdata/chocolatey/outdated.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        let packages = detect::parse_outdated(&std::fs::read_to_string(path).unwrap()).unwrap();
        let statuses: Vec<UpdateStatus> = packages.iter().map(|p| update_from(p).status).collect();
        assert_eq!(
            statuses,
            [
                UpdateStatus::Available,
                UpdateStatus::Available,
                UpdateStatus::Held
            ]
        );
    }
}
