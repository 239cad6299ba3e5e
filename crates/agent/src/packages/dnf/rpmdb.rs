//! Installed package versions from the RPM database, read with `rpm -q --queryformat`.
//!
//! dnf, yum and zypper all install into the same database, so all three backends read installed
//! versions here: before detection, for the versions an update replaces, and after an install,
//! for the versions it left.

use std::cmp::Ordering;
use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::ParseError;
use crate::packages::ScanError;
use crate::packages::command::{self, describe};
use crate::packages::version::rpm::Evr;

/// Query format: name, epoch (`(none)` when unset), version, release and architecture.
pub const QUERY_FORMAT: &str = "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\n";

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledPackage {
    pub name: String,
    pub architecture: String,
    pub evr: Evr,
}

/// Builds the arguments of `rpm` that query the installed versions of `names`.
pub fn query_arguments(root: Option<&Path>, names: &[&str]) -> Vec<OsString> {
    let mut arguments: Vec<OsString> = Vec::new();
    if let Some(root) = root {
        arguments.push("--root".into());
        arguments.push(root.into());
    }
    arguments.push("-q".into());
    arguments.push("--queryformat".into());
    arguments.push(QUERY_FORMAT.into());
    arguments.push("--".into());
    arguments.extend(names.iter().map(OsString::from));
    arguments
}

/// Runs `rpm -q` for `names` in `root` and returns the installed packages; none for an empty
/// list.
pub fn query(
    root: Option<&Path>,
    names: &[&str],
    timeout: Duration,
) -> Result<Vec<InstalledPackage>, ScanError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut command = Command::new("rpm");
    command
        .env("LC_ALL", "C")
        .env_remove("LANGUAGE")
        .args(query_arguments(root, names));
    let description = describe(&command);
    let output = command::run(command, timeout)?;
    // rpm exits with the number of packages that are not installed and says so on stdout, so
    // only a run without any output line failed as a whole (an unreadable database).
    if output.stdout.trim().is_empty() && !output.status.success() {
        return Err(ScanError::CommandFailed {
            command: description,
            status: output.status.to_string(),
            output_tail: output.output_tail,
        });
    }
    parse_installed(&output.stdout).map_err(|error| ScanError::Parse {
        command: description,
        reason: error.to_string(),
    })
}

/// Parses the output of the query; `package NAME is not installed` lines are skipped.
pub fn parse_installed(output: &str) -> Result<Vec<InstalledPackage>, ParseError> {
    let mut packages = Vec::new();
    for (index, line) in output.lines().enumerate() {
        if line.is_empty() || (line.starts_with("package ") && line.ends_with(" is not installed"))
        {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, epoch, version, release, architecture] = fields.as_slice() else {
            return Err(ParseError::UnrecognisedLine {
                number: index + 1,
                line: line.to_owned(),
            });
        };
        packages.push(InstalledPackage {
            name: (*name).to_owned(),
            architecture: (*architecture).to_owned(),
            evr: Evr {
                epoch: (*epoch != "(none)").then(|| (*epoch).to_owned()),
                version: (*version).to_owned(),
                release: Some((*release).to_owned()),
            },
        });
    }
    Ok(packages)
}

/// Returns the newest installed version of `name` for `architecture` (any architecture when
/// `None`). Several versions are installed at once for kernels and other install-only packages.
pub fn newest<'a>(
    installed: &'a [InstalledPackage],
    name: &str,
    architecture: Option<&str>,
) -> Option<&'a InstalledPackage> {
    installed
        .iter()
        .filter(|package| package.name == name)
        .filter(|package| {
            architecture.is_none_or(|architecture| package.architecture == architecture)
        })
        .max_by(|left, right| left.evr.compare(&right.evr))
}

/// Returns the installed version of `name` equal to `requested`, else the newest one.
pub fn matching_or_newest<'a>(
    installed: &'a [InstalledPackage],
    name: &str,
    architecture: Option<&str>,
    requested: &Evr,
) -> Option<&'a InstalledPackage> {
    installed
        .iter()
        .filter(|package| package.name == name)
        .filter(|package| {
            architecture.is_none_or(|architecture| package.architecture == architecture)
        })
        .find(|package| package.evr.compare(requested) == Ordering::Equal)
        .or_else(|| newest(installed, name, architecture))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_epochs_and_missing_packages() {
        let output = "kernel-core\t(none)\t5.14.0\t362.8.1.el9_3\tx86_64\n\
                      kernel-core\t(none)\t5.14.0\t427.13.1.el9_4\tx86_64\n\
                      openssl-libs\t1\t3.0.7\t27.el9\tx86_64\n\
                      package nosuch is not installed\n";
        let installed = parse_installed(output).unwrap();
        assert_eq!(installed.len(), 3);
        assert_eq!(installed[2].evr.to_string(), "1:3.0.7-27.el9");
        let kernel = newest(&installed, "kernel-core", Some("x86_64")).unwrap();
        assert_eq!(kernel.evr.to_string(), "5.14.0-427.13.1.el9_4");
        assert!(newest(&installed, "kernel-core", Some("i686")).is_none());
        let requested = Evr::parse("5.14.0-362.8.1.el9_3");
        let matching = matching_or_newest(&installed, "kernel-core", None, &requested).unwrap();
        assert_eq!(matching.evr.release.as_deref(), Some("362.8.1.el9_3"));
    }

    #[test]
    fn rejects_other_lines() {
        assert!(parse_installed("error: rpmdb open failed\n").is_err());
    }

    #[test]
    fn arguments_with_root() {
        let arguments = query_arguments(Some(Path::new("/tmp/root")), &["a", "b"]);
        assert_eq!(arguments[0], "--root");
        assert_eq!(arguments[1], "/tmp/root");
        assert_eq!(arguments.last().unwrap(), "b");
    }
}
