//! Turns an install request into calls of the package managers and one job result.

use std::path::Path;
use std::sync::Arc;

use sysmanage_protocol::{
    InstallRequest, JobFailure, JobFailureKind, JobResult, PackageOutcome, PackageResult,
    PackageSpec, validate_package_spec,
};

use crate::packages::{InstallOutcome, InstallSelection, PackageManager};

/// Runs one install request to its end. Blocks while the package managers run.
pub fn execute(
    job_id: i64,
    request: &InstallRequest,
    managers: &[Arc<dyn PackageManager>],
    reboot_required_path: &Path,
) -> JobResult {
    let Installs { outcomes, used } = match request {
        InstallRequest::Packages { packages } => install_packages(packages, managers),
        InstallRequest::All => install_everywhere(&InstallSelection::All, managers),
        InstallRequest::SecurityOnly => {
            install_everywhere(&InstallSelection::SecurityOnly, managers)
        }
    };

    let mut result = JobResult {
        job_id,
        success: true,
        packages: Vec::new(),
        output_tail: String::new(),
        failure: None,
        reboot_required: false,
    };
    for outcome in outcomes {
        result.packages.extend(outcome.packages);
        if !outcome.output_tail.is_empty() {
            if !result.output_tail.is_empty() {
                result.output_tail.push('\n');
            }
            result.output_tail.push_str(&outcome.output_tail);
        }
        if result.failure.is_none() {
            result.failure = outcome.failure;
        }
    }
    result.success = result.failure.is_none()
        && result
            .packages
            .iter()
            .all(|package| package.outcome == PackageOutcome::Installed);
    if !result.success && result.failure.is_none() {
        result.failure = Some(JobFailure {
            kind: JobFailureKind::CommandFailed,
            message: "some packages did not reach the requested version".to_owned(),
        });
    }
    // The Debian flag file, or any manager that ran and knows of a pending reboot (a FreeBSD
    // kernel patch, a macOS update with a restart action, an MSI exit code 3010).
    result.reboot_required =
        reboot_required_path.exists() || used.iter().any(|manager| manager.reboot_required());
    result
}

/// Outcomes of the managers that ran, and those managers.
struct Installs {
    outcomes: Vec<InstallOutcome>,
    used: Vec<Arc<dyn PackageManager>>,
}

fn install_packages(specs: &[PackageSpec], managers: &[Arc<dyn PackageManager>]) -> Installs {
    let refused = |kind, message: &str| Installs {
        outcomes: vec![not_attempted(specs, kind, message)],
        used: Vec::new(),
    };
    if let Some(error) = specs
        .iter()
        .find_map(|spec| validate_package_spec(spec).err())
    {
        return refused(JobFailureKind::InvalidRequest, &error.to_string());
    }
    if specs.is_empty() {
        return refused(
            JobFailureKind::InvalidRequest,
            "the request lists no packages",
        );
    }

    // Each manager once, in the order of its first package: `dedup` alone would only merge
    // neighbours and run a manager twice for apt, snap, apt.
    let mut manager_names: Vec<&str> = Vec::new();
    for spec in specs {
        if !manager_names.contains(&spec.manager.as_str()) {
            manager_names.push(&spec.manager);
        }
    }
    let mut installs = Installs {
        outcomes: Vec::new(),
        used: Vec::new(),
    };
    for name in manager_names {
        let subset: Vec<PackageSpec> = specs
            .iter()
            .filter(|spec| spec.manager == name)
            .cloned()
            .collect();
        match managers.iter().find(|manager| manager.name() == name) {
            Some(manager) => {
                installs
                    .outcomes
                    .push(manager.install(&InstallSelection::Packages(subset)));
                installs.used.push(Arc::clone(manager));
            }
            None => installs.outcomes.push(not_attempted(
                &subset,
                JobFailureKind::Unsupported,
                &format!("package manager {name} is not available on this host"),
            )),
        }
    }
    installs
}

fn install_everywhere(
    selection: &InstallSelection,
    managers: &[Arc<dyn PackageManager>],
) -> Installs {
    if managers.is_empty() {
        return Installs {
            outcomes: vec![not_attempted(
                &[],
                JobFailureKind::Unsupported,
                "no supported package manager was found on this host",
            )],
            used: Vec::new(),
        };
    }
    Installs {
        outcomes: managers
            .iter()
            .map(|manager| manager.install(selection))
            .collect(),
        used: managers.to_vec(),
    }
}

