//! `GET /jobs` and `GET /jobs/{id}`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::api_time::{rfc3339, rfc3339_opt};
use crate::db::entities::{host, job, job_package};
use crate::error::{ApiError, ApiPath, ApiResult};
use crate::hosts::{PagedQuery, parse_id};
use crate::state::AppState;

/// A job as the API returns it. `packages` and `output_tail` are filled by `GET /jobs/{id}`
/// only.
#[derive(Debug, Serialize)]
pub struct JobView {
    pub id: i64,
    pub host_id: i64,
    pub hostname: Option<String>,
    /// `queued`, `sent`, `running`, `succeeded`, `failed` or `expired`.
    pub state: String,
    /// The install request as sent to the agent: `{"mode": "packages", "packages": [...]}`,
    /// `{"mode": "all"}` or `{"mode": "security_only"}`.
    pub request: serde_json::Value,
    pub created_by: Option<i64>,
    pub created_at: Option<String>,
    pub sent_at: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub expires_at: Option<String>,
    pub reboot_required: bool,
    pub failure: Option<FailureView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_tail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packages: Option<Vec<PackageView>>,
}

/// Failure of a job that failed or expired: its kind and message.
#[derive(Debug, Serialize)]
pub struct FailureView {
    /// A protocol `JobFailureKind` such as `lock_timeout`; `null` for an expired job.
    pub kind: Option<String>,
    pub message: Option<String>,
}

/// One package line of a job.
#[derive(Debug, Serialize)]
pub struct PackageView {
    pub manager: String,
    pub name: String,
    pub requested_version: Option<String>,
    pub installed_version: Option<String>,
    /// `pending`, `installed`, `failed` or `not_attempted`.
    pub outcome: String,
    pub message: Option<String>,
}

/// One page of jobs.
#[derive(Debug, Serialize)]
pub struct JobPage {
    pub items: Vec<JobView>,
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
}

/// Filters of `GET /jobs`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFilter {
    pub host_id: Option<String>,
    pub state: Option<String>,
}

const STATES: [&str; 6] = [
    "queued",
    "sent",
    "running",
    "succeeded",
    "failed",
    "expired",
];

fn view(model: job::Model, hostname: Option<String>) -> JobView {
    let failure =
        (model.failure_kind.is_some() || model.failure_message.is_some()).then_some(FailureView {
            kind: model.failure_kind,
            message: model.failure_message,
        });
    JobView {
        id: model.id,
        host_id: model.host_id,
        hostname,
        state: model.state,
        request: serde_json::from_str(&model.request).unwrap_or(serde_json::Value::Null),
        created_by: model.created_by,
        created_at: rfc3339(model.created_at),
        sent_at: rfc3339_opt(model.sent_at),
        started_at: rfc3339_opt(model.started_at),
        finished_at: rfc3339_opt(model.finished_at),
        expires_at: rfc3339(model.expires_at),
        reboot_required: model.reboot_required,
        failure,
        output_tail: None,
        packages: None,
    }
}

/// `GET /jobs`: jobs newest first, filtered by `host_id` and `state`.
pub async fn list_jobs(
    State(state): State<AppState>,
    PagedQuery { pagination, filter }: PagedQuery<JobFilter>,
) -> ApiResult<Json<JobPage>> {
    let (limit, offset) = pagination.resolve()?;
    let mut condition = Condition::all();
    if let Some(host_id) = &filter.host_id {
        condition = condition.add(job::Column::HostId.eq(parse_id("host_id", host_id)?));
    }
    if let Some(job_state) = &filter.state {
        if !STATES.contains(&job_state.as_str()) {
            return Err(ApiError::invalid(
                "state",
                format!("{job_state:?} is not one of {}", STATES.join(", ")),
            ));
        }
        condition = condition.add(job::Column::State.eq(job_state));
    }

    let query = job::Entity::find().filter(condition);
    let total = query.clone().count(&state.db).await?;
    let rows = query
        .order_by_desc(job::Column::Id)
        .limit(limit)
        .offset(offset)
        .all(&state.db)
        .await?;

    let mut host_ids: Vec<i64> = rows.iter().map(|row| row.host_id).collect();
    host_ids.sort_unstable();
    host_ids.dedup();
    let hostnames: HashMap<i64, String> = host::Entity::find()
        .select_only()
        .column(host::Column::Id)
        .column(host::Column::Hostname)
        .filter(host::Column::Id.is_in(host_ids))
        .into_tuple::<(i64, String)>()
        .all(&state.db)
        .await?
        .into_iter()
        .collect();

    let items = rows
        .into_iter()
        .map(|row| {
            let hostname = hostnames.get(&row.host_id).cloned();
            view(row, hostname)
        })
        .collect();
    Ok(Json(JobPage {
        items,
        total,
        limit,
        offset,
    }))
}

/// `GET /jobs/{id}`: one job with its per-package results and output tail.
pub async fn get_job(
    State(state): State<AppState>,
    ApiPath(job_id): ApiPath<i64>,
) -> ApiResult<Json<JobView>> {
    let model = job::Entity::find_by_id(job_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("job {job_id}")))?;
    let hostname = host::Entity::find_by_id(model.host_id)
        .one(&state.db)
        .await?
        .map(|host| host.hostname);
    let packages = job_package::Entity::find()
        .filter(job_package::Column::JobId.eq(job_id))
        .order_by_asc(job_package::Column::Id)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|row| PackageView {
            manager: row.manager,
            name: row.name,
            requested_version: row.requested_version,
            installed_version: row.installed_version,
            outcome: row.outcome,
            message: row.message,
        })
        .collect();
    let output_tail = model.output_tail.clone();
    let mut job = view(model, hostname);
    job.output_tail = Some(output_tail.unwrap_or_default());
    job.packages = Some(packages);
    Ok(Json(job))
}
