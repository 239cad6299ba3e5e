//! Installs with pacman: argument building, exit decoding and per-package results.
//!
//! Arch Linux supports only full system upgrades: installing one newer package against the old
//! rest of the system (a partial upgrade) can break library dependencies. So every install runs
//! `pacman -Syu`, whatever the selection, and cannot pin a version: pacman installs the newest
//! version in the sync databases.

use std::ffi::OsString;

use sysmanage_protocol::{
    JobFailure, JobFailureKind, PackageOutcome, PackageResult, PackageSpec, UpdateStatus,
    ValidationError, validate_manager, validate_package_name_for, validate_version_for,
};

use super::{MANAGER, Pacman};
use crate::packages::busy::{self, Attempt};
use crate::packages::command::{self, CommandError, CommandOutput, describe};
use crate::packages::version::pacman as vercmp;
use crate::packages::{InstallOutcome, InstallSelection, PackageManager};

/// Note on every package of a selection, because pacman cannot install a selection alone.
pub const WHOLE_SYSTEM_NOTE: &str =
    "pacman upgrades the whole system; installed all pending updates";

/// Message of a security-only request, which Arch Linux cannot honour.
pub const SECURITY_ONLY_UNSUPPORTED: &str = "pacman cannot install security updates alone: \
     Arch Linux supports only full system upgrades (pacman -Syu)";

/// Checks a package spec for pacman.
pub fn validate_spec(spec: &PackageSpec) -> Result<(), ValidationError> {
    validate_manager(&spec.manager)?;
    if spec.manager != MANAGER {
        return Err(ValidationError {
            field: "manager",
            value: spec.manager.clone(),
            reason: "is not pacman",
        });
    }
    validate_package_name_for(&spec.manager, &spec.name)?;
    validate_version_for(&spec.manager, &spec.version)
}

/// Builds the pacman arguments of a full system upgrade, after the `global` ones
/// (`--root`, `--config`, `--dbpath`, `--color never`).
pub fn upgrade_arguments(global: &[OsString]) -> Vec<OsString> {
    let mut arguments: Vec<OsString> = vec!["-Syu".into(), "--noconfirm".into()];
    arguments.extend(global.iter().cloned());
    arguments
}

/// Meaning of the exit status of `pacman -Syu`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeExit {
    Success,
    /// Another pacman holds the database lock: busy, retry later.
    LockHeld,
    Failed,
}

/// Decodes the exit status of `pacman -Syu` together with its output. pacman exits 0 on success
/// and 1 on every error, so the lock case is told apart by its error line.
pub fn decode_upgrade_exit(code: Option<i32>, output: &str) -> UpgradeExit {
    let lock_error = output.lines().any(|line| {
        line.starts_with("error: failed to init transaction (unable to lock database)")
            || line.starts_with("error: could not lock database")
    });
    match code {
        Some(0) => UpgradeExit::Success,
        Some(1) if lock_error => UpgradeExit::LockHeld,
        _ => UpgradeExit::Failed,
    }
}

/// Parses `pacman -Q NAME`: `name version`. Returns the version.
pub fn parse_installed_version(output: &str, name: &str) -> Option<String> {
    let line = output.lines().next()?;
    let (found, version) = line.split_once(' ')?;
    (found == name && !version.is_empty() && !version.contains(' ')).then(|| version.to_owned())
}

