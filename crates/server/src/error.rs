//! The API error type and its conversion to an HTTP response, in one place.
//!
//! Every error body is `{"error": {"code": "...", "message": "...", "field": "..."}}`: `code` is
//! stable for scripts, `message` is for people, and `field` names the invalid request field. A
//! 409 for a duplicate install job also has `job_id`, the job that is already queued, sent or
//! running.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

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
    /// The request could not be read, such as a body that is not JSON or a malformed path.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("method {method} is not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    /// A request field failed validation.
    #[error("invalid {field}: {message}")]
    Invalid { field: String, message: String },
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
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
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
            Self::BadRequest(_) => "bad_request",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::Invalid { .. } => "invalid",
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
            Self::Invalid { field, .. } => Some(field.as_str()),
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

/// Prefix that axum puts before serde's message in a JSON data error.
const JSON_DATA_ERROR_PREFIX: &str = "Failed to deserialize the JSON body into the target type: ";

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(error) => {
                let text = error.body_text();
                let message = text.strip_prefix(JSON_DATA_ERROR_PREFIX).unwrap_or(&text);
                let (field, message) = json_error_field(message);
                Self::Invalid { field, message }
            }
            JsonRejection::JsonSyntaxError(error) => {
                let text = error.body_text();
                let detail = text
                    .rsplit_once(": ")
                    .map_or(text.as_str(), |(_, detail)| detail);
                Self::BadRequest(format!("request body is not valid JSON: {detail}"))
            }
            JsonRejection::MissingJsonContentType(_) => Self::BadRequest(
                "request body must be JSON with the header Content-Type: application/json"
                    .to_owned(),
            ),
            other => Self::BadRequest(other.body_text()),
        }
    }
}

/// Splits serde's message into the field it names and the rest.
///
/// NOTE: this reads the text of `serde_json` and `serde_path_to_error` messages ("missing field
/// `x`", "x.y: invalid type ..."), so a message in another shape is reported on the field `body`.
fn json_error_field(message: &str) -> (String, String) {
    for marker in ["missing field `", "unknown field `", "duplicate field `"] {
        if let Some(start) = message.find(marker) {
            let name = &message[start + marker.len()..];
            if let Some(end) = name.find('`') {
                return (name[..end].to_owned(), message.to_owned());
            }
        }
    }
    if let Some((path, rest)) = message.split_once(": ")
        && !path.is_empty()
        && !path.contains(char::is_whitespace)
    {
        return (path.to_owned(), rest.to_owned());
    }
    ("body".to_owned(), message.to_owned())
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::BadRequest(format!("invalid path: {}", rejection.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        let text = rejection.body_text();
        let message = text
            .strip_prefix(QUERY_ERROR_PREFIX)
            .unwrap_or(&text)
            .to_owned();
        query_error(&message)
    }
}

/// Prefix that axum puts before serde's message in a query string error.
const QUERY_ERROR_PREFIX: &str = "Failed to deserialize query string: ";

/// Returns the error for a query string that does not deserialize: a 422 naming the parameter
/// when serde's `message` names one (an unknown or repeated parameter), and the parameter
/// `query` otherwise.
pub fn query_error(message: &str) -> ApiError {
    let (field, message) = json_error_field(message);
    let field = if field == "body" {
        "query".to_owned()
    } else {
        field
    };
    ApiError::Invalid { field, message }
}

/// `axum::Json` whose rejections are [`ApiError`] bodies: a field that fails to deserialize is
/// a 422 naming the field, and a body that is not JSON is a 400.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `axum::extract::Path` whose rejection is an [`ApiError`] body (400).
#[derive(Debug, Clone, Copy, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// `axum::extract::Query` whose rejection is an [`ApiError`] body: an unknown or repeated
/// parameter is a 422 naming it.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// A JSON body that may be left out: an empty body, with or without
/// `Content-Type: application/json`, reads as `T::default()`. Any other body is read as by
/// [`ApiJson`].
#[derive(Debug, Clone, Copy, Default)]
pub struct OptionalApiJson<T>(pub T);

impl<S, T> FromRequest<S> for OptionalApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        let bytes = Bytes::from_request(Request::new(body), state)
            .await
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        let request = Request::from_parts(parts, Body::from(bytes));
        let ApiJson(value) = ApiJson::<T>::from_request(request, state).await?;
        Ok(Self(value))
    }
}
