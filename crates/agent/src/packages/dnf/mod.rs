//! The dnf backend for Fedora, RHEL 8 and later, Rocky and Alma: update detection, security
//! classification, installs and the reboot hint, for dnf 4 and dnf5. The yum backend
//! ([`crate::packages::yum`]) reuses this module through [`Frontend`], because yum prints the
//! same shapes as dnf 4.
//!
//! Detection runs `check-update` (`check-upgrade` on dnf5), which exits with 100 when there are
//! updates, 0 when there are none and 1 on errors, then the advisory list of the updates, then
//! `rpm -q` for the versions the updates replace. An update is reported once, marked as a
//! security update when a security advisory names a version between the installed one and the
//! update (see [`advisory::classify`]).
//!
//! Every command runs without a shell, with `LC_ALL=C` and without `LANGUAGE`, so that the
//! output is the English text the parsers expect. dnf 4 and yum run with `exit_on_lock=1`: they
//! exit at once with status 200 when another process holds the lock, and the agent retries with
//! its busy policy instead of waiting without a limit.
//!
//! Packages that a versionlock holds (see [`versionlock`]) are reported as held. The dnf 4 and
//! yum plugins hide their updates from `check-update`, so when there are locks, detection runs
//! with `--disableplugin=versionlock` to list them. "All" and "security only" pass `--exclude`
//! for every lock, so they leave locked packages alone whether the plugin is installed or not.
//! A job that names a locked package gets a not-attempted result for it.

pub mod advisory;
pub mod check_update;
pub mod install;
pub mod lock;
pub mod restart;
pub mod rpmdb;
pub mod versionlock;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use sysmanage_protocol::{UpdateInfo, UpdateStatus};

use self::advisory::{Advisory, Classification};
use self::check_update::{ListedPackage, UpdateList};
use self::rpmdb::InstalledPackage;
use self::versionlock::Versionlock;
use super::busy::{self, Attempt, BusyPolicy};
use super::command::{self, CommandError, CommandOutput, describe};
use super::version::rpm::Evr;
use super::{InstallOutcome, InstallSelection, PackageManager, ScanError, is_on_path};

/// Name of this manager in the protocol.
pub const MANAGER: &str = "dnf";

/// Exit status of dnf 4 and yum when another process holds the lock and `exit_on_lock` is set.
pub const EXIT_LOCKED: i32 = 200;
/// Exit status of `check-update` when updates are available.
pub const EXIT_UPDATES_AVAILABLE: i32 = 100;

/// Error in dnf, dnf5 or yum output that the parsers do not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unrecognised line {number}: {line:?}")]
    UnrecognisedLine { number: usize, line: String },
    #[error(
        "the entry starting on line {number} ends after {fields:?}, without all of name.arch, version and repository"
    )]
    IncompleteEntry { number: usize, fields: String },
    #[error("the entry on line {number} is not `name.arch version-release repository`: {fields:?}")]
    MalformedEntry { number: usize, fields: String },
    #[error("the output is cut short: {0}")]
    Truncated(&'static str),
    #[error("invalid JSON: {0}")]
    Json(String),
}

/// The generation of the tool, which decides command names and output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// dnf 4 (Fedora up to 40, RHEL 8 and 9).
    Dnf4,
    /// dnf5 (Fedora 41 and later).
    Dnf5,
    /// yum 3 (RHEL and `CentOS` 7).
    Yum,
}

/// Reads `dnf --version`: dnf 4 prints its version (`4.14.0`) on the first line, dnf5 prints
/// `dnf5 version 5.2.5.0`.
pub fn flavor_from_version(output: &str) -> Flavor {
    let first = output.lines().next().unwrap_or_default().trim();
    if first.starts_with("dnf5") || first.starts_with("5.") {
        Flavor::Dnf5
    } else {
        Flavor::Dnf4
    }
}

/// Settings of the dnf and yum backends. Production leaves `root` unset and `extra_arguments`
/// empty; tests point them at a throwaway root and a local repository.
#[derive(Debug, Clone)]
pub struct DnfSettings {
    /// Program to run; `None` runs `dnf`, or `dnf5` when only that exists.
    pub program: Option<String>,
    /// `--installroot` for dnf and yum and `--root` for rpm.
    pub root: Option<PathBuf>,
    /// Arguments added to every dnf or yum command, such as `--setopt=reposdir=DIR`.
    pub extra_arguments: Vec<String>,
    /// Expire cached metadata before detection (`--refresh`), so that updates published since
    /// the last download are seen.
    pub refresh_metadata: bool,
    /// Waiting while another process holds the lock.
    pub busy: BusyPolicy,
    /// Time limit of one detection command, which may download metadata.
    pub query_timeout: Duration,
    /// Time limit of one install, after which the tool is killed.
    pub install_timeout: Duration,
}

