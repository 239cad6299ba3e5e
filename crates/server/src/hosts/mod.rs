//! Hosts: registration of agents, approval by administrators, availability history, and the
//! `/hosts` API.
//!
//! Not for: up/down detection (`liveness`) or pending updates (`updates`).

mod api;
mod approval;
mod inventory;
mod registration;

use axum::Router;
use axum::routing::{get, post};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};
use serde::Deserialize;
use sysmanage_protocol::Approval;

pub use inventory::{InventoryError, store_inventory, validate_inventory};
pub use registration::{AgentHost, register_agent};

use crate::db::entities::{host, host_event};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Routes of the hosts API, mounted behind the token middleware.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/hosts", get(api::list_hosts))
        .route("/hosts/{id}", get(api::get_host).delete(api::delete_host))
        .route("/hosts/{id}/approve", post(api::approve_host))
        .route("/hosts/{id}/reject", post(api::reject_host))
        .route("/hosts/{id}/events", get(api::list_events))
}

/// Parses a stored approval. An unrecognized value reads as `Pending`, which allows nothing.
pub fn parse_approval(value: &str) -> Approval {
    match value {
        "approved" => Approval::Approved,
        "rejected" => Approval::Rejected,
        _ => Approval::Pending,
    }
}

/// Returns the stored approval of a host, or `None` when the host does not exist.
pub async fn current_approval(
    db: &impl ConnectionTrait,
    host_id: i64,
) -> Result<Option<Approval>, DbErr> {
    Ok(host::Entity::find_by_id(host_id)
        .one(db)
        .await?
        .map(|model| parse_approval(&model.approval)))
}

/// Appends one row to a host's history.
pub(crate) async fn record_event(
    db: &impl ConnectionTrait,
    host_id: i64,
    kind: &str,
    at_ms: i64,
    detail: Option<&str>,
) -> Result<(), DbErr> {
    host_event::ActiveModel {
        host_id: Set(host_id),
        kind: Set(kind.to_owned()),
        at: Set(at_ms),
        detail: Set(detail.map(str::to_owned)),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Default number of items per page of a list endpoint.
pub const DEFAULT_LIMIT: u64 = 50;
/// Maximum number of items per page of a list endpoint.
pub const MAX_LIMIT: u64 = 500;

/// Pagination query parameters shared by the list endpoints: `limit` and `offset`, or `page`
/// (from 1) and `per_page`. Values are strings so that an invalid one gets an error naming it.
#[derive(Debug, Default, Deserialize)]
pub struct Pagination {
    pub limit: Option<String>,
    pub offset: Option<String>,
    pub page: Option<String>,
    pub per_page: Option<String>,
}

impl Pagination {
    /// Returns `(limit, offset)`, with `limit` between 1 and [`MAX_LIMIT`].
    pub fn resolve(&self) -> ApiResult<(u64, u64)> {
        let per_page = match (&self.limit, &self.per_page) {
            (Some(limit), _) => parse_param::<u64>("limit", limit)?,
            (None, Some(per_page)) => parse_param::<u64>("per_page", per_page)?,
            (None, None) => DEFAULT_LIMIT,
        };
        if per_page == 0 || per_page > MAX_LIMIT {
            let field = if self.limit.is_some() {
                "limit"
            } else {
                "per_page"
            };
            return Err(ApiError::invalid(
                field,
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let offset = match (&self.offset, &self.page) {
            (Some(offset), _) => parse_param::<u64>("offset", offset)?,
            (None, Some(page)) => {
                let page = parse_param::<u64>("page", page)?;
                if page == 0 {
                    return Err(ApiError::invalid("page", "pages are numbered from 1"));
                }
                (page - 1).saturating_mul(per_page)
            }
            (None, None) => 0,
        };
        Ok((per_page, offset))
    }
}

/// Parses one query parameter, with an error that names it.
pub fn parse_param<T: std::str::FromStr>(field: &str, value: &str) -> ApiResult<T> {
    value
        .parse()
        .map_err(|_| ApiError::invalid(field, format!("{value:?} is not a valid value")))
}

/// Parses a `true`/`false` query parameter.
pub fn parse_bool_param(field: &str, value: &str) -> ApiResult<bool> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ApiError::invalid(
            field,
            format!("{value:?} is not a boolean; use true or false"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_and_per_page_become_offset() {
        let pagination = Pagination {
            page: Some("3".into()),
            per_page: Some("20".into()),
            ..Pagination::default()
        };
        assert_eq!(pagination.resolve().unwrap(), (20, 40));
    }

    #[test]
    fn zero_limit_names_field() {
        let pagination = Pagination {
            limit: Some("0".into()),
            ..Pagination::default()
        };
        match pagination.resolve() {
            Err(ApiError::Invalid { field, .. }) => assert_eq!(field, "limit"),
            other => panic!("expected an invalid limit, got {other:?}"),
        }
    }
}
