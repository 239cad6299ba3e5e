//! Insertion of install jobs: the rows of one request for one or many hosts, with at most one
//! queued, sent or running job per host and request.

use std::collections::HashMap;

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, Func, OnConflict};
use sea_orm::{ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QuerySelect};
use sysmanage_protocol::InstallRequest;

use super::job_state;
use super::request_key::request_key;
use crate::db::entities::{job, job_package};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Rows per `INSERT`, `UPDATE ... IN` or `SELECT ... IN` statement. A job row binds 15 values,
/// so 1,000 rows stay under SQLite's limit of 32,766 bound variables and PostgreSQL's 65,535.
pub(super) const CHUNK: usize = 1000;

/// What every job of one request shares: the stored request, its key, its author and its times.
pub(super) struct NewJob<'a> {
    request: &'a InstallRequest,
    request_json: String,
    request_key: String,
    created_by: Option<i64>,
    created_at: i64,
    expires_at: i64,
}

/// The outcome of [`insert_jobs`], each list in the order of the requested hosts.
pub(super) struct InsertedJobs {
    /// `(host_id, job_id)` of each new job.
    pub(super) created: Vec<(i64, i64)>,
    /// `(host_id, job_id)` of the identical unfinished job of each host that got no new job.
    pub(super) duplicates: Vec<(i64, i64)>,
}

impl<'a> NewJob<'a> {
    pub(super) fn new(
        state: &AppState,
        request: &'a InstallRequest,
        created_by: Option<i64>,
    ) -> ApiResult<Self> {
        let created_at = state.clock.now_ms();
        let expiry_ms =
            i64::try_from(state.config.jobs.expiry_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let request_json = serde_json::to_string(request).map_err(|error| {
            ApiError::Internal(anyhow::anyhow!(
                "failed to serialize a job request: {error}"
            ))
        })?;
        Ok(Self {
            request,
            request_json,
            request_key: request_key(request),
            created_by,
            created_at,
            expires_at: created_at.saturating_add(expiry_ms),
        })
    }

    /// The `jobs` row of this request for one host, in state `queued`.
    pub(super) fn row(&self, host_id: i64) -> job::ActiveModel {
        job::ActiveModel {
            host_id: Set(host_id),
            request: Set(self.request_json.clone()),
            state: Set(job_state::QUEUED.to_owned()),
            created_by: Set(self.created_by),
            created_at: Set(self.created_at),
            sent_at: Set(None),
            started_at: Set(None),
            finished_at: Set(None),
            expires_at: Set(self.expires_at),
            reboot_required: Set(false),
            output_tail: Set(None),
            failure_kind: Set(None),
            failure_message: Set(None),
            request_key: Set(Some(self.request_key.clone())),
            ..Default::default()
        }
    }

    /// One `job_packages` row per requested package and job, or `None` for a request without a
    /// package list (`all`, `security_only`).
    pub(super) fn package_rows(
        &self,
        job_ids: &[i64],
    ) -> Option<impl Iterator<Item = job_package::ActiveModel>> {
        let InstallRequest::Packages { packages } = self.request else {
            return None;
        };
        Some(job_ids.iter().flat_map(move |&job_id| {
            packages
                .iter()
                .map(move |package| job_package::ActiveModel {
                    job_id: Set(job_id),
                    manager: Set(package.manager.clone()),
                    name: Set(package.name.clone()),
                    requested_version: Set(Some(package.version.clone())),
                    installed_version: Set(None),
                    outcome: Set("pending".to_owned()),
                    message: Set(None),
                    ..Default::default()
                })
        }))
    }
}

/// Inserts one queued job per host of `host_ids` in one transaction. A host that already has an
/// identical job queued, sent or running gets no new job and is listed with that job instead.
///
/// The unique index `idx_jobs_open_request` decides, not a check before the insert, so that two
/// concurrent requests cannot both create a job. On PostgreSQL the second insert waits until
/// the first transaction ends, and SQLite runs one write transaction at a time.
pub(super) async fn insert_jobs(
    state: &AppState,
    host_ids: &[i64],
    new_job: &NewJob<'_>,
) -> ApiResult<InsertedJobs> {
    // Rows are inserted in the order of host ids, so that two concurrent requests that list the
    // same hosts in different orders wait for each other instead of deadlocking on PostgreSQL.
    let mut sorted_host_ids = host_ids.to_vec();
    sorted_host_ids.sort_unstable();
    let txn = crate::transaction::begin_write(&state.db).await?;
    let mut job_ids: HashMap<i64, i64> = HashMap::with_capacity(host_ids.len());
    let mut existing: HashMap<i64, i64> = HashMap::new();
    for chunk in sorted_host_ids.chunks(CHUNK) {
        // `ON CONFLICT DO NOTHING` without a target covers the partial unique index: a row that
        // would duplicate an unfinished job is left out and the others are inserted. SQLite
        // returns the rows of `RETURNING` in no set order, so jobs are matched to their hosts by
        // `host_id`, which is unique within one request.
        let inserted = job::Entity::insert_many(chunk.iter().map(|&host_id| new_job.row(host_id)))
            .on_conflict(OnConflict::new().do_nothing().to_owned())
            .exec_with_returning(&txn)
            .await?;
        job_ids.extend(inserted.into_iter().map(|model| (model.host_id, model.id)));
        let chunk_job_ids: Vec<i64> = chunk
            .iter()
            .filter_map(|host_id| job_ids.get(host_id).copied())
            .collect();
        let left_out: Vec<i64> = chunk
            .iter()
            .copied()
            .filter(|host_id| !job_ids.contains_key(host_id))
            .collect();
        if !left_out.is_empty() {
            existing.extend(latest_jobs_with_key(&txn, &left_out, &new_job.request_key).await?);
        }
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

    let mut inserted = InsertedJobs {
        created: Vec::with_capacity(job_ids.len()),
        duplicates: Vec::with_capacity(existing.len()),
    };
    for &host_id in host_ids {
        if let Some(&job_id) = job_ids.get(&host_id) {
            inserted.created.push((host_id, job_id));
        } else if let Some(&job_id) = existing.get(&host_id) {
            inserted.duplicates.push((host_id, job_id));
        } else {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "failed to insert a job for host {host_id}: the insert was skipped as a \
                 duplicate, but no identical job was found"
            )));
        }
    }
    Ok(inserted)
}

/// Returns `(host_id, job_id)` of the newest job with `key` of each host of `host_ids`. For a
/// host whose insert was left out, that is the unfinished job it conflicted with, because no
/// newer job with the key can exist while that one is unfinished.
async fn latest_jobs_with_key(
    txn: &DatabaseTransaction,
    host_ids: &[i64],
    key: &str,
) -> Result<Vec<(i64, i64)>, DbErr> {
    job::Entity::find()
        .select_only()
        .column(job::Column::HostId)
        .column_as(Expr::from(Func::max(Expr::col(job::Column::Id))), "job_id")
        .filter(job::Column::HostId.is_in(host_ids.iter().copied()))
        .filter(job::Column::RequestKey.eq(key))
        .group_by(job::Column::HostId)
        .into_tuple()
        .all(txn)
        .await
}
