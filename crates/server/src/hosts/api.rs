//! Handlers of the `/hosts` API.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use sea_orm::sea_query::{Expr, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, DerivePartialModel, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use sysmanage_protocol::{HostInventory, ResourceSnapshot};

use super::{PagedQuery, approval};
use crate::api_time::{rfc3339, rfc3339_opt};
use crate::auth::CurrentUser;
use crate::db::entities::{host, host_event, host_update_count};
use crate::error::{ApiError, ApiPath, ApiResult, OptionalApiJson};
use crate::state::AppState;

/// A host as the API returns it.
#[derive(Debug, Serialize)]
pub struct HostView {
    pub id: i64,
    pub hostname: String,
    pub fqdn: String,
    pub os_name: String,
    pub os_version: String,
    pub kernel: String,
    pub architecture: String,
    pub machine_id: Option<String>,
    pub agent_version: String,
    pub approval: String,
    pub conflict_with_host_id: Option<i64>,
    /// The host `conflict_with_host_id` points at, with its hostname and approval.
    pub conflict_with: Option<ConflictView>,
    pub status: String,
    pub connected: bool,
    pub last_seen_at: Option<String>,
    pub seconds_since_last_seen: Option<i64>,
    pub status_changed_at: Option<String>,
    pub reboot_required: bool,
    pub pending_updates: i64,
    pub security_updates: i64,
    pub updates_checked_at: Option<String>,
    pub update_error: Option<String>,
    pub created_at: Option<String>,
    pub approved_at: Option<String>,
}

/// A host with its inventory and latest resource snapshot, as `GET /hosts/{id}` returns it.
#[derive(Debug, Serialize)]
pub struct HostDetailView {
    #[serde(flatten)]
    pub host: HostView,
    /// Last inventory the agent sent while the host was approved.
    pub inventory: Option<HostInventory>,
    pub inventory_updated_at: Option<String>,
    /// Latest load, memory and root file system usage from a heartbeat.
    pub resources: Option<ResourceSnapshot>,
    pub resources_at: Option<String>,
}

/// The other host of a hostname conflict.
#[derive(Debug, Clone, Serialize)]
pub struct ConflictView {
    pub host_id: i64,
    pub hostname: String,
    pub approval: String,
}

/// One page of a list endpoint.
#[derive(Debug, Serialize)]
pub struct PageView<T> {
    pub items: Vec<T>,
    /// Number of items that match the filters, on all pages.
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
}

/// Filters and order of `GET /hosts`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostFilter {
    /// `up`, `down` or `unknown`.
    pub status: Option<String>,
    /// `pending`, `approved` or `rejected`.
    pub approval: Option<String>,
    /// Case-insensitive substring of the hostname.
    pub hostname: Option<String>,
    /// A column name, `-` first for descending: `hostname` (default), `id`, `status`,
    /// `last_seen_at`, `created_at`.
    pub sort: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// Approve even though another approved host has this hostname, and reject that host.
    #[serde(default)]
    pub replace: bool,
}

/// The columns of `hosts` that a [`HostView`] shows: every column but the public key and the
/// inventory and resource JSON, which can be kilobytes per host and which list pages omit.
#[derive(Debug, DerivePartialModel)]
#[sea_orm(entity = "host::Entity")]
struct HostRow {
    id: i64,
    hostname: String,
    fqdn: String,
    os_name: String,
    os_version: String,
    kernel: String,
    architecture: String,
    machine_id: Option<String>,
    agent_version: String,
    approval: String,
    conflict_with_host_id: Option<i64>,
    status: String,
    last_seen_at: Option<i64>,
    status_changed_at: i64,
    reboot_required: bool,
    updates_checked_at: Option<i64>,
    update_error: Option<String>,
    created_at: i64,
    approved_at: Option<i64>,
}

