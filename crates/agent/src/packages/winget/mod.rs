//! The winget backend for Windows applications: update detection and installs.
//!
//! Written against winget 1.6 and 1.7 on Windows 11 23H2. winget prints in the Windows display
//! language whatever the environment says, so detection parses the table structure (see
//! [`detect`]) and never English words. winget has no security metadata: every update is
//! reported with `security: false`, and a security-only install is unsupported.
//!
//! A row with a local id (`ARP\Machine\X64\{GUID}`, `MSIX\...`, see [`detect::is_local_id`])
//! is software that no winget source provides, so `winget upgrade --id` cannot upgrade it. Such
//! rows are reported as held, which keeps them out of "install all". A job that names one gets a
//! not-attempted result with the reason.
//!
//! Ids may contain spaces (`ARP\Machine\X64\Mozilla Firefox 120.0 (x64 en-US)`), and the
//! install passes the id as one argument. A row whose id or version winget truncated with `…` is
//! replaced by the full row from `winget list --id PREFIX`, and detection fails when that does
//! not name exactly one package, so a truncated id is never reported or installed.

pub mod detect;
pub mod install;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sysmanage_protocol::{
    JobFailure, JobFailureKind, PackageOutcome, PackageResult, PackageSpec, UpdateInfo,
    UpdateStatus, validate_package_name_for, validate_version_for,
};

use self::detect::{Row, TRUNCATION_MARK};
use self::install::ExitMeaning;
use super::busy::{self, Attempt, BusyPolicy};
use super::command::{self, describe};
use super::{InstallOutcome, InstallSelection, PackageManager, ScanError, is_on_path};

/// Name of this manager in the protocol.
pub const MANAGER: &str = "winget";

const DETECTION_TIMEOUT: Duration = Duration::from_mins(10);
/// Time limit of one package install; large installers (Visual Studio) take long.
const INSTALL_TIMEOUT: Duration = Duration::from_hours(1);

/// Result message of a job that names a local id.
const LOCAL_ID_MESSAGE: &str = "winget lists this software under a local id because no winget \
     source provides it, so `winget upgrade` cannot update it; update it with its own installer";

/// Exit code of a detection that found no installed package (`NO_APPLICATIONS_FOUND`).
const NO_APPLICATIONS_FOUND: i32 = 0x8A15_0014_u32 as i32;

/// Returns whether winget can be used: `winget` is on `PATH`.
pub fn is_available() -> bool {
    is_on_path("winget")
}

/// The winget package manager.
#[derive(Debug, Default)]
pub struct Winget {
    reboot_required: AtomicBool,
}

impl Winget {
    pub fn new() -> Self {
        Self::default()
    }

    fn command(arguments: &[&str]) -> Command {
        let mut command = Command::new("winget");
        command.args(arguments);
        command
    }

    fn run_table(arguments: &[&str]) -> Result<String, ScanError> {
        let command = Self::command(arguments);
        let description = describe(&command);
        let output = command::run(command, DETECTION_TIMEOUT)?;
        match output.status.code() {
            Some(0 | NO_APPLICATIONS_FOUND) => Ok(output.stdout),
            _ => Err(ScanError::CommandFailed {
                command: description,
                status: output.status.to_string(),
                output_tail: output.output_tail,
            }),
        }
    }

    /// Replaces a row with a truncated id or version by the row `winget list --id` prints for
    /// the id prefix, or fails when no single row matches.
    fn resolve(row: Row) -> Result<Row, ScanError> {
        if !row.is_truncated() {
            return Ok(row);
        }
        let prefix = row.id.trim_end_matches(TRUNCATION_MARK).to_owned();
        let arguments = [
            "list",
            "--id",
            &prefix,
            "--accept-source-agreements",
            "--disable-interactivity",
        ];
        let text = Self::run_table(&arguments)?;
        let tables = detect::parse_tables(&text).map_err(|error| ScanError::Parse {
            command: describe(&Self::command(&arguments)),
            reason: error.to_string(),
        })?;
        let rows: Vec<Row> = tables.into_iter().flatten().collect();
        detect::resolve_truncated(&prefix, &rows).ok_or_else(|| ScanError::Parse {
            command: "winget upgrade".to_owned(),
            reason: format!(
                "winget truncated the id or version in the row {:?} and `winget list --id {prefix}` \
                 did not name exactly one package",
                row.line
            ),
        })
    }
}

/// Turns a table row into an update. A version `Unknown` (from `--include-unknown`) is reported
/// as no current version.
pub fn update_from(row: &Row, status: UpdateStatus) -> UpdateInfo {
    UpdateInfo {
        manager: MANAGER.to_owned(),
        name: row.id.clone(),
        architecture: None,
        current_version: (row.version != "Unknown").then(|| row.version.clone()),
        new_version: row.available.clone(),
        origin: row.source.clone(),
        security: false,
        status,
    }
}

