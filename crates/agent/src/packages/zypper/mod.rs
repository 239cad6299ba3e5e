//! The zypper backend for openSUSE and SLES: update detection from zypper's XML output, patches,
//! security classification, installs and the reboot flag.
//!
//! Detection reads `zypper --xmlout list-updates` (package updates) and `zypper --xmlout
//! list-patches` (patches with category and severity). Patches are reported as updates named
//! `patch:ID`, the name zypper itself accepts for them; a patch of category `security` is a
//! security update, and so is every package update that brings a version a needed security patch
//! requires (read from `zypper info -t patch`, see [`patch_info`]).
//!
//! Packages that a lock (`zypper addlock`, stored in `/etc/zypp/locks`) matches are reported as
//! held. zypper leaves them out of `list-updates`, so when there are package locks, detection
//! also reads `list-updates --all` for the updates of the locked packages. "All" and "security
//! only" skip them, and a job that names one gets a not-attempted result for it.
//!
//! Every command runs without a shell, with `--non-interactive`, `LC_ALL=C` and without
//! `LANGUAGE`. Another zypper, `YaST` or `PackageKit` holding the zypp lock makes zypper exit with
//! status 7, which is busy: the agent retries with its busy policy.

pub mod install;
pub mod patch_info;
pub mod xml;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use sysmanage_protocol::{UpdateInfo, UpdateStatus};

use self::patch_info::FixedPackage;
use self::xml::{Listing, Update};
use super::busy::{self, Attempt, BusyPolicy};
use super::command::{self, CommandError, CommandOutput, describe};
use super::dnf::rpmdb::{self, InstalledPackage};
use super::version::rpm::Evr;
use super::{InstallOutcome, InstallSelection, PackageManager, ScanError, is_on_path};

/// Name of this manager in the protocol.
pub const MANAGER: &str = "zypper";

/// Prefix of the names under which patches are reported and installed.
pub const PATCH_PREFIX: &str = "patch:";

/// What an exit status of zypper means (`zypper(8)`, EXIT CODES).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0, and the informational 100 (`ZYPPER_EXIT_INF_UPDATE_NEEDED`) and 101
    /// (`ZYPPER_EXIT_INF_SEC_UPDATE_NEEDED`) of `patch-check`.
    Success,
    /// 102 (`ZYPPER_EXIT_INF_REBOOT_NEEDED`): done, and a patch asks for a reboot.
    RebootNeeded,
    /// 103 (`ZYPPER_EXIT_INF_RESTART_NEEDED`): zypper updated itself and must run again.
    RestartNeeded,
    /// 106 (`ZYPPER_EXIT_INF_REPOS_SKIPPED`): done, but some repositories could not be read.
    RepositoriesSkipped,
    /// 7 (`ZYPPER_EXIT_ZYPP_LOCKED`): another process holds the zypp lock.
    Locked,
    /// 104 (`ZYPPER_EXIT_INF_CAP_NOT_FOUND`): a requested package or version does not exist.
    NotFound,
    /// 107 (`ZYPPER_EXIT_INF_RPM_SCRIPT_FAILED`): installed, but a package script failed.
    ScriptFailed,
    /// Any other status, or a signal.
    Failed,
}

/// Decodes an exit status of zypper.
pub fn decode_exit(code: Option<i32>) -> Exit {
    match code {
        Some(0 | 100 | 101) => Exit::Success,
        Some(102) => Exit::RebootNeeded,
        Some(103) => Exit::RestartNeeded,
        Some(106) => Exit::RepositoriesSkipped,
        Some(7) => Exit::Locked,
        Some(104) => Exit::NotFound,
        Some(107) => Exit::ScriptFailed,
        _ => Exit::Failed,
    }
}

/// Returns who holds the zypp lock, from `System management is locked by the application with
/// pid 1234 (zypper).`
pub fn lock_holder(output: &str) -> String {
    const MARKER: &str = "locked by the application with pid ";
    output
        .find(MARKER)
        .map(|start| &output[start + MARKER.len()..])
        .and_then(|rest| {
            let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let name = rest[pid.len()..]
                .trim_start()
                .strip_prefix('(')
                .and_then(|name| name.split_once(')'))
                .map(|(name, _)| name.to_owned());
            match (pid.is_empty(), name) {
                (false, Some(name)) => Some(format!("{name} (pid {pid})")),
                (false, None) => Some(format!("pid {pid}")),
                (true, _) => None,
            }
        })
        .unwrap_or_else(|| "another process using libzypp".to_owned())
}