impl DnfSettings {
    /// Settings for the host's own dnf or yum.
    pub fn system(lock_wait: Duration, install_timeout: Duration) -> Self {
        Self {
            program: None,
            root: None,
            extra_arguments: Vec::new(),
            refresh_metadata: true,
            busy: BusyPolicy {
                max_wait: lock_wait,
                ..BusyPolicy::default()
            },
            query_timeout: Duration::from_mins(10),
            install_timeout,
        }
    }
}

/// Returns whether dnf can be used: `dnf` or `dnf5`, and `rpm`, are on `PATH`.
///
/// On RHEL 8 and later `yum` is a link to dnf, so a host with dnf is managed as dnf only.
pub fn is_available() -> bool {
    (is_on_path("dnf") || is_on_path("dnf5")) && is_on_path("rpm")
}

/// One update found by detection, with what the protocol does not carry yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectedUpdate {
    pub info: UpdateInfo,
    /// Highest severity of the security advisories the update fixes.
    pub severity: Option<String>,
    /// Ids of the advisories the update fixes.
    pub advisories: Vec<String>,
}

/// A dnf 4, dnf5 or yum program with its settings: the commands and their output handling that
/// the dnf and yum backends share.
#[derive(Debug, Clone)]
pub struct Frontend {
    /// Name of the manager in the protocol: `dnf` or `yum`.
    pub manager: &'static str,
    pub program: String,
    pub flavor: Flavor,
    pub settings: DnfSettings,
}

impl Frontend {
    /// Builds a command for `program` with the environment described in the module
    /// documentation.
    pub fn command(program: &str) -> Command {
        let mut command = Command::new(program);
        command.env("LC_ALL", "C").env_remove("LANGUAGE");
        command
    }

    /// Returns the arguments every dnf or yum command takes: the install root, `exit_on_lock`
    /// and the extra arguments of the settings.
    pub fn global_arguments(&self) -> Vec<OsString> {
        let mut arguments: Vec<OsString> = Vec::new();
        if let Some(root) = &self.settings.root {
            let mut option = OsString::from("--installroot=");
            option.push(root);
            arguments.push(option);
        }
        if self.flavor != Flavor::Dnf5 {
            arguments.push("--setopt=exit_on_lock=1".into());
        }
        arguments.extend(self.settings.extra_arguments.iter().map(OsString::from));
        arguments
    }

    /// Builds `PROGRAM GLOBAL... ARGUMENTS...`.
    pub fn tool_command(&self, arguments: &[&str]) -> Command {
        let mut command = Self::command(&self.program);
        command.args(self.global_arguments()).args(arguments);
        command
    }

    /// Runs a command built by `build` until the lock is free, with the busy policy.
    ///
    /// A run counts as busy when it failed with one of the lock messages of
    /// [`lock::lock_holder`], or timed out while waiting for the lock.
    pub fn run_while_busy(
        &self,
        build: impl Fn() -> Command,
        timeout: Duration,
    ) -> Result<Result<CommandOutput, CommandError>, busy::BusyTimeout> {
        busy::retry_while_busy(self.settings.busy, std::thread::sleep, || {
            let command = build();
            let description = describe(&command);
            let holder = match command::run(command, timeout) {
                Ok(output) if output.status.success() => return Attempt::Done(Ok(output)),
                Ok(output) => {
                    let combined = format!("{}\n{}", output.stdout, output.stderr);
                    match lock::lock_holder(&combined) {
                        Some(holder) => holder,
                        None => return Attempt::Done(Ok(output)),
                    }
                }
                Err(CommandError::Timeout { output_tail, .. })
                    if lock::lock_holder(&output_tail).is_some() =>
                {
                    lock::lock_holder(&output_tail).unwrap_or_default()
                }
                Err(error) => return Attempt::Done(Err(error)),
            };
            tracing::info!(manager = self.manager, command = %description, %holder, "package manager is locked");
            Attempt::Busy { holder }
        })
    }

