//! Parsers for the tables that `winget upgrade` and `winget list` print.
//!
//! Written against winget 1.6 and 1.7 on Windows 11 23H2. winget prints its headers and footers
//! in the Windows display language and ignores `LC_ALL`, so the parser never reads the words:
//! column positions come from the header line that stands above the separator line of dashes,
//! measured in display columns (East Asian wide characters take two). The columns are, by
//! position: name, id, installed version, available version, and source.

use unicode_width::UnicodeWidthChar;

/// Character winget puts at the end of a value that it cut to fit the column.
pub const TRUNCATION_MARK: char = '\u{2026}';

/// One data row of a winget table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub name: String,
    pub id: String,
    pub version: String,
    pub available: String,
    pub source: Option<String>,
    /// The row as printed, for error messages.
    pub line: String,
}

impl Row {
    /// Returns whether winget cut the id or a version, so that the row must not be acted on.
    pub fn is_truncated(&self) -> bool {
        [&self.id, &self.version, &self.available]
            .iter()
            .any(|value| value.ends_with(TRUNCATION_MARK))
    }
}

/// Prefixes of the local ids that winget makes up for software no source provides: entries of
/// Add/Remove Programs (`ARP\Machine\X64\{GUID}`) and MSIX packages
/// (`MSIX\Microsoft.AV1VideoExtension_2.0.24.0_x64__8wekyb3d8bbwe`).
const LOCAL_ID_PREFIXES: [&str; 2] = ["ARP\\", "MSIX\\"];

/// Returns whether `id` is a local id, which `winget upgrade --id` cannot upgrade because no
/// source has a package with that id.
pub fn is_local_id(id: &str) -> bool {
    LOCAL_ID_PREFIXES
        .iter()
        .any(|prefix| id.starts_with(prefix))
}

/// Parsed output of `winget upgrade --include-unknown`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpgradeTables {
    /// Rows of the first table: upgrades that `winget upgrade --all` installs.
    pub available: Vec<Row>,
    /// Rows of any later table: packages that are pinned or need explicit targeting.
    pub explicit: Vec<Row>,
}

/// Error in winget output that the parser does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unrecognised line {number}: {line:?}")]
    UnrecognisedLine { number: usize, line: String },
    #[error("the header line {number} has {found} columns, expected at least 4: {line:?}")]
    TooFewColumns {
        number: usize,
        found: usize,
        line: String,
    },
}

/// Cleans one line of console output: winget draws its spinner and progress bars with carriage
/// returns, so only the text after the last `\r` is what the line finally shows.
fn visible_text(line: &str) -> &str {
    let line = line.rsplit('\r').next().unwrap_or(line);
    line.trim_end()
}

/// Returns whether a line is a spinner frame or a progress bar of a source update.
fn is_progress(line: &str) -> bool {
    let trimmed = line.trim();
    trimmed.chars().all(|c| matches!(c, '-' | '\\' | '|' | '/')) && trimmed.chars().count() <= 1
        || trimmed.contains('\u{2588}')
        || trimmed.contains('\u{2592}')
}

fn is_separator(line: &str) -> bool {
    line.len() >= 10 && line.chars().all(|c| c == '-')
}

/// Returns the display-column start of each header word.
///
/// NOTE: a column title with an inner space would be read as two columns. No translation that
/// winget 1.7 ships has one in these five titles, but that is not guaranteed for later ones.
fn column_starts(header: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut position = 0;
    let mut previous_is_space = true;
    for c in header.chars() {
        let is_space = c == ' ';
        if !is_space && previous_is_space {
            starts.push(position);
        }
        previous_is_space = is_space;
        position += c.width().unwrap_or(0);
    }
    starts
}

