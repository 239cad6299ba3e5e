//! Installs with `winget upgrade --id ID --exact --version VER`: argument building and exit
//! codes.
//!
//! Exit codes are HRESULTs from the winget return code list of winget-cli 1.7
//! (`doc/windows/package-manager/winget/returnCodes.md`).

use sysmanage_protocol::{
    PackageSpec, ValidationError, validate_manager, validate_package_name_for, validate_version_for,
};

use super::MANAGER;

/// Checks a package spec for winget.
pub fn validate_spec(spec: &PackageSpec) -> Result<(), ValidationError> {
    validate_manager(&spec.manager)?;
    if spec.manager != MANAGER {
        return Err(ValidationError {
            field: "manager",
            value: spec.manager.clone(),
            reason: "is not winget",
        });
    }
    validate_package_name_for(&spec.manager, &spec.name)?;
    validate_version_for(&spec.manager, &spec.version)
}

/// Builds the winget arguments that upgrade one package to exactly the approved version.
pub fn upgrade_arguments(spec: &PackageSpec) -> Result<Vec<String>, ValidationError> {
    validate_spec(spec)?;
    Ok([
        "upgrade",
        "--id",
        &spec.name,
        "--exact",
        "--version",
        &spec.version,
        "--silent",
        "--accept-package-agreements",
        "--accept-source-agreements",
        "--disable-interactivity",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect())
}

/// Meaning of a winget exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitMeaning {
    Success,
    /// The install succeeded, and the host must reboot to finish it.
    SuccessRebootRequired,
    /// Another installation is in progress: wait and retry.
    Busy,
    Failed(String),
}

/// Decodes a winget exit code, which Windows reports as a signed 32-bit HRESULT.
pub fn decode_exit_code(code: i32) -> ExitMeaning {
    #[allow(clippy::cast_sign_loss)]
    let hresult = code as u32;
    let failed = |text: &str| ExitMeaning::Failed(format!("{text} (0x{hresult:08X})"));
    match hresult {
        0 => ExitMeaning::Success,
        // APPINSTALLER_CLI_ERROR_INSTALL_REBOOT_REQUIRED_TO_FINISH, ..._FOR_INSTALL and
        // ..._REBOOT_INITIATED.
        0x8A15_0109..=0x8A15_010B => ExitMeaning::SuccessRebootRequired,
        // APPINSTALLER_CLI_ERROR_INSTALL_INSTALL_IN_PROGRESS.
        0x8A15_0102 => ExitMeaning::Busy,
        0x8A15_002B => failed("no applicable update found for this version"),
        0x8A15_0010 => failed("no installer of this package fits this system"),
        0x8A15_0011 => failed("the installer's hash does not match the manifest"),
        0x8A15_0014 => failed("no installed package matches the id"),
        0x8A15_0008 => failed("the installer download failed"),
        0x8A15_0101 => failed("the application is in use; close it and retry"),
        0x8A15_0103 => failed("a file the installer needs is in use"),
        0x8A15_0104 => failed("a dependency of the installer is missing"),
        0x8A15_0105 => failed("the disk is full"),
        0x8A15_0107 => failed("the installer needs a network connection"),
        0x8A15_010C => failed("the installation was cancelled"),
        0x8A15_010E => failed("a newer version is already installed"),
        0x8A15_010F => failed("the installation is blocked by policy"),
        0x8A15_0005 => failed("winget was interrupted"),
        _ => failed("winget failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, version: &str) -> PackageSpec {
        PackageSpec {
            manager: MANAGER.into(),
            name: name.into(),
            version: version.into(),
        }
    }

    #[test]
    fn upgrade_argv() {
        assert_eq!(
            upgrade_arguments(&spec("Git.Git", "2.43.0")).unwrap(),
            [
                "upgrade",
                "--id",
                "Git.Git",
                "--exact",
                "--version",
                "2.43.0",
                "--silent",
                "--accept-package-agreements",
                "--accept-source-agreements",
                "--disable-interactivity",
            ]
        );
    }

    #[test]
    fn id_with_spaces_is_one_argument() {
        let arguments = upgrade_arguments(&spec("Mozilla Firefox", "120.0")).unwrap();
        assert_eq!(arguments[..3], ["upgrade", "--id", "Mozilla Firefox"]);
        assert_eq!(arguments.len(), 10);
    }

    #[test]
    fn truncated_and_option_ids_rejected() {
        for name in [
            "Microsoft.VisualStudio.2022…",
            "--all",
            "Git;Git",
            " Git.Git",
        ] {
            assert!(upgrade_arguments(&spec(name, "1.0")).is_err(), "{name}");
        }
    }

    #[test]
    fn exit_codes() {
        let as_code = |hresult: u32| hresult as i32;
        assert_eq!(decode_exit_code(0), ExitMeaning::Success);
        assert_eq!(
            decode_exit_code(as_code(0x8A15_0109)),
            ExitMeaning::SuccessRebootRequired
        );
        assert_eq!(decode_exit_code(as_code(0x8A15_0102)), ExitMeaning::Busy);
        // -1978335189 is how Windows reports 0x8A15002B.
        assert_eq!(as_code(0x8A15_002B), -1_978_335_189);
        let cases = [
            (0x8A15_002B, "no applicable update"),
            (0x8A15_0010, "no installer"),
            (0x8A15_0011, "hash"),
            (0x8A15_0001, "0x8A150001"),
        ];
        for (hresult, text) in cases {
            match decode_exit_code(as_code(hresult)) {
                ExitMeaning::Failed(message) => assert!(message.contains(text), "{message}"),
                other => panic!("0x{hresult:08X}: {other:?}"),
            }
        }
    }
}
