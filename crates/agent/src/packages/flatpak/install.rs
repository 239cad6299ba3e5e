//! Installs with flatpak: argument building, exit decoding and per-package results.
//!
//! `flatpak update REF` installs the newest commit of the ref's branch. It is not pinned:
//! `flatpak update --commit=COMMIT REF` pins a commit, but it needs the full commit id, while
//! an update carries the app's version (or the 12-character short commit). The version is
//! checked after the run instead.

use sysmanage_protocol::{
    JobFailure, JobFailureKind, PackageOutcome, PackageResult, PackageSpec, UpdateStatus,
    ValidationError, validate_manager, validate_package_name_for, validate_version_for,
};

use super::detect::Installed;
use super::{Flatpak, MANAGER};
use crate::packages::command::{self, CommandError, describe};
use crate::packages::{InstallOutcome, InstallSelection, PackageManager};

/// Message of a security-only request: flatpak remotes do not mark security updates.
pub const SECURITY_ONLY_UNSUPPORTED: &str =
    "flatpak cannot select security updates: flatpak remotes do not mark them";

/// Checks a package spec for flatpak. The name is a ref such as `org.mozilla.firefox/x86_64/stable`.
pub fn validate_spec(spec: &PackageSpec) -> Result<(), ValidationError> {
    validate_manager(&spec.manager)?;
    if spec.manager != MANAGER {
        return Err(ValidationError {
            field: "manager",
            value: spec.manager.clone(),
            reason: "is not flatpak",
        });
    }
    validate_package_name_for(&spec.manager, &spec.name)?;
    validate_version_for(&spec.manager, &spec.version)
}

