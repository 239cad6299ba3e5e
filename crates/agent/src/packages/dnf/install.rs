//! Installs with dnf 4, dnf5 and yum: argument building, failure classification and
//! per-package results read back from the RPM database.
//!
//! A pinned install runs `dnf -y upgrade NAME-[EPOCH:]VERSION-RELEASE[.ARCH]...` (`yum -y update`
//! on yum), which upgrades installed packages only: a name that is not installed is an error,
//! never a new install. "All" runs `dnf -y upgrade` and "security only" `dnf -y upgrade
//! --security`, each with `--exclude=PATTERN` for every versionlock entry; their per-package
//! results compare the database with the updates that detection listed just before.

use std::cmp::Ordering;

use sysmanage_protocol::{
    JobFailure, JobFailureKind, PackageOutcome, PackageResult, PackageSpec, UpdateStatus,
    ValidationError, validate_manager, validate_package_name_for, validate_version_for,
};

use super::rpmdb::{self, InstalledPackage};
use super::versionlock::Versionlock;
use super::{Flavor, Frontend};
use crate::packages::command::{CommandError, describe};
use crate::packages::version::rpm::{Evr, split_architecture};
use crate::packages::{InstallOutcome, InstallSelection};

/// Checks a package spec for `manager` and returns the package spec that dnf and yum read:
/// `name-version` or, when the name ends in a known architecture (`glibc.i686`),
/// `name-version.arch`. The version is the `[epoch:]version-release` that detection reported.
pub fn pinned_argument(manager: &str, spec: &PackageSpec) -> Result<String, ValidationError> {
    validate_manager(&spec.manager)?;
    if spec.manager != manager {
        return Err(ValidationError {
            field: "manager",
            value: spec.manager.clone(),
            reason: "is not the manager of this install",
        });
    }
    validate_package_name_for(&spec.manager, &spec.name)?;
    validate_version_for(&spec.manager, &spec.version)?;
    Ok(match split_architecture(&spec.name) {
        Some((name, architecture)) => format!("{name}-{}.{architecture}", spec.version),
        None => format!("{}-{}", spec.name, spec.version),
    })
}

/// Returns the subcommand that upgrades packages: `update` on yum, `upgrade` on dnf.
fn upgrade_subcommand(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::Yum => "update",
        Flavor::Dnf4 | Flavor::Dnf5 => "upgrade",
    }
}

/// Builds the arguments after the global ones for a selection.
pub fn install_arguments(
    manager: &str,
    flavor: Flavor,
    selection: &InstallSelection,
) -> Result<Vec<String>, ValidationError> {
    let mut arguments = vec!["-y".to_owned(), upgrade_subcommand(flavor).to_owned()];
    match selection {
        InstallSelection::Packages(specs) => {
            for spec in specs {
                arguments.push(pinned_argument(manager, spec)?);
            }
        }
        InstallSelection::All => {}
        InstallSelection::SecurityOnly => arguments.push("--security".to_owned()),
    }
    Ok(arguments)
}

/// Returns the first error line of a failed run, for the job's failure message.
pub fn error_summary(output: &str) -> Option<&str> {
    output.lines().map(str::trim).find(|line| {
        line.starts_with("Error:")
            || line.starts_with("No match for argument")
            || line.starts_with("Transaction failed")
            || line.starts_with("Problem:")
            || line.contains("available, but not installed")
    })
}

/// Builds the `--exclude` options that keep "all" and "security only" away from the packages
/// that the versionlock holds. A pinned install gets none, because its held packages are left
/// out before it runs.
pub fn exclude_arguments(lock: &Versionlock, selection: &InstallSelection) -> Vec<String> {
    match selection {
        InstallSelection::Packages(_) => Vec::new(),
        InstallSelection::All | InstallSelection::SecurityOnly => lock
            .patterns
            .iter()
            .map(|pattern| format!("--exclude={pattern}"))
            .collect(),
    }
}

