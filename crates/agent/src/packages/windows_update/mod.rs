//! The Windows Update backend: detection and installs through the Windows Update Agent COM API.
//!
//! Written against WUA on Windows 10 22H2, Windows 11 23H2 and Server 2022, with Windows
//! PowerShell 5.1. The fixed script `wua.ps1` runs through `powershell.exe -EncodedCommand`
//! and reads its request (update ids) as JSON from an environment variable, so no data is ever
//! built into script text. Updates are named by `UpdateID` with the revision number as version,
//! and the title goes into `origin`.

pub mod detect;
pub mod install;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sysmanage_protocol::{
    JobFailure, JobFailureKind, PackageOutcome, PackageResult, PackageSpec, UpdateInfo,
    UpdateStatus,
};

use self::detect::{Response, WuaUpdate};
use super::busy::{self, Attempt, BusyPolicy};
use super::command::{self, CommandError};
use super::{InstallOutcome, InstallSelection, PackageManager, ScanError, is_on_path};

/// Name of this manager in the protocol.
pub const MANAGER: &str = "windows_update";

/// Time limit of a scan, which contacts Windows Update and can take many minutes.
const SCAN_TIMEOUT: Duration = Duration::from_mins(30);
/// Time limit of an install, which downloads and installs cumulative updates.
const INSTALL_TIMEOUT: Duration = Duration::from_hours(4);

/// Returns whether Windows Update can be driven: `powershell.exe` is on `PATH`.
pub fn is_available() -> bool {
    is_on_path("powershell.exe")
}

/// Windows Update through WUA.
#[derive(Debug, Default)]
pub struct WindowsUpdate {
    reboot_required: AtomicBool,
}

/// Error of a script run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Busy(#[from] busy::BusyTimeout),
    #[error(transparent)]
    Response(#[from] detect::ResponseError),
    #[error("Windows Update failed: {message} (HRESULT 0x{hresult:08X})")]
    Wua { message: String, hresult: u32 },
}

impl WindowsUpdate {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs the script with a request, retrying while WUA reports that it is busy.
    fn run_script(request: &str, timeout: Duration) -> Result<Response, RunError> {
        let attempt = busy::retry_while_busy(BusyPolicy::default(), std::thread::sleep, || {
            let mut command = Command::new("powershell.exe");
            command
                .args(install::powershell_arguments())
                .env(install::REQUEST_VARIABLE, request);
            let response = command::run(command, timeout)
                .map_err(RunError::from)
                .and_then(|output| Ok(detect::parse_response(&output.stdout)?));
            match response {
                Ok(Response::Error { hresult, .. }) if detect::is_busy_hresult(hresult) => {
                    Attempt::Busy {
                        holder: format!(
                            "Windows Update (another installation is in progress, HRESULT \
                             0x{:08X})",
                            hresult as u32
                        ),
                    }
                }
                other => Attempt::Done(other),
            }
        })?;
        match attempt? {
            Response::Error { message, hresult } => Err(RunError::Wua {
                message,
                hresult: hresult as u32,
            }),
            response => Ok(response),
        }
    }

    fn scan(&self) -> Result<Vec<WuaUpdate>, RunError> {
        match Self::run_script(&install::scan_request(), SCAN_TIMEOUT)? {
            Response::Scan {
                updates,
                reboot_pending,
            } => {
                self.reboot_required
                    .store(reboot_pending, Ordering::Relaxed);
                Ok(updates)
            }
            other => Err(unexpected(&other)),
        }
    }
}

fn unexpected(response: &Response) -> RunError {
    RunError::Response(detect::ResponseError {
        reason: "the document is of the wrong kind".to_owned(),
        output: format!("{response:?}"),
    })
}

/// Turns a WUA update into an update of the report.
pub fn update_from(update: &WuaUpdate) -> UpdateInfo {
    let kb = update
        .kb_article_ids
        .iter()
        .map(|id| format!("KB{id}"))
        .collect::<Vec<_>>()
        .join(", ");
    let origin = if kb.is_empty() {
        update.title.clone()
    } else {
        format!("{kb}: {}", update.title)
    };
    UpdateInfo {
        manager: MANAGER.to_owned(),
        name: update.update_id.clone(),
        architecture: None,
        current_version: None,
        new_version: update.revision_number.to_string(),
        origin: Some(origin),
        security: update.is_security(),
        status: UpdateStatus::Available,
    }
}