/// Builds the flatpak arguments that update these refs, or everything when `references` is
/// empty. `--system` matches detection, which reads the system installation only.
pub fn update_arguments(references: &[&str]) -> Vec<String> {
    let mut arguments: Vec<String> = ["update", "-y", "--noninteractive", "--system"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    arguments.extend(references.iter().map(|reference| (*reference).to_owned()));
    arguments
}

/// Returns whether a flatpak exit status means success. flatpak exits 0 on success and 1 on
/// every error, with the reason on stderr.
pub fn exit_succeeded(code: Option<i32>) -> bool {
    code == Some(0)
}

/// Builds the result of one ref from the installation after the run. The requested version
/// matches the installed version, or its commit for refs without a version.
pub fn package_result(spec: &PackageSpec, installed: Option<&Installed>) -> PackageResult {
    let installed_version =
        installed.map(|row| super::detect::version_or_commit(&row.version, &row.commit));
    let (outcome, message) = match installed_version.as_deref() {
        Some(version) if version == spec.version => (PackageOutcome::Installed, None),
        Some(version) => (
            PackageOutcome::Failed,
            Some(format!(
                "installed version is {version}, requested {}; flatpak updates to the newest \
                 commit of the branch and cannot pin a version",
                spec.version
            )),
        ),
        None => (
            PackageOutcome::Failed,
            Some("ref is not installed after the run".to_owned()),
        ),
    };
    PackageResult {
        manager: MANAGER.to_owned(),
        name: spec.name.clone(),
        requested_version: Some(spec.version.clone()),
        installed_version,
        outcome,
        message,
    }
}

/// Runs an install selection with flatpak and reports each ref.
pub fn install(flatpak: &Flatpak, selection: &InstallSelection) -> InstallOutcome {
    let (specs, update_all) = match selection {
        InstallSelection::SecurityOnly => {
            return InstallOutcome::failed(
                JobFailureKind::Unsupported,
                SECURITY_ONLY_UNSUPPORTED.to_owned(),
            );
        }
        InstallSelection::Packages(specs) => {
            if let Some(error) = specs.iter().find_map(|spec| validate_spec(spec).err()) {
                return InstallOutcome::failed(JobFailureKind::InvalidRequest, error.to_string());
            }
            (specs.clone(), false)
        }
        InstallSelection::All => match flatpak.detect_updates() {
            Ok(updates) => (
                updates
                    .into_iter()
                    .filter(|update| update.status == UpdateStatus::Available)
                    .map(|update| PackageSpec {
                        manager: MANAGER.to_owned(),
                        name: update.name,
                        version: update.new_version,
                    })
                    .collect::<Vec<_>>(),
                true,
            ),
            Err(error) => {
                return InstallOutcome::failed(
                    JobFailureKind::CommandFailed,
                    format!("update detection before the update failed: {error}"),
                );
            }
        },
    };
    if specs.is_empty() {
        return InstallOutcome {
            packages: Vec::new(),
            output_tail: "no updates to install".to_owned(),
            failure: None,
        };
    }

    let references: Vec<&str> = if update_all {
        Vec::new()
    } else {
        specs.iter().map(|spec| spec.name.as_str()).collect()
    };
    let mut command = super::flatpak_command();
    command.args(update_arguments(&references));
    let description = describe(&command);
    tracing::info!(manager = MANAGER, command = %description, "install started");
    let (output_tail, failure) = match command::run(command, flatpak.settings().install_timeout) {
        Ok(output) => {
            let failure = (!exit_succeeded(output.status.code())).then(|| JobFailure {
                kind: JobFailureKind::CommandFailed,
                message: format!("`{description}` failed with {}", output.status),
            });
            (output.output_tail, failure)
        }
        Err(CommandError::Timeout {
            output_tail,
            timeout,
            ..
        }) => (
            output_tail,
            Some(JobFailure {
                kind: JobFailureKind::Timeout,
                message: format!(
                    "`{description}` did not finish within {} s and was killed",
                    timeout.as_secs()
                ),
            }),
        ),
        Err(error) => (
            String::new(),
            Some(JobFailure {
                kind: JobFailureKind::CommandFailed,
                message: error.to_string(),
            }),
        ),
    };

    let installed = flatpak.installed().unwrap_or_else(|error| {
        tracing::warn!(manager = MANAGER, %error, "flatpak list failed after the update");
        Vec::new()
    });
    let packages = specs
        .iter()
        .map(|spec| {
            let row = installed.iter().find(|row| row.reference() == spec.name);
            package_result(spec, row)
        })
        .collect();
    InstallOutcome {
        packages,
        output_tail,
        failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, version: &str) -> PackageSpec {
        PackageSpec {
            manager: "flatpak".into(),
            name: name.into(),
            version: version.into(),
        }
    }

    #[test]
    fn update_argv() {
        assert_eq!(
            update_arguments(&["org.mozilla.firefox/x86_64/stable"]),
            [
                "update",
                "-y",
                "--noninteractive",
                "--system",
                "org.mozilla.firefox/x86_64/stable"
            ]
        );
        assert_eq!(
            update_arguments(&[]),
            ["update", "-y", "--noninteractive", "--system"]
        );
    }

    #[test]
    fn exit_codes() {
        assert!(exit_succeeded(Some(0)));
        assert!(!exit_succeeded(Some(1)));
        assert!(!exit_succeeded(None));
    }

    #[test]
    fn spec_validation() {
        assert_eq!(
            validate_spec(&spec("org.mozilla.firefox/x86_64/stable", "125.0.1")),
            Ok(())
        );
        assert!(validate_spec(&spec("--user", "1")).is_err());
        assert!(validate_spec(&spec("org.a/x86_64/stable", "1 2")).is_err());
    }

    #[test]
    fn package_results() {
        let row = Installed {
            application: "org.gnome.Platform".into(),
            version: String::new(),
            branch: "45".into(),
            architecture: "x86_64".into(),
            commit: "2b3c4d5e6f70".into(),
        };
        let by_commit = package_result(
            &spec("org.gnome.Platform/x86_64/45", "2b3c4d5e6f70"),
            Some(&row),
        );
        assert_eq!(by_commit.outcome, PackageOutcome::Installed);
        let stale = package_result(
            &spec("org.gnome.Platform/x86_64/45", "3c4d5e6f7081"),
            Some(&row),
        );
        assert_eq!(stale.outcome, PackageOutcome::Failed);
        let missing = package_result(&spec("org.gnome.Platform/x86_64/45", "1"), None);
        assert_eq!(missing.outcome, PackageOutcome::Failed);
    }
}
