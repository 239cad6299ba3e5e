//! Update detection, patches and installs with the real zypper of this machine, in a throwaway
//! root (`zypper --root`) with a local repository built for each test (see `rpm_support`).
//! Needs zypper, rpm (with rpmbuild) and createrepo-c; nothing outside the temporary directory
//! is changed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod rpm_support;

use std::time::Duration;

use sysmanage_agent::packages::busy::BusyPolicy;
use sysmanage_agent::packages::zypper::{Zypper, ZypperSettings};
use sysmanage_agent::packages::{InstallSelection, PackageManager};
use sysmanage_protocol::{JobFailureKind, PackageOutcome, PackageSpec, UpdateStatus};

use rpm_support::{ADVISORY_ID, LockHolder, PackageVersion, RpmWorld, run};

/// Builds v1 and v2 of `smtest-plain` and `smtest-secure`, installs v1 of both, adds the
/// repository to the root and returns a zypper backend for the root.
fn setup() -> (RpmWorld, Zypper) {
    let world = RpmWorld::new(&[
        PackageVersion {
            name: "smtest-plain",
            version: "1.0",
        },
        PackageVersion {
            name: "smtest-plain",
            version: "2.0",
        },
        PackageVersion {
            name: "smtest-secure",
            version: "1.0",
        },
        PackageVersion {
            name: "smtest-secure",
            version: "2.0",
        },
        PackageVersion {
            name: "smtest-other",
            version: "1.0",
        },
    ]);
    world.rpm_install("smtest-plain", "1.0");
    world.rpm_install("smtest-secure", "1.0");
    run(
        "zypper",
        &[
            "--non-interactive",
            "--root",
            world.root().to_str().unwrap(),
            "addrepo",
            "--no-gpgcheck",
            &format!("file://{}", world.repository().display()),
            "smtest",
        ],
    );

    let mut settings = ZypperSettings::system(Duration::from_secs(2), Duration::from_mins(5));
    settings.root = Some(world.root());
    settings.busy = BusyPolicy {
        max_wait: Duration::from_secs(2),
        first_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(1),
    };
    (world, Zypper::new(settings))
}

fn spec(name: &str, version: &str) -> PackageSpec {
    PackageSpec {
        manager: "zypper".into(),
        name: name.into(),
        version: version.into(),
    }
}