impl PackageManager for WindowsUpdate {
    fn name(&self) -> &'static str {
        MANAGER
    }

    fn detect_updates(&self) -> Result<Vec<UpdateInfo>, ScanError> {
        let updates = self.scan().map_err(|error| ScanError::Parse {
            command: "powershell.exe wua.ps1 scan".to_owned(),
            reason: error.to_string(),
        })?;
        Ok(updates.iter().map(update_from).collect())
    }

    fn install(&self, selection: &InstallSelection) -> InstallOutcome {
        let specs = match selection {
            InstallSelection::Packages(specs) => specs.clone(),
            InstallSelection::All | InstallSelection::SecurityOnly => match self.scan() {
                Ok(updates) => updates
                    .iter()
                    .filter(|update| update.is_security() || *selection == InstallSelection::All)
                    .map(|update| PackageSpec {
                        manager: MANAGER.to_owned(),
                        name: update.update_id.clone(),
                        version: update.revision_number.to_string(),
                    })
                    .collect(),
                Err(error) => return failed(JobFailureKind::CommandFailed, &error.to_string()),
            },
        };
        if let Some(error) = specs
            .iter()
            .find_map(|spec| install::validate_spec(spec).err())
        {
            return failed(JobFailureKind::InvalidRequest, &error.to_string());
        }
        if specs.is_empty() {
            return InstallOutcome {
                output_tail: "no updates to install".to_owned(),
                ..InstallOutcome::default()
            };
        }

        tracing::info!(manager = MANAGER, updates = specs.len(), "install started");
        let response = Self::run_script(&install::install_request(&specs), INSTALL_TIMEOUT);
        let (results, reboot) = match response {
            Ok(Response::Install {
                results,
                reboot_required,
                reboot_pending,
            }) => (results, reboot_required || reboot_pending),
            Ok(other) => {
                return failed(
                    JobFailureKind::CommandFailed,
                    &unexpected(&other).to_string(),
                );
            }
            Err(RunError::Busy(error)) => {
                return failed(JobFailureKind::LockTimeout, &error.to_string());
            }
            Err(RunError::Command(CommandError::Timeout { timeout, .. })) => {
                return failed(
                    JobFailureKind::Timeout,
                    &format!(
                        "Windows Update did not finish within {} s and was stopped",
                        timeout.as_secs()
                    ),
                );
            }
            Err(error) => return failed(JobFailureKind::CommandFailed, &error.to_string()),
        };
        if reboot {
            self.reboot_required.store(true, Ordering::Relaxed);
        }

        let packages = specs
            .iter()
            .map(|spec| {
                let result = results.iter().find(|result| {
                    result.update_id.eq_ignore_ascii_case(&spec.name)
                        && result.revision_number.to_string() == spec.version
                });
                let (outcome, message) = match result {
                    Some(result) => install::decode_result(result),
                    None => (
                        PackageOutcome::NotAttempted,
                        Some(
                            "Windows Update no longer offers this update at this revision"
                                .to_owned(),
                        ),
                    ),
                };
                PackageResult {
                    manager: MANAGER.to_owned(),
                    name: spec.name.clone(),
                    requested_version: Some(spec.version.clone()),
                    installed_version: (outcome == PackageOutcome::Installed)
                        .then(|| spec.version.clone()),
                    outcome,
                    message,
                }
            })
            .collect();
        InstallOutcome {
            packages,
            output_tail: if reboot {
                "Windows Update installed; the host must reboot to finish".to_owned()
            } else {
                String::new()
            },
            failure: None,
        }
    }

    fn reboot_required(&self) -> bool {
        self.reboot_required.load(Ordering::Relaxed)
    }
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
    fn update_carries_kb_and_revision() {
        let path = format!(
            "{}/testdata/windows_update/scan-updates.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let Response::Scan { updates, .. } =
            detect::parse_response(&std::fs::read_to_string(path).unwrap()).unwrap()
        else {
            panic!("not a scan");
        };
        let update = update_from(&updates[0]);
        assert_eq!(update.name, "2a6f6d1e-4b1c-4e9a-9a53-1f4b1b0c7e11");
        assert_eq!(update.new_version, "201");
        assert!(update.origin.unwrap().starts_with("KB5032190: "));
        assert!(update.security);
    }
}
