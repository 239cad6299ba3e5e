//! `POST /jobs`: one install request for many hosts, created in one transaction and sent to the
//! connected hosts at once. A host with an identical job queued, sent or running is skipped.

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use futures_util::StreamExt as _;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};
use sysmanage_protocol::{Approval, InstallJob, InstallRequest, ServerMessage};

use super::create::{InstallBody, PackageBody, validate_request};
use super::job_state;
use super::new_job::{CHUNK, NewJob, insert_jobs};
use crate::auth::CurrentUser;
use crate::db::entities::{host, job};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::events::{self, Event};
use crate::hosts::parse_approval;
use crate::state::AppState;

/// Maximum number of hosts in one request.
const MAX_HOSTS: usize = 100_000;

/// Connected hosts a job is handed to at the same time. A host whose queue is full makes its
/// send wait, so one slow host does not hold up the others.
const CONCURRENT_SENDS: usize = 256;

/// Request body: the hosts, and exactly one of `packages`, `all: true` or
/// `security_only: true`, as for one host.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkInstallBody {
    host_ids: Option<Vec<i64>>,
    packages: Option<Vec<PackageBody>>,
    all: Option<bool>,
    security_only: Option<bool>,
}

/// One job of the 201 response.
#[derive(Debug, Serialize)]
pub struct CreatedJob {
    pub host_id: i64,
    pub job_id: i64,
    /// `queued`, or `sent` when the host was connected and the job went out at once.
    pub state: &'static str,
}

/// A host of the request that got no job, and why.
#[derive(Debug, Serialize)]
pub struct SkippedHost {
    pub host_id: i64,
    /// [`NOT_FOUND`], [`NOT_APPROVED`] or [`DUPLICATE`].
    pub reason: &'static str,
    /// For [`DUPLICATE`], the identical job that has not finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<i64>,
}

/// Skip reason of a host that does not exist.
const NOT_FOUND: &str = "not_found";
/// Skip reason of a host that is pending or rejected.
const NOT_APPROVED: &str = "not_approved";
/// Skip reason of a host that has an identical job queued, sent or running.
const DUPLICATE: &str = "duplicate";

/// Maximum job ids named in the message of a 409.
const MAX_JOB_IDS_IN_MESSAGE: usize = 10;

/// Body of the 201 response.
#[derive(Debug, Serialize)]
pub struct BulkCreated {
    pub jobs: Vec<CreatedJob>,
    pub skipped: Vec<SkippedHost>,
}

/// Checks the host list: present, not empty, at most [`MAX_HOSTS`], no id twice.
fn validate_host_ids(host_ids: Option<Vec<i64>>) -> ApiResult<Vec<i64>> {
    let host_ids = host_ids.ok_or_else(|| {
        ApiError::invalid(
            "host_ids",
            "is missing; list the ids of the hosts to update",
        )
    })?;
    if host_ids.is_empty() {
        return Err(ApiError::invalid("host_ids", "must list at least one host"));
    }
    if host_ids.len() > MAX_HOSTS {
        return Err(ApiError::invalid(
            "host_ids",
            format!(
                "lists {} hosts; send at most {MAX_HOSTS} per request",
                host_ids.len()
            ),
        ));
    }
    let mut seen = HashSet::with_capacity(host_ids.len());
    for (index, host_id) in host_ids.iter().enumerate() {
        if *host_id < 1 {
            return Err(ApiError::invalid(
                format!("host_ids[{index}]"),
                format!("{host_id} is not a host id; send positive integers such as 12"),
            ));
        }
        if !seen.insert(*host_id) {
            return Err(ApiError::invalid(
                format!("host_ids[{index}]"),
                format!("host {host_id} is listed more than once"),
            ));
        }
    }
    Ok(host_ids)
}

