//! Installs with `pkg upgrade -y`: argument building, exit codes and per-package results.
//!
//! pkg cannot install a chosen version: `pkg upgrade NAME` installs the version the repository
//! offers at that moment. The result of each package therefore compares the installed version
//! with the approved one and says so when they differ.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::time::Duration;

use sysmanage_protocol::{
    JobFailure, JobFailureKind, PackageOutcome, PackageResult, PackageSpec, UpdateStatus,
    ValidationError, validate_manager, validate_package_name_for, validate_version_for,
};

use super::{INSTALL_TIMEOUT, MANAGER, Pkg, RunError, detect};
use crate::packages::command::{self, describe};
use crate::packages::version::freebsd;
use crate::packages::{InstallOutcome, InstallSelection, PackageManager};

/// Checks a package spec for pkg.
pub fn validate_spec(spec: &PackageSpec) -> Result<(), ValidationError> {
    validate_manager(&spec.manager)?;
    if spec.manager != MANAGER {
        return Err(ValidationError {
            field: "manager",
            value: spec.manager.clone(),
            reason: "is not pkg",
        });
    }
    validate_package_name_for(&spec.manager, &spec.name)?;
    validate_version_for(&spec.manager, &spec.version)
}

/// Builds the pkg arguments that upgrade these packages, or every package when `names` is
/// `None`.
pub fn upgrade_arguments(names: Option<&[String]>) -> Vec<String> {
    let mut arguments = vec!["upgrade".to_owned(), "-y".to_owned()];
    if let Some(names) = names {
        arguments.extend(names.iter().cloned());
    }
    arguments
}

/// Decodes the exit status of `pkg upgrade -y`: 0 is success, anything else a failure.
pub fn decode_install_status(code: Option<i32>) -> Result<(), String> {
    match code {
        Some(0) => Ok(()),
        Some(code) => Err(format!("pkg upgrade exited with status {code}")),
        None => Err("pkg upgrade was killed by a signal".to_owned()),
    }
}

