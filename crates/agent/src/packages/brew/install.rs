//! Installs with `brew upgrade --formula NAME` / `brew upgrade --cask NAME`: planning against
//! the current outdated list, argument building, exit codes and per-package results.
//!
//! Homebrew cannot install a chosen version: `brew upgrade NAME` installs the version the tap
//! offers at that moment. The result says so when that differs from the approved version.
//! Pinned formulae are never upgraded.

use std::collections::BTreeMap;

use sysmanage_protocol::{
    PackageOutcome, PackageResult, PackageSpec, ValidationError, validate_package_name_for,
    validate_version_for,
};

use super::MANAGER;
use super::detect::{Kind, Outdated};

/// Checks a package spec for Homebrew.
pub fn validate_spec(spec: &PackageSpec) -> Result<(), ValidationError> {
    if spec.manager != MANAGER {
        return Err(ValidationError {
            field: "manager",
            value: spec.manager.clone(),
            reason: "is not brew",
        });
    }
    validate_package_name_for(&spec.manager, &spec.name)?;
    validate_version_for(&spec.manager, &spec.version)
}

/// Names under which outdated items are reported. A cask that shares its name with an
/// outdated formula is reported as `homebrew/cask/NAME`, so that each name is unique.
pub fn reported_names(items: &[Outdated]) -> BTreeMap<String, &Outdated> {
    let mut names = BTreeMap::new();
    for item in items.iter().filter(|item| item.kind == Kind::Formula) {
        names.insert(item.name.clone(), item);
    }
    for item in items.iter().filter(|item| item.kind == Kind::Cask) {
        let name = if names.contains_key(&item.name) {
            format!("homebrew/cask/{}", item.name)
        } else {
            item.name.clone()
        };
        names.insert(name, item);
    }
    names
}

/// Builds the arguments that upgrade one formula or cask.
pub fn upgrade_arguments(kind: Kind, name: &str) -> Vec<String> {
    vec![
        "upgrade".to_owned(),
        kind.option().to_owned(),
        name.to_owned(),
    ]
}

/// Builds the arguments that upgrade everything outdated (pinned formulae excepted).
pub fn upgrade_all_arguments() -> Vec<String> {
    vec!["upgrade".to_owned()]
}

/// Builds the arguments that list the installed versions of one formula or cask.
pub fn list_versions_arguments(kind: Kind, name: &str) -> Vec<String> {
    vec![
        "list".to_owned(),
        "--versions".to_owned(),
        kind.option().to_owned(),
        name.to_owned(),
    ]
}

/// Returns the newest installed version from `brew list --versions NAME` (`name v1 v2`; the
/// last is the one installed last).
pub fn parse_list_versions(output: &str) -> Option<String> {
    let line = output.lines().find(|line| !line.trim().is_empty())?;
    let mut words = line.split_whitespace();
    words.next()?;
    words.last().map(str::to_owned)
}

/// Decodes the exit status of `brew upgrade`: 0 is success, anything else a failure.
pub fn decode_exit_code(code: Option<i32>) -> Result<(), String> {
    match code {
        Some(0) => Ok(()),
        Some(code) => Err(format!("brew upgrade exited with status {code}")),
        None => Err("brew upgrade was killed by a signal".to_owned()),
    }
}

/// What to do with one approved spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan<'a> {
    Upgrade(&'a Outdated),
    /// Not run; the result is final.
    Skip(PackageResult),
}

/// Result of a spec that brew no longer lists as outdated: installed when the approved version
/// is already there (upgraded by hand or by an earlier job), else not attempted.
pub fn not_outdated_result(spec: &PackageSpec, installed_version: Option<String>) -> PackageResult {
    let installed = installed_version.as_deref() == Some(spec.version.as_str());
    PackageResult {
        manager: MANAGER.to_owned(),
        name: spec.name.clone(),
        requested_version: Some(spec.version.clone()),
        installed_version,
        outcome: if installed {
            PackageOutcome::Installed
        } else {
            PackageOutcome::NotAttempted
        },
        message: Some(if installed {
            "already installed".to_owned()
        } else {
            "brew no longer lists this as outdated".to_owned()
        }),
    }
}

/// Plans one spec against the current outdated list.
pub fn plan<'a>(spec: &PackageSpec, outdated: &BTreeMap<String, &'a Outdated>) -> Plan<'a> {
    let skip = |message: String| {
        Plan::Skip(PackageResult {
            manager: MANAGER.to_owned(),
            name: spec.name.clone(),
            requested_version: Some(spec.version.clone()),
            installed_version: None,
            outcome: PackageOutcome::NotAttempted,
            message: Some(message),
        })
    };
    match outdated.get(&spec.name) {
        None => skip("brew no longer lists this as outdated".to_owned()),
        Some(item) if item.pinned => skip(
            "the formula is pinned (`brew pin`); unpin it to upgrade it, the agent never \
             upgrades a pinned formula"
                .to_owned(),
        ),
        Some(item) => Plan::Upgrade(item),
    }
}

