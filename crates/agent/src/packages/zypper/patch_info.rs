//! Which package versions a patch brings, from `zypper info -t patch ID...`.
//!
//! `list-patches` does not name the packages of a patch, and `info` has no XML form (with
//! `--xmlout` it wraps the same text in `<message>` elements), so this parser reads the text.
//! A patch "conflicts" with every package version older than the fix, one line per package:
//! `Conflicts   : smtest-secure < 2.0-1` or `Conflicts   : [2]` followed by indented lines
//! `    kernel-default.x86_64 < 5.14.21-150500.55.65.1`.

use std::collections::BTreeMap;

use crate::packages::version::rpm::split_architecture;

/// A package version that a patch requires at least.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedPackage {
    pub name: String,
    /// Architecture when the conflict names one.
    pub architecture: Option<String>,
    /// The first version that is not affected, `[epoch:]version-release`.
    pub edition: String,
}

/// Parses `zypper info -t patch ID...` into the fixed packages of each patch, by patch name.
pub fn parse_patch_info(output: &str) -> BTreeMap<String, Vec<FixedPackage>> {
    let mut patches: BTreeMap<String, Vec<FixedPackage>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_conflicts = false;
    for line in output.lines() {
        if let Some(name) = line
            .strip_prefix("Information for patch ")
            .and_then(|rest| rest.strip_suffix(':'))
        {
            current = Some(name.to_owned());
            patches.entry(name.to_owned()).or_default();
            in_conflicts = false;
            continue;
        }
        let Some(patch) = current.as_ref() else {
            continue;
        };
        if let Some((key, value)) = line.split_once(':').filter(|_| !line.starts_with(' ')) {
            in_conflicts = key.trim() == "Conflicts";
            if in_conflicts
                && !value.trim().starts_with('[')
                && let Some(fixed) = parse_conflict(value)
            {
                patches.entry(patch.clone()).or_default().push(fixed);
            }
            continue;
        }
        if in_conflicts && line.starts_with(' ') {
            if let Some(fixed) = parse_conflict(line) {
                patches.entry(patch.clone()).or_default().push(fixed);
            }
            continue;
        }
        in_conflicts = false;
    }
    patches
}

/// Parses `name[.arch] < edition`; other relations do not describe a fix and are skipped.
fn parse_conflict(text: &str) -> Option<FixedPackage> {
    let (name, edition) = text.trim().split_once(" < ")?;
    let edition = edition.trim();
    if name.is_empty() || edition.is_empty() || edition.contains(' ') {
        return None;
    }
    let (name, architecture) = match split_architecture(name) {
        Some((name, architecture)) => (name, Some(architecture.to_owned())),
        None => (name, None),
    };
    Some(FixedPackage {
        name: name.to_owned(),
        architecture,
        edition: edition.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(path: &str) -> String {
        let path = format!("{}/testdata/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[test]
    fn real_info_of_two_patches() {
        let patches = parse_patch_info(&fixture("zypper/patch-info.txt"));
        assert_eq!(patches.len(), 2);
        let security = &patches["SMTEST-2026-0001"];
        assert_eq!(
            security,
            &[
                FixedPackage {
                    name: "smtest-secure".into(),
                    architecture: None,
                    edition: "2.0-1".into()
                },
                FixedPackage {
                    name: "smtest-epoch".into(),
                    architecture: None,
                    edition: "2:1.5-1".into()
                },
            ]
        );
        assert_eq!(patches["SMTEST-2026-0002"][0].name, "smtest-a");
    }

    #[test]
    fn architectures_and_other_relations() {
        let output = "Information for patch SUSE-2024-1648:\n\
                      ---------------------------------\n\
                      Name        : SUSE-2024-1648\n\
                      Description : \n    Fixes things < 2 worries.\n\
                      Provides    : patch:SUSE-2024-1648 = 1\n\
                      Conflicts   : [3]\n    kernel-default.x86_64 < 5.14.21-150500.55.65.1\n    kernel-default-base.x86_64 <= 1\n    kernel-source.noarch < 5.14.21-150500.55.65.1\n\n";
        let patches = parse_patch_info(output);
        let fixed = &patches["SUSE-2024-1648"];
        assert_eq!(fixed.len(), 2);
        assert_eq!(fixed[0].architecture.as_deref(), Some("x86_64"));
        assert_eq!(fixed[1].name, "kernel-source");
    }
}
