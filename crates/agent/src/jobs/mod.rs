//! Install jobs: admission through the journal, a queue that runs one job at a time, and the
//! messages that report them.

pub mod execute;
pub mod journal;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sysmanage_protocol::{AgentMessage, InstallJob, JobFailure, JobFailureKind, JobResult};
use tokio::sync::mpsc;

use self::journal::{Admission, Journal, JournalError};
use crate::packages::PackageManager;
use crate::scanner::Scanner;

/// Channel of messages to the server, sent on the current connection once it is welcomed.
pub type Outbox = mpsc::UnboundedSender<AgentMessage>;

/// Queues install jobs and runs them one at a time, in the order they were delivered.
#[derive(Clone)]
pub struct JobRunner {
    journal: Arc<Mutex<Journal>>,
    queue: mpsc::UnboundedSender<InstallJob>,
}

impl JobRunner {
    /// Starts the worker task that runs queued jobs. Needs a Tokio runtime.
    pub fn start(
        journal: Journal,
        managers: Vec<Arc<dyn PackageManager>>,
        scanner: Scanner,
        outbox: Outbox,
        reboot_required_path: PathBuf,
    ) -> Self {
        let journal = Arc::new(Mutex::new(journal));
        let (queue, receiver) = mpsc::unbounded_channel();
        tokio::spawn(run_queue(
            receiver,
            Arc::clone(&journal),
            managers,
            scanner,
            outbox,
            reboot_required_path,
        ));
        Self { journal, queue }
    }

    /// Admits a delivered job and queues it when it is new. Returns a message to send at once:
    /// the stored result of a finished job, or the failed result of a job that an agent restart
    /// interrupted.
    pub fn submit(&self, job: InstallJob) -> Result<Option<AgentMessage>, JournalError> {
        let job_id = job.job_id;
        let admission = self.lock_journal().admit(job_id)?;
        match admission {
            Admission::Run => {
                tracing::info!(job_id, "install job queued");
                if self.queue.send(job).is_err() {
                    tracing::error!(job_id, "job queue is closed; the job will not run");
                }
                Ok(None)
            }
            Admission::Resend(result) => {
                tracing::info!(
                    job_id,
                    "install job already finished; sending its result again"
                );
                Ok(Some(AgentMessage::JobResult(result)))
            }
            Admission::Interrupted(result) => {
                tracing::warn!(job_id, "install job was interrupted by an agent restart");
                Ok(Some(AgentMessage::JobResult(result)))
            }
            Admission::AlreadyAcknowledged => {
                tracing::info!(
                    job_id,
                    "ignoring install job whose result the server already has"
                );
                Ok(None)
            }
            Admission::InProgress => {
                tracing::info!(
                    job_id,
                    "ignoring duplicate delivery of a queued or running job"
                );
                Ok(None)
            }
        }
    }

    /// Forgets the result of a job that the server stored.
    pub fn acknowledge(&self, job_id: i64) -> Result<(), JournalError> {
        self.lock_journal().acknowledge(job_id)
    }

    /// Returns every result the server has not acknowledged yet.
    pub fn unacknowledged_results(&self) -> Result<Vec<JobResult>, JournalError> {
        self.lock_journal().unacknowledged_results()
    }

    fn lock_journal(&self) -> std::sync::MutexGuard<'_, Journal> {
        // A panic while holding the lock leaves the journal's files consistent, because every
        // write is atomic, so the data behind a poisoned lock is still usable.
        self.journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

async fn run_queue(
    mut receiver: mpsc::UnboundedReceiver<InstallJob>,
    journal: Arc<Mutex<Journal>>,
    managers: Vec<Arc<dyn PackageManager>>,
    scanner: Scanner,
    outbox: Outbox,
    reboot_required_path: PathBuf,
) {
    while let Some(job) = receiver.recv().await {
        let job_id = job.job_id;
        let started = journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .mark_started(job_id);
        let result = match started {
            Ok(()) => {
                tracing::info!(job_id, "install job started");
                let _ = outbox.send(AgentMessage::JobStarted { job_id });
                let managers = managers.clone();
                let reboot_required_path = reboot_required_path.clone();
                let request = job.request.clone();
                // Scans wait while a job runs, so that they never read a half-done install.
                let _package_lock = scanner.package_lock().lock_owned().await;
                let task = tokio::task::spawn_blocking(move || {
                    execute::execute(job_id, &request, &managers, &reboot_required_path)
                });
                task.await.unwrap_or_else(|error| {
                    failed(job_id, &format!("install task failed: {error}"))
                })
            }
            Err(error) => {
                tracing::error!(job_id, %error, "could not record the job start; not running it");
                failed(job_id, &format!("could not record the job start: {error}"))
            }
        };

        if let Err(error) = journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .finish(&result)
        {
            tracing::error!(job_id, %error, "could not store the job result; sending it anyway");
        }
        tracing::info!(
            job_id,
            success = result.success,
            failure = ?result.failure.as_ref().map(|failure| failure.kind),
            "install job finished"
        );
        let _ = outbox.send(AgentMessage::JobResult(result));
        scanner.request();
    }
}

fn failed(job_id: i64, message: &str) -> JobResult {
    JobResult {
        job_id,
        success: false,
        packages: Vec::new(),
        output_tail: String::new(),
        failure: Some(JobFailure {
            kind: JobFailureKind::CommandFailed,
            message: message.to_owned(),
        }),
        reboot_required: false,
    }
}
