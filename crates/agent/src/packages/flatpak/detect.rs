//! Parsers for the flatpak output that update detection reads (flatpak 1.14): the
//! tab-separated cells of `flatpak remote-ls --updates --columns=...` and `flatpak list
//! --columns=...`. Cells are read by position, never by their titles.

/// Column titles flatpak prints first when stdout is a terminal.
const TITLES: [&str; 2] = ["Application ID", "Application"];

/// One row of `flatpak remote-ls --updates --columns=application,version,branch,origin,arch,commit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUpdate {
    pub application: String,
    /// Version from the app's metadata, empty for most runtimes.
    pub version: String,
    pub branch: String,
    pub origin: String,
    pub architecture: String,
    /// Commit of the update, shortened to 12 characters by flatpak.
    pub commit: String,
}

impl RemoteUpdate {
    /// Returns the flatpak ref `ID/ARCH/BRANCH`, which names one installation unambiguously.
    pub fn reference(&self) -> String {
        format!("{}/{}/{}", self.application, self.architecture, self.branch)
    }
}

/// One row of `flatpak list --columns=application,version,branch,arch,active`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub application: String,
    pub version: String,
    pub branch: String,
    pub architecture: String,
    pub commit: String,
}

impl Installed {
    pub fn reference(&self) -> String {
        format!("{}/{}/{}", self.application, self.architecture, self.branch)
    }
}

/// Error in flatpak output that the parser does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognised line {number}: {line:?}")]
pub struct ParseError {
    pub number: usize,
    pub line: String,
}

/// Splits the rows into exactly `count` cells each, skipping a title row and empty lines.
fn rows(output: &str, count: usize) -> Result<Vec<Vec<&str>>, ParseError> {
    let mut rows = Vec::new();
    for (index, line) in output.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split('\t').collect();
        if index == 0 && cells.first().is_some_and(|cell| TITLES.contains(cell)) {
            continue;
        }
        let identifiers_present = [0, 2, count - 2, count - 1]
            .iter()
            .all(|position| cells.get(*position).is_some_and(|cell| !cell.is_empty()));
        if cells.len() != count || !identifiers_present {
            return Err(ParseError {
                number: index + 1,
                line: line.to_owned(),
            });
        }
        rows.push(cells);
    }
    Ok(rows)
}

/// Parses `flatpak remote-ls --updates --columns=application,version,branch,origin,arch,commit`.
pub fn parse_remote_updates(output: &str) -> Result<Vec<RemoteUpdate>, ParseError> {
    Ok(rows(output, 6)?
        .into_iter()
        .filter_map(|cells| match cells.as_slice() {
            [application, version, branch, origin, architecture, commit] => Some(RemoteUpdate {
                application: (*application).to_owned(),
                version: (*version).to_owned(),
                branch: (*branch).to_owned(),
                origin: (*origin).to_owned(),
                architecture: (*architecture).to_owned(),
                commit: (*commit).to_owned(),
            }),
            _ => None,
        })
        .collect())
}

/// Parses `flatpak list --columns=application,version,branch,arch,active`.
pub fn parse_installed(output: &str) -> Result<Vec<Installed>, ParseError> {
    Ok(rows(output, 5)?
        .into_iter()
        .filter_map(|cells| match cells.as_slice() {
            [application, version, branch, architecture, commit] => Some(Installed {
                application: (*application).to_owned(),
                version: (*version).to_owned(),
                branch: (*branch).to_owned(),
                architecture: (*architecture).to_owned(),
                commit: (*commit).to_owned(),
            }),
            _ => None,
        })
        .collect())
}

/// Returns the version an update is reported with: the app's version, or the commit when the
/// metadata has none, because the protocol needs a non-empty version.
pub fn version_or_commit(version: &str, commit: &str) -> String {
    if version.is_empty() {
        commit.to_owned()
    } else {
        version.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/flatpak/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap()
    }

    #[test]
    fn remote_updates_fixture() {
        let updates = parse_remote_updates(&fixture("remote-ls-updates.txt")).unwrap();
        let references: Vec<String> = updates.iter().map(RemoteUpdate::reference).collect();
        assert_eq!(
            references,
            [
                "org.mozilla.firefox/x86_64/stable",
                "org.freedesktop.Platform/x86_64/23.08",
                "org.freedesktop.Platform.GL.default/x86_64/23.08",
                "org.freedesktop.Platform.GL32.default/i386/23.08",
                "org.gnome.Platform/x86_64/45",
                "org.gnome.Platform/x86_64/46",
            ]
        );
        assert_eq!(updates[0].version, "125.0.1");
        assert_eq!(updates[0].origin, "flathub");
        assert_eq!(updates[4].version, "");
        assert_eq!(updates[4].commit, "2b3c4d5e6f70");
    }

    #[test]
    fn remote_updates_header_none_and_errors() {
        let with_header = parse_remote_updates(&fixture("remote-ls-header.txt")).unwrap();
        assert_eq!(with_header.len(), 1);
        assert_eq!(
            parse_remote_updates(&fixture("remote-ls-none.txt")),
            Ok(Vec::new())
        );
        let error = parse_remote_updates(&fixture("remote-ls-unrecognised.txt")).unwrap_err();
        assert_eq!(error.number, 1);
        assert!(parse_remote_updates("org.a\t1\t\tflathub\tx86_64\tabc\n").is_err());
    }

    #[test]
    fn installed_fixture() {
        let installed = parse_installed(&fixture("list-installed.txt")).unwrap();
        assert_eq!(installed.len(), 3);
        assert_eq!(
            installed[0].reference(),
            "org.mozilla.firefox/x86_64/stable"
        );
        assert_eq!(installed[0].version, "124.0.2");
        assert_eq!(installed[2].commit, "1f2e3d4c5b6a");
    }

    #[test]
    fn version_falls_back_to_commit() {
        assert_eq!(version_or_commit("125.0.1", "4f0a1c2d3e4f"), "125.0.1");
        assert_eq!(version_or_commit("", "4f0a1c2d3e4f"), "4f0a1c2d3e4f");
    }
}
