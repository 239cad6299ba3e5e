//! Reading `needs-restarting -r`: dnf 4 (dnf-plugins-core), dnf5 (dnf5-plugins) and yum-utils.
//!
//! All three exit with status 1 and say "Reboot is required ..." when a core package (kernel,
//! glibc, systemd, ...) was updated after boot, and exit with status 0 otherwise. Status 1 is
//! also their status for any error, such as a missing plugin, so the text decides.

/// Why the output of `needs-restarting -r` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`needs-restarting -r` exited with {status} without saying whether a reboot is required{hint}: {output_tail}"
)]
pub struct RebootHintError {
    pub status: String,
    pub hint: &'static str,
    pub output_tail: String,
}

/// Decodes the exit status and output of `needs-restarting -r`.
pub fn parse_reboot_hint(
    code: Option<i32>,
    status: &str,
    output: &str,
    output_tail: &str,
) -> Result<bool, RebootHintError> {
    match code {
        Some(0) => Ok(false),
        Some(1) if output.contains("Reboot is required") => Ok(true),
        _ => {
            let hint = if output.contains("No such command") || output.contains("Unknown argument")
            {
                " (install dnf-plugins-core for dnf 4, dnf5-plugins for dnf5, yum-utils for yum)"
            } else {
                ""
            };
            Err(RebootHintError {
                status: status.to_owned(),
                hint,
                output_tail: output_tail.to_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(path: &str) -> String {
        let path = format!("{}/testdata/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[test]
    fn reboot_hints() {
        let needed = fixture("dnf/needs-restarting-reboot.txt");
        assert_eq!(
            parse_reboot_hint(Some(1), "exit status: 1", &needed, ""),
            Ok(true)
        );
        let not_needed = fixture("dnf/needs-restarting-none.txt");
        assert_eq!(
            parse_reboot_hint(Some(0), "exit status: 0", &not_needed, ""),
            Ok(false)
        );
        let yum = fixture("yum/needs-restarting-reboot.txt");
        assert_eq!(
            parse_reboot_hint(Some(1), "exit status: 1", &yum, ""),
            Ok(true)
        );

        let missing = "No such command: needs-restarting. Please use /usr/bin/dnf --help\n";
        let error = parse_reboot_hint(Some(1), "exit status: 1", missing, missing).unwrap_err();
        assert!(error.to_string().contains("dnf-plugins-core"), "{error}");
        assert!(parse_reboot_hint(None, "signal: 9", "", "").is_err());
    }
}