/// Cuts a row into the columns that start at `starts`, by display width, without trimming.
///
/// Returns `None` when the row does not fit the header: a character other than a space covers
/// the display column just before a column start, where winget prints the space between two
/// columns. A wide character that straddles a column start fails this check too.
fn split_columns(line: &str, starts: &[usize]) -> Option<Vec<String>> {
    let mut columns = vec![String::new(); starts.len()];
    let mut position = 0;
    for c in line.chars() {
        let width = c.width().unwrap_or(0);
        let covers_separator = starts
            .iter()
            .any(|start| *start > 0 && (position..position + width).contains(&(start - 1)));
        if c != ' ' && covers_separator {
            return None;
        }
        let index = starts
            .iter()
            .rposition(|start| *start <= position)
            .unwrap_or(0);
        columns[index].push(c);
        position += width;
    }
    Some(columns)
}

/// Parses one data row with the column starts of its header, or returns `None` when the line
/// does not have the structure of a row.
///
/// Names and ids may contain spaces, as in the Add/Remove Programs entry
/// `ARP\Machine\X64\Contoso Tools 1.2`. So a row is recognised by its structure only. Every
/// column boundary falls on a space, the id and both versions start exactly at their column,
/// and the source, the last column, is at most one word.
fn parse_row(line: &str, starts: &[usize]) -> Option<Row> {
    let columns = split_columns(line, starts)?;
    let [name, id, version, available, rest @ ..] = columns.as_slice() else {
        return None;
    };
    if [id, version, available]
        .iter()
        .any(|column| column.is_empty() || column.starts_with(' '))
    {
        return None;
    }
    let source = rest.first().map(|source| source.trim());
    if source.is_some_and(|source| source.contains(' ')) {
        return None;
    }
    Some(Row {
        name: name.trim().to_owned(),
        id: id.trim().to_owned(),
        version: version.trim().to_owned(),
        available: available.trim().to_owned(),
        source: source
            .filter(|source| !source.is_empty())
            .map(str::to_owned),
        line: line.to_owned(),
    })
}

/// Parses the output of `winget upgrade` or `winget list`: one or more tables, each a header
/// line, a separator line and rows, with footer lines in between.
///
/// A non-row line is accepted only as a count footer (it starts with a digit), as the title of
/// the next table (the header and separator follow it), or when it is the whole output of a
/// run with nothing to list (no table at all). Anything else is an error.
pub fn parse_tables(output: &str) -> Result<Vec<Vec<Row>>, ParseError> {
    let lines: Vec<&str> = output.lines().map(visible_text).collect();
    let mut tables: Vec<Vec<Row>> = Vec::new();
    let mut starts: Option<Vec<usize>> = None;
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        let number = index + 1;
        if line.trim().is_empty() || is_progress(line) {
            starts = if line.trim().is_empty() { None } else { starts };
            index += 1;
            continue;
        }
        if lines.get(index + 1).is_some_and(|next| is_separator(next)) {
            let found = column_starts(line);
            if found.len() < 4 {
                return Err(ParseError::TooFewColumns {
                    number,
                    found: found.len(),
                    line: line.to_owned(),
                });
            }
            starts = Some(found);
            tables.push(Vec::new());
            index += 2;
            continue;
        }
        if let Some(columns) = &starts
            && let Some(row) = parse_row(line, columns)
            && let Some(table) = tables.last_mut()
        {
            table.push(row);
            index += 1;
            continue;
        }
        starts = None;
        let is_count_footer = line.trim_start().starts_with(|c: char| c.is_ascii_digit());
        let is_table_title = lines.get(index + 2).is_some_and(|next| is_separator(next));
        let is_lone_message = tables.is_empty();
        if is_count_footer || is_table_title || is_lone_message {
            index += 1;
            continue;
        }
        return Err(ParseError::UnrecognisedLine {
            number,
            line: line.to_owned(),
        });
    }
    Ok(tables)
}

/// Parses `winget upgrade --include-unknown`: the first table lists available upgrades, any
/// later table the packages that need explicit targeting (pinned ones among them).
pub fn parse_upgrade(output: &str) -> Result<UpgradeTables, ParseError> {
    let mut tables = parse_tables(output)?.into_iter();
    let available = tables.next().unwrap_or_default();
    let explicit = tables.flatten().collect();
    Ok(UpgradeTables {
        available,
        explicit,
    })
}