/// Checks the id and versions of an update with the protocol's rules for winget. A row that
/// the server would reject fails the winget detection with the row named, because the server
/// rejects a report with one invalid update as a whole, with the updates of every manager.
fn validate_update(update: UpdateInfo, row: &Row) -> Result<UpdateInfo, ScanError> {
    let result = validate_package_name_for(MANAGER, &update.name)
        .and_then(|()| validate_version_for(MANAGER, &update.new_version))
        .and_then(|()| {
            update
                .current_version
                .as_deref()
                .map_or(Ok(()), |current| validate_version_for(MANAGER, current))
        });
    match result {
        Ok(()) => Ok(update),
        Err(error) => Err(ScanError::Parse {
            command: "winget upgrade".to_owned(),
            reason: format!("the row {:?} cannot be reported: {error}", row.line),
        }),
    }
}

/// Turns a row of the first table into an update: available, or held when the id is a local id
/// that `winget upgrade --id` cannot upgrade.
pub fn upgradable_update_from(row: &Row) -> UpdateInfo {
    let status = if detect::is_local_id(&row.id) {
        UpdateStatus::Held
    } else {
        UpdateStatus::Available
    };
    update_from(row, status)
}

impl PackageManager for Winget {
    fn name(&self) -> &'static str {
        MANAGER
    }

    fn detect_updates(&self) -> Result<Vec<UpdateInfo>, ScanError> {
        let arguments = [
            "upgrade",
            "--include-unknown",
            "--accept-source-agreements",
            "--disable-interactivity",
        ];
        let text = Self::run_table(&arguments)?;
        let tables = detect::parse_upgrade(&text).map_err(|error| ScanError::Parse {
            command: describe(&Self::command(&arguments)),
            reason: error.to_string(),
        })?;
        let mut updates = Vec::new();
        for row in tables.available {
            let row = Self::resolve(row)?;
            updates.push(validate_update(upgradable_update_from(&row), &row)?);
        }
        for row in tables.explicit {
            let row = Self::resolve(row)?;
            updates.push(validate_update(
                update_from(&row, UpdateStatus::Held),
                &row,
            )?);
        }
        Ok(updates)
    }

    fn install(&self, selection: &InstallSelection) -> InstallOutcome {
        let specs = match selection {
            InstallSelection::Packages(specs) => specs.clone(),
            InstallSelection::SecurityOnly => {
                return failure_outcome(
                    JobFailureKind::Unsupported,
                    "winget has no security metadata, so a security-only install is not possible",
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
                    return failure_outcome(
                        JobFailureKind::CommandFailed,
                        &format!("update detection before the install failed: {error}"),
                    );
                }
            },
        };
        let mut outcome = InstallOutcome::default();
        for spec in &specs {
            let (result, tail) = self.install_one(spec);
            outcome.packages.push(result);
            outcome.output_tail.push_str(&tail);
        }
        outcome.output_tail = command::tail(outcome.output_tail.lines());
        outcome
    }

    fn reboot_required(&self) -> bool {
        self.reboot_required.load(Ordering::Relaxed)
    }
}

