//! Update detection and installs against the real pacman, in a throwaway root with a local
//! `file://` repository. Packages are built with makepkg as user `nobody` (makepkg rejects
//! root) and indexed with repo-add. Needs root, pacman-package-manager, makepkg and fakeroot
//! (Debian 12 ships pacman 6.0.2). Nothing outside the temporary directory is touched.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sysmanage_agent::packages::busy::BusyPolicy;
use sysmanage_agent::packages::pacman::install::WHOLE_SYSTEM_NOTE;
use sysmanage_agent::packages::pacman::{Pacman, PacmanSettings};
use sysmanage_agent::packages::{InstallSelection, PackageManager, ScanError};
use sysmanage_protocol::{JobFailureKind, PackageOutcome, PackageSpec, UpdateStatus};

/// User and group id of `nobody`, who runs makepkg.
const NOBODY: u32 = 65534;

struct Sandbox {
    directory: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let directory = tempfile::Builder::new()
            .prefix("sysmanage-pacman-real-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(directory.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        for sub in [
            "build",
            "repo",
            "root/var/lib/pacman",
            "cache",
            "hooks",
            "gnupg",
        ] {
            std::fs::create_dir_all(directory.path().join(sub)).unwrap();
        }
        std::os::unix::fs::chown(directory.path().join("build"), Some(NOBODY), Some(NOBODY))
            .unwrap();
        Self { directory }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.directory.path().join(relative)
    }

    fn root(&self) -> PathBuf {
        self.path("root")
    }

    fn database(&self) -> PathBuf {
        self.path("root/var/lib/pacman")
    }

    fn config(&self) -> PathBuf {
        self.path("pacman.conf")
    }

    /// Writes pacman.conf with the local repository `smtest` and the given `IgnorePkg` names.
    fn write_config(&self, ignored: &[&str]) {
        let base = self.directory.path().display();
        let ignore_line = if ignored.is_empty() {
            String::new()
        } else {
            format!("IgnorePkg = {}\n", ignored.join(" "))
        };
        let text = format!(
            "[options]\n\
             Architecture = auto\n\
             SigLevel = Never\n\
             LocalFileSigLevel = Never\n\
             CacheDir = {base}/cache/\n\
             LogFile = {base}/pacman.log\n\
             GPGDir = {base}/gnupg/\n\
             HookDir = {base}/hooks/\n\
             {ignore_line}\n\
             [smtest]\n\
             Server = file://{base}/repo\n"
        );
        std::fs::write(self.config(), text).unwrap();
    }

    /// Builds `name-version-1-any` with makepkg as `nobody` and returns the package file.
    fn build(&self, name: &str, version: &str) -> PathBuf {
        let directory = self.path(&format!("build/{name}-{version}"));
        std::fs::create_dir_all(&directory).unwrap();
        std::fs::write(
            directory.join("PKGBUILD"),
            format!(
                "pkgname={name}\npkgver={version}\npkgrel=1\npkgdesc='SysManage test package'\n\
                 arch=(any)\nlicense=(MIT)\n\
                 package() {{\n  mkdir -p \"$pkgdir/usr/share/{name}\"\n  \
                 echo {version} > \"$pkgdir/usr/share/{name}/version\"\n}}\n"
            ),
        )
        .unwrap();
        std::os::unix::fs::chown(&directory, Some(NOBODY), Some(NOBODY)).unwrap();
        std::os::unix::fs::chown(directory.join("PKGBUILD"), Some(NOBODY), Some(NOBODY)).unwrap();

        let output = Command::new("setpriv")
            .args([
                &format!("--reuid={NOBODY}"),
                &format!("--regid={NOBODY}"),
                "--clear-groups",
                "makepkg",
                "--nodeps",
                "--nocheck",
                "--force",
            ])
            .current_dir(&directory)
            .env("HOME", &directory)
            .env("PKGDEST", &directory)
            .env("BUILDDIR", directory.join("work"))
            .env("LC_ALL", "C")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "makepkg failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let prefix = format!("{name}-{version}-1-any.pkg.tar");
        std::fs::read_dir(&directory)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .find(|path| {
                path.file_name()
                    .is_some_and(|file| file.to_string_lossy().starts_with(&prefix))
            })
            .unwrap_or_else(|| panic!("makepkg wrote no {prefix}.*"))
    }

    /// Adds a package file to the `smtest` repository.
    fn publish(&self, package: &Path) {
        let target = self.path("repo").join(package.file_name().unwrap());
        std::fs::copy(package, &target).unwrap();
        run(Command::new("repo-add")
            .arg(self.path("repo/smtest.db.tar.gz"))
            .arg(&target));
    }

    /// Installs a package file into the throwaway root with `pacman -U`.
    fn install_file(&self, package: &Path) {
        run(self.pacman().args(["-U", "--noconfirm"]).arg(package));
    }

    fn pacman(&self) -> Command {
        let mut command = Command::new("pacman");
        command
            .env("LC_ALL", "C")
            .arg("--root")
            .arg(self.root())
            .arg("--dbpath")
            .arg(self.database())
            .arg("--config")
            .arg(self.config());
        command
    }

    /// Returns the version `pacman -Q` reports in the throwaway root.
    fn installed_version(&self, name: &str) -> String {
        let output = self.pacman().args(["-Q", name]).output().unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned()
    }

    fn agent(&self) -> Pacman {
        Pacman::new(PacmanSettings {
            root: Some(self.root()),
            config: Some(self.config()),
            database_path: Some(self.database()),
            busy: BusyPolicy {
                max_wait: Duration::from_secs(1),
                first_delay: Duration::from_millis(200),
                max_delay: Duration::from_millis(500),
            },
            sync_timeout: Duration::from_mins(2),
            install_timeout: Duration::from_mins(5),
        })
    }
}

