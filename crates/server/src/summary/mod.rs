//! The fleet summary of `GET /summary`: host, update and job counts for the dashboard.
//!
//! Every number is computed by `COUNT`/`SUM ... GROUP BY` queries in the database, so the cost
//! does not depend on loading hosts, updates or jobs into memory. Not for per-host detail
//! (`hosts`) or update lists (`updates`).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, QueryTrait,
};
use serde::{Deserialize, Serialize};

use crate::api_time::rfc3339;
use crate::db::entities::{host, host_update, job};
use crate::error::{ApiQuery, ApiResult};
use crate::jobs::job_state;
use crate::state::AppState;

/// Width of the window of `jobs.failed_last_24h`, in milliseconds.
pub const RECENT_FAILURE_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// Routes of the summary API, mounted behind the token middleware.
pub fn routes() -> Router<AppState> {
    Router::new().route("/summary", get(get_summary))
}

/// The response of `GET /summary`.
#[derive(Debug, Default, Serialize)]
pub struct SummaryView {
    pub hosts: HostCounts,
    pub updates: UpdateCounts,
    pub jobs: JobCounts,
    /// Server time the counts were taken, RFC 3339.
    pub generated_at: Option<String>,
}

/// Host counts. `up`, `down`, `unknown` and the update and scan counts cover approved hosts
/// only, because pending and rejected hosts are not monitored.
#[derive(Debug, Default, Serialize)]
pub struct HostCounts {
    /// All hosts, of every approval.
    pub total: i64,
    pub approved: i64,
    pub pending: i64,
    pub rejected: i64,
    pub up: i64,
    pub down: i64,
    pub unknown: i64,
    /// Approved hosts with at least one update of status `available`.
    pub with_pending_updates: i64,
    /// Approved hosts with at least one security update of status `available`.
    pub with_security_updates: i64,
    pub reboot_required: i64,
    /// Approved hosts whose last scan failed for at least one package manager.
    pub update_error: i64,
}

/// Update counts over the approved hosts.
#[derive(Debug, Default, Serialize)]
pub struct UpdateCounts {
    /// Updates of status `available`: the ones an upgrade would install now.
    pub pending: i64,
    /// Security updates of status `available`.
    pub security: i64,
    /// All updates by status (`available`, `held`, `deferred`, `kept_back`).
    pub by_status: StatusCounts,
}

