//! Installs with snap: argument building, exit decoding and per-package results.
//!
//! `snap refresh NAME...` installs the newest revision of each snap's tracked channel. It is not
//! pinned to the approved version: `snap refresh --revision=N NAME` pins a store revision, but
//! an update carries the snap's version string, not its revision, so the agent cannot name the
//! revision the administrator saw. The version is checked after the run instead.

use sysmanage_protocol::{
    JobFailure, JobFailureKind, PackageOutcome, PackageResult, PackageSpec, UpdateStatus,
    ValidationError, validate_manager, validate_package_name_for, validate_version_for,
};

use super::{MANAGER, Snap};
use crate::packages::busy::{self, Attempt};
use crate::packages::command::{self, CommandError, CommandOutput, describe};
use crate::packages::{InstallOutcome, InstallSelection, PackageManager};

/// Message of a security-only request: the snap store does not mark security updates.
pub const SECURITY_ONLY_UNSUPPORTED: &str =
    "snap cannot select security updates: the snap store does not mark them";

/// Checks a package spec for snap.
pub fn validate_spec(spec: &PackageSpec) -> Result<(), ValidationError> {
    validate_manager(&spec.manager)?;
    if spec.manager != MANAGER {
        return Err(ValidationError {
            field: "manager",
            value: spec.manager.clone(),
            reason: "is not snap",
        });
    }
    validate_package_name_for(&spec.manager, &spec.name)?;
    validate_version_for(&spec.manager, &spec.version)
}

/// Builds the snap arguments that refresh these snaps, or every snap when `names` is empty.
pub fn refresh_arguments(names: &[&str]) -> Vec<String> {
    let mut arguments = vec!["refresh".to_owned()];
    arguments.extend(names.iter().map(|name| (*name).to_owned()));
    arguments
}

/// Meaning of a snap exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapExit {
    Success,
    /// Another change of the same snap is running (such as an auto-refresh): busy.
    ChangeInProgress,
    Failed,
}

/// Decodes a snap exit status with its stderr. snap exits 0 on success and 1 on errors.
pub fn decode_exit(code: Option<i32>, stderr: &str) -> SnapExit {
    let in_progress = stderr
        .lines()
        .any(|line| line.starts_with("error: snap ") && line.ends_with(" change in progress"));
    match code {
        Some(0) => SnapExit::Success,
        Some(1) if in_progress => SnapExit::ChangeInProgress,
        _ => SnapExit::Failed,
    }
}

/// Parses `snap list NAME`: the installed version of `name` from the second column.
pub fn parse_installed_version(output: &str, name: &str) -> Option<String> {
    output.lines().skip(1).find_map(|line| {
        let mut fields = line.split_whitespace();
        (fields.next()? == name).then(|| fields.next().map(str::to_owned))?
    })
}

