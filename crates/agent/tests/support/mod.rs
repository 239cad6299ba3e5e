//! A hermetic apt setup for tests: tiny packages in local repositories, an `APT_CONFIG` that
//! points apt at them, and a guard that purges the installed test packages.
//!
//! By default the real dpkg database (`/var/lib/dpkg/status`) is used, so installs are real;
//! the machine's `/etc/apt` is never written. [`AptSandbox::use_sandbox_status`] points apt at
//! a status file of its own instead, for tests that only detect and simulate. Needs root,
//! `dpkg-deb` and `apt-ftparchive`.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sysmanage_agent::packages::apt::{Apt, AptSettings};

/// Returns a package name unique to this test process and `tag`.
pub fn unique_name(tag: &str) -> String {
    format!("sysmanage-agent-test-{}-{tag}", std::process::id())
}

/// Runs a command that may wait for the dpkg lock held by a test in another process, retrying
/// for up to two minutes while its error mentions a lock.
pub fn run_with_lock_retry(program: &str, args: &[&str]) -> Output {
    let deadline = Instant::now() + Duration::from_mins(2);
    loop {
        let output = Command::new(program)
            .args(args)
            .env("LC_ALL", "C")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .unwrap_or_else(|error| panic!("{program}: {error}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.success() || !stderr.contains("lock") || Instant::now() > deadline {
            return output;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn check(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Purges the listed packages when dropped, also when the test panics.
pub struct PurgeGuard {
    pub packages: Vec<String>,
}

impl Drop for PurgeGuard {
    fn drop(&mut self) {
        for package in &self.packages {
            let _ = run_with_lock_retry("apt-mark", &["unhold", package]);
            let output = run_with_lock_retry("dpkg", &["--purge", package]);
            if !output.status.success() {
                eprintln!(
                    "could not purge test package {package}: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        }
    }
}

/// Local repositories and the apt configuration that uses only them.
pub struct AptSandbox {
    pub directory: tempfile::TempDir,
    pub apt_config: PathBuf,
    pub debs: PathBuf,
}

/// One package version to put in a repository.
pub struct PackageVersion<'a> {
    pub name: &'a str,
    pub version: &'a str,
    /// `main` (suite `testing`) or `security` (suite `testing-security`).
    pub repository: &'a str,
}

/// A relationship field, such as `Depends` or `Conflicts`, for one built package version.
pub struct Dependency<'a> {
    pub name: &'a str,
    pub version: &'a str,
    /// Name of the control field: `Depends`, `Conflicts`, `Breaks`, ...
    pub field: &'a str,
    /// Value of the field, such as `other-package (>= 1.0)`.
    pub value: &'a str,
}

impl AptSandbox {
    /// Builds the packages, both repositories and the apt configuration.
    pub fn new(packages: &[PackageVersion<'_>]) -> Self {
        Self::with_dependencies(packages, &[])
    }

    /// Builds the packages as [`AptSandbox::new`] does, with the relationship fields of
    /// `dependencies` in the matching package versions.
    pub fn with_dependencies(
        packages: &[PackageVersion<'_>],
        dependencies: &[Dependency<'_>],
    ) -> Self {
        let directory = tempfile::tempdir().unwrap();
        let root = directory.path();
        let debs = root.join("debs");
        for repository in ["main", "security"] {
            std::fs::create_dir_all(root.join(repository)).unwrap();
        }
        std::fs::create_dir_all(&debs).unwrap();

        for package in packages {
            let mut fields = String::new();
            for dependency in dependencies {
                if dependency.name == package.name && dependency.version == package.version {
                    fields.push_str(dependency.field);
                    fields.push_str(": ");
                    fields.push_str(dependency.value);
                    fields.push('\n');
                }
            }
            let deb = build_deb(root, package.name, package.version, &fields);
            std::fs::copy(
                &deb,
                root.join(package.repository).join(deb.file_name().unwrap()),
            )
            .unwrap();
            std::fs::rename(&deb, debs.join(deb.file_name().unwrap())).unwrap();
        }
        write_repository(&root.join("main"), "SysManageTest", "testing");
        write_repository(
            &root.join("security"),
            "SysManageTest-Security",
            "testing-security",
        );

        let sources = root.join("sources.list");
        std::fs::write(
            &sources,
            format!(
                "deb [trusted=yes] file:{} ./\ndeb [trusted=yes] file:{} ./\n",
                root.join("main").display(),
                root.join("security").display()
            ),
        )
        .unwrap();
        for directory in ["parts", "lists/partial", "cache/archives/partial"] {
            std::fs::create_dir_all(root.join(directory)).unwrap();
        }
        let apt_config = root.join("apt.conf");
        std::fs::write(
            &apt_config,
            format!(
                "Dir::Etc::SourceList \"{root}/sources.list\";\n\
                 Dir::Etc::SourceParts \"{root}/parts\";\n\
                 Dir::State::Lists \"{root}/lists\";\n\
                 Dir::Cache \"{root}/cache\";\n\
                 APT::Sandbox::User \"root\";\n",
                root = root.display()
            ),
        )
        .unwrap();
        Self {
            directory,
            apt_config,
            debs,
        }
    }

    /// Returns the path of a built package file.
    pub fn deb(&self, name: &str, version: &str) -> PathBuf {
        self.debs.join(format!("{name}_{version}_all.deb"))
    }

    /// Installs a built package version with `dpkg -i`.
    pub fn dpkg_install(&self, name: &str, version: &str) {
        let deb = self.deb(name, version);
        let output = run_with_lock_retry("dpkg", &["-i", deb.to_str().unwrap()]);
        check(&output, "dpkg -i");
    }

    /// Points apt at a dpkg status file in the sandbox that lists `installed` as
    /// `(name, version)` pairs, so that apt never reads or writes the machine's dpkg database.
    /// Use it for detection and simulation only, because the package files are not installed
    /// and `dpkg-query` still reads the machine's database.
    pub fn use_sandbox_status(&self, installed: &[(&str, &str)]) {
        let status = self.directory.path().join("status");
        let stanzas: Vec<String> = installed
            .iter()
            .map(|(name, version)| {
                format!(
                    "Package: {name}\nStatus: install ok installed\nPriority: optional\n\
                     Section: misc\nMaintainer: SysManage tests <tests@example.invalid>\n\
                     Architecture: all\nVersion: {version}\n\
                     Description: test package of the SysManage agent\n"
                )
            })
            .collect();
        std::fs::write(&status, stanzas.join("\n")).unwrap();
        let mut config = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.apt_config)
            .unwrap();
        writeln!(config, "Dir::State::status \"{}\";", status.display()).unwrap();
    }

    /// Returns an apt backend that uses only the sandbox repositories.
    pub fn apt(&self) -> Apt {
        Apt::new(AptSettings {
            update_lists: true,
            lock_timeout: Duration::from_mins(2),
            install_timeout: Duration::from_mins(5),
            apt_config: Some(self.apt_config.clone()),
        })
    }
}

/// Builds one package; `fields` are extra control lines, each ending in a newline.
fn build_deb(root: &Path, name: &str, version: &str, fields: &str) -> PathBuf {
    let tree = root.join("build").join(format!("{name}-{version}"));
    std::fs::create_dir_all(tree.join("DEBIAN")).unwrap();
    std::fs::write(
        tree.join("DEBIAN/control"),
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: all\n{fields}\
             Maintainer: SysManage tests <tests@example.invalid>\n\
             Description: test package of the SysManage agent\n"
        ),
    )
    .unwrap();
    let deb = root.join(format!("{name}_{version}_all.deb"));
    let output = Command::new("dpkg-deb")
        .args(["--build", "--root-owner-group"])
        .arg(&tree)
        .arg(&deb)
        .output()
        .unwrap();
    check(&output, "dpkg-deb --build");
    deb
}

fn write_repository(directory: &Path, label: &str, suite: &str) {
    let packages = Command::new("apt-ftparchive")
        .args(["packages", "."])
        .current_dir(directory)
        .output()
        .unwrap();
    check(&packages, "apt-ftparchive packages");
    std::fs::write(directory.join("Packages"), &packages.stdout).unwrap();

    let release = Command::new("apt-ftparchive")
        .arg("-o")
        .arg("APT::FTPArchive::Release::Origin=SysManageTest")
        .arg("-o")
        .arg(format!("APT::FTPArchive::Release::Label={label}"))
        .arg("-o")
        .arg(format!("APT::FTPArchive::Release::Suite={suite}"))
        .arg("-o")
        .arg(format!("APT::FTPArchive::Release::Codename={suite}"))
        .args(["release", "."])
        .current_dir(directory)
        .output()
        .unwrap();
    check(&release, "apt-ftparchive release");
    std::fs::write(directory.join("Release"), &release.stdout).unwrap();
}

/// Returns the installed version of a package according to `dpkg-query`.
pub fn installed_version(name: &str) -> Option<String> {
    let output = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}\t${Version}", name])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (status, version) = text.split_once('\t')?;
    status.ends_with(" installed").then(|| version.to_owned())
}
