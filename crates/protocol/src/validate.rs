//! Checks on package managers, names and versions that both sides apply before using them.
//!
//! The server rejects an install request that fails them with a 422 naming the field, and the
//! agent checks again before it passes a value to a package manager as a separate argument.

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

fn check(
    field: &'static str,
    value: &str,
    allowed: impl Fn(char) -> bool,
    allowed_description: &'static str,
) -> Result<(), ValidationError> {
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
    if !value.chars().all(allowed) {
        return Err(error(allowed_description));
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

/// Checks a package name: letters, digits and `. _ + - : @ /`, not starting with `-`.
///
/// The set covers Debian names with an architecture qualifier (`libc6:amd64`), RPM, Arch and
/// Homebrew names (`user/tap/formula`) and Windows Update ids.
pub fn validate_package_name(name: &str) -> Result<(), ValidationError> {
    check(
        "package name",
        name,
        |c| c.is_ascii_alphanumeric() || "._+-:@/".contains(c),
        "may contain only letters, digits and . _ + - : @ /",
    )
}

/// Checks a version: letters, digits and `. _ + - : ~ ,`, not starting with `-`.
///
/// The set covers Debian versions with epoch and tilde (`1:2.3~rc1-1`), RPM and pacman versions.
pub fn validate_version(version: &str) -> Result<(), ValidationError> {
    check(
        "version",
        version,
        |c| c.is_ascii_alphanumeric() || "._+-:~,".contains(c),
        "may contain only letters, digits and . _ + - : ~ ,",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_names_and_versions() {
        for name in [
            "openssl",
            "libc6:amd64",
            "g++-12",
            "python3.11",
            "homebrew/cask/firefox",
        ] {
            assert_eq!(validate_package_name(name), Ok(()), "{name}");
        }
        for version in [
            "1:2.3~rc1-1",
            "3.0.11-1~deb12u2",
            "2.38-4.fc39",
            "1.2.3_1,1",
        ] {
            assert_eq!(validate_version(version), Ok(()), "{version}");
        }
    }

    #[test]
    fn rejects_options_and_shell_text() {
        for name in [
            "",
            "-oDir::Etc=/tmp",
            "pkg name",
            "a;rm -rf /",
            "$(id)",
            "pkg\n",
        ] {
            assert!(validate_package_name(name).is_err(), "{name:?}");
        }
        for version in ["", "--force", "1.0 2.0", "1.0`id`", "1/2"] {
            assert!(validate_version(version).is_err(), "{version:?}");
        }
    }

    #[test]
    fn error_names_field_and_value() {
        let error = validate_version("1 0").unwrap_err();
        assert_eq!(error.field, "version");
        assert!(error.to_string().contains("\"1 0\""), "{error}");
    }

    #[test]
    fn unknown_manager_rejected() {
        assert!(validate_manager("apt").is_ok());
        assert!(validate_manager("npm").is_err());
    }
}
