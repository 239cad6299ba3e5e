//! Installs with apk: argument building, exit decoding and per-package results.
//!
//! A selection runs `apk upgrade NAME...`, which upgrades only those packages. It cannot pin a
//! version: `apk add --upgrade name=version` would, but it also writes `name=version` into
//! `/etc/apk/world`, which holds the package at that version for every later upgrade and marks
//! a dependency as explicitly installed. So the version is checked after the run instead.

use sysmanage_protocol::{
    JobFailure, JobFailureKind, PackageOutcome, PackageResult, PackageSpec, UpdateStatus,
    ValidationError, validate_manager, validate_package_name_for, validate_version_for,
};

use super::detect::split_name_version;
use super::{Apk, MANAGER, RunError, describe_arguments, run_waiting};
use crate::packages::command::CommandError;
use crate::packages::{InstallOutcome, InstallSelection, PackageManager};

/// Message of a security-only request: apk has no security metadata to select by.
pub const SECURITY_ONLY_UNSUPPORTED: &str =
    "apk cannot select security updates: Alpine's security database is not exposed by apk";

/// Checks a package spec for apk.
pub fn validate_spec(spec: &PackageSpec) -> Result<(), ValidationError> {
    validate_manager(&spec.manager)?;
    if spec.manager != MANAGER {
        return Err(ValidationError {
            field: "manager",
            value: spec.manager.clone(),
            reason: "is not apk",
        });
    }
    validate_package_name_for(&spec.manager, &spec.name)?;
    validate_version_for(&spec.manager, &spec.version)
}

/// Builds the apk arguments that upgrade these packages, or every package when `names` is
/// empty.
pub fn upgrade_arguments(names: &[&str]) -> Vec<String> {
    let mut arguments = vec!["upgrade".to_owned(), "--no-progress".to_owned()];
    arguments.extend(names.iter().map(|name| (*name).to_owned()));
    arguments
}

/// Meaning of an apk exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApkExit {
    Success,
    /// Another apk has the database locked: busy, retry later.
    LockHeld,
    Failed,
}

/// Decodes an apk exit status together with its error output. apk exits with the number of
/// errors (0 on success), so the lock case is told apart by its `ERROR:` line.
pub fn decode_exit(code: Option<i32>, stderr: &str) -> ApkExit {
    let locked = stderr
        .lines()
        .any(|line| line.starts_with("ERROR: Unable to lock database"));
    match code {
        Some(0) => ApkExit::Success,
        Some(_) if locked => ApkExit::LockHeld,
        _ => ApkExit::Failed,
    }
}

/// Parses `apk list --installed NAME`: the installed version of `name`.
pub fn parse_installed_version(output: &str, name: &str) -> Option<String> {
    output.lines().find_map(|line| {
        let package = line.split(' ').next()?;
        let (found, version) = split_name_version(package)?;
        (found == name && line.ends_with("[installed]")).then(|| version.to_owned())
    })
}

