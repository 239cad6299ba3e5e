//! Checks on package managers, names and versions that both sides apply before using them.
//!
//! The server rejects an install request that fails them with a 422 naming the field, and the
//! agent checks again before it passes a value to a package manager as a separate argument,
//! never through a shell. Each manager has its own character set, because real ids differ:
//! winget has local ids such as `ARP\Machine\X64\{GUID}` and ids with spaces, and
//! softwareupdate labels and versions contain spaces and brackets. Every manager rejects empty
//! values, values longer than 256 bytes, a leading `-`, control characters and leading or
//! trailing spaces.

use crate::PackageSpec;

/// Package managers the protocol knows about.
pub const MANAGERS: &[&str] = &[
    "apt",
    "snap",
    "flatpak",
    "dnf",
    "yum",
    "zypper",
    "pacman",
    "apk",
    "softwareupdate",
    "brew",
    "windows_update",
    "winget",
    "chocolatey",
    "pkg",
    "freebsd_update",
    "syspatch",
    "pkg_add",
];

const MAX_LEN: usize = 256;

/// A value that failed validation, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field} {value:?}: {reason}")]
pub struct ValidationError {
    pub field: &'static str,
    pub value: String,
    pub reason: &'static str,
}

/// Characters a name or version may contain: ASCII letters and digits, `punctuation`, and
/// inner spaces when `spaces` is set.
#[derive(Debug, Clone, Copy)]
struct Charset {
    punctuation: &'static str,
    spaces: bool,
    /// The error reason that lists the allowed characters.
    description: &'static str,
}

impl Charset {
    fn allows(self, character: char) -> bool {
        character.is_ascii_alphanumeric()
            || self.punctuation.contains(character)
            || (self.spaces && character == ' ')
    }
}

/// Names of Debian (`libc6:amd64`), RPM, Arch, Alpine, snap, flatpak refs
/// (`org.gnome.Maps/x86_64/stable`), Homebrew (`user/tap/formula`, `openssl@3`), Chocolatey,
/// FreeBSD and OpenBSD packages, and Windows Update ids.
const DEFAULT_NAMES: Charset = Charset {
    punctuation: "._+-:@/",
    spaces: false,
    description: "may contain only letters, digits and . _ + - : @ /",
};

/// winget ids: source ids such as `Notepad++.Notepad++` and the local ids winget gives software
/// that no source provides, such as `ARP\Machine\X64\{GUID}`,
/// `ARP\Machine\X64\Mozilla Firefox 120.0 (x64 en-US)` (the Add/Remove Programs key of an
/// installer that is not an MSI) and
/// `MSIX\Microsoft.AV1VideoExtension_2.0.24.0_x64__8wekyb3d8bbwe`.
const WINGET_NAMES: Charset = Charset {
    punctuation: "._+-\\{}(),",
    spaces: true,
    description: "may contain only letters, digits, inner spaces and . _ + - \\ { } ( ) ,",
};

/// softwareupdate labels, such as `macOS Sonoma 14.2-23C64` and
/// `Security Update 2023-006 (Monterey)-12.7.1`.
const SOFTWAREUPDATE_NAMES: Charset = Charset {
    punctuation: "._+-(),",
    spaces: true,
    description: "may contain only letters, digits, inner spaces and . _ + - ( ) ,",
};

/// Debian versions with epoch and tilde (`1:2.3~rc1-1`), RPM, pacman, apk, Homebrew cask
/// (`2023.1,231.8109.175`) and FreeBSD (`1.2.3_1,1`) versions.
const DEFAULT_VERSIONS: Charset = Charset {
    punctuation: "._+-:~,",
    spaces: false,
    description: "may contain only letters, digits and . _ + - : ~ ,",
};

/// softwareupdate versions, such as the Rapid Security Response `13.6.1 (a)`.
const SOFTWAREUPDATE_VERSIONS: Charset = Charset {
    punctuation: "._+-(),",
    spaces: true,
    description: "may contain only letters, digits, inner spaces and . _ + - ( ) ,",
};

fn name_charset(manager: &str) -> Charset {
    match manager {
        "winget" => WINGET_NAMES,
        "softwareupdate" => SOFTWAREUPDATE_NAMES,
        _ => DEFAULT_NAMES,
    }
}

