//! The Homebrew backend for macOS formulae and casks: update detection and installs.
//!
//! Written against Homebrew 4.x on macOS 13 Ventura and 14 Sonoma. brew never runs as root:
//! every command runs as the owner of the Homebrew repository directory with that user's home
//! and a plain environment (see [`owner`]), with `HOMEBREW_NO_AUTO_UPDATE`,
//! `HOMEBREW_NO_INSTALL_CLEANUP`, `HOMEBREW_NO_ANALYTICS` and `NONINTERACTIVE` set. A root-owned
//! prefix is refused.
//!
//! Detection reads `brew outdated --json=v2` without `--greedy`, so casks that update
//! themselves (`auto_updates true`) or have no version (`:latest`) are not listed, as Homebrew
//! does by default. `brew update` runs first only when [`BrewSettings::update_first`] is set
//! (the agent configuration key `brew.update_first`), because it fetches the taps from the
//! network. Pinned formulae are reported as held and never upgraded. Homebrew has no security
//! metadata: every update has `security: false`, and a security-only install is unsupported.
//! Runs that find another brew holding a lock are retried with backoff (see
//! [`crate::packages::busy`]).

pub mod detect;
pub mod install;
pub mod owner;

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use sysmanage_protocol::{
    JobFailure, JobFailureKind, PackageOutcome, PackageSpec, UpdateInfo, UpdateStatus,
};

use self::detect::{Kind, Outdated};
use self::install::Plan;
use self::owner::{Installation, Owner, OwnerError};
use super::busy::{self, Attempt, BusyPolicy, BusyTimeout};
use super::command::{self, CommandError, CommandOutput, describe};
use super::{InstallOutcome, InstallSelection, PackageManager, ScanError};

/// Name of this manager in the protocol.
pub const MANAGER: &str = "brew";

const DETECTION_TIMEOUT: Duration = Duration::from_mins(15);
const QUERY_TIMEOUT: Duration = Duration::from_mins(2);

/// Returns whether Homebrew is installed in one of its standard places.
pub fn is_available() -> bool {
    owner::locate(std::path::Path::exists).is_some()
}

/// Settings of the Homebrew backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrewSettings {
    /// Run `brew update` before each detection. Off by default: it fetches every tap.
    pub update_first: bool,
    pub busy: BusyPolicy,
    pub install_timeout: Duration,
}

impl Default for BrewSettings {
    fn default() -> Self {
        Self {
            update_first: false,
            busy: BusyPolicy::default(),
            install_timeout: Duration::from_hours(1),
        }
    }
}

/// Homebrew.
#[derive(Debug, Clone, Default)]
pub struct Brew {
    settings: BrewSettings,
}

/// Where brew is and whom it runs as, found anew for each operation.
#[derive(Debug, Clone)]
struct Context {
    installation: Installation,
    owner: Owner,
}

/// Error of a brew run that gave no output to interpret.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Busy(#[from] BusyTimeout),
}

impl Context {
    fn find() -> Result<Self, OwnerError> {
        let installation =
            owner::locate(std::path::Path::exists).ok_or(OwnerError::NotInstalled)?;
        let owner = owner::resolve_owner(&installation)?;
        Ok(Self {
            installation,
            owner,
        })
    }

    /// Builds a brew command that runs as the owner, never as root.
    fn command(&self, arguments: &[String]) -> Command {
        let mut command = Command::new(&self.installation.brew);
        command
            .args(arguments)
            .env_clear()
            .envs(owner::brew_environment(&self.owner, &self.installation))
            .current_dir(&self.owner.home)
            .gid(self.owner.gid)
            .uid(self.owner.uid);
        command
    }
}

impl Brew {
    pub fn new(settings: BrewSettings) -> Self {
        Self { settings }
    }

