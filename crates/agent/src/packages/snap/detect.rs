//! Parsers for the snap output that update detection reads (snapd 2.61, Ubuntu 22.04 and 24.04):
//! the tables of `snap refresh --list` and `snap list`.
//!
//! snap aligns its tables with Go's `text/tabwriter`, which counts characters, not bytes, and
//! publishers carry a `✓` or `**` mark. The parser therefore cuts each row at the character
//! positions of the header's column titles, and rejects a row whose cells do not line up.

use std::collections::BTreeSet;

use sysmanage_protocol::validate_package_name_for;

use super::MANAGER;

/// One row of `snap refresh --list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapRefresh {
    pub name: String,
    pub version: String,
    pub revision: String,
    pub publisher: String,
    /// Notes such as `classic` or `held`, empty for `-`.
    pub notes: Vec<String>,
}

/// Error in snap output that the parser does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the header line {line:?} lacks the column {column:?}")]
    MissingColumn { column: &'static str, line: String },
    #[error("unrecognised line {number}: {line:?}")]
    UnrecognisedLine { number: usize, line: String },
}

/// Splits a row into cells at the character positions where the header's titles start.
fn cells(row: &str, starts: &[usize]) -> Option<Vec<String>> {
    let characters: Vec<char> = row.chars().collect();
    let mut cells = Vec::with_capacity(starts.len());
    for (index, start) in starts.iter().enumerate() {
        let end = starts.get(index + 1).copied().unwrap_or(characters.len());
        // A cell must start at its column and the one before it must end in a space.
        if *start > characters.len() || (*start > 0 && characters.get(start - 1) != Some(&' ')) {
            return None;
        }
        let cell: String = characters
            .get(*start..end.min(characters.len()))?
            .iter()
            .collect();
        let cell = cell.trim();
        if cell.is_empty() || cell.contains(' ') {
            return None;
        }
        cells.push(cell.to_owned());
    }
    Some(cells)
}

/// Returns the character position of each title in the header line.
fn column_starts(header: &str, titles: &[&'static str]) -> Result<Vec<usize>, ParseError> {
    let words: Vec<(usize, &str)> = {
        let mut words = Vec::new();
        let mut start = None;
        for (position, character) in header.chars().chain(std::iter::once(' ')).enumerate() {
            match (character == ' ', start) {
                (false, None) => start = Some(position),
                (true, Some(begin)) => {
                    words.push(begin);
                    start = None;
                }
                _ => {}
            }
        }
        let texts: Vec<&str> = header.split_whitespace().collect();
        words.into_iter().zip(texts).collect()
    };
    titles
        .iter()
        .map(|title| {
            words
                .iter()
                .find(|(_, word)| word == title)
                .map(|(position, _)| *position)
                .ok_or_else(|| ParseError::MissingColumn {
                    column: title,
                    line: header.to_owned(),
                })
        })
        .collect()
}

const REFRESH_TITLES: [&str; 6] = ["Name", "Version", "Rev", "Size", "Publisher", "Notes"];

/// Parses the stdout of `snap refresh --list`. Empty output means nothing to refresh: snap then
/// prints "All snaps up to date." on stderr and exits 0.
pub fn parse_refresh_list(output: &str) -> Result<Vec<SnapRefresh>, ParseError> {
    let mut lines = output
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Ok(Vec::new());
    };
    let starts = column_starts(header, &REFRESH_TITLES)?;
    let mut refreshes = Vec::new();
    for (index, line) in lines {
        let unrecognised = || ParseError::UnrecognisedLine {
            number: index + 1,
            line: line.to_owned(),
        };
        let cells = cells(line, &starts).ok_or_else(unrecognised)?;
        let [name, version, revision, _size, publisher, notes] = cells.as_slice() else {
            return Err(unrecognised());
        };
        if validate_package_name_for(MANAGER, name).is_err()
            || !revision.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(unrecognised());
        }
        refreshes.push(SnapRefresh {
            name: name.clone(),
            version: version.clone(),
            revision: revision.clone(),
            publisher: publisher
                .trim_end_matches('✓')
                .trim_end_matches("**")
                .to_owned(),
            notes: notes_of(notes),
        });
    }
    Ok(refreshes)
}

fn notes_of(cell: &str) -> Vec<String> {
    if cell == "-" {
        Vec::new()
    } else {
        cell.split(',').map(str::to_owned).collect()
    }
}

const LIST_TITLES: [&str; 6] = ["Name", "Version", "Rev", "Tracking", "Publisher", "Notes"];

/// One row of `snap list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledSnap {
    pub name: String,
    pub version: String,
    /// Refreshes are held with `snap refresh --hold`.
    pub held: bool,
}

/// Parses the output of `snap list`.
pub fn parse_list(output: &str) -> Result<Vec<InstalledSnap>, ParseError> {
    let mut lines = output
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Ok(Vec::new());
    };
    let starts = column_starts(header, &LIST_TITLES)?;
    let mut snaps = Vec::new();
    for (index, line) in lines {
        let unrecognised = || ParseError::UnrecognisedLine {
            number: index + 1,
            line: line.to_owned(),
        };
        let row = cells(line, &starts).ok_or_else(unrecognised)?;
        let [name, version, _revision, _tracking, _publisher, notes] = row.as_slice() else {
            return Err(unrecognised());
        };
        snaps.push(InstalledSnap {
            name: name.clone(),
            version: version.clone(),
            held: notes_of(notes).iter().any(|note| note == "held"),
        });
    }
    Ok(snaps)
}

/// Returns the names of held snaps in the output of `snap list`.
pub fn parse_held(output: &str) -> Result<BTreeSet<String>, ParseError> {
    Ok(parse_list(output)?
        .into_iter()
        .filter(|snap| snap.held)
        .map(|snap| snap.name)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/snap/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap()
    }

    #[test]
    fn refresh_list_fixture() {
        let refreshes = parse_refresh_list(&fixture("refresh-list.txt")).unwrap();
        let rows: Vec<(&str, &str, &str, &str)> = refreshes
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    r.version.as_str(),
                    r.revision.as_str(),
                    r.publisher.as_str(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("core22", "20240408", "1380", "canonical"),
                ("firefox", "125.0.1-1", "4173", "mozilla"),
                ("lxd", "5.21.1-d46c406", "28373", "canonical"),
                ("code", "e170252f", "157", "vscode"),
            ]
        );
        assert_eq!(refreshes[2].notes, ["held"]);
        assert_eq!(refreshes[3].notes, ["classic"]);
        assert!(refreshes[0].notes.is_empty());
    }

    #[test]
    fn refresh_list_none_and_errors() {
        assert_eq!(
            parse_refresh_list(&fixture("refresh-none.txt")),
            Ok(Vec::new())
        );
        let error = parse_refresh_list(&fixture("refresh-unrecognised.txt")).unwrap_err();
        assert!(
            matches!(error, ParseError::UnrecognisedLine { number: 3, .. }),
            "{error}"
        );
        let error = parse_refresh_list("Name  Version  Publisher\nfoo  1  bar\n").unwrap_err();
        assert!(
            matches!(error, ParseError::MissingColumn { column: "Rev", .. }),
            "{error}"
        );
    }

    #[test]
    fn held_from_snap_list() {
        let held = parse_held(&fixture("list-held.txt")).unwrap();
        assert_eq!(held.into_iter().collect::<Vec<_>>(), ["lxd"]);
    }
}
