//! Installs with apt-get: argument building, failure classification and per-package results.

use std::process::Command;

use sysmanage_protocol::{
    JobFailure, JobFailureKind, PackageOutcome, PackageResult, PackageSpec, UpdateStatus,
    ValidationError, validate_manager, validate_package_name_for, validate_version_for,
};

use super::{Apt, MANAGER};
use crate::packages::command::{self, CommandError, describe};
use crate::packages::{InstallOutcome, InstallSelection, PackageManager};

/// Options every install passes to apt-get: keep changed configuration files without asking.
const DPKG_OPTIONS: [&str; 4] = [
    "-o",
    "Dpkg::Options::=--force-confdef",
    "-o",
    "Dpkg::Options::=--force-confold",
];

/// Checks a package spec for apt and returns the `name=version` argument.
pub fn pinned_argument(spec: &PackageSpec) -> Result<String, ValidationError> {
    validate_manager(&spec.manager)?;
    if spec.manager != MANAGER {
        return Err(ValidationError {
            field: "manager",
            value: spec.manager.clone(),
            reason: "is not apt",
        });
    }
    validate_package_name_for(&spec.manager, &spec.name)?;
    validate_version_for(&spec.manager, &spec.version)?;
    Ok(format!("{}={}", spec.name, spec.version))
}

/// Builds the apt-get arguments that upgrade exactly these packages to their versions.
///
/// `--only-upgrade` keeps apt from installing a package that is not installed yet.
pub fn pinned_install_arguments(
    lock_timeout_option: &str,
    specs: &[PackageSpec],
) -> Result<Vec<String>, ValidationError> {
    let mut arguments: Vec<String> = ["install", "-y", "--only-upgrade", "-o", lock_timeout_option]
        .into_iter()
        .map(str::to_owned)
        .collect();
    arguments.extend(DPKG_OPTIONS.iter().map(|option| (*option).to_owned()));
    for spec in specs {
        arguments.push(pinned_argument(spec)?);
    }
    Ok(arguments)
}

/// Builds the apt-get arguments that install every available update.
///
/// `upgrade --with-new-pkgs`, as detection simulates it, so the job installs what the report
/// listed as available, with the new packages those versions depend on. It removes no package,
/// so it leaves kept-back updates alone, as well as held and phased ones. A job that names a
/// kept-back package installs it with `apt-get install`, which also removes what that version
/// conflicts with.
pub fn upgrade_all_arguments(lock_timeout_option: &str) -> Vec<String> {
    let mut arguments: Vec<String> = [
        "upgrade",
        "--with-new-pkgs",
        "-y",
        "-o",
        lock_timeout_option,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    arguments.extend(DPKG_OPTIONS.iter().map(|option| (*option).to_owned()));
    arguments
}

/// Classifies a failed apt-get run from its error lines (`E: ...`).
///
/// Only error lines count: while apt waits for the lock it prints "Waiting for cache lock: Could
/// not get lock ..." as progress, which does not explain about why the run failed later.
pub fn classify_failure(output: &str) -> JobFailureKind {
    let errors: Vec<&str> = output
        .lines()
        .filter_map(|line| line.trim().strip_prefix("E: "))
        .collect();
    let any = |needle: &str| errors.iter().any(|line| line.contains(needle));
    if any("dpkg was interrupted, you must manually run 'dpkg --configure -a'") {
        JobFailureKind::DpkgInterrupted
    } else if any("Could not get lock")
        || any("Unable to acquire the dpkg frontend lock")
        || any("Unable to lock the administration directory")
    {
        JobFailureKind::LockTimeout
    } else {
        JobFailureKind::CommandFailed
    }
}

/// Parses `dpkg-query -W -f '${Status}\t${Version}'`: the version when the package is installed.
pub fn parse_installed_version(output: &str) -> Option<String> {
    let (status, version) = output.trim_end_matches('\n').split_once('\t')?;
    (status.ends_with(" installed") && !version.is_empty()).then(|| version.to_owned())
}

/// Runs an install selection with apt-get and reports each package.
pub fn install(apt: &Apt, selection: &InstallSelection) -> InstallOutcome {
    let specs = match selection {
        InstallSelection::Packages(specs) => specs.clone(),
        InstallSelection::All | InstallSelection::SecurityOnly => {
            match planned_specs(apt, selection) {
                Ok(specs) => specs,
                Err(outcome) => return outcome,
            }
        }
    };

    let arguments = match selection {
        InstallSelection::All => Ok(upgrade_all_arguments(&apt.lock_timeout_option())),
        InstallSelection::Packages(_) | InstallSelection::SecurityOnly => {
            pinned_install_arguments(&apt.lock_timeout_option(), &specs)
        }
    };
    let arguments = match arguments {
        Ok(arguments) => arguments,
        Err(error) => return rejected(&specs, &error),
    };
    if specs.is_empty() {
        return InstallOutcome {
            packages: Vec::new(),
            output_tail: "no updates to install".to_owned(),
            failure: None,
        };
    }

    let mut command = apt.command("apt-get");
    command.args(&arguments);
    let description = describe(&command);
    tracing::info!(manager = MANAGER, command = %description, "install started");
    let (output_tail, failure) = match command::run(command, apt.settings().install_timeout) {
        Ok(output) if output.status.success() => (output.output_tail, None),
        Ok(output) => {
            let combined = format!("{}\n{}", output.stdout, output.stderr);
            let kind = classify_failure(&combined);
            let failure = JobFailure {
                kind,
                message: format!("`{description}` failed with {}", output.status),
            };
            (output.output_tail, Some(failure))
        }
        Err(CommandError::Timeout {
            output_tail,
            timeout,
            ..
        }) => {
            let failure = JobFailure {
                kind: JobFailureKind::Timeout,
                message: format!(
                    "`{description}` did not finish within {} s and was killed",
                    timeout.as_secs()
                ),
            };
            (output_tail, Some(failure))
        }
        Err(error) => {
            let failure = JobFailure {
                kind: JobFailureKind::CommandFailed,
                message: error.to_string(),
            };
            (String::new(), Some(failure))
        }
    };

    let packages = specs.iter().map(|spec| package_result(apt, spec)).collect();
    InstallOutcome {
        packages,
        output_tail,
        failure,
    }
}

/// Runs detection to list what "all" or "security only" installs, pinned to the versions found.
fn planned_specs(
    apt: &Apt,
    selection: &InstallSelection,
) -> Result<Vec<PackageSpec>, InstallOutcome> {
    let updates = apt.detect_updates().map_err(|error| InstallOutcome {
        packages: Vec::new(),
        output_tail: String::new(),
        failure: Some(JobFailure {
            kind: JobFailureKind::CommandFailed,
            message: format!("update detection before the install failed: {error}"),
        }),
    })?;
    let security_only = *selection == InstallSelection::SecurityOnly;
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

fn rejected(specs: &[PackageSpec], error: &ValidationError) -> InstallOutcome {
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
            kind: JobFailureKind::InvalidRequest,
            message: error.to_string(),
        }),
    }
}

