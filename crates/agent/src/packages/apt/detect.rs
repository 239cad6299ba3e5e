//! Parsers for the apt output that update detection reads.
//!
//! The formats are those of apt 2.6 (Debian 12), checked against its real output:
//! `apt-get -s -V upgrade` and `apt-mark showhold`. The parsers of `apt-cache policy` are
//! in [`super::policy`]. Every line of the simulation must be recognised, because an unknown
//! line may mean a format change that would otherwise turn into a silent "no updates".

use std::collections::BTreeSet;

/// One `Inst` line of a simulated upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulatedInstall {
    /// Package name as apt prints it, with an architecture qualifier for foreign packages.
    pub name: String,
    /// Installed version, `None` when the package is newly installed as a dependency.
    pub current_version: Option<String>,
    pub new_version: String,
    /// Releases that carry the new version, such as `Debian-Security:12/stable-security`.
    pub origins: Vec<String>,
    pub architecture: Option<String>,
}

impl SimulatedInstall {
    /// Returns whether any origin of the new version is a security archive.
    pub fn is_security(&self) -> bool {
        self.origins.iter().any(|origin| is_security_origin(origin))
    }
}

/// Counts of the summary line `N upgraded, N newly installed, N to remove and N not upgraded.`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub upgraded: usize,
    pub newly_installed: usize,
    pub downgraded: usize,
    pub reinstalled: usize,
    pub to_remove: usize,
    pub not_upgraded: usize,
}

/// Parsed output of `apt-get -s -V upgrade` or `dist-upgrade`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Simulation {
    pub installs: Vec<SimulatedInstall>,
    /// Packages listed under "The following packages have been kept back:".
    pub kept_back: Vec<String>,
    /// Packages listed under "The following upgrades have been deferred due to phasing:".
    pub deferred: Vec<String>,
    pub summary: Summary,
    /// Count from `N not fully installed or removed.`: packages an interrupted dpkg run left
    /// half installed, which `dpkg --configure -a` finishes.
    pub not_fully_installed: usize,
}

impl Simulation {
    /// Returns the `Inst` lines that upgrade an installed package.
    pub fn upgrades(&self) -> impl Iterator<Item = &SimulatedInstall> {
        self.installs
            .iter()
            .filter(|install| install.current_version.is_some())
    }
}

/// Error in apt output that the parser does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unrecognised line {number}: {line:?}")]
    UnrecognisedLine { number: usize, line: String },
    #[error("malformed {kind} line {number}: {line:?}")]
    MalformedLine {
        kind: &'static str,
        number: usize,
        line: String,
    },
    #[error("the output ends without the summary line \"N upgraded, N newly installed, ...\"")]
    MissingSummary,
    #[error("the summary line says {expected} {what} but the output lists {found}")]
    CountMismatch {
        what: &'static str,
        expected: usize,
        found: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Upgraded,
    KeptBack,
    Deferred,
    New,
    /// A list the parser accepts but does not use, such as suggested packages.
    Ignored,
    /// The indented lines of the "NOTE: This is only a simulation!" message.
    Note,
}

const PROGRESS_LINES: &[&str] = &[
    "Reading package lists...",
    "Building dependency tree...",
    "Reading state information...",
    "Calculating upgrade...",
];

const SECTION_HEADERS: &[(&str, Section)] = &[
    (
        "The following packages will be upgraded:",
        Section::Upgraded,
    ),
    (
        "The following packages have been kept back:",
        Section::KeptBack,
    ),
    (
        "The following upgrades have been deferred due to phasing:",
        Section::Deferred,
    ),
    (
        "The following NEW packages will be installed:",
        Section::New,
    ),
    ("The following packages will be REMOVED:", Section::Ignored),
    (
        "The following packages will be DOWNGRADED:",
        Section::Ignored,
    ),
    (
        "The following held packages will be changed:",
        Section::Ignored,
    ),
    (
        "The following additional packages will be installed:",
        Section::Ignored,
    ),
    (
        "The following packages were automatically installed and are no longer required:",
        Section::Ignored,
    ),
    (
        "The following package was automatically installed and is no longer required:",
        Section::Ignored,
    ),
    ("Suggested packages:", Section::Ignored),
    ("Recommended packages:", Section::Ignored),
    ("NOTE: This is only a simulation!", Section::Note),
];