fn run(command: &mut Command) {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Builds v1 and v2 of two packages, publishes v2, installs v1 and holds `smtest-held`.
fn prepared_sandbox() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.write_config(&["smtest-held"]);
    for name in ["smtest-plain", "smtest-held"] {
        let old = sandbox.build(name, "1.0");
        let new = sandbox.build(name, "2.0");
        sandbox.publish(&new);
        sandbox.install_file(&old);
    }
    sandbox
}

#[test]
fn pacman_detects_without_syncing_real_database() {
    let sandbox = prepared_sandbox();
    let pacman = sandbox.agent();

    let mut updates = pacman.detect_updates().unwrap();
    updates.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(updates.len(), 2, "{updates:?}");

    let held = &updates[0];
    assert_eq!(held.name, "smtest-held");
    assert_eq!(held.status, UpdateStatus::Held);
    assert_eq!(held.current_version.as_deref(), Some("1.0-1"));
    assert_eq!(held.new_version, "2.0-1");

    let plain = &updates[1];
    assert_eq!(plain.manager, "pacman");
    assert_eq!(plain.name, "smtest-plain");
    assert_eq!(plain.current_version.as_deref(), Some("1.0-1"));
    assert_eq!(plain.new_version, "2.0-1");
    assert_eq!(plain.origin.as_deref(), Some("smtest"));
    assert_eq!(plain.status, UpdateStatus::Available);
    assert!(!plain.security);

    assert!(
        !sandbox.database().join("sync/smtest.db").exists(),
        "detection must not refresh the real sync database"
    );
    assert_eq!(sandbox.installed_version("smtest-plain"), "1.0-1");
}

#[test]
fn pacman_install_upgrades_whole_system() {
    let sandbox = prepared_sandbox();
    let pacman = sandbox.agent();

    let outcome = pacman.install(&InstallSelection::Packages(vec![PackageSpec {
        manager: "pacman".into(),
        name: "smtest-plain".into(),
        version: "2.0-1".into(),
    }]));
    assert_eq!(outcome.failure, None, "{}", outcome.output_tail);
    assert_eq!(outcome.packages.len(), 1);
    let result = &outcome.packages[0];
    assert_eq!(result.outcome, PackageOutcome::Installed);
    assert_eq!(result.installed_version.as_deref(), Some("2.0-1"));
    assert_eq!(result.message.as_deref(), Some(WHOLE_SYSTEM_NOTE));

    assert_eq!(sandbox.installed_version("smtest-plain"), "2.0-1");
    assert_eq!(
        sandbox.installed_version("smtest-held"),
        "1.0-1",
        "IgnorePkg must keep the held package"
    );

    let remaining = pacman.detect_updates().unwrap();
    assert_eq!(remaining.len(), 1, "{remaining:?}");
    assert_eq!(remaining[0].name, "smtest-held");
    assert_eq!(remaining[0].status, UpdateStatus::Held);
}

#[test]
fn pacman_lock_file_means_busy() {
    let sandbox = prepared_sandbox();
    let pacman = sandbox.agent();
    let lock = sandbox.database().join("db.lck");
    std::fs::write(&lock, "").unwrap();

    let error = pacman.detect_updates().unwrap_err();
    assert!(matches!(error, ScanError::CommandFailed { .. }), "{error}");
    assert!(error.to_string().contains("db.lck"), "{error}");

    let outcome = pacman.install(&InstallSelection::Packages(vec![PackageSpec {
        manager: "pacman".into(),
        name: "smtest-plain".into(),
        version: "2.0-1".into(),
    }]));
    let failure = outcome.failure.expect("a held lock must fail the install");
    assert_eq!(
        failure.kind,
        JobFailureKind::LockTimeout,
        "{}",
        failure.message
    );
    assert!(failure.message.contains("db.lck"), "{}", failure.message);
    assert!(lock.exists(), "the agent must never delete db.lck");
    assert_eq!(sandbox.installed_version("smtest-plain"), "1.0-1");
}
