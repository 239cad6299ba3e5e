//! The pkg backend for FreeBSD binary packages: update detection, security flags from
//! `pkg audit`, and installs.
//!
//! Written against pkg 1.20 on FreeBSD 13.2 and 14.0. Every command runs without a shell and
//! with `LC_ALL=C` and without `LANGUAGE`. Commands that find the database locked by another
//! pkg process are retried with backoff (see [`crate::packages::busy`]).

pub mod detect;
pub mod install;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use sysmanage_protocol::{UpdateInfo, UpdateStatus};

use self::detect::{AuditStatus, DryRun, DryRunStatus, LockedPackage};
use super::busy::{self, Attempt, BusyPolicy, BusyTimeout};
use super::command::{self, CommandError, CommandOutput, describe};
use super::{InstallOutcome, InstallSelection, PackageManager, ScanError, is_on_path};

/// Name of this manager in the protocol.
pub const MANAGER: &str = "pkg";

/// Time limit of a detection command, which may download the repository catalogue first.
const DETECTION_TIMEOUT: Duration = Duration::from_mins(15);
/// Time limit of one install run.
const INSTALL_TIMEOUT: Duration = Duration::from_hours(1);

/// Returns whether pkg can be used: `pkg` is on `PATH`.
pub fn is_available() -> bool {
    is_on_path("pkg")
}

/// The FreeBSD pkg package manager.
#[derive(Debug, Clone, Default)]
pub struct Pkg;

/// Error of a pkg run that did not produce an output to interpret.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Busy(#[from] BusyTimeout),
}

impl Pkg {
    pub fn new() -> Self {
        Self
    }

    /// Builds a pkg command with `LC_ALL=C` and without `LANGUAGE`.
    pub(crate) fn command(arguments: &[&str]) -> Command {
        let mut command = Command::new("pkg");
        command
            .args(arguments)
            .env("LC_ALL", "C")
            .env_remove("LANGUAGE");
        command
    }

    /// Runs pkg, and retries with backoff while another process holds the database lock.
    pub(crate) fn run_retrying(
        arguments: &[&str],
        timeout: Duration,
    ) -> Result<CommandOutput, RunError> {
        let result =
            busy::retry_while_busy(
                BusyPolicy::default(),
                std::thread::sleep,
                || match command::run(Self::command(arguments), timeout) {
                    Ok(output)
                        if detect::is_locked(&output.stderr)
                            || detect::is_locked(&output.stdout) =>
                    {
                        Attempt::Busy {
                            holder: "another pkg process (database lock)".to_owned(),
                        }
                    }
                    other => Attempt::Done(other),
                },
            )?;
        Ok(result?)
    }

    fn dry_run() -> Result<DryRun, ScanError> {
        let arguments = ["upgrade", "-n"];
        let description = describe(&Self::command(&arguments));
        let output = Self::run_retrying(&arguments, DETECTION_TIMEOUT)
            .map_err(|error| scan_error(&description, error))?;
        match detect::decode_dry_run_status(output.status.code(), &output.stdout) {
            DryRunStatus::Failed => Err(ScanError::CommandFailed {
                command: description,
                status: output.status.to_string(),
                output_tail: output.output_tail,
            }),
            DryRunStatus::UpToDate | DryRunStatus::ActionsPlanned => {
                detect::parse_dry_run(&output.stdout).map_err(|error| ScanError::Parse {
                    command: description,
                    reason: error.to_string(),
                })
            }
        }
    }