    /// Runs a detection command: busy retries, then the output when the exit status is one of
    /// `accepted`.
    fn run_query(&self, arguments: &[&str], accepted: &[i32]) -> Result<CommandOutput, ScanError> {
        let description = describe(&self.tool_command(arguments));
        tracing::debug!(manager = self.manager, command = %description, "running");
        match self.run_while_busy(|| self.tool_command(arguments), self.settings.query_timeout) {
            Ok(Err(error)) => Err(error.into()),
            Ok(Ok(output))
                if output
                    .status
                    .code()
                    .is_some_and(|code| accepted.contains(&code)) =>
            {
                Ok(output)
            }
            Ok(Ok(output)) => Err(ScanError::CommandFailed {
                command: description,
                status: output.status.to_string(),
                output_tail: output.output_tail,
            }),
            Err(timeout) => Err(ScanError::CommandFailed {
                command: description,
                status: format!("still locked after {} s", timeout.waited.as_secs()),
                output_tail: timeout.to_string(),
            }),
        }
    }

    /// Reads the versionlock of this flavor below the install root.
    pub fn versionlock(&self) -> Result<Versionlock, ScanError> {
        Versionlock::read(self.flavor, self.settings.root.as_deref())
    }

    /// Returns the options that show the updates the versionlock plugin would hide: none for
    /// dnf5, whose versionlock is not a plugin, or when nothing is locked.
    fn unhide_locked(&self, lock: &Versionlock) -> Option<&'static str> {
        (self.flavor != Flavor::Dnf5 && !lock.is_empty()).then_some("--disableplugin=versionlock")
    }

    /// Lists the available updates; empty when `check-update` exits with 0.
    pub fn update_list(&self) -> Result<UpdateList, ScanError> {
        self.update_list_with(None)
    }

    fn update_list_with(&self, extra: Option<&str>) -> Result<UpdateList, ScanError> {
        let subcommand = match self.flavor {
            Flavor::Dnf5 => "check-upgrade",
            Flavor::Dnf4 | Flavor::Yum => "check-update",
        };
        let mut arguments = vec![subcommand];
        if let Some(extra) = extra {
            arguments.insert(0, extra);
        }
        if self.settings.refresh_metadata {
            arguments.insert(
                0,
                match self.flavor {
                    Flavor::Dnf4 | Flavor::Dnf5 => "--refresh",
                    // yum has no --refresh; an expiry of 0 has the same effect.
                    Flavor::Yum => "--setopt=metadata_expire=0",
                },
            );
        }
        let output = self.run_query(&arguments, &[0, EXIT_UPDATES_AVAILABLE])?;
        if output.status.code() == Some(0) {
            return Ok(UpdateList::default());
        }
        check_update::parse_update_list(&output.stdout).map_err(|error| ScanError::Parse {
            command: describe(&self.tool_command(&arguments)),
            reason: error.to_string(),
        })
    }

    /// Lists the advisories of the available updates.
    pub fn advisories(&self) -> Result<Vec<Advisory>, ScanError> {
        self.advisories_with(None)
    }

    fn advisories_with(&self, extra: Option<&str>) -> Result<Vec<Advisory>, ScanError> {
        let parse_error = |arguments: &[&str], error: ParseError| ScanError::Parse {
            command: describe(&self.tool_command(arguments)),
            reason: error.to_string(),
        };
        match self.flavor {
            Flavor::Dnf4 => {
                // The positional `updates` is the spelling of `--updates` that every dnf 4
                // release accepts, RHEL 8.0's included.
                let mut arguments = vec!["updateinfo", "list", "updates"];
                arguments.extend(extra);
                let output = self.run_query(&arguments, &[0])?;
                advisory::parse_updateinfo_list(&output.stdout)
                    .map_err(|error| parse_error(&arguments, error))
            }
            Flavor::Yum => {
                let mut arguments = vec!["updateinfo", "list", "security"];
                arguments.extend(extra);
                let output = self.run_query(&arguments, &[0])?;
                advisory::parse_updateinfo_list(&output.stdout)
                    .map_err(|error| parse_error(&arguments, error))
            }
            Flavor::Dnf5 => {
                let arguments = ["advisory", "list", "--updates", "--json"];
                match self.run_query(&arguments, &[0]) {
                    Ok(output) => advisory::parse_dnf5_json(&output.stdout)
                        .map_err(|error| parse_error(&arguments, error)),
                    // dnf5 before 5.2 has no --json for advisory list: read its table.
                    Err(ScanError::CommandFailed { output_tail, .. })
                        if output_tail.contains("--json") =>
                    {
                        let arguments = ["advisory", "list", "--updates"];
                        let output = self.run_query(&arguments, &[0])?;
                        advisory::parse_dnf5_table(&output.stdout)
                            .map_err(|error| parse_error(&arguments, error))
                    }
                    Err(error) => Err(error),
                }
            }
        }
    }

    /// Reads the installed versions of `names` from the RPM database.
    pub fn installed(&self, names: &[&str]) -> Result<Vec<InstalledPackage>, ScanError> {
        rpmdb::query(
            self.settings.root.as_deref(),
            names,
            self.settings.query_timeout,
        )
    }

    /// Lists every available update, each once, with its security classification, and marks
    /// the updates of locked packages as held.
    pub fn detect(&self) -> Result<Vec<DetectedUpdate>, ScanError> {
        let lock = self.versionlock()?;
        let unhide = self.unhide_locked(&lock);
        let list = self.update_list_with(unhide)?;
        if list.updates.is_empty() && list.obsoleting.is_empty() {
            return Ok(Vec::new());
        }
        let names: BTreeSet<&str> = list
            .updates
            .iter()
            .chain(list.obsoleting.iter().map(|entry| &entry.package))
            .map(|package| package.name.as_str())
            .collect();
        let installed = self.installed(&names.into_iter().collect::<Vec<_>>())?;
        let advisories = self.advisories_with(unhide)?;
        let mut updates = merge(self.manager, &list, &installed, &advisories);
        mark_locked(&mut updates, &lock);
        Ok(updates)
    }

    /// Asks `needs-restarting -r` whether the host must reboot to finish an update.
    pub fn reboot_required(&self) -> Result<bool, ScanError> {
        let command = match self.flavor {
            Flavor::Dnf4 | Flavor::Dnf5 => self.tool_command(&["needs-restarting", "-r"]),
            // The yum-utils script reads only the running system and takes no install root.
            Flavor::Yum => {
                let mut command = Self::command("needs-restarting");
                command.arg("-r");
                command
            }
        };
        let description = describe(&command);
        let output = command::run(command, self.settings.query_timeout)?;
        let combined = format!("{}\n{}", output.stdout, output.stderr);
        restart::parse_reboot_hint(
            output.status.code(),
            &output.status.to_string(),
            &combined,
            &output.output_tail,
        )
        .map_err(|error| ScanError::Parse {
            command: description,
            reason: error.to_string(),
        })
    }
}