/// Picks the row of `winget list --id PREFIX` output that resolves a truncated id: the only
/// row whose full id starts with `prefix`.
pub fn resolve_truncated(prefix: &str, list_rows: &[Row]) -> Option<Row> {
    let mut matches = list_rows
        .iter()
        .filter(|row| !row.is_truncated() && row.id.starts_with(prefix));
    let first = matches.next()?;
    matches.next().is_none().then(|| first.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/winget/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    fn ids(rows: &[Row]) -> Vec<&str> {
        rows.iter().map(|row| row.id.as_str()).collect()
    }

    #[test]
    fn upgrade_fixtures_parse() {
        struct Case {
            file: &'static str,
            available: &'static [&'static str],
            explicit: &'static [&'static str],
        }
        let cases = [
            Case {
                file: "upgrade-en.txt",
                available: &["Git.Git", "Mozilla.Firefox", "Microsoft.VisualStudio.2022…"],
                explicit: &["Docker.DockerDesktop"],
            },
            Case {
                file: "upgrade-de.txt",
                available: &["Git.Git", "7zip.7zip"],
                explicit: &[],
            },
            Case {
                file: "upgrade-ja.txt",
                available: &["Notepad++.Notepad++", "Tencent.WeChat"],
                explicit: &[],
            },
            Case {
                file: "no-upgrades.txt",
                available: &[],
                explicit: &[],
            },
        ];
        for case in cases {
            let tables = parse_upgrade(&fixture(case.file))
                .unwrap_or_else(|error| panic!("{}: {error}", case.file));
            assert_eq!(ids(&tables.available), case.available, "{}", case.file);
            assert_eq!(ids(&tables.explicit), case.explicit, "{}", case.file);
        }
    }

    #[test]
    fn local_ids_are_parsed_and_flagged() {
        let tables = parse_upgrade(&fixture("upgrade-local-id.txt")).unwrap();
        assert_eq!(
            ids(&tables.available),
            [
                "Git.Git",
                r"ARP\Machine\X64\{3F2504E0-4F89-11D3-9A0C-0305E82C3301}",
                r"MSIX\Contoso.Notes_2.1.0.0_x64__8wekyb3d8bbwe",
            ]
        );
        let flags: Vec<bool> = tables
            .available
            .iter()
            .map(|row| is_local_id(&row.id))
            .collect();
        assert_eq!(flags, [false, true, true]);
        assert!(!is_local_id("Microsoft.VisualStudio.2022.Community"));
    }

    #[test]
    fn japanese_wide_names_keep_columns() {
        let tables = parse_upgrade(&fixture("upgrade-ja.txt")).unwrap();
        let wechat = &tables.available[1];
        assert_eq!(wechat.name, "微信");
        assert_eq!(wechat.version, "3.9.7.29");
        assert_eq!(wechat.available, "3.9.8.15");
        assert_eq!(wechat.source.as_deref(), Some("winget"));
    }

    #[test]
    fn german_versions_and_unknown() {
        let tables = parse_upgrade(&fixture("upgrade-de.txt")).unwrap();
        assert_eq!(tables.available[0].version, "2.42.0.2");
        assert_eq!(tables.available[0].available, "2.43.0");
        assert_eq!(tables.available[1].version, "Unknown");
    }

    #[test]
    fn truncated_id_is_flagged_and_resolved() {
        let tables = parse_upgrade(&fixture("upgrade-en.txt")).unwrap();
        let truncated = &tables.available[2];
        assert!(truncated.is_truncated());
        assert!(!tables.available[0].is_truncated());

        let list = parse_tables(&fixture("list-vs.txt")).unwrap();
        let prefix = truncated.id.trim_end_matches(TRUNCATION_MARK);
        let resolved = resolve_truncated(prefix, &list[0]).unwrap();
        assert_eq!(resolved.id, "Microsoft.VisualStudio.2022.Community");
        assert_eq!(resolved.available, "17.8.0");
    }

    #[test]
    fn ambiguous_prefix_is_not_resolved() {
        let list = parse_tables(&fixture("list-vs-two.txt")).unwrap();
        assert_eq!(
            resolve_truncated("Microsoft.VisualStudio.2022", &list[0]),
            None
        );
    }

    #[test]
    fn ids_with_spaces_parse() {
        let tables = parse_upgrade(&fixture("upgrade-id-spaces.txt")).unwrap();
        assert_eq!(
            ids(&tables.available),
            [
                "Git.Git",
                "Mozilla Firefox",
                r"ARP\Machine\X64\Contoso Tools 1.2",
                r"ARP\Machine\X64\Contoso Enterprise Su…",
            ]
        );
        let contoso = &tables.available[2];
        assert_eq!(contoso.name, "Contoso Tools");
        assert_eq!(contoso.version, "1.2");
        assert_eq!(contoso.available, "1.3");
        assert_eq!(contoso.source.as_deref(), Some("winget"));
        assert!(!contoso.is_truncated());
        let firefox = &tables.available[1];
        assert_eq!(firefox.name, "Mozilla Firefox (x64 en-US)");
        assert_eq!(firefox.version, "119.0.1");
    }

    #[test]
    fn truncated_id_with_spaces_resolved() {
        let tables = parse_upgrade(&fixture("upgrade-id-spaces.txt")).unwrap();
        let truncated = &tables.available[3];
        assert!(truncated.is_truncated());
        let list = parse_tables(&fixture("list-id-spaces.txt")).unwrap();
        let prefix = truncated.id.trim_end_matches(TRUNCATION_MARK);
        let resolved = resolve_truncated(prefix, &list[0]).unwrap();
        assert_eq!(resolved.id, r"ARP\Machine\X64\Contoso Enterprise Suite 5.0");
        assert_eq!(resolved.version, "5.0");
        assert_eq!(resolved.available, "5.1");
    }

    #[test]
    fn wide_names_with_space_ids() {
        let tables = parse_upgrade(&fixture("upgrade-ja-id-spaces.txt")).unwrap();
        let rows: Vec<(&str, &str, &str, &str)> = tables
            .available
            .iter()
            .map(|row| {
                (
                    row.name.as_str(),
                    row.id.as_str(),
                    row.version.as_str(),
                    row.available.as_str(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (
                    "秀丸エディタ",
                    r"ARP\Machine\X64\Hidemaru Editor",
                    "9.22",
                    "9.25"
                ),
                ("サクラエディタ (x64)", "Sakura Editor", "2.4.1", "2.4.2"),
                (
                    "ビジュアルスタジオ…",
                    "Microsoft.VisualStudio.2022.Community",
                    "17.7.6",
                    "17.8.0"
                ),
                ("Git", "Git.Git", "2.42.0.2", "2.43.0"),
            ]
        );
        assert!(
            tables
                .available
                .iter()
                .all(|row| row.source.as_deref() == Some("winget"))
        );
    }

    #[test]
    fn truncated_wide_name_is_not_truncated_row() {
        let tables = parse_upgrade(&fixture("upgrade-ja-id-spaces.txt")).unwrap();
        let visual_studio = &tables.available[2];
        assert!(visual_studio.name.ends_with(TRUNCATION_MARK));
        assert!(!visual_studio.is_truncated());
    }

    #[test]
    fn rows_padded_by_characters_fail() {
        let error = parse_upgrade(&fixture("padded-by-characters.txt")).unwrap_err();
        assert!(
            matches!(&error, ParseError::UnrecognisedLine { number: 4, .. }),
            "{error}"
        );
    }

    #[test]
    fn sentence_is_not_a_row() {
        let starts = column_starts("Name  Id    Version Available Source");
        assert_eq!(
            parse_row("Some  text  goes    here      and more", &starts),
            None
        );
        assert_eq!(
            parse_row("Some  text   goes   here      now", &starts),
            None
        );
        assert!(parse_row("Some  Id.x  1.0     2.0       winget", &starts).is_some());
    }

    #[test]
    fn stray_line_after_table_fails() {
        let error = parse_upgrade(&fixture("unrecognised-line.txt")).unwrap_err();
        assert!(
            matches!(&error, ParseError::UnrecognisedLine { line, .. } if line.contains("Failed")),
            "{error}"
        );
    }
}
