//! The `pkg_add` backend for OpenBSD packages: detection with `pkg_add -u -n` and installs.
//!
//! Written against `pkg_add` of OpenBSD 7.4, run with `LC_ALL=C`. OpenBSD does not mark package
//! updates as security fixes, so every update is reported with `security: false` and a
//! security-only install is unsupported. `pkg_add -u NAME` installs the newest version that
//! the mirror offers: it cannot pin the approved version, and results say so.

pub mod detect;

use std::process::Command;
use std::time::Duration;

use sysmanage_protocol::{
    JobFailure, JobFailureKind, PackageOutcome, PackageResult, UpdateInfo, UpdateStatus,
    validate_package_name_for,
};

use super::busy::{self, Attempt, BusyPolicy, BusyTimeout};
use super::command::{self, CommandError, CommandOutput, describe};
use super::{InstallOutcome, InstallSelection, PackageManager, ScanError, is_on_path};

/// Name of this manager in the protocol.
pub const MANAGER: &str = "pkg_add";

const DETECTION_TIMEOUT: Duration = Duration::from_mins(15);
const INSTALL_TIMEOUT: Duration = Duration::from_hours(1);

/// Returns whether `pkg_add` can be used: `pkg_add` is on `PATH`.
pub fn is_available() -> bool {
    is_on_path("pkg_add")
}

/// OpenBSD `pkg_add`.
///
/// `pkg_add` waits for its own lock on `/var/db/pkg`; a run that fails while saying that the
/// database is locked is busy and retried with backoff (see [`crate::packages::busy`]).
#[derive(Debug, Clone, Default)]
pub struct PkgAdd {
    busy: BusyPolicy,
}

fn command(arguments: &[String]) -> Command {
    let mut command = Command::new("pkg_add");
    command
        .args(arguments)
        .env("LC_ALL", "C")
        .env_remove("LANGUAGE");
    command
}

/// Builds the `pkg_add` arguments that update these packages, or all of them.
pub fn update_arguments(names: Option<&[String]>) -> Vec<String> {
    let mut arguments = vec!["-u".to_owned()];
    arguments.extend(names.unwrap_or_default().iter().cloned());
    arguments
}

impl PkgAdd {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `pkg_add`, and retries with backoff while a failed run says the database is locked.
    fn run_retrying(
        &self,
        arguments: &[String],
        timeout: Duration,
    ) -> Result<Result<CommandOutput, CommandError>, BusyTimeout> {
        busy::retry_while_busy(self.busy, std::thread::sleep, || {
            match command::run(command(arguments), timeout) {
                Ok(output) if !output.status.success() => {
                    match detect::lock_holder(&output.stderr)
                        .or_else(|| detect::lock_holder(&output.stdout))
                    {
                        Some(holder) => Attempt::Busy { holder },
                        None => Attempt::Done(Ok(output)),
                    }
                }
                other => Attempt::Done(other),
            }
        })
    }
}

impl PackageManager for PkgAdd {
    fn name(&self) -> &'static str {
        MANAGER
    }

    fn detect_updates(&self) -> Result<Vec<UpdateInfo>, ScanError> {
        let arguments = ["-u".to_owned(), "-n".to_owned()];
        let description = describe(&command(&arguments));
        let output = self
            .run_retrying(&arguments, DETECTION_TIMEOUT)
            .map_err(|error| ScanError::CommandFailed {
                command: description.clone(),
                status: "busy".to_owned(),
                output_tail: error.to_string(),
            })??;
        if !output.status.success() {
            return Err(ScanError::CommandFailed {
                command: description,
                status: output.status.to_string(),
                output_tail: output.output_tail,
            });
        }
        let planned = detect::parse_dry_run(&format!("{}\n{}", output.stdout, output.stderr))
            .map_err(|error| ScanError::Parse {
                command: description,
                reason: error.to_string(),
            })?;
        Ok(planned
            .into_iter()
            .map(|update| UpdateInfo {
                manager: MANAGER.to_owned(),
                name: update.name,
                architecture: None,
                current_version: Some(update.current_version),
                new_version: update.new_version,
                origin: None,
                security: false,
                status: UpdateStatus::Available,
            })
            .collect())
    }

    fn install(&self, selection: &InstallSelection) -> InstallOutcome {
        let specs = match selection {
            InstallSelection::Packages(specs) => specs.clone(),
            InstallSelection::All => Vec::new(),
            InstallSelection::SecurityOnly => {
                return InstallOutcome::failed(
                    JobFailureKind::Unsupported,
                    "OpenBSD does not mark package updates as security fixes, so a \
                     security-only install is not possible"
                        .to_owned(),
                );
            }
        };
        if let Some(error) = specs
            .iter()
            .find_map(|spec| validate_package_name_for(&spec.manager, &spec.name).err())
        {
            return InstallOutcome::failed(JobFailureKind::InvalidRequest, error.to_string());
        }
        let names: Vec<String> = specs.iter().map(|spec| spec.name.clone()).collect();
        let arguments = match selection {
            InstallSelection::All => update_arguments(None),
            _ => update_arguments(Some(&names)),
        };
        let description = describe(&command(&arguments));
        tracing::info!(manager = MANAGER, command = %description, "install started");
        let mut failure_kind = JobFailureKind::CommandFailed;
        let (status, output_tail) = match self.run_retrying(&arguments, INSTALL_TIMEOUT) {
            Ok(Ok(output)) => (
                detect::decode_exit_code(output.status.code()),
                output.output_tail,
            ),
            Ok(Err(error)) => (Err(error.to_string()), String::new()),
            Err(timeout) => {
                failure_kind = JobFailureKind::LockTimeout;
                (Err(timeout.to_string()), String::new())
            }
        };
        let succeeded = status.is_ok();
        let packages = specs
            .iter()
            .map(|spec| PackageResult {
                manager: MANAGER.to_owned(),
                name: spec.name.clone(),
                requested_version: Some(spec.version.clone()),
                installed_version: None,
                outcome: if succeeded {
                    PackageOutcome::Installed
                } else {
                    PackageOutcome::Failed
                },
                message: Some(
                    "pkg_add installs the newest version the mirror offers and cannot pin the \
                     approved one"
                        .to_owned(),
                ),
            })
            .collect();
        InstallOutcome {
            packages,
            output_tail,
            failure: status.err().map(|message| JobFailure {
                kind: failure_kind,
                message: format!("`{description}` failed: {message}"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_argv() {
        let names = ["curl".to_owned()];
        assert_eq!(update_arguments(Some(&names)), ["-u", "curl"]);
        assert_eq!(update_arguments(None), ["-u"]);
    }
}
