//! The apt backend for Debian and Ubuntu: update detection and installs.
//!
//! Every command runs without a shell, with `LC_ALL=C` so that the output is the English text
//! the parsers expect, without `LANGUAGE`, and with `DEBIAN_FRONTEND=noninteractive`.
//! `APT_CONFIG` is inherited, or set from [`AptSettings::apt_config`].

pub mod detect;
pub mod install;
pub mod policy;
pub mod postponed;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use sysmanage_protocol::{UpdateInfo, UpdateStatus};

use self::detect::{ParseError, Simulation, parse_held, parse_simulation};
use self::policy::{Policy, PolicyOverview, parse_policy, parse_policy_overview};
use self::postponed::{PostponedNames, postponed_updates};
use super::command::{self, CommandOutput, describe};
use super::{InstallOutcome, InstallSelection, PackageManager, ScanError, is_on_path};

/// Name of this manager in the protocol.
pub const MANAGER: &str = "apt";

/// Extra time a detection command gets on top of the lock timeout, for downloading lists.
const DETECTION_EXTRA_TIME: Duration = Duration::from_mins(10);

/// Error of `apt-cache policy` seen with apt 2.6.2 while another process changes the dpkg status
/// file, such as a concurrent `dpkg -i`.
const CACHE_OUT_OF_SYNC: &str = "Cache is out of sync";

/// Runs of `apt-cache policy` before its "Cache is out of sync" error fails the detection.
const CACHE_ATTEMPTS: u32 = 5;

/// Pause before running `apt-cache policy` again after "Cache is out of sync".
const CACHE_RETRY_DELAY: Duration = Duration::from_secs(1);

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
        // `upgrade --with-new-pkgs`, like the install of "all", so that the updates it lists are
        // the ones "all" installs. It installs new packages that a new version depends on (a new
        // kernel ABI package, say) but removes none, so it keeps back an update that needs an
        // installed package removed, which detection then reports as kept back.
        command.args([
            "-s",
            "-V",
            "-o",
            "Debug::NoLocking=true",
            "--with-new-pkgs",
            "upgrade",
        ]);
        let description = describe(&command);
        let output = self.run_checked(command)?;
        let simulation = parse_output(description, &output.stdout, parse_simulation)?;
        if simulation.not_fully_installed > 0 {
            tracing::warn!(
                manager = MANAGER,
                packages = simulation.not_fully_installed,
                "dpkg left packages half installed; run `dpkg --configure -a`"
            );
        }
        Ok(simulation)
    }

    /// Reads the package files and pinned packages from `apt-cache policy` without arguments.
    fn policy_overview(&self) -> Result<PolicyOverview, ScanError> {
        let (description, output) = self.run_apt_cache_policy(&BTreeSet::new())?;
        parse_output(description, &output.stdout, parse_policy_overview)
    }

    /// Reads the version tables of these packages from `apt-cache policy NAME...`.
    fn package_policies(&self, names: &BTreeSet<String>) -> Result<Vec<Policy>, ScanError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let (description, output) = self.run_apt_cache_policy(names)?;
        parse_output(description, &output.stdout, parse_policy)
    }

    /// Runs `apt-cache policy NAME...`, again after [`CACHE_RETRY_DELAY`] while apt reports that
    /// its cache is out of sync, for at most [`CACHE_ATTEMPTS`] runs. Returns the command's
    /// description and output.
    fn run_apt_cache_policy(
        &self,
        names: &BTreeSet<String>,
    ) -> Result<(String, CommandOutput), ScanError> {
        let mut attempt = 1;
        loop {
            let mut command = self.command("apt-cache");
            command.arg("policy").args(names);
            let description = describe(&command);
            match self.run_checked(command) {
                Err(ScanError::CommandFailed {
                    ref output_tail, ..
                }) if attempt < CACHE_ATTEMPTS && output_tail.contains(CACHE_OUT_OF_SYNC) => {
                    tracing::warn!(
                        manager = MANAGER,
                        command = %description,
                        attempt,
                        "apt-cache policy failed with \"Cache is out of sync\", retrying"
                    );
                    std::thread::sleep(CACHE_RETRY_DELAY);
                    attempt += 1;
                }
                result => return result.map(|output| (description, output)),
            }
        }
    }
}

/// Parses the standard output of a command and turns a parse error into a [`ScanError`].
fn parse_output<T>(
    description: String,
    stdout: &str,
    parse: impl FnOnce(&str) -> Result<T, ParseError>,
) -> Result<T, ScanError> {
    parse(stdout).map_err(|error| ScanError::Parse {
        command: description,
        reason: error.to_string(),
    })
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
        let overview = self.policy_overview()?;
        let mut updates = available_updates(&simulation);

        let names = PostponedNames {
            available: updates.iter().map(|update| update.name.clone()).collect(),
            held,
            kept_back: simulation.kept_back.iter().cloned().collect(),
            phased: simulation.deferred.iter().cloned().collect(),
            pinned: overview.pins.iter().map(|pin| pin.name.clone()).collect(),
        };
        let policies = self.package_policies(&names.lookup_names())?;
        updates.extend(postponed_updates(&policies, &names, &overview));
        Ok(updates)
    }

    fn install(&self, selection: &InstallSelection) -> InstallOutcome {
        install::install(self, selection)
    }
}
