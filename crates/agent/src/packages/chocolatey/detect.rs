//! Parser for `choco outdated --limit-output`, written against Chocolatey CLI 2.2 on Windows 11.
//!
//! Each line is `name|current|available|pinned`. With `--limit-output` Chocolatey prints no
//! headers or footers, so every other line is an error.

/// One line of `choco outdated --limit-output`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outdated {
    pub name: String,
    pub current_version: String,
    pub available_version: String,
    /// `choco pin` holds the package: `choco upgrade all` skips it.
    pub pinned: bool,
}

/// Error in the output that the parser does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognised line {number}: {line:?}")]
pub struct ParseError {
    pub number: usize,
    pub line: String,
}

/// Parses `choco outdated --limit-output`.
pub fn parse_outdated(output: &str) -> Result<Vec<Outdated>, ParseError> {
    let mut packages = Vec::new();
    for (index, line) in output.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let error = || ParseError {
            number: index + 1,
            line: line.to_owned(),
        };
        let fields: Vec<&str> = line.split('|').collect();
        let [name, current, available, pinned] = fields.as_slice() else {
            return Err(error());
        };
        let pinned = match pinned.to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(error()),
        };
        if name.is_empty() || available.is_empty() || name.contains(' ') {
            return Err(error());
        }
        packages.push(Outdated {
            name: (*name).to_owned(),
            current_version: (*current).to_owned(),
            available_version: (*available).to_owned(),
            pinned,
        });
    }
    Ok(packages)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/chocolatey/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[test]
    fn outdated_fixtures() {
        let cases: [(&str, &[(&str, bool)]); 2] = [
            (
                "outdated.txt",
                &[
                    ("git", false),
                    ("googlechrome", false),
                    ("nodejs-lts", true),
                ],
            ),
            ("none.txt", &[]),
        ];
        for (file, expected) in cases {
            let packages = parse_outdated(&fixture(file)).unwrap();
            let found: Vec<(&str, bool)> = packages
                .iter()
                .map(|package| (package.name.as_str(), package.pinned))
                .collect();
            assert_eq!(found, expected, "{file}");
        }
    }

    #[test]
    fn outdated_versions() {
        let packages = parse_outdated(&fixture("outdated.txt")).unwrap();
        assert_eq!(packages[0].current_version, "2.42.0");
        assert_eq!(packages[0].available_version, "2.43.0");
    }

    #[test]
    fn error_output_fails() {
        let error = parse_outdated(&fixture("error.txt")).unwrap_err();
        assert!(error.line.contains("not recognized"), "{error}");
    }
}
