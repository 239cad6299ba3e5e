//! Parser for the XML that `zypper --xmlout` prints for `list-updates`, `list-patches` and
//! `locks --solvables`.
//!
//! The document is a `<stream>` of `<message type="info|warning|error">` and `<progress>`
//! elements around one `<update-status>`, which holds an `<update-list>` of `<update>` elements
//! and, when the solver cannot install some updates, a `<blocked-update-list>`. Unknown elements
//! are errors where they could hold updates (inside `<update-status>` and the lists), because an
//! unread list would turn into a silent "no updates"; elsewhere they are skipped, so that new
//! details of an update do not break detection.

use roxmltree::{Document, Node};

/// Error in zypper XML that the parser does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("invalid XML: {0}")]
    Invalid(String),
    #[error("the root element is <{0}>, not <stream>")]
    NotStream(String),
    #[error("the output has no <update-status> element; it may be cut short")]
    MissingUpdateStatus,
    #[error("unexpected element <{element}> inside <{parent}>")]
    UnexpectedElement { element: String, parent: String },
    #[error("<update> without the attribute {0:?}")]
    MissingAttribute(&'static str),
    #[error("the output has no <locks> element; it may be cut short")]
    MissingLocks,
    #[error("<match> of a lock without the attribute {0:?}")]
    MissingMatchAttribute(&'static str),
}

/// One `<message>` of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `info`, `warning` or `error`.
    pub kind: String,
    pub text: String,
}

/// One `<update>` element: a package update or a patch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Update {
    /// `package`, `patch`, `pattern` or `product`.
    pub kind: String,
    pub name: String,
    /// New version, `[epoch:]version-release` for packages, the patch version for patches.
    pub edition: String,
    pub architecture: String,
    /// Installed version of a package update (zypper 1.14 and later).
    pub edition_old: Option<String>,
    /// Patch status: `needed`, `applied`, `not-needed` or `unwanted`.
    pub status: Option<String>,
    /// Patch category: `security`, `recommended`, `optional`, `feature`, `document`, `yast`.
    pub category: Option<String>,
    /// Patch severity: `critical`, `important`, `moderate`, `low` or `unspecified`.
    pub severity: Option<String>,
    /// Patch needs interaction (`true`, `false`, or a reason such as `reboot`).
    pub interactive: Option<String>,
    /// Alias of the repository that carries the update.
    pub repository: Option<String>,
    /// The solver cannot install this update now (`<blocked-update-list>`).
    pub blocked: bool,
}

/// Parsed `--xmlout` output of a list command.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Listing {
    pub messages: Vec<Message>,
    pub updates: Vec<Update>,
}

impl Listing {
    /// Returns the text of the error messages.
    pub fn errors(&self) -> Vec<&str> {
        self.messages
            .iter()
            .filter(|message| message.kind == "error")
            .map(|message| message.text.as_str())
            .collect()
    }
}

/// Parses the output of `zypper --xmlout list-updates` or `list-patches`.
pub fn parse_listing(xml: &str) -> Result<Listing, XmlError> {
    let document = Document::parse(xml).map_err(|error| XmlError::Invalid(error.to_string()))?;
    let stream = document.root_element();
    if stream.tag_name().name() != "stream" {
        return Err(XmlError::NotStream(stream.tag_name().name().to_owned()));
    }
    let mut listing = Listing::default();
    let mut found_status = false;
    for child in stream.children().filter(Node::is_element) {
        match child.tag_name().name() {
            "message" => listing.messages.push(Message {
                kind: child.attribute("type").unwrap_or("info").to_owned(),
                text: child.text().unwrap_or_default().trim().to_owned(),
            }),
            "update-status" => {
                found_status = true;
                read_update_status(child, &mut listing.updates)?;
            }
            // Progress reports and anything newer that cannot hold updates.
            _ => {}
        }
    }
    if !found_status {
        return Err(XmlError::MissingUpdateStatus);
    }
    Ok(listing)
}

/// One `<lock>` of `zypper --xmlout locks --solvables`: a lock added with `zypper addlock` and the
/// solvables it matches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Lock {
    /// The name or glob of the lock, such as `kernel-default` or `smtest-oth*`.
    pub pattern: String,
    /// `package`, `patch`, `pattern` or `product`.
    pub kind: String,
    pub matches: Vec<LockMatch>,
}

/// One solvable that a lock matches: an installed package or a version a repository offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockMatch {
    pub kind: String,
    pub name: String,
    pub edition: String,
    pub architecture: String,
    pub installed: bool,
}

