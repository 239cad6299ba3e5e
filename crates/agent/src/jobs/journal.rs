//! The job journal on disk, which keeps each job to at most one run and stores its result until
//! the server acknowledges it.
//!
//! Layout of `state_dir/jobs/`: `<job_id>.started` is written before a job runs,
//! `<job_id>.result.json` holds a result until the server acknowledges it, and `acknowledged`
//! lists the last [`MAX_ACKNOWLEDGED`] acknowledged job ids, one per line. Every write goes to a
//! temporary file that is synced and renamed, then the directory is synced, so a crash leaves
//! either the old or the new file.

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use sysmanage_protocol::{JobFailure, JobFailureKind, JobResult};

/// Number of acknowledged job ids kept to ignore late duplicate deliveries.
pub const MAX_ACKNOWLEDGED: usize = 4096;

const ACKNOWLEDGED_FILE: &str = "acknowledged";
const STARTED_SUFFIX: &str = ".started";
const RESULT_SUFFIX: &str = ".result.json";

/// Error reading or writing the journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("job journal I/O on {path} failed: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("job journal file {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

/// Decision on a delivered install job.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// New job: queue it. The journal counts it as pending until [`Journal::finish`].
    Run,
    /// The job already finished: send this stored result again.
    Resend(JobResult),
    /// The job started before the agent restarted and never finished: send this failed result,
    /// which the journal has stored.
    Interrupted(JobResult),
    /// The server already acknowledged this job's result.
    AlreadyAcknowledged,
    /// The job is queued or running in this process.
    InProgress,
}

/// The job journal of one state directory.
#[derive(Debug)]
pub struct Journal {
    directory: PathBuf,
    acknowledged: VecDeque<i64>,
    acknowledged_set: HashSet<i64>,
    pending: BTreeSet<i64>,
}

