//! Simulated pending updates of one host and the results of install jobs on them.
//!
//! Each host's list is generated from its index, so it costs no memory between scans: the agent
//! stores only which entries a job has installed since it started, and whether one of those jobs
//! left the host needing a reboot.

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::config::RebootAfterInstall;
use sysmanage_protocol::{
    InstallRequest, JobResult, ManagerScan, PackageOutcome, PackageResult, ScanOutcome, UpdateInfo,
    UpdateReport, UpdateStatus,
};

/// Debian and Ubuntu packages that commonly have pending updates on servers.
const PACKAGES: [&str; 64] = [
    "openssl",
    "libssl3",
    "curl",
    "libcurl4",
    "openssh-server",
    "openssh-client",
    "openssh-sftp-server",
    "linux-image-amd64",
    "bash",
    "coreutils",
    "systemd",
    "libsystemd0",
    "libudev1",
    "udev",
    "tzdata",
    "ca-certificates",
    "python3.11",
    "libpython3.11-stdlib",
    "vim-tiny",
    "git",
    "sudo",
    "nginx",
    "postgresql-15",
    "libpq5",
    "gnupg",
    "gpgv",
    "apt",
    "libapt-pkg6.0",
    "dpkg",
    "tar",
    "gzip",
    "xz-utils",
    "liblzma5",
    "zlib1g",
    "libc6",
    "libc-bin",
    "locales",
    "perl",
    "perl-base",
    "libxml2",
    "libexpat1",
    "libgnutls30",
    "libgcrypt20",
    "libkrb5-3",
    "libgssapi-krb5-2",
    "libnss3",
    "intel-microcode",
    "amd64-microcode",
    "grub-common",
    "grub-pc",
    "e2fsprogs",
    "util-linux",
    "mount",
    "libblkid1",
    "libmount1",
    "bind9-host",
    "rsync",
    "wget",
    "less",
    "procps",
    "iproute2",
    "nftables",
    "containerd",
    "runc",
];

/// Pending updates of one simulated host and which of them jobs have installed.
#[derive(Debug, Clone)]
pub struct SimulatedUpdates {
    index: u32,
    mean_count: usize,
    /// One bit per generated update, set once a job installed it.
    installed: Vec<u64>,
    /// An install job left the host needing a reboot. Like `/var/run/reboot-required`, which the real
    /// agent reads on Debian and Ubuntu, it stays set, because a simulated host never reboots.
    reboot_required: bool,
}

impl SimulatedUpdates {
    /// Creates the update state of host `index`, whose list has about `mean_count` entries.
    pub fn new(index: u32, mean_count: usize) -> Self {
        let words = generate(index, mean_count).len().div_ceil(64);
        Self {
            index,
            mean_count,
            installed: vec![0; words],
            reboot_required: false,
        }
    }

    fn is_installed(&self, position: usize) -> bool {
        self.installed
            .get(position / 64)
            .is_some_and(|word| word & (1 << (position % 64)) != 0)
    }

    fn mark_installed(&mut self, position: usize) {
        if let Some(word) = self.installed.get_mut(position / 64) {
            *word |= 1 << (position % 64);
        }
    }

    /// Returns the updates still pending, in a stable order.
    pub fn pending(&self) -> Vec<UpdateInfo> {
        generate(self.index, self.mean_count)
            .into_iter()
            .enumerate()
            .filter(|(position, _)| !self.is_installed(*position))
            .map(|(_, update)| update)
            .collect()
    }

    /// Returns the report an update scan sends: one apt scan with every pending update.
    pub fn report(&self) -> UpdateReport {
        UpdateReport {
            managers: vec![ManagerScan {
                manager: "apt".to_owned(),
                outcome: ScanOutcome::Ok {
                    updates: self.pending(),
                },
            }],
            reboot_required: self.reboot_required,
        }
    }

    /// Returns whether an install job left the host needing a reboot.
    pub fn reboot_required(&self) -> bool {
        self.reboot_required
    }

