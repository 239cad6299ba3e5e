//! Parser for `softwareupdate --list`, written against macOS 13 Ventura and 14 Sonoma.
//!
//! Each update is a `* Label: LABEL` line followed by a tab-indented
//! `Title: ..., Version: ..., Size: ...KiB, Recommended: YES, Action: restart,` line. When
//! nothing is available the tool prints "No new software available." on stderr.

/// One available update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoftwareUpdateItem {
    /// Label that `softwareupdate --install` takes; it may contain spaces.
    pub label: String,
    pub title: String,
    pub version: String,
    pub recommended: bool,
    /// `Action: restart` or `Action: shut down`: the Mac must restart to finish.
    pub restart_required: bool,
}

impl SoftwareUpdateItem {
    /// Returns whether Apple marks the update as a security fix: a "Security Update", a
    /// "Background Security Improvement" or a Rapid Security Response (label or title with
    /// "Rapid Security Response", or a version suffix such as `(a)`).
    pub fn is_security(&self) -> bool {
        let text = format!("{} {}", self.label, self.title);
        text.contains("Security Update")
            || text.contains("Background Security Improvement")
            || text.contains("Rapid Security Response")
            || self.version.trim_end().ends_with(')')
    }
}

/// Error in the output that the parser does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unrecognised line {number}: {line:?}")]
    UnrecognisedLine { number: usize, line: String },
    #[error("the label {label:?} has no Title/Version line")]
    MissingDetails { label: String },
}

const PROGRESS_LINES: &[&str] = &[
    "Software Update Tool",
    "Finding available software",
    "Software Update found the following new or updated software:",
];

/// Parses `softwareupdate --list` stdout.
pub fn parse_list(output: &str) -> Result<Vec<SoftwareUpdateItem>, ParseError> {
    let mut items = Vec::new();
    let mut pending_label: Option<String> = None;
    for (index, line) in output.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || PROGRESS_LINES.contains(&trimmed) {
            continue;
        }
        if let Some(label) = trimmed.strip_prefix("* Label: ") {
            if let Some(label) = pending_label.take() {
                return Err(ParseError::MissingDetails { label });
            }
            pending_label = Some(label.to_owned());
            continue;
        }
        if (line.starts_with('\t') || line.starts_with("    "))
            && let Some(label) = pending_label.take()
            && let Some(item) = parse_details(label, trimmed)
        {
            items.push(item);
            continue;
        }
        return Err(ParseError::UnrecognisedLine {
            number,
            line: line.to_owned(),
        });
    }
    if let Some(label) = pending_label {
        return Err(ParseError::MissingDetails { label });
    }
    Ok(items)
}

/// Parses the `Title: ..., Version: ..., ...` line. A title may contain commas, so fields are
/// found by their `, Key: ` separators.
fn parse_details(label: String, line: &str) -> Option<SoftwareUpdateItem> {
    let rest = line.strip_prefix("Title: ")?;
    let (title, rest) = rest.split_once(", Version: ")?;
    let (version, rest) = rest.split_once(", ").unwrap_or((rest, ""));
    let field = |key: &str| {
        rest.split(", ")
            .find_map(|part| part.trim_end_matches(',').strip_prefix(key))
            .map(str::to_owned)
    };
    Some(SoftwareUpdateItem {
        label,
        title: title.to_owned(),
        version: version.trim_end_matches(',').to_owned(),
        recommended: field("Recommended: ").as_deref() == Some("YES"),
        restart_required: matches!(field("Action: ").as_deref(), Some("restart" | "shut down")),
    })
}

/// Returns whether stderr says that nothing is available.
pub fn is_nothing_available(stderr: &str) -> bool {
    stderr
        .lines()
        .any(|line| line.trim() == "No new software available.")
}

/// Returns who keeps Software Update busy when the output says so: another session
/// ("Software Update is already running") or the `softwareupdated` daemon reporting that it is
/// busy.
pub fn busy_holder(output: &str) -> Option<String> {
    output.lines().map(str::trim).find_map(|line| {
        let lower = line.to_ascii_lowercase();
        if lower.contains("software update is already running") {
            Some("another Software Update session".to_owned())
        } else if lower.contains("softwareupdated") && lower.contains("busy") {
            Some("the softwareupdated daemon (busy)".to_owned())
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/testdata/softwareupdate/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[test]
    fn list_with_updates() {
        let items = parse_list(&fixture("list-updates.txt")).unwrap();
        let found: Vec<(&str, bool, bool)> = items
            .iter()
            .map(|item| {
                (
                    item.label.as_str(),
                    item.restart_required,
                    item.is_security(),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                ("macOS Ventura 13.6.1-22G313", true, false),
                ("Safari17.1VenturaAuto-17.1", false, false),
                ("Background Security Improvement 13.6.1 (a)", true, true),
                ("Security Update 2023-006 (Monterey)-12.7.1", true, true),
                ("Command Line Tools for Xcode-15.0", false, false),
            ]
        );
        assert_eq!(items[0].version, "13.6.1");
        assert_eq!(items[1].title, "Safari, Web Browser");
    }

    #[test]
    fn nothing_available() {
        assert!(
            parse_list("Software Update Tool\n\nFinding available software\n")
                .unwrap()
                .is_empty()
        );
        assert!(is_nothing_available(&fixture("none-stderr.txt")));
    }

    #[test]
    fn stray_line_fails() {
        let error = parse_list(&fixture("unrecognised.txt")).unwrap_err();
        assert!(
            matches!(&error, ParseError::UnrecognisedLine { line, .. } if line.contains("server")),
            "{error}"
        );
    }

    #[test]
    fn labels_and_versions_are_valid_names() {
        for item in parse_list(&fixture("list-updates.txt")).unwrap() {
            assert_eq!(
                sysmanage_protocol::validate_package_name_for("softwareupdate", &item.label),
                Ok(()),
                "{}",
                item.label
            );
            assert_eq!(
                sysmanage_protocol::validate_version_for("softwareupdate", &item.version),
                Ok(()),
                "{}",
                item.version
            );
        }
    }

    #[test]
    fn busy_messages() {
        assert_eq!(
            busy_holder(&fixture("busy-already-running.txt")).as_deref(),
            Some("another Software Update session")
        );
        assert_eq!(
            busy_holder(&fixture("busy-daemon.txt")).as_deref(),
            Some("the softwareupdated daemon (busy)")
        );
        assert_eq!(busy_holder(&fixture("list-updates.txt")), None);
        assert_eq!(busy_holder(&fixture("none-stderr.txt")), None);
    }
}