/// Parses the output of `zypper --xmlout locks --solvables` (zypper 1.14).
pub fn parse_locks(xml: &str) -> Result<Vec<Lock>, XmlError> {
    let document = Document::parse(xml).map_err(|error| XmlError::Invalid(error.to_string()))?;
    let stream = document.root_element();
    if stream.tag_name().name() != "stream" {
        return Err(XmlError::NotStream(stream.tag_name().name().to_owned()));
    }
    let list = stream
        .children()
        .find(|child| child.has_tag_name("locks"))
        .ok_or(XmlError::MissingLocks)?;
    let mut locks = Vec::new();
    for element in list.children().filter(Node::is_element) {
        if !element.has_tag_name("lock") {
            return Err(XmlError::UnexpectedElement {
                element: element.tag_name().name().to_owned(),
                parent: "locks".to_owned(),
            });
        }
        locks.push(read_lock(element)?);
    }
    Ok(locks)
}

fn read_lock(element: Node<'_, '_>) -> Result<Lock, XmlError> {
    let text = |name: &str| {
        element
            .children()
            .find(|child| child.has_tag_name(name))
            .and_then(|child| child.text())
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let mut lock = Lock {
        pattern: text("name"),
        kind: text("type"),
        matches: Vec::new(),
    };
    let matches = element
        .children()
        .filter(|child| child.has_tag_name("matches"))
        .flat_map(|matches| {
            matches
                .children()
                .filter(|child| child.has_tag_name("match"))
        });
    for found in matches {
        let required = |name: &'static str| {
            found
                .attribute(name)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
                .ok_or(XmlError::MissingMatchAttribute(name))
        };
        lock.matches.push(LockMatch {
            kind: required("kind")?,
            name: required("name")?,
            edition: required("edition")?,
            architecture: found.attribute("arch").unwrap_or_default().to_owned(),
            installed: found.attribute("installed") == Some("true"),
        });
    }
    Ok(lock)
}

/// Returns the names of the packages that a package lock matches. Patch locks are left out,
/// because `list-patches` already reports a locked patch as `unwanted`.
pub fn locked_package_names(locks: &[Lock]) -> std::collections::BTreeSet<String> {
    locks
        .iter()
        .filter(|lock| lock.kind == "package")
        .flat_map(|lock| &lock.matches)
        .filter(|found| found.kind == "package")
        .map(|found| found.name.clone())
        .collect()
}

/// Parses the messages of any `--xmlout` output, for commands without an update list.
pub fn parse_messages(xml: &str) -> Result<Vec<Message>, XmlError> {
    let document = Document::parse(xml).map_err(|error| XmlError::Invalid(error.to_string()))?;
    Ok(document
        .root_element()
        .children()
        .filter(|node| node.has_tag_name("message"))
        .map(|node| Message {
            kind: node.attribute("type").unwrap_or("info").to_owned(),
            text: node.text().unwrap_or_default().trim().to_owned(),
        })
        .collect())
}

fn read_update_status(status: Node<'_, '_>, updates: &mut Vec<Update>) -> Result<(), XmlError> {
    for list in status.children().filter(Node::is_element) {
        let blocked = match list.tag_name().name() {
            "update-list" => false,
            "blocked-update-list" => true,
            other => {
                return Err(XmlError::UnexpectedElement {
                    element: other.to_owned(),
                    parent: "update-status".to_owned(),
                });
            }
        };
        for element in list.children().filter(Node::is_element) {
            if element.tag_name().name() != "update" {
                return Err(XmlError::UnexpectedElement {
                    element: element.tag_name().name().to_owned(),
                    parent: list.tag_name().name().to_owned(),
                });
            }
            updates.push(read_update(element, blocked)?);
        }
    }
    Ok(())
}