/// Splits off the specs whose package the versionlock holds, each with a not-attempted result.
fn split_held(
    manager: &str,
    lock: &Versionlock,
    specs: &[PackageSpec],
) -> (Vec<PackageSpec>, Vec<PackageResult>) {
    let (held, kept): (Vec<PackageSpec>, Vec<PackageSpec>) =
        specs.iter().cloned().partition(|spec| {
            let name = split_architecture(&spec.name).map_or(spec.name.as_str(), |(name, _)| name);
            lock.holds(name)
        });
    let refused = held
        .into_iter()
        .map(|spec| PackageResult {
            manager: manager.to_owned(),
            message: Some(format!(
                "a versionlock holds this package; remove it with `{manager} versionlock delete \
                 {}` to update the package",
                spec.name
            )),
            name: spec.name,
            requested_version: Some(spec.version),
            installed_version: None,
            outcome: PackageOutcome::NotAttempted,
        })
        .collect();
    (kept, refused)
}

/// Runs an install selection and reports each package.
pub fn install(frontend: &Frontend, selection: &InstallSelection) -> InstallOutcome {
    let lock = match frontend.versionlock() {
        Ok(lock) => lock,
        Err(error) => {
            return InstallOutcome::failed(
                JobFailureKind::CommandFailed,
                format!("reading the versionlock before the install failed: {error}"),
            );
        }
    };
    if let InstallSelection::Packages(specs) = selection
        && let Err(error) = install_arguments(frontend.manager, frontend.flavor, selection)
    {
        return rejected(specs, &error);
    }
    let mut refused = Vec::new();
    let (planned, run_selection): (Vec<Planned>, InstallSelection) = match selection {
        InstallSelection::Packages(specs) => {
            let (kept, held) = split_held(frontend.manager, &lock, specs);
            refused = held;
            let planned = kept
                .iter()
                .map(|spec| Planned {
                    spec: spec.clone(),
                    previous: None,
                })
                .collect();
            (planned, InstallSelection::Packages(kept))
        }
        InstallSelection::All | InstallSelection::SecurityOnly => {
            match planned_updates(frontend, selection) {
                Ok(planned) => (planned, selection.clone()),
                Err(outcome) => return outcome,
            }
        }
    };
    let specs: Vec<PackageSpec> = planned.iter().map(|plan| plan.spec.clone()).collect();

    let mut arguments = match install_arguments(frontend.manager, frontend.flavor, &run_selection) {
        Ok(arguments) => arguments,
        Err(error) => return rejected(&specs, &error),
    };
    arguments.extend(exclude_arguments(&lock, &run_selection));
    if planned.is_empty() {
        return InstallOutcome {
            packages: refused,
            output_tail: "no updates to install".to_owned(),
            failure: None,
        };
    }

    let argument_refs: Vec<&str> = arguments.iter().map(String::as_str).collect();
    let description = describe(&frontend.tool_command(&argument_refs));
    tracing::info!(manager = frontend.manager, command = %description, "install started");
    let result = frontend.run_while_busy(
        || frontend.tool_command(&argument_refs),
        frontend.settings.install_timeout,
    );
    let (output_tail, failure) = match result {
        Ok(Ok(output)) if output.status.success() => (output.output_tail, None),
        Ok(Ok(output)) => {
            let combined = format!("{}\n{}", output.stdout, output.stderr);
            let mut message = format!("`{description}` failed with {}", output.status);
            if let Some(summary) = error_summary(&combined) {
                message.push_str(": ");
                message.push_str(summary);
            }
            let failure = JobFailure {
                kind: JobFailureKind::CommandFailed,
                message,
            };
            (output.output_tail, Some(failure))
        }
        Ok(Err(CommandError::Timeout {
            output_tail,
            timeout,
            ..
        })) => {
            let failure = JobFailure {
                kind: JobFailureKind::Timeout,
                message: format!(
                    "`{description}` did not finish within {} s and was killed",
                    timeout.as_secs()
                ),
            };
            (output_tail, Some(failure))
        }
        Ok(Err(error)) => {
            let failure = JobFailure {
                kind: JobFailureKind::CommandFailed,
                message: error.to_string(),
            };
            (String::new(), Some(failure))
        }
        Err(busy) => {
            let failure = JobFailure {
                kind: JobFailureKind::LockTimeout,
                message: format!("`{description}` did not run: {busy}"),
            };
            (String::new(), Some(failure))
        }
    };

    let mut packages = package_results(frontend, &planned, selection);
    packages.extend(refused);
    InstallOutcome {
        packages,
        output_tail,
        failure,
    }
}

/// One package an install is meant to change.
#[derive(Debug, Clone)]
struct Planned {
    spec: PackageSpec,
    /// Version before the install, known for "all" and "security only".
    previous: Option<String>,
}