    /// Simulates an install job: every requested update that is available gets installed and
    /// every other requested package is reported as not attempted. The job succeeds. Whether it
    /// leaves the host needing a reboot follows `reboot_policy`, with `rng` drawing the chance of
    /// [`RebootAfterInstall::Probability`]. The result's `reboot_required` is also true when an
    /// earlier job required a reboot, as the real agent reports it.
    pub fn install(
        &mut self,
        job_id: i64,
        request: &InstallRequest,
        reboot_policy: RebootAfterInstall,
        rng: &mut impl Rng,
    ) -> JobResult {
        let updates = generate(self.index, self.mean_count);
        let mut packages = Vec::new();
        let mut kernel_installed = false;

        for (position, update) in updates.iter().enumerate() {
            if self.is_installed(position) || update.status != UpdateStatus::Available {
                continue;
            }
            let selected = match request {
                InstallRequest::All => true,
                InstallRequest::SecurityOnly => update.security,
                InstallRequest::Packages { packages } => packages
                    .iter()
                    .any(|spec| spec.manager == update.manager && spec.name == update.name),
            };
            if !selected {
                continue;
            }
            self.mark_installed(position);
            kernel_installed |= update.name.starts_with("linux-image");
            packages.push(PackageResult {
                manager: update.manager.clone(),
                name: update.name.clone(),
                requested_version: Some(update.new_version.clone()),
                installed_version: Some(update.new_version.clone()),
                outcome: PackageOutcome::Installed,
                message: None,
            });
        }

        if let InstallRequest::Packages { packages: specs } = request {
            for spec in specs {
                if !packages.iter().any(|result| result.name == spec.name) {
                    packages.push(PackageResult {
                        manager: spec.manager.clone(),
                        name: spec.name.clone(),
                        requested_version: Some(spec.version.clone()),
                        installed_version: None,
                        outcome: PackageOutcome::NotAttempted,
                        message: Some("no pending update of this package".to_owned()),
                    });
                }
            }
        }

        let installed_count = packages
            .iter()
            .filter(|result| result.outcome == PackageOutcome::Installed)
            .count();
        let needs_reboot = match reboot_policy {
            RebootAfterInstall::KernelPackages => kernel_installed,
            RebootAfterInstall::Probability(probability) => {
                installed_count > 0 && rng.random_bool(probability)
            }
        };
        self.reboot_required |= needs_reboot;
        let output_tail = format!(
            "Reading package lists...\n{installed_count} upgraded, 0 newly installed, 0 to remove.\n"
        );
        JobResult {
            job_id,
            success: true,
            packages,
            output_tail,
            failure: None,
            reboot_required: self.reboot_required,
        }
    }
}

