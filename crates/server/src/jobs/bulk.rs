//! `POST /jobs`: one install request for many hosts, created in one transaction and sent to the
//! connected hosts at once.

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use futures_util::StreamExt as _;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};
use sysmanage_protocol::{Approval, InstallJob, InstallRequest, ServerMessage};

use super::create::{InstallBody, NewJob, PackageBody, validate_request};
use super::job_state;
use crate::auth::CurrentUser;
use crate::db::entities::{host, job, job_package};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::events::{self, Event};
use crate::hosts::parse_approval;
use crate::state::AppState;

/// Maximum number of hosts in one request.
const MAX_HOSTS: usize = 100_000;

/// Rows per `INSERT`, `UPDATE ... IN` or `SELECT ... IN` statement. A job row binds 14 values,
/// so 1,000 rows stay under SQLite's limit of 32,766 bound variables and PostgreSQL's 65,535.
const CHUNK: usize = 1000;

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
    /// `not_found` or `not_approved`.
    pub reason: &'static str,
}

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

/// Inserts one queued job per host in one transaction and returns `(host_id, job_id)` pairs in
/// the order of `host_ids`.
async fn insert_jobs(
    state: &AppState,
    host_ids: &[i64],
    new_job: &NewJob<'_>,
) -> ApiResult<Vec<(i64, i64)>> {
    let txn = crate::transaction::begin_write(&state.db).await?;
    let mut job_ids: HashMap<i64, i64> = HashMap::with_capacity(host_ids.len());
    for chunk in host_ids.chunks(CHUNK) {
        // SQLite returns the rows of `RETURNING` in no set order, so jobs are matched to their
        // hosts by `host_id`, which is unique within one request.
        let inserted = job::Entity::insert_many(chunk.iter().map(|&host_id| new_job.row(host_id)))
            .exec_with_returning(&txn)
            .await?;
        job_ids.extend(inserted.into_iter().map(|model| (model.host_id, model.id)));
        let chunk_job_ids: Vec<i64> = chunk
            .iter()
            .filter_map(|host_id| job_ids.get(host_id).copied())
            .collect();
        if let Some(rows) = new_job.package_rows(&chunk_job_ids) {
            let rows: Vec<job_package::ActiveModel> = rows.collect();
            // A package row binds 7 values; 1,000 packages per job is the request's limit.
            for rows in rows.chunks(CHUNK * 2) {
                job_package::Entity::insert_many(rows.iter().cloned())
                    .exec_without_returning(&txn)
                    .await?;
            }
        }
    }
    txn.commit().await?;
    host_ids
        .iter()
        .map(|host_id| {
            job_ids
                .get(host_id)
                .map(|job_id| (*host_id, *job_id))
                .ok_or_else(|| {
                    ApiError::Internal(anyhow::anyhow!(
                        "the database returned no job for host {host_id} of a bulk insert"
                    ))
                })
        })
        .collect()
}

/// Hands each job to its host's connection, if the host is connected, and returns the ids of
/// the jobs that went out.
async fn send_jobs(state: &AppState, jobs: &[(i64, i64)], request: &InstallRequest) -> Vec<i64> {
    futures_util::stream::iter(jobs.iter().copied())
        .filter(|(host_id, _)| std::future::ready(state.agents.is_connected(*host_id)))
        .map(|(host_id, job_id)| async move {
            let message = ServerMessage::InstallJob(InstallJob {
                job_id,
                request: request.clone(),
            });
            state
                .agents
                .send(host_id, message)
                .await
                .is_ok()
                .then_some(job_id)
        })
        .buffer_unordered(CONCURRENT_SENDS)
        .filter_map(std::future::ready)
        .collect()
        .await
}

/// Marks the queued jobs among `job_ids` as sent and returns the ids it changed. A job the agent
/// already reported on keeps its newer state.
async fn mark_all_sent(state: &AppState, job_ids: &[i64]) -> Result<HashSet<i64>, DbErr> {
    let now = state.clock.now_ms();
    let mut marked = HashSet::with_capacity(job_ids.len());
    for chunk in job_ids.chunks(CHUNK) {
        job::Entity::update_many()
            .col_expr(job::Column::State, Expr::value(job_state::SENT))
            .col_expr(job::Column::SentAt, Expr::value(now))
            .filter(job::Column::Id.is_in(chunk.iter().copied()))
            .filter(job::Column::State.eq(job_state::QUEUED))
            .exec(&state.db)
            .await?;
        let rows: Vec<i64> = job::Entity::find()
            .select_only()
            .column(job::Column::Id)
            .filter(job::Column::Id.is_in(chunk.iter().copied()))
            .filter(job::Column::State.eq(job_state::SENT))
            .filter(job::Column::SentAt.eq(now))
            .into_tuple()
            .all(&state.db)
            .await?;
        marked.extend(rows);
    }
    Ok(marked)
}

/// `POST /jobs`: creates one install job for each approved host of `host_ids` and sends it at
/// once to the hosts that are connected. 201 with the jobs and the hosts skipped (unknown or
/// not approved); 409 when no host of the list can install; 422 naming the invalid field.
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
    for host_id in host_ids {
        match approvals.get(&host_id) {
            Some(Approval::Approved) => approved.push(host_id),
            Some(_) => skipped.push(SkippedHost {
                host_id,
                reason: "not_approved",
            }),
            None => skipped.push(SkippedHost {
                host_id,
                reason: "not_found",
            }),
        }
    }
    if approved.is_empty() {
        return Err(ApiError::Conflict(format!(
            "none of the {} hosts can install updates: {} do not exist and {} are not approved; \
             list approved hosts (GET /hosts?approval=approved)",
            skipped.len(),
            skipped
                .iter()
                .filter(|host| host.reason == "not_found")
                .count(),
            skipped
                .iter()
                .filter(|host| host.reason == "not_approved")
                .count(),
        )));
    }

    let new_job = NewJob::new(&state, &request, Some(user.user_id))?;
    let jobs = insert_jobs(&state, &approved, &new_job).await?;
    tracing::info!(
        jobs = jobs.len(),
        skipped = skipped.len(),
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

    let delivered = send_jobs(&state, &jobs, &request).await;
    let sent = mark_all_sent(&state, &delivered).await?;
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
