//! A throwaway RPM world for the dnf and zypper tests: tiny no-arch packages built with
//! `rpmbuild`, a local repository made with `createrepo_c` with an updateinfo.xml injected by
//! `modifyrepo_c`, and an install root with its own RPM database. Nothing outside the temporary
//! directory is written. Needs `rpm` (with rpmbuild) and `createrepo-c`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

/// The security advisory that the repository carries: it makes `smtest-secure` 2.0-1 a security
/// update of severity Important.
pub const ADVISORY_ID: &str = "SMTEST-2026-0001";

/// A package version to build.
pub struct PackageVersion<'a> {
    pub name: &'a str,
    pub version: &'a str,
}

/// Runs a program and panics with its output when it fails.
pub fn run(program: &str, args: &[&str]) -> Output {
    let output = Command::new(program)
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .unwrap_or_else(|error| {
            panic!("{program}: {error} (install rpm and createrepo-c: .ci/debian-packages.txt)")
        });
    assert!(
        output.status.success(),
        "{program} {args:?} failed with {}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Temporary directory with built packages, a repository and an install root.
pub struct RpmWorld {
    pub directory: tempfile::TempDir,
}

impl RpmWorld {
    /// Builds `packages` into a repository with the updateinfo of [`ADVISORY_ID`], and an empty
    /// install root with an initialised RPM database.
    pub fn new(packages: &[PackageVersion<'_>]) -> Self {
        let world = Self {
            directory: tempfile::tempdir().expect("temporary directory"),
        };
        std::fs::create_dir_all(world.repository()).unwrap();
        std::fs::create_dir_all(world.root()).unwrap();
        for package in packages {
            world.build(package);
        }
        run("createrepo_c", &[world.repository().to_str().unwrap()]);
        let updateinfo = world.path().join("updateinfo.xml");
        std::fs::write(&updateinfo, UPDATEINFO).unwrap();
        run(
            "modifyrepo_c",
            &[
                "--mdtype=updateinfo",
                updateinfo.to_str().unwrap(),
                world.repository().join("repodata").to_str().unwrap(),
            ],
        );
        run(
            "rpm",
            &["--root", world.root().to_str().unwrap(), "--initdb"],
        );
        world
    }

    pub fn path(&self) -> &Path {
        self.directory.path()
    }

    /// Directory of the repository, `file://` URL source.
    pub fn repository(&self) -> PathBuf {
        self.path().join("repository")
    }

    /// The install root.
    pub fn root(&self) -> PathBuf {
        self.path().join("root")
    }

    fn rpm_file(&self, name: &str, version: &str) -> PathBuf {
        self.repository()
            .join(format!("{name}-{version}-1.noarch.rpm"))
    }

    fn build(&self, package: &PackageVersion<'_>) {
        let spec = self
            .path()
            .join(format!("{}-{}.spec", package.name, package.version));
        std::fs::write(
            &spec,
            format!(
                "Name: {name}\nVersion: {version}\nRelease: 1\nSummary: SysManage test package\n\
                 License: MIT\nBuildArch: noarch\n\n%description\nTest package.\n\n\
                 %install\nmkdir -p %{{buildroot}}/usr/share/smtest\n\
                 echo {version} > %{{buildroot}}/usr/share/smtest/{name}\n\n\
                 %files\n/usr/share/smtest/{name}\n",
                name = package.name,
                version = package.version,
            ),
        )
        .unwrap();
        let topdir = self.path().join("rpmbuild");
        run(
            "rpmbuild",
            &[
                "--define",
                &format!("_topdir {}", topdir.display()),
                "--quiet",
                "-bb",
                spec.to_str().unwrap(),
            ],
        );
        let built = topdir
            .join("RPMS/noarch")
            .join(format!("{}-{}-1.noarch.rpm", package.name, package.version));
        std::fs::copy(&built, self.rpm_file(package.name, package.version)).unwrap();
    }

    /// Installs a built package into the root with `rpm --root`, bypassing dnf and zypper.
    pub fn rpm_install(&self, name: &str, version: &str) {
        run(
            "rpm",
            &[
                "--root",
                self.root().to_str().unwrap(),
                "-i",
                "--nodeps",
                self.rpm_file(name, version).to_str().unwrap(),
            ],
        );
    }

    /// Returns the installed `version-release` of `name` in the root, `None` when not installed.
    pub fn installed_version(&self, name: &str) -> Option<String> {
        let output = Command::new("rpm")
            .args([
                "--root",
                self.root().to_str().unwrap(),
                "-q",
                "--queryformat",
                "%{VERSION}-%{RELEASE}",
                name,
            ])
            .output()
            .unwrap();
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

/// A process that stands in for another package manager holding a lock; killed when dropped.
pub struct LockHolder {
    pub child: Child,
}

impl LockHolder {
    pub fn start() -> Self {
        Self {
            child: Command::new("sleep").arg("600").spawn().unwrap(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const UPDATEINFO: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="security@sysmanage.invalid" status="stable" type="security" version="1">
    <id>SMTEST-2026-0001</id>
    <title>smtest-secure security update</title>
    <severity>Important</severity>
    <release>SysManage test</release>
    <issued date="2026-01-15 00:00:00"/>
    <description>Fixes a test vulnerability.</description>
    <references>
      <reference href="https://example.invalid/CVE-2026-0001" id="CVE-2026-0001" type="cve" title="CVE-2026-0001"/>
    </references>
    <pkglist>
      <collection short="smtest">
        <name>SysManage test</name>
        <package name="smtest-secure" version="2.0" release="1" epoch="0" arch="noarch" src="smtest-secure-2.0-1.src.rpm">
          <filename>smtest-secure-2.0-1.noarch.rpm</filename>
        </package>
      </collection>
    </pkglist>
  </update>
</updates>
"#;
