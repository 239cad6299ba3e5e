//! The yum backend for RHEL and `CentOS` 7: yum 3 prints the same shapes as dnf 4, so detection,
//! classification and installs are those of [`crate::packages::dnf`] run through a
//! [`Frontend`] of flavor [`Flavor::Yum`].
//!
//! Differences from dnf 4: security advisories come from `yum updateinfo list security`, installs
//! run `yum -y update NAME-VERSION`, metadata is expired with `--setopt=metadata_expire=0`
//! instead of `--refresh`, and the reboot hint comes from the `needs-restarting -r` script of
//! yum-utils. With `exit_on_lock=1`, "Another app is currently holding the yum lock" ends yum with
//! status 200 and the agent retries with its busy policy.

use sysmanage_protocol::UpdateInfo;

use super::dnf::{DetectedUpdate, DnfSettings, Flavor, Frontend};
use super::{InstallOutcome, InstallSelection, PackageManager, ScanError, is_on_path};

/// Name of this manager in the protocol.
pub const MANAGER: &str = "yum";

/// Returns whether yum 3 can be used: `yum` and `rpm` are on `PATH` and dnf is not, since on
/// RHEL 8 and later `yum` is dnf under another name and the dnf backend manages the host.
pub fn is_available() -> bool {
    is_on_path("yum") && is_on_path("rpm") && !is_on_path("dnf") && !is_on_path("dnf5")
}

/// The yum package manager.
#[derive(Debug, Clone)]
pub struct Yum {
    settings: DnfSettings,
}

impl Yum {
    /// `settings.program` defaults to `yum`.
    pub fn new(settings: DnfSettings) -> Self {
        Self { settings }
    }

    pub fn settings(&self) -> &DnfSettings {
        &self.settings
    }

    /// Returns the frontend that runs the commands.
    pub fn frontend(&self) -> Frontend {
        Frontend {
            manager: MANAGER,
            program: self
                .settings
                .program
                .clone()
                .unwrap_or_else(|| "yum".to_owned()),
            flavor: Flavor::Yum,
            settings: self.settings.clone(),
        }
    }

    /// Detection with the severities and advisory ids that [`UpdateInfo`] does not carry.
    pub fn detect_detailed(&self) -> Result<Vec<DetectedUpdate>, ScanError> {
        self.frontend().detect()
    }

    /// Runs `needs-restarting -r` of yum-utils.
    pub fn check_reboot(&self) -> Result<bool, ScanError> {
        self.frontend().reboot_required()
    }
}

impl PackageManager for Yum {
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
        super::dnf::install::install(&self.frontend(), selection)
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
    use std::time::Duration;

    use super::*;
    use crate::packages::dnf::{advisory, check_update, merge, rpmdb};

    fn fixture(path: &str) -> String {
        let path = format!("{}/testdata/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[test]
    fn frontend_uses_yum_commands() {
        let yum = Yum::new(DnfSettings::system(
            Duration::from_secs(1),
            Duration::from_secs(1),
        ));
        let frontend = yum.frontend();
        assert_eq!(frontend.program, "yum");
        assert_eq!(frontend.manager, "yum");
        assert_eq!(frontend.global_arguments(), ["--setopt=exit_on_lock=1"]);
    }

    #[test]
    fn fixtures_merge_into_security_updates() {
        let list = check_update::parse_update_list(&fixture("yum/check-update.txt")).unwrap();
        let advisories =
            advisory::parse_updateinfo_list(&fixture("yum/updateinfo-list-security.txt")).unwrap();
        let installed = rpmdb::parse_installed(
            "bind-libs\t32\t9.11.4\t26.P2.el7_9.15\tx86_64\n\
             kernel\t(none)\t3.10.0\t1160.118.1.el7\tx86_64\n\
             python-perf-with-a-long-name-for-wrapping\t(none)\t3.10.0\t1160.118.1.el7\tx86_64\n\
             tzdata\t(none)\t2023c\t1.el7\tnoarch\n",
        )
        .unwrap();
        let updates = merge(MANAGER, &list, &installed, &advisories);
        let security: Vec<(&str, bool)> = updates
            .iter()
            .map(|update| (update.info.name.as_str(), update.info.security))
            .collect();
        assert_eq!(
            security,
            [
                ("bind-libs", true),
                ("kernel", true),
                ("python-perf-with-a-long-name-for-wrapping", true),
                ("tzdata", false),
                ("grub2-tools-minimal", false),
            ]
        );
        assert_eq!(updates[0].info.manager, "yum");
        assert_eq!(
            updates[0].info.current_version.as_deref(),
            Some("32:9.11.4-26.P2.el7_9.15")
        );
        assert_eq!(updates[0].severity.as_deref(), Some("Moderate"));
        assert_eq!(updates[4].info.current_version, None);
    }
}