/// Parses the output of `apt-get -s -V upgrade` or `dist-upgrade` (with or without `-V`), which
/// share one layout.
///
/// Fails on the first line it does not recognise, when the summary line is missing (truncated
/// output), and when the number of `Inst` and `Remv` lines disagrees with the summary.
pub fn parse_simulation(output: &str) -> Result<Simulation, ParseError> {
    let mut simulation = Simulation::default();
    let mut summary = None;
    let mut section = None;
    let mut upgraded_listed = 0;
    let mut removals = 0;

    for (index, line) in output.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with(' ') {
            match section {
                Some(Section::Note | Section::Ignored | Section::New) => {}
                Some(Section::Upgraded) => upgraded_listed += list_names(line).len(),
                Some(Section::KeptBack) => simulation.kept_back.extend(list_names(line)),
                Some(Section::Deferred) => simulation.deferred.extend(list_names(line)),
                None => {
                    return Err(ParseError::UnrecognisedLine {
                        number,
                        line: line.to_owned(),
                    });
                }
            }
            continue;
        }
        section = None;

        if PROGRESS_LINES
            .iter()
            .any(|progress| line == *progress || line.strip_suffix(" Done") == Some(progress))
        {
            continue;
        }
        if let Some((_, kind)) = SECTION_HEADERS.iter().find(|(header, _)| line == *header) {
            section = Some(*kind);
            continue;
        }
        if line.starts_with("Use '") && line.contains("autoremove' to remove ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("Inst ") {
            let install = parse_inst(rest).ok_or_else(|| ParseError::MalformedLine {
                kind: "Inst",
                number,
                line: line.to_owned(),
            })?;
            simulation.installs.push(install);
            continue;
        }
        if line.starts_with("Conf ") {
            continue;
        }
        if line.starts_with("Remv ") || line.starts_with("Purg ") {
            removals += 1;
            continue;
        }
        if let Some(parsed) = parse_summary(line) {
            summary = Some(parsed);
            continue;
        }
        if let Some(count) = line
            .strip_suffix(" not fully installed or removed.")
            .and_then(|count| count.parse().ok())
        {
            simulation.not_fully_installed = count;
            continue;
        }
        return Err(ParseError::UnrecognisedLine {
            number,
            line: line.to_owned(),
        });
    }

    let summary = summary.ok_or(ParseError::MissingSummary)?;
    simulation.summary = summary;
    check_counts(&simulation, upgraded_listed, removals)?;
    Ok(simulation)
}

fn check_counts(
    simulation: &Simulation,
    upgraded_listed: usize,
    removals: usize,
) -> Result<(), ParseError> {
    let summary = simulation.summary;
    let checks = [
        (
            "upgrades, downgrades and reinstalls (Inst lines of installed packages)",
            summary.upgraded + summary.downgraded + summary.reinstalled,
            simulation.upgrades().count(),
        ),
        (
            "new installs (Inst lines without an installed version)",
            summary.newly_installed,
            simulation.installs.len() - simulation.upgrades().count(),
        ),
        (
            "removals (Remv and Purg lines)",
            summary.to_remove,
            removals,
        ),
        (
            "upgrades (names under \"will be upgraded\")",
            summary.upgraded,
            upgraded_listed,
        ),
    ];
    for (what, expected, found) in checks {
        if expected != found {
            return Err(ParseError::CountMismatch {
                what,
                expected,
                found,
            });
        }
    }
    Ok(())
}

/// Returns the package names of one indented list line: `name (1.0 => 2.0)` with `-V`, or
/// several space-separated names without it.
fn list_names(line: &str) -> Vec<String> {
    let trimmed = line.trim();
    if trimmed.contains('(') {
        trimmed
            .split_whitespace()
            .next()
            .map(str::to_owned)
            .into_iter()
            .collect()
    } else {
        trimmed.split_whitespace().map(str::to_owned).collect()
    }
}

