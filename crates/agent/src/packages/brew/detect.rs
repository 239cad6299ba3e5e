//! Parser for `brew outdated --json=v2` and Homebrew's lock messages, written against
//! Homebrew 4.x on macOS 13 and 14.
//!
//! The JSON has two arrays. A formula is `{name, installed_versions, current_version, pinned,
//! pinned_version}`; a cask is `{name, installed_versions, current_version}`. A renamed formula
//! whose alias changed reports its current version as `newname (1.2.3)`, and a HEAD install
//! `latest HEAD`.

use serde::Deserialize;
use sysmanage_protocol::validate_version_for;

use super::MANAGER;

/// Whether an outdated item is a formula or a cask; installs pass `--formula` or `--cask`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Formula,
    Cask,
}

impl Kind {
    /// The `brew upgrade` option that selects this kind.
    pub fn option(self) -> &'static str {
        match self {
            Self::Formula => "--formula",
            Self::Cask => "--cask",
        }
    }
}

/// One outdated formula or cask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outdated {
    pub kind: Kind,
    /// Full name, such as `openssl@3` or `homebrew/cask/firefox` for a tapped name.
    pub name: String,
    /// The installed version that the update replaces: the pinned version of a pinned formula,
    /// else the last installed version.
    pub installed_version: Option<String>,
    pub current_version: String,
    /// `brew pin`: `brew upgrade` leaves the formula alone.
    pub pinned: bool,
}

/// Error in the output that the parser does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the output is not the JSON of `brew outdated --json=v2`: {0}")]
    Json(String),
    #[error("{name}: the version {version:?} is not one the protocol accepts")]
    Version { name: String, version: String },
}

#[derive(Deserialize)]
struct Report {
    formulae: Vec<FormulaJson>,
    casks: Vec<CaskJson>,
}

#[derive(Deserialize)]
struct FormulaJson {
    name: String,
    installed_versions: Vec<String>,
    current_version: String,
    #[serde(default)]
    pinned: bool,
    #[serde(default)]
    pinned_version: Option<String>,
}

#[derive(Deserialize)]
struct CaskJson {
    name: String,
    installed_versions: InstalledVersions,
    current_version: String,
}

/// Casks report `installed_versions` as a list holding one comma-joined string in Homebrew 4,
/// and as a plain string in Homebrew 3.
#[derive(Deserialize)]
#[serde(untagged)]
enum InstalledVersions {
    List(Vec<String>),
    One(String),
}

impl InstalledVersions {
    fn last(&self) -> Option<String> {
        let joined = match self {
            Self::List(list) => list.last()?,
            Self::One(text) => text,
        };
        joined
            .rsplit(", ")
            .map(str::trim)
            .find(|version| !version.is_empty())
            .map(str::to_owned)
    }
}

/// Parses the stdout of `brew outdated --json=v2`.
pub fn parse_outdated(output: &str) -> Result<Vec<Outdated>, ParseError> {
    let report: Report =
        serde_json::from_str(output).map_err(|error| ParseError::Json(error.to_string()))?;
    let mut items = Vec::with_capacity(report.formulae.len() + report.casks.len());
    for formula in report.formulae {
        let current_version = normalise_version(&formula.name, &formula.current_version)?;
        let installed_version = formula
            .pinned_version
            .filter(|_| formula.pinned)
            .or_else(|| formula.installed_versions.last().cloned());
        items.push(Outdated {
            kind: Kind::Formula,
            installed_version: checked_installed(installed_version),
            name: formula.name,
            current_version,
            pinned: formula.pinned,
        });
    }
    for cask in report.casks {
        let current_version = normalise_version(&cask.name, &cask.current_version)?;
        items.push(Outdated {
            kind: Kind::Cask,
            installed_version: checked_installed(cask.installed_versions.last()),
            name: cask.name,
            current_version,
            pinned: false,
        });
    }
    Ok(items)
}

/// Turns Homebrew's current version into one the protocol accepts: `newname (1.2.3)` becomes
/// `1.2.3`, `latest HEAD` becomes `HEAD`. Anything else that fails validation is an error, so
/// that the scan fails instead of reporting a version the server would reject.
fn normalise_version(name: &str, version: &str) -> Result<String, ParseError> {
    let version = version.trim();
    let normalised = if version == "latest HEAD" {
        "HEAD"
    } else if let Some(inner) = version
        .strip_suffix(')')
        .and_then(|rest| rest.rsplit_once(" ("))
        .map(|(_, inner)| inner)
    {
        inner
    } else {
        version
    };
    validate_version_for(MANAGER, normalised).map_err(|_| ParseError::Version {
        name: name.to_owned(),
        version: version.to_owned(),
    })?;
    Ok(normalised.to_owned())
}

/// An installed version the protocol rejects is left out rather than failing the scan: it is
/// informational.
fn checked_installed(version: Option<String>) -> Option<String> {
    version.filter(|version| validate_version_for(MANAGER, version).is_ok())
}

