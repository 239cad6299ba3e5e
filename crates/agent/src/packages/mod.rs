//! Package managers: which ones exist on this host, update detection and installs.
//!
//! Each manager lives in its own module and implements [`PackageManager`]. The modules keep
//! command building and output parsing in plain functions so that they can be tested without
//! the manager, and the calls into the operating system thin.

pub mod apk;
pub mod apt;
#[cfg(unix)]
pub mod brew;
pub mod busy;
pub mod chocolatey;
pub mod command;
pub mod distribution;
pub mod dnf;
pub mod flatpak;
pub mod freebsd_update;
pub mod pacman;
pub mod pkg;
pub mod pkg_add;
pub mod snap;
pub mod softwareupdate;
pub mod syspatch;
pub mod version;
pub mod windows_update;
pub mod winget;
pub mod yum;
pub mod zypper;

use std::path::Path;
use std::sync::Arc;

use sysmanage_protocol::{
    JobFailure, JobFailureKind, ManagerScan, PackageResult, PackageSpec, ScanOutcome, UpdateInfo,
    UpdateReport,
};

pub use command::CommandError;

/// Path of the flag file that Debian and Ubuntu maintainer scripts create when a reboot is due.
pub const REBOOT_REQUIRED_PATH: &str = "/var/run/reboot-required";

/// Error of one manager's update detection. A failed detection is reported as failed, never
/// as "no updates".
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error("`{command}` failed with {status}: {output_tail}")]
    CommandFailed {
        command: String,
        status: String,
        output_tail: String,
    },
    #[error("could not parse the output of `{command}`: {reason}")]
    Parse { command: String, reason: String },
    #[error("could not read {path}: {source}")]
    ReadFile {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Selection of updates to install with one manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallSelection {
    /// These packages, each pinned to its version. Manager, name and version are validated.
    Packages(Vec<PackageSpec>),
    /// Every available update.
    All,
    /// Every available security update.
    SecurityOnly,
}

/// Outcome of an install with one manager.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstallOutcome {
    pub packages: Vec<PackageResult>,
    pub output_tail: String,
    /// Failure of the install as a whole, if it failed.
    pub failure: Option<JobFailure>,
}

impl InstallOutcome {
    /// Returns the outcome of an install that failed as a whole before any package ran.
    pub fn failed(kind: JobFailureKind, message: String) -> Self {
        Self {
            packages: Vec::new(),
            output_tail: String::new(),
            failure: Some(JobFailure { kind, message }),
        }
    }
}

/// One package manager of the host.
///
/// Both methods block for as long as the manager runs, so async callers run them on a
/// blocking thread.
pub trait PackageManager: Send + Sync {
    /// Name used in the protocol, such as `apt`.
    fn name(&self) -> &'static str;

    /// Lists every pending update, including held and deferred ones.
    fn detect_updates(&self) -> Result<Vec<UpdateInfo>, ScanError>;

    /// Installs the selection and reports the outcome per package.
    fn install(&self, selection: &InstallSelection) -> InstallOutcome;

    /// Returns whether this manager knows that the host must reboot to finish an update, for
    /// platforms without the Debian flag file ([`REBOOT_REQUIRED_PATH`]).
    fn reboot_required(&self) -> bool {
        false
    }
}

/// Settings the package managers share, taken from the agent configuration.
#[derive(Debug, Clone)]
pub struct ManagerSettings {
    pub apt: apt::AptSettings,
    /// Run `brew update` before each Homebrew scan (`brew.update_first`).
    pub brew_update_first: bool,
}

/// Returns the package managers found on this host.
pub fn detect_managers(settings: &ManagerSettings) -> Vec<Arc<dyn PackageManager>> {
    let mut managers: Vec<Arc<dyn PackageManager>> = Vec::new();
    let distribution = distribution::Distribution::detect();
    if apt::is_available() && distribution.uses_apt() {
        managers.push(Arc::new(apt::Apt::new(settings.apt.clone())));
    }
    // The lock wait and install time limit are the agent-wide ones that AptSettings carries.
    if pacman::is_available() && distribution.uses_pacman() {
        managers.push(Arc::new(pacman::Pacman::new(
            pacman::PacmanSettings::system(settings.apt.lock_timeout, settings.apt.install_timeout),
        )));
    }
    if distribution.uses_rpm_yum_dnf() {
        let rpm_settings =
            dnf::DnfSettings::system(settings.apt.lock_timeout, settings.apt.install_timeout);
        if dnf::is_available() {
            managers.push(Arc::new(dnf::Dnf::new(rpm_settings)));
        } else if yum::is_available() {
            managers.push(Arc::new(yum::Yum::new(rpm_settings)));
        }
    }
    if zypper::is_available() && distribution.uses_zypper() {
        managers.push(Arc::new(zypper::Zypper::new(
            zypper::ZypperSettings::system(settings.apt.lock_timeout, settings.apt.install_timeout),
        )));
    }
    if apk::is_available() && distribution.uses_apk() {
        managers.push(Arc::new(apk::Apk::new(apk::ApkSettings {
            update_index: settings.apt.update_lists,
            busy: busy::BusyPolicy {
                max_wait: settings.apt.lock_timeout,
                ..busy::BusyPolicy::default()
            },
            install_timeout: settings.apt.install_timeout,
        })));
    }
    if snap::is_available() {
        managers.push(Arc::new(snap::Snap::new(snap::SnapSettings {
            busy: busy::BusyPolicy {
                max_wait: settings.apt.lock_timeout,
                ..busy::BusyPolicy::default()
            },
            install_timeout: settings.apt.install_timeout,
        })));
    }
    if flatpak::is_available() {
        managers.push(Arc::new(flatpak::Flatpak::new(flatpak::FlatpakSettings {
            install_timeout: settings.apt.install_timeout,
        })));
    }
    push_bsd_and_apple_managers(&mut managers, settings);
    push_windows_managers(&mut managers);
    managers
}