impl From<host::Model> for HostRow {
    fn from(model: host::Model) -> Self {
        Self {
            id: model.id,
            hostname: model.hostname,
            fqdn: model.fqdn,
            os_name: model.os_name,
            os_version: model.os_version,
            kernel: model.kernel,
            architecture: model.architecture,
            machine_id: model.machine_id,
            agent_version: model.agent_version,
            approval: model.approval,
            conflict_with_host_id: model.conflict_with_host_id,
            status: model.status,
            last_seen_at: model.last_seen_at,
            status_changed_at: model.status_changed_at,
            reboot_required: model.reboot_required,
            updates_checked_at: model.updates_checked_at,
            update_error: model.update_error,
            created_at: model.created_at,
            approved_at: model.approved_at,
        }
    }
}

/// Update counts of one host: all pending updates and the security ones among them.
#[derive(Debug, Clone, Copy, Default)]
struct UpdateCounts {
    total: i64,
    security: i64,
}

/// Returns the update counts of `host_ids` from `host_update_counts`. Hosts without pending
/// updates are missing from the map.
async fn update_counts(
    db: &impl ConnectionTrait,
    host_ids: &[i64],
) -> Result<HashMap<i64, UpdateCounts>, DbErr> {
    if host_ids.is_empty() {
        return Ok(HashMap::new());
    }
    // PostgreSQL sums BIGINT into NUMERIC, so both sums are cast back to read them as i64.
    let rows: Vec<(i64, i64, i64)> = host_update_count::Entity::find()
        .select_only()
        .column(host_update_count::Column::HostId)
        .column_as(Expr::cust("CAST(SUM(updates) AS BIGINT)"), "total")
        .column_as(
            Expr::cust("CAST(SUM(CASE WHEN security THEN updates ELSE 0 END) AS BIGINT)"),
            "security",
        )
        .filter(host_update_count::Column::HostId.is_in(host_ids.iter().copied()))
        .group_by(host_update_count::Column::HostId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(host_id, total, security)| (host_id, UpdateCounts { total, security }))
        .collect())
}

async fn conflicts(
    db: &impl ConnectionTrait,
    hosts: &[HostRow],
) -> Result<HashMap<i64, ConflictView>, DbErr> {
    let ids: Vec<i64> = hosts
        .iter()
        .filter_map(|row| row.conflict_with_host_id)
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let others: Vec<(i64, String, String)> = host::Entity::find()
        .select_only()
        .columns([
            host::Column::Id,
            host::Column::Hostname,
            host::Column::Approval,
        ])
        .filter(host::Column::Id.is_in(ids))
        .into_tuple()
        .all(db)
        .await?;
    Ok(others
        .into_iter()
        .map(|(host_id, hostname, approval)| {
            (
                host_id,
                ConflictView {
                    host_id,
                    hostname,
                    approval,
                },
            )
        })
        .collect())
}

/// Builds the API views of `hosts`, with their update counts, conflicts and live last-seen times.
async fn views(state: &AppState, hosts: Vec<HostRow>) -> Result<Vec<HostView>, DbErr> {
    let ids: Vec<i64> = hosts.iter().map(|row| row.id).collect();
    let counts = update_counts(&state.db, &ids).await?;
    let conflicts = conflicts(&state.db, &hosts).await?;
    let now = state.clock.now_ms();
    Ok(hosts
        .into_iter()
        .map(|model| {
            let counts = counts.get(&model.id).copied().unwrap_or_default();
            // The tracker is ahead of the database by up to one flush interval.
            let last_seen = match (model.last_seen_at, state.liveness.last_seen_ms(model.id)) {
                (Some(stored), Some(live)) => Some(stored.max(live)),
                (stored, live) => stored.or(live),
            };
            HostView {
                conflict_with: model
                    .conflict_with_host_id
                    .and_then(|id| conflicts.get(&id).cloned()),
                connected: state.agents.is_connected(model.id),
                last_seen_at: rfc3339_opt(last_seen),
                seconds_since_last_seen: last_seen.map(|seen| (now - seen).max(0) / 1000),
                status_changed_at: rfc3339(model.status_changed_at),
                pending_updates: counts.total,
                security_updates: counts.security,
                updates_checked_at: rfc3339_opt(model.updates_checked_at),
                created_at: rfc3339(model.created_at),
                approved_at: rfc3339_opt(model.approved_at),
                id: model.id,
                hostname: model.hostname,
                fqdn: model.fqdn,
                os_name: model.os_name,
                os_version: model.os_version,
                kernel: model.kernel,
                architecture: model.architecture,
                machine_id: model.machine_id,
                agent_version: model.agent_version,
                approval: model.approval,
                conflict_with_host_id: model.conflict_with_host_id,
                status: model.status,
                reboot_required: model.reboot_required,
                update_error: model.update_error,
            }
        })
        .collect())
}

