//! The apt backend for Debian and Ubuntu: update detection and installs.
//!
//! Every command runs without a shell, with `LC_ALL=C` so that the output is the English text
//! the parsers expect, without `LANGUAGE`, and with `DEBIAN_FRONTEND=noninteractive`.
//! `APT_CONFIG` is inherited, or set from [`AptSettings::apt_config`].

pub mod detect;
pub mod install;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use sysmanage_protocol::{UpdateInfo, UpdateStatus};

use self::detect::{Simulation, parse_held, parse_policy, parse_simulation};
use super::command::{self, CommandOutput, describe};
use super::{InstallOutcome, InstallSelection, PackageManager, ScanError, is_on_path};

/// Name of this manager in the protocol.
pub const MANAGER: &str = "apt";

/// Extra time a detection command gets on top of the lock timeout, for downloading lists.
const DETECTION_EXTRA_TIME: Duration = Duration::from_mins(10);

/// Settings of the apt backend.
#[derive(Debug, Clone)]
pub struct AptSettings {
    /// Run `apt-get update` before each detection.
    pub update_lists: bool,
    /// How long apt waits for the dpkg lock (`DPkg::Lock::Timeout`).
    pub lock_timeout: Duration,
    /// Time limit of one install, after which apt-get is killed.
    pub install_timeout: Duration,
    /// `APT_CONFIG` for every apt command; `None` inherits the agent's environment.
    pub apt_config: Option<PathBuf>,
}

/// Returns whether apt can be used: `apt-get` and `dpkg` are on `PATH`.
pub fn is_available() -> bool {
    is_on_path("apt-get") && is_on_path("dpkg")
}

/// The apt package manager.
#[derive(Debug, Clone)]
pub struct Apt {
    settings: AptSettings,
}

impl Apt {
    pub fn new(settings: AptSettings) -> Self {
        Self { settings }
    }

    pub fn settings(&self) -> &AptSettings {
        &self.settings
    }

    /// Builds a command for an apt or dpkg program with the environment described in the module
    /// documentation.
    pub(crate) fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env("LC_ALL", "C")
            .env_remove("LANGUAGE")
            .env("DEBIAN_FRONTEND", "noninteractive");
        if let Some(apt_config) = &self.settings.apt_config {
            command.env("APT_CONFIG", apt_config);
        }
        command
    }

    pub(crate) fn lock_timeout_option(&self) -> String {
        format!(
            "DPkg::Lock::Timeout={}",
            self.settings.lock_timeout.as_secs()
        )
    }

    /// Runs a detection command and fails unless it exits with status 0.
    fn run_checked(&self, command: Command) -> Result<CommandOutput, ScanError> {
        let description = describe(&command);
        let timeout = self.settings.lock_timeout + DETECTION_EXTRA_TIME;
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

    fn update_lists(&self) -> Result<(), ScanError> {
        let mut command = self.command("apt-get");
        command.args(["update", "-o", &self.lock_timeout_option()]);
        self.run_checked(command).map(|_| ())
    }

    fn held_packages(&self) -> Result<BTreeSet<String>, ScanError> {
        let mut command = self.command("apt-mark");
        command.arg("showhold");
        Ok(parse_held(&self.run_checked(command)?.stdout))
    }

    fn simulate_upgrade(&self) -> Result<Simulation, ScanError> {
        let mut command = self.command("apt-get");
        // dist-upgrade, like the install of "all", so that the report lists what that installs.
        command.args(["-s", "-V", "-o", "Debug::NoLocking=true", "dist-upgrade"]);
        let description = describe(&command);
        let output = self.run_checked(command)?;
        parse_simulation(&output.stdout).map_err(|error| ScanError::Parse {
            command: description,
            reason: error.to_string(),
        })
    }

    /// Reads installed and candidate versions of packages an upgrade would not install.
    fn postponed_updates(
        &self,
        names: &BTreeSet<String>,
        held: &BTreeSet<String>,
    ) -> Result<Vec<UpdateInfo>, ScanError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut command = self.command("apt-cache");
        command.arg("policy").args(names);
        let description = describe(&command);
        let output = self.run_checked(command)?;
        let policies = parse_policy(&output.stdout).map_err(|error| ScanError::Parse {
            command: description,
            reason: error.to_string(),
        })?;

        let mut updates = Vec::new();
        for policy in policies {
            let (Some(current), Some(candidate)) = (policy.installed, policy.candidate) else {
                continue;
            };
            if current == candidate {
                continue;
            }
            let status = if held.contains(&policy.name) {
                UpdateStatus::Held
            } else {
                // Kept back by the resolver or deferred by phasing: apt postpones both.
                UpdateStatus::Deferred
            };
            // NOTE: `apt-cache policy` shows only the suite of a source (`bookworm-security/main`),
            // and nothing for a flat repository (`./`), so origin and security flag of held and
            // deferred updates come from the suite alone.
            let suite = policy
                .candidate_suites
                .first()
                .map(|suite| suite.split('/').next().unwrap_or(suite).to_owned());
            let security = policy
                .candidate_suites
                .iter()
                .any(|suite| detect::is_security_origin(suite.split('/').next().unwrap_or(suite)));
            let architecture = policy.name.split_once(':').map(|(_, arch)| arch.to_owned());
            updates.push(UpdateInfo {
                manager: MANAGER.to_owned(),
                name: policy.name,
                architecture,
                current_version: Some(current),
                new_version: candidate,
                origin: suite,
                security,
                status,
            });
        }
        Ok(updates)
    }
}

/// Turns the simulated upgrades into available updates.
pub fn available_updates(simulation: &Simulation) -> Vec<UpdateInfo> {
    simulation
        .upgrades()
        .map(|install| UpdateInfo {
            manager: MANAGER.to_owned(),
            name: install.name.clone(),
            architecture: install.architecture.clone(),
            current_version: install.current_version.clone(),
            new_version: install.new_version.clone(),
            origin: (!install.origins.is_empty()).then(|| install.origins.join(", ")),
            security: install.is_security(),
            status: UpdateStatus::Available,
        })
        .collect()
}

impl PackageManager for Apt {
    fn name(&self) -> &'static str {
        MANAGER
    }

    fn detect_updates(&self) -> Result<Vec<UpdateInfo>, ScanError> {
        if self.settings.update_lists {
            self.update_lists()?;
        }
        let held = self.held_packages()?;
        let simulation = self.simulate_upgrade()?;
        let mut updates = available_updates(&simulation);

        let mut postponed: BTreeSet<String> = simulation
            .kept_back
            .iter()
            .chain(&simulation.deferred)
            .chain(&held)
            .cloned()
            .collect();
        for update in &updates {
            postponed.remove(&update.name);
        }
        updates.extend(self.postponed_updates(&postponed, &held)?);
        Ok(updates)
    }

    fn install(&self, selection: &InstallSelection) -> InstallOutcome {
        install::install(self, selection)
    }
}