#[test]
fn zypper_detects_patches_and_installs_pinned_then_security_only() {
    let (world, zypper) = setup();

    let updates = zypper.detect_detailed().unwrap();
    let summary: Vec<(&str, Option<&str>, &str, bool)> = updates
        .iter()
        .map(|update| {
            (
                update.info.name.as_str(),
                update.info.current_version.as_deref(),
                update.info.new_version.as_str(),
                update.info.security,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("smtest-plain", Some("1.0-1"), "2.0-1", false),
            ("smtest-secure", Some("1.0-1"), "2.0-1", true),
            ("patch:SMTEST-2026-0001", None, "1", true),
        ]
    );
    assert!(updates.iter().all(|update| update.info.manager == "zypper"
        && update.info.origin.as_deref() == Some("smtest")
        && update.info.status == UpdateStatus::Available));
    assert_eq!(updates[1].severity.as_deref(), Some("important"));
    assert_eq!(updates[1].patches, [ADVISORY_ID]);

    let outcome = zypper.install(&InstallSelection::Packages(vec![
        spec("smtest-plain", "2.0-1"),
        spec("smtest-other", "1.0-1"),
    ]));
    assert_eq!(outcome.failure, None, "{}", outcome.output_tail);
    assert_eq!(outcome.packages.len(), 2);
    assert_eq!(outcome.packages[0].name, "smtest-plain");
    assert_eq!(outcome.packages[0].outcome, PackageOutcome::Installed);
    assert_eq!(
        outcome.packages[0].installed_version.as_deref(),
        Some("2.0-1")
    );
    // A package that is not installed is not installed by an update job.
    assert_eq!(outcome.packages[1].name, "smtest-other");
    assert_eq!(outcome.packages[1].outcome, PackageOutcome::NotAttempted);
    assert_eq!(
        world.installed_version("smtest-plain").as_deref(),
        Some("2.0-1")
    );
    assert_eq!(world.installed_version("smtest-other"), None);
    assert_eq!(
        world.installed_version("smtest-secure").as_deref(),
        Some("1.0-1")
    );

    let outcome = zypper.install(&InstallSelection::SecurityOnly);
    assert_eq!(outcome.failure, None, "{}", outcome.output_tail);
    let results: Vec<(&str, PackageOutcome)> = outcome
        .packages
        .iter()
        .map(|package| (package.name.as_str(), package.outcome))
        .collect();
    assert_eq!(
        results,
        [
            ("smtest-secure", PackageOutcome::Installed),
            ("patch:SMTEST-2026-0001", PackageOutcome::Installed),
        ]
    );
    assert_eq!(
        world.installed_version("smtest-secure").as_deref(),
        Some("2.0-1")
    );

    assert_eq!(zypper.detect_updates().unwrap(), []);
}

#[test]
fn zypper_pins_a_patch_and_reports_busy_lock_and_reboot() {
    let (world, zypper) = setup();

    assert!(!zypper.check_reboot().unwrap());
    let flag = world.root().join("run/reboot-needed");
    std::fs::create_dir_all(flag.parent().unwrap()).unwrap();
    std::fs::write(&flag, "").unwrap();
    assert!(zypper.check_reboot().unwrap());
    assert!(zypper.reboot_required());
    std::fs::remove_file(&flag).unwrap();

    // Another process holds the zypp lock of the root: busy until the wait runs out.
    let holder = LockHolder::start();
    let lock = world.root().join("run/zypp.pid");
    std::fs::write(&lock, holder.pid().to_string()).unwrap();
    let outcome = zypper.install(&InstallSelection::Packages(vec![spec(
        "smtest-plain",
        "2.0-1",
    )]));
    let failure = outcome.failure.expect("failure");
    assert_eq!(
        failure.kind,
        JobFailureKind::LockTimeout,
        "{}",
        failure.message
    );
    assert!(
        failure
            .message
            .contains(&format!("sleep (pid {})", holder.pid())),
        "{}",
        failure.message
    );
    assert_eq!(
        world.installed_version("smtest-plain").as_deref(),
        Some("1.0-1")
    );
    drop(holder);
    std::fs::remove_file(&lock).unwrap();

    // A version the repository does not have: zypper fails, nothing changes.
    let outcome = zypper.install(&InstallSelection::Packages(vec![spec(
        "smtest-plain",
        "0.9-1",
    )]));
    assert!(outcome.failure.is_some());
    assert_eq!(outcome.packages[0].outcome, PackageOutcome::Failed);
    assert_eq!(
        world.installed_version("smtest-plain").as_deref(),
        Some("1.0-1")
    );

    // The patch installs the package version it requires.
    let outcome = zypper.install(&InstallSelection::Packages(vec![spec(
        "patch:SMTEST-2026-0001",
        "1",
    )]));
    assert_eq!(outcome.failure, None, "{}", outcome.output_tail);
    assert_eq!(outcome.packages[0].outcome, PackageOutcome::Installed);
    assert_eq!(
        world.installed_version("smtest-secure").as_deref(),
        Some("2.0-1")
    );

    let outcome = zypper.install(&InstallSelection::All);
    assert_eq!(outcome.failure, None, "{}", outcome.output_tail);
    assert_eq!(
        world.installed_version("smtest-plain").as_deref(),
        Some("2.0-1")
    );
}

#[test]
fn zypper_reports_locked_package_as_held() {
    let (world, zypper) = setup();
    run(
        "zypper",
        &[
            "--non-interactive",
            "--root",
            world.root().to_str().unwrap(),
            "addlock",
            "smtest-plain",
        ],
    );

    let updates = zypper.detect_updates().unwrap();
    let plain = updates
        .iter()
        .find(|update| update.name == "smtest-plain")
        .expect("the locked package is reported");
    assert_eq!(plain.status, UpdateStatus::Held);
    assert_eq!(plain.current_version.as_deref(), Some("1.0-1"));
    assert_eq!(plain.new_version, "2.0-1");
    let secure = updates
        .iter()
        .find(|update| update.name == "smtest-secure")
        .unwrap();
    assert_eq!(secure.status, UpdateStatus::Available);

    // A job that names the locked package leaves it alone, and its result explains why.
    let outcome = zypper.install(&InstallSelection::Packages(vec![spec(
        "smtest-plain",
        "2.0-1",
    )]));
    assert_eq!(outcome.failure, None, "{}", outcome.output_tail);
    assert_eq!(outcome.packages.len(), 1);
    assert_eq!(outcome.packages[0].outcome, PackageOutcome::NotAttempted);
    let message = outcome.packages[0].message.as_deref().unwrap_or_default();
    assert!(
        message.contains("zypper removelock smtest-plain"),
        "{message}"
    );
    assert_eq!(
        world.installed_version("smtest-plain").as_deref(),
        Some("1.0-1")
    );

    let outcome = zypper.install(&InstallSelection::All);
    assert_eq!(outcome.failure, None, "{}", outcome.output_tail);
    assert!(
        outcome
            .packages
            .iter()
            .all(|package| package.name != "smtest-plain"),
        "{:?}",
        outcome.packages
    );
    assert_eq!(
        world.installed_version("smtest-plain").as_deref(),
        Some("1.0-1")
    );
    assert_eq!(
        world.installed_version("smtest-secure").as_deref(),
        Some("2.0-1")
    );
}
