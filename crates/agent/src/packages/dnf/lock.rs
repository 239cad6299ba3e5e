//! Recognising a dnf or yum run that failed because another process holds the lock.
//!
//! dnf 4 and yum run with `exit_on_lock=1`, so that they exit with status 200 instead of waiting
//! without a time limit; the agent then retries with its own policy (see
//! [`crate::packages::busy`]). dnf5 never waits: it fails the transaction at once.

/// Returns who holds the lock when `output` (stdout and stderr) shows a lock failure.
///
/// Recognised messages:
/// - dnf 4: `RPMDB already locked by 1234` (also `metadata`, `cachedir`, `log`), then
///   `  The application with PID 1234 is: dnf`; while waiting without `exit_on_lock`, `Waiting
///   for process with pid 1234 to finish.`
/// - dnf5: `Failed to obtain rpm transaction lock. Another transaction is in progress.`
/// - yum: `Existing lock /var/run/yum.pid: another copy is running as pid 1234.`, `Another app is
///   currently holding the yum lock; ...` and `  The other application is: PackageKit`.
pub fn lock_holder(output: &str) -> Option<String> {
    let mut pid: Option<String> = None;
    let mut application: Option<String> = None;
    let mut locked = false;
    for line in output.lines().map(str::trim) {
        if let Some((_, rest)) = line.split_once(" already locked by ") {
            locked = true;
            pid = pid.or_else(|| number_prefix(rest));
        } else if let Some(rest) = line.strip_prefix("Waiting for process with pid ") {
            locked = true;
            pid = pid.or_else(|| number_prefix(rest));
        } else if let Some(rest) = line.strip_prefix("The application with PID ") {
            if let Some((number, name)) = rest.split_once(" is: ") {
                pid = Some(number.trim().to_owned());
                application = Some(name.trim().to_owned());
            }
        } else if line.starts_with("Existing lock ") {
            if let Some((_, rest)) = line.split_once("another copy is running as pid ") {
                locked = true;
                pid = pid.or_else(|| number_prefix(rest));
            }
        } else if line.starts_with("Another app is currently holding the yum lock") {
            locked = true;
        } else if let Some(name) = line.strip_prefix("The other application is: ") {
            application = Some(name.trim().to_owned());
        } else if line.contains("Failed to obtain rpm transaction lock") {
            locked = true;
            application = application.or_else(|| Some("another rpm transaction".to_owned()));
        }
    }
    if !locked {
        return None;
    }
    Some(match (application, pid) {
        (Some(application), Some(pid)) => format!("{application} (pid {pid})"),
        (Some(application), None) => application,
        (None, Some(pid)) => format!("pid {pid}"),
        (None, None) => "another yum or dnf process".to_owned(),
    })
}

fn number_prefix(text: &str) -> Option<String> {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    (!digits.is_empty()).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(path: &str) -> String {
        let path = format!("{}/testdata/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[test]
    fn holders() {
        let cases = [
            (
                fixture("dnf/lock-exit-on-lock.txt"),
                Some("sleep (pid 17338)"),
            ),
            (
                "Running transaction check\nWaiting for process with pid 4242 to finish.\n"
                    .to_owned(),
                Some("pid 4242"),
            ),
            (
                fixture("dnf/dnf5-lock.txt"),
                Some("another rpm transaction"),
            ),
            (fixture("yum/lock-exit-on-lock.txt"), Some("pid 2277")),
            (
                fixture("yum/lock-waiting.txt"),
                Some("PackageKit (pid 2277)"),
            ),
            ("Error: No packages marked for upgrade.\n".to_owned(), None),
        ];
        for (output, expected) in cases {
            assert_eq!(lock_holder(&output).as_deref(), expected, "{output}");
        }
    }
}