/// Adds the macOS, FreeBSD and OpenBSD managers found on this host.
#[allow(clippy::ptr_arg, unused_variables)]
fn push_bsd_and_apple_managers(
    managers: &mut Vec<Arc<dyn PackageManager>>,
    settings: &ManagerSettings,
) {
    #[cfg(target_os = "macos")]
    {
        if softwareupdate::is_available() {
            managers.push(Arc::new(softwareupdate::SoftwareUpdate::new()));
        }
        if brew::is_available() {
            managers.push(Arc::new(brew::Brew::new(brew::BrewSettings {
                update_first: settings.brew_update_first,
                busy: busy::BusyPolicy {
                    max_wait: settings.apt.lock_timeout,
                    ..busy::BusyPolicy::default()
                },
                install_timeout: settings.apt.install_timeout,
            })));
        }
    }
    #[cfg(target_os = "freebsd")]
    {
        if pkg::is_available() {
            managers.push(Arc::new(pkg::Pkg::new()));
        }
        if freebsd_update::is_available() {
            managers.push(Arc::new(freebsd_update::FreebsdUpdate::new()));
        }
    }
    #[cfg(target_os = "openbsd")]
    {
        if syspatch::is_available() {
            managers.push(Arc::new(syspatch::Syspatch::new()));
        }
        if pkg_add::is_available() {
            managers.push(Arc::new(pkg_add::PkgAdd::new()));
        }
    }
}

/// Adds the Windows managers found on this host.
#[allow(clippy::ptr_arg, unused_variables)]
fn push_windows_managers(managers: &mut Vec<Arc<dyn PackageManager>>) {
    #[cfg(target_os = "windows")]
    {
        if windows_update::is_available() {
            managers.push(Arc::new(windows_update::WindowsUpdate::new()));
        }
        if winget::is_available() {
            managers.push(Arc::new(winget::Winget::new()));
        }
        if chocolatey::is_available() {
            managers.push(Arc::new(chocolatey::Chocolatey::new()));
        }
    }
}

/// Runs detection of every manager and builds the report sent to the server.
///
/// A manager whose detection fails is reported as failed; the others still report.
pub fn scan(managers: &[Arc<dyn PackageManager>], reboot_required_path: &Path) -> UpdateReport {
    let mut report = UpdateReport {
        managers: Vec::with_capacity(managers.len()),
        reboot_required: reboot_required_path.exists()
            || managers.iter().any(|manager| manager.reboot_required()),
    };
    for manager in managers {
        let outcome = match manager.detect_updates() {
            Ok(updates) => {
                tracing::info!(
                    manager = manager.name(),
                    updates = updates.len(),
                    "update scan finished"
                );
                ScanOutcome::Ok { updates }
            }
            Err(error) => {
                tracing::warn!(manager = manager.name(), %error, "update scan failed");
                ScanOutcome::Failed {
                    error: error.to_string(),
                }
            }
        };
        report.managers.push(ManagerScan {
            manager: manager.name().to_owned(),
            outcome,
        });
    }
    report
}

/// Returns whether `program` is an executable file in one of the `PATH` directories.
///
/// On Windows a file counts when it exists as `program` or `program.exe`.
pub fn is_on_path(program: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|directory| is_executable(&directory.join(program)))
}

#[cfg(unix)]
fn is_executable(candidate: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;

    candidate
        .metadata()
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

#[cfg(windows)]
fn is_executable(candidate: &Path) -> bool {
    let with_extension = candidate.with_extension("exe");
    candidate.is_file() || with_extension.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct FailingManager;

    impl PackageManager for FailingManager {
        fn name(&self) -> &'static str {
            "apt"
        }
        fn detect_updates(&self) -> Result<Vec<UpdateInfo>, ScanError> {
            Err(ScanError::Parse {
                command: "apt-get".into(),
                reason: "unrecognised line \"Frobnicating...\"".into(),
            })
        }
        fn install(&self, _selection: &InstallSelection) -> InstallOutcome {
            InstallOutcome::default()
        }
    }

    #[test]
    fn scan_reports_failure_not_empty_list() {
        let managers: Vec<Arc<dyn PackageManager>> = vec![Arc::new(FailingManager)];
        let report = scan(&managers, Path::new("/nonexistent/reboot-required"));
        assert!(!report.reboot_required);
        assert_eq!(report.managers.len(), 1);
        match &report.managers[0].outcome {
            ScanOutcome::Failed { error } => assert!(error.contains("Frobnicating"), "{error}"),
            ScanOutcome::Ok { .. } => panic!("a failed detection must not be reported as Ok"),
        }
    }

    #[test]
    fn scan_reads_reboot_flag() {
        let directory = tempfile::tempdir().unwrap();
        let flag = directory.path().join("reboot-required");
        std::fs::write(&flag, "").unwrap();
        let report = scan(&[], &flag);
        assert!(report.reboot_required);
    }

    #[test]
    fn path_lookup_finds_ls() {
        assert!(is_on_path("ls"));
        assert!(!is_on_path("sysmanage-no-such-program"));
    }
}
