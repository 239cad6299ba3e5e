//! The `check` command: runs update detection once on this machine, without a server, and
//! prints what the agent would report.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use sysmanage_protocol::{ScanOutcome, UpdateReport};

use crate::packages::{self, PackageManager};

/// Output format of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckFormat {
    Table,
    Json,
}

/// Runs detection with every manager, writes the report and returns the process exit code:
/// 0, or 1 when any manager's detection failed (its error goes to `errors`).
pub fn run(
    managers: &[Arc<dyn PackageManager>],
    reboot_required_path: &Path,
    format: CheckFormat,
    output: &mut impl Write,
    errors: &mut impl Write,
) -> std::io::Result<i32> {
    if managers.is_empty() {
        writeln!(
            errors,
            "no supported package manager found on this host (looked for apt)"
        )?;
    }
    let report = packages::scan(managers, reboot_required_path);
    match format {
        CheckFormat::Json => {
            let json = serde_json::to_string_pretty(&report).map_err(std::io::Error::other)?;
            writeln!(output, "{json}")?;
        }
        CheckFormat::Table => write_table(&report, output)?,
    }

    let mut exit_code = 0;
    for scan in &report.managers {
        if let ScanOutcome::Failed { error } = &scan.outcome {
            writeln!(errors, "{}: update detection failed: {error}", scan.manager)?;
            exit_code = 1;
        }
    }
    Ok(exit_code)
}

/// Writes the updates as an aligned table, one row per update, and a reboot line.
pub fn write_table(report: &UpdateReport, output: &mut impl Write) -> std::io::Result<()> {
    let header = [
        "MANAGER", "PACKAGE", "ARCH", "CURRENT", "NEW", "ORIGIN", "SECURITY", "STATUS",
    ];
    let mut rows: Vec<[String; 8]> = Vec::new();
    for scan in &report.managers {
        let ScanOutcome::Ok { updates } = &scan.outcome else {
            continue;
        };
        for update in updates {
            rows.push([
                update.manager.clone(),
                update.name.clone(),
                update
                    .architecture
                    .clone()
                    .unwrap_or_else(|| "-".to_owned()),
                update
                    .current_version
                    .clone()
                    .unwrap_or_else(|| "-".to_owned()),
                update.new_version.clone(),
                update.origin.clone().unwrap_or_else(|| "-".to_owned()),
                if update.security { "yes" } else { "no" }.to_owned(),
                update.status.as_str().to_owned(),
            ]);
        }
    }

    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let header_row = header.map(str::to_owned);
    for row in std::iter::once(&header_row).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        writeln!(output, "{}", cells.join("  ").trim_end())?;
    }
    writeln!(output, "{} update(s)", rows.len())?;
    if report.reboot_required {
        writeln!(output, "a reboot is required")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::{InstallOutcome, InstallSelection, ScanError};
    use sysmanage_protocol::{UpdateInfo, UpdateStatus};

    struct FixedManager(Result<Vec<UpdateInfo>, String>);

    impl PackageManager for FixedManager {
        fn name(&self) -> &'static str {
            "apt"
        }
        fn detect_updates(&self) -> Result<Vec<UpdateInfo>, ScanError> {
            self.0.clone().map_err(|reason| ScanError::Parse {
                command: "apt-get".into(),
                reason,
            })
        }
        fn install(&self, _selection: &InstallSelection) -> InstallOutcome {
            InstallOutcome::default()
        }
    }

    fn openssl() -> UpdateInfo {
        UpdateInfo {
            manager: "apt".into(),
            name: "openssl".into(),
            architecture: Some("amd64".into()),
            current_version: Some("3.0.11-1~deb12u1".into()),
            new_version: "3.0.11-1~deb12u2".into(),
            origin: Some("Debian-Security:12/stable-security".into()),
            security: true,
            status: UpdateStatus::Available,
        }
    }

    #[test]
    fn table_lists_updates() {
        let managers: Vec<Arc<dyn PackageManager>> =
            vec![Arc::new(FixedManager(Ok(vec![openssl()])))];
        let (mut output, mut errors) = (Vec::new(), Vec::new());
        let code = run(
            &managers,
            Path::new("/nonexistent"),
            CheckFormat::Table,
            &mut output,
            &mut errors,
        )
        .unwrap();
        let text = String::from_utf8(output).unwrap();
        assert_eq!(code, 0);
        assert!(
            text.starts_with("MANAGER  PACKAGE  ARCH   CURRENT"),
            "{text}"
        );
        assert!(text.contains("openssl"), "{text}");
        assert!(
            text.contains("Debian-Security:12/stable-security  yes"),
            "{text}"
        );
        assert!(text.contains("1 update(s)"), "{text}");
        assert!(errors.is_empty());
    }

    #[test]
    fn failure_exits_one_with_error() {
        let managers: Vec<Arc<dyn PackageManager>> =
            vec![Arc::new(FixedManager(Err("unrecognised line 5".into())))];
        let (mut output, mut errors) = (Vec::new(), Vec::new());
        let code = run(
            &managers,
            Path::new("/nonexistent"),
            CheckFormat::Json,
            &mut output,
            &mut errors,
        )
        .unwrap();
        assert_eq!(code, 1);
        let errors = String::from_utf8(errors).unwrap();
        assert!(errors.contains("unrecognised line 5"), "{errors}");
        let report: UpdateReport = serde_json::from_slice(&output).unwrap();
        assert!(matches!(
            report.managers[0].outcome,
            ScanOutcome::Failed { .. }
        ));
    }
}
