//! Parser for `syspatch -c`, written against syspatch of OpenBSD 7.4.
//!
//! `syspatch -c` lists the patches that are available and not installed, one per line, such as
//! `003_libssl`: a three-digit sequence number, an underscore and the patch name.

/// Error in the output that the parser does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognised line {number}: {line:?}")]
pub struct ParseError {
    pub number: usize,
    pub line: String,
}

/// Parses `syspatch -c` into patch names.
pub fn parse_check(output: &str) -> Result<Vec<String>, ParseError> {
    let mut patches = Vec::new();
    for (index, line) in output.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let valid = line.len() > 4
            && line[..3].bytes().all(|byte| byte.is_ascii_digit())
            && line.as_bytes()[3] == b'_'
            && line[4..]
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
        if !valid {
            return Err(ParseError {
                number: index + 1,
                line: line.to_owned(),
            });
        }
        patches.push(line.to_owned());
    }
    Ok(patches)
}

/// Returns whether applying these patches changes the kernel, so that a reboot is required.
///
/// NOTE: syspatch gives no structured signal for this. It relinks the kernel after a kernel
/// patch and prints "Relinking to create unique kernel...", so the install output is checked
/// for that line, and the patch names for the kernel-related words that OpenBSD 7.x errata use
/// (`kernel`, `bsd`, and drivers such as `vmm`, `pf`, `ipsec`). A kernel patch with another
/// name is recognised from the output line alone.
pub fn needs_reboot(patches: &[String], install_output: &str) -> bool {
    const KERNEL_WORDS: &[&str] = &["kernel", "bsd", "vmm", "pf", "ipsec", "ip6", "tcp", "wg"];
    install_output.contains("Relinking to create unique kernel")
        || patches.iter().any(|patch| {
            patch
                .get(4..)
                .unwrap_or_default()
                .split(['_', '-'])
                .any(|word| KERNEL_WORDS.contains(&word))
        })
}

/// Meaning of the exit status of `syspatch` (install).
///
/// syspatch(8) of OpenBSD 7.4, EXIT STATUS: 0 on success, 2 when there is nothing to do (no
/// patch to install or revert), and >0 when an error occurs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitMeaning {
    Installed,
    NothingToDo,
    Failed(String),
}

/// Decodes the exit status of `syspatch`.
pub fn decode_exit_code(code: Option<i32>) -> ExitMeaning {
    match code {
        Some(0) => ExitMeaning::Installed,
        Some(2) => ExitMeaning::NothingToDo,
        Some(code) => ExitMeaning::Failed(format!("syspatch exited with status {code}")),
        None => ExitMeaning::Failed("syspatch was killed by a signal".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/syspatch/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[test]
    fn check_fixtures() {
        assert_eq!(
            parse_check(&fixture("check-available.txt")).unwrap(),
            ["003_libssl", "004_vmm", "005_xserver"]
        );
        assert!(parse_check(&fixture("check-none.txt")).unwrap().is_empty());
        let error = parse_check(&fixture("check-error.txt")).unwrap_err();
        assert!(error.line.contains("syspatch"), "{error}");
    }

    #[test]
    fn reboot_from_output_or_names() {
        let patches = vec!["003_libssl".to_owned()];
        assert!(!needs_reboot(&patches, "Installing patch 003_libssl\n"));
        assert!(needs_reboot(&patches, &fixture("install-kernel.txt")));
        assert!(needs_reboot(&["004_vmm".to_owned()], ""));
    }

    #[test]
    fn exit_codes() {
        assert_eq!(decode_exit_code(Some(0)), ExitMeaning::Installed);
        assert_eq!(decode_exit_code(Some(2)), ExitMeaning::NothingToDo);
        assert!(matches!(decode_exit_code(Some(1)), ExitMeaning::Failed(_)));
        assert!(matches!(decode_exit_code(None), ExitMeaning::Failed(_)));
    }
}