/// Builds the result of one package from its version after the upgrade.
///
/// An installed version newer than the requested one still counts as installed, because
/// pacman cannot pin versions and installs the newest one; the message says so.
pub fn package_result(
    spec: &PackageSpec,
    installed_version: Option<String>,
    note: Option<&str>,
) -> PackageResult {
    let (outcome, message) = match installed_version.as_deref() {
        Some(version) if version == spec.version => {
            (PackageOutcome::Installed, note.map(str::to_owned))
        }
        Some(version) if vercmp::is_newer(version, &spec.version) => (
            PackageOutcome::Installed,
            Some(format!(
                "installed version {version} is newer than the requested {}, because pacman \
                 installs the newest version of its sync databases",
                spec.version
            )),
        ),
        Some(version) => (
            PackageOutcome::Failed,
            Some(format!(
                "installed version is {version}, requested {}; pacman skips packages in \
                 IgnorePkg or IgnoreGroup",
                spec.version
            )),
        ),
        None => (
            PackageOutcome::Failed,
            Some("package is not installed after the upgrade".to_owned()),
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

fn failure(kind: JobFailureKind, message: String) -> InstallOutcome {
    InstallOutcome {
        packages: Vec::new(),
        output_tail: String::new(),
        failure: Some(JobFailure { kind, message }),
    }
}

/// Runs an install selection as a full system upgrade and reports each package.
pub fn install(pacman: &Pacman, selection: &InstallSelection) -> InstallOutcome {
    let (specs, note) = match selection {
        InstallSelection::SecurityOnly => {
            return failure(
                JobFailureKind::Unsupported,
                SECURITY_ONLY_UNSUPPORTED.to_owned(),
            );
        }
        InstallSelection::Packages(specs) => {
            if let Some(error) = specs.iter().find_map(|spec| validate_spec(spec).err()) {
                let mut outcome = failure(JobFailureKind::InvalidRequest, error.to_string());
                outcome.packages = specs
                    .iter()
                    .map(|spec| PackageResult {
                        manager: spec.manager.clone(),
                        name: spec.name.clone(),
                        requested_version: Some(spec.version.clone()),
                        installed_version: None,
                        outcome: PackageOutcome::NotAttempted,
                        message: None,
                    })
                    .collect();
                return outcome;
            }
            (specs.clone(), Some(WHOLE_SYSTEM_NOTE))
        }
        InstallSelection::All => match pacman.detect_updates() {
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
                (specs, None)
            }
            Err(error) => {
                return failure(
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

    let (output_tail, failure) = run_upgrade(pacman);
    let packages = specs
        .iter()
        .map(|spec| package_result(spec, pacman.installed_version(&spec.name), note))
        .collect();
    InstallOutcome {
        packages,
        output_tail,
        failure,
    }
}

/// Runs `pacman -Syu`, waiting while another pacman holds the database lock.
fn run_upgrade(pacman: &Pacman) -> (String, Option<JobFailure>) {
    let database = pacman.database_path();
    let lock_file = database.join("db.lck");
    let holder = format!("the pacman database lock {}", lock_file.display());
    let mut last: Option<Result<CommandOutput, CommandError>> = None;
    let mut description = String::new();

    let waited = busy::retry_while_busy(pacman.settings().busy, std::thread::sleep, || {
        if lock_file.exists() {
            return Attempt::Busy {
                holder: holder.clone(),
            };
        }
        let mut command = super::locale_command("pacman");
        command.args(upgrade_arguments(&pacman.global_arguments(&database)));
        description = describe(&command);
        tracing::info!(manager = MANAGER, command = %description, "install started");
        let result = command::run(command, pacman.settings().install_timeout);
        let busy = matches!(&result, Ok(output)
            if decode_upgrade_exit(output.status.code(), &combined(output)) == UpgradeExit::LockHeld);
        last = Some(result);
        if busy {
            Attempt::Busy {
                holder: holder.clone(),
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
        return (
            tail,
            Some(JobFailure {
                kind: JobFailureKind::LockTimeout,
                message: timeout.to_string(),
            }),
        );
    }

    match last {
        Some(Ok(output)) => {
            let exit = decode_upgrade_exit(output.status.code(), &combined(&output));
            let failure = (exit != UpgradeExit::Success).then(|| JobFailure {
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
                message: "pacman did not run".to_owned(),
            }),
        ),
    }
}

fn combined(output: &CommandOutput) -> String {
    format!("{}\n{}", output.stdout, output.stderr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, version: &str) -> PackageSpec {
        PackageSpec {
            manager: "pacman".into(),
            name: name.into(),
            version: version.into(),
        }
    }

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/pacman/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[test]
    fn upgrade_argv() {
        let global: Vec<OsString> = ["--root", "/tmp/root", "--color", "never"]
            .into_iter()
            .map(OsString::from)
            .collect();
        let arguments = upgrade_arguments(&global);
        assert_eq!(
            arguments,
            [
                "-Syu",
                "--noconfirm",
                "--root",
                "/tmp/root",
                "--color",
                "never"
            ]
        );
    }

    #[test]
    fn upgrade_exit_codes() {
        let cases = [
            (Some(0), fixture("syu-ignored.txt"), UpgradeExit::Success),
            (Some(1), fixture("syu-lock.txt"), UpgradeExit::LockHeld),
            (Some(1), fixture("syu-conflict.txt"), UpgradeExit::Failed),
            (Some(0), fixture("syu-lock.txt"), UpgradeExit::Success),
            (None, String::new(), UpgradeExit::Failed),
            (Some(1), String::new(), UpgradeExit::Failed),
        ];
        for (code, output, expected) in cases {
            assert_eq!(
                decode_upgrade_exit(code, &output),
                expected,
                "{code:?} {output}"
            );
        }
    }

    #[test]
    fn spec_validation() {
        assert_eq!(validate_spec(&spec("linux", "1:6.8.1.arch1-1")), Ok(()));
        let apt = PackageSpec {
            manager: "apt".into(),
            name: "linux".into(),
            version: "1.0".into(),
        };
        for case in [
            spec("--asdeps", "1.0"),
            spec("linux", "-1"),
            spec("a b", "1"),
            apt,
        ] {
            assert!(validate_spec(&case).is_err(), "{case:?}");
        }
    }

    #[test]
    fn installed_version_output() {
        assert_eq!(
            parse_installed_version("smtest 2.0-1\n", "smtest"),
            Some("2.0-1".to_owned())
        );
        assert_eq!(parse_installed_version("other 2.0-1\n", "smtest"), None);
        assert_eq!(parse_installed_version("", "smtest"), None);
    }

    #[test]
    fn package_results() {
        let requested = spec("curl", "8.7.1-1");
        let exact = package_result(&requested, Some("8.7.1-1".into()), Some(WHOLE_SYSTEM_NOTE));
        assert_eq!(exact.outcome, PackageOutcome::Installed);
        assert_eq!(exact.message.as_deref(), Some(WHOLE_SYSTEM_NOTE));

        let newer = package_result(&requested, Some("8.7.1-2".into()), None);
        assert_eq!(newer.outcome, PackageOutcome::Installed);
        assert!(newer.message.unwrap().contains("newer"));

        let older = package_result(&requested, Some("8.6.0-3".into()), None);
        assert_eq!(older.outcome, PackageOutcome::Failed);
        assert_eq!(older.installed_version.as_deref(), Some("8.6.0-3"));

        let missing = package_result(&requested, None, None);
        assert_eq!(missing.outcome, PackageOutcome::Failed);
    }
}