    /// Runs brew, and retries with backoff while another brew process holds a lock.
    fn run_retrying(
        &self,
        context: &Context,
        arguments: &[String],
        timeout: Duration,
    ) -> Result<CommandOutput, RunError> {
        let result =
            busy::retry_while_busy(
                self.settings.busy,
                std::thread::sleep,
                || match command::run(context.command(arguments), timeout) {
                    Ok(output) => {
                        let holder = detect::lock_holder(&output.stderr)
                            .or_else(|| detect::lock_holder(&output.stdout));
                        match holder {
                            Some(holder) if !output.status.success() => Attempt::Busy { holder },
                            _ => Attempt::Done(Ok(output)),
                        }
                    }
                    Err(error) => Attempt::Done(Err(error)),
                },
            )?;
        Ok(result?)
    }

    fn outdated(&self, context: &Context) -> Result<Vec<Outdated>, ScanError> {
        if self.settings.update_first {
            let arguments = vec!["update".to_owned()];
            let description = describe(&context.command(&arguments));
            let output = self
                .run_retrying(context, &arguments, DETECTION_TIMEOUT)
                .map_err(|error| scan_error(&description, error))?;
            if !output.status.success() {
                return Err(ScanError::CommandFailed {
                    command: description,
                    status: output.status.to_string(),
                    output_tail: output.output_tail,
                });
            }
        }
        let arguments = vec!["outdated".to_owned(), "--json=v2".to_owned()];
        let description = describe(&context.command(&arguments));
        let output = self
            .run_retrying(context, &arguments, DETECTION_TIMEOUT)
            .map_err(|error| scan_error(&description, error))?;
        // brew outdated exits 1 when it was given names and some are outdated; the JSON decides.
        let parsed = detect::parse_outdated(&output.stdout);
        match (output.status.code(), parsed) {
            (Some(0 | 1), Ok(items)) => Ok(items),
            (Some(0), Err(error)) => Err(ScanError::Parse {
                command: description,
                reason: error.to_string(),
            }),
            _ => Err(ScanError::CommandFailed {
                command: description,
                status: output.status.to_string(),
                output_tail: output.output_tail,
            }),
        }
    }

