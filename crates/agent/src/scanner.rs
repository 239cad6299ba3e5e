//! Update scans in the background: requests coalesce, and at most one scan runs at a time.

use std::path::PathBuf;
use std::sync::Arc;

use sysmanage_protocol::{
    AgentMessage, MAX_MESSAGE_SIZE, MAX_UPDATES_PER_MANAGER, ScanOutcome, UpdateReport,
};
use tokio::sync::{Mutex, Notify};

use crate::jobs::Outbox;
use crate::packages::{self, PackageManager};

/// Handle to request update scans. Cloning it shares the same scanner.
#[derive(Clone)]
pub struct Scanner {
    requested: Arc<Notify>,
    package_lock: Arc<Mutex<()>>,
}

impl Scanner {
    /// Starts the scan task. Each finished scan sends an `UpdateReport` to `outbox`.
    pub fn start(
        managers: Vec<Arc<dyn PackageManager>>,
        reboot_required_path: PathBuf,
        outbox: Outbox,
    ) -> Self {
        let scanner = Self {
            requested: Arc::new(Notify::new()),
            package_lock: Arc::new(Mutex::new(())),
        };
        tokio::spawn(run(scanner.clone(), managers, reboot_required_path, outbox));
        scanner
    }

    /// Asks for a scan. Requests made while a scan runs lead to one more scan after it.
    pub fn request(&self) {
        self.requested.notify_one();
    }

    /// Lock that a scan and an install hold while they use the package managers.
    pub fn package_lock(&self) -> Arc<Mutex<()>> {
        Arc::clone(&self.package_lock)
    }
}

async fn run(
    scanner: Scanner,
    managers: Vec<Arc<dyn PackageManager>>,
    reboot_required_path: PathBuf,
    outbox: Outbox,
) {
    loop {
        scanner.requested.notified().await;
        let _guard = scanner.package_lock.lock().await;
        tracing::info!("update scan started");
        let managers = managers.clone();
        let path = reboot_required_path.clone();
        let report = tokio::task::spawn_blocking(move || packages::scan(&managers, &path)).await;
        match report {
            Ok(mut report) => {
                fit_report_to_message_size(&mut report);
                if outbox.send(AgentMessage::UpdateReport(report)).is_err() {
                    return;
                }
            }
            Err(error) => tracing::error!(%error, "update scan task failed"),
        }
    }
}

/// Room in bytes left for the envelope around a report. The version, message id and type take
/// under 100 bytes.
const ENVELOPE_OVERHEAD: usize = 1024;

/// Replaces update lists that the server would not accept with a scan error naming their size: a
/// list of more than [`MAX_UPDATES_PER_MANAGER`] updates, then the largest lists until the report
/// fits in one message of [`MAX_MESSAGE_SIZE`]. The server keeps its previous list of a manager
/// whose scan failed, so these managers show stale updates and the error.
fn fit_report_to_message_size(report: &mut UpdateReport) {
    for scan in &mut report.managers {
        if let ScanOutcome::Ok { updates } = &scan.outcome
            && updates.len() > MAX_UPDATES_PER_MANAGER
        {
            let error = format!(
                "{} updates are more than the maximum of {MAX_UPDATES_PER_MANAGER} per manager \
                 that the server accepts",
                updates.len()
            );
            tracing::warn!(manager = scan.manager, %error, "update list not sent");
            scan.outcome = ScanOutcome::Failed { error };
        }
    }

    while serialized_len(report) + ENVELOPE_OVERHEAD > MAX_MESSAGE_SIZE {
        let largest = report
            .managers
            .iter_mut()
            .filter_map(|scan| match &scan.outcome {
                ScanOutcome::Ok { updates } => Some((serialized_len(updates), updates.len(), scan)),
                ScanOutcome::Failed { .. } => None,
            })
            .max_by_key(|(bytes, _, _)| *bytes);
        let Some((bytes, count, scan)) = largest else {
            return;
        };
        let error = format!(
            "the list of {count} updates takes {bytes} bytes, too large for one message of at \
             most {MAX_MESSAGE_SIZE} bytes"
        );
        tracing::warn!(manager = scan.manager, %error, "update list not sent");
        scan.outcome = ScanOutcome::Failed { error };
    }
}

fn serialized_len(value: &impl serde::Serialize) -> usize {
    serde_json::to_vec(value).map_or(0, |json| json.len())
}

#[cfg(test)]
mod tests {
    use sysmanage_protocol::{ManagerScan, UpdateInfo, UpdateStatus};

    use super::*;

    fn scan(manager: &str, count: usize, name_len: usize) -> ManagerScan {
        let updates = (0..count)
            .map(|index| UpdateInfo {
                manager: manager.into(),
                name: format!("{index:0name_len$}"),
                architecture: None,
                current_version: Some("1.0".into()),
                new_version: "2.0".into(),
                origin: None,
                security: false,
                status: UpdateStatus::Available,
            })
            .collect();
        ManagerScan {
            manager: manager.into(),
            outcome: ScanOutcome::Ok { updates },
        }
    }

    fn error_of(scan: &ManagerScan) -> Option<&str> {
        match &scan.outcome {
            ScanOutcome::Failed { error } => Some(error),
            ScanOutcome::Ok { .. } => None,
        }
    }

    #[test]
    fn small_report_unchanged() {
        let mut report = UpdateReport {
            managers: vec![scan("apt", 6000, 30)],
            reboot_required: false,
        };
        let before = report.clone();
        fit_report_to_message_size(&mut report);
        assert_eq!(report, before);
    }

    #[test]
    fn too_many_updates_reported_as_error() {
        let mut report = UpdateReport {
            managers: vec![scan("apt", MAX_UPDATES_PER_MANAGER + 1, 5)],
            reboot_required: false,
        };
        fit_report_to_message_size(&mut report);
        let error = error_of(&report.managers[0]).unwrap();
        assert!(error.contains("20001 updates"), "{error}");
    }

    #[test]
    fn largest_list_dropped_until_fit() {
        let mut report = UpdateReport {
            managers: vec![
                scan("apt", 15_000, 250),
                scan("snap", 10, 10),
                scan("flatpak", 15_000, 200),
            ],
            reboot_required: false,
        };
        fit_report_to_message_size(&mut report);
        let error = error_of(&report.managers[0]).unwrap();
        assert!(error.contains("15000 updates"), "{error}");
        assert!(error.contains("bytes"), "{error}");
        assert_eq!(error_of(&report.managers[1]), None);
        assert_eq!(error_of(&report.managers[2]), None);
        assert!(serialized_len(&report) + ENVELOPE_OVERHEAD <= MAX_MESSAGE_SIZE);
    }
}