/// Returns the view of one host, or 404.
pub(crate) async fn host_view(state: &AppState, host_id: i64) -> ApiResult<HostView> {
    let model = host::Entity::find_by_id(host_id)
        .into_partial_model::<HostRow>()
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("host {host_id}")))?;
    views(state, vec![model])
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("host {host_id}")))
}

/// Returns the detail view of one host, or 404. The resource snapshot comes from the liveness
/// tracker when it is newer than the stored one, which lags by up to one flush interval.
async fn host_detail_view(state: &AppState, host_id: i64) -> ApiResult<HostDetailView> {
    let model = host::Entity::find_by_id(host_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("host {host_id}")))?;
    let inventory = model
        .inventory
        .as_deref()
        .and_then(|json| parse_stored::<HostInventory>(host_id, "inventory", json));
    let inventory_updated_at = rfc3339_opt(model.inventory_updated_at);
    let stored_resources = model
        .resources
        .as_deref()
        .and_then(|json| parse_stored::<ResourceSnapshot>(host_id, "resources", json))
        .zip(model.resources_at);
    let resources = match (stored_resources, state.liveness.resources(host_id)) {
        (Some((_, stored_at)), Some(live)) if live.at_ms >= stored_at => {
            Some((live.snapshot, live.at_ms))
        }
        (None, Some(live)) => Some((live.snapshot, live.at_ms)),
        (stored, _) => stored,
    };

    let host = views(state, vec![HostRow::from(model)])
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("host {host_id}")))?;
    Ok(HostDetailView {
        host,
        inventory,
        inventory_updated_at,
        resources: resources.map(|(snapshot, _)| snapshot),
        resources_at: resources.and_then(|(_, at_ms)| rfc3339(at_ms)),
    })
}

/// Parses a JSON column. A value that no longer parses is logged and served as `null`.
fn parse_stored<T: serde::de::DeserializeOwned>(
    host_id: i64,
    column: &str,
    json: &str,
) -> Option<T> {
    match serde_json::from_str(json) {
        Ok(value) => Some(value),
        Err(error) => {
            tracing::warn!(host_id, column, %error, "stored JSON column does not parse; serving null");
            None
        }
    }
}

fn check_choice(field: &str, value: &str, allowed: &[&str]) -> ApiResult<()> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!("{value:?} is not one of {}", allowed.join(", ")),
        ))
    }
}