/// Builds the result of one upgrade from its exit status and the version installed after it.
pub fn package_result(
    spec: &PackageSpec,
    item: &Outdated,
    status: &Result<(), String>,
    installed_version: Option<String>,
) -> PackageResult {
    let mut notes = Vec::new();
    let outcome = match (status, &installed_version) {
        (Ok(()), Some(version)) if Some(version) != item.installed_version.as_ref() => {
            if *version != spec.version {
                notes.push(format!(
                    "Homebrew installed {version}, the version it offers now, not the approved \
                     {}: Homebrew cannot install a chosen version",
                    spec.version
                ));
            }
            PackageOutcome::Installed
        }
        (Ok(()), _) => {
            notes.push("brew upgrade succeeded, but the installed version did not change".into());
            PackageOutcome::Failed
        }
        (Err(message), _) => {
            notes.push(message.clone());
            PackageOutcome::Failed
        }
    };
    PackageResult {
        manager: MANAGER.to_owned(),
        name: spec.name.clone(),
        requested_version: Some(spec.version.clone()),
        installed_version,
        outcome,
        message: (!notes.is_empty()).then(|| notes.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::brew::detect::parse_outdated;

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/brew/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

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
            upgrade_arguments(Kind::Formula, "openssl@3"),
            ["upgrade", "--formula", "openssl@3"]
        );
        assert_eq!(
            upgrade_arguments(Kind::Cask, "firefox"),
            ["upgrade", "--cask", "firefox"]
        );
        assert_eq!(upgrade_all_arguments(), ["upgrade"]);
        assert_eq!(
            list_versions_arguments(Kind::Cask, "firefox"),
            ["list", "--versions", "--cask", "firefox"]
        );
    }

    #[test]
    fn spec_validation() {
        assert!(validate_spec(&spec("openssl@3", "3.2.1")).is_ok());
        assert!(validate_spec(&spec("homebrew/cask/firefox", "122.0.1")).is_ok());
        assert!(validate_spec(&spec("--force", "1")).is_err());
        let mut other = spec("curl", "8.6.0");
        other.manager = "apt".into();
        assert!(validate_spec(&other).is_err());
    }

    #[test]
    fn pinned_is_never_planned() {
        let items = parse_outdated(&fixture("outdated-pinned.json")).unwrap();
        let names = reported_names(&items);
        let Plan::Skip(result) = plan(&spec("postgresql@14", "14.11_1"), &names) else {
            panic!("a pinned formula must not be upgraded");
        };
        assert_eq!(result.outcome, PackageOutcome::NotAttempted);
        assert!(result.message.unwrap().contains("pinned"));
        assert!(matches!(
            plan(&spec("git", "2.43.1"), &names),
            Plan::Upgrade(item) if item.kind == Kind::Formula
        ));
        assert!(matches!(
            plan(&spec("wget", "1.21"), &names),
            Plan::Skip(result) if result.outcome == PackageOutcome::NotAttempted
        ));
    }

    #[test]
    fn casks_keep_their_kind_and_clashing_names_are_qualified() {
        let json = r#"{"formulae":[{"name":"docker","installed_versions":["24.0.7"],"current_version":"25.0.2","pinned":false,"pinned_version":null}],
                       "casks":[{"name":"docker","installed_versions":["4.26.1"],"current_version":"4.27.1"},
                                {"name":"firefox","installed_versions":["122.0"],"current_version":"122.0.1"}]}"#;
        let items = parse_outdated(json).unwrap();
        let names = reported_names(&items);
        assert_eq!(
            names.keys().map(String::as_str).collect::<Vec<_>>(),
            ["docker", "firefox", "homebrew/cask/docker"]
        );
        assert_eq!(names["docker"].kind, Kind::Formula);
        assert_eq!(names["homebrew/cask/docker"].kind, Kind::Cask);
        assert_eq!(names["homebrew/cask/docker"].name, "docker");
        assert_eq!(names["firefox"].kind, Kind::Cask);
    }

    #[test]
    fn not_outdated() {
        let done = not_outdated_result(&spec("curl", "8.6.0"), Some("8.6.0".into()));
        assert_eq!(done.outcome, PackageOutcome::Installed);
        let gone = not_outdated_result(&spec("curl", "8.6.0"), None);
        assert_eq!(gone.outcome, PackageOutcome::NotAttempted);
    }

    #[test]
    fn list_versions() {
        assert_eq!(
            parse_list_versions(&fixture("list-versions.txt")).as_deref(),
            Some("3.2.1")
        );
        assert_eq!(parse_list_versions(""), None);
        assert_eq!(parse_list_versions("openssl@3\n"), None);
    }

    #[test]
    fn results_say_when_the_version_differs() {
        let items = parse_outdated(&fixture("outdated.json")).unwrap();
        let openssl = &items[0];
        let exact = package_result(
            &spec("openssl@3", "3.2.1"),
            openssl,
            &Ok(()),
            Some("3.2.1".into()),
        );
        assert_eq!(exact.outcome, PackageOutcome::Installed);
        assert_eq!(exact.message, None);

        let newer = package_result(
            &spec("openssl@3", "3.2.1"),
            openssl,
            &Ok(()),
            Some("3.2.2".into()),
        );
        assert_eq!(newer.outcome, PackageOutcome::Installed);
        assert!(
            newer
                .message
                .unwrap()
                .contains("cannot install a chosen version")
        );

        let unchanged = package_result(
            &spec("openssl@3", "3.2.1"),
            openssl,
            &Ok(()),
            Some("3.2.0_1".into()),
        );
        assert_eq!(unchanged.outcome, PackageOutcome::Failed);

        let failed = package_result(
            &spec("openssl@3", "3.2.1"),
            openssl,
            &decode_exit_code(Some(1)),
            Some("3.2.0_1".into()),
        );
        assert_eq!(failed.outcome, PackageOutcome::Failed);
        assert!(failed.message.unwrap().contains("status 1"));
    }

    #[test]
    fn exit_codes() {
        assert_eq!(decode_exit_code(Some(0)), Ok(()));
        assert!(decode_exit_code(Some(1)).is_err());
        assert!(decode_exit_code(None).is_err());
    }
}
