//! Query strings: unknown and repeated parameters are errors that name them and list the
//! accepted ones.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::serde_message::{SerdeMessage, mentions_rust, shorten};
use super::{ApiError, ApiResult};

/// Query parameters deserialized into `T`. An unknown or repeated parameter is a 422 naming it,
/// with the list of accepted parameters.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let pairs = query_pairs(parts.uri.query().unwrap_or_default())?;
        deserialize_query(&pairs, &[]).map(Self)
    }
}

/// Splits a query string into percent-decoded name and value pairs, in their order.
pub fn query_pairs(query: &str) -> ApiResult<Vec<(String, String)>> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query).map_err(|_| ApiError::Unprocessable {
            field: "query".to_owned(),
            message: "the query string is not valid; send name=value pairs joined by &".to_owned(),
        })?;
    // PostgreSQL cannot compare text with U+0000, so a filter containing it would fail there.
    if let Some((name, _)) = pairs
        .iter()
        .find(|(name, value)| name.contains('\0') || value.contains('\0'))
    {
        return Err(ApiError::Unprocessable {
            field: name.clone(),
            message: format!(
                "query parameter `{}` contains the NUL character (%00); remove it",
                name.replace('\0', "%00")
            ),
        });
    }
    Ok(pairs)
}

/// Deserializes query parameters, already split into pairs, into `T`. `also_accepted` lists
/// parameters that the caller reads itself, for the message about an unknown parameter.
pub fn deserialize_query<T: DeserializeOwned>(
    pairs: &[(String, String)],
    also_accepted: &[&str],
) -> ApiResult<T> {
    let query = serde_urlencoded::to_string(pairs)
        .map_err(|error| ApiError::Internal(anyhow::Error::new(error)))?;
    serde_urlencoded::from_str(&query)
        .map_err(|error| query_param_error(&SerdeMessage::parse(&error.to_string()), also_accepted))
}

/// Returns the error for query parameters that do not deserialize.
fn query_param_error(message: &SerdeMessage, also_accepted: &[&str]) -> ApiError {
    match message {
        SerdeMessage::UnknownField { name, accepted } => {
            let accepted: Vec<&str> = accepted
                .iter()
                .map(String::as_str)
                .chain(also_accepted.iter().copied())
                .collect();
            let accepted = if accepted.is_empty() {
                "this endpoint takes no query parameters".to_owned()
            } else {
                format!("accepted parameters: {}", accepted.join(", "))
            };
            ApiError::Unprocessable {
                field: name.clone(),
                message: format!(
                    "unknown query parameter `{}`; remove it ({accepted})",
                    shorten(name)
                ),
            }
        }
        SerdeMessage::DuplicateField { name } => ApiError::Unprocessable {
            field: name.clone(),
            message: format!("query parameter `{name}` is given more than once; give it once"),
        },
        SerdeMessage::MissingField { name } => ApiError::Unprocessable {
            field: name.clone(),
            message: format!("missing query parameter `{name}`; add it"),
        },
        other => {
            let detail = match other {
                SerdeMessage::Other(text) if !mentions_rust(text) => text.clone(),
                _ => "a parameter has an invalid value; see docs/api.md".to_owned(),
            };
            ApiError::Unprocessable {
                field: "query".to_owned(),
                message: format!("invalid query string: {detail}"),
            }
        }
    }
}