impl Journal {
    /// Opens the journal in `directory`, creating it with mode 0700.
    pub fn open(directory: &Path) -> Result<Self, JournalError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(directory)
            .map_err(|source| io_error(directory, source))?;
        let path = directory.join(ACKNOWLEDGED_FILE);
        let acknowledged: VecDeque<i64> = match fs::read_to_string(&path) {
            Ok(text) => text
                .lines()
                .filter(|line| !line.trim().is_empty())
                .map(|line| {
                    line.trim().parse().map_err(|_| JournalError::Corrupt {
                        path: path.clone(),
                        reason: format!("{line:?} is not a job id"),
                    })
                })
                .collect::<Result<_, _>>()?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => VecDeque::new(),
            Err(source) => return Err(io_error(&path, source)),
        };
        let acknowledged_set = acknowledged.iter().copied().collect();
        Ok(Self {
            directory: directory.to_path_buf(),
            acknowledged,
            acknowledged_set,
            pending: BTreeSet::new(),
        })
    }

    fn started_path(&self, job_id: i64) -> PathBuf {
        self.directory.join(format!("{job_id}{STARTED_SUFFIX}"))
    }

    fn result_path(&self, job_id: i64) -> PathBuf {
        self.directory.join(format!("{job_id}{RESULT_SUFFIX}"))
    }

    /// Decides what to do with a delivered job; see [`Admission`].
    pub fn admit(&mut self, job_id: i64) -> Result<Admission, JournalError> {
        if self.pending.contains(&job_id) {
            return Ok(Admission::InProgress);
        }
        if let Some(result) = self.read_result(job_id)? {
            return Ok(Admission::Resend(result));
        }
        if self.started_path(job_id).exists() {
            let result = JobResult {
                job_id,
                success: false,
                packages: Vec::new(),
                output_tail: String::new(),
                failure: Some(JobFailure {
                    kind: JobFailureKind::Interrupted,
                    message: "the agent restarted while the job ran, so its outcome is unknown; \
                              check the host's package state and run the job again"
                        .to_owned(),
                }),
                reboot_required: false,
            };
            self.store_result(&result)?;
            return Ok(Admission::Interrupted(result));
        }
        if self.acknowledged_set.contains(&job_id) {
            return Ok(Admission::AlreadyAcknowledged);
        }
        self.pending.insert(job_id);
        Ok(Admission::Run)
    }

    /// Records durably that a job is about to run.
    pub fn mark_started(&self, job_id: i64) -> Result<(), JournalError> {
        write_durably(&self.started_path(job_id), b"")
    }

    /// Stores a job's result durably and ends its pending state.
    pub fn finish(&mut self, result: &JobResult) -> Result<(), JournalError> {
        self.store_result(result)?;
        self.pending.remove(&result.job_id);
        Ok(())
    }

    fn store_result(&self, result: &JobResult) -> Result<(), JournalError> {
        let path = self.result_path(result.job_id);
        let json = serde_json::to_vec(result).map_err(|error| JournalError::Corrupt {
            path: path.clone(),
            reason: error.to_string(),
        })?;
        write_durably(&path, &json)?;
        remove_if_exists(&self.started_path(result.job_id))?;
        sync_directory(&self.directory)
    }

    fn read_result(&self, job_id: i64) -> Result<Option<JobResult>, JournalError> {
        let path = self.result_path(job_id);
        match fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|error| JournalError::Corrupt {
                        path,
                        reason: error.to_string(),
                    })
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(io_error(&path, source)),
        }
    }

    /// Forgets a result the server stored, and remembers its id as acknowledged.
    pub fn acknowledge(&mut self, job_id: i64) -> Result<(), JournalError> {
        if !self.acknowledged_set.contains(&job_id) {
            self.acknowledged.push_back(job_id);
            self.acknowledged_set.insert(job_id);
            while self.acknowledged.len() > MAX_ACKNOWLEDGED {
                if let Some(oldest) = self.acknowledged.pop_front() {
                    self.acknowledged_set.remove(&oldest);
                }
            }
            let mut text = String::new();
            for id in &self.acknowledged {
                text.push_str(&id.to_string());
                text.push('\n');
            }
            write_durably(&self.directory.join(ACKNOWLEDGED_FILE), text.as_bytes())?;
        }
        // The id is listed as acknowledged before the result goes, so a crash in between
        // re-sends an acknowledged result at worst, never runs the job again.
        remove_if_exists(&self.result_path(job_id))?;
        sync_directory(&self.directory)
    }

    /// Returns every stored result the server has not acknowledged, ordered by job id.
    pub fn unacknowledged_results(&self) -> Result<Vec<JobResult>, JournalError> {
        let entries =
            fs::read_dir(&self.directory).map_err(|source| io_error(&self.directory, source))?;
        let mut job_ids = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| io_error(&self.directory, source))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(id) = name
                .strip_suffix(RESULT_SUFFIX)
                .and_then(|id| id.parse().ok())
            {
                job_ids.push(id);
            }
        }
        job_ids.sort_unstable();
        let mut results = Vec::with_capacity(job_ids.len());
        for job_id in job_ids {
            if let Some(result) = self.read_result(job_id)? {
                results.push(result);
            }
        }
        Ok(results)
    }
}

fn io_error(path: &Path, source: std::io::Error) -> JournalError {
    JournalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to a temporary file, syncs it, renames it over `path` and syncs the directory.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), JournalError> {
    let temporary = path.with_extension("tmp");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(|source| io_error(&temporary, source))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|source| io_error(&temporary, source))?;
    fs::rename(&temporary, path).map_err(|source| io_error(path, source))?;
    if let Some(directory) = path.parent() {
        sync_directory(directory)?;
    }
    Ok(())
}

fn sync_directory(directory: &Path) -> Result<(), JournalError> {
    File::open(directory)
        .and_then(|handle| handle.sync_all())
        .map_err(|source| io_error(directory, source))
}