/// Builds the result of one package from its version after the run.
pub fn package_result(spec: &PackageSpec, installed_version: Option<String>) -> PackageResult {
    let (outcome, message) = match installed_version.as_deref() {
        Some(version) if version == spec.version => (PackageOutcome::Installed, None),
        Some(version) => (
            PackageOutcome::Failed,
            Some(format!(
                "installed version is {version}, requested {}; apk upgrades to the newest \
                 version in its repositories and cannot pin one",
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

/// Runs an install selection with apk and reports each package.
pub fn install(apk: &Apk, selection: &InstallSelection) -> InstallOutcome {
    let (specs, upgrade_all) = match selection {
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
        InstallSelection::All => match apk.detect_updates() {
            Ok(updates) => {
                let specs = updates
                    .into_iter()
                    .filter(|update| update.status == UpdateStatus::Available)
                    .map(|update| PackageSpec {
                        manager: MANAGER.to_owned(),
                        name: update.name,
                        version: update.new_version,
                    })
                    .collect();
                (specs, true)
            }
            Err(error) => {
                return InstallOutcome::failed(
                    JobFailureKind::CommandFailed,
                    format!("update detection before the upgrade failed: {error}"),
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

    let names: Vec<&str> = if upgrade_all {
        Vec::new()
    } else {
        specs.iter().map(|spec| spec.name.as_str()).collect()
    };
    let arguments = upgrade_arguments(&names);
    let description = describe_arguments(&arguments);
    tracing::info!(manager = MANAGER, command = %description, "install started");
    let (output_tail, failure) = match run_waiting(
        apk.settings().busy,
        &arguments,
        apk.settings().install_timeout,
    ) {
        Ok(output) => {
            let failure = (decode_exit(output.status.code(), &output.stderr) != ApkExit::Success)
                .then(|| JobFailure {
                    kind: JobFailureKind::CommandFailed,
                    message: format!("`{description}` failed with {}", output.status),
                });
            (output.output_tail, failure)
        }
        Err(RunError::Busy {
            message,
            output_tail,
        }) => (
            output_tail,
            Some(JobFailure {
                kind: JobFailureKind::LockTimeout,
                message,
            }),
        ),
        Err(RunError::Command(CommandError::Timeout {
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

    let packages = specs
        .iter()
        .map(|spec| package_result(spec, installed_version(apk, &spec.name)))
        .collect();
    InstallOutcome {
        packages,
        output_tail,
        failure,
    }
}

fn installed_version(apk: &Apk, name: &str) -> Option<String> {
    let arguments = vec!["list".to_owned(), "--installed".to_owned(), name.to_owned()];
    match run_waiting(
        apk.settings().busy,
        &arguments,
        std::time::Duration::from_mins(1),
    ) {
        Ok(output) if output.status.success() => parse_installed_version(&output.stdout, name),
        Ok(_) => None,
        Err(error) => {
            tracing::warn!(manager = MANAGER, package = name, %error, "apk list --installed failed");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/apk/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap()
    }

    fn spec(name: &str, version: &str) -> PackageSpec {
        PackageSpec {
            manager: "apk".into(),
            name: name.into(),
            version: version.into(),
        }
    }

    #[test]
    fn upgrade_argv() {
        assert_eq!(
            upgrade_arguments(&["busybox", "libssl3"]),
            ["upgrade", "--no-progress", "busybox", "libssl3"]
        );
        assert_eq!(upgrade_arguments(&[]), ["upgrade", "--no-progress"]);
    }

    #[test]
    fn exit_codes() {
        let cases = [
            (Some(0), String::new(), ApkExit::Success),
            (Some(2), fixture("lock-error.txt"), ApkExit::LockHeld),
            (Some(1), fixture("unsatisfiable.txt"), ApkExit::Failed),
            (Some(3), String::new(), ApkExit::Failed),
            (None, fixture("lock-error.txt"), ApkExit::Failed),
        ];
        for (code, stderr, expected) in cases {
            assert_eq!(decode_exit(code, &stderr), expected, "{code:?} {stderr}");
        }
    }

    #[test]
    fn spec_validation() {
        assert_eq!(validate_spec(&spec("busybox", "1.36.1-r29")), Ok(()));
        for case in [
            spec("--allow-untrusted", "1.0-r0"),
            spec("busybox", "-r0"),
            spec("busy box", "1.0-r0"),
            PackageSpec {
                manager: "pacman".into(),
                ..spec("busybox", "1.0-r0")
            },
        ] {
            assert!(validate_spec(&case).is_err(), "{case:?}");
        }
    }

    #[test]
    fn installed_version_output() {
        let output = "busybox-1.36.1-r29 x86_64 {busybox} (GPL-2.0-only) [installed]\n";
        assert_eq!(
            parse_installed_version(output, "busybox"),
            Some("1.36.1-r29".to_owned())
        );
        assert_eq!(parse_installed_version(output, "busybox-extras"), None);
        assert_eq!(parse_installed_version("", "busybox"), None);
    }

    #[test]
    fn package_results() {
        let requested = spec("busybox", "1.36.1-r29");
        let exact = package_result(&requested, Some("1.36.1-r29".into()));
        assert_eq!(exact.outcome, PackageOutcome::Installed);
        let other = package_result(&requested, Some("1.36.1-r30".into()));
        assert_eq!(other.outcome, PackageOutcome::Failed);
        assert!(other.message.unwrap().contains("cannot pin"));
        let missing = package_result(&requested, None);
        assert_eq!(missing.outcome, PackageOutcome::Failed);
    }
}
