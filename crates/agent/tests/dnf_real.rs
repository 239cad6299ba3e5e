//! Update detection and installs with the real dnf 4 of this machine, in a throwaway install root
//! with a local repository built for each test (see `rpm_support`). Needs dnf, rpm (with
//! rpmbuild) and createrepo-c; nothing outside the temporary directory is changed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod rpm_support;

use std::time::Duration;

use sysmanage_agent::packages::busy::BusyPolicy;
use sysmanage_agent::packages::dnf::{Dnf, DnfSettings, Flavor};
use sysmanage_agent::packages::{InstallSelection, PackageManager};
use sysmanage_protocol::{JobFailureKind, PackageOutcome, PackageSpec, UpdateStatus};

use rpm_support::{ADVISORY_ID, LockHolder, PackageVersion, RpmWorld};

/// Builds v1 and v2 of `smtest-plain` and `smtest-secure`, installs v1 of both, and returns a
/// dnf backend that sees only the local repository and the root.
fn setup() -> (RpmWorld, Dnf) {
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
    ]);
    world.rpm_install("smtest-plain", "1.0");
    world.rpm_install("smtest-secure", "1.0");

    let repositories = world.path().join("yum.repos.d");
    std::fs::create_dir_all(&repositories).unwrap();
    std::fs::write(
        repositories.join("smtest.repo"),
        format!(
            "[smtest]\nname=SysManage test\nbaseurl=file://{}\ngpgcheck=0\nenabled=1\n",
            world.repository().display()
        ),
    )
    .unwrap();

    let mut settings = DnfSettings::system(Duration::from_secs(2), Duration::from_mins(5));
    settings.program = Some("dnf".to_owned());
    settings.root = Some(world.root());
    settings.extra_arguments = vec![
        format!("--setopt=reposdir={}", repositories.display()),
        "--releasever=1".to_owned(),
        "--disablerepo=*".to_owned(),
        "--enablerepo=smtest".to_owned(),
    ];
    settings.busy = BusyPolicy {
        max_wait: Duration::from_secs(2),
        first_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(1),
    };
    (world, Dnf::new(settings))
}

fn spec(name: &str, version: &str) -> PackageSpec {
    PackageSpec {
        manager: "dnf".into(),
        name: name.into(),
        version: version.into(),
    }
}

#[test]
fn dnf_detects_security_and_installs_pinned_then_security_only() {
    let (world, dnf) = setup();
    assert_eq!(dnf.flavor(), Flavor::Dnf4);

    let updates = dnf.detect_detailed().unwrap();
    assert_eq!(updates.len(), 2, "{updates:#?}");
    let plain = updates
        .iter()
        .find(|update| update.info.name == "smtest-plain")
        .expect("plain update");
    assert_eq!(plain.info.manager, "dnf");
    assert_eq!(plain.info.architecture.as_deref(), Some("noarch"));
    assert_eq!(plain.info.current_version.as_deref(), Some("1.0-1"));
    assert_eq!(plain.info.new_version, "2.0-1");
    assert_eq!(plain.info.origin.as_deref(), Some("smtest"));
    assert_eq!(plain.info.status, UpdateStatus::Available);
    assert!(!plain.info.security);

    let secure = updates
        .iter()
        .find(|update| update.info.name == "smtest-secure")
        .expect("security update");
    assert_eq!(secure.info.current_version.as_deref(), Some("1.0-1"));
    assert_eq!(secure.info.new_version, "2.0-1");
    assert!(secure.info.security);
    assert_eq!(secure.severity.as_deref(), Some("Important"));
    assert_eq!(secure.advisories, [ADVISORY_ID]);

    let outcome = dnf.install(&InstallSelection::Packages(vec![spec(
        "smtest-plain",
        "2.0-1",
    )]));
    assert_eq!(outcome.failure, None, "{}", outcome.output_tail);
    assert_eq!(outcome.packages.len(), 1);
    assert_eq!(outcome.packages[0].outcome, PackageOutcome::Installed);
    assert_eq!(
        outcome.packages[0].installed_version.as_deref(),
        Some("2.0-1")
    );
    assert_eq!(
        world.installed_version("smtest-plain").as_deref(),
        Some("2.0-1")
    );
    assert_eq!(
        world.installed_version("smtest-secure").as_deref(),
        Some("1.0-1")
    );

    let updates = dnf.detect_updates().unwrap();
    let names: Vec<&str> = updates.iter().map(|update| update.name.as_str()).collect();
    assert_eq!(names, ["smtest-secure"]);

    let outcome = dnf.install(&InstallSelection::SecurityOnly);
    assert_eq!(outcome.failure, None, "{}", outcome.output_tail);
    assert_eq!(outcome.packages.len(), 1);
    assert_eq!(outcome.packages[0].name, "smtest-secure");
    assert_eq!(outcome.packages[0].outcome, PackageOutcome::Installed);
    assert_eq!(
        world.installed_version("smtest-secure").as_deref(),
        Some("2.0-1")
    );

    assert_eq!(dnf.detect_updates().unwrap(), []);
}

