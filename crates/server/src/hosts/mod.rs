//! Hosts: registration of agents, approval by administrators, availability history, and the
//! `/hosts` API.
//!
//! Not for: up/down detection (`liveness`) or pending updates (`updates`).

mod api;
mod approval;
mod inventory;
mod registration;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::routing::{get, post};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sysmanage_protocol::Approval;

pub use inventory::{InventoryError, store_inventory, validate_inventory};
pub use registration::{AgentHost, register_agent};

use crate::db::entities::{host, host_event};
use crate::error::{ApiError, ApiResult, deserialize_query, query_pairs};
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

/// Maximum offset of a list endpoint. The databases take a signed 64-bit offset, so anything
/// above `i64::MAX` cannot be sent to them.
pub const MAX_OFFSET: u64 = i64::MAX.unsigned_abs();

/// Pagination query parameters shared by the list endpoints: `limit` and `offset`, or `page`
/// (from 1) and `per_page`, never a mix of the two. Values are strings so that an invalid one
/// gets an error naming it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pagination {
    pub limit: Option<String>,
    pub offset: Option<String>,
    pub page: Option<String>,
    pub per_page: Option<String>,
}

impl Pagination {
    /// Returns `(limit, offset)`, with `limit` between 1 and [`MAX_LIMIT`] and `offset` at most
    /// [`MAX_OFFSET`].
    pub fn resolve(&self) -> ApiResult<(u64, u64)> {
        self.reject_mixed_styles()?;
        let limits = format!("an integer from 1 to {MAX_LIMIT}");
        let per_page = match (&self.limit, &self.per_page) {
            (Some(limit), _) => parse_count("limit", limit, &limits)?,
            (None, Some(per_page)) => parse_count("per_page", per_page, &limits)?,
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
                format!("{per_page} is out of range; send {limits}"),
            ));
        }
        let offset = match (&self.offset, &self.page) {
            (Some(offset), _) => {
                let offset = parse_count(
                    "offset",
                    offset,
                    &format!("an integer from 0 to {MAX_OFFSET}"),
                )?;
                if offset > MAX_OFFSET {
                    return Err(ApiError::invalid(
                        "offset",
                        format!("must be at most {MAX_OFFSET}"),
                    ));
                }
                offset
            }
            (None, Some(page)) => {
                let page = parse_count("page", page, "an integer of 1 or more")?;
                if page == 0 {
                    return Err(ApiError::invalid("page", "pages are numbered from 1"));
                }
                (page - 1)
                    .checked_mul(per_page)
                    .filter(|offset| *offset <= MAX_OFFSET)
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "page",
                            format!(
                                "page {page} of {per_page} items starts after item {MAX_OFFSET}"
                            ),
                        )
                    })?
            }
            (None, None) => 0,
        };
        Ok((per_page, offset))
    }

    /// Rejects `limit` or `offset` together with `page` or `per_page`, because a mix such as
    /// `offset=100&page=3` has no single meaning. The error is on the page-style parameter.
    fn reject_mixed_styles(&self) -> ApiResult<()> {
        let offset_style = [("limit", &self.limit), ("offset", &self.offset)];
        let page_style = [("page", &self.page), ("per_page", &self.per_page)];
        let first_given = |params: [(&'static str, &Option<String>); 2]| {
            params
                .into_iter()
                .find(|(_, value)| value.is_some())
                .map(|(name, _)| name)
        };
        if let (Some(offset_param), Some(page_param)) =
            (first_given(offset_style), first_given(page_style))
        {
            return Err(ApiError::Unprocessable {
                field: page_param.to_owned(),
                message: format!(
                    "`{offset_param}` and `{page_param}` cannot be combined; page with limit \
                     and offset, or with page and per_page"
                ),
            });
        }
        Ok(())
    }
}

/// Names of the [`Pagination`] query parameters.
const PAGINATION_PARAMS: [&str; 4] = ["limit", "offset", "page", "per_page"];

/// Query string of a list endpoint: [`Pagination`] plus the endpoint's filter `F`.
///
/// The parameters are split by name before deserializing, because serde does not support
/// `flatten` together with `deny_unknown_fields`. `F` should deny unknown fields, so that a
/// misspelled filter is a 422 naming it instead of a silently unfiltered list.
#[derive(Debug)]
pub struct PagedQuery<F> {
    pub pagination: Pagination,
    pub filter: F,
}

impl<S, F> FromRequestParts<S> for PagedQuery<F>
where
    S: Send + Sync,
    F: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let pairs = query_pairs(parts.uri.query().unwrap_or_default())?;
        let (pagination, filter): (Vec<_>, Vec<_>) = pairs
            .into_iter()
            .partition(|(name, _)| PAGINATION_PARAMS.contains(&name.as_str()));
        Ok(Self {
            pagination: deserialize_query(&pagination, &[])?,
            filter: deserialize_query(&filter, &PAGINATION_PARAMS)?,
        })
    }
}

/// Parses a count query parameter such as `limit` or `offset`. `expected` names the accepted
/// range for the error, such as "an integer from 1 to 500".
pub fn parse_count(field: &str, value: &str, expected: &str) -> ApiResult<u64> {
    value.parse().map_err(|_| {
        ApiError::invalid(
            field,
            format!("{value:?} is not a whole number; send {expected}"),
        )
    })
}

/// Parses an id query parameter such as `host_id`: an integer of 1 or more, as ids in paths.
pub fn parse_id(field: &str, value: &str) -> ApiResult<i64> {
    match value.parse::<i64>() {
        Ok(id) if id >= 1 => Ok(id),
        _ => Err(ApiError::invalid(
            field,
            format!("{value:?} is not an id; send a positive integer such as 12"),
        )),
    }
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

    fn invalid_field(pagination: &Pagination) -> String {
        match pagination.resolve() {
            Err(ApiError::Invalid { field, .. }) => field,
            other => panic!("expected an invalid parameter, got {other:?}"),
        }
    }

    #[test]
    fn offset_above_i64_max_names_offset() {
        for offset in ["9223372036854775808", "18446744073709551615"] {
            let pagination = Pagination {
                offset: Some(offset.into()),
                ..Pagination::default()
            };
            assert_eq!(invalid_field(&pagination), "offset", "offset {offset}");
        }
    }

    #[test]
    fn offset_of_i64_max_is_accepted() {
        let pagination = Pagination {
            offset: Some(i64::MAX.to_string()),
            ..Pagination::default()
        };
        assert_eq!(pagination.resolve().unwrap(), (DEFAULT_LIMIT, MAX_OFFSET));
    }

    #[test]
    fn overflowing_page_names_page() {
        let cases = [
            ("99999999999999999", "500"),
            ("18446744073709551615", "2"),
            ("18446744073709551615", "1"),
        ];
        for (page, per_page) in cases {
            let pagination = Pagination {
                page: Some(page.into()),
                per_page: Some(per_page.into()),
                ..Pagination::default()
            };
            assert_eq!(
                invalid_field(&pagination),
                "page",
                "page {page} per_page {per_page}"
            );
        }
    }
}