/// Runs detection to list what "all" or "security only" installs.
fn planned_updates(
    frontend: &Frontend,
    selection: &InstallSelection,
) -> Result<Vec<Planned>, InstallOutcome> {
    let updates = frontend.detect().map_err(|error| InstallOutcome {
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
        .map(|update| update.info)
        .filter(|update| update.status == UpdateStatus::Available)
        .filter(|update| update.security || !security_only)
        .map(|update| Planned {
            spec: PackageSpec {
                manager: frontend.manager.to_owned(),
                name: update.name,
                version: update.new_version,
            },
            previous: update.current_version,
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

/// Reads the database after the run and compares each package with its request.
fn package_results(
    frontend: &Frontend,
    planned: &[Planned],
    selection: &InstallSelection,
) -> Vec<PackageResult> {
    let names: Vec<&str> = planned
        .iter()
        .map(|plan| {
            split_architecture(&plan.spec.name).map_or(plan.spec.name.as_str(), |(name, _)| name)
        })
        .collect();
    let installed = match frontend.installed(&names) {
        Ok(installed) => installed,
        Err(error) => {
            tracing::warn!(manager = frontend.manager, %error, "reading installed versions after the install failed");
            Vec::new()
        }
    };
    let exact = matches!(selection, InstallSelection::Packages(_));
    planned
        .iter()
        .map(|plan| package_result(frontend.manager, plan, &installed, exact))
        .collect()
}

/// Compares one package with its request.
///
/// A pinned install must leave exactly the requested version. "All" and "security only" let dnf
/// choose (`upgrade --security` may pick the newest version that fixes an advisory rather than
/// the newest version), so there any version newer than the one before counts as installed.
fn package_result(
    manager: &str,
    plan: &Planned,
    installed: &[InstalledPackage],
    exact: bool,
) -> PackageResult {
    let (name, architecture) = split_architecture(&plan.spec.name)
        .map_or((plan.spec.name.as_str(), None), |(name, architecture)| {
            (name, Some(architecture))
        });
    let requested = Evr::parse(&plan.spec.version);
    let found = rpmdb::matching_or_newest(installed, name, architecture, &requested);
    let installed_version = found.map(|package| package.evr.to_string());
    let (outcome, message) = match found {
        Some(package) if package.evr.compare(&requested) == Ordering::Equal => {
            (PackageOutcome::Installed, None)
        }
        Some(package)
            if !exact
                && plan.previous.as_deref().is_some_and(|previous| {
                    package.evr.compare(&Evr::parse(previous)) == Ordering::Greater
                }) =>
        {
            (
                PackageOutcome::Installed,
                Some(format!(
                    "installed version {} differs from the version {} that the scan found",
                    package.evr, plan.spec.version
                )),
            )
        }
        Some(package) => (
            PackageOutcome::Failed,
            Some(format!(
                "installed version is {}, requested {}",
                package.evr, plan.spec.version
            )),
        ),
        None => (
            PackageOutcome::Failed,
            Some("package is not installed after the run".to_owned()),
        ),
    };
    PackageResult {
        manager: manager.to_owned(),
        name: plan.spec.name.clone(),
        requested_version: Some(plan.spec.version.clone()),
        installed_version,
        outcome,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(manager: &str, name: &str, version: &str) -> PackageSpec {
        PackageSpec {
            manager: manager.into(),
            name: name.into(),
            version: version.into(),
        }
    }

    #[test]
    fn pinned_arguments() {
        let selection = InstallSelection::Packages(vec![
            spec("dnf", "openssl-libs", "1:3.0.7-27.el9_4.1"),
            spec("dnf", "glibc.i686", "2.34-100.el9"),
            spec("dnf", "python3.11", "3.11.7-1.el9"),
        ]);
        assert_eq!(
            install_arguments("dnf", Flavor::Dnf4, &selection).unwrap(),
            [
                "-y",
                "upgrade",
                "openssl-libs-1:3.0.7-27.el9_4.1",
                "glibc-2.34-100.el9.i686",
                "python3.11-3.11.7-1.el9",
            ]
        );
        let selection = InstallSelection::Packages(vec![spec("yum", "kernel", "3.10.0-1.el7")]);
        assert_eq!(
            install_arguments("yum", Flavor::Yum, &selection).unwrap(),
            ["-y", "update", "kernel-3.10.0-1.el7"]
        );
        assert_eq!(
            install_arguments("dnf", Flavor::Dnf5, &InstallSelection::SecurityOnly).unwrap(),
            ["-y", "upgrade", "--security"]
        );
        assert_eq!(
            install_arguments("yum", Flavor::Yum, &InstallSelection::All).unwrap(),
            ["-y", "update"]
        );
    }

    #[test]
    fn locks_become_excludes_for_all_and_security_only() {
        let lock = Versionlock {
            patterns: vec!["bash".into(), "kernel*".into()],
        };
        for selection in [InstallSelection::All, InstallSelection::SecurityOnly] {
            assert_eq!(
                exclude_arguments(&lock, &selection),
                ["--exclude=bash", "--exclude=kernel*"]
            );
        }
        let pinned = InstallSelection::Packages(vec![spec("dnf", "curl", "7.76.1-29.el9")]);
        assert!(exclude_arguments(&lock, &pinned).is_empty());
        assert!(exclude_arguments(&Versionlock::default(), &InstallSelection::All).is_empty());
    }

    #[test]
    fn held_specs_are_not_attempted() {
        let lock = Versionlock {
            patterns: vec!["kernel*".into()],
        };
        let specs = [
            spec("dnf", "kernel-core", "5.14.0-427.el9"),
            spec("dnf", "curl", "7.76.1-29.el9"),
            spec("dnf", "kernel.x86_64", "5.14.0-427.el9"),
        ];
        let (kept, refused) = split_held("dnf", &lock, &specs);
        assert_eq!(kept, [specs[1].clone()]);
        let names: Vec<&str> = refused.iter().map(|result| result.name.as_str()).collect();
        assert_eq!(names, ["kernel-core", "kernel.x86_64"]);
        for result in &refused {
            assert_eq!(result.outcome, PackageOutcome::NotAttempted);
            assert!(
                result
                    .message
                    .as_deref()
                    .is_some_and(|message| message.contains("dnf versionlock delete")),
                "{result:?}"
            );
        }
    }

    #[test]
    fn pinned_arguments_reject_options_and_other_managers() {
        for case in [
            spec("dnf", "--setopt=tsflags=noscripts", "1.0-1"),
            spec("dnf", "openssl", "--nogpgcheck"),
            spec("dnf", "open ssl", "1.0-1"),
            spec("dnf", "openssl", "1.0-1;rm"),
            spec("apt", "openssl", "1.0-1"),
            spec("yum", "openssl", "1.0-1"),
        ] {
            let selection = InstallSelection::Packages(vec![case.clone()]);
            assert!(
                install_arguments("dnf", Flavor::Dnf4, &selection).is_err(),
                "{case:?}"
            );
        }
    }

    #[test]
    fn error_summaries() {
        let output = "Last metadata expiration check: 0:00:01 ago.\nPackage smtest available, but not installed.\nNo match for argument: smtest-2.0-1\nError: No packages marked for upgrade.\n";
        assert_eq!(
            error_summary(output),
            Some("Package smtest available, but not installed.")
        );
        assert_eq!(error_summary("Complete!\n"), None);
    }

    fn installed(name: &str, evr: &str) -> InstalledPackage {
        InstalledPackage {
            name: name.into(),
            architecture: "x86_64".into(),
            evr: Evr::parse(evr),
        }
    }

    #[test]
    fn results_exact_and_newer() {
        let installed = [installed("a", "2.0-1"), installed("b", "3.0-1")];
        let plan = |name: &str, version: &str, previous: Option<&str>| Planned {
            spec: spec("dnf", name, version),
            previous: previous.map(str::to_owned),
        };

        let exact = package_result("dnf", &plan("a", "0:2.0-1", None), &installed, true);
        assert_eq!(exact.outcome, PackageOutcome::Installed);
        assert_eq!(exact.installed_version.as_deref(), Some("2.0-1"));

        let wrong = package_result("dnf", &plan("b", "2.0-1", Some("1.0-1")), &installed, true);
        assert_eq!(wrong.outcome, PackageOutcome::Failed);

        let newer = package_result("dnf", &plan("b", "2.0-1", Some("1.0-1")), &installed, false);
        assert_eq!(newer.outcome, PackageOutcome::Installed);
        assert!(newer.message.unwrap().contains("3.0-1"));

        let missing = package_result("dnf", &plan("c", "1.0-1", None), &installed, true);
        assert_eq!(missing.outcome, PackageOutcome::Failed);
        assert_eq!(missing.installed_version, None);
    }
}
