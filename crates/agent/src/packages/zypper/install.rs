//! Installs with zypper: argument building, exit statuses and per-package results.
//!
//! A pinned install runs `zypper --non-interactive install --no-recommends NAME=VERSION...`.
//! `install` rather than `update`, because `install` is the command whose capability syntax
//! zypper documents for exact editions (`name=version`) and for patches (`patch:ID=VERSION`), and
//! the one that reports a version it cannot honour ("has lower version than the installed one",
//! "does not match the specified version") instead of picking the best candidate; `update` is
//! meant to move installed packages to their newest candidate. `install` would also install a
//! package that is not installed, so package names that the RPM database does not know are
//! refused before zypper runs, and `--no-recommends` keeps it from pulling in anything the
//! update does not require. `--oldpackage` is not passed: a version older than the installed one
//! is a downgrade, which an update job must not do, and its result reports the mismatch.
//!
//! "All" runs `zypper --non-interactive update` and "security only" `zypper --non-interactive
//! --non-interactive-include-reboot-patches patch --category security`; the reboot flag lets
//! kernel patches install, and the reboot they ask for is reported by the next scan. When zypper
//! exits with 103 it has updated itself and the command runs again.

use std::collections::BTreeMap;

use sysmanage_protocol::{
    JobFailure, JobFailureKind, PackageOutcome, PackageResult, PackageSpec, UpdateStatus,
    ValidationError, validate_manager, validate_package_name_for, validate_version_for,
};

use super::{Exit, MANAGER, PATCH_PREFIX, Zypper, decode_exit, xml};
use crate::packages::command::{CommandError, describe};
use crate::packages::dnf::rpmdb::{self, InstalledPackage};
use crate::packages::version::rpm::Evr;
use crate::packages::{InstallOutcome, InstallSelection};

/// How often a command runs again after zypper updated itself (exit status 103).
const MAX_RESTARTS: usize = 3;

/// Checks a package spec for zypper and returns the `NAME=VERSION` capability.
pub fn pinned_argument(spec: &PackageSpec) -> Result<String, ValidationError> {
    validate_manager(&spec.manager)?;
    if spec.manager != MANAGER {
        return Err(ValidationError {
            field: "manager",
            value: spec.manager.clone(),
            reason: "is not zypper",
        });
    }
    validate_package_name_for(&spec.manager, &spec.name)?;
    validate_version_for(&spec.manager, &spec.version)?;
    Ok(format!("{}={}", spec.name, spec.version))
}

/// Builds the global options and command arguments of a selection.
pub fn install_arguments(
    selection: &InstallSelection,
) -> Result<(Vec<String>, Vec<String>), ValidationError> {
    let owned = |items: &[&str]| {
        items
            .iter()
            .map(|item| (*item).to_owned())
            .collect::<Vec<_>>()
    };
    Ok(match selection {
        InstallSelection::Packages(specs) => {
            let mut arguments = owned(&["install", "--no-recommends"]);
            for spec in specs {
                arguments.push(pinned_argument(spec)?);
            }
            (Vec::new(), arguments)
        }
        InstallSelection::All => (Vec::new(), owned(&["update"])),
        InstallSelection::SecurityOnly => (
            owned(&["--non-interactive-include-reboot-patches"]),
            owned(&["patch", "--category", "security"]),
        ),
    })
}

fn is_patch(name: &str) -> bool {
    name.starts_with(PATCH_PREFIX)
}

/// Runs an install selection with zypper and reports each package and patch.
pub fn install(zypper: &Zypper, selection: &InstallSelection) -> InstallOutcome {
    let mut refused: Vec<PackageResult> = Vec::new();
    let (planned, run_selection) = match selection {
        InstallSelection::Packages(specs) => {
            if let Err(error) = install_arguments(selection) {
                return rejected(specs, &error);
            }
            let (unlocked, locked) = split_locked(zypper, specs);
            let (kept, not_installed) = split_not_installed(zypper, &unlocked);
            refused = locked;
            refused.extend(not_installed);
            let plan = kept
                .iter()
                .map(|spec| Planned {
                    spec: spec.clone(),
                    previous: None,
                })
                .collect();
            (plan, InstallSelection::Packages(kept))
        }
        InstallSelection::All | InstallSelection::SecurityOnly => {
            match planned_updates(zypper, selection) {
                Ok(planned) => (planned, selection.clone()),
                Err(outcome) => return outcome,
            }
        }
    };
    if planned.is_empty() {
        return InstallOutcome {
            packages: refused,
            output_tail: "no updates to install".to_owned(),
            failure: None,
        };
    }
    let (global, arguments) = match install_arguments(&run_selection) {
        Ok(arguments) => arguments,
        Err(error) => {
            let specs: Vec<PackageSpec> = planned.iter().map(|plan| plan.spec.clone()).collect();
            return rejected(&specs, &error);
        }
    };

    let (output_tail, failure) = run_install(zypper, &global, &arguments);
    let mut packages = package_results(zypper, &planned, selection);
    packages.extend(refused);
    InstallOutcome {
        packages,
        output_tail,
        failure,
    }
}