fn read_update(element: Node<'_, '_>, blocked: bool) -> Result<Update, XmlError> {
    let required = |name: &'static str| {
        element
            .attribute(name)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
            .ok_or(XmlError::MissingAttribute(name))
    };
    let optional = |name: &str| element.attribute(name).map(str::to_owned);
    let repository = element
        .children()
        .find(|child| child.has_tag_name("source"))
        .and_then(|source| source.attribute("alias"))
        .map(str::to_owned);
    Ok(Update {
        kind: required("kind")?,
        name: required("name")?,
        edition: required("edition")?,
        architecture: optional("arch").unwrap_or_default(),
        edition_old: optional("edition-old").filter(|edition| !edition.is_empty()),
        status: optional("status"),
        category: optional("category"),
        severity: optional("severity"),
        interactive: optional("interactive"),
        repository,
        blocked,
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
    fn locks_with_solvables() {
        let locks = parse_locks(&fixture("zypper/locks-solvables.xml")).unwrap();
        let summary: Vec<(&str, &str, usize)> = locks
            .iter()
            .map(|lock| {
                (
                    lock.pattern.as_str(),
                    lock.kind.as_str(),
                    lock.matches.len(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("SMTEST-2026-0001", "patch", 0),
                ("smtest-oth*", "package", 3),
                ("smtest-plain", "package", 3),
            ]
        );
        assert_eq!(
            locks[2].matches[1],
            LockMatch {
                kind: "package".into(),
                name: "smtest-plain".into(),
                edition: "1.0-1".into(),
                architecture: "noarch".into(),
                installed: true,
            }
        );
        let names: Vec<String> = locked_package_names(&locks).into_iter().collect();
        assert_eq!(names, ["smtest-other", "smtest-plain"]);
    }

    #[test]
    fn no_locks() {
        let locks = parse_locks(&fixture("zypper/locks-none.xml")).unwrap();
        assert!(locks.is_empty());
        assert!(locked_package_names(&locks).is_empty());
    }

    #[test]
    fn locks_cut_short() {
        let cut = "<?xml version='1.0'?>\n<stream>\n<message type=\"info\">Loading repository data...</message>\n</stream>";
        assert_eq!(parse_locks(cut), Err(XmlError::MissingLocks));
        let stray = "<stream><locks size=\"1\"><other/></locks></stream>";
        assert!(matches!(
            parse_locks(stray),
            Err(XmlError::UnexpectedElement { .. })
        ));
    }

    #[test]
    fn package_updates() {
        let listing = parse_listing(&fixture("zypper/list-updates.xml")).unwrap();
        assert_eq!(listing.messages.len(), 2);
        assert!(listing.errors().is_empty());
        let summary: Vec<(&str, &str, Option<&str>, Option<&str>)> = listing
            .updates
            .iter()
            .map(|update| {
                (
                    update.name.as_str(),
                    update.edition.as_str(),
                    update.edition_old.as_deref(),
                    update.repository.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("smtest-a", "1.1-1", Some("1.0-1"), Some("zt")),
                ("smtest-epoch", "2:1.5-1", Some("1:1.0-1"), Some("zt")),
                ("smtest-plain", "2.0-1", Some("1.0-1"), Some("zt")),
                ("smtest-secure", "2.0-1", Some("1.0-1"), Some("zt")),
            ]
        );
        assert!(
            listing
                .updates
                .iter()
                .all(|update| update.kind == "package")
        );
    }

    #[test]
    fn patches() {
        let listing = parse_listing(&fixture("zypper/list-patches.xml")).unwrap();
        assert_eq!(listing.updates.len(), 2);
        let security = &listing.updates[0];
        assert_eq!(security.kind, "patch");
        assert_eq!(security.name, "SMTEST-2026-0001");
        assert_eq!(security.category.as_deref(), Some("security"));
        assert_eq!(security.severity.as_deref(), Some("important"));
        assert_eq!(security.status.as_deref(), Some("needed"));
        assert_eq!(listing.updates[1].category.as_deref(), Some("recommended"));
    }

    #[test]
    fn sles_patches_and_blocked_updates() {
        let listing = parse_listing(&fixture("zypper/list-patches-sles.xml")).unwrap();
        assert_eq!(listing.updates.len(), 3);
        assert_eq!(listing.updates[0].interactive.as_deref(), Some("reboot"));
        assert_eq!(listing.updates[2].category.as_deref(), Some("optional"));

        let listing = parse_listing(&fixture("zypper/list-updates-blocked.xml")).unwrap();
        assert_eq!(listing.updates.len(), 2);
        assert!(!listing.updates[0].blocked);
        assert!(listing.updates[1].blocked);
        assert_eq!(listing.updates[1].edition_old, None);
    }

    #[test]
    fn errors() {
        let locked = parse_listing(&fixture("zypper/locked.xml")).unwrap_err();
        assert_eq!(locked, XmlError::MissingUpdateStatus);
        let messages = parse_messages(&fixture("zypper/locked.xml")).unwrap();
        assert_eq!(messages[0].kind, "error");
        assert!(messages[0].text.contains("pid 14941 (sleep)"));

        let truncated = fixture("zypper/list-updates.xml");
        let cut = &truncated[..truncated.len() / 2];
        assert!(matches!(parse_listing(cut), Err(XmlError::Invalid(_))));

        let unknown =
            "<stream><update-status version=\"0.6\"><frobnicated-list/></update-status></stream>";
        assert!(matches!(
            parse_listing(unknown),
            Err(XmlError::UnexpectedElement { .. })
        ));
        let unknown = "<stream><update-status><update-list><patch name=\"x\"/></update-list></update-status></stream>";
        assert!(matches!(
            parse_listing(unknown),
            Err(XmlError::UnexpectedElement { .. })
        ));
        let missing = "<stream><update-status><update-list><update kind=\"package\" name=\"x\"/></update-list></update-status></stream>";
        assert_eq!(
            parse_listing(missing),
            Err(XmlError::MissingAttribute("edition"))
        );
        assert!(matches!(
            parse_listing("<other/>"),
            Err(XmlError::NotStream(_))
        ));

        // Unknown details of an update and unknown stream elements are skipped.
        let extra = "<stream><frob/><update-status><update-list><update kind=\"package\" name=\"x\" edition=\"2-1\" arch=\"noarch\"><new-detail/></update></update-list></update-status></stream>";
        assert_eq!(parse_listing(extra).unwrap().updates.len(), 1);
    }
}
