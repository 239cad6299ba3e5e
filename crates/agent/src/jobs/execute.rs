//! Turns an install request into calls of the package managers and one job result.

use std::path::Path;
use std::sync::Arc;

use sysmanage_protocol::{
    InstallRequest, JobFailure, JobFailureKind, JobResult, PackageOutcome, PackageResult,
    PackageSpec, validate_manager, validate_package_name, validate_version,
};

use crate::packages::{InstallOutcome, InstallSelection, PackageManager};

/// Runs one install request to its end. Blocks while the package managers run.
pub fn execute(
    job_id: i64,
    request: &InstallRequest,
    managers: &[Arc<dyn PackageManager>],
    reboot_required_path: &Path,
) -> JobResult {
    let outcomes = match request {
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
    result.reboot_required = reboot_required_path.exists();
    result
}

fn validate_spec(spec: &PackageSpec) -> Result<(), sysmanage_protocol::ValidationError> {
    validate_manager(&spec.manager)?;
    validate_package_name(&spec.name)?;
    validate_version(&spec.version)
}

fn install_packages(
    specs: &[PackageSpec],
    managers: &[Arc<dyn PackageManager>],
) -> Vec<InstallOutcome> {
    if let Some(error) = specs.iter().find_map(|spec| validate_spec(spec).err()) {
        return vec![not_attempted(
            specs,
            JobFailureKind::InvalidRequest,
            &error.to_string(),
        )];
    }
    if specs.is_empty() {
        return vec![not_attempted(
            specs,
            JobFailureKind::InvalidRequest,
            "the request lists no packages",
        )];
    }

    let mut manager_names: Vec<&str> = specs.iter().map(|spec| spec.manager.as_str()).collect();
    manager_names.dedup();
    let mut outcomes = Vec::new();
    for name in manager_names {
        let subset: Vec<PackageSpec> = specs
            .iter()
            .filter(|spec| spec.manager == name)
            .cloned()
            .collect();
        match managers.iter().find(|manager| manager.name() == name) {
            Some(manager) => outcomes.push(manager.install(&InstallSelection::Packages(subset))),
            None => outcomes.push(not_attempted(
                &subset,
                JobFailureKind::Unsupported,
                &format!("package manager {name} is not available on this host"),
            )),
        }
    }
    outcomes
}

fn install_everywhere(
    selection: &InstallSelection,
    managers: &[Arc<dyn PackageManager>],
) -> Vec<InstallOutcome> {
    if managers.is_empty() {
        return vec![not_attempted(
            &[],
            JobFailureKind::Unsupported,
            "no supported package manager was found on this host",
        )];
    }
    managers
        .iter()
        .map(|manager| manager.install(selection))
        .collect()
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
        selections: Mutex<Vec<InstallSelection>>,
    }

    impl PackageManager for RecordingManager {
        fn name(&self) -> &'static str {
            "apt"
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
        Arc::new(RecordingManager {
            selections: Mutex::new(Vec::new()),
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
}
