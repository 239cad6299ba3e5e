//! The apk backend for Alpine Linux: update detection and installs.
//!
//! Detection lists upgradable packages with `apk list --upgradable` and runs
//! `apk upgrade --simulate` to find which of them an upgrade installs: the others are held by a
//! constraint in `/etc/apk/world` (such as `name=1.0-r0`) and are reported as held.
//! Alpine publishes security fixes in its secdb and in the `secfixes` comments of APKBUILDs,
//! but apk does not expose them, so no update is marked as a security update.
//!
//! Every command runs without a shell, with `LC_ALL=C` and without `LANGUAGE` (apk has no
//! translations, so this only keeps child processes such as triggers predictable).

pub mod detect;
pub mod install;

use std::process::Command;
use std::time::Duration;

use sysmanage_protocol::{UpdateInfo, UpdateStatus};

use self::detect::ListedUpgrade;
use super::busy::{self, Attempt, BusyPolicy};
use super::command::{self, CommandOutput, describe};
use super::{InstallOutcome, InstallSelection, PackageManager, ScanError, is_on_path};

/// Name of this manager in the protocol.
pub const MANAGER: &str = "apk";

/// Time limit of the detection commands, including `apk update` downloading indexes.
const DETECTION_TIMEOUT: Duration = Duration::from_mins(10);

/// Settings of the apk backend.
#[derive(Debug, Clone)]
pub struct ApkSettings {
    /// Run `apk update` before each detection.
    pub update_index: bool,
    /// Waiting while another apk has the database locked.
    pub busy: BusyPolicy,
    /// Time limit of one install, after which apk is killed.
    pub install_timeout: Duration,
}

/// Returns whether apk can be used: `apk` is on `PATH`.
pub fn is_available() -> bool {
    is_on_path("apk")
}

/// The apk package manager.
#[derive(Debug, Clone)]
pub struct Apk {
    settings: ApkSettings,
}

/// Builds an apk command with `LC_ALL=C` and without `LANGUAGE`.
pub(crate) fn apk_command() -> Command {
    let mut command = Command::new("apk");
    command.env("LC_ALL", "C").env_remove("LANGUAGE");
    command
}

/// Runs an apk command, retrying while another apk has the database locked.
pub(crate) fn run_waiting(
    policy: BusyPolicy,
    arguments: &[String],
    timeout: Duration,
) -> Result<CommandOutput, RunError> {
    let mut last = None;
    let result = busy::retry_while_busy(policy, std::thread::sleep, || {
        let mut command = apk_command();
        command.args(arguments);
        match command::run(command, timeout) {
            Ok(output)
                if install::decode_exit(output.status.code(), &output.stderr)
                    == install::ApkExit::LockHeld =>
            {
                last = Some(output.output_tail);
                Attempt::Busy {
                    holder: "another apk process (the lock of /lib/apk/db)".to_owned(),
                }
            }
            other => Attempt::Done(other),
        }
    });
    match result {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(error)) => Err(RunError::Command(error)),
        Err(timeout) => Err(RunError::Busy {
            message: timeout.to_string(),
            output_tail: last.unwrap_or_default(),
        }),
    }
}

/// Error of [`run_waiting`].
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Command(#[from] command::CommandError),
    #[error("{message}")]
    Busy {
        message: String,
        output_tail: String,
    },
}

impl Apk {
    pub fn new(settings: ApkSettings) -> Self {
        Self { settings }
    }

    pub fn settings(&self) -> &ApkSettings {
        &self.settings
    }

    /// Runs a detection command and fails unless it exits with status 0.
    fn run_checked(&self, arguments: &[&str]) -> Result<CommandOutput, ScanError> {
        let arguments: Vec<String> = arguments.iter().map(|a| (*a).to_owned()).collect();
        let description = format!("apk {}", arguments.join(" "));
        let output = match run_waiting(self.settings.busy, &arguments, DETECTION_TIMEOUT) {
            Ok(output) => output,
            Err(RunError::Command(error)) => return Err(error.into()),
            Err(RunError::Busy {
                message,
                output_tail,
            }) => {
                return Err(ScanError::CommandFailed {
                    command: description,
                    status: message,
                    output_tail,
                });
            }
        };
        if output.status.success() {
            Ok(output)
        } else {
            Err(ScanError::CommandFailed {
                command: description,
                status: output.status.to_string(),
                output_tail: output.output_tail,
            })
        }
    }
}

