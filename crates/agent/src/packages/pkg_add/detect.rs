//! Parser for the dry run `pkg_add -u -n`, written against `pkg_add` of OpenBSD 7.4.
//!
//! An update line is `name-old->new: ok` (or `name-old -> name-new`); the `quirks` package
//! that `pkg_add` updates first is reported like any other package. Progress lines are accepted,
//! any other line is an error.

/// One planned package update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedUpdate {
    pub name: String,
    pub current_version: String,
    pub new_version: String,
}

/// Error in the output that the parser does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognised line {number}: {line:?}")]
pub struct ParseError {
    pub number: usize,
    pub line: String,
}

/// Splits an OpenBSD package name `stem-version[-flavor]` at the first `-` before a digit.
pub fn split_package(text: &str) -> Option<(&str, &str)> {
    let index = text
        .match_indices('-')
        .find(|(index, _)| text[index + 1..].starts_with(|c: char| c.is_ascii_digit()))?
        .0;
    Some((&text[..index], &text[index + 1..]))
}

fn is_progress(line: &str) -> bool {
    line.starts_with("quirks-") && line.contains(" signed on ")
        || line.starts_with("Read shared items")
        || line.starts_with("Update candidates:")
        || line.starts_with("Running tags")
        || line.starts_with("Looking for updates")
        // pkg_add waits for its own lock; a run that then succeeds is not busy.
        || line.starts_with("Waiting for lock")
        || line.ends_with(": ok") && !line.contains("->")
        || line.contains("(no update)") // hmm
}

/// Parses `pkg_add -u -n` output.
pub fn parse_dry_run(output: &str) -> Result<Vec<PlannedUpdate>, ParseError> {
    let mut updates = Vec::new();
    for (index, line) in output.lines().enumerate() {
        let line = line.rsplit('\r').next().unwrap_or(line).trim();
        if line.is_empty() || is_progress(line) {
            continue;
        }
        let parsed = line
            .strip_suffix(": ok")
            .unwrap_or(line)
            .split_once("->")
            .and_then(|(old, new)| {
                let (name, current) = split_package(old.trim())?;
                let new = new.trim();
                let new_version = match split_package(new) {
                    Some((new_name, version)) if new_name == name => version,
                    _ => new,
                };
                Some(PlannedUpdate {
                    name: name.to_owned(),
                    current_version: current.to_owned(),
                    new_version: new_version.to_owned(),
                })
            });
        match parsed {
            Some(update) if !update.new_version.contains(' ') => updates.push(update),
            _ => {
                return Err(ParseError {
                    number: index + 1,
                    line: line.to_owned(),
                });
            }
        }
    }
    Ok(updates)
}

/// Decodes the exit status of `pkg_add`: 0 is success, anything else a failure.
pub fn decode_exit_code(code: Option<i32>) -> Result<(), String> {
    match code {
        Some(0) => Ok(()),
        Some(code) => Err(format!("pkg_add exited with status {code}")),
        None => Err("pkg_add was killed by a signal".to_owned()),
    }
}

/// Returns who holds the package database lock when `pkg_add` says it is locked
/// (`pkg_add: /var/db/pkg is locked ...` or `Waiting for lock on /var/db/pkg`).
pub fn lock_holder(output: &str) -> Option<String> {
    output.lines().map(str::trim).find_map(|line| {
        let locked = (line.starts_with("pkg_add:") && line.contains(" is locked"))
            || line.contains("Waiting for lock");
        if !locked {
            return None;
        }
        let path = line
            .split_whitespace()
            .find(|word| word.starts_with('/'))
            .map(|path| path.trim_end_matches([',', '.', ':']));
        Some(match path {
            Some(path) => format!("another pkg_add (lock on {path})"),
            None => "another pkg_add (package database lock)".to_owned(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/pkg_add/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[test]
    fn dry_run_fixtures() {
        let updates = parse_dry_run(&fixture("updates.txt")).unwrap();
        let found: Vec<(&str, &str, &str)> = updates
            .iter()
            .map(|u| {
                (
                    u.name.as_str(),
                    u.current_version.as_str(),
                    u.new_version.as_str(),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                ("quirks", "6.159", "6.160"),
                ("curl", "8.4.0", "8.5.0"),
                ("vim", "9.0.2000-no_x11", "9.0.2100-no_x11"),
            ]
        );
        assert!(parse_dry_run(&fixture("none.txt")).unwrap().is_empty());
        let error = parse_dry_run(&fixture("error.txt")).unwrap_err();
        assert!(error.line.contains("TLS handshake failure"), "{error}");
    }

    #[test]
    fn package_split() {
        assert_eq!(
            split_package("py3-cryptography-41.0.4"),
            Some(("py3-cryptography", "41.0.4"))
        );
        assert_eq!(split_package("vim-9.0-no_x11"), Some(("vim", "9.0-no_x11")));
        assert_eq!(split_package("noversion"), None);
    }

    #[test]
    fn exit_codes() {
        assert_eq!(decode_exit_code(Some(0)), Ok(()));
        assert!(decode_exit_code(Some(1)).is_err());
    }

    #[test]
    fn lock_messages_are_busy() {
        assert_eq!(
            lock_holder(&fixture("locked.txt")).as_deref(),
            Some("another pkg_add (lock on /var/db/pkg)")
        );
        assert_eq!(
            lock_holder("Waiting for lock on /var/db/pkg/.lock").as_deref(),
            Some("another pkg_add (lock on /var/db/pkg/.lock)")
        );
        assert_eq!(lock_holder(&fixture("updates.txt")), None);
        assert_eq!(lock_holder(&fixture("error.txt")), None);
    }
}