fn version_charset(manager: &str) -> Charset {
    match manager {
        "softwareupdate" => SOFTWAREUPDATE_VERSIONS,
        _ => DEFAULT_VERSIONS,
    }
}

fn check(field: &'static str, value: &str, charset: Charset) -> Result<(), ValidationError> {
    let error = |reason| ValidationError {
        field,
        value: value.chars().take(MAX_LEN).collect(),
        reason,
    };
    if value.is_empty() {
        return Err(error("must not be empty"));
    }
    if value.len() > MAX_LEN {
        return Err(error("must be at most 256 bytes long"));
    }
    if value.starts_with('-') {
        return Err(error(
            "must not start with '-', which a package manager reads as an option",
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(error(
            "must not contain control characters such as newlines, tabs or NUL",
        ));
    }
    if value.starts_with(char::is_whitespace) || value.ends_with(char::is_whitespace) {
        return Err(error("must not start or end with a space"));
    }
    if !value.chars().all(|character| charset.allows(character)) {
        return Err(error(charset.description));
    }
    Ok(())
}

/// Checks that `manager` is one of [`MANAGERS`].
pub fn validate_manager(manager: &str) -> Result<(), ValidationError> {
    if MANAGERS.contains(&manager) {
        Ok(())
    } else {
        Err(ValidationError {
            field: "manager",
            value: manager.chars().take(MAX_LEN).collect(),
            reason: "is not a known package manager (apt, dnf, zypper, pacman, ...)",
        })
    }
}

/// Checks a package name of `manager` with that manager's character set.
///
/// # Errors
/// The field is `manager` when the manager is unknown, else `package name`.
pub fn validate_package_name_for(manager: &str, name: &str) -> Result<(), ValidationError> {
    validate_manager(manager)?;
    check("package name", name, name_charset(manager))
}

/// Checks a version of `manager` with that manager's character set.
///
/// # Errors
/// The field is `manager` when the manager is unknown, else `version`.
pub fn validate_version_for(manager: &str, version: &str) -> Result<(), ValidationError> {
    validate_manager(manager)?;
    check("version", version, version_charset(manager))
}

/// Checks a package name that some manager accepts, for searches that name no manager.
pub fn validate_package_name_any(name: &str) -> Result<(), ValidationError> {
    if MANAGERS
        .iter()
        .any(|manager| validate_package_name_for(manager, name).is_ok())
    {
        return Ok(());
    }
    // apt uses the default set, which rejected the name, so this reports that set's error.
    check("package name", name, DEFAULT_NAMES)
}

/// Checks the manager, name and version of a spec, in that order.
pub fn validate_package_spec(spec: &PackageSpec) -> Result<(), ValidationError> {
    validate_manager(&spec.manager)?;
    validate_package_name_for(&spec.manager, &spec.name)?;
    validate_version_for(&spec.manager, &spec.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_names_per_manager() {
        let cases = [
            ("apt", "libc6:amd64"),
            ("apt", "g++-12"),
            ("dnf", "python3.11"),
            ("dnf", "glibc.i686"),
            ("zypper", "patch:openSUSE-SLE-15.5-2024-1234"),
            ("pacman", "lib32-glibc"),
            ("flatpak", "org.gnome.Maps/x86_64/stable"),
            ("brew", "homebrew/cask/firefox"),
            ("brew", "openssl@3"),
            ("windows_update", "8a1e2b3c-4d5e-6f70-8192-a3b4c5d6e7f8"),
            ("winget", "Git.Git"),
            ("winget", "Notepad++.Notepad++"),
            (
                "winget",
                r"ARP\Machine\X64\{8BD2A40D-67A6-45F5-877D-6D9D04C9D5A2}",
            ),
            ("winget", r"ARP\Machine\X86\ILST_30_2_1"),
            (
                "winget",
                r"ARP\Machine\X64\Mozilla Firefox 120.0 (x64 en-US)",
            ),
            ("winget", "Mozilla Firefox"),
            (
                "winget",
                r"MSIX\Microsoft.AV1VideoExtension_2.0.24.0_x64__8wekyb3d8bbwe",
            ),
            ("softwareupdate", "macOS Sonoma 14.2-23C64"),
            (
                "softwareupdate",
                "Security Update 2023-006 (Monterey)-12.7.1",
            ),
            (
                "softwareupdate",
                "Background Security Improvement 13.6.1 (a)",
            ),
            ("softwareupdate", "Safari17.1VenturaAuto-17.1"),
        ];
        for (manager, name) in cases {
            assert_eq!(
                validate_package_name_for(manager, name),
                Ok(()),
                "{manager} {name}"
            );
            assert_eq!(validate_package_name_any(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn accepts_real_versions_per_manager() {
        let cases = [
            ("apt", "1:2.3~rc1-1"),
            ("apt", "3.0.11-1~deb12u2"),
            ("dnf", "2.38-4.fc39"),
            ("pkg", "1.2.3_1,1"),
            ("brew", "2023.1,231.8109.175"),
            ("winget", "17.8.0"),
            ("softwareupdate", "14.2"),
            ("softwareupdate", "13.6.1 (a)"),
        ];
        for (manager, version) in cases {
            assert_eq!(
                validate_version_for(manager, version),
                Ok(()),
                "{manager} {version}"
            );
        }
    }

    #[test]
    fn wider_sets_stay_with_their_manager() {
        let winget_id = r"ARP\Machine\X64\{8BD2A40D-67A6-45F5-877D-6D9D04C9D5A2}";
        assert!(validate_package_name_for("apt", winget_id).is_err());
        assert!(validate_package_name_for("softwareupdate", winget_id).is_err());
        assert!(validate_package_name_for("apt", "macOS Sonoma 14.2-23C64").is_err());
        assert!(validate_package_name_for("apt", "Mozilla Firefox").is_err());
        assert!(validate_package_name_for("winget", "Contoso Tools [beta]").is_err());
        assert!(validate_version_for("dnf", "13.6.1 (a)").is_err());
        assert!(validate_version_for("winget", "13.6.1 (a)").is_err());
    }

    #[test]
    fn rejects_options_and_shell_text_for_every_manager() {
        let names = [
            "",
            "-oDir::Etc=/tmp",
            "--all",
            "a;rm -rf /",
            "$(id)",
            "`id`",
            "pkg\n",
            "pkg\nname",
            "pkg\0",
            "pkg\tname",
            " leading",
            "trailing ",
            "quote\"d",
            "Microsoft.VisualStudio.2022\u{2026}",
        ];
        let too_long = "a".repeat(MAX_LEN + 1);
        for manager in MANAGERS {
            for name in names.iter().copied().chain([too_long.as_str()]) {
                assert!(
                    validate_package_name_for(manager, name).is_err(),
                    "{manager} {name:?}"
                );
                assert!(
                    validate_version_for(manager, name).is_err(),
                    "{manager} {name:?}"
                );
            }
        }
        for name in names {
            assert!(validate_package_name_any(name).is_err(), "{name:?}");
        }
        for version in ["1.0 2.0", "1/2"] {
            assert!(validate_version_for("apt", version).is_err(), "{version:?}");
        }
    }

    #[test]
    fn error_names_field_and_value() {
        let error = validate_version_for("apt", "1 0").unwrap_err();
        assert_eq!(error.field, "version");
        assert!(error.to_string().contains("\"1 0\""), "{error}");
        let error = validate_package_name_for("softwareupdate", "macOS\n14").unwrap_err();
        assert_eq!(error.field, "package name");
        assert!(error.reason.contains("control characters"), "{error}");
    }

    #[test]
    fn unknown_manager_rejected() {
        assert!(validate_manager("apt").is_ok());
        assert!(validate_manager("npm").is_err());
        let error = validate_package_name_for("npm", "left-pad").unwrap_err();
        assert_eq!(error.field, "manager");
        let error = validate_version_for("npm", "1.0").unwrap_err();
        assert_eq!(error.field, "manager");
    }

    #[test]
    fn spec_checked_in_order() {
        let spec = |manager: &str, name: &str, version: &str| PackageSpec {
            manager: manager.into(),
            name: name.into(),
            version: version.into(),
        };
        assert_eq!(
            validate_package_spec(&spec("softwareupdate", "macOS Sonoma 14.2-23C64", "14.2")),
            Ok(())
        );
        let field = |spec: &PackageSpec| validate_package_spec(spec).unwrap_err().field;
        assert_eq!(field(&spec("npm", "-x", "-x")), "manager");
        assert_eq!(field(&spec("apt", "-x", "-x")), "package name");
        assert_eq!(field(&spec("apt", "curl", "-x")), "version");
    }
}
