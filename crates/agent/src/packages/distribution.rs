//! Which Linux distribution family this host belongs to, from `/etc/os-release`.
//!
//! A package manager binary on PATH does not make it the host's package manager: Debian ships
//! dnf, zypper and pacman as ordinary packages, and running them against a Debian system fails
//! or reports nothing useful. The native managers are chosen by the distribution's `ID` and
//! `ID_LIKE` instead.

use std::path::Path;

/// Path of the os-release file defined by systemd and read by every current distribution.
pub const OS_RELEASE_PATH: &str = "/etc/os-release";

/// The `ID` and `ID_LIKE` values of an os-release file, lower case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Distribution {
    ids: Vec<String>,
}

impl Distribution {
    /// Reads `/etc/os-release`. A missing or unreadable file gives a distribution that is like
    /// nothing, so that only cross-distribution managers are used.
    pub fn detect() -> Self {
        Self::read(Path::new(OS_RELEASE_PATH))
    }

    /// Reads an os-release file at `path`.
    pub fn read(path: &Path) -> Self {
        std::fs::read_to_string(path)
            .map(|text| Self::parse(&text))
            .unwrap_or_default()
    }

    /// Parses the `ID` and `ID_LIKE` lines of os-release text.
    pub fn parse(text: &str) -> Self {
        let mut ids = Vec::new();
        for line in text.lines() {
            let Some((key, value)) = line.trim().split_once('=') else {
                continue;
            };
            if matches!(key.trim(), "ID" | "ID_LIKE") {
                let value = value.trim().trim_matches(['"', '\'']);
                ids.extend(value.split_whitespace().map(str::to_ascii_lowercase));
            }
        }
        Self { ids }
    }

    /// Returns whether `ID` or `ID_LIKE` names any of `families`.
    pub fn is_like(&self, families: &[&str]) -> bool {
        self.ids.iter().any(|id| families.contains(&id.as_str()))
    }

    /// Debian, Ubuntu and their derivatives, which use apt.
    pub fn uses_apt(&self) -> bool {
        self.is_like(&["debian", "ubuntu"])
    }

    /// Fedora, RHEL, `CentOS`, Rocky, Alma and their derivatives, which use dnf or yum.
    pub fn uses_rpm_yum_dnf(&self) -> bool {
        self.is_like(&[
            "fedora",
            "rhel",
            "centos",
            "rocky",
            "almalinux",
            "ol",
            "amzn",
        ])
    }

    /// openSUSE and SLES, which use zypper.
    pub fn uses_zypper(&self) -> bool {
        self.is_like(&[
            "suse",
            "opensuse",
            "sles",
            "sled",
            "opensuse-leap",
            "opensuse-tumbleweed",
        ])
    }

    /// Arch Linux and its derivatives, which use pacman.
    pub fn uses_pacman(&self) -> bool {
        self.is_like(&["arch", "archlinux", "manjaro", "endeavouros"])
    }

    /// Alpine Linux, which uses apk.
    pub fn uses_apk(&self) -> bool {
        self.is_like(&["alpine"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_of_real_os_release_files() {
        let cases = [
            ("ID=debian\nVERSION_ID=\"12\"", "apt"),
            ("ID=ubuntu\nID_LIKE=debian", "apt"),
            ("ID=linuxmint\nID_LIKE=\"ubuntu debian\"", "apt"),
            ("ID=fedora\nVERSION_ID=41", "dnf"),
            ("ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"", "dnf"),
            ("ID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"", "zypper"),
            ("ID=\"sles\"\nID_LIKE=\"suse\"", "zypper"),
            ("ID=arch", "pacman"),
            ("ID=manjaro\nID_LIKE=arch", "pacman"),
            ("ID=alpine", "apk"),
        ];
        for (text, manager) in cases {
            let distribution = Distribution::parse(text);
            let found = [
                (distribution.uses_apt(), "apt"),
                (distribution.uses_rpm_yum_dnf(), "dnf"),
                (distribution.uses_zypper(), "zypper"),
                (distribution.uses_pacman(), "pacman"),
                (distribution.uses_apk(), "apk"),
            ];
            let matched: Vec<_> = found
                .iter()
                .filter(|(yes, _)| *yes)
                .map(|(_, m)| *m)
                .collect();
            assert_eq!(matched, [manager], "{text}");
        }
    }

    #[test]
    fn missing_file_is_like_nothing() {
        let distribution = Distribution::read(Path::new("/nonexistent/os-release"));
        assert!(!distribution.uses_apt());
        assert!(!distribution.uses_pacman());
    }
}
