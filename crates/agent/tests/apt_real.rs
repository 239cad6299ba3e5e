//! Update detection and installs against the real apt and dpkg of this machine, with local
//! repositories built for each test (see `support`). Needs root, dpkg-dev and apt-utils.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use sysmanage_agent::packages::apt::install::{pinned_install_arguments, upgrade_all_arguments};
use sysmanage_agent::packages::{InstallSelection, PackageManager};
use sysmanage_protocol::{JobFailureKind, PackageOutcome, PackageSpec, UpdateStatus};

use support::{
    AptSandbox, Dependency, PackageVersion, PurgeGuard, installed_version, run_with_lock_retry,
    unique_name,
};

#[test]
fn apt_detects_and_installs_updates() {
    let plain = unique_name("plain");
    let secure = unique_name("secure");
    let sandbox = AptSandbox::new(&[
        PackageVersion {
            name: &plain,
            version: "1.0",
            repository: "main",
        },
        PackageVersion {
            name: &plain,
            version: "2.0",
            repository: "main",
        },
        PackageVersion {
            name: &secure,
            version: "1.0",
            repository: "main",
        },
        PackageVersion {
            name: &secure,
            version: "2.0",
            repository: "security",
        },
    ]);
    let _guard = PurgeGuard {
        packages: vec![plain.clone(), secure.clone()],
    };
    sandbox.dpkg_install(&plain, "1.0");
    sandbox.dpkg_install(&secure, "1.0");
    let apt = sandbox.apt();

    let updates = apt.detect_updates().unwrap();
    let plain_update = updates
        .iter()
        .find(|update| update.name == plain)
        .expect("plain update");
    assert_eq!(plain_update.manager, "apt");
    assert_eq!(plain_update.current_version.as_deref(), Some("1.0"));
    assert_eq!(plain_update.new_version, "2.0");
    assert_eq!(plain_update.architecture.as_deref(), Some("all"));
    assert_eq!(
        plain_update.origin.as_deref(),
        Some("SysManageTest:testing")
    );
    assert!(!plain_update.security);
    assert_eq!(plain_update.status, UpdateStatus::Available);

    let secure_update = updates
        .iter()
        .find(|update| update.name == secure)
        .expect("security update");
    assert_eq!(secure_update.current_version.as_deref(), Some("1.0"));
    assert_eq!(secure_update.new_version, "2.0");
    assert_eq!(
        secure_update.origin.as_deref(),
        Some("SysManageTest-Security:testing-security")
    );
    assert!(secure_update.security);

    let outcome = apt.install(&InstallSelection::Packages(vec![PackageSpec {
        manager: "apt".into(),
        name: plain.clone(),
        version: "2.0".into(),
    }]));
    assert_eq!(outcome.failure, None, "{}", outcome.output_tail);
    assert_eq!(outcome.packages.len(), 1);
    assert_eq!(outcome.packages[0].outcome, PackageOutcome::Installed);
    assert_eq!(
        outcome.packages[0].installed_version.as_deref(),
        Some("2.0")
    );
    assert_eq!(installed_version(&plain).as_deref(), Some("2.0"));
    assert_eq!(installed_version(&secure).as_deref(), Some("1.0"));

    let updates = apt.detect_updates().unwrap();
    assert!(
        !updates.iter().any(|update| update.name == plain),
        "{updates:?}"
    );
    assert!(
        updates.iter().any(|update| update.name == secure),
        "{updates:?}"
    );

    let outcome = apt.install(&InstallSelection::SecurityOnly);
    assert_eq!(outcome.failure, None, "{}", outcome.output_tail);
    let secure_result = outcome
        .packages
        .iter()
        .find(|package| package.name == secure)
        .unwrap();
    assert_eq!(secure_result.outcome, PackageOutcome::Installed);
    assert_eq!(installed_version(&secure).as_deref(), Some("2.0"));
}