/// Parses the part after `Inst `: `name [old] (new Origin:Version/suite, ... [arch]) [broken ]`.
fn parse_inst(rest: &str) -> Option<SimulatedInstall> {
    let (name, rest) = rest.split_once(' ')?;
    let mut rest = rest.trim_start();

    let mut current_version = None;
    if let Some(after_bracket) = rest.strip_prefix('[') {
        let (old, after) = after_bracket.split_once(']')?;
        current_version = Some(old.to_owned());
        rest = after.trim_start();
    }

    let inner_and_after = rest.strip_prefix('(')?;
    let (inner, after) = inner_and_after.split_once(')')?;
    let after = after.trim();
    // apt appends the packages this step leaves broken, such as `[libc-bin:amd64 ]`.
    if !after.is_empty() && (!after.starts_with('[') || !after.ends_with(']')) {
        return None;
    }

    let (new_version, releases) = match inner.split_once(' ') {
        Some((version, releases)) => (version, releases.trim()),
        None => (inner, ""),
    };
    let (releases, architecture) = match releases.rsplit_once('[') {
        Some((before, arch)) => (before.trim(), Some(arch.strip_suffix(']')?.to_owned())),
        None => (releases, None),
    };
    let origins = releases
        .split(", ")
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(str::to_owned)
        .collect();

    if name.is_empty() || new_version.is_empty() {
        return None;
    }
    Some(SimulatedInstall {
        name: name.to_owned(),
        current_version,
        new_version: new_version.to_owned(),
        origins,
        architecture,
    })
}

/// Parses `N upgraded, N newly installed, [N downgraded, ][N reinstalled, ]N to remove and N not
/// upgraded.`
fn parse_summary(line: &str) -> Option<Summary> {
    let body = line.strip_suffix('.')?;
    let mut summary = Summary::default();
    let mut seen_upgraded = false;
    let mut seen_not_upgraded = false;
    for part in body.split(", ").flat_map(|part| part.split(" and ")) {
        let (count, what) = part.trim().split_once(' ')?;
        let count: usize = count.parse().ok()?;
        match what {
            "upgraded" => {
                summary.upgraded = count;
                seen_upgraded = true;
            }
            "newly installed" => summary.newly_installed = count,
            "downgraded" => summary.downgraded = count,
            "reinstalled" => summary.reinstalled = count,
            "to remove" => summary.to_remove = count,
            "not upgraded" => {
                summary.not_upgraded = count;
                seen_not_upgraded = true;
            }
            _ => return None,
        }
    }
    (seen_upgraded && seen_not_upgraded).then_some(summary)
}

/// Returns whether a release printed by apt is a security archive.
///
/// apt prints releases as `Label:Version/Suite` or `Label:Suite`. Debian's security archive has
/// the label `Debian-Security` and suites ending in `-security`; Ubuntu's security pocket is the
/// suite `<codename>-security`.
pub fn is_security_origin(origin: &str) -> bool {
    let (label, rest) = origin.split_once(':').unwrap_or(("", origin));
    let suite = rest.rsplit('/').next().unwrap_or(rest);
    suite.ends_with("-security") || label.to_ascii_lowercase().ends_with("-security")
}