/// Generates the full update list of host `index`: `mean_count` +/- 25 % distinct packages,
/// about a quarter of them security updates, a few held or deferred.
pub fn generate(index: u32, mean_count: usize) -> Vec<UpdateInfo> {
    let mut rng = SmallRng::seed_from_u64(u64::from(index) ^ 0x5eed_1dea_c0ff_ee00);
    let spread = mean_count / 4;
    let count = rng
        .random_range(mean_count - spread..=mean_count + spread)
        .min(crate::config::MAX_UPDATES_PER_HOST);

    let mut names: Vec<String> = PACKAGES.iter().map(|name| (*name).to_owned()).collect();
    names.shuffle(&mut rng);
    // Hosts with more updates than the catalog holds get numbered library packages.
    let mut extra = 0;
    while names.len() < count {
        extra += 1;
        names.push(format!("libloadgen{extra}"));
    }
    names.truncate(count);

    names
        .into_iter()
        .map(|name| {
            let major = rng.random_range(1..10);
            let minor = rng.random_range(0..30);
            let revision = rng.random_range(1..5);
            let security = rng.random_bool(0.25);
            let status = match rng.random_range(0..40) {
                0 => UpdateStatus::Held,
                1 => UpdateStatus::Deferred,
                _ => UpdateStatus::Available,
            };
            UpdateInfo {
                manager: "apt".to_owned(),
                name,
                architecture: Some("amd64".to_owned()),
                current_version: Some(format!("{major}.{minor}-{revision}")),
                new_version: if security {
                    format!("{major}.{minor}-{revision}+deb12u1")
                } else {
                    format!("{major}.{minor}-{}", revision + 1)
                },
                origin: Some(if security {
                    "Debian:bookworm-security".to_owned()
                } else {
                    "Debian:bookworm-updates".to_owned()
                }),
                security,
                status,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use sysmanage_protocol::{
        PackageSpec, validate_manager, validate_package_name_for, validate_version_for,
    };

    use super::*;

    /// Installs `request` with the default reboot policy.
    fn install(state: &mut SimulatedUpdates, job_id: i64, request: &InstallRequest) -> JobResult {
        let mut rng = SmallRng::seed_from_u64(0);
        state.install(
            job_id,
            request,
            RebootAfterInstall::KernelPackages,
            &mut rng,
        )
    }

    /// Returns the first host index whose update list has an available kernel update when
    /// `with_kernel` is true, or has none when it is false.
    fn host_with_kernel_update(with_kernel: bool) -> u32 {
        (0..100)
            .find(|index| {
                let has_kernel = generate(*index, 40).iter().any(|update| {
                    update.name.starts_with("linux-image")
                        && update.status == UpdateStatus::Available
                });
                has_kernel == with_kernel
            })
            .unwrap()
    }

    #[test]
    fn report_has_tens_of_valid_updates() {
        for index in 0..50 {
            let updates = generate(index, 40);
            assert!((30..=50).contains(&updates.len()), "{}", updates.len());
            let names: HashSet<&str> = updates.iter().map(|update| update.name.as_str()).collect();
            assert_eq!(
                names.len(),
                updates.len(),
                "duplicate package on host {index}"
            );
            for update in &updates {
                validate_manager(&update.manager).unwrap();
                validate_package_name_for(&update.manager, &update.name).unwrap();
                validate_version_for(&update.manager, &update.new_version).unwrap();
                validate_version_for(&update.manager, update.current_version.as_deref().unwrap())
                    .unwrap();
                assert_ne!(
                    update.current_version.as_deref(),
                    Some(update.new_version.as_str())
                );
            }
        }
    }

    #[test]
    fn some_updates_are_security() {
        let updates: Vec<UpdateInfo> = (0..20).flat_map(|index| generate(index, 40)).collect();
        let security = updates.iter().filter(|update| update.security).count();
        assert!(
            security > updates.len() / 10,
            "{security} of {}",
            updates.len()
        );
        assert!(
            security < updates.len() / 2,
            "{security} of {}",
            updates.len()
        );
        assert!(
            updates
                .iter()
                .filter(|update| update.security)
                .all(|update| update.origin.as_deref() == Some("Debian:bookworm-security"))
        );
    }

    #[test]
    fn generation_is_deterministic() {
        assert_eq!(generate(7, 40), generate(7, 40));
        assert_ne!(generate(7, 40), generate(8, 40));
    }

    #[test]
    fn large_count_uses_numbered_packages() {
        let updates = generate(1, 400);
        assert!(updates.len() >= 300);
        let names: HashSet<&str> = updates.iter().map(|update| update.name.as_str()).collect();
        assert_eq!(names.len(), updates.len());
    }

    #[test]
    fn install_all_empties_available_updates() {
        let mut state = SimulatedUpdates::new(5, 40);
        let before = state.pending();
        let available = before
            .iter()
            .filter(|update| update.status == UpdateStatus::Available)
            .count();
        let result = install(&mut state, 1, &InstallRequest::All);
        assert!(result.success);
        assert_eq!(result.packages.len(), available);
        assert!(
            result
                .packages
                .iter()
                .all(|package| package.outcome == PackageOutcome::Installed)
        );
        let after = state.pending();
        assert_eq!(after.len(), before.len() - available);
        assert!(
            after
                .iter()
                .all(|update| update.status != UpdateStatus::Available)
        );
        let again = install(&mut state, 2, &InstallRequest::All);
        assert!(again.packages.is_empty());
    }

    #[test]
    fn install_security_only_keeps_others() {
        let mut state = SimulatedUpdates::new(9, 40);
        let result = install(&mut state, 1, &InstallRequest::SecurityOnly);
        assert!(!result.packages.is_empty());
        assert!(
            state
                .pending()
                .iter()
                .all(|update| !update.security || update.status != UpdateStatus::Available)
        );
        assert!(state.pending().iter().any(|update| !update.security));
    }

    #[test]
    fn install_named_package_reports_unknown_one() {
        let mut state = SimulatedUpdates::new(3, 40);
        let target = state
            .pending()
            .into_iter()
            .find(|update| update.status == UpdateStatus::Available)
            .unwrap();
        let request = InstallRequest::Packages {
            packages: vec![
                PackageSpec {
                    manager: "apt".to_owned(),
                    name: target.name.clone(),
                    version: target.new_version.clone(),
                },
                PackageSpec {
                    manager: "apt".to_owned(),
                    name: "not-pending".to_owned(),
                    version: "1.0".to_owned(),
                },
            ],
        };
        let result = install(&mut state, 4, &request);
        assert_eq!(result.packages.len(), 2);
        assert_eq!(result.packages[0].name, target.name);
        assert_eq!(result.packages[0].outcome, PackageOutcome::Installed);
        assert_eq!(result.packages[1].outcome, PackageOutcome::NotAttempted);
        assert!(
            !state
                .pending()
                .iter()
                .any(|update| update.name == target.name)
        );
    }

    #[test]
    fn report_round_trips_through_protocol() {
        let report = SimulatedUpdates::new(11, 40).report();
        let envelope = sysmanage_protocol::Envelope::new(
            sysmanage_protocol::AgentMessage::UpdateReport(report),
        );
        let json = envelope.to_json();
        let decoded: sysmanage_protocol::Envelope<sysmanage_protocol::AgentMessage> =
            sysmanage_protocol::decode(&json).unwrap();
        assert_eq!(decoded, envelope);
        assert!(
            json.len() > 2_000,
            "a report of tens of updates is a few KB: {}",
            json.len()
        );
    }

    #[test]
    fn kernel_install_requires_reboot_by_default() {
        let mut state = SimulatedUpdates::new(host_with_kernel_update(true), 40);
        assert!(!state.report().reboot_required);

        let result = install(&mut state, 1, &InstallRequest::All);

        assert!(result.reboot_required);
        assert!(state.reboot_required());
        assert!(state.report().reboot_required, "the report after the job");
    }

    #[test]
    fn install_without_kernel_needs_no_reboot_by_default() {
        let mut state = SimulatedUpdates::new(host_with_kernel_update(false), 40);

        let result = install(&mut state, 1, &InstallRequest::All);

        assert!(!result.packages.is_empty());
        assert!(!result.reboot_required);
        assert!(!state.report().reboot_required);
    }

    #[test]
    fn reboot_probability_one_and_zero() {
        let mut rng = SmallRng::seed_from_u64(1);
        let index = host_with_kernel_update(false);

        let mut always = SimulatedUpdates::new(index, 40);
        let result = always.install(
            1,
            &InstallRequest::All,
            RebootAfterInstall::Probability(1.0),
            &mut rng,
        );
        assert!(result.reboot_required);
        assert!(always.report().reboot_required);

        let mut never = SimulatedUpdates::new(host_with_kernel_update(true), 40);
        let result = never.install(
            1,
            &InstallRequest::All,
            RebootAfterInstall::Probability(0.0),
            &mut rng,
        );
        assert!(
            !result.reboot_required,
            "a kernel install with probability 0"
        );
        assert!(!never.report().reboot_required);
    }

    #[test]
    fn reboot_needs_an_installed_package() {
        let mut rng = SmallRng::seed_from_u64(2);
        let mut state = SimulatedUpdates::new(3, 40);
        let request = InstallRequest::Packages {
            packages: vec![PackageSpec {
                manager: "apt".to_owned(),
                name: "not-pending".to_owned(),
                version: "1.0".to_owned(),
            }],
        };

        let result = state.install(1, &request, RebootAfterInstall::Probability(1.0), &mut rng);

        assert!(!result.reboot_required);
    }

    #[test]
    fn reboot_stays_required_for_later_jobs() {
        let mut rng = SmallRng::seed_from_u64(3);
        let mut state = SimulatedUpdates::new(7, 40);
        let first = state.install(
            1,
            &InstallRequest::SecurityOnly,
            RebootAfterInstall::Probability(1.0),
            &mut rng,
        );
        assert!(first.reboot_required);

        // The second job installs the rest and, with probability 0, needs no reboot of its own.
        let second = state.install(
            2,
            &InstallRequest::All,
            RebootAfterInstall::Probability(0.0),
            &mut rng,
        );

        assert!(second.reboot_required);
        assert!(state.report().reboot_required);
    }
}