/// Escapes `%`, `_` and the escape character itself for a `LIKE` pattern.
fn escape_like(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for character in value.chars() {
        if matches!(character, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

fn host_condition(filter: &HostFilter) -> ApiResult<Condition> {
    use sea_orm::sea_query::ExprTrait as _;

    let mut condition = Condition::all();
    if let Some(status) = &filter.status {
        check_choice("status", status, &["up", "down", "unknown"])?;
        condition = condition.add(host::Column::Status.eq(status));
    }
    if let Some(approval) = &filter.approval {
        check_choice("approval", approval, &["pending", "approved", "rejected"])?;
        condition = condition.add(host::Column::Approval.eq(approval));
    }
    if let Some(hostname) = filter.hostname.as_deref().filter(|value| !value.is_empty()) {
        let pattern = format!("%{}%", escape_like(&hostname.to_lowercase()));
        condition = condition.add(
            Expr::expr(Func::lower(Expr::col(host::Column::Hostname)))
                .like(LikeExpr::new(pattern).escape('\\')),
        );
    }
    Ok(condition)
}

fn host_order(sort: Option<&str>) -> ApiResult<(host::Column, sea_orm::Order)> {
    let sort = sort.unwrap_or("hostname");
    let (name, order) = match sort.strip_prefix('-') {
        Some(name) => (name, sea_orm::Order::Desc),
        None => (sort, sea_orm::Order::Asc),
    };
    let column = match name {
        "hostname" => host::Column::Hostname,
        "id" => host::Column::Id,
        "status" => host::Column::Status,
        "last_seen_at" => host::Column::LastSeenAt,
        "created_at" => host::Column::CreatedAt,
        _ => {
            return Err(ApiError::invalid(
                "sort",
                format!(
                    "{sort:?} is not one of hostname, id, status, last_seen_at, created_at \
                     (prefix - for descending)"
                ),
            ));
        }
    };
    Ok((column, order))
}

/// `GET /hosts`: one page of hosts, filtered by `status`, `approval` and `hostname`, sorted by
/// `sort`.
pub async fn list_hosts(
    State(state): State<AppState>,
    PagedQuery { pagination, filter }: PagedQuery<HostFilter>,
) -> ApiResult<Json<PageView<HostView>>> {
    let (limit, offset) = pagination.resolve()?;
    let condition = host_condition(&filter)?;
    let (column, order) = host_order(filter.sort.as_deref())?;

    let query = host::Entity::find().filter(condition);
    let total = query.clone().count(&state.db).await?;
    let hosts = query
        .order_by(column, order.clone())
        .order_by(host::Column::Id, order)
        .limit(limit)
        .offset(offset)
        .into_partial_model::<HostRow>()
        .all(&state.db)
        .await?;
    Ok(Json(PageView {
        items: views(&state, hosts).await?,
        total,
        limit,
        offset,
    }))
}

/// `GET /hosts/{id}`.
pub async fn get_host(
    State(state): State<AppState>,
    ApiPath(host_id): ApiPath<i64>,
) -> ApiResult<Json<HostDetailView>> {
    Ok(Json(host_detail_view(&state, host_id).await?))
}

/// `POST /hosts/{id}/approve`, with an optional body `{"replace": true}`.
pub async fn approve_host(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    ApiPath(host_id): ApiPath<i64>,
    OptionalApiJson(request): OptionalApiJson<ApproveRequest>,
) -> ApiResult<Json<HostView>> {
    user.require_admin()?;
    let replace = request.replace;
    approval::approve(&state, host_id, replace, &user.userid).await?;
    Ok(Json(host_view(&state, host_id).await?))
}

/// `POST /hosts/{id}/reject`.
pub async fn reject_host(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    ApiPath(host_id): ApiPath<i64>,
) -> ApiResult<Json<HostView>> {
    user.require_admin()?;
    approval::reject(&state, host_id, &user.userid).await?;
    Ok(Json(host_view(&state, host_id).await?))
}

/// `DELETE /hosts/{id}`: 204 on success.
pub async fn delete_host(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    ApiPath(host_id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    user.require_admin()?;
    approval::delete(&state, host_id, &user.userid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One row of a host's history.
#[derive(Debug, Serialize)]
pub struct EventView {
    pub id: i64,
    /// `registered`, `approved`, `rejected`, `up` or `down`.
    pub kind: String,
    pub at: Option<String>,
    pub detail: Option<String>,
}

/// Query of a list endpoint that takes only pagination parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoFilter {}

/// `GET /hosts/{id}/events`: the host's history, newest first.
pub async fn list_events(
    State(state): State<AppState>,
    ApiPath(host_id): ApiPath<i64>,
    PagedQuery { pagination, .. }: PagedQuery<NoFilter>,
) -> ApiResult<Json<PageView<EventView>>> {
    let (limit, offset) = pagination.resolve()?;
    if host::Entity::find_by_id(host_id)
        .one(&state.db)
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound(format!("host {host_id}")));
    }
    let query = host_event::Entity::find().filter(host_event::Column::HostId.eq(host_id));
    let total = query.clone().count(&state.db).await?;
    let rows = query
        .order_by_desc(host_event::Column::At)
        .order_by_desc(host_event::Column::Id)
        .limit(limit)
        .offset(offset)
        .all(&state.db)
        .await?;
    let items = rows
        .into_iter()
        .map(|row| EventView {
            id: row.id,
            kind: row.kind,
            at: rfc3339(row.at),
            detail: row.detail,
        })
        .collect();
    Ok(Json(PageView {
        items,
        total,
        limit,
        offset,
    }))
}
