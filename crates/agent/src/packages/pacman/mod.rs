//! The pacman backend for Arch Linux: update detection and installs.
//!
//! Detection never updates the real sync databases, because refreshing them without upgrading
//! would leave the host one `pacman -S` away from a partial upgrade. It works like
//! `checkupdates` of pacman-contrib: it links the real `local/` database into a temporary
//! database directory, copies the sync databases there, runs `pacman -Sy --dbpath COPY` and
//! then `pacman -Qu --dbpath COPY`. Installs always run `pacman -Syu` (see [`install`]).
//!
//! Every command runs without a shell, with `LC_ALL=C`, without `LANGUAGE`, and with
//! `--color never`. Arch Linux publishes no security metadata through pacman, so updates are
//! marked as security updates only when `arch-audit` is installed.

pub mod detect;
pub mod install;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sysmanage_protocol::{UpdateInfo, UpdateStatus};

use self::detect::{ModuleDirectory, QueryExit, QueryUpgrade, SyncPackage};
use super::busy::{self, Attempt, BusyPolicy};
use super::command::{self, CommandOutput, describe};
use super::{InstallOutcome, InstallSelection, PackageManager, ScanError, is_on_path};

/// Name of this manager in the protocol.
pub const MANAGER: &str = "pacman";

/// Database directory of pacman when neither the settings nor pacman.conf name one.
pub const DEFAULT_DATABASE_PATH: &str = "/var/lib/pacman";

/// Time limit of the read-only queries (`pacman -Qu`, `-Sl`, `-Q`, `pacman-conf`).
const QUERY_TIMEOUT: Duration = Duration::from_mins(2);
/// Time limit of `arch-audit`, which downloads the Arch Linux security advisories.
const AUDIT_TIMEOUT: Duration = Duration::from_mins(2);

/// Settings of the pacman backend. Production leaves the paths at `None`; tests point them into
/// a throwaway root.
#[derive(Debug, Clone)]
pub struct PacmanSettings {
    /// `--root` for every pacman command.
    pub root: Option<PathBuf>,
    /// `--config` for every pacman command.
    pub config: Option<PathBuf>,
    /// Real database directory (`--dbpath`). `None` reads it from `pacman-conf DBPath`.
    pub database_path: Option<PathBuf>,
    /// Retry policy while another pacman has created `db.lck`.
    pub busy: BusyPolicy,
    /// Time limit of `pacman -Sy` into the temporary database copy.
    pub sync_timeout: Duration,
    /// Time limit of one `pacman -Syu`, after which pacman is killed.
    pub install_timeout: Duration,
}

impl PacmanSettings {
    /// Settings for the host's own pacman.
    pub fn system(lock_wait: Duration, install_timeout: Duration) -> Self {
        Self {
            root: None,
            config: None,
            database_path: None,
            busy: BusyPolicy {
                max_wait: lock_wait,
                ..BusyPolicy::default()
            },
            sync_timeout: Duration::from_mins(10),
            install_timeout,
        }
    }
}

/// Returns whether pacman can be used: `pacman` is on `PATH`.
pub fn is_available() -> bool {
    is_on_path("pacman")
}

/// The pacman package manager.
#[derive(Debug, Clone)]
pub struct Pacman {
    settings: PacmanSettings,
}

impl Pacman {
    pub fn new(settings: PacmanSettings) -> Self {
        Self { settings }
    }

    pub fn settings(&self) -> &PacmanSettings {
        &self.settings
    }

    /// Returns `--root`, `--config`, `--dbpath DATABASE` and `--color never`.
    pub fn global_arguments(&self, database: &Path) -> Vec<OsString> {
        global_arguments(&self.settings, database)
    }