/// Merges the update list, the installed versions and the advisories into one report entry per
/// update. Obsoleting packages that the list also shows as updates are reported once.
pub fn merge(
    manager: &str,
    list: &UpdateList,
    installed: &[InstalledPackage],
    advisories: &[Advisory],
) -> Vec<DetectedUpdate> {
    let mut updates: Vec<DetectedUpdate> = Vec::new();
    let mut seen: BTreeSet<(String, String, String)> = BTreeSet::new();

    for package in &list.updates {
        if !seen.insert(key(package)) {
            continue;
        }
        let new = Evr::parse(&package.evr);
        let current = rpmdb::newest(installed, &package.name, Some(&package.architecture))
            .or_else(|| rpmdb::newest(installed, &package.name, None));
        let classification = advisory::classify(
            &package.name,
            &package.architecture,
            current.map(|current| &current.evr),
            &new,
            advisories,
        );
        updates.push(detected(
            manager,
            package,
            current.map(|current| current.evr.to_string()),
            classification,
        ));
    }

    for entry in &list.obsoleting {
        let package = &entry.package;
        if !seen.insert(key(package)) {
            continue;
        }
        let new = Evr::parse(&package.evr);
        // The obsoleting package is new to the host, so only advisories for exactly the
        // version it brings make it a security update, not every older advisory of its name.
        let exact: Vec<Advisory> = advisories
            .iter()
            .filter(|advisory| advisory.package.evr.compare(&new).is_eq())
            .cloned()
            .collect();
        let classification =
            advisory::classify(&package.name, &package.architecture, None, &new, &exact);
        let current = rpmdb::newest(installed, &package.name, Some(&package.architecture));
        updates.push(detected(
            manager,
            package,
            current.map(|current| current.evr.to_string()),
            classification,
        ));
    }
    updates
}