impl Winget {
    /// Installs one package and returns its result and output tail.
    fn install_one(&self, spec: &PackageSpec) -> (PackageResult, String) {
        let mut result = PackageResult {
            manager: MANAGER.to_owned(),
            name: spec.name.clone(),
            requested_version: Some(spec.version.clone()),
            installed_version: None,
            outcome: PackageOutcome::Failed,
            message: None,
        };
        if detect::is_local_id(&spec.name) {
            result.outcome = PackageOutcome::NotAttempted;
            result.message = Some(LOCAL_ID_MESSAGE.to_owned());
            return (result, String::new());
        }
        let arguments = match install::upgrade_arguments(spec) {
            Ok(arguments) => arguments,
            Err(error) => {
                result.outcome = PackageOutcome::NotAttempted;
                result.message = Some(error.to_string());
                return (result, String::new());
            }
        };
        let attempt = busy::retry_while_busy(BusyPolicy::default(), std::thread::sleep, || {
            let mut command = Command::new("winget");
            command.args(&arguments);
            match command::run(command, INSTALL_TIMEOUT) {
                Ok(output)
                    if output.status.code().map(install::decode_exit_code)
                        == Some(ExitMeaning::Busy) =>
                {
                    Attempt::Busy {
                        holder: "another installation (winget INSTALL_IN_PROGRESS)".to_owned(),
                    }
                }
                other => Attempt::Done(other),
            }
        });
        let output = match attempt {
            Ok(Ok(output)) => output,
            Ok(Err(error)) => {
                result.message = Some(error.to_string());
                return (result, String::new());
            }
            Err(error) => {
                result.message = Some(error.to_string());
                return (result, String::new());
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
            Some(ExitMeaning::Failed(message)) => result.message = Some(message),
            Some(ExitMeaning::Busy) | None => {
                result.message = Some(format!("winget ended with {}", output.status));
            }
        }
        (result, output.output_tail)
    }
}

fn failure_outcome(kind: JobFailureKind, message: &str) -> InstallOutcome {
    InstallOutcome {
        packages: Vec::new(),
        output_tail: String::new(),
        failure: Some(JobFailure {
            kind,
            message: message.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_targeting_rows_are_held() {
        let path = format!(
            "{}/testdata/winget/upgrade-en.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        let tables = detect::parse_upgrade(&std::fs::read_to_string(path).unwrap()).unwrap();
        let held = update_from(&tables.explicit[0], UpdateStatus::Held);
        assert_eq!(held.name, "Docker.DockerDesktop");
        assert_eq!(held.status, UpdateStatus::Held);
        assert!(!held.security);
    }

    #[test]
    fn unknown_version_has_no_current() {
        let path = format!(
            "{}/testdata/winget/upgrade-de.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        let tables = detect::parse_upgrade(&std::fs::read_to_string(path).unwrap()).unwrap();
        let update = update_from(&tables.available[1], UpdateStatus::Available);
        assert_eq!(update.current_version, None);
        assert_eq!(update.new_version, "23.01");
    }

    #[test]
    fn local_ids_are_held() {
        let path = format!(
            "{}/testdata/winget/upgrade-local-id.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        let tables = detect::parse_upgrade(&std::fs::read_to_string(path).unwrap()).unwrap();
        let updates: Vec<UpdateInfo> = tables
            .available
            .iter()
            .map(upgradable_update_from)
            .collect();
        let statuses: Vec<(&str, UpdateStatus)> = updates
            .iter()
            .map(|update| (update.name.as_str(), update.status))
            .collect();
        assert_eq!(
            statuses,
            [
                ("Git.Git", UpdateStatus::Available),
                (
                    r"ARP\Machine\X64\{3F2504E0-4F89-11D3-9A0C-0305E82C3301}",
                    UpdateStatus::Held
                ),
                (
                    r"MSIX\Contoso.Notes_2.1.0.0_x64__8wekyb3d8bbwe",
                    UpdateStatus::Held
                ),
            ]
        );
        for update in &updates {
            assert_eq!(
                sysmanage_protocol::validate_package_name_for(MANAGER, &update.name),
                Ok(()),
                "{}",
                update.name
            );
        }
    }

    #[test]
    fn ids_with_spaces_reported() {
        let path = format!(
            "{}/testdata/winget/upgrade-id-spaces.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        let tables = detect::parse_upgrade(&std::fs::read_to_string(path).unwrap()).unwrap();
        let statuses: Vec<(String, UpdateStatus)> = tables.available[..3]
            .iter()
            .map(|row| validate_update(upgradable_update_from(row), row).unwrap())
            .map(|update| (update.name, update.status))
            .collect();
        assert_eq!(
            statuses,
            [
                ("Git.Git".to_owned(), UpdateStatus::Available),
                ("Mozilla Firefox".to_owned(), UpdateStatus::Available),
                (
                    r"ARP\Machine\X64\Contoso Tools 1.2".to_owned(),
                    UpdateStatus::Held
                ),
            ]
        );
    }

    #[test]
    fn invalid_row_fails_detection() {
        let path = format!(
            "{}/testdata/winget/upgrade-id-spaces.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        let tables = detect::parse_upgrade(&std::fs::read_to_string(path).unwrap()).unwrap();
        let truncated = &tables.available[3];
        let error = validate_update(upgradable_update_from(truncated), truncated).unwrap_err();
        assert!(
            error.to_string().contains("Contoso Enterprise Su"),
            "{error}"
        );

        let mut row = tables.available[2].clone();
        row.id = r"ARP\Machine\X64\Contoso [beta]".to_owned();
        assert!(validate_update(upgradable_update_from(&row), &row).is_err());
    }

    #[test]
    fn local_id_is_not_attempted() {
        let (result, tail) = Winget::new().install_one(&PackageSpec {
            manager: MANAGER.into(),
            name: r"ARP\Machine\X64\{3F2504E0-4F89-11D3-9A0C-0305E82C3301}".into(),
            version: "3.2.0".into(),
        });
        assert_eq!(result.outcome, PackageOutcome::NotAttempted);
        assert_eq!(result.message.as_deref(), Some(LOCAL_ID_MESSAGE));
        assert_eq!(tail, "");
    }

    #[test]
    fn security_only_is_unsupported() {
        let outcome = Winget::new().install(&InstallSelection::SecurityOnly);
        assert_eq!(
            outcome.failure.map(|failure| failure.kind),
            Some(JobFailureKind::Unsupported)
        );
    }
}
