//! Updates that an upgrade would not install: packages on hold (`apt-mark hold`), kept back by
//! `apt-get upgrade --with-new-pkgs` because they need a package removed, deferred by phasing, or
//! held back by a pin in the apt preferences.
//!
//! The simulation lists only the updates it installs. These updates come from the version
//! tables of `apt-cache policy NAME...` instead.

use std::collections::BTreeSet;

use sysmanage_protocol::{UpdateInfo, UpdateStatus};

use super::MANAGER;
use super::detect::is_security_origin;
use super::policy::{Policy, PolicyOverview, PolicyVersion};
use crate::packages::version::dpkg;

/// Package names that decide which packages detection looks up and how it reports them.
#[derive(Debug, Clone, Default)]
pub struct PostponedNames {
    /// Names the simulation already reports as available updates. They are never reported
    /// again, so a package pinned to a newer version stays `available`.
    pub available: BTreeSet<String>,
    /// Output of `apt-mark showhold`.
    pub held: BTreeSet<String>,
    /// Names under "The following packages have been kept back:".
    pub kept_back: BTreeSet<String>,
    /// Names under "The following upgrades have been deferred due to phasing:".
    pub phased: BTreeSet<String>,
    /// Names in the `Pinned packages:` section of `apt-cache policy`.
    pub pinned: BTreeSet<String>,
}

impl PostponedNames {
    /// Returns the names to read with `apt-cache policy NAME...`: all but the available ones.
    pub fn lookup_names(&self) -> BTreeSet<String> {
        self.held
            .iter()
            .chain(&self.kept_back)
            .chain(&self.phased)
            .chain(&self.pinned)
            .filter(|name| !self.available.contains(*name))
            .cloned()
            .collect()
    }
}

/// Reason an upgrade does not install an update, logged as the field `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostponeReason {
    /// The package is on hold (`apt-mark hold`).
    Held,
    /// The update is deferred by phasing (Ubuntu).
    Phased,
    /// `apt-get upgrade` keeps the package back, because the update needs a new dependency or
    /// the removal of an installed package.
    KeptBack,
    /// A pin in the apt preferences makes the installed version the candidate.
    Pinned,
}

impl PostponeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Phased => "phased",
            Self::KeptBack => "kept back",
            Self::Pinned => "pinned",
        }
    }

    /// Returns the protocol status.
    pub fn status(self) -> UpdateStatus {
        match self {
            Self::Held | Self::Pinned => UpdateStatus::Held,
            Self::Phased => UpdateStatus::Deferred,
            Self::KeptBack => UpdateStatus::KeptBack,
        }
    }
}

/// Builds the held and deferred updates from the version tables of `apt-cache policy NAME...`.
///
/// A package whose candidate is newer than the installed version gets the candidate as new
/// version: `held` when it is on hold, `deferred` when phasing defers it, else `kept_back`
/// (kept back by `apt-get upgrade --with-new-pkgs`, or not in any list of the simulation). A pinned package
/// whose candidate is not newer but whose newest downloadable version is newer than the
/// installed version is `held`, with that newest version. Each package is reported at most
/// once, and never when it is in [`PostponedNames::available`].
pub fn postponed_updates(
    policies: &[Policy],
    names: &PostponedNames,
    overview: &PolicyOverview,
) -> Vec<UpdateInfo> {
    let mut reported = BTreeSet::new();
    let mut updates = Vec::new();
    for policy in policies {
        if names.available.contains(&policy.name) || reported.contains(&policy.name) {
            continue;
        }
        let Some(update) = postponed_update(policy, names, overview) else {
            continue;
        };
        reported.insert(policy.name.clone());
        updates.push(update);
    }
    updates
}

