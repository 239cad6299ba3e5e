//! Installs with `choco upgrade NAME --version VER`: argument building and exit codes.

use sysmanage_protocol::{
    PackageSpec, ValidationError, validate_manager, validate_package_name, validate_version,
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
    validate_package_name(&spec.name)?;
    validate_version(&spec.version)
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
    Failed(String),
}

/// Decodes a choco exit code (Chocolatey CLI 2.2 with the default `usePackageExitCodes`).
pub fn decode_exit_code(code: i32) -> ExitMeaning {
    match code {
        0 => ExitMeaning::Success,
        3010 | 1641 => ExitMeaning::SuccessRebootRequired,
        1 | -1 => ExitMeaning::Failed(format!("choco failed with exit code {code}")),
        other => ExitMeaning::Failed(format!(
            "the package installer failed with exit code {other}"
        )),
    }
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
        for code in [1, -1, 1603] {
            assert!(
                matches!(decode_exit_code(code), ExitMeaning::Failed(_)),
                "{code}"
            );
        }
    }
}
