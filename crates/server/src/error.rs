//! The API error type and its conversion to an HTTP response, in one place.
//!
//! Every error body is `{"error": {"code": "...", "message": "...", "field": "..."}}`: `code` is
//! stable for scripts, `message` is for people, and `field` names the invalid request field,
//! query parameter or path parameter. A 409 for a duplicate install job also has `job_id`, the
//! job that is already queued, sent or running.
//!
//! The extractors of the submodules ([`ApiJson`], [`OptionalApiJson`], [`ApiPath`],
//! [`ApiQuery`]) turn bad requests into these bodies, with messages in JSON and HTTP terms. They
//! never pass on the text of serde or axum, which names Rust types.

mod json;
mod objects_only;
mod path;
mod query;
mod serde_message;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub use json::{ApiJson, OptionalApiJson};
pub use path::ApiPath;
pub use query::{ApiQuery, deserialize_query, query_pairs};

/// Largest request body the API reads, in bytes (2 MiB, axum's default). `http::router`
/// applies it to every route; a larger body gets [`ApiError::PayloadTooLarge`]. A `POST /jobs`
/// with its maximum of 100,000 host ids of 19 digits, without spaces, is about 2,000,000 bytes.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// An error returned by an API handler.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Login failed. The message never says whether the user exists.
    #[error("invalid user id or password")]
    InvalidCredentials,
    #[error("too many failed logins; try again in {retry_after_secs} seconds")]
    RateLimited { retry_after_secs: u64 },
    /// Missing, malformed, expired, unknown or already-used token.
    #[error("forbidden: log in again with POST /login")]
    Forbidden,
    /// A valid user who is not an administrator tried to change something.
    #[error("forbidden: this action requires an administrator")]
    AdminRequired,
    /// The request could not be read, such as a body that is not JSON.
    #[error("{0}")]
    BadRequest(String),
    /// A path parameter, such as the `abc` of `/hosts/abc`, is not a valid value.
    #[error("{message}")]
    InvalidPath { field: String, message: String },
    #[error(
        "request body is larger than the limit of {limit_bytes} bytes ({} KiB); \
         send a smaller body, such as fewer hosts or packages per request",
        .limit_bytes / 1024
    )]
    PayloadTooLarge { limit_bytes: usize },
    #[error("{0} not found")]
    NotFound(String),
    #[error("method {method} is not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    /// A request field failed validation.
    #[error("invalid {field}: {message}")]
    Invalid { field: String, message: String },
    /// A request field or query parameter is unknown, repeated, of the wrong JSON type or in
    /// conflict with another. Unlike [`ApiError::Invalid`], `message` names the field itself.
    #[error("{message}")]
    Unprocessable { field: String, message: String },
    #[error("{0}")]
    Conflict(String),
    /// An install job identical to the requested one is queued, sent or running on the host.
    /// A 409 `conflict` whose body names the job in `job_id`.
    #[error(
        "host {host_id} already has an identical install job {job_id} that is queued, sent or \
         running; follow it with GET /jobs/{job_id} and send the request again once it has finished"
    )]
    DuplicateJob { host_id: i64, job_id: i64 },
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// Returns a validation error for `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Forbidden | Self::AdminRequired => StatusCode::FORBIDDEN,
            Self::BadRequest(_) | Self::InvalidPath { .. } => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Invalid { .. } | Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict(_) | Self::DuplicateJob { .. } => StatusCode::CONFLICT,
            Self::Database(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::InvalidCredentials => "invalid_credentials",
            Self::RateLimited { .. } => "rate_limited",
            Self::Forbidden => "forbidden",
            Self::AdminRequired => "admin_required",
            Self::BadRequest(_) | Self::InvalidPath { .. } => "bad_request",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::Invalid { .. } | Self::Unprocessable { .. } => "invalid",
            Self::Conflict(_) | Self::DuplicateJob { .. } => "conflict",
            Self::Database(_) | Self::Internal(_) => "internal",
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    /// The existing job of a [`ApiError::DuplicateJob`].
    #[serde(skip_serializing_if = "Option::is_none")]
    job_id: Option<i64>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Database(error) => tracing::error!(%error, "database error in request"),
            Self::Internal(error) => {
                tracing::error!(error = %format!("{error:#}"), "internal error in request");
            }
            _ => {}
        }
        let field = match &self {
            Self::Invalid { field, .. }
            | Self::Unprocessable { field, .. }
            | Self::InvalidPath { field, .. } => Some(field.as_str()),
            _ => None,
        };
        let job_id = match &self {
            Self::DuplicateJob { job_id, .. } => Some(*job_id),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
                field,
                job_id,
            },
        };
        let mut response = (self.status(), Json(body)).into_response();
        if let Self::RateLimited { retry_after_secs } = self
            && let Ok(value) = retry_after_secs.to_string().parse()
        {
            response.headers_mut().insert("retry-after", value);
        }
        response
    }
}

/// Result type of API handlers.
pub type ApiResult<T> = Result<T, ApiError>;