    /// Returns the real database directory: from the settings, else from `pacman-conf`, else
    /// [`DEFAULT_DATABASE_PATH`].
    pub fn database_path(&self) -> PathBuf {
        if let Some(path) = &self.settings.database_path {
            return path.clone();
        }
        let mut command = locale_command("pacman-conf");
        if let Some(config) = &self.settings.config {
            command.arg("--config").arg(config);
        }
        if let Some(root) = &self.settings.root {
            command.arg("--rootdir").arg(root);
        }
        command.arg("DBPath");
        match command::run(command, QUERY_TIMEOUT) {
            Ok(output) if output.status.success() && !output.stdout.trim().is_empty() => {
                PathBuf::from(output.stdout.trim())
            }
            Ok(output) => {
                tracing::warn!(manager = MANAGER, status = %output.status, "pacman-conf DBPath failed, using the default");
                PathBuf::from(DEFAULT_DATABASE_PATH)
            }
            Err(error) => {
                tracing::warn!(manager = MANAGER, %error, "pacman-conf failed, using the default database path");
                PathBuf::from(DEFAULT_DATABASE_PATH)
            }
        }
    }

    /// Returns the installed version of a package, or `None` when it is not installed.
    pub fn installed_version(&self, name: &str) -> Option<String> {
        let mut command = locale_command("pacman");
        command
            .arg("-Q")
            .args(self.global_arguments(&self.database_path()))
            .arg("--")
            .arg(name);
        match command::run(command, QUERY_TIMEOUT) {
            Ok(output) if output.status.success() => {
                install::parse_installed_version(&output.stdout, name)
            }
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(manager = MANAGER, package = name, %error, "pacman -Q failed");
                None
            }
        }
    }

    /// Refreshes the sync databases of `copy` and lists the upgrades against them.
    fn query_upgrades(&self, copy: &Path) -> Result<Vec<QueryUpgrade>, ScanError> {
        let mut sync = locale_command("pacman");
        sync.args(["-Sy", "--noconfirm", "--logfile", "/dev/null"])
            .args(self.global_arguments(copy));
        run_checked(sync, self.settings.sync_timeout)?;

        let mut query = locale_command("pacman");
        query.arg("-Qu").args(self.global_arguments(copy));
        let description = describe(&query);
        let output = command::run(query, QUERY_TIMEOUT)?;
        match detect::decode_query_exit(output.status.code(), &output.stdout, &output.stderr) {
            QueryExit::NoUpgrades => Ok(Vec::new()),
            QueryExit::Upgrades => {
                detect::parse_query_upgrades(&output.stdout).map_err(|error| ScanError::Parse {
                    command: description,
                    reason: error.to_string(),
                })
            }
            QueryExit::Failed => Err(ScanError::CommandFailed {
                command: description,
                status: output.status.to_string(),
                output_tail: output.output_tail,
            }),
        }
    }

    fn sync_packages(&self, copy: &Path) -> Result<Vec<SyncPackage>, ScanError> {
        let mut command = locale_command("pacman");
        command.arg("-Sl").args(self.global_arguments(copy));
        let description = describe(&command);
        let output = run_checked(command, QUERY_TIMEOUT)?;
        detect::parse_sync_list(&output.stdout).map_err(|error| ScanError::Parse {
            command: description,
            reason: error.to_string(),
        })
    }

    /// Names of packages that `arch-audit` reports as vulnerable with a fix available, or an
    /// empty set when arch-audit is not installed or fails.
    // NOTE: a failing arch-audit (it downloads advisories from security.archlinux.org) leaves
    // every update marked as not security, with a warning in the log, so that the updates
    // themselves are still reported.
    fn audited_names(copy: &Path) -> std::collections::BTreeSet<String> {
        if !is_on_path("arch-audit") {
            return std::collections::BTreeSet::new();
        }
        let mut command = locale_command("arch-audit");
        command.args(["-u", "--format", "%n", "--dbpath"]).arg(copy);
        let description = describe(&command);
        let parsed = run_checked(command, AUDIT_TIMEOUT).and_then(|output| {
            detect::parse_audit_names(&output.stdout).map_err(|error| ScanError::Parse {
                command: description,
                reason: error.to_string(),
            })
        });
        parsed.unwrap_or_else(|error| {
            tracing::warn!(manager = MANAGER, %error, "arch-audit failed, no update is marked as security");
            std::collections::BTreeSet::new()
        })
    }

    fn detect_in_copy(&self, database: &Path) -> Result<Vec<UpdateInfo>, ScanError> {
        let copy = DatabaseCopy::create(database).map_err(|error| ScanError::CommandFailed {
            command: format!("copy of the pacman database {}", database.display()),
            status: "an I/O error".to_owned(),
            output_tail: error.to_string(),
        })?;
        let upgrades = self.query_upgrades(copy.path())?;
        if upgrades.is_empty() {
            return Ok(Vec::new());
        }
        let repositories = self.sync_packages(copy.path())?;
        let vulnerable = Self::audited_names(copy.path());
        Ok(updates_from(&upgrades, &repositories, &vulnerable))
    }
}