#[test]
fn dnf_reports_failed_pins_and_busy_lock() {
    let (world, dnf) = setup();

    // A version the repository does not have: dnf fails, nothing changes.
    let outcome = dnf.install(&InstallSelection::Packages(vec![spec(
        "smtest-plain",
        "9.9-1",
    )]));
    let failure = outcome.failure.expect("failure");
    assert_eq!(failure.kind, JobFailureKind::CommandFailed);
    assert!(failure.message.contains("9.9-1"), "{}", failure.message);
    assert_eq!(outcome.packages[0].outcome, PackageOutcome::Failed);
    assert_eq!(
        outcome.packages[0].installed_version.as_deref(),
        Some("1.0-1")
    );

    // Another process holds the RPM database lock of the root: busy until the wait runs out.
    let holder = LockHolder::start();
    let lock_directory = world.root().join("var/lib/dnf");
    std::fs::create_dir_all(&lock_directory).unwrap();
    std::fs::write(
        lock_directory.join("rpmdb_lock.pid"),
        holder.pid().to_string(),
    )
    .unwrap();
    let outcome = dnf.install(&InstallSelection::Packages(vec![spec(
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

    // dnf replaces the lock of a process that is gone.
    let outcome = dnf.install(&InstallSelection::All);
    assert_eq!(outcome.failure, None, "{}", outcome.output_tail);
    assert_eq!(outcome.packages.len(), 2);
    assert_eq!(
        world.installed_version("smtest-plain").as_deref(),
        Some("2.0-1")
    );
    assert_eq!(
        world.installed_version("smtest-secure").as_deref(),
        Some("2.0-1")
    );
}

#[test]
fn dnf_reboot_hint_needs_the_plugin() {
    let (_world, dnf) = setup();
    // Debian's dnf-plugins-core conflicts with zypper, so this machine may lack the plugin; the
    // hint is then an error, never a silent "no reboot".
    match dnf.check_reboot() {
        Ok(required) => assert!(!required),
        Err(error) => assert!(error.to_string().contains("dnf-plugins-core"), "{error}"),
    }
}

#[test]
fn dnf_reports_versionlocked_package_as_held() {
    let (world, dnf) = setup();
    // The list file as `dnf versionlock add smtest-plain` writes it. The plugin itself is not
    // installed here, so the backend alone must keep the package back.
    let plugins = world.root().join("etc/dnf/plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::write(
        plugins.join("versionlock.list"),
        "# Added lock on Fri Dec  4 12:00:00 2026\nsmtest-plain-0:1.0-1.*\n",
    )
    .unwrap();

    let updates = dnf.detect_updates().unwrap();
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
    let outcome = dnf.install(&InstallSelection::Packages(vec![spec(
        "smtest-plain",
        "2.0-1",
    )]));
    assert_eq!(outcome.failure, None, "{}", outcome.output_tail);
    assert_eq!(outcome.packages.len(), 1);
    assert_eq!(outcome.packages[0].outcome, PackageOutcome::NotAttempted);
    let message = outcome.packages[0].message.as_deref().unwrap_or_default();
    assert!(
        message.contains("versionlock delete smtest-plain"),
        "{message}"
    );
    assert_eq!(
        world.installed_version("smtest-plain").as_deref(),
        Some("1.0-1")
    );

    let outcome = dnf.install(&InstallSelection::All);
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