/// Settings of the zypper backend. Production leaves `root` unset and `extra_arguments` empty;
/// tests point them at a throwaway root.
#[derive(Debug, Clone)]
pub struct ZypperSettings {
    /// `--root` for zypper and rpm.
    pub root: Option<PathBuf>,
    /// Global options added to every zypper command, before the command name.
    pub extra_arguments: Vec<String>,
    /// Run `zypper refresh` before detection, so that updates published since the last
    /// refresh are seen.
    pub refresh_metadata: bool,
    /// Waiting while another process holds the zypp lock.
    pub busy: BusyPolicy,
    /// Time limit of one detection command, which may download metadata.
    pub query_timeout: Duration,
    /// Time limit of one install, after which zypper is killed.
    pub install_timeout: Duration,
}

impl ZypperSettings {
    /// Settings for the host's own zypper.
    pub fn system(lock_wait: Duration, install_timeout: Duration) -> Self {
        Self {
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

/// Returns whether zypper can be used: `zypper` and `rpm` are on `PATH`.
pub fn is_available() -> bool {
    is_on_path("zypper") && is_on_path("rpm")
}

/// One update found by detection, with what the protocol does not carry yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectedUpdate {
    pub info: UpdateInfo,
    /// Severity of the patch, or the highest severity of the security patches that the package
    /// update satisfies.
    pub severity: Option<String>,
    /// Names of those patches.
    pub patches: Vec<String>,
}

/// The zypper package manager.
#[derive(Debug, Clone)]
pub struct Zypper {
    settings: ZypperSettings,
}

impl Zypper {
    pub fn new(settings: ZypperSettings) -> Self {
        Self { settings }
    }

    pub fn settings(&self) -> &ZypperSettings {
        &self.settings
    }

    /// Builds a command for `program` with the environment described in the module
    /// documentation.
    fn environment(program: &str) -> Command {
        let mut command = Command::new(program);
        command.env("LC_ALL", "C").env_remove("LANGUAGE");
        command
    }

    /// Returns the global options: `--non-interactive`, `--root` and the extra arguments.
    pub fn global_arguments(&self) -> Vec<OsString> {
        let mut arguments: Vec<OsString> = vec!["--non-interactive".into()];
        if let Some(root) = &self.settings.root {
            arguments.push("--root".into());
            arguments.push(root.into());
        }
        arguments.extend(self.settings.extra_arguments.iter().map(OsString::from));
        arguments
    }

    /// Builds `zypper GLOBAL... [--xmlout] ARGUMENTS...`.
    pub fn command(&self, xml: bool, arguments: &[&str]) -> Command {
        let mut command = Self::environment("zypper");
        command.args(self.global_arguments());
        if xml {
            command.arg("--xmlout");
        }
        command.args(arguments);
        command
    }

    /// Runs a command until the zypp lock is free, with the busy policy.
    pub fn run_while_busy(
        &self,
        build: impl Fn() -> Command,
        timeout: Duration,
    ) -> Result<Result<CommandOutput, CommandError>, busy::BusyTimeout> {
        busy::retry_while_busy(self.settings.busy, std::thread::sleep, || {
            let command = build();
            let description = describe(&command);
            match command::run(command, timeout) {
                Ok(output) if decode_exit(output.status.code()) == Exit::Locked => {
                    let holder = lock_holder(&format!("{}\n{}", output.stdout, output.stderr));
                    tracing::info!(manager = MANAGER, command = %description, %holder, "package manager is locked");
                    Attempt::Busy { holder }
                }
                result => Attempt::Done(result),
            }
        })
    }

    /// Runs a detection command and returns its output unless zypper failed.
    fn run_query(&self, xml: bool, arguments: &[&str]) -> Result<CommandOutput, ScanError> {
        let description = describe(&self.command(xml, arguments));
        tracing::debug!(manager = MANAGER, command = %description, "running");
        let output = match self
            .run_while_busy(|| self.command(xml, arguments), self.settings.query_timeout)
        {
            Ok(result) => result?,
            Err(timeout) => {
                return Err(ScanError::CommandFailed {
                    command: description,
                    status: format!("still locked after {} s", timeout.waited.as_secs()),
                    output_tail: timeout.to_string(),
                });
            }
        };
        match decode_exit(output.status.code()) {
            Exit::Success | Exit::RebootNeeded => Ok(output),
            Exit::RepositoriesSkipped => {
                // The other repositories were read; the skipped ones are named in the output.
                tracing::warn!(manager = MANAGER, command = %description, output = %output.output_tail, "some repositories were skipped");
                Ok(output)
            }
            _ => Err(ScanError::CommandFailed {
                command: description,
                status: output.status.to_string(),
                output_tail: output.output_tail,
            }),
        }
    }

    fn listing(&self, arguments: &[&str]) -> Result<Listing, ScanError> {
        let output = self.run_query(true, arguments)?;
        xml::parse_listing(&output.stdout).map_err(|error| ScanError::Parse {
            command: describe(&self.command(true, arguments)),
            reason: error.to_string(),
        })
    }

    /// Returns the names of the packages that a lock matches, from `zypper locks --solvables`.
    pub fn locked_packages(&self) -> Result<BTreeSet<String>, ScanError> {
        let arguments = ["locks", "--solvables"];
        let output = self.run_query(true, &arguments)?;
        let locks = xml::parse_locks(&output.stdout).map_err(|error| ScanError::Parse {
            command: describe(&self.command(true, &arguments)),
            reason: error.to_string(),
        })?;
        Ok(xml::locked_package_names(&locks))
    }

    /// Reads the packages that each of `patches` requires.
    fn fixed_packages(
        &self,
        patches: &[&str],
    ) -> Result<std::collections::BTreeMap<String, Vec<FixedPackage>>, ScanError> {
        if patches.is_empty() {
            return Ok(std::collections::BTreeMap::new());
        }
        let mut arguments = vec!["info", "-t", "patch"];
        arguments.extend(patches);
        let output = self.run_query(false, &arguments)?;
        Ok(patch_info::parse_patch_info(&output.stdout))
    }

    /// Reads installed versions of `names` from the RPM database.
    pub fn installed(&self, names: &[&str]) -> Result<Vec<InstalledPackage>, ScanError> {
        rpmdb::query(
            self.settings.root.as_deref(),
            names,
            self.settings.query_timeout,
        )
    }

    /// Lists package updates and patches, each once, with their security classification.
    pub fn detect_detailed(&self) -> Result<Vec<DetectedUpdate>, ScanError> {
        if self.settings.refresh_metadata {
            self.run_query(false, &["refresh"])?;
        }
        let mut packages = self.listing(&["list-updates"])?;
        let locked = self.locked_packages()?;
        if !locked.is_empty() {
            let everything = self.listing(&["list-updates", "--all"])?;
            add_locked_updates(&mut packages.updates, everything.updates, &locked);
        }
        let patches = self.listing(&["list-patches"])?;
        let security_patches: Vec<&str> = patches
            .updates
            .iter()
            .filter(|patch| is_security_patch(patch) && patch.status.as_deref() == Some("needed"))
            .map(|patch| patch.name.as_str())
            .collect();
        let fixed = self.fixed_packages(&security_patches)?;

        // zypper before 1.14 has no edition-old; the RPM database has the installed version.
        let missing: BTreeSet<&str> = packages
            .updates
            .iter()
            .filter(|update| update.kind == "package" && update.edition_old.is_none())
            .map(|update| update.name.as_str())
            .collect();
        let installed = self.installed(&missing.into_iter().collect::<Vec<_>>())?;

        let mut updates = merge(&packages.updates, &patches.updates, &fixed, &installed);
        mark_locked(&mut updates, &locked);
        Ok(updates)
    }

    /// Runs `zypper needs-rebooting`: status 102 when a reboot is needed, 0 when not.
    pub fn check_reboot(&self) -> Result<bool, ScanError> {
        let command = self.command(false, &["needs-rebooting"]);
        let description = describe(&command);
        let output = command::run(command, self.settings.query_timeout)?;
        match output.status.code() {
            Some(0) => Ok(false),
            Some(102) => Ok(true),
            _ => Err(ScanError::CommandFailed {
                command: description,
                status: output.status.to_string(),
                output_tail: output.output_tail,
            }),
        }
    }
}

/// Adds the package updates of `everything` (`list-updates --all`) whose package is locked and
/// that `updates` does not list yet.
pub fn add_locked_updates(
    updates: &mut Vec<Update>,
    everything: Vec<Update>,
    locked: &BTreeSet<String>,
) {
    for update in everything {
        let listed = updates.iter().any(|known| {
            known.kind == update.kind
                && known.name == update.name
                && known.architecture == update.architecture
        });
        if update.kind == "package" && locked.contains(&update.name) && !listed {
            updates.push(update);
        }
    }
}

/// Marks the package updates of locked packages as held.
pub fn mark_locked(updates: &mut [DetectedUpdate], locked: &BTreeSet<String>) {
    for update in updates {
        if !update.info.name.starts_with(PATCH_PREFIX) && locked.contains(&update.info.name) {
            update.info.status = UpdateStatus::Held;
        }
    }
}

/// Returns whether a patch is a security patch.
pub fn is_security_patch(patch: &Update) -> bool {
    patch.kind == "patch" && patch.category.as_deref() == Some("security")
}

/// Merges package updates and patches into the report, marking package updates that satisfy a
/// needed security patch.
pub fn merge(
    packages: &[Update],
    patches: &[Update],
    fixed: &std::collections::BTreeMap<String, Vec<FixedPackage>>,
    installed: &[InstalledPackage],
) -> Vec<DetectedUpdate> {
    let mut updates = Vec::new();
    let mut seen = BTreeSet::new();

    for package in packages.iter().filter(|update| update.kind == "package") {
        if !seen.insert((
            package.name.clone(),
            package.architecture.clone(),
            package.edition.clone(),
        )) {
            continue;
        }
        let current = package.edition_old.clone().or_else(|| {
            rpmdb::newest(installed, &package.name, Some(&package.architecture))
                .map(|installed| installed.evr.to_string())
        });
        let new = Evr::parse(&package.edition);
        let old = current.as_deref().map(Evr::parse);
        let mut covering: Vec<&Update> = patches
            .iter()
            .filter(|patch| is_security_patch(patch))
            .filter(|patch| {
                fixed.get(&patch.name).is_some_and(|packages| {
                    packages.iter().any(|fix| {
                        fixes(
                            fix,
                            &package.name,
                            &package.architecture,
                            old.as_ref(),
                            &new,
                        )
                    })
                })
            })
            .collect();
        covering.sort_by(|left, right| left.name.cmp(&right.name));
        let severity = covering
            .iter()
            .filter_map(|patch| patch.severity.clone())
            .max_by_key(|severity| severity_rank(severity));
        updates.push(DetectedUpdate {
            info: UpdateInfo {
                manager: MANAGER.to_owned(),
                name: package.name.clone(),
                architecture: Some(package.architecture.clone()).filter(|arch| !arch.is_empty()),
                current_version: current,
                new_version: package.edition.clone(),
                origin: package.repository.clone(),
                security: !covering.is_empty(),
                status: if package.blocked {
                    UpdateStatus::Deferred
                } else {
                    UpdateStatus::Available
                },
            },
            severity,
            patches: covering.iter().map(|patch| patch.name.clone()).collect(),
        });
    }

    for patch in patches.iter().filter(|update| update.kind == "patch") {
        let status = match patch.status.as_deref() {
            Some("needed") | None => UpdateStatus::Available,
            // A patch the administrator locked with `zypper addlock -t patch`.
            Some("unwanted") => UpdateStatus::Held,
            Some(_) => continue,
        };
        updates.push(DetectedUpdate {
            info: UpdateInfo {
                manager: MANAGER.to_owned(),
                name: format!("{PATCH_PREFIX}{}", patch.name),
                architecture: Some(patch.architecture.clone()).filter(|arch| !arch.is_empty()),
                current_version: None,
                new_version: patch.edition.clone(),
                origin: patch.repository.clone(),
                security: is_security_patch(patch),
                status: if patch.blocked {
                    UpdateStatus::Deferred
                } else {
                    status
                },
            },
            severity: patch
                .severity
                .clone()
                .filter(|severity| severity != "unspecified"),
            patches: vec![patch.name.clone()],
        });
    }
    updates
}

/// Returns whether updating `name.architecture` from `old` to `new` installs `fix`: the fixed
/// edition is newer than the installed one and not newer than the update.
fn fixes(fix: &FixedPackage, name: &str, architecture: &str, old: Option<&Evr>, new: &Evr) -> bool {
    let edition = Evr::parse(&fix.edition);
    fix.name == name
        && fix.architecture.as_deref().is_none_or(|fixed| {
            fixed == architecture || fixed == "noarch" || architecture == "noarch"
        })
        && edition.compare(new).is_le()
        && old.is_none_or(|old| edition.compare(old).is_gt())
}

fn severity_rank(severity: &str) -> u8 {
    match severity.to_ascii_lowercase().as_str() {
        "critical" => 5,
        "important" => 4,
        "moderate" => 3,
        "low" => 2,
        _ => 1,
    }
}

impl PackageManager for Zypper {
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
        install::install(self, selection)
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

    fn fixture(path: &str) -> String {
        let path = format!("{}/testdata/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[test]
    fn exit_codes() {
        let cases = [
            (Some(0), Exit::Success),
            (Some(100), Exit::Success),
            (Some(101), Exit::Success),
            (Some(102), Exit::RebootNeeded),
            (Some(103), Exit::RestartNeeded),
            (Some(104), Exit::NotFound),
            (Some(106), Exit::RepositoriesSkipped),
            (Some(107), Exit::ScriptFailed),
            (Some(7), Exit::Locked),
            (Some(4), Exit::Failed),
            (None, Exit::Failed),
        ];
        for (code, exit) in cases {
            assert_eq!(decode_exit(code), exit, "{code:?}");
        }
    }

    #[test]
    fn lock_holders() {
        assert_eq!(
            lock_holder(&fixture("zypper/locked.xml")),
            "sleep (pid 14941)"
        );
        assert_eq!(
            lock_holder(
                "System management is locked by the application with pid 812 (/usr/bin/zypper).\n"
            ),
            "/usr/bin/zypper (pid 812)"
        );
        assert_eq!(
            lock_holder("something else"),
            "another process using libzypp"
        );
    }

    #[test]
    fn global_arguments_with_root() {
        let mut settings = ZypperSettings::system(Duration::from_secs(1), Duration::from_secs(1));
        settings.root = Some(PathBuf::from("/tmp/root"));
        settings.extra_arguments = vec!["--no-gpg-checks".into()];
        let zypper = Zypper::new(settings);
        assert_eq!(
            zypper.global_arguments(),
            [
                "--non-interactive",
                "--root",
                "/tmp/root",
                "--no-gpg-checks"
            ]
        );
        let command = zypper.command(true, &["list-updates"]);
        assert_eq!(
            describe(&command),
            "zypper --non-interactive --root /tmp/root --no-gpg-checks --xmlout list-updates"
        );
    }

    /// Name, current version, new version, security flag and severity of one update.
    type Row<'a> = (&'a str, Option<&'a str>, &'a str, bool, Option<&'a str>);

    #[test]
    fn locked_packages_are_added_and_held() {
        let locks = xml::parse_locks(&fixture("zypper/locks-solvables.xml")).unwrap();
        let locked = xml::locked_package_names(&locks);
        // zypper 1.14 leaves locked packages out of `list-updates`.
        let mut packages = Vec::new();
        let everything = xml::parse_listing(&fixture("zypper/list-updates-all.xml")).unwrap();
        add_locked_updates(&mut packages, everything.updates.clone(), &locked);
        add_locked_updates(&mut packages, everything.updates, &locked);
        let names: Vec<&str> = packages.iter().map(|update| update.name.as_str()).collect();
        assert_eq!(names, ["smtest-other", "smtest-plain"]);

        let mut updates = merge(&packages, &[], &std::collections::BTreeMap::new(), &[]);
        mark_locked(&mut updates, &locked);
        let summary: Vec<(&str, Option<&str>, &str, UpdateStatus)> = updates
            .iter()
            .map(|update| {
                (
                    update.info.name.as_str(),
                    update.info.current_version.as_deref(),
                    update.info.new_version.as_str(),
                    update.info.status,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("smtest-other", Some("1.0-1"), "2.0-1", UpdateStatus::Held),
                ("smtest-plain", Some("1.0-1"), "2.0-1", UpdateStatus::Held),
            ]
        );
    }

    #[test]
    fn unlocked_packages_stay_available() {
        let packages = xml::parse_listing(&fixture("zypper/list-updates.xml")).unwrap();
        let mut updates = merge(
            &packages.updates,
            &[],
            &std::collections::BTreeMap::new(),
            &[],
        );
        let locked = BTreeSet::from(["smtest-other".to_owned()]);
        mark_locked(&mut updates, &locked);
        assert!(!updates.is_empty());
        assert!(
            updates
                .iter()
                .all(|update| update.info.status == UpdateStatus::Available),
            "{updates:?}"
        );
    }

    #[test]
    fn fixtures_merge() {
        let packages = xml::parse_listing(&fixture("zypper/list-updates.xml")).unwrap();
        let patches = xml::parse_listing(&fixture("zypper/list-patches.xml")).unwrap();
        let mut fixed = patch_info::parse_patch_info(&fixture("zypper/patch-info.txt"));
        // Only needed security patches are looked up during detection.
        fixed.remove("SMTEST-2026-0002");
        let updates = merge(&packages.updates, &patches.updates, &fixed, &[]);
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
                ("smtest-a", Some("1.0-1"), "1.1-1", false, None),
                (
                    "smtest-epoch",
                    Some("1:1.0-1"),
                    "2:1.5-1",
                    true,
                    Some("important")
                ),
                ("smtest-plain", Some("1.0-1"), "2.0-1", false, None),
                (
                    "smtest-secure",
                    Some("1.0-1"),
                    "2.0-1",
                    true,
                    Some("important")
                ),
                ("patch:SMTEST-2026-0001", None, "1", true, Some("important")),
                ("patch:SMTEST-2026-0002", None, "1", false, Some("moderate")),
            ]
        );
        assert_eq!(updates[1].patches, ["SMTEST-2026-0001"]);
        assert_eq!(updates[0].info.origin.as_deref(), Some("zt"));
        assert!(
            updates
                .iter()
                .all(|update| update.info.status == UpdateStatus::Available)
        );
    }

    #[test]
    fn blocked_updates_are_deferred_and_old_version_from_rpm() {
        let packages = xml::parse_listing(&fixture("zypper/list-updates-blocked.xml")).unwrap();
        let installed =
            rpmdb::parse_installed("libfoo1\t(none)\t1.0\t150500.1.1\tx86_64\n").unwrap();
        let updates = merge(
            &packages.updates,
            &[],
            &std::collections::BTreeMap::new(),
            &installed,
        );
        assert_eq!(updates[1].info.status, UpdateStatus::Deferred);
        assert_eq!(
            updates[1].info.current_version.as_deref(),
            Some("1.0-150500.1.1")
        );
    }

    #[test]
    fn fix_ranges() {
        let fix = FixedPackage {
            name: "kernel-default".into(),
            architecture: Some("x86_64".into()),
            edition: "5.14.21-150500.55.65.1".into(),
        };
        let old = Evr::parse("5.14.21-150500.55.62.2");
        let new = Evr::parse("5.14.21-150500.55.68.1");
        assert!(fixes(&fix, "kernel-default", "x86_64", Some(&old), &new));
        assert!(!fixes(&fix, "kernel-default", "aarch64", Some(&old), &new));
        assert!(!fixes(&fix, "kernel-default", "x86_64", Some(&new), &new));
        assert!(!fixes(
            &fix,
            "kernel-default",
            "x86_64",
            Some(&old),
            &Evr::parse("5.14.21-150500.55.64.1")
        ));
    }
}