/// Runs a detection command and fails unless it exits with status 0.
fn run_checked(command: Command, timeout: Duration) -> Result<CommandOutput, ScanError> {
    let description = describe(&command);
    tracing::debug!(manager = MANAGER, command = %description, "running");
    let output = command::run(command, timeout)?;
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

/// Builds a command with `LC_ALL=C` and without `LANGUAGE`.
pub(crate) fn locale_command(program: &str) -> Command {
    let mut command = Command::new(program);
    command.env("LC_ALL", "C").env_remove("LANGUAGE");
    command
}

/// Returns `--root`, `--config`, `--dbpath DATABASE` and `--color never` for these settings.
pub fn global_arguments(settings: &PacmanSettings, database: &Path) -> Vec<OsString> {
    let mut arguments: Vec<OsString> = Vec::new();
    if let Some(root) = &settings.root {
        arguments.push("--root".into());
        arguments.push(root.into());
    }
    if let Some(config) = &settings.config {
        arguments.push("--config".into());
        arguments.push(config.into());
    }
    arguments.push("--dbpath".into());
    arguments.push(database.into());
    arguments.push("--color".into());
    arguments.push("never".into());
    arguments
}

/// Turns parsed `pacman -Qu` lines into updates: ignored ones are held, the origin is the
/// repository that carries the new version, and names arch-audit listed are security updates.
pub fn updates_from(
    upgrades: &[QueryUpgrade],
    repositories: &[SyncPackage],
    vulnerable: &std::collections::BTreeSet<String>,
) -> Vec<UpdateInfo> {
    upgrades
        .iter()
        .map(|upgrade| UpdateInfo {
            manager: MANAGER.to_owned(),
            name: upgrade.name.clone(),
            architecture: None,
            current_version: Some(upgrade.current_version.clone()),
            new_version: upgrade.new_version.clone(),
            origin: detect::repository_of(repositories, &upgrade.name, &upgrade.new_version)
                .map(str::to_owned),
            security: vulnerable.contains(&upgrade.name),
            status: if upgrade.ignored {
                UpdateStatus::Held
            } else {
                UpdateStatus::Available
            },
        })
        .collect()
}

/// A temporary database directory: `local` links to the real one, `sync` is a copy.
struct DatabaseCopy {
    directory: tempfile::TempDir,
}

impl DatabaseCopy {
    fn create(database: &Path) -> std::io::Result<Self> {
        let directory = tempfile::Builder::new()
            .prefix("sysmanage-pacman-")
            .tempdir()?;
        std::os::unix::fs::symlink(database.join("local"), directory.path().join("local"))?;
        let sync = directory.path().join("sync");
        std::fs::create_dir(&sync)?;
        match std::fs::read_dir(database.join("sync")) {
            Ok(entries) => {
                for entry in entries {
                    let entry = entry?;
                    if entry.file_type()?.is_file() {
                        std::fs::copy(entry.path(), sync.join(entry.file_name()))?;
                    }
                }
            }
            // A host that never synced has no sync directory: `-Sy` downloads everything.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        Ok(Self { directory })
    }

    fn path(&self) -> &Path {
        self.directory.path()
    }
}

/// Reads the running kernel release and the module directories under `root`.
fn read_kernel_state(root: &Path) -> Option<(String, Vec<ModuleDirectory>)> {
    let running = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let entries = std::fs::read_dir(root.join("usr/lib/modules")).ok()?;
    let directories = entries
        .filter_map(Result::ok)
        .map(|entry| ModuleDirectory {
            release: entry.file_name().to_string_lossy().into_owned(),
            package: std::fs::read_to_string(entry.path().join("pkgbase"))
                .ok()
                .map(|text| text.trim().to_owned()),
        })
        .collect();
    Some((running, directories))
}

impl PackageManager for Pacman {
    fn name(&self) -> &'static str {
        MANAGER
    }

    fn detect_updates(&self) -> Result<Vec<UpdateInfo>, ScanError> {
        let database = self.database_path();
        let lock_file = database.join("db.lck");
        // The local database is read while the real lock is free, so that a running upgrade
        // is not read half way.
        let result = busy::retry_while_busy(self.settings.busy, std::thread::sleep, || {
            if lock_file.exists() {
                Attempt::Busy {
                    holder: format!("the pacman database lock {}", lock_file.display()),
                }
            } else {
                Attempt::Done(self.detect_in_copy(&database))
            }
        });
        match result {
            Ok(updates) => updates,
            Err(timeout) => Err(ScanError::CommandFailed {
                command: "pacman -Qu".to_owned(),
                status: "a held database lock".to_owned(),
                output_tail: timeout.to_string(),
            }),
        }
    }

    fn install(&self, selection: &InstallSelection) -> InstallOutcome {
        install::install(self, selection)
    }

    fn reboot_required(&self) -> bool {
        let root = self
            .settings
            .root
            .clone()
            .unwrap_or_else(|| PathBuf::from("/"));
        read_kernel_state(&root).is_some_and(|(running, directories)| {
            detect::kernel_reboot_required(&running, &directories)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> PacmanSettings {
        PacmanSettings::system(Duration::from_secs(1), Duration::from_secs(1))
    }

    #[test]
    fn global_argv_default() {
        let arguments = global_arguments(&settings(), Path::new("/var/lib/pacman"));
        assert_eq!(
            arguments,
            ["--dbpath", "/var/lib/pacman", "--color", "never"]
        );
    }

    #[test]
    fn global_argv_throwaway_root() {
        let mut settings = settings();
        settings.root = Some("/tmp/root".into());
        settings.config = Some("/tmp/pacman.conf".into());
        let arguments = global_arguments(&settings, Path::new("/tmp/db-copy"));
        assert_eq!(
            arguments,
            [
                "--root",
                "/tmp/root",
                "--config",
                "/tmp/pacman.conf",
                "--dbpath",
                "/tmp/db-copy",
                "--color",
                "never"
            ]
        );
    }

    #[test]
    fn updates_from_fixtures() {
        let read = |name: &str| {
            std::fs::read_to_string(format!(
                "{}/testdata/pacman/{name}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap()
        };
        let upgrades = detect::parse_query_upgrades(&read("qu-ignored.txt")).unwrap();
        let repositories = detect::parse_sync_list(&read("sl.txt")).unwrap();
        let vulnerable = detect::parse_audit_names("firefox\n").unwrap();
        let updates = updates_from(&upgrades, &repositories, &vulnerable);

        assert_eq!(updates.len(), 4);
        let firefox = &updates[0];
        assert_eq!(firefox.origin.as_deref(), Some("extra"));
        assert!(firefox.security);
        assert_eq!(firefox.status, UpdateStatus::Available);
        let linux = &updates[1];
        assert_eq!(linux.status, UpdateStatus::Held);
        assert_eq!(linux.origin.as_deref(), Some("core"));
        assert!(!linux.security);
        let headers = &updates[2];
        assert_eq!(headers.origin, None);
        assert_eq!(headers.status, UpdateStatus::Held);
    }

    #[test]
    fn database_copy_links_local_and_copies_sync() {
        let real = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(real.path().join("local/smtest-1.0-1")).unwrap();
        std::fs::create_dir_all(real.path().join("sync")).unwrap();
        std::fs::write(real.path().join("sync/core.db"), b"database").unwrap();

        let copy = DatabaseCopy::create(real.path()).unwrap();
        assert!(copy.path().join("local/smtest-1.0-1").is_dir());
        assert!(
            std::fs::symlink_metadata(copy.path().join("local"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read(copy.path().join("sync/core.db")).unwrap(),
            b"database"
        );

        std::fs::write(copy.path().join("sync/core.db"), b"refreshed").unwrap();
        assert_eq!(
            std::fs::read(real.path().join("sync/core.db")).unwrap(),
            b"database",
            "the real sync database must stay untouched"
        );
    }
}