/// Parses `apt-mark showhold`: one package name per line.
pub fn parse_held(output: &str) -> BTreeSet<String> {
    output
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inst_line_with_two_origins() {
        let install = parse_inst(
            "libssl3 [3.0.11-1~deb12u1] (3.0.11-1~deb12u2 Debian:12.5/stable, \
             Debian-Security:12/stable-security [amd64]) []",
        )
        .unwrap();
        assert_eq!(install.name, "libssl3");
        assert_eq!(install.current_version.as_deref(), Some("3.0.11-1~deb12u1"));
        assert_eq!(install.new_version, "3.0.11-1~deb12u2");
        assert_eq!(
            install.origins,
            ["Debian:12.5/stable", "Debian-Security:12/stable-security"]
        );
        assert_eq!(install.architecture.as_deref(), Some("amd64"));
        assert!(install.is_security());
    }

    #[test]
    fn inst_line_of_new_dependency() {
        let install =
            parse_inst("linux-image-6.1.0-18-amd64 (6.1.76-1 Debian:12.5/stable [amd64])").unwrap();
        assert_eq!(install.current_version, None);
        assert!(!install.is_security());
    }

    #[test]
    fn inst_line_rejects_trailing_text() {
        assert_eq!(
            parse_inst("foo [1.0] (2.0 Debian:12/stable [all]) extra"),
            None
        );
        assert_eq!(parse_inst("foo [1.0] (2.0 Debian:12/stable [all"), None);
        assert_eq!(parse_inst("foo [1.0"), None);
    }

    #[test]
    fn security_origins() {
        let cases = [
            ("Debian-Security:12/stable-security", true),
            ("Debian:bookworm-security", true),
            ("Ubuntu:22.04/jammy-security", true),
            ("SysManageTest:testing-security", true),
            ("Debian:12.5/stable", false),
            ("Ubuntu:22.04/jammy-updates", false),
            ("Debian:12.5/stable-updates", false),
        ];
        for (origin, expected) in cases {
            assert_eq!(is_security_origin(origin), expected, "{origin}");
        }
    }

    #[test]
    fn summary_variants() {
        let summary = parse_summary(
            "2 upgraded, 1 newly installed, 1 downgraded, 3 to remove and 4 not upgraded.",
        )
        .unwrap();
        assert_eq!(summary.upgraded, 2);
        assert_eq!(summary.newly_installed, 1);
        assert_eq!(summary.downgraded, 1);
        assert_eq!(summary.to_remove, 3);
        assert_eq!(summary.not_upgraded, 4);
        assert_eq!(parse_summary("2 upgraded, 1 newly installed"), None);
        assert_eq!(
            parse_summary("2 frobbed, 0 to remove and 0 not upgraded."),
            None
        );
    }

    #[test]
    fn held_list() {
        let held = parse_held("linux-image-amd64\nopenssl\n\n");
        assert_eq!(held.len(), 2);
        assert!(held.contains("openssl"));
    }

    /// Expected parse of one fixture: the available upgrades as (name, current, new, security),
    /// kept-back names and deferred names.
    struct Expected {
        upgrades: &'static [(&'static str, &'static str, &'static str, bool)],
        new_installs: usize,
        kept_back: &'static [&'static str],
        deferred: &'static [&'static str],
    }

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/apt/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[test]
    fn half_installed_count_kept() {
        let simulation = parse_simulation(&fixture("not-fully-installed.txt")).unwrap();
        assert_eq!(simulation.not_fully_installed, 1);
        let clean = parse_simulation(&fixture("none.txt")).unwrap();
        assert_eq!(clean.not_fully_installed, 0);
    }

    #[test]
    fn simulation_fixtures_parse() {
        let cases = [
            (
                "updates-security.txt",
                Expected {
                    upgrades: &[
                        ("libssl3", "3.0.11-1~deb12u1", "3.0.11-1~deb12u2", true),
                        ("openssl", "3.0.11-1~deb12u1", "3.0.11-1~deb12u2", true),
                        ("tzdata", "2023c-5", "2024a-0+deb12u1", false),
                    ],
                    new_installs: 0,
                    kept_back: &[],
                    deferred: &[],
                },
            ),
            (
                "none.txt",
                Expected {
                    upgrades: &[],
                    new_installs: 0,
                    kept_back: &[],
                    deferred: &[],
                },
            ),
            (
                "held.txt",
                Expected {
                    upgrades: &[("curl", "7.88.1-10+deb12u5", "7.88.1-10+deb12u6", true)],
                    new_installs: 0,
                    kept_back: &["linux-image-amd64"],
                    deferred: &[],
                },
            ),
            (
                "phased.txt",
                Expected {
                    upgrades: &[(
                        "libsystemd0",
                        "249.11-0ubuntu3.11",
                        "249.11-0ubuntu3.12",
                        false,
                    )],
                    new_installs: 0,
                    kept_back: &[],
                    deferred: &["python3-software-properties", "software-properties-common"],
                },
            ),
            (
                "kept-back.txt",
                Expected {
                    upgrades: &[("smtest-b", "1.0", "2.0", true)],
                    new_installs: 0,
                    kept_back: &["smtest-c"],
                    deferred: &[],
                },
            ),
            (
                "upgrade-new-dependency.txt",
                Expected {
                    upgrades: &[("smtest-a", "1.0", "2.0", false)],
                    new_installs: 0,
                    kept_back: &["smtest-c"],
                    deferred: &[],
                },
            ),
            (
                "new-dependency.txt",
                Expected {
                    upgrades: &[("linux-image-amd64", "6.1.69-1", "6.1.76-1", false)],
                    new_installs: 1,
                    kept_back: &[],
                    deferred: &[],
                },
            ),
            (
                "not-fully-installed.txt",
                Expected {
                    upgrades: &[("tzdata", "2023c-5", "2024a-0+deb12u1", false)],
                    new_installs: 0,
                    kept_back: &[],
                    deferred: &[],
                },
            ),
            (
                "not-root.txt",
                Expected {
                    upgrades: &[
                        ("libc6", "2.36-9+deb12u3", "2.36-9+deb12u4", false),
                        ("libc-bin", "2.36-9+deb12u3", "2.36-9+deb12u4", false),
                    ],
                    new_installs: 0,
                    kept_back: &[],
                    deferred: &[],
                },
            ),
        ];
        for (file, expected) in cases {
            let simulation =
                parse_simulation(&fixture(file)).unwrap_or_else(|error| panic!("{file}: {error}"));
            let upgrades: Vec<(&str, &str, &str, bool)> = simulation
                .upgrades()
                .map(|install| {
                    (
                        install.name.as_str(),
                        install.current_version.as_deref().unwrap_or_default(),
                        install.new_version.as_str(),
                        install.is_security(),
                    )
                })
                .collect();
            assert_eq!(upgrades, expected.upgrades, "{file}: upgrades");
            let new_installs = simulation.installs.len() - simulation.upgrades().count();
            assert_eq!(new_installs, expected.new_installs, "{file}: new installs");
            assert_eq!(
                simulation.kept_back, expected.kept_back,
                "{file}: kept back"
            );
            assert_eq!(simulation.deferred, expected.deferred, "{file}: deferred");
        }
    }

    #[test]
    fn simulation_fixtures_fail() {
        let unrecognised = parse_simulation(&fixture("unrecognised-line.txt")).unwrap_err();
        assert_eq!(
            unrecognised,
            ParseError::UnrecognisedLine {
                number: 5,
                line: "Frobnicating the upgrade plan...".into()
            }
        );

        let truncated = parse_simulation(&fixture("truncated.txt")).unwrap_err();
        assert_eq!(truncated, ParseError::MissingSummary);

        let mismatch = parse_simulation(&fixture("count-mismatch.txt")).unwrap_err();
        assert!(
            matches!(
                mismatch,
                ParseError::CountMismatch {
                    expected: 2,
                    found: 1,
                    ..
                }
            ),
            "{mismatch}"
        );
    }

    #[test]
    fn simulation_origin_and_architecture() {
        let simulation = parse_simulation(&fixture("updates-security.txt")).unwrap();
        let libssl = &simulation.installs[0];
        assert_eq!(
            libssl.origins,
            ["Debian:12.5/stable", "Debian-Security:12/stable-security"]
        );
        assert_eq!(libssl.architecture.as_deref(), Some("amd64"));
        assert_eq!(simulation.installs[2].architecture.as_deref(), Some("all"));
    }

    #[test]
    fn simulation_rejects_stray_indented_line() {
        let output = "Reading package lists...\n   orphan-name\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n";
        assert!(matches!(
            parse_simulation(output),
            Err(ParseError::UnrecognisedLine { number: 2, .. })
        ));
    }
}