/// Reads the installed version of one package after the run and compares it to the request.
fn package_result(apt: &Apt, spec: &PackageSpec) -> PackageResult {
    let installed_version = query_installed_version(apt, &spec.name);
    let (outcome, message) = match &installed_version {
        Some(version) if *version == spec.version => (PackageOutcome::Installed, None),
        Some(version) => (
            PackageOutcome::Failed,
            Some(format!(
                "installed version is {version}, requested {}",
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

/// Returns the installed version of a package, or `None` when it is not installed.
pub fn query_installed_version(apt: &Apt, name: &str) -> Option<String> {
    let mut command: Command = apt.command("dpkg-query");
    command.args(["-W", "-f=${Status}\t${Version}", "--", name]);
    match command::run(command, std::time::Duration::from_mins(1)) {
        Ok(output) if output.status.success() => parse_installed_version(&output.stdout),
        Ok(_) => None,
        Err(error) => {
            tracing::warn!(manager = MANAGER, package = name, %error, "dpkg-query failed");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, version: &str) -> PackageSpec {
        PackageSpec {
            manager: "apt".into(),
            name: name.into(),
            version: version.into(),
        }
    }

    #[test]
    fn pinned_arguments_are_separate() {
        let arguments = pinned_install_arguments(
            "DPkg::Lock::Timeout=300",
            &[
                spec("openssl", "3.0.11-1~deb12u2"),
                spec("libc6:i386", "2.36-9+deb12u4"),
            ],
        )
        .unwrap();
        assert_eq!(
            arguments,
            [
                "install",
                "-y",
                "--only-upgrade",
                "-o",
                "DPkg::Lock::Timeout=300",
                "-o",
                "Dpkg::Options::=--force-confdef",
                "-o",
                "Dpkg::Options::=--force-confold",
                "openssl=3.0.11-1~deb12u2",
                "libc6:i386=2.36-9+deb12u4",
            ]
        );
    }

    #[test]
    fn pinned_arguments_reject_options_and_other_managers() {
        let cases = [
            spec("-oAPT::Get::Assume-Yes=1", "1.0"),
            spec("openssl", "--force"),
            spec("open ssl", "1.0"),
            PackageSpec {
                manager: "dnf".into(),
                name: "openssl".into(),
                version: "1.0".into(),
            },
        ];
        for case in cases {
            assert!(
                pinned_install_arguments("DPkg::Lock::Timeout=1", std::slice::from_ref(&case))
                    .is_err(),
                "{case:?}"
            );
        }
    }

    #[test]
    fn upgrade_all_leaves_kept_back_alone() {
        let arguments = upgrade_all_arguments("DPkg::Lock::Timeout=300");
        // `upgrade` never removes a package, so kept-back updates stay back; `--with-new-pkgs`
        // lets it install the new packages that available updates depend on.
        assert_eq!(arguments[0], "upgrade");
        assert_eq!(arguments[1], "--with-new-pkgs");
        assert!(!arguments.iter().any(|argument| argument == "dist-upgrade"));
    }

    #[test]
    fn failure_kinds() {
        let cases = [
            (
                "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem.",
                JobFailureKind::DpkgInterrupted,
            ),
            (
                "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)\n\
                 E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?",
                JobFailureKind::LockTimeout,
            ),
            (
                "E: Version '9.9' for 'openssl' was not found",
                JobFailureKind::CommandFailed,
            ),
            (
                "Waiting for cache lock: Could not get lock /var/lib/dpkg/lock-frontend. It is \
                 held by process 3300 (dpkg)...\nE: Version '9.9' for 'openssl' was not found",
                JobFailureKind::CommandFailed,
            ),
        ];
        for (output, kind) in cases {
            assert_eq!(classify_failure(output), kind, "{output}");
        }
    }

    #[test]
    fn installed_version_from_status() {
        assert_eq!(
            parse_installed_version("install ok installed\t2.0"),
            Some("2.0".to_owned())
        );
        assert_eq!(
            parse_installed_version("deinstall ok config-files\t1.0"),
            None
        );
        assert_eq!(parse_installed_version("unknown ok not-installed\t"), None);
        assert_eq!(parse_installed_version(""), None);
    }
}