/// Runs the install command, again after zypper updated itself, and classifies its end.
fn run_install(
    zypper: &Zypper,
    global: &[String],
    arguments: &[String],
) -> (String, Option<JobFailure>) {
    let build = || {
        let mut command = Zypper::environment("zypper");
        command
            .args(zypper.global_arguments())
            .args(global)
            .args(arguments);
        command
    };
    let description = describe(&build());
    let mut output_tail = String::new();
    for attempt in 0..=MAX_RESTARTS {
        tracing::info!(manager = MANAGER, command = %description, attempt, "install started");
        let output = match zypper.run_while_busy(build, zypper.settings().install_timeout) {
            Ok(Ok(output)) => output,
            Ok(Err(CommandError::Timeout {
                output_tail,
                timeout,
                ..
            })) => {
                let message = format!(
                    "`{description}` did not finish within {} s and was killed",
                    timeout.as_secs()
                );
                return (output_tail, Some(failure(JobFailureKind::Timeout, message)));
            }
            Ok(Err(error)) => {
                return (
                    output_tail,
                    Some(failure(JobFailureKind::CommandFailed, error.to_string())),
                );
            }
            Err(busy) => {
                let message = format!("`{description}` did not run: {busy}");
                return (
                    output_tail,
                    Some(failure(JobFailureKind::LockTimeout, message)),
                );
            }
        };
        output_tail = output.output_tail;
        let status = output.status;
        let failed = |reason: &str| {
            Some(failure(
                JobFailureKind::CommandFailed,
                format!("`{description}` failed with {status}{reason}"),
            ))
        };
        return match decode_exit(status.code()) {
            Exit::Success | Exit::RebootNeeded | Exit::RepositoriesSkipped => (output_tail, None),
            Exit::RestartNeeded if attempt < MAX_RESTARTS => continue,
            Exit::RestartNeeded => (
                output_tail,
                failed(": zypper kept asking to run again after updating itself"),
            ),
            Exit::NotFound => (
                output_tail,
                failed(": a requested package, patch or version was not found"),
            ),
            Exit::ScriptFailed => (
                output_tail,
                failed(": the packages were installed but a package script failed"),
            ),
            Exit::Locked | Exit::Failed => (output_tail, failed("")),
        };
    }
    (output_tail, None)
}

fn failure(kind: JobFailureKind, message: String) -> JobFailure {
    JobFailure { kind, message }
}

/// One package or patch an install is meant to change.
#[derive(Debug, Clone)]
struct Planned {
    spec: PackageSpec,
    /// Version before the install, known for "all" and "security only".
    previous: Option<String>,
}