/// Marks the updates of packages that the versionlock holds as held.
pub fn mark_locked(updates: &mut [DetectedUpdate], lock: &Versionlock) {
    for update in updates {
        if lock.holds(&update.info.name) {
            update.info.status = UpdateStatus::Held;
        }
    }
}

fn key(package: &ListedPackage) -> (String, String, String) {
    (
        package.name.clone(),
        package.architecture.clone(),
        Evr::parse(&package.evr).to_string(),
    )
}

fn detected(
    manager: &str,
    package: &ListedPackage,
    current_version: Option<String>,
    classification: Classification,
) -> DetectedUpdate {
    DetectedUpdate {
        info: UpdateInfo {
            manager: manager.to_owned(),
            name: package.name.clone(),
            architecture: Some(package.architecture.clone()),
            current_version,
            new_version: package.evr.clone(),
            origin: Some(package.repository.clone()),
            security: classification.security,
            // NOTE: `exclude=` in dnf.conf hides packages from check-update, so such packages
            // are not listed at all. Versionlocked ones are marked held by `mark_locked`.
            status: UpdateStatus::Available,
        },
        severity: classification.severity,
        advisories: classification.advisories,
    }
}

/// The dnf package manager, dnf 4 or dnf5.
#[derive(Debug)]
pub struct Dnf {
    settings: DnfSettings,
    flavor: OnceLock<Flavor>,
}

impl Dnf {
    pub fn new(settings: DnfSettings) -> Self {
        Self {
            settings,
            flavor: OnceLock::new(),
        }
    }

    pub fn settings(&self) -> &DnfSettings {
        &self.settings
    }

    fn program(&self) -> String {
        match &self.settings.program {
            Some(program) => program.clone(),
            None if !is_on_path("dnf") && is_on_path("dnf5") => "dnf5".to_owned(),
            None => "dnf".to_owned(),
        }
    }

    /// Returns whether the program is dnf 4 or dnf5, asking `PROGRAM --version` once.
    pub fn flavor(&self) -> Flavor {
        *self.flavor.get_or_init(|| {
            let program = self.program();
            if program.ends_with("dnf5") {
                return Flavor::Dnf5;
            }
            let mut command = Frontend::command(&program);
            command.arg("--version");
            match command::run(command, Duration::from_mins(1)) {
                Ok(output) if output.status.success() => flavor_from_version(&output.stdout),
                Ok(output) => {
                    tracing::warn!(manager = MANAGER, status = %output.status, "`dnf --version` failed, assuming dnf 4");
                    Flavor::Dnf4
                }
                Err(error) => {
                    tracing::warn!(manager = MANAGER, %error, "`dnf --version` failed, assuming dnf 4");
                    Flavor::Dnf4
                }
            }
        })
    }

    /// Returns the frontend that runs the commands.
    pub fn frontend(&self) -> Frontend {
        Frontend {
            manager: MANAGER,
            program: self.program(),
            flavor: self.flavor(),
            settings: self.settings.clone(),
        }
    }

    /// Detection with the severities and advisory ids that [`UpdateInfo`] does not carry.
    pub fn detect_detailed(&self) -> Result<Vec<DetectedUpdate>, ScanError> {
        self.frontend().detect()
    }

    /// Runs `dnf needs-restarting -r`; an error when the plugin is missing.
    pub fn check_reboot(&self) -> Result<bool, ScanError> {
        self.frontend().reboot_required()
    }
}

