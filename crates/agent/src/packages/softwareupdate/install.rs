//! Installs with `softwareupdate --install LABEL...`: label lookup and argument building.
//!
//! The agent never passes `--restart`: the administrator decides when the Mac restarts, and
//! the result reports that a restart is required.

use std::collections::BTreeMap;

use sysmanage_protocol::PackageSpec;

use super::detect::SoftwareUpdateItem;

/// Maps labels, which are the protocol names, to the items of the current list. A label that
/// the list shows twice maps to `None`, because the install cannot tell which one was approved.
pub fn items_by_label(
    items: &[SoftwareUpdateItem],
) -> BTreeMap<String, Option<&SoftwareUpdateItem>> {
    let mut map: BTreeMap<String, Option<&SoftwareUpdateItem>> = BTreeMap::new();
    for item in items {
        map.entry(item.label.clone())
            .and_modify(|entry| *entry = None)
            .or_insert(Some(item));
    }
    map
}

/// Finds the label of an approved spec. Fails when the label is gone, ambiguous, or now
/// carries another version than the approved one (softwareupdate cannot install an older one).
pub fn label_for<'a>(
    spec: &PackageSpec,
    items: &BTreeMap<String, Option<&'a SoftwareUpdateItem>>,
) -> Result<&'a SoftwareUpdateItem, String> {
    match items.get(&spec.name) {
        None => Err("softwareupdate no longer lists this update".to_owned()),
        Some(None) => Err(
            "softwareupdate lists this label twice, so the approved one is unclear; install it \
             by hand"
                .to_owned(),
        ),
        Some(Some(item)) if item.version != spec.version => Err(format!(
            "softwareupdate now offers version {}, not the approved {}; softwareupdate cannot \
             install another version",
            item.version, spec.version
        )),
        Some(Some(item)) => Ok(item),
    }
}

/// Builds the arguments that install these labels, one argument per label.
pub fn install_arguments(labels: &[&str]) -> Vec<String> {
    std::iter::once("--install".to_owned())
        .chain(labels.iter().map(|label| (*label).to_owned()))
        .collect()
}

/// Builds the arguments that install every available update.
pub fn install_all_arguments() -> Vec<String> {
    vec!["--install".to_owned(), "--all".to_owned()]
}

/// Decodes the exit status of `softwareupdate --install`: 0 is success.
pub fn decode_exit_code(code: Option<i32>) -> Result<(), String> {
    match code {
        Some(0) => Ok(()),
        Some(code) => Err(format!("softwareupdate exited with status {code}")),
        None => Err("softwareupdate was killed by a signal".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::softwareupdate::detect::parse_list;

    fn items() -> Vec<SoftwareUpdateItem> {
        let path = format!(
            "{}/testdata/softwareupdate/list-updates.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        parse_list(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn spec(name: &str, version: &str) -> PackageSpec {
        PackageSpec {
            manager: "softwareupdate".into(),
            name: name.into(),
            version: version.into(),
        }
    }

    #[test]
    fn label_with_spaces_is_one_argument() {
        let items = items();
        let map = items_by_label(&items);
        let spec = spec("macOS Ventura 13.6.1-22G313", "13.6.1");
        assert_eq!(sysmanage_protocol::validate_package_spec(&spec), Ok(()));
        let item = label_for(&spec, &map).unwrap();
        assert_eq!(
            install_arguments(&[item.label.as_str()]),
            ["--install", "macOS Ventura 13.6.1-22G313"]
        );
        assert_eq!(install_all_arguments(), ["--install", "--all"]);
    }

    #[test]
    fn labels_with_brackets_are_one_argument_each() {
        let items = items();
        let map = items_by_label(&items);
        let rapid = label_for(
            &spec("Background Security Improvement 13.6.1 (a)", "13.6.1 (a)"),
            &map,
        )
        .unwrap();
        let security = label_for(
            &spec("Security Update 2023-006 (Monterey)-12.7.1", "12.7.1"),
            &map,
        )
        .unwrap();
        assert_eq!(
            install_arguments(&[rapid.label.as_str(), security.label.as_str()]),
            [
                "--install",
                "Background Security Improvement 13.6.1 (a)",
                "Security Update 2023-006 (Monterey)-12.7.1",
            ]
        );
    }

    #[test]
    fn changed_or_missing_label_is_refused() {
        let items = items();
        let map = items_by_label(&items);
        assert!(label_for(&spec("macOS Ventura 13.6.1-22G313", "13.6.2"), &map).is_err());
        assert!(label_for(&spec("macOS Sonoma 14.1-23B74", "14.1"), &map).is_err());
    }

    #[test]
    fn repeated_label_is_ambiguous() {
        let mut items = items();
        let twin = items[0].clone();
        items.push(twin);
        let map = items_by_label(&items);
        let error = label_for(&spec("macOS Ventura 13.6.1-22G313", "13.6.1"), &map).unwrap_err();
        assert!(error.contains("twice"), "{error}");
    }

    #[test]
    fn exit_codes() {
        assert_eq!(decode_exit_code(Some(0)), Ok(()));
        assert!(decode_exit_code(Some(1)).is_err());
        assert!(decode_exit_code(None).is_err());
    }
}
