//! The snap backend: update detection and installs of snaps through snapd.
//!
//! Detection reads `snap refresh --list` and marks snaps held with `snap refresh --hold` (the
//! `held` note of `snap list`) as held. The snap store does not mark security updates, so none
//! is reported as one. A refresh never needs a reboot of a classic system. On Ubuntu Core the
//! kernel and base snaps do, and snapd then reboots on its own schedule, which this backend
//! does not report.
//!
//! Every command runs without a shell, with `LC_ALL=C` and without `LANGUAGE`, because snap
//! translates its messages.

pub mod detect;
pub mod install;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use sysmanage_protocol::{UpdateInfo, UpdateStatus};

use self::detect::SnapRefresh;
use super::busy::BusyPolicy;
use super::command::{self, CommandOutput, describe};
use super::{InstallOutcome, InstallSelection, PackageManager, ScanError, is_on_path};

/// Name of this manager in the protocol.
pub const MANAGER: &str = "snap";

/// Socket of snapd. Without it every snap command fails.
pub const SNAPD_SOCKET: &str = "/run/snapd.socket";

/// Time limit of `snap refresh --list` and `snap list`, which ask the store and snapd.
const DETECTION_TIMEOUT: Duration = Duration::from_mins(5);

/// Settings of the snap backend.
#[derive(Debug, Clone)]
pub struct SnapSettings {
    /// Waiting while another snapd change of the same snap runs.
    pub busy: BusyPolicy,
    /// Time limit of one refresh, after which snap is killed (snapd finishes the change).
    pub install_timeout: Duration,
}

/// Returns whether snap can be used: `snap` is on `PATH` and snapd's socket exists.
pub fn is_available() -> bool {
    is_on_path("snap") && Path::new(SNAPD_SOCKET).exists()
}

/// Builds a snap command with `LC_ALL=C` and without `LANGUAGE`.
pub(crate) fn snap_command() -> Command {
    let mut command = Command::new("snap");
    command.env("LC_ALL", "C").env_remove("LANGUAGE");
    command
}

/// The snap package manager.
#[derive(Debug, Clone)]
pub struct Snap {
    settings: SnapSettings,
}

impl Snap {
    pub fn new(settings: SnapSettings) -> Self {
        Self { settings }
    }

    pub fn settings(&self) -> &SnapSettings {
        &self.settings
    }

    /// Returns the installed version of a snap, or `None` when it is not installed.
    pub fn installed_version(&self, name: &str) -> Option<String> {
        let mut command = snap_command();
        command.args(["list", name]);
        match command::run(command, DETECTION_TIMEOUT) {
            Ok(output) if output.status.success() => {
                install::parse_installed_version(&output.stdout, name)
            }
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(manager = MANAGER, package = name, %error, "snap list failed");
                None
            }
        }
    }
}

/// Runs a detection command and fails unless it exits with status 0.
fn run_checked(arguments: &[&str]) -> Result<CommandOutput, ScanError> {
    let mut command = snap_command();
    command.args(arguments);
    let description = describe(&command);
    let output = command::run(command, DETECTION_TIMEOUT)?;
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

/// Turns refresh rows into updates: a snap with the `held` note or in `held` is held.
pub fn updates_from(
    refreshes: &[SnapRefresh],
    held: &std::collections::BTreeSet<String>,
) -> Vec<UpdateInfo> {
    refreshes
        .iter()
        .map(|refresh| UpdateInfo {
            manager: MANAGER.to_owned(),
            name: refresh.name.clone(),
            architecture: None,
            current_version: None,
            new_version: refresh.version.clone(),
            origin: Some(refresh.publisher.clone()),
            security: false,
            status: if held.contains(&refresh.name) || refresh.notes.iter().any(|n| n == "held") {
                UpdateStatus::Held
            } else {
                UpdateStatus::Available
            },
        })
        .collect()
}

impl PackageManager for Snap {
    fn name(&self) -> &'static str {
        MANAGER
    }

    fn detect_updates(&self) -> Result<Vec<UpdateInfo>, ScanError> {
        let refresh = run_checked(&["refresh", "--list"])?;
        let refreshes =
            detect::parse_refresh_list(&refresh.stdout).map_err(|error| ScanError::Parse {
                command: "snap refresh --list".to_owned(),
                reason: error.to_string(),
            })?;
        if refreshes.is_empty() {
            return Ok(Vec::new());
        }
        let list = run_checked(&["list"])?;
        let installed = detect::parse_list(&list.stdout).map_err(|error| ScanError::Parse {
            command: "snap list".to_owned(),
            reason: error.to_string(),
        })?;
        let held = installed
            .iter()
            .filter(|snap| snap.held)
            .map(|snap| snap.name.clone())
            .collect();
        let mut updates = updates_from(&refreshes, &held);
        for update in &mut updates {
            update.current_version = installed
                .iter()
                .find(|snap| snap.name == update.name)
                .map(|snap| snap.version.clone());
        }
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
    fn updates_mark_held() {
        let text = std::fs::read_to_string(format!(
            "{}/testdata/snap/refresh-list.txt",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let refreshes = detect::parse_refresh_list(&text).unwrap();
        let held = std::collections::BTreeSet::from(["firefox".to_owned()]);
        let updates = updates_from(&refreshes, &held);
        let status: Vec<(&str, UpdateStatus)> = updates
            .iter()
            .map(|update| (update.name.as_str(), update.status))
            .collect();
        assert_eq!(
            status,
            [
                ("core22", UpdateStatus::Available),
                ("firefox", UpdateStatus::Held),
                ("lxd", UpdateStatus::Held),
                ("code", UpdateStatus::Available),
            ]
        );
        assert_eq!(updates[1].origin.as_deref(), Some("mozilla"));
        assert!(updates.iter().all(|update| !update.security));
    }
}