/// Compares the installed version of a package with the approved one.
pub fn package_result(spec: &PackageSpec, installed_version: Option<String>) -> PackageResult {
    let (outcome, message) = match &installed_version {
        Some(version) if freebsd::compare(version, &spec.version) == Ordering::Equal => {
            (PackageOutcome::Installed, None)
        }
        Some(version) => (
            PackageOutcome::Failed,
            Some(format!(
                "installed version is {version}, approved {}: pkg installs the version the \
                 repository offers and cannot pin another one",
                spec.version
            )),
        ),
        None => (
            PackageOutcome::Failed,
            Some("package is not installed after the run".to_owned()),
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

/// Runs an install selection with pkg and reports each package.
pub fn install(pkg: &Pkg, selection: &InstallSelection) -> InstallOutcome {
    let specs = match planned_specs(pkg, selection) {
        Ok(specs) => specs,
        Err(failure) => return failed(failure),
    };
    if let Some(error) = specs.iter().find_map(|spec| validate_spec(spec).err()) {
        return failed(JobFailure {
            kind: JobFailureKind::InvalidRequest,
            message: error.to_string(),
        });
    }
    // A package locked with `pkg lock` is held: pkg would refuse to modify it, so it is not
    // attempted. Detection never offers one for all or security-only installs.
    let (specs, held) = match selection {
        InstallSelection::Packages(_) => split_locked(specs, &locked_names()),
        InstallSelection::All | InstallSelection::SecurityOnly => (specs, Vec::new()),
    };
    if specs.is_empty() {
        return InstallOutcome {
            packages: held,
            output_tail: "no updates to install".to_owned(),
            failure: None,
        };
    }

    let names: Vec<String> = specs.iter().map(|spec| spec.name.clone()).collect();
    let arguments = match selection {
        InstallSelection::All => upgrade_arguments(None),
        InstallSelection::Packages(_) | InstallSelection::SecurityOnly => {
            upgrade_arguments(Some(&names))
        }
    };
    let argument_refs: Vec<&str> = arguments.iter().map(String::as_str).collect();
    let description = describe(&Pkg::command(&argument_refs));
    tracing::info!(manager = MANAGER, command = %description, "install started");

    let (output_tail, failure) = match Pkg::run_retrying(&argument_refs, INSTALL_TIMEOUT) {
        Ok(output) => match decode_install_status(output.status.code()) {
            Ok(()) => (output.output_tail, None),
            Err(message) => (
                output.output_tail,
                Some(JobFailure {
                    kind: JobFailureKind::CommandFailed,
                    message: format!("`{description}` failed: {message}"),
                }),
            ),
        },
        Err(RunError::Busy(error)) => (
            String::new(),
            Some(JobFailure {
                kind: JobFailureKind::LockTimeout,
                message: error.to_string(),
            }),
        ),
        Err(RunError::Command(command::CommandError::Timeout {
            output_tail,
            timeout,
            ..
        })) => (
            output_tail,
            Some(JobFailure {
                kind: JobFailureKind::Timeout,
                message: format!(
                    "`{description}` did not finish within {} s and was killed",
                    timeout.as_secs()
                ),
            }),
        ),
        Err(RunError::Command(error)) => (
            String::new(),
            Some(JobFailure {
                kind: JobFailureKind::CommandFailed,
                message: error.to_string(),
            }),
        ),
    };

    let mut packages: Vec<PackageResult> = specs
        .iter()
        .map(|spec| package_result(spec, query_installed_version(&spec.name)))
        .collect();
    packages.extend(held);
    InstallOutcome {
        packages,
        output_tail,
        failure,
    }
}

/// Lists what the selection installs: the request itself, or the available (security) updates.
fn planned_specs(pkg: &Pkg, selection: &InstallSelection) -> Result<Vec<PackageSpec>, JobFailure> {
    let security_only = match selection {
        InstallSelection::Packages(specs) => return Ok(specs.clone()),
        InstallSelection::All => false,
        InstallSelection::SecurityOnly => true,
    };
    let updates = pkg.detect_updates().map_err(|error| JobFailure {
        kind: JobFailureKind::CommandFailed,
        message: format!("update detection before the install failed: {error}"),
    })?;
    Ok(updates
        .into_iter()
        .filter(|update| update.status == UpdateStatus::Available)
        .filter(|update| update.security || !security_only)
        .map(|update| PackageSpec {
            manager: MANAGER.to_owned(),
            name: update.name,
            version: update.new_version,
        })
        .collect())
}

/// Separates the specs of locked packages, which are reported as not attempted.
pub fn split_locked(
    specs: Vec<PackageSpec>,
    locked: &BTreeSet<String>,
) -> (Vec<PackageSpec>, Vec<PackageResult>) {
    let (held, runnable): (Vec<PackageSpec>, Vec<PackageSpec>) = specs
        .into_iter()
        .partition(|spec| locked.contains(&spec.name));
    let results = held
        .into_iter()
        .map(|spec| PackageResult {
            manager: MANAGER.to_owned(),
            name: spec.name,
            requested_version: Some(spec.version),
            installed_version: None,
            outcome: PackageOutcome::NotAttempted,
            message: Some("the package is locked (`pkg lock`); unlock it to upgrade it".to_owned()),
        })
        .collect();
    (runnable, results)
}

/// Names of the locked packages (`pkg lock -l`). When the list cannot be read, none: pkg
/// itself still refuses to modify a locked package.
fn locked_names() -> BTreeSet<String> {
    let arguments = ["lock", "-l"];
    match Pkg::run_retrying(&arguments, Duration::from_mins(1)) {
        Ok(output) if output.status.success() => match detect::parse_locked(&output.stdout) {
            Ok(locked) => locked.into_iter().map(|package| package.name).collect(),
            Err(error) => {
                tracing::warn!(manager = MANAGER, %error, "pkg lock -l output not understood");
                BTreeSet::new()
            }
        },
        Ok(output) => {
            tracing::warn!(manager = MANAGER, status = %output.status, "pkg lock -l failed");
            BTreeSet::new()
        }
        Err(error) => {
            tracing::warn!(manager = MANAGER, %error, "pkg lock -l failed");
            BTreeSet::new()
        }
    }
}

fn failed(failure: JobFailure) -> InstallOutcome {
    InstallOutcome {
        packages: Vec::new(),
        output_tail: String::new(),
        failure: Some(failure),
    }
}

/// Returns the installed version of a package (`pkg query %v NAME`), or `None`.
fn query_installed_version(name: &str) -> Option<String> {
    let command = Pkg::command(&["query", "%v", name]);
    match command::run(command, Duration::from_mins(1)) {
        Ok(output) if output.status.success() => {
            let version = output.stdout.trim();
            (!version.is_empty()).then(|| version.to_owned())
        }
        Ok(_) => None,
        Err(error) => {
            tracing::warn!(manager = MANAGER, package = name, %error, "pkg query failed");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, version: &str) -> PackageSpec {
        PackageSpec {
            manager: MANAGER.into(),
            name: name.into(),
            version: version.into(),
        }
    }

    #[test]
    fn upgrade_argv() {
        let names = ["curl".to_owned(), "openssl".to_owned()];
        assert_eq!(
            upgrade_arguments(Some(&names)),
            ["upgrade", "-y", "curl", "openssl"]
        );
        assert_eq!(upgrade_arguments(None), ["upgrade", "-y"]);
    }

    #[test]
    fn spec_validation() {
        assert!(validate_spec(&spec("openssl", "3.0.13,1")).is_ok());
        assert!(validate_spec(&spec("-y", "1.0")).is_err());
        assert!(validate_spec(&spec("curl", "8 5")).is_err());
        let other = PackageSpec {
            manager: "apt".into(),
            name: "curl".into(),
            version: "1".into(),
        };
        assert!(validate_spec(&other).is_err());
    }

    #[test]
    fn install_exit_codes() {
        assert_eq!(decode_install_status(Some(0)), Ok(()));
        assert!(decode_install_status(Some(1)).is_err());
        assert!(decode_install_status(None).is_err());
    }

    #[test]
    fn result_compares_with_pkg_rules() {
        let approved = spec("openssl", "3.0.13,1");
        let same = package_result(&approved, Some("3.0.13,1".into()));
        assert_eq!(same.outcome, PackageOutcome::Installed);

        let newer = package_result(&approved, Some("3.0.14,1".into()));
        assert_eq!(newer.outcome, PackageOutcome::Failed);
        assert!(newer.message.unwrap().contains("cannot pin"));

        let missing = package_result(&approved, None);
        assert_eq!(missing.outcome, PackageOutcome::Failed);
    }

    #[test]
    fn locked_packages_are_not_attempted() {
        let locked: BTreeSet<String> = ["postgresql15-server".to_owned()].into();
        let (runnable, held) = split_locked(
            vec![spec("curl", "8.5.0"), spec("postgresql15-server", "15.6")],
            &locked,
        );
        assert_eq!(runnable, [spec("curl", "8.5.0")]);
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].name, "postgresql15-server");
        assert_eq!(held[0].outcome, PackageOutcome::NotAttempted);
        assert!(held[0].message.as_deref().unwrap().contains("pkg lock"));
    }
}