fn not_attempted(specs: &[PackageSpec], kind: JobFailureKind, message: &str) -> InstallOutcome {
    InstallOutcome {
        packages: specs
            .iter()
            .map(|spec| PackageResult {
                manager: spec.manager.clone(),
                name: spec.name.clone(),
                requested_version: Some(spec.version.clone()),
                installed_version: None,
                outcome: PackageOutcome::NotAttempted,
                message: None,
            })
            .collect(),
        output_tail: String::new(),
        failure: Some(JobFailure {
            kind,
            message: message.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::ScanError;
    use std::sync::Mutex;
    use sysmanage_protocol::UpdateInfo;

    /// Records the selections it receives and reports every package installed.
    struct RecordingManager {
        name: &'static str,
        selections: Mutex<Vec<InstallSelection>>,
        reboot_required: bool,
    }

    impl PackageManager for RecordingManager {
        fn name(&self) -> &'static str {
            self.name
        }
        fn reboot_required(&self) -> bool {
            self.reboot_required
        }
        fn detect_updates(&self) -> Result<Vec<UpdateInfo>, ScanError> {
            Ok(Vec::new())
        }
        fn install(&self, selection: &InstallSelection) -> InstallOutcome {
            self.selections.lock().unwrap().push(selection.clone());
            let packages = match selection {
                InstallSelection::Packages(specs) => specs
                    .iter()
                    .map(|spec| PackageResult {
                        manager: spec.manager.clone(),
                        name: spec.name.clone(),
                        requested_version: Some(spec.version.clone()),
                        installed_version: Some(spec.version.clone()),
                        outcome: PackageOutcome::Installed,
                        message: None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            InstallOutcome {
                packages,
                output_tail: "ok".into(),
                failure: None,
            }
        }
    }

    fn spec(manager: &str, name: &str, version: &str) -> PackageSpec {
        PackageSpec {
            manager: manager.into(),
            name: name.into(),
            version: version.into(),
        }
    }

    fn recording() -> Arc<RecordingManager> {
        recording_named("apt", false)
    }

    fn recording_named(name: &'static str, reboot_required: bool) -> Arc<RecordingManager> {
        Arc::new(RecordingManager {
            name,
            selections: Mutex::new(Vec::new()),
            reboot_required,
        })
    }

    #[test]
    fn invalid_name_runs_nothing() {
        let manager = recording();
        let managers: Vec<Arc<dyn PackageManager>> = vec![manager.clone()];
        let request = InstallRequest::Packages {
            packages: vec![spec("apt", "openssl", "3.0"), spec("apt", "-oFoo=1", "1.0")],
        };
        let result = execute(9, &request, &managers, Path::new("/nonexistent"));
        assert!(!result.success);
        assert_eq!(result.failure.unwrap().kind, JobFailureKind::InvalidRequest);
        assert!(manager.selections.lock().unwrap().is_empty());
        assert!(
            result
                .packages
                .iter()
                .all(|p| p.outcome == PackageOutcome::NotAttempted)
        );
    }

    #[test]
    fn missing_manager_is_unsupported() {
        let manager = recording();
        let managers: Vec<Arc<dyn PackageManager>> = vec![manager.clone()];
        let request = InstallRequest::Packages {
            packages: vec![spec("apt", "openssl", "3.0"), spec("dnf", "bash", "5.2")],
        };
        let result = execute(10, &request, &managers, Path::new("/nonexistent"));
        assert!(!result.success);
        assert_eq!(result.failure.unwrap().kind, JobFailureKind::Unsupported);
        assert_eq!(result.packages.len(), 2);
        assert_eq!(result.packages[0].outcome, PackageOutcome::Installed);
        assert_eq!(result.packages[1].outcome, PackageOutcome::NotAttempted);
        assert_eq!(
            *manager.selections.lock().unwrap(),
            vec![InstallSelection::Packages(vec![spec(
                "apt", "openssl", "3.0"
            )])]
        );
    }

    #[test]
    fn all_goes_to_every_manager() {
        let manager = recording();
        let managers: Vec<Arc<dyn PackageManager>> = vec![manager.clone()];
        let result = execute(
            11,
            &InstallRequest::All,
            &managers,
            Path::new("/nonexistent"),
        );
        assert!(result.success);
        assert_eq!(
            *manager.selections.lock().unwrap(),
            vec![InstallSelection::All]
        );
        assert_eq!(result.job_id, 11);
    }

    #[test]
    fn no_managers_is_unsupported() {
        let result = execute(
            12,
            &InstallRequest::SecurityOnly,
            &[],
            Path::new("/nonexistent"),
        );
        assert!(!result.success);
        assert_eq!(result.failure.unwrap().kind, JobFailureKind::Unsupported);
    }

    #[test]
    fn reboot_required_by_a_manager_that_ran() {
        let freebsd_update = recording_named("freebsd_update", true);
        let pkg = recording_named("pkg", false);
        let managers: Vec<Arc<dyn PackageManager>> = vec![freebsd_update.clone(), pkg.clone()];

        let request = InstallRequest::Packages {
            packages: vec![spec("freebsd_update", "freebsd-base", "14.1-RELEASE-p5")],
        };
        let result = execute(13, &request, &managers, Path::new("/nonexistent"));
        assert!(result.success);
        assert!(
            result.reboot_required,
            "the manager's own reboot flag counts"
        );

        // A manager that did not run does not make the job ask for a reboot.
        let request = InstallRequest::Packages {
            packages: vec![spec("pkg", "curl", "8.6.0")],
        };
        let result = execute(14, &request, &managers, Path::new("/nonexistent"));
        assert!(!result.reboot_required);

        let result = execute(
            15,
            &InstallRequest::All,
            &managers,
            Path::new("/nonexistent"),
        );
        assert!(result.reboot_required);
    }

    #[test]
    fn reboot_flag_file_still_counts() {
        let directory = tempfile::tempdir().unwrap();
        let flag = directory.path().join("reboot-required");
        std::fs::write(&flag, "").unwrap();
        let managers: Vec<Arc<dyn PackageManager>> = vec![recording()];
        let result = execute(16, &InstallRequest::All, &managers, &flag);
        assert!(result.reboot_required);
    }

    #[test]
    fn each_manager_runs_once() {
        let apt = recording_named("apt", false);
        let snap = recording_named("snap", false);
        let managers: Vec<Arc<dyn PackageManager>> = vec![apt.clone(), snap.clone()];
        let request = InstallRequest::Packages {
            packages: vec![
                spec("apt", "openssl", "3.0"),
                spec("snap", "core22", "20240111"),
                spec("apt", "curl", "7.88"),
            ],
        };
        let result = execute(17, &request, &managers, Path::new("/nonexistent"));
        assert!(result.success);
        assert_eq!(result.packages.len(), 3);
        assert_eq!(
            *apt.selections.lock().unwrap(),
            vec![InstallSelection::Packages(vec![
                spec("apt", "openssl", "3.0"),
                spec("apt", "curl", "7.88"),
            ])]
        );
        assert_eq!(snap.selections.lock().unwrap().len(), 1);
    }
}
