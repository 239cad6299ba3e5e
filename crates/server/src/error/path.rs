//! Path parameters: numeric ids such as the `7` of `/hosts/7`, with errors that name the value.

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams};
use axum::http::request::Parts;

use super::serde_message::shorten;
use super::{ApiError, ApiResult};

/// A numeric id from the path, such as the `7` of `/hosts/7/events`. A value that is not an
/// integer from 1 to 2^63 - 1 is a 400 naming the value: ``invalid host id `abc`: must be a
/// positive integer``.
#[derive(Debug, Clone, Copy)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync> FromRequestParts<S> for ApiPath<i64> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let (field, label) = path_param_label(parts);
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::InvalidPath {
                field: field.clone(),
                message: format!(
                    "invalid {label}: it is not UTF-8 text once percent-decoded; \
                     use a positive integer"
                ),
            })?;
        let mut params = params.iter();
        let (Some((_, value)), None) = (params.next(), params.next()) else {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "ApiPath<i64> needs a route with exactly one path parameter"
            )));
        };
        parse_path_id(&field, &label, value).map(Self)
    }
}

/// Returns the name of the route's path parameter and how to call it in a message: `("id",
/// "host id")` for `/hosts/{id}/events`, from the path segment before the parameter.
fn path_param_label(parts: &Parts) -> (String, String) {
    let template = parts
        .extensions
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
        .unwrap_or_default();
    let segments: Vec<&str> = template.split('/').collect();
    for (index, segment) in segments.iter().enumerate() {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let resource = index
                .checked_sub(1)
                .and_then(|previous| segments.get(previous))
                .map(|previous| previous.strip_suffix('s').unwrap_or(previous))
                .filter(|resource| !resource.is_empty());
            let label = match resource {
                Some(resource) => format!("{resource} {name}"),
                None => format!("path parameter `{name}`"),
            };
            return (name.to_owned(), label);
        }
    }
    ("id".to_owned(), "id".to_owned())
}

/// Parses a path id, which must be an integer from 1 to 2^63 - 1 written in decimal digits.
fn parse_path_id(field: &str, label: &str, value: &str) -> ApiResult<i64> {
    let invalid = |rule: String| ApiError::InvalidPath {
        field: field.to_owned(),
        message: format!("invalid {label} `{}`: {rule}", shorten(value)),
    };
    if value.is_empty() || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(invalid("must be a positive integer".to_owned()));
    }
    match value.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        Ok(_) => Err(invalid("must be a positive integer".to_owned())),
        Err(_) => Err(invalid(format!(
            "must be a positive integer of at most {}",
            i64::MAX
        ))),
    }
}