/// Builds the result of one snap from its version after the run.
pub fn package_result(spec: &PackageSpec, installed_version: Option<String>) -> PackageResult {
    let (outcome, message) = match installed_version.as_deref() {
        Some(version) if version == spec.version => (PackageOutcome::Installed, None),
        Some(version) => (
            PackageOutcome::Failed,
            Some(format!(
                "installed version is {version}, requested {}; snap refreshes to the newest \
                 revision of the tracked channel and cannot pin a version",
                spec.version
            )),
        ),
        None => (
            PackageOutcome::Failed,
            Some("snap is not installed after the run".to_owned()),
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

/// Runs an install selection with snap and reports each snap.
pub fn install(snap: &Snap, selection: &InstallSelection) -> InstallOutcome {
    let (specs, refresh_all) = match selection {
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
        InstallSelection::All => match snap.detect_updates() {
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
                    format!("update detection before the refresh failed: {error}"),
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
    let names: Vec<&str> = if refresh_all {
        Vec::new()
    } else {
        specs.iter().map(|spec| spec.name.as_str()).collect()
    };
    let (output_tail, failure) = run_refresh(snap, &refresh_arguments(&names));
    let packages = specs
        .iter()
        .map(|spec| package_result(spec, snap.installed_version(&spec.name)))
        .collect();
    InstallOutcome {
        packages,
        output_tail,
        failure,
    }
}

fn run_refresh(snap: &Snap, arguments: &[String]) -> (String, Option<JobFailure>) {
    let mut last: Option<Result<CommandOutput, CommandError>> = None;
    let mut description = String::new();
    let waited = busy::retry_while_busy(snap.settings().busy, std::thread::sleep, || {
        let mut command = super::snap_command();
        command.args(arguments);
        description = describe(&command);
        tracing::info!(manager = MANAGER, command = %description, "install started");
        let result = command::run(command, snap.settings().install_timeout);
        let busy = matches!(&result, Ok(output)
            if decode_exit(output.status.code(), &output.stderr) == SnapExit::ChangeInProgress);
        last = Some(result);
        if busy {
            Attempt::Busy {
                holder: "another snapd change of the same snap".to_owned(),
            }
        } else {
            Attempt::Done(())
        }
    });
    if let Err(timeout) = waited {
        let tail = match last {
            Some(Ok(output)) => output.output_tail,
            _ => String::new(),
        };
        let failure = JobFailure {
            kind: JobFailureKind::LockTimeout,
            message: timeout.to_string(),
        };
        return (tail, Some(failure));
    }
    match last {
        Some(Ok(output)) => {
            let failure = (decode_exit(output.status.code(), &output.stderr) != SnapExit::Success)
                .then(|| JobFailure {
                    kind: JobFailureKind::CommandFailed,
                    message: format!("`{description}` failed with {}", output.status),
                });
            (output.output_tail, failure)
        }
        Some(Err(CommandError::Timeout {
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
        Some(Err(error)) => (
            String::new(),
            Some(JobFailure {
                kind: JobFailureKind::CommandFailed,
                message: error.to_string(),
            }),
        ),
        None => (
            String::new(),
            Some(JobFailure {
                kind: JobFailureKind::CommandFailed,
                message: "snap did not run".to_owned(),
            }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/snap/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap()
    }

    #[test]
    fn refresh_argv() {
        assert_eq!(
            refresh_arguments(&["firefox", "lxd"]),
            ["refresh", "firefox", "lxd"]
        );
        assert_eq!(refresh_arguments(&[]), ["refresh"]);
    }

    #[test]
    fn exit_codes() {
        let cases = [
            (
                Some(0),
                fixture("refresh-none.stderr.txt"),
                SnapExit::Success,
            ),
            (
                Some(1),
                fixture("refresh-busy.stderr.txt"),
                SnapExit::ChangeInProgress,
            ),
            (
                Some(1),
                fixture("refresh-not-found.stderr.txt"),
                SnapExit::Failed,
            ),
            (Some(2), String::new(), SnapExit::Failed),
            (None, String::new(), SnapExit::Failed),
        ];
        for (code, stderr, expected) in cases {
            assert_eq!(decode_exit(code, &stderr), expected, "{code:?} {stderr}");
        }
    }

    #[test]
    fn spec_validation() {
        let valid = PackageSpec {
            manager: "snap".into(),
            name: "firefox".into(),
            version: "125.0.1-1".into(),
        };
        assert_eq!(validate_spec(&valid), Ok(()));
        let option = PackageSpec {
            name: "--classic".into(),
            ..valid.clone()
        };
        assert!(validate_spec(&option).is_err());
        let other = PackageSpec {
            manager: "flatpak".into(),
            ..valid
        };
        assert!(validate_spec(&other).is_err());
    }

    #[test]
    fn installed_version_output() {
        let output = fixture("list-held.txt");
        assert_eq!(
            parse_installed_version(&output, "lxd"),
            Some("5.21.0-eb655b9".to_owned())
        );
        assert_eq!(parse_installed_version(&output, "missing"), None);
    }
}