impl PackageManager for Dnf {
    fn name(&self) -> &'static str {
        MANAGER
    }

    fn detect_updates(&self) -> Result<Vec<UpdateInfo>, ScanError> {
        Ok(self
            .detect_detailed()?
            .into_iter()
            .map(|update| update.info)
            .collect())
    }

    fn install(&self, selection: &InstallSelection) -> InstallOutcome {
        install::install(&self.frontend(), selection)
    }

    fn reboot_required(&self) -> bool {
        match self.check_reboot() {
            Ok(required) => required,
            Err(error) => {
                tracing::warn!(manager = MANAGER, %error, "could not tell whether a reboot is required");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::dnf::advisory::AdvisoryKind;
    use crate::packages::version::rpm::Nevra;

    #[test]
    fn flavors() {
        assert_eq!(
            flavor_from_version("4.14.0\n  Installed: dnf-0:4.14.0-9.el9.noarch\n"),
            Flavor::Dnf4
        );
        assert_eq!(
            flavor_from_version("dnf5 version 5.2.5.0\ndnf5 plugin API version 2.0\n"),
            Flavor::Dnf5
        );
    }

    fn frontend(flavor: Flavor) -> Frontend {
        let mut settings = DnfSettings::system(Duration::from_secs(1), Duration::from_secs(1));
        settings.root = Some(PathBuf::from("/tmp/root"));
        settings.extra_arguments = vec!["--setopt=reposdir=/tmp/repos".into()];
        Frontend {
            manager: MANAGER,
            program: "dnf".into(),
            flavor,
            settings,
        }
    }

    #[test]
    fn global_arguments_by_flavor() {
        assert_eq!(
            frontend(Flavor::Dnf4).global_arguments(),
            [
                "--installroot=/tmp/root",
                "--setopt=exit_on_lock=1",
                "--setopt=reposdir=/tmp/repos"
            ]
        );
        assert_eq!(
            frontend(Flavor::Dnf5).global_arguments(),
            ["--installroot=/tmp/root", "--setopt=reposdir=/tmp/repos"]
        );
    }

    fn listed(name: &str, arch: &str, evr: &str) -> ListedPackage {
        ListedPackage {
            name: name.into(),
            architecture: arch.into(),
            evr: evr.into(),
            repository: "updates".into(),
        }
    }

    fn installed(name: &str, arch: &str, evr: &str) -> InstalledPackage {
        InstalledPackage {
            name: name.into(),
            architecture: arch.into(),
            evr: Evr::parse(evr),
        }
    }

    /// Name, current version, new version, security flag and severity of one update.
    type Row<'a> = (&'a str, Option<&'a str>, &'a str, bool, Option<&'a str>);

    #[test]
    fn merge_reports_each_update_once_with_security() {
        let list = UpdateList {
            updates: vec![
                listed("openssl-libs", "x86_64", "1:3.0.7-27.el9_4.1"),
                listed("openssl-libs", "x86_64", "1:3.0.7-27.el9_4.1"),
                listed("kernel-core", "x86_64", "5.14.0-427.16.1.el9_4"),
                listed("tzdata", "noarch", "2024a-1.el9"),
            ],
            obsoleting: vec![check_update::Obsoleting {
                package: listed("kernel-core", "x86_64", "5.14.0-427.16.1.el9_4"),
                replaces: vec![listed("kernel-old", "x86_64", "1-1")],
            }],
        };
        let installed = [
            installed("openssl-libs", "x86_64", "1:3.0.7-27.el9"),
            installed("kernel-core", "x86_64", "5.14.0-362.8.1.el9_3"),
            installed("kernel-core", "x86_64", "5.14.0-427.13.1.el9_4"),
            installed("tzdata", "noarch", "2023c-1.el9"),
        ];
        let advisories = [
            Advisory {
                id: "RHSA-2024:2779".into(),
                kind: AdvisoryKind::Security,
                severity: Some("Moderate".into()),
                package: Nevra::parse("openssl-libs-1:3.0.7-27.el9_4.1.x86_64").unwrap(),
            },
            Advisory {
                id: "RHBA-2024:2400".into(),
                kind: AdvisoryKind::Bugfix,
                severity: None,
                package: Nevra::parse("tzdata-2024a-1.el9.noarch").unwrap(),
            },
        ];
        let updates = merge(MANAGER, &list, &installed, &advisories);
        let summary: Vec<Row<'_>> = updates
            .iter()
            .map(|update| {
                (
                    update.info.name.as_str(),
                    update.info.current_version.as_deref(),
                    update.info.new_version.as_str(),
                    update.info.security,
                    update.severity.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "openssl-libs",
                    Some("1:3.0.7-27.el9"),
                    "1:3.0.7-27.el9_4.1",
                    true,
                    Some("Moderate")
                ),
                (
                    "kernel-core",
                    Some("5.14.0-427.13.1.el9_4"),
                    "5.14.0-427.16.1.el9_4",
                    false,
                    None
                ),
                ("tzdata", Some("2023c-1.el9"), "2024a-1.el9", false, None),
            ]
        );
        assert_eq!(updates[2].advisories, ["RHBA-2024:2400"]);
        assert_eq!(updates[0].info.origin.as_deref(), Some("updates"));
    }
}
