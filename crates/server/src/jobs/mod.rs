//! Install jobs: creation through the API, delivery to agents, results, and expiry.
//!
//! A job runs at most once: the server may deliver it several times (on every reconnect until
//! the agent reports it started or finished), the agent runs each job id once, and the first
//! result the server stores is final. See docs/protocol.md. A host gets no second job identical
//! to one it has queued, sent or running (see [`request_key`]).

mod api;
mod bulk;
mod create;
mod delivery;
mod expiry;
mod new_job;
mod request_key;
mod results;

use axum::Router;
use axum::routing::{get, post};
use sysmanage_protocol::ErrorCode;

pub use delivery::{jobs_to_deliver, mark_sent};
pub use expiry::spawn_expiry;
pub use request_key::request_key;
pub use results::{record_result, record_started};

use crate::state::AppState;

/// Job states as stored in `jobs.state`.
pub mod job_state {
    pub const QUEUED: &str = "queued";
    pub const SENT: &str = "sent";
    pub const RUNNING: &str = "running";
    pub const SUCCEEDED: &str = "succeeded";
    pub const FAILED: &str = "failed";
    pub const EXPIRED: &str = "expired";
    /// States in which a job has not started and can still expire.
    pub const WAITING: [&str; 2] = [QUEUED, SENT];
    /// States of a job that has not finished.
    pub const OPEN: [&str; 3] = [QUEUED, SENT, RUNNING];
}

/// Routes of the jobs API, mounted behind the token middleware.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/hosts/{id}/updates/install", post(create::create_job))
        .route("/jobs", get(api::list_jobs).post(bulk::create_jobs))
        .route("/jobs/{id}", get(api::get_job))
}

/// Why a job message from an agent was not applied.
#[derive(Debug, thiserror::Error)]
pub enum JobMessageError {
    #[error("job {0} does not exist or belongs to another host")]
    UnknownJob(i64),
    #[error("invalid job result: {0}")]
    Invalid(String),
    #[error("database error while storing a job update")]
    Database(#[from] sea_orm::DbErr),
}

impl JobMessageError {
    /// Logs the error and returns the code and message of the `Error` reply to the agent.
    pub fn into_reply(self) -> (ErrorCode, String) {
        match &self {
            Self::UnknownJob(job_id) => {
                tracing::warn!(job_id, "agent reported on an unknown job");
                (ErrorCode::InvalidRequest, self.to_string())
            }
            Self::Invalid(reason) => {
                tracing::warn!(reason = ?reason, "rejected an invalid job result");
                (ErrorCode::InvalidRequest, self.to_string())
            }
            Self::Database(error) => {
                tracing::error!(%error, "failed to store a job update");
                (
                    ErrorCode::Internal,
                    "the server could not store the job update; send it again later".to_owned(),
                )
            }
        }
    }
}