fn remove_if_exists(path: &Path) -> Result<(), JournalError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(io_error(path, source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(job_id: i64) -> JobResult {
        JobResult {
            job_id,
            success: true,
            packages: Vec::new(),
            output_tail: "done".into(),
            failure: None,
            reboot_required: false,
        }
    }

    #[test]
    fn new_job_runs_once() {
        let directory = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(directory.path()).unwrap();
        assert_eq!(journal.admit(1).unwrap(), Admission::Run);
        assert_eq!(journal.admit(1).unwrap(), Admission::InProgress);
        journal.mark_started(1).unwrap();
        assert_eq!(journal.admit(1).unwrap(), Admission::InProgress);
        journal.finish(&result(1)).unwrap();
        assert_eq!(journal.admit(1).unwrap(), Admission::Resend(result(1)));
        assert!(!directory.path().join("1.started").exists());
    }

    #[test]
    fn restart_mid_job_reports_interrupted() {
        let directory = tempfile::tempdir().unwrap();
        {
            let mut journal = Journal::open(directory.path()).unwrap();
            assert_eq!(journal.admit(7).unwrap(), Admission::Run);
            journal.mark_started(7).unwrap();
            // The agent dies here, before the job finishes.
        }
        let mut journal = Journal::open(directory.path()).unwrap();
        let Admission::Interrupted(interrupted) = journal.admit(7).unwrap() else {
            panic!("a started job without result must be reported as interrupted");
        };
        assert!(!interrupted.success);
        assert_eq!(
            interrupted.failure.as_ref().unwrap().kind,
            JobFailureKind::Interrupted
        );
        // The interrupted result is stored, so a third delivery re-sends the same result.
        assert_eq!(
            journal.admit(7).unwrap(),
            Admission::Resend(interrupted.clone())
        );
        assert_eq!(journal.unacknowledged_results().unwrap(), vec![interrupted]);
    }

    #[test]
    fn queued_job_not_started_runs_after_restart() {
        let directory = tempfile::tempdir().unwrap();
        {
            let mut journal = Journal::open(directory.path()).unwrap();
            assert_eq!(journal.admit(3).unwrap(), Admission::Run);
        }
        let mut journal = Journal::open(directory.path()).unwrap();
        assert_eq!(journal.admit(3).unwrap(), Admission::Run);
    }

    #[test]
    fn ack_forgets_result_and_ignores_duplicates() {
        let directory = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(directory.path()).unwrap();
        journal.admit(5).unwrap();
        journal.mark_started(5).unwrap();
        journal.finish(&result(5)).unwrap();
        journal.admit(6).unwrap();
        journal.finish(&result(6)).unwrap();
        assert_eq!(
            journal.unacknowledged_results().unwrap(),
            vec![result(5), result(6)]
        );

        journal.acknowledge(5).unwrap();
        assert_eq!(journal.unacknowledged_results().unwrap(), vec![result(6)]);
        assert_eq!(journal.admit(5).unwrap(), Admission::AlreadyAcknowledged);

        let mut reopened = Journal::open(directory.path()).unwrap();
        assert_eq!(reopened.admit(5).unwrap(), Admission::AlreadyAcknowledged);
        assert_eq!(reopened.unacknowledged_results().unwrap(), vec![result(6)]);
    }

    #[test]
    fn acknowledged_list_is_bounded() {
        let directory = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(directory.path()).unwrap();
        for job_id in 0..(MAX_ACKNOWLEDGED as i64 + 10) {
            journal.acknowledged.push_back(job_id);
            journal.acknowledged_set.insert(job_id);
        }
        journal.acknowledge(-1).unwrap();
        let reopened = Journal::open(directory.path()).unwrap();
        assert_eq!(reopened.acknowledged.len(), MAX_ACKNOWLEDGED);
        assert!(!reopened.acknowledged_set.contains(&0));
        assert!(reopened.acknowledged_set.contains(&-1));
    }

    #[test]
    fn corrupt_ack_file_is_an_error() {
        let directory = tempfile::tempdir().unwrap();
        fs::write(
            directory.path().join(ACKNOWLEDGED_FILE),
            "12\nnot-a-number\n",
        )
        .unwrap();
        let error = Journal::open(directory.path()).unwrap_err();
        assert!(error.to_string().contains("not-a-number"), "{error}");
    }
}