/// Returns who holds Homebrew's lock when the output says that another brew process runs:
/// "Another active Homebrew update process is already in progress." (the `brew update` lock),
/// "A `brew upgrade` process has already locked PATH." (a keg or cask lock; Homebrew names the
/// command that failed, not the holder) or, before Homebrew 4, "Another active Homebrew process
/// is already using NAME.".
pub fn lock_holder(output: &str) -> Option<String> {
    output.lines().map(str::trim).find_map(|line| {
        let line = line.strip_prefix("Error: ").unwrap_or(line);
        if line.starts_with("Another active Homebrew update process is already in progress") {
            return Some("another `brew update` process".to_owned());
        }
        if let Some(name) = line.strip_prefix("Another active Homebrew process is already using ") {
            return Some(format!(
                "another Homebrew process (using {})",
                name.trim_end_matches('.')
            ));
        }
        let (_, after) = line.split_once(" process has already locked ")?;
        let path = after
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .trim_end_matches('.');
        Some(format!("another Homebrew process (lock on {path})"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/brew/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[test]
    fn formulae_and_casks() {
        let items = parse_outdated(&fixture("outdated.json")).unwrap();
        let found: Vec<(Kind, &str, Option<&str>, &str, bool)> = items
            .iter()
            .map(|item| {
                (
                    item.kind,
                    item.name.as_str(),
                    item.installed_version.as_deref(),
                    item.current_version.as_str(),
                    item.pinned,
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                (Kind::Formula, "openssl@3", Some("3.2.0_1"), "3.2.1", false),
                (Kind::Formula, "curl", Some("8.5.0"), "8.6.0", false),
                (
                    Kind::Formula,
                    "homebrew/core/node",
                    Some("21.5.0"),
                    "21.6.1",
                    false
                ),
                (Kind::Cask, "firefox", Some("122.0"), "122.0.1", false),
                (
                    Kind::Cask,
                    "visual-studio-code",
                    Some("1.85.2"),
                    "1.86.0",
                    false
                ),
            ]
        );
    }

    #[test]
    fn pinned_formula() {
        let items = parse_outdated(&fixture("outdated-pinned.json")).unwrap();
        let postgres = items
            .iter()
            .find(|item| item.name == "postgresql@14")
            .unwrap();
        assert!(postgres.pinned);
        assert_eq!(postgres.installed_version.as_deref(), Some("14.10"));
        assert_eq!(postgres.current_version, "14.11_1");
        assert!(!items.iter().find(|item| item.name == "git").unwrap().pinned);
    }

    #[test]
    fn nothing_outdated() {
        assert!(
            parse_outdated(&fixture("outdated-none.json"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn auto_updates_cask_with_commas_and_homebrew_3_strings() {
        let items = parse_outdated(&fixture("outdated-auto-updates.json")).unwrap();
        let chrome = items
            .iter()
            .find(|item| item.name == "google-chrome")
            .unwrap();
        assert_eq!(chrome.kind, Kind::Cask);
        assert_eq!(chrome.installed_version.as_deref(), Some("121.0.6167.85"));
        assert_eq!(chrome.current_version, "121.0.6167.160");
        let zoom = items.iter().find(|item| item.name == "zoom").unwrap();
        assert_eq!(zoom.installed_version.as_deref(), Some("5.17.5.29101"));
        assert_eq!(zoom.current_version, "5.17.7.30534");
        let docker = items.iter().find(|item| item.name == "docker").unwrap();
        assert_eq!(docker.current_version, "4.27.1,136059");
    }

    #[test]
    fn renamed_and_head_versions() {
        let json = r#"{"formulae":[
            {"name":"python","installed_versions":["3.11.7"],"current_version":"python@3.12 (3.12.1)","pinned":false,"pinned_version":null},
            {"name":"neovim","installed_versions":["HEAD-1a2b3c4"],"current_version":"latest HEAD","pinned":false,"pinned_version":null}
        ],"casks":[]}"#;
        let items = parse_outdated(json).unwrap();
        assert_eq!(items[0].current_version, "3.12.1");
        assert_eq!(items[1].current_version, "HEAD");
        let bad = r#"{"formulae":[{"name":"x","installed_versions":[],"current_version":"1 2","pinned":false}],"casks":[]}"#;
        assert!(matches!(
            parse_outdated(bad),
            Err(ParseError::Version { .. })
        ));
    }

    #[test]
    fn error_output_fails() {
        let error = parse_outdated(&fixture("error.txt")).unwrap_err();
        assert!(matches!(error, ParseError::Json(_)), "{error}");
        assert!(parse_outdated("").is_err());
        assert!(parse_outdated(r#"{"formulae":[]}"#).is_err());
    }

    #[test]
    fn lock_messages_are_busy() {
        assert_eq!(
            lock_holder(&fixture("locked-update.txt")).as_deref(),
            Some("another `brew update` process")
        );
        assert_eq!(
            lock_holder(&fixture("locked-upgrade.txt")).as_deref(),
            Some(
                "another Homebrew process (lock on \
                 /opt/homebrew/var/homebrew/locks/openssl@3.formula.lock)"
            )
        );
        assert_eq!(
            lock_holder("Error: Another active Homebrew process is already using curl.").as_deref(),
            Some("another Homebrew process (using curl)")
        );
        assert_eq!(lock_holder(&fixture("error.txt")), None);
        assert_eq!(lock_holder(&fixture("upgrade-formula.txt")), None);
        assert_eq!(lock_holder(&fixture("outdated.json")), None);
    }
}