fn postponed_update(
    policy: &Policy,
    names: &PostponedNames,
    overview: &PolicyOverview,
) -> Option<UpdateInfo> {
    let installed = policy.installed.as_deref()?;
    let candidate = policy
        .candidate
        .as_deref()
        .filter(|candidate| dpkg::is_newer(candidate, installed));

    let (reason, new_version, row) = if let Some(candidate) = candidate {
        let reason = if names.held.contains(&policy.name) {
            PostponeReason::Held
        } else if names.phased.contains(&policy.name) {
            PostponeReason::Phased
        } else {
            PostponeReason::KeptBack
        };
        (reason, candidate, policy.candidate_row())
    } else if names.pinned.contains(&policy.name) {
        let newest = policy
            .newest_downloadable()
            .filter(|row| dpkg::is_newer(&row.version, installed))?;
        (
            PostponeReason::Pinned,
            newest.version.as_str(),
            Some(newest),
        )
    } else {
        return None;
    };

    let origins = row.map(|row| origins(row, overview)).unwrap_or_default();
    let security = origins.iter().any(|origin| is_security_origin(origin));
    tracing::info!(
        manager = MANAGER,
        package = %policy.name,
        installed_version = installed,
        new_version,
        reason = reason.as_str(),
        "update postponed"
    );
    Some(UpdateInfo {
        manager: MANAGER.to_owned(),
        name: policy.name.clone(),
        architecture: policy
            .name
            .split_once(':')
            .map(|(_, architecture)| architecture.to_owned()),
        current_version: Some(installed.to_owned()),
        new_version: new_version.to_owned(),
        origin: (!origins.is_empty()).then(|| origins.join(", ")),
        security,
        status: reason.status(),
    })
}

