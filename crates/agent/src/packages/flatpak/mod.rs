//! The flatpak backend: update detection and installs of apps and runtimes of the system
//! installation.
//!
//! Each update is named by its ref `ID/ARCH/BRANCH`, because one runtime is often installed on
//! several branches and architectures. Flatpak remotes do not mark security updates, so none
//! is reported as one, and a flatpak update never needs a reboot.
//! Every command runs without a shell, with `LC_ALL=C` and without `LANGUAGE`.
// NOTE: refs masked with `flatpak mask` are left out by `remote-ls --updates` and so are not
// reported as held.

pub mod detect;
pub mod install;

use std::process::Command;
use std::time::Duration;

use sysmanage_protocol::{UpdateInfo, UpdateStatus};

use self::detect::{Installed, RemoteUpdate};
use super::command::{self, CommandOutput, describe};
use super::{InstallOutcome, InstallSelection, PackageManager, ScanError, is_on_path};

/// Name of this manager in the protocol.
pub const MANAGER: &str = "flatpak";

/// Time limit of the detection commands, which download the remotes' summaries.
const DETECTION_TIMEOUT: Duration = Duration::from_mins(5);

const REMOTE_COLUMNS: &str = "--columns=application,version,branch,origin,arch,commit";
const INSTALLED_COLUMNS: &str = "--columns=application,version,branch,arch,active";

/// Settings of the flatpak backend.
#[derive(Debug, Clone)]
pub struct FlatpakSettings {
    /// Time limit of one update, after which flatpak is killed.
    pub install_timeout: Duration,
}

/// Returns whether flatpak can be used: `flatpak` is on `PATH`.
pub fn is_available() -> bool {
    is_on_path("flatpak")
}

/// Builds a flatpak command with `LC_ALL=C` and without `LANGUAGE`.
pub(crate) fn flatpak_command() -> Command {
    let mut command = Command::new("flatpak");
    command.env("LC_ALL", "C").env_remove("LANGUAGE");
    command
}

/// The flatpak package manager.
#[derive(Debug, Clone)]
pub struct Flatpak {
    settings: FlatpakSettings,
}

fn run_checked(arguments: &[&str]) -> Result<CommandOutput, ScanError> {
    let mut command = flatpak_command();
    command.args(arguments);
    let description = describe(&command);
    let output = command::run(command, DETECTION_TIMEOUT)?;
    if install::exit_succeeded(output.status.code()) {
        Ok(output)
    } else {
        Err(ScanError::CommandFailed {
            command: description,
            status: output.status.to_string(),
            output_tail: output.output_tail,
        })
    }
}

impl Flatpak {
    pub fn new(settings: FlatpakSettings) -> Self {
        Self { settings }
    }

    pub fn settings(&self) -> &FlatpakSettings {
        &self.settings
    }

    /// Lists the refs of the system installation.
    pub fn installed(&self) -> Result<Vec<Installed>, ScanError> {
        let output = run_checked(&["list", "--system", INSTALLED_COLUMNS])?;
        detect::parse_installed(&output.stdout).map_err(|error| ScanError::Parse {
            command: "flatpak list".to_owned(),
            reason: error.to_string(),
        })
    }
}

/// Turns remote updates into updates, with the installed version of the same ref.
pub fn updates_from(remote: &[RemoteUpdate], installed: &[Installed]) -> Vec<UpdateInfo> {
    remote
        .iter()
        .map(|update| {
            let reference = update.reference();
            let current = installed
                .iter()
                .find(|row| row.reference() == reference)
                .map(|row| detect::version_or_commit(&row.version, &row.commit));
            UpdateInfo {
                manager: MANAGER.to_owned(),
                name: reference,
                architecture: Some(update.architecture.clone()),
                current_version: current,
                new_version: detect::version_or_commit(&update.version, &update.commit),
                origin: Some(update.origin.clone()),
                security: false,
                status: UpdateStatus::Available,
            }
        })
        .collect()
}

impl PackageManager for Flatpak {
    fn name(&self) -> &'static str {
        MANAGER
    }

    fn detect_updates(&self) -> Result<Vec<UpdateInfo>, ScanError> {
        let output = run_checked(&["remote-ls", "--updates", "--system", REMOTE_COLUMNS])?;
        let remote =
            detect::parse_remote_updates(&output.stdout).map_err(|error| ScanError::Parse {
                command: "flatpak remote-ls --updates".to_owned(),
                reason: error.to_string(),
            })?;
        if remote.is_empty() {
            return Ok(Vec::new());
        }
        Ok(updates_from(&remote, &self.installed()?))
    }

    fn install(&self, selection: &InstallSelection) -> InstallOutcome {
        install::install(self, selection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/flatpak/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap()
    }

    #[test]
    fn updates_carry_installed_versions() {
        let remote = detect::parse_remote_updates(&fixture("remote-ls-updates.txt")).unwrap();
        let installed = detect::parse_installed(&fixture("list-installed.txt")).unwrap();
        let updates = updates_from(&remote, &installed);
        assert_eq!(updates.len(), 6);

        let firefox = &updates[0];
        assert_eq!(firefox.name, "org.mozilla.firefox/x86_64/stable");
        assert_eq!(firefox.current_version.as_deref(), Some("124.0.2"));
        assert_eq!(firefox.new_version, "125.0.1");
        assert_eq!(firefox.origin.as_deref(), Some("flathub"));

        let gnome_45 = &updates[4];
        assert_eq!(gnome_45.current_version.as_deref(), Some("1f2e3d4c5b6a"));
        assert_eq!(gnome_45.new_version, "2b3c4d5e6f70");
        let gnome_46 = &updates[5];
        assert_eq!(gnome_46.current_version, None);
        assert_ne!(gnome_45.name, gnome_46.name);

        let gl32 = &updates[3];
        assert_eq!(gl32.architecture.as_deref(), Some("i386"));
        assert!(updates.iter().all(|update| !update.security));
    }
}
