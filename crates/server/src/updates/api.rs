//! Handlers of the updates API: per-host and fleet-wide lists, and scan requests.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use sysmanage_protocol::{Approval, ServerMessage, UpdateStatus};

use crate::agents::SendError;
use crate::auth::CurrentUser;
use crate::db::entities::{host, host_update, host_update_count};
use crate::error::{ApiError, ApiPath, ApiResult};
use crate::hosts::{PagedQuery, Pagination, parse_approval, parse_bool_param, parse_id};
use crate::state::AppState;

/// One pending update as the API returns it.
#[derive(Debug, Serialize)]
pub struct UpdateView {
    pub id: i64,
    pub host_id: i64,
    pub hostname: Option<String>,
    pub manager: String,
    pub name: String,
    /// `null` when the manager has no notion of architecture.
    pub architecture: Option<String>,
    pub current_version: Option<String>,
    pub new_version: String,
    pub origin: Option<String>,
    pub security: bool,
    /// `available`, `held`, `deferred` or `kept_back`.
    pub status: String,
}

/// One page of updates.
#[derive(Debug, Serialize)]
pub struct UpdatePage {
    pub items: Vec<UpdateView>,
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
}

/// Filters of the update lists. `host_id` applies to `GET /updates` only.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateFilter {
    pub host_id: Option<String>,
    pub manager: Option<String>,
    /// Exact package name, such as `openssl`.
    pub name: Option<String>,
    /// `true` for security updates only, `false` for the others.
    pub security: Option<String>,
    /// `available`, `held`, `deferred` or `kept_back`.
    pub status: Option<String>,
}

/// Validated filters of an update list.
#[derive(Debug, Default)]
struct UpdateSelection {
    host_id: Option<i64>,
    manager: Option<String>,
    name: Option<String>,
    security: Option<bool>,
    status: Option<String>,
}

impl UpdateSelection {
    /// Validates `filter`. `host_id` from the path takes the place of the `host_id` parameter.
    fn parse(filter: &UpdateFilter, host_id: Option<i64>) -> ApiResult<Self> {
        let host_id = match (host_id, &filter.host_id) {
            (Some(id), _) => Some(id),
            (None, Some(value)) => Some(parse_id("host_id", value)?),
            (None, None) => None,
        };
        if let Some(manager) = &filter.manager {
            sysmanage_protocol::validate_manager(manager)
                .map_err(|error| ApiError::invalid("manager", error.to_string()))?;
        }
        if let Some(name) = &filter.name {
            let validation = match &filter.manager {
                Some(manager) => sysmanage_protocol::validate_package_name_for(manager, name),
                None => sysmanage_protocol::validate_package_name_any(name),
            };
            validation.map_err(|error| ApiError::invalid("name", error.to_string()))?;
        }
        let security = filter
            .security
            .as_deref()
            .map(|value| parse_bool_param("security", value))
            .transpose()?;
        if let Some(status) = &filter.status
            && !UpdateStatus::ALL
                .iter()
                .any(|known| known.as_str() == status.as_str())
        {
            return Err(ApiError::invalid(
                "status",
                format!("{status:?} is not one of available, held, deferred, kept_back"),
            ));
        }
        Ok(Self {
            host_id,
            manager: filter.manager.clone(),
            name: filter.name.clone(),
            security,
            status: filter.status.clone(),
        })
    }

    /// Condition on `host_updates`.
    fn update_condition(&self) -> Condition {
        let mut condition = Condition::all();
        if let Some(host_id) = self.host_id {
            condition = condition.add(host_update::Column::HostId.eq(host_id));
        }
        if let Some(manager) = &self.manager {
            condition = condition.add(host_update::Column::Manager.eq(manager));
        }
        if let Some(name) = &self.name {
            condition = condition.add(host_update::Column::Name.eq(name));
        }
        if let Some(security) = self.security {
            condition = condition.add(host_update::Column::Security.eq(security));
        }
        if let Some(status) = &self.status {
            condition = condition.add(host_update::Column::Status.eq(status));
        }
        condition
    }

    /// Condition on `host_update_counts`, or `None` when a filter is not one of its columns.
    fn count_condition(&self) -> Option<Condition> {
        if self.name.is_some() {
            return None;
        }
        let mut condition = Condition::all();
        if let Some(host_id) = self.host_id {
            condition = condition.add(host_update_count::Column::HostId.eq(host_id));
        }
        if let Some(manager) = &self.manager {
            condition = condition.add(host_update_count::Column::Manager.eq(manager));
        }
        if let Some(security) = self.security {
            condition = condition.add(host_update_count::Column::Security.eq(security));
        }
        if let Some(status) = &self.status {
            condition = condition.add(host_update_count::Column::Status.eq(status));
        }
        Some(condition)
    }
}