/// Splits off the package specs whose package a zypper lock holds, each with a not-attempted
/// result. When the locks cannot be read, every spec is kept and zypper itself refuses to
/// change a locked package.
fn split_locked(zypper: &Zypper, specs: &[PackageSpec]) -> (Vec<PackageSpec>, Vec<PackageResult>) {
    let locked = match zypper.locked_packages() {
        Ok(locked) => locked,
        Err(error) => {
            tracing::warn!(manager = MANAGER, %error, "reading the zypper locks before the install failed");
            return (specs.to_vec(), Vec::new());
        }
    };
    let (held, kept): (Vec<PackageSpec>, Vec<PackageSpec>) = specs
        .iter()
        .cloned()
        .partition(|spec| !is_patch(&spec.name) && locked.contains(&spec.name));
    let refused = held
        .into_iter()
        .map(|spec| PackageResult {
            manager: MANAGER.to_owned(),
            message: Some(format!(
                "a zypper lock holds this package (see `zypper locks`); remove it with \
                 `zypper removelock {}` to update the package",
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

/// Splits off the package specs whose package is not installed: `install` would install them.
fn split_not_installed(
    zypper: &Zypper,
    specs: &[PackageSpec],
) -> (Vec<PackageSpec>, Vec<PackageResult>) {
    let names: Vec<&str> = specs
        .iter()
        .filter(|spec| !is_patch(&spec.name))
        .map(|spec| spec.name.as_str())
        .collect();
    let installed = match zypper.installed(&names) {
        Ok(installed) => installed,
        // Without the database, let zypper run and the results after it tell.
        Err(error) => {
            tracing::warn!(manager = MANAGER, %error, "reading installed versions before the install failed");
            return (specs.to_vec(), Vec::new());
        }
    };
    let mut kept = Vec::new();
    let mut refused = Vec::new();
    for spec in specs {
        if is_patch(&spec.name) || installed.iter().any(|package| package.name == spec.name) {
            kept.push(spec.clone());
        } else {
            refused.push(PackageResult {
                manager: MANAGER.to_owned(),
                name: spec.name.clone(),
                requested_version: Some(spec.version.clone()),
                installed_version: None,
                outcome: PackageOutcome::NotAttempted,
                message: Some(
                    "package is not installed; an update job installs no new packages".to_owned(),
                ),
            });
        }
    }
    (kept, refused)
}

/// Runs detection to list what "all" or "security only" installs.
fn planned_updates(
    zypper: &Zypper,
    selection: &InstallSelection,
) -> Result<Vec<Planned>, InstallOutcome> {
    let updates = zypper.detect_detailed().map_err(|error| InstallOutcome {
        packages: Vec::new(),
        output_tail: String::new(),
        failure: Some(failure(
            JobFailureKind::CommandFailed,
            format!("update detection before the install failed: {error}"),
        )),
    })?;
    let security_only = *selection == InstallSelection::SecurityOnly;
    Ok(updates
        .into_iter()
        .map(|update| update.info)
        .filter(|update| update.status == UpdateStatus::Available)
        .filter(|update| update.security || !security_only)
        // `update` installs packages; the patches they satisfy turn applied on their own.
        .filter(|update| security_only || !is_patch(&update.name))
        .map(|update| Planned {
            spec: PackageSpec {
                manager: MANAGER.to_owned(),
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
        failure: Some(failure(JobFailureKind::InvalidRequest, error.to_string())),
    }
}

/// Reads the database and the patch states after the run and compares each with its request.
fn package_results(
    zypper: &Zypper,
    planned: &[Planned],
    selection: &InstallSelection,
) -> Vec<PackageResult> {
    let names: Vec<&str> = planned
        .iter()
        .filter(|plan| !is_patch(&plan.spec.name))
        .map(|plan| plan.spec.name.as_str())
        .collect();
    let installed = zypper.installed(&names).unwrap_or_else(|error| {
        tracing::warn!(manager = MANAGER, %error, "reading installed versions after the install failed");
        Vec::new()
    });
    let patch_states = if planned.iter().any(|plan| is_patch(&plan.spec.name)) {
        patch_states(zypper)
    } else {
        BTreeMap::new()
    };
    let exact = matches!(selection, InstallSelection::Packages(_));
    planned
        .iter()
        .map(|plan| match plan.spec.name.strip_prefix(PATCH_PREFIX) {
            Some(patch) => patch_result(plan, patch_states.get(patch).map(String::as_str)),
            None => package_result(plan, &installed, exact),
        })
        .collect()
}

/// Returns the status of every patch, from `zypper --xmlout list-patches --all`.
fn patch_states(zypper: &Zypper) -> BTreeMap<String, String> {
    let command = zypper.command(true, &["list-patches", "--all"]);
    let description = describe(&command);
    let listing = crate::packages::command::run(command, zypper.settings().query_timeout)
        .map_err(|error| error.to_string())
        .and_then(|output| xml::parse_listing(&output.stdout).map_err(|error| error.to_string()));
    match listing {
        Ok(listing) => listing
            .updates
            .into_iter()
            .filter_map(|patch| Some((patch.name, patch.status?)))
            .collect(),
        Err(error) => {
            tracing::warn!(manager = MANAGER, command = %description, %error, "reading patch states after the install failed");
            BTreeMap::new()
        }
    }
}

fn patch_result(plan: &Planned, status: Option<&str>) -> PackageResult {
    let (outcome, message) = match status {
        Some("applied" | "not-needed") => (PackageOutcome::Installed, None),
        Some(status) => (
            PackageOutcome::Failed,
            Some(format!("patch status is {status} after the run")),
        ),
        None => (
            PackageOutcome::Failed,
            Some("zypper no longer lists the patch".to_owned()),
        ),
    };
    PackageResult {
        manager: MANAGER.to_owned(),
        name: plan.spec.name.clone(),
        requested_version: Some(plan.spec.version.clone()),
        installed_version: (outcome == PackageOutcome::Installed)
            .then(|| plan.spec.version.clone()),
        outcome,
        message,
    }
}

/// Compares one package with its request: exact for a pinned install, newer than before for
/// "all" and "security only", where zypper picks the versions.
fn package_result(plan: &Planned, installed: &[InstalledPackage], exact: bool) -> PackageResult {
    let requested = Evr::parse(&plan.spec.version);
    let found = rpmdb::matching_or_newest(installed, &plan.spec.name, None, &requested);
    let installed_version = found.map(|package| package.evr.to_string());
    let (outcome, message) = match found {
        Some(package) if package.evr.compare(&requested).is_eq() => {
            (PackageOutcome::Installed, None)
        }
        Some(package)
            if !exact
                && plan
                    .previous
                    .as_deref()
                    .is_some_and(|previous| package.evr.compare(&Evr::parse(previous)).is_gt()) =>
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
        manager: MANAGER.to_owned(),
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
    fn arguments_by_selection() {
        let selection = InstallSelection::Packages(vec![
            spec("zypper", "kernel-default", "5.14.21-150500.55.65.1"),
            spec(
                "zypper",
                "patch:SUSE-SLE-Module-Basesystem-15-SP5-2024-1648",
                "1",
            ),
            spec("zypper", "libfoo1", "1:2.0-1"),
        ]);
        let (global, arguments) = install_arguments(&selection).unwrap();
        assert!(global.is_empty());
        assert_eq!(
            arguments,
            [
                "install",
                "--no-recommends",
                "kernel-default=5.14.21-150500.55.65.1",
                "patch:SUSE-SLE-Module-Basesystem-15-SP5-2024-1648=1",
                "libfoo1=1:2.0-1",
            ]
        );
        let (global, arguments) = install_arguments(&InstallSelection::SecurityOnly).unwrap();
        assert_eq!(global, ["--non-interactive-include-reboot-patches"]);
        assert_eq!(arguments, ["patch", "--category", "security"]);
        let (_, arguments) = install_arguments(&InstallSelection::All).unwrap();
        assert_eq!(arguments, ["update"]);
    }

    #[test]
    fn rejects_options_and_other_managers() {
        for case in [
            spec("zypper", "--from=evil", "1"),
            spec("zypper", "kernel", "--oldpackage"),
            spec("zypper", "kernel<1", "1"),
            spec("dnf", "kernel", "1-1"),
        ] {
            assert!(
                install_arguments(&InstallSelection::Packages(vec![case.clone()])).is_err(),
                "{case:?}"
            );
        }
    }

    #[test]
    fn patch_results() {
        let plan = Planned {
            spec: spec("zypper", "patch:SMTEST-2026-0001", "1"),
            previous: None,
        };
        assert_eq!(
            patch_result(&plan, Some("applied")).outcome,
            PackageOutcome::Installed
        );
        let needed = patch_result(&plan, Some("needed"));
        assert_eq!(needed.outcome, PackageOutcome::Failed);
        assert_eq!(needed.installed_version, None);
        assert_eq!(patch_result(&plan, None).outcome, PackageOutcome::Failed);
    }

    #[test]
    fn package_results_exact_and_newer() {
        let installed = rpmdb::parse_installed("foo\t(none)\t3.0\t1\tnoarch\n").unwrap();
        let plan = Planned {
            spec: spec("zypper", "foo", "2.0-1"),
            previous: Some("1.0-1".into()),
        };
        assert_eq!(
            package_result(&plan, &installed, true).outcome,
            PackageOutcome::Failed
        );
        assert_eq!(
            package_result(&plan, &installed, false).outcome,
            PackageOutcome::Installed
        );
    }
}
