//! Installs with `choco upgrade NAME --version VER`: argument building and exit codes.

use sysmanage_protocol::{
    PackageSpec, ValidationError, validate_manager, validate_package_name_for, validate_version_for,
};

use super::MANAGER;

/// Checks a package spec for Chocolatey.
pub fn validate_spec(spec: &PackageSpec) -> Result<(), ValidationError> {
    validate_manager(&spec.manager)?;
    if spec.manager != MANAGER {
        return Err(ValidationError {
            field: "manager",
            value: spec.manager.clone(),
            reason: "is not chocolatey",
        });
    }
    validate_package_name_for(&spec.manager, &spec.name)?;
    validate_version_for(&spec.manager, &spec.version)
}

/// Builds the choco arguments that upgrade one package to exactly the approved version.
pub fn upgrade_arguments(spec: &PackageSpec) -> Result<Vec<String>, ValidationError> {
    validate_spec(spec)?;
    Ok([
        "upgrade",
        &spec.name,
        "--version",
        &spec.version,
        "-y",
        "--no-progress",
        "--limit-output",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect())
}

/// Builds the choco arguments that upgrade every package that is not pinned.
pub fn upgrade_all_arguments() -> Vec<String> {
    ["upgrade", "all", "-y", "--no-progress", "--limit-output"]
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// Meaning of a choco exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitMeaning {
    Success,
    /// 3010 (`ERROR_SUCCESS_REBOOT_REQUIRED`) or 1641 (`ERROR_SUCCESS_REBOOT_INITIATED`).
    SuccessRebootRequired,
    /// 1618 (`ERROR_INSTALL_ALREADY_RUNNING`): another MSI installation is in progress.
    Busy,
    Failed(String),
}

/// Exit code of Windows Installer when another installation holds the MSI mutex.
pub const ERROR_INSTALL_ALREADY_RUNNING: i32 = 1618;

/// Decodes a choco exit code (Chocolatey CLI 2.2 with the default `usePackageExitCodes`).
pub fn decode_exit_code(code: i32) -> ExitMeaning {
    match code {
        0 => ExitMeaning::Success,
        3010 | 1641 => ExitMeaning::SuccessRebootRequired,
        ERROR_INSTALL_ALREADY_RUNNING => ExitMeaning::Busy,
        1 | -1 => ExitMeaning::Failed(format!("choco failed with exit code {code}")),
        other => ExitMeaning::Failed(format!(
            "the package installer failed with exit code {other}"
        )),
    }
}

/// Returns who holds the lock when choco's output says that another process does: the
/// `NuGet` package lock ("Unable to obtain lock file access on ...") or an MSI installation already
/// in progress (exit code 1618, "Another installation is already in progress").
pub fn lock_holder(output: &str) -> Option<String> {
    output.lines().map(str::trim).find_map(|line| {
        if line.contains("Unable to obtain lock file access on") {
            Some("another Chocolatey process (package lock file)".to_owned())
        } else if line.contains("Another installation is already in progress")
            || line.contains("Exit code was '1618'")
        {
            Some("another Windows Installer (MSI) installation".to_owned())
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_argv() {
        let spec = PackageSpec {
            manager: MANAGER.into(),
            name: "git".into(),
            version: "2.43.0".into(),
        };
        assert_eq!(
            upgrade_arguments(&spec).unwrap(),
            [
                "upgrade",
                "git",
                "--version",
                "2.43.0",
                "-y",
                "--no-progress",
                "--limit-output"
            ]
        );
        assert_eq!(
            upgrade_all_arguments(),
            ["upgrade", "all", "-y", "--no-progress", "--limit-output"]
        );
    }

    #[test]
    fn option_names_rejected() {
        let spec = PackageSpec {
            manager: MANAGER.into(),
            name: "--force".into(),
            version: "1".into(),
        };
        assert!(upgrade_arguments(&spec).is_err());
    }

    #[test]
    fn exit_codes() {
        assert_eq!(decode_exit_code(0), ExitMeaning::Success);
        assert_eq!(decode_exit_code(3010), ExitMeaning::SuccessRebootRequired);
        assert_eq!(decode_exit_code(1641), ExitMeaning::SuccessRebootRequired);
        assert_eq!(decode_exit_code(1618), ExitMeaning::Busy);
        for code in [1, -1, 1603] {
            assert!(
                matches!(decode_exit_code(code), ExitMeaning::Failed(_)),
                "{code}"
            );
        }
    }

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/chocolatey/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[test]
    fn lock_messages_are_busy() {
        assert_eq!(
            lock_holder(&fixture("locked.txt")).as_deref(),
            Some("another Chocolatey process (package lock file)")
        );
        assert_eq!(
            lock_holder(&fixture("msi-in-progress.txt")).as_deref(),
            Some("another Windows Installer (MSI) installation")
        );
        assert_eq!(lock_holder(&fixture("outdated.txt")), None);
        assert_eq!(lock_holder(&fixture("error.txt")), None);
    }
}