    /// Returns the version installed last of a formula or cask, or `None`.
    fn installed_version(context: &Context, kind: Kind, name: &str) -> Option<String> {
        let arguments = install::list_versions_arguments(kind, name);
        match command::run(context.command(&arguments), QUERY_TIMEOUT) {
            Ok(output) if output.status.success() => install::parse_list_versions(&output.stdout),
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(manager = MANAGER, package = name, %error, "brew list failed");
                None
            }
        }
    }

    /// Returns the version installed last of a formula or cask of unknown kind.
    fn any_installed_version(context: &Context, name: &str) -> Option<String> {
        // A cask reported under its qualified name is listed under its token.
        if let Some(token) = name.strip_prefix("homebrew/cask/") {
            return Self::installed_version(context, Kind::Cask, token);
        }
        Self::installed_version(context, Kind::Formula, name)
            .or_else(|| Self::installed_version(context, Kind::Cask, name))
    }

    /// Runs one upgrade and returns its status, output tail and the failure of the job, if the
    /// run itself failed (busy, timeout, not started).
    fn upgrade(
        &self,
        context: &Context,
        arguments: &[String],
    ) -> (Result<(), String>, String, Option<JobFailure>) {
        let description = describe(&context.command(arguments));
        tracing::info!(manager = MANAGER, command = %description, "install started");
        match self.run_retrying(context, arguments, self.settings.install_timeout) {
            Ok(output) => (
                install::decode_exit_code(output.status.code()),
                output.output_tail,
                None,
            ),
            Err(RunError::Busy(error)) => (
                Err(error.to_string()),
                String::new(),
                Some(JobFailure {
                    kind: JobFailureKind::LockTimeout,
                    message: error.to_string(),
                }),
            ),
            Err(RunError::Command(CommandError::Timeout {
                output_tail,
                timeout,
                ..
            })) => {
                let message = format!(
                    "`{description}` did not finish within {} s and was killed",
                    timeout.as_secs()
                );
                (
                    Err(message.clone()),
                    output_tail,
                    Some(JobFailure {
                        kind: JobFailureKind::Timeout,
                        message,
                    }),
                )
            }
            Err(RunError::Command(error)) => (
                Err(error.to_string()),
                String::new(),
                Some(JobFailure {
                    kind: JobFailureKind::CommandFailed,
                    message: error.to_string(),
                }),
            ),
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

fn owner_scan_error(error: &OwnerError) -> ScanError {
    ScanError::CommandFailed {
        command: "brew".to_owned(),
        status: "not run".to_owned(),
        output_tail: error.to_string(),
    }
}

/// Turns outdated items into updates, under their reported names; pinned formulae are held.
pub fn updates_from(items: &[Outdated]) -> Vec<UpdateInfo> {
    install::reported_names(items)
        .into_iter()
        .map(|(name, item)| UpdateInfo {
            manager: MANAGER.to_owned(),
            name,
            architecture: None,
            current_version: item.installed_version.clone(),
            new_version: item.current_version.clone(),
            origin: Some(
                match item.kind {
                    Kind::Formula => "Homebrew formula",
                    Kind::Cask => "Homebrew cask",
                }
                .to_owned(),
            ),
            security: false,
            status: if item.pinned {
                UpdateStatus::Held
            } else {
                UpdateStatus::Available
            },
        })
        .collect()
}

/// Lists what an `all` install upgrades: every outdated item that is not pinned, with the
/// version Homebrew offers as the approved one.
pub fn all_specs(items: &[Outdated]) -> Vec<PackageSpec> {
    updates_from(items)
        .into_iter()
        .filter(|update| update.status == UpdateStatus::Available)
        .map(|update| PackageSpec {
            manager: MANAGER.to_owned(),
            name: update.name,
            version: update.new_version,
        })
        .collect()
}

impl PackageManager for Brew {
    fn name(&self) -> &'static str {
        MANAGER
    }

    fn detect_updates(&self) -> Result<Vec<UpdateInfo>, ScanError> {
        let context = Context::find().map_err(|error| owner_scan_error(&error))?;
        Ok(updates_from(&self.outdated(&context)?))
    }

    fn install(&self, selection: &InstallSelection) -> InstallOutcome {
        if *selection == InstallSelection::SecurityOnly {
            return InstallOutcome::failed(
                JobFailureKind::Unsupported,
                "Homebrew has no security metadata, so a security-only install is not possible"
                    .to_owned(),
            );
        }
        if let InstallSelection::Packages(specs) = selection
            && let Some(error) = specs
                .iter()
                .find_map(|spec| install::validate_spec(spec).err())
        {
            return InstallOutcome::failed(JobFailureKind::InvalidRequest, error.to_string());
        }
        let context = match Context::find() {
            Ok(context) => context,
            Err(error @ OwnerError::OwnedByRoot) => {
                return InstallOutcome::failed(JobFailureKind::Unsupported, error.to_string());
            }
            Err(error) => {
                return InstallOutcome::failed(JobFailureKind::CommandFailed, error.to_string());
            }
        };
        let items = match self.outdated(&context) {
            Ok(items) => items,
            Err(error) => {
                return InstallOutcome::failed(
                    JobFailureKind::CommandFailed,
                    format!("listing outdated packages before the install failed: {error}"),
                );
            }
        };
        let names = install::reported_names(&items);
        let mut outcome = InstallOutcome::default();

        match selection {
            InstallSelection::Packages(specs) => {
                let mut tails = Vec::new();
                for spec in specs {
                    match install::plan(spec, &names) {
                        Plan::Skip(_) if !names.contains_key(&spec.name) => {
                            let installed = Self::any_installed_version(&context, &spec.name);
                            outcome
                                .packages
                                .push(install::not_outdated_result(spec, installed));
                        }
                        Plan::Skip(result) => outcome.packages.push(result),
                        Plan::Upgrade(item) => {
                            let arguments = install::upgrade_arguments(item.kind, &item.name);
                            let (status, tail, failure) = self.upgrade(&context, &arguments);
                            tails.push(tail);
                            if outcome.failure.is_none() {
                                outcome.failure = failure;
                            }
                            let installed =
                                Self::installed_version(&context, item.kind, &item.name);
                            outcome
                                .packages
                                .push(install::package_result(spec, item, &status, installed));
                        }
                    }
                }
                outcome.output_tail = command::tail(tails.iter().flat_map(|tail| tail.lines()));
            }
            InstallSelection::All | InstallSelection::SecurityOnly => {
                let specs = all_specs(&items);
                if specs.is_empty() {
                    return InstallOutcome {
                        output_tail: "no updates to install".to_owned(),
                        ..InstallOutcome::default()
                    };
                }
                let (status, tail, failure) =
                    self.upgrade(&context, &install::upgrade_all_arguments());
                outcome.output_tail = tail;
                outcome.failure = failure;
                for spec in &specs {
                    let Some(item) = names.get(&spec.name) else {
                        continue;
                    };
                    let installed = Self::installed_version(&context, item.kind, &item.name);
                    outcome
                        .packages
                        .push(install::package_result(spec, item, &status, installed));
                }
            }
        }
        if outcome.failure.is_none()
            && outcome
                .packages
                .iter()
                .any(|package| package.outcome == PackageOutcome::Failed)
        {
            outcome.failure = Some(JobFailure {
                kind: JobFailureKind::CommandFailed,
                message: "brew upgrade failed for some packages".to_owned(),
            });
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(name: &str) -> Vec<Outdated> {
        let path = format!("{}/testdata/brew/{name}", env!("CARGO_MANIFEST_DIR"));
        detect::parse_outdated(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn pinned_formula_is_held_not_pending() {
        let updates = updates_from(&items("outdated-pinned.json"));
        let statuses: Vec<(&str, UpdateStatus)> = updates
            .iter()
            .map(|update| (update.name.as_str(), update.status))
            .collect();
        assert_eq!(
            statuses,
            [
                ("git", UpdateStatus::Available),
                ("postgresql@14", UpdateStatus::Held)
            ]
        );
        let specs = all_specs(&items("outdated-pinned.json"));
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].name, "git");
    }

    #[test]
    fn updates_are_valid_and_never_security() {
        let updates = updates_from(&items("outdated.json"));
        assert_eq!(updates.len(), 5);
        for update in &updates {
            assert!(!update.security);
            assert!(
                sysmanage_protocol::validate_package_name_for(&update.manager, &update.name)
                    .is_ok()
            );
            assert!(
                sysmanage_protocol::validate_version_for(&update.manager, &update.new_version)
                    .is_ok()
            );
        }
        let firefox = updates
            .iter()
            .find(|update| update.name == "firefox")
            .unwrap();
        assert_eq!(firefox.origin.as_deref(), Some("Homebrew cask"));
        assert_eq!(firefox.current_version.as_deref(), Some("122.0"));
        assert_eq!(firefox.new_version, "122.0.1");
        assert!(updates_from(&items("outdated-none.json")).is_empty());
    }

    #[test]
    fn command_runs_as_the_owner_with_a_clean_environment() {
        let context = Context {
            installation: owner::locate(|_| true).unwrap(),
            owner: Owner {
                uid: 501,
                gid: 80,
                name: "alice".into(),
                home: "/Users/alice".into(),
            },
        };
        let command = context.command(&["outdated".to_owned(), "--json=v2".to_owned()]);
        assert_eq!(
            describe(&command),
            "/opt/homebrew/bin/brew outdated --json=v2"
        );
        assert_eq!(
            command.get_current_dir(),
            Some(std::path::Path::new("/Users/alice"))
        );
        let home = command
            .get_envs()
            .find(|(key, _)| *key == "HOME")
            .and_then(|(_, value)| value);
        assert_eq!(home, Some(std::ffi::OsStr::new("/Users/alice")));
    }

    #[test]
    fn security_only_is_unsupported() {
        let outcome = Brew::default().install(&InstallSelection::SecurityOnly);
        assert_eq!(outcome.failure.unwrap().kind, JobFailureKind::Unsupported);
    }

    #[test]
    fn invalid_names_run_nothing() {
        let outcome = Brew::default().install(&InstallSelection::Packages(vec![PackageSpec {
            manager: MANAGER.into(),
            name: "--force".into(),
            version: "1".into(),
        }]));
        assert_eq!(
            outcome.failure.unwrap().kind,
            JobFailureKind::InvalidRequest
        );
    }
}