    /// Lists the installed packages that `pkg audit` reports as vulnerable, as `name-version`.
    fn vulnerable_packages() -> Result<BTreeSet<String>, ScanError> {
        let arguments = ["audit", "-F", "-q"];
        let description = describe(&Self::command(&arguments));
        let output = Self::run_retrying(&arguments, DETECTION_TIMEOUT)
            .map_err(|error| scan_error(&description, error))?;
        let parsed = detect::parse_audit(&output.stdout);
        match detect::decode_audit_status(output.status.code(), parsed.as_ref().ok()) {
            AuditStatus::Clean => Ok(BTreeSet::new()),
            AuditStatus::Vulnerable => parsed.map_err(|error| ScanError::Parse {
                command: description,
                reason: error.to_string(),
            }),
            AuditStatus::Failed => Err(ScanError::CommandFailed {
                command: description,
                status: output.status.to_string(),
                output_tail: output.output_tail,
            }),
        }
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

/// Turns the planned upgrades into updates, marking those whose installed version
/// `pkg audit` lists as vulnerable as security updates.
pub fn updates_from(dry_run: &DryRun, vulnerable: &BTreeSet<String>) -> Vec<UpdateInfo> {
    dry_run
        .upgrades
        .iter()
        .map(|upgrade| UpdateInfo {
            manager: MANAGER.to_owned(),
            name: upgrade.name.clone(),
            architecture: None,
            current_version: Some(upgrade.current_version.clone()),
            new_version: upgrade.new_version.clone(),
            origin: upgrade.repository.clone(),
            security: vulnerable.contains(&format!("{}-{}", upgrade.name, upgrade.current_version)),
            status: UpdateStatus::Available,
        })
        .collect()
}

/// A locked package for which a repository offers a newer version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedUpdate {
    pub package: LockedPackage,
    pub new_version: String,
}

/// Keeps the locked packages that a repository offers in a newer version, with pkg's version
/// rules. `remote` maps a name to the newest version the repositories offer.
pub fn locked_updates(
    locked: &[LockedPackage],
    remote: &std::collections::BTreeMap<String, String>,
) -> Vec<LockedUpdate> {
    locked
        .iter()
        .filter_map(|package| {
            let new_version = remote.get(&package.name)?;
            (crate::packages::version::freebsd::compare(new_version, &package.version)
                == std::cmp::Ordering::Greater)
                .then(|| LockedUpdate {
                    package: package.clone(),
                    new_version: new_version.clone(),
                })
        })
        .collect()
}

/// Turns the updates of locked packages into held updates: `pkg upgrade` skips them (they do
/// not even appear in `pkg upgrade -n`) until `pkg unlock`.
pub fn held_updates_from(
    locked: &[LockedUpdate],
    vulnerable: &BTreeSet<String>,
) -> Vec<UpdateInfo> {
    locked
        .iter()
        .map(|update| UpdateInfo {
            manager: MANAGER.to_owned(),
            name: update.package.name.clone(),
            architecture: None,
            current_version: Some(update.package.version.clone()),
            new_version: update.new_version.clone(),
            origin: None,
            security: vulnerable.contains(&format!(
                "{}-{}",
                update.package.name, update.package.version
            )),
            status: UpdateStatus::Held,
        })
        .collect()
}

impl Pkg {
    /// Lists the locked packages (`pkg lock -l`) that a repository offers in a newer version.
    fn locked_updates() -> Result<Vec<LockedUpdate>, ScanError> {
        let arguments = ["lock", "-l"];
        let description = describe(&Self::command(&arguments));
        let output = Self::run_retrying(&arguments, DETECTION_TIMEOUT)
            .map_err(|error| scan_error(&description, error))?;
        if !output.status.success() {
            return Err(ScanError::CommandFailed {
                command: description,
                status: output.status.to_string(),
                output_tail: output.output_tail,
            });
        }
        let locked = detect::parse_locked(&output.stdout).map_err(|error| ScanError::Parse {
            command: description,
            reason: error.to_string(),
        })?;
        let mut remote = std::collections::BTreeMap::new();
        for package in &locked {
            // -U: the dry run has just updated the catalogue.
            let arguments = ["rquery", "-U", "%v", package.name.as_str()];
            match Self::run_retrying(&arguments, DETECTION_TIMEOUT) {
                // A package that no repository offers exits 1 with no output: no update.
                Ok(output) => {
                    if let Some(version) = detect::newest_remote_version(&output.stdout) {
                        remote.insert(package.name.clone(), version);
                    }
                }
                Err(error) => {
                    let description = describe(&Self::command(&arguments));
                    return Err(scan_error(&description, error));
                }
            }
        }
        Ok(locked_updates(&locked, &remote))
    }
}

impl PackageManager for Pkg {
    fn name(&self) -> &'static str {
        MANAGER
    }

    fn detect_updates(&self) -> Result<Vec<UpdateInfo>, ScanError> {
        let dry_run = Self::dry_run()?;
        let locked = Self::locked_updates()?;
        if dry_run.upgrades.is_empty() && locked.is_empty() {
            return Ok(Vec::new());
        }
        let vulnerable = Self::vulnerable_packages()?;
        let mut updates = updates_from(&dry_run, &vulnerable);
        updates.extend(held_updates_from(&locked, &vulnerable));
        Ok(updates)
    }

    fn install(&self, selection: &InstallSelection) -> InstallOutcome {
        install::install(self, selection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_marks_security_updates() {
        let path = format!(
            "{}/testdata/pkg/upgrade-available.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        let dry_run = detect::parse_dry_run(&std::fs::read_to_string(path).unwrap()).unwrap();
        let vulnerable: BTreeSet<String> =
            ["curl-8.4.0".to_owned(), "py39-urllib3-1.26.17,1".to_owned()].into();
        let updates = updates_from(&dry_run, &vulnerable);
        let flags: Vec<(&str, bool)> = updates
            .iter()
            .map(|update| (update.name.as_str(), update.security))
            .collect();
        assert_eq!(
            flags,
            [("curl", true), ("openssl", false), ("py39-urllib3", true)]
        );
        assert!(
            updates
                .iter()
                .all(|update| update.status == UpdateStatus::Available)
        );
    }

    #[test]
    fn locked_packages_are_held() {
        let path = format!("{}/testdata/pkg/lock-list.txt", env!("CARGO_MANIFEST_DIR"));
        let locked = detect::parse_locked(&std::fs::read_to_string(path).unwrap()).unwrap();
        let remote: std::collections::BTreeMap<String, String> = [
            ("postgresql15-server".to_owned(), "15.6".to_owned()),
            // Same version as installed: nothing pending.
            ("py39-urllib3".to_owned(), "1.26.17,1".to_owned()),
        ]
        .into();
        let pending = locked_updates(&locked, &remote);
        assert_eq!(pending.len(), 1);
        let vulnerable: BTreeSet<String> = ["postgresql15-server-15.5".to_owned()].into();
        let held = held_updates_from(&pending, &vulnerable);
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].name, "postgresql15-server");
        assert_eq!(held[0].current_version.as_deref(), Some("15.5"));
        assert_eq!(held[0].new_version, "15.6");
        assert_eq!(held[0].status, UpdateStatus::Held);
        assert!(held[0].security);

        // A repository with an older version (a downgrade) is not an update.
        let older: std::collections::BTreeMap<String, String> =
            [("postgresql15-server".to_owned(), "15.4".to_owned())].into();
        assert!(locked_updates(&locked, &older).is_empty());
    }
}