/// Returns the origins of a version, formatted like those of the simulation's `Inst` lines.
///
/// The release fields come from the package files of the overview. A source missing from it
/// falls back to the suite of its line (`bookworm-security`), and a flat repository (`./`)
/// without a Release file has no origin.
fn origins(row: &PolicyVersion, overview: &PolicyOverview) -> Vec<String> {
    let mut origins: Vec<String> = Vec::new();
    for source in row.sources.iter().filter(|source| !source.is_dpkg_status()) {
        let origin = overview
            .package_file(&source.file)
            .and_then(|package_file| package_file.release.origin())
            .or_else(|| source.suite().map(str::to_owned));
        if let Some(origin) = origin
            && !origins.contains(&origin)
        {
            origins.push(origin);
        }
    }
    origins
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::apt::policy::{parse_policy, parse_policy_overview};

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/apt/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    /// The names of the fixtures: `tzdata` is pinned to a newer version, so the simulation
    /// lists it; `curl` is on hold and pinned.
    fn fixture_names() -> PostponedNames {
        let overview = parse_policy_overview(&fixture("policy-overview-pinned.txt")).unwrap();
        PostponedNames {
            available: names(&["tzdata"]),
            held: names(&["curl"]),
            kept_back: names(&["linux-image-amd64"]),
            phased: names(&["libsystemd0"]),
            pinned: overview.pins.iter().map(|pin| pin.name.clone()).collect(),
        }
    }

    fn fixture_updates() -> Vec<UpdateInfo> {
        let overview = parse_policy_overview(&fixture("policy-overview-pinned.txt")).unwrap();
        let policies = parse_policy(&fixture("policy-packages.txt")).unwrap();
        postponed_updates(&policies, &fixture_names(), &overview)
    }

    #[test]
    fn lookup_names_skip_available() {
        let lookup = fixture_names().lookup_names();
        let expected = names(&[
            "curl",
            "libc6:i386",
            "libsystemd0",
            "linux-image-amd64",
            "nodejs",
            "openssl",
            "sqlite3",
            "zstd",
        ]);
        assert_eq!(lookup, expected);
    }

    #[test]
    fn postponed_fixture_statuses() {
        let updates = fixture_updates();
        let found: Vec<(&str, &str, &str, UpdateStatus)> = updates
            .iter()
            .map(|update| {
                (
                    update.name.as_str(),
                    update.current_version.as_deref().unwrap_or_default(),
                    update.new_version.as_str(),
                    update.status,
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                (
                    "curl",
                    "7.88.1-10+deb12u5",
                    "7.88.1-10+deb12u12",
                    UpdateStatus::Held
                ),
                (
                    "libc6:i386",
                    "2.36-9+deb12u7",
                    "2.36-9+deb12u10",
                    UpdateStatus::Held
                ),
                (
                    "libsystemd0",
                    "252.30-1~deb12u2",
                    "252.33-1~deb12u1",
                    UpdateStatus::Deferred
                ),
                (
                    "linux-image-amd64",
                    "6.1.69-1",
                    "6.1.76-1",
                    UpdateStatus::KeptBack
                ),
                (
                    "openssl",
                    "3.0.11-1~deb12u1",
                    "3.0.15-1~deb12u1",
                    UpdateStatus::Held
                ),
                (
                    "sqlite3",
                    "3.40.1-2+deb12u2",
                    "3.40.1-2+deb12u3",
                    UpdateStatus::Held
                ),
                ("zstd", "1.5.4+dfsg2-5", "1.5.10-1", UpdateStatus::Held),
            ]
        );
    }

    #[test]
    fn postponed_fixture_origins() {
        let updates = fixture_updates();
        let cases = [
            (
                "curl",
                Some("Debian:12.15/oldstable, Debian-Security:12/oldstable-security"),
                true,
            ),
            ("libc6:i386", Some("Debian:12.15/oldstable"), false),
            (
                "linux-image-amd64",
                Some("Debian:12-updates/oldstable-updates"),
                false,
            ),
            (
                "openssl",
                Some("Debian-Security:12/oldstable-security, Debian:12.15/oldstable"),
                true,
            ),
            (
                "sqlite3",
                Some("Debian-Security:12/oldstable-security"),
                true,
            ),
            // A flat repository without a Release file names no suite.
            ("zstd", None, false),
        ];
        for (name, origin, security) in cases {
            let update = updates
                .iter()
                .find(|update| update.name == name)
                .unwrap_or_else(|| panic!("{name} missing from {updates:?}"));
            assert_eq!(update.origin.as_deref(), origin, "{name}: origin");
            assert_eq!(update.security, security, "{name}: security");
        }
        let libc = updates
            .iter()
            .find(|update| update.name == "libc6:i386")
            .unwrap();
        assert_eq!(libc.architecture.as_deref(), Some("i386"));
    }

    #[test]
    fn postponed_reports_each_package_once() {
        let overview = parse_policy_overview(&fixture("policy-overview-pinned.txt")).unwrap();
        let mut policies = parse_policy(&fixture("policy-packages.txt")).unwrap();
        policies.extend(parse_policy(&fixture("policy-packages.txt")).unwrap());
        let updates = postponed_updates(&policies, &fixture_names(), &overview);
        let mut seen = BTreeSet::new();
        for update in &updates {
            assert!(seen.insert(&update.name), "{} twice", update.name);
        }
        assert_eq!(updates.len(), 7);
        assert!(!seen.contains(&"tzdata".to_owned()), "available tzdata");
        assert!(!seen.contains(&"nodejs".to_owned()), "nodejs is up to date");
    }

    #[test]
    fn unpinned_package_without_newer_candidate() {
        let overview = parse_policy_overview(&fixture("policy-overview-no-pins.txt")).unwrap();
        let policies = parse_policy(&fixture("policy-packages.txt")).unwrap();
        // Without pins, openssl and zstd keep their installed candidate and are not updates.
        let names = PostponedNames {
            held: names(&["curl"]),
            ..PostponedNames::default()
        };
        let updates = postponed_updates(&policies, &names, &overview);
        let reported: Vec<(&str, UpdateStatus)> = updates
            .iter()
            .map(|update| (update.name.as_str(), update.status))
            .collect();
        assert_eq!(
            reported,
            [
                ("libsystemd0", UpdateStatus::KeptBack),
                ("linux-image-amd64", UpdateStatus::KeptBack),
                ("tzdata", UpdateStatus::KeptBack),
            ]
        );
    }

    #[test]
    fn reason_statuses() {
        let cases = [
            (PostponeReason::Held, UpdateStatus::Held),
            (PostponeReason::Pinned, UpdateStatus::Held),
            (PostponeReason::Phased, UpdateStatus::Deferred),
            (PostponeReason::KeptBack, UpdateStatus::KeptBack),
        ];
        for (reason, status) in cases {
            assert_eq!(reason.status(), status, "{}", reason.as_str());
        }
    }
}