#[test]
fn apt_reports_held_package() {
    let held = unique_name("held");
    let sandbox = AptSandbox::new(&[
        PackageVersion {
            name: &held,
            version: "1.0",
            repository: "main",
        },
        PackageVersion {
            name: &held,
            version: "2.0",
            repository: "main",
        },
    ]);
    let _guard = PurgeGuard {
        packages: vec![held.clone()],
    };
    sandbox.dpkg_install(&held, "1.0");
    let output = run_with_lock_retry("apt-mark", &["hold", &held]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let updates = sandbox.apt().detect_updates().unwrap();
    let update = updates
        .iter()
        .find(|update| update.name == held)
        .expect("held update");
    assert_eq!(update.status, UpdateStatus::Held);
    assert_eq!(update.current_version.as_deref(), Some("1.0"));
    assert_eq!(update.new_version, "2.0");

    let outcome = sandbox.apt().install(&InstallSelection::All);
    assert_eq!(
        installed_version(&held).as_deref(),
        Some("1.0"),
        "{}",
        outcome.output_tail
    );
}

/// Version 2.0 of one package depends on a package that is not installed, and version 2.0 of
/// another conflicts with an installed package. `apt-get upgrade --with-new-pkgs` installs the
/// first with its new dependency and keeps the second back, because it never removes a package.
/// The test uses a dpkg status file of its own and only simulates, so the machine's dpkg database
/// stays untouched.
#[test]
fn apt_reports_kept_back_package() {
    let needs_new = unique_name("needs-new");
    let dependency = unique_name("new-dependency");
    let kept_back = unique_name("kept-back");
    let conflicting = unique_name("conflicting");
    let package = |name, version| PackageVersion {
        name,
        version,
        repository: "main",
    };
    let sandbox = AptSandbox::with_dependencies(
        &[
            package(&needs_new, "1.0"),
            package(&needs_new, "2.0"),
            package(&dependency, "1.0"),
            package(&kept_back, "1.0"),
            package(&kept_back, "2.0"),
            package(&conflicting, "1.0"),
        ],
        &[
            Dependency {
                name: &needs_new,
                version: "2.0",
                field: "Depends",
                value: &dependency,
            },
            Dependency {
                name: &kept_back,
                version: "2.0",
                field: "Conflicts",
                value: &conflicting,
            },
        ],
    );
    sandbox.use_sandbox_status(&[
        (&needs_new, "1.0"),
        (&kept_back, "1.0"),
        (&conflicting, "1.0"),
    ]);

    let updates = sandbox.apt().detect_updates().unwrap();
    let reported = |name: &str| -> Vec<_> {
        updates
            .iter()
            .filter(|update| update.name == name)
            .collect()
    };

    let held_back = reported(&kept_back);
    assert_eq!(held_back.len(), 1, "{updates:?}");
    assert_eq!(held_back[0].status, UpdateStatus::KeptBack);
    assert_eq!(held_back[0].current_version.as_deref(), Some("1.0"));
    assert_eq!(held_back[0].new_version, "2.0");
    assert_eq!(
        held_back[0].origin.as_deref(),
        Some("SysManageTest:testing")
    );
    assert!(!held_back[0].security);

    let with_dependency = reported(&needs_new);
    assert_eq!(with_dependency.len(), 1, "{updates:?}");
    assert_eq!(with_dependency[0].status, UpdateStatus::Available);
    assert_eq!(with_dependency[0].new_version, "2.0");
    assert!(reported(&dependency).is_empty(), "{updates:?}");
    assert!(reported(&conflicting).is_empty(), "{updates:?}");

    // "All" runs these arguments: the package that needs a new one goes in with it, and the
    // kept-back package stays.
    let stdout = simulate(&sandbox, upgrade_all_arguments("DPkg::Lock::Timeout=1"));
    assert!(
        stdout.contains(&format!("Inst {dependency} (1.0 ")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("Inst {needs_new} [1.0] (2.0 ")),
        "{stdout}"
    );
    assert!(!stdout.contains(&format!("Inst {kept_back} ")), "{stdout}");
    assert!(!stdout.contains("Remv "), "{stdout}");

    // A job that names the kept-back package runs these arguments, which remove the conflicting
    // package.
    let named = pinned_install_arguments(
        "DPkg::Lock::Timeout=1",
        &[PackageSpec {
            manager: "apt".into(),
            name: kept_back.clone(),
            version: "2.0".into(),
        }],
    )
    .unwrap();
    let stdout = simulate(&sandbox, named);
    assert!(
        stdout.contains(&format!("Remv {conflicting} [1.0]")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("Inst {kept_back} [1.0] (2.0 ")),
        "{stdout}"
    );
}

/// Runs apt-get with `arguments` as a simulation in the sandbox and returns its standard output.
fn simulate(sandbox: &AptSandbox, mut arguments: Vec<String>) -> String {
    arguments.splice(
        0..0,
        [
            "-s".to_owned(),
            "-o".to_owned(),
            "Debug::NoLocking=true".to_owned(),
        ],
    );
    let output = Command::new("apt-get")
        .args(&arguments)
        .env("APT_CONFIG", &sandbox.apt_config)
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Points the sandbox's apt at its own preferences file and parts directory, so that the pins
/// of this machine's `/etc/apt/preferences(.d)` do not apply. Returns the file and directory.
fn use_sandbox_preferences(sandbox: &AptSandbox) -> (PathBuf, PathBuf) {
    let file = sandbox.directory.path().join("preferences");
    let parts = sandbox.directory.path().join("preferences.d");
    std::fs::create_dir_all(&parts).unwrap();
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(&sandbox.apt_config)
        .unwrap();
    writeln!(
        config,
        "Dir::Etc::Preferences \"{}\";\nDir::Etc::PreferencesParts \"{}\";",
        file.display(),
        parts.display()
    )
    .unwrap();
    (file, parts)
}

fn pin(name: &str, version: &str) -> String {
    format!("Package: {name}\nPin: version {version}\nPin-Priority: 1001\n")
}

#[test]
fn apt_reports_pinned_package_as_held() {
    let pinned = unique_name("pinned");
    let pinned_held = unique_name("pinned-held");
    let pinned_newer = unique_name("pinned-newer");
    let mut versions = Vec::new();
    for name in [&pinned, &pinned_held, &pinned_newer] {
        for version in ["1.0", "2.0", "3.0"] {
            versions.push(PackageVersion {
                name,
                version,
                repository: "main",
            });
        }
    }
    let sandbox = AptSandbox::new(&versions);
    let _guard = PurgeGuard {
        packages: vec![pinned.clone(), pinned_held.clone(), pinned_newer.clone()],
    };
    let (preferences, preferences_parts) = use_sandbox_preferences(&sandbox);
    std::fs::write(&preferences, pin(&pinned, "1.0")).unwrap();
    std::fs::write(
        preferences_parts.join("sysmanage-test"),
        format!(
            "{}\n{}",
            pin(&pinned_held, "1.0"),
            pin(&pinned_newer, "2.0")
        ),
    )
    .unwrap();
    for name in [&pinned, &pinned_held, &pinned_newer] {
        sandbox.dpkg_install(name, "1.0");
    }
    let output = run_with_lock_retry("apt-mark", &["hold", &pinned_held]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let apt = sandbox.apt();

    let updates = apt.detect_updates().unwrap();
    for (name, status, new_version) in [
        (&pinned, UpdateStatus::Held, "3.0"),
        (&pinned_held, UpdateStatus::Held, "3.0"),
        (&pinned_newer, UpdateStatus::Available, "2.0"),
    ] {
        let reported: Vec<_> = updates
            .iter()
            .filter(|update| update.name == *name)
            .collect();
        assert_eq!(reported.len(), 1, "{name}: {updates:?}");
        let update = reported[0];
        assert_eq!(update.status, status, "{name}");
        assert_eq!(update.current_version.as_deref(), Some("1.0"), "{name}");
        assert_eq!(update.new_version, new_version, "{name}");
        assert_eq!(
            update.origin.as_deref(),
            Some("SysManageTest:testing"),
            "{name}"
        );
        assert!(!update.security, "{name}");
    }

    let outcome = apt.install(&InstallSelection::All);
    assert_eq!(outcome.failure, None, "{}", outcome.output_tail);
    let attempted: Vec<&str> = outcome
        .packages
        .iter()
        .map(|package| package.name.as_str())
        .collect();
    assert!(!attempted.contains(&pinned.as_str()), "{attempted:?}");
    assert!(!attempted.contains(&pinned_held.as_str()), "{attempted:?}");
    assert_eq!(installed_version(&pinned).as_deref(), Some("1.0"));
    assert_eq!(installed_version(&pinned_held).as_deref(), Some("1.0"));
    assert_eq!(installed_version(&pinned_newer).as_deref(), Some("2.0"));
}

#[test]
fn apt_install_of_missing_version_fails() {
    let name = unique_name("missing");
    let sandbox = AptSandbox::new(&[PackageVersion {
        name: &name,
        version: "1.0",
        repository: "main",
    }]);
    let _guard = PurgeGuard {
        packages: vec![name.clone()],
    };
    sandbox.dpkg_install(&name, "1.0");
    let apt = sandbox.apt();
    apt.detect_updates().unwrap();

    let outcome = apt.install(&InstallSelection::Packages(vec![PackageSpec {
        manager: "apt".into(),
        name: name.clone(),
        version: "9.9".into(),
    }]));
    let failure = outcome
        .failure
        .expect("a missing version must fail the job");
    assert_eq!(
        failure.kind,
        JobFailureKind::CommandFailed,
        "{}",
        outcome.output_tail
    );
    assert!(
        outcome.output_tail.contains("9.9"),
        "{}",
        outcome.output_tail
    );
    assert_eq!(outcome.packages[0].outcome, PackageOutcome::Failed);
    assert_eq!(
        outcome.packages[0].installed_version.as_deref(),
        Some("1.0")
    );
}

#[test]
fn check_command_prints_report() {
    let name = unique_name("check");
    let sandbox = AptSandbox::new(&[
        PackageVersion {
            name: &name,
            version: "1.0",
            repository: "main",
        },
        PackageVersion {
            name: &name,
            version: "2.0",
            repository: "security",
        },
    ]);
    let _guard = PurgeGuard {
        packages: vec![name.clone()],
    };
    sandbox.dpkg_install(&name, "1.0");
    let state = tempfile::tempdir().unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_sysmanage-agent"))
        .args(["check", "--json"])
        .env("APT_CONFIG", &sandbox.apt_config)
        .env("SYSMANAGE_AGENT_CONFIG", state.path().join("none.yaml"))
        .output()
        .unwrap();
    // The named configuration file does not exist, which must be an error with exit code 2.
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("none.yaml"));

    let config = state.path().join("agent.yaml");
    std::fs::write(&config, format!("state_dir: {}\n", state.path().display())).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sysmanage-agent"))
        .args(["check", "--json", "--config"])
        .arg(&config)
        .env("APT_CONFIG", &sandbox.apt_config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: sysmanage_protocol::UpdateReport = serde_json::from_str(&stdout).unwrap();
    let sysmanage_protocol::ScanOutcome::Ok { updates } = &report.managers[0].outcome else {
        panic!("apt detection failed: {stdout}");
    };
    let update = updates.iter().find(|update| update.name == name).unwrap();
    assert!(update.security);

    let output = Command::new(env!("CARGO_BIN_EXE_sysmanage-agent"))
        .args(["check", "--config"])
        .arg(&config)
        .env("APT_CONFIG", &sandbox.apt_config)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0));
    assert!(table.starts_with("MANAGER"), "{table}");
    assert!(table.contains(&name), "{table}");

    // A sources list apt cannot read makes `apt-get update` fail: exit code 1 with the error.
    std::fs::write(
        sandbox.directory.path().join("sources.list"),
        "deb [broken\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sysmanage-agent"))
        .args(["check", "--config"])
        .arg(&config)
        .env("APT_CONFIG", &sandbox.apt_config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("apt: update detection failed"), "{stderr}");
}