/// Updates of each status, with the security updates among them.
#[derive(Debug, Default, Serialize)]
pub struct StatusCounts {
    pub available: UpdateStatusCount,
    pub held: UpdateStatusCount,
    pub deferred: UpdateStatusCount,
    pub kept_back: UpdateStatusCount,
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct UpdateStatusCount {
    pub total: i64,
    pub security: i64,
}

/// Job counts.
#[derive(Debug, Default, Serialize)]
pub struct JobCounts {
    pub queued: i64,
    pub sent: i64,
    pub running: i64,
    /// Jobs in state `failed` whose `finished_at` is within the last 24 hours of server time.
    pub failed_last_24h: i64,
}

/// Query of `GET /summary`: no parameters, so that a misspelled one is a 422.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {}

/// `GET /summary`: counts of hosts, pending updates and jobs across the whole fleet.
pub async fn get_summary(
    State(state): State<AppState>,
    ApiQuery(SummaryQuery {}): ApiQuery<SummaryQuery>,
) -> ApiResult<Json<SummaryView>> {
    let now = state.clock.now_ms();
    let mut hosts = host_counts(&state.db).await?;
    let (updates, hosts_with_updates) = update_counts(&state.db).await?;
    hosts.with_pending_updates = hosts_with_updates.pending;
    hosts.with_security_updates = hosts_with_updates.security;
    let jobs = job_counts(&state.db, now).await?;
    Ok(Json(SummaryView {
        hosts,
        updates,
        jobs,
        generated_at: rfc3339(now),
    }))
}

/// One `(approval, status)` group of hosts: approval, status, hosts, hosts that need a reboot,
/// hosts whose last scan failed. The sums are optional because SQL types `SUM` as nullable.
type HostGroupRow = (String, String, i64, Option<i64>, Option<i64>);

/// Counts hosts by approval and status, and approved hosts that need a reboot or whose last
/// scan failed. Leaves the update counts at zero.
async fn host_counts(db: &impl ConnectionTrait) -> Result<HostCounts, DbErr> {
    let rows: Vec<HostGroupRow> = host::Entity::find()
        .select_only()
        .column(host::Column::Approval)
        .column(host::Column::Status)
        .column_as(Expr::col(host::Column::Id).count(), "hosts")
        .column_as(
            Expr::cust("SUM(CASE WHEN reboot_required THEN 1 ELSE 0 END)"),
            "reboot_required",
        )
        .column_as(
            Expr::cust("SUM(CASE WHEN update_error IS NOT NULL THEN 1 ELSE 0 END)"),
            "update_error",
        )
        .group_by(host::Column::Approval)
        .group_by(host::Column::Status)
        .into_tuple()
        .all(db)
        .await?;

    let mut counts = HostCounts::default();
    for (approval, status, hosts, reboot_required, update_error) in rows {
        counts.total += hosts;
        match approval.as_str() {
            "approved" => counts.approved += hosts,
            "rejected" => counts.rejected += hosts,
            // The same rule as `hosts::parse_approval`: anything else reads as pending.
            _ => counts.pending += hosts,
        }
        if approval != "approved" {
            continue;
        }
        match status.as_str() {
            "up" => counts.up += hosts,
            "down" => counts.down += hosts,
            _ => counts.unknown += hosts,
        }
        counts.reboot_required += reboot_required.unwrap_or(0);
        counts.update_error += update_error.unwrap_or(0);
    }
    Ok(counts)
}

/// Numbers of approved hosts with available updates and with available security updates.
#[derive(Debug, Default)]
struct HostsWithUpdates {
    pending: i64,
    security: i64,
}

/// Counts the updates of approved hosts by status, and the hosts with available updates.
async fn update_counts(
    db: &impl ConnectionTrait,
) -> Result<(UpdateCounts, HostsWithUpdates), DbErr> {
    let approved_hosts = host::Entity::find()
        .select_only()
        .column(host::Column::Id)
        .filter(host::Column::Approval.eq("approved"))
        .into_query();

    let rows: Vec<(String, i64, Option<i64>)> = host_update::Entity::find()
        .select_only()
        .column(host_update::Column::Status)
        .column_as(Expr::col(host_update::Column::Id).count(), "updates")
        .column_as(
            Expr::cust("SUM(CASE WHEN security THEN 1 ELSE 0 END)"),
            "security",
        )
        .filter(host_update::Column::HostId.in_subquery(approved_hosts.clone()))
        .group_by(host_update::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let mut by_status = StatusCounts::default();
    for (status, total, security) in rows {
        let count = UpdateStatusCount {
            total,
            security: security.unwrap_or(0),
        };
        match status.as_str() {
            "available" => by_status.available = count,
            "held" => by_status.held = count,
            "deferred" => by_status.deferred = count,
            "kept_back" => by_status.kept_back = count,
            other => tracing::warn!(
                status = other,
                "update with an unknown status is not counted"
            ),
        }
    }

    let hosts: Option<(i64, i64)> = host_update::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(DISTINCT host_id)"), "hosts")
        .column_as(
            Expr::cust("COUNT(DISTINCT CASE WHEN security THEN host_id END)"),
            "security_hosts",
        )
        .filter(host_update::Column::HostId.in_subquery(approved_hosts))
        .filter(host_update::Column::Status.eq("available"))
        .into_tuple()
        .one(db)
        .await?;
    let (pending_hosts, security_hosts) = hosts.unwrap_or_default();

    let updates = UpdateCounts {
        pending: by_status.available.total,
        security: by_status.available.security,
        by_status,
    };
    let hosts = HostsWithUpdates {
        pending: pending_hosts,
        security: security_hosts,
    };
    Ok((updates, hosts))
}

/// Counts open jobs by state, and jobs that failed within [`RECENT_FAILURE_WINDOW_MS`] before
/// `now_ms`.
async fn job_counts(db: &impl ConnectionTrait, now_ms: i64) -> Result<JobCounts, DbErr> {
    let rows: Vec<(String, i64)> = job::Entity::find()
        .select_only()
        .column(job::Column::State)
        .column_as(Expr::col(job::Column::Id).count(), "jobs")
        .filter(job::Column::State.is_in(job_state::OPEN))
        .group_by(job::Column::State)
        .into_tuple()
        .all(db)
        .await?;
    let mut counts = JobCounts::default();
    for (state, jobs) in rows {
        match state.as_str() {
            job_state::QUEUED => counts.queued = jobs,
            job_state::SENT => counts.sent = jobs,
            job_state::RUNNING => counts.running = jobs,
            _ => {}
        }
    }

    let failed: Option<i64> = job::Entity::find()
        .select_only()
        .column_as(Expr::col(job::Column::Id).count(), "jobs")
        .filter(job::Column::State.eq(job_state::FAILED))
        .filter(job::Column::FinishedAt.gte(now_ms - RECENT_FAILURE_WINDOW_MS))
        .into_tuple()
        .one(db)
        .await?;
    counts.failed_last_24h = failed.unwrap_or(0);
    Ok(counts)
}
