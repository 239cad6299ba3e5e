//! Update scans in the background: requests coalesce, and at most one scan runs at a time.

use std::path::PathBuf;
use std::sync::Arc;

use sysmanage_protocol::AgentMessage;
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
            Ok(report) => {
                if outbox.send(AgentMessage::UpdateReport(report)).is_err() {
                    return;
                }
            }
            Err(error) => tracing::error!(%error, "update scan task failed"),
        }
    }
}