/// Counts the updates that `selection` matches. Without a name filter the count is a sum over
/// `host_update_counts`, a few rows per host, instead of a count over every matching update.
async fn count_updates(state: &AppState, selection: &UpdateSelection) -> Result<u64, DbErr> {
    let Some(condition) = selection.count_condition() else {
        return host_update::Entity::find()
            .filter(selection.update_condition())
            .count(&state.db)
            .await;
    };
    // PostgreSQL sums BIGINT into NUMERIC, so the sum is cast back to read it as an i64.
    let total: Option<Option<i64>> = host_update_count::Entity::find()
        .select_only()
        .column_as(Expr::cust("CAST(SUM(updates) AS BIGINT)"), "total")
        .filter(condition)
        .into_tuple()
        .one(&state.db)
        .await?;
    Ok(total
        .flatten()
        .map_or(0, |total| u64::try_from(total).unwrap_or_default()))
}

/// Runs a filtered, paginated update query: security updates first, then by host, manager,
/// name and architecture. The indexes `idx_host_updates_*_order` have this order.
async fn query_updates(
    state: &AppState,
    selection: &UpdateSelection,
    pagination: &Pagination,
) -> ApiResult<UpdatePage> {
    let (limit, offset) = pagination.resolve()?;
    let total = count_updates(state, selection).await?;
    let rows = host_update::Entity::find()
        .filter(selection.update_condition())
        .order_by_desc(host_update::Column::Security)
        .order_by_asc(host_update::Column::HostId)
        .order_by_asc(host_update::Column::Manager)
        .order_by_asc(host_update::Column::Name)
        .order_by_asc(host_update::Column::Architecture)
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
        .map(|row| UpdateView {
            hostname: hostnames.get(&row.host_id).cloned(),
            architecture: (!row.architecture.is_empty()).then_some(row.architecture),
            id: row.id,
            host_id: row.host_id,
            manager: row.manager,
            name: row.name,
            current_version: row.current_version,
            new_version: row.new_version,
            origin: row.origin,
            security: row.security,
            status: row.status,
        })
        .collect();
    Ok(UpdatePage {
        items,
        total,
        limit,
        offset,
    })
}

async fn find_host(state: &AppState, host_id: i64) -> ApiResult<host::Model> {
    host::Entity::find_by_id(host_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("host {host_id}")))
}

/// `GET /updates`: pending updates of the whole fleet, filtered by `host_id`, `manager`, `name`,
/// `security` and `status`.
pub async fn list_updates(
    State(state): State<AppState>,
    PagedQuery { pagination, filter }: PagedQuery<UpdateFilter>,
) -> ApiResult<Json<UpdatePage>> {
    let selection = UpdateSelection::parse(&filter, None)?;
    Ok(Json(query_updates(&state, &selection, &pagination).await?))
}

/// `GET /hosts/{id}/updates`: pending updates of one host, filtered by `manager`, `name`,
/// `security` and `status`.
pub async fn list_host_updates(
    State(state): State<AppState>,
    ApiPath(host_id): ApiPath<i64>,
    PagedQuery { pagination, filter }: PagedQuery<UpdateFilter>,
) -> ApiResult<Json<UpdatePage>> {
    find_host(&state, host_id).await?;
    let selection = UpdateSelection::parse(&filter, Some(host_id))?;
    Ok(Json(query_updates(&state, &selection, &pagination).await?))
}

/// Body of the 202 response to a scan request.
#[derive(Debug, Serialize)]
pub struct RefreshAccepted {
    pub host_id: i64,
    pub status: &'static str,
}

/// `POST /hosts/{id}/updates/refresh`: sends `RefreshUpdates` to the connected agent. 202 when the
/// request was queued for the agent, 409 when the host is not approved or not connected.
pub async fn refresh_updates(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    ApiPath(host_id): ApiPath<i64>,
) -> ApiResult<(StatusCode, Json<RefreshAccepted>)> {
    user.require_admin()?;
    let model = find_host(&state, host_id).await?;
    if parse_approval(&model.approval) != Approval::Approved {
        return Err(ApiError::Conflict(format!(
            "host {host_id} is {}; approve it before requesting a scan",
            model.approval
        )));
    }
    match state
        .agents
        .send(host_id, ServerMessage::RefreshUpdates)
        .await
    {
        Ok(()) => {
            tracing::info!(host_id, user = %user.userid, "update scan requested");
            Ok((
                StatusCode::ACCEPTED,
                Json(RefreshAccepted {
                    host_id,
                    status: "requested",
                }),
            ))
        }
        Err(SendError::NotConnected) => Err(ApiError::Conflict(format!(
            "host {host_id} is not connected; retry once its agent is connected again"
        ))),
        Err(error @ SendError::QueueFull) => Err(ApiError::Conflict(format!(
            "host {host_id} is not accepting messages: {error}; retry later"
        ))),
    }
}