/// Returns the approval of every host of `host_ids` that exists.
async fn approvals(
    db: &impl ConnectionTrait,
    host_ids: &[i64],
) -> Result<HashMap<i64, Approval>, DbErr> {
    let mut found = HashMap::with_capacity(host_ids.len());
    for chunk in host_ids.chunks(CHUNK) {
        let rows: Vec<(i64, String)> = host::Entity::find()
            .select_only()
            .column(host::Column::Id)
            .column(host::Column::Approval)
            .filter(host::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        found.extend(
            rows.into_iter()
                .map(|(host_id, approval)| (host_id, parse_approval(&approval))),
        );
    }
    Ok(found)
}

/// Hands each job to its host's connection and returns the ids of the jobs that did not go out,
/// because the host disconnected or its connection closed meanwhile.
async fn send_jobs(state: &AppState, jobs: &[(i64, i64)], request: &InstallRequest) -> Vec<i64> {
    futures_util::stream::iter(jobs.iter().copied())
        .map(|(host_id, job_id)| async move {
            let message = ServerMessage::InstallJob(InstallJob {
                job_id,
                request: request.clone(),
            });
            state
                .agents
                .send(host_id, message)
                .await
                .is_err()
                .then_some(job_id)
        })
        .buffer_unordered(CONCURRENT_SENDS)
        .filter_map(std::future::ready)
        .collect()
        .await
}

/// Sets the jobs among `job_ids` that are in state `from` to state `to`, with `sent_at` set to
/// `sent_at`, and returns the ids it changed.
async fn set_states(
    state: &AppState,
    job_ids: &[i64],
    from: &str,
    to: &str,
    sent_at: Option<i64>,
) -> Result<HashSet<i64>, DbErr> {
    let mut changed = HashSet::with_capacity(job_ids.len());
    for chunk in job_ids.chunks(CHUNK) {
        job::Entity::update_many()
            .col_expr(job::Column::State, Expr::value(to))
            .col_expr(job::Column::SentAt, Expr::value(sent_at))
            .filter(job::Column::Id.is_in(chunk.iter().copied()))
            .filter(job::Column::State.eq(from))
            .exec(&state.db)
            .await?;
        let rows: Vec<i64> = job::Entity::find()
            .select_only()
            .column(job::Column::Id)
            .filter(job::Column::Id.is_in(chunk.iter().copied()))
            .filter(job::Column::State.eq(to))
            .into_tuple()
            .all(&state.db)
            .await?;
        changed.extend(rows);
    }
    Ok(changed)
}

/// Marks the jobs of connected hosts as sent, sends them, and puts the ones that did not go out
/// back to queued. Returns the ids of the jobs that went out.
///
/// The jobs are marked before they are sent: once agents have them, their results compete for
/// the database, and on SQLite these updates then waited behind thousands of result writes
/// (35 s for 10,000 hosts in `bench/run`). Queued and sent jobs are both delivered again when
/// their agent reconnects, so a job that stays marked sent after a failed send is not lost.
async fn deliver(
    state: &AppState,
    jobs: &[(i64, i64)],
    request: &InstallRequest,
) -> Result<HashSet<i64>, DbErr> {
    let connected: Vec<(i64, i64)> = jobs
        .iter()
        .copied()
        .filter(|(host_id, _)| state.agents.is_connected(*host_id))
        .collect();
    let connected_ids: Vec<i64> = connected.iter().map(|(_, job_id)| *job_id).collect();
    let now = state.clock.now_ms();
    let mut sent = set_states(
        state,
        &connected_ids,
        job_state::QUEUED,
        job_state::SENT,
        Some(now),
    )
    .await?;
    let to_send: Vec<(i64, i64)> = connected
        .into_iter()
        .filter(|(_, job_id)| sent.contains(job_id))
        .collect();
    let failed = send_jobs(state, &to_send, request).await;
    if !failed.is_empty() {
        tracing::warn!(
            jobs = failed.len(),
            "install jobs not delivered; they stay queued for the agent's next connection"
        );
        set_states(state, &failed, job_state::SENT, job_state::QUEUED, None).await?;
        for job_id in &failed {
            sent.remove(job_id);
        }
    }
    Ok(sent)
}

/// `POST /jobs`: creates one install job for each approved host of `host_ids` and sends it at
/// once to the hosts that are connected. 201 with the jobs and the hosts skipped (unknown, not
/// approved, or with an identical job queued, sent or running); 409 when no host of the list
/// gets a job; 422 naming the invalid field.
pub async fn create_jobs(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    ApiJson(body): ApiJson<BulkInstallBody>,
) -> ApiResult<(StatusCode, Json<BulkCreated>)> {
    user.require_admin()?;
    let host_ids = validate_host_ids(body.host_ids)?;
    let request = validate_request(InstallBody {
        packages: body.packages,
        all: body.all,
        security_only: body.security_only,
    })?;

    let approvals = approvals(&state.db, &host_ids).await?;
    let mut skipped = Vec::new();
    let mut approved = Vec::with_capacity(host_ids.len());
    for &host_id in &host_ids {
        let reason = match approvals.get(&host_id) {
            Some(Approval::Approved) => {
                approved.push(host_id);
                continue;
            }
            Some(_) => NOT_APPROVED,
            None => NOT_FOUND,
        };
        skipped.push(SkippedHost {
            host_id,
            reason,
            job_id: None,
        });
    }
    if approved.is_empty() {
        return Err(no_host_gets_job(&skipped));
    }

    let new_job = NewJob::new(&state, &request, Some(user.user_id))?;
    let inserted = insert_jobs(&state, &approved, &new_job).await?;
    skipped.extend(
        inserted
            .duplicates
            .iter()
            .map(|&(host_id, job_id)| SkippedHost {
                host_id,
                reason: DUPLICATE,
                job_id: Some(job_id),
            }),
    );
    let position: HashMap<i64, usize> = host_ids
        .iter()
        .enumerate()
        .map(|(index, host_id)| (*host_id, index))
        .collect();
    skipped.sort_by_key(|host| position.get(&host.host_id).copied());
    let jobs = inserted.created;
    if jobs.is_empty() {
        return Err(no_host_gets_job(&skipped));
    }
    tracing::info!(
        jobs = jobs.len(),
        skipped = skipped.len(),
        duplicates = inserted.duplicates.len(),
        user = %user.userid,
        "install jobs created"
    );
    for &(host_id, job_id) in &jobs {
        events::publish(
            &state,
            Event::JobState {
                job_id,
                host_id,
                state: job_state::QUEUED.to_owned(),
            },
        );
    }

    let sent = deliver(&state, &jobs, &request).await?;
    tracing::info!(jobs = sent.len(), "install jobs delivered");
    let jobs = jobs
        .into_iter()
        .map(|(host_id, job_id)| {
            let state_name = if sent.contains(&job_id) {
                events::publish(
                    &state,
                    Event::JobState {
                        job_id,
                        host_id,
                        state: job_state::SENT.to_owned(),
                    },
                );
                job_state::SENT
            } else {
                job_state::QUEUED
            };
            CreatedJob {
                host_id,
                job_id,
                state: state_name,
            }
        })
        .collect();
    Ok((StatusCode::CREATED, Json(BulkCreated { jobs, skipped })))
}

/// Returns the 409 of a request in which every host was skipped, with the count of each reason
/// and the first few identical jobs.
fn no_host_gets_job(skipped: &[SkippedHost]) -> ApiError {
    let count = |reason: &str| skipped.iter().filter(|host| host.reason == reason).count();
    let duplicate_jobs: Vec<String> = skipped
        .iter()
        .filter_map(|host| host.job_id)
        .take(MAX_JOB_IDS_IN_MESSAGE)
        .map(|job_id| job_id.to_string())
        .collect();
    let duplicate_jobs = if duplicate_jobs.is_empty() {
        String::new()
    } else {
        format!(" (jobs {})", duplicate_jobs.join(", "))
    };
    ApiError::Conflict(format!(
        "none of the {} hosts can install updates: {} do not exist, {} are not approved and {} \
         already have an identical job queued, sent or running{duplicate_jobs}; list approved \
         hosts with GET /hosts?approval=approved, and follow a job with GET /jobs/{{id}}",
        skipped.len(),
        count(NOT_FOUND),
        count(NOT_APPROVED),
        count(DUPLICATE),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(host_ids: Option<Vec<i64>>) -> String {
        match validate_host_ids(host_ids) {
            Err(ApiError::Invalid { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn host_list_checked() {
        assert_eq!(field_of(None), "host_ids");
        assert_eq!(field_of(Some(Vec::new())), "host_ids");
        assert_eq!(field_of(Some(vec![4, 5, 4])), "host_ids[2]");
        assert_eq!(field_of(Some((0..=100_000).collect())), "host_ids");
        assert_eq!(validate_host_ids(Some(vec![3, 1])).unwrap(), vec![3, 1]);
    }
}