/// Merges the upgradable list with the simulated upgrade: listed packages the upgrade installs
/// are available, the others held. An upgrade only in the simulation is reported as available
/// without an architecture.
pub fn merge_updates(
    listed: &[ListedUpgrade],
    simulated: &std::collections::BTreeMap<String, String>,
) -> Vec<UpdateInfo> {
    let mut updates: Vec<UpdateInfo> = listed
        .iter()
        .map(|upgrade| UpdateInfo {
            manager: MANAGER.to_owned(),
            name: upgrade.name.clone(),
            architecture: Some(upgrade.architecture.clone()),
            current_version: Some(upgrade.current_version.clone()),
            new_version: upgrade.new_version.clone(),
            origin: None,
            security: false,
            status: if simulated.contains_key(&upgrade.name) {
                UpdateStatus::Available
            } else {
                UpdateStatus::Held
            },
        })
        .collect();
    for (name, version) in simulated {
        if !listed.iter().any(|upgrade| &upgrade.name == name) {
            updates.push(UpdateInfo {
                manager: MANAGER.to_owned(),
                name: name.clone(),
                architecture: None,
                current_version: None,
                new_version: version.clone(),
                origin: None,
                security: false,
                status: UpdateStatus::Available,
            });
        }
    }
    updates
}

impl PackageManager for Apk {
    fn name(&self) -> &'static str {
        MANAGER
    }

    fn detect_updates(&self) -> Result<Vec<UpdateInfo>, ScanError> {
        if self.settings.update_index {
            self.run_checked(&["update", "--quiet"])?;
        }
        let parse_error = |command: &str, error: detect::ParseError| ScanError::Parse {
            command: command.to_owned(),
            reason: error.to_string(),
        };
        let listed = self.run_checked(&["list", "--upgradable"])?;
        let listed = detect::parse_upgradable(&listed.stdout)
            .map_err(|error| parse_error("apk list --upgradable", error))?;
        let simulated = self.run_checked(&["upgrade", "--simulate", "--no-progress"])?;
        let simulated = detect::parse_simulation(&simulated.stdout)
            .map_err(|error| parse_error("apk upgrade --simulate", error))?;
        Ok(merge_updates(&listed, &simulated))
    }

    fn install(&self, selection: &InstallSelection) -> InstallOutcome {
        install::install(self, selection)
    }
}

/// Returns the description of an apk command line for messages.
pub(crate) fn describe_arguments(arguments: &[String]) -> String {
    let mut command = Command::new("apk");
    command.args(arguments);
    describe(&command)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/apk/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap()
    }

    #[test]
    fn merge_marks_held() {
        let listed = detect::parse_upgradable(&fixture("list-upgradable.txt")).unwrap();
        let simulated = detect::parse_simulation(&fixture("upgrade-simulate.txt")).unwrap();
        let updates = merge_updates(&listed, &simulated);

        let status = |name: &str| {
            updates
                .iter()
                .find(|update| update.name == name)
                .map(|update| update.status)
        };
        assert_eq!(status("busybox"), Some(UpdateStatus::Available));
        assert_eq!(status("libssl3"), Some(UpdateStatus::Held));
        assert_eq!(status("libcrypto3"), Some(UpdateStatus::Held));
        assert_eq!(status("apk-tools"), Some(UpdateStatus::Available));
        assert_eq!(updates.len(), 7);
        assert!(updates.iter().all(|update| !update.security));
        let tzdata = updates
            .iter()
            .find(|update| update.name == "tzdata")
            .unwrap();
        assert_eq!(tzdata.architecture.as_deref(), Some("noarch"));
        assert_eq!(tzdata.current_version.as_deref(), Some("2024a-r0"));
    }
}
