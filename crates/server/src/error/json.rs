//! JSON request bodies: the `Content-Type` check, the size limit, and errors that name the
//! failing field in JSON terms.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use super::objects_only::ObjectsOnly;
use super::serde_message::{
    SerdeMessage, describe_expected, describe_found, mentions_rust, shorten,
};
use super::{ApiError, ApiResult, MAX_BODY_BYTES};

/// A JSON request body. A body that is not JSON, has the wrong `Content-Type` or is too large
/// is a 400 or 413; a body whose fields do not fit `T` is a 422 naming the field, such as
/// `packages[0].version`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        require_json_content_type(request.headers())?;
        let bytes = read_body(request, state).await?;
        parse_json_body(&bytes).map(Self)
    }
}

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
        let content_type = require_json_content_type(request.headers());
        let bytes = read_body(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        content_type?;
        parse_json_body(&bytes).map(Self)
    }
}

/// Checks that `Content-Type` is `application/json` or another `application/*+json` type, with
/// or without parameters such as `charset`.
fn require_json_content_type(headers: &HeaderMap) -> ApiResult<()> {
    const FIX: &str = "send Content-Type: application/json with a JSON body";
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(ApiError::BadRequest(format!(
            "request has no Content-Type header; {FIX}"
        )));
    };
    let Ok(text) = value.to_str() else {
        return Err(ApiError::BadRequest(format!(
            "request has a Content-Type header that is not ASCII text; {FIX}"
        )));
    };
    let media_type = text
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let is_json = media_type == "application/json"
        || (media_type.starts_with("application/") && media_type.ends_with("+json"));
    if is_json {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "request has Content-Type `{}`; {FIX}",
            shorten(text)
        )))
    }
}

/// Reads the whole body, up to the limit that `http::router` sets ([`MAX_BODY_BYTES`]).
async fn read_body<S: Send + Sync>(request: Request, state: &S) -> ApiResult<Bytes> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge {
                    limit_bytes: MAX_BODY_BYTES,
                }
            } else {
                ApiError::BadRequest(
                    "failed to read the request body; send the request again".to_owned(),
                )
            }
        })
}

/// Deserializes a JSON body, with errors in JSON terms that name the failing field.
fn parse_json_body<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "request body is empty; send a JSON object".to_owned(),
        ));
    }
    if bytes.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'{') {
        return Err(not_an_object(bytes));
    }
    if contains_escaped_nul(bytes) {
        // PostgreSQL cannot store U+0000 in text, and no field of the API has a use for it.
        return Err(ApiError::Unprocessable {
            field: "body".to_owned(),
            message: "a string in the body contains the NUL character (\\u0000); remove it"
                .to_owned(),
        });
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value =
        serde_path_to_error::deserialize(ObjectsOnly(&mut deserializer)).map_err(|error| {
            let path = error.path().to_string();
            let error = error.into_inner();
            match error.classify() {
                serde_json::error::Category::Data => {
                    // serde_path_to_error prints the top level as ".".
                    let path = if path == "." { "" } else { path.as_str() };
                    body_field_error(path, &SerdeMessage::parse(&without_position(&error)))
                }
                _ => json_syntax_error(&error),
            }
        })?;
    deserializer
        .end()
        .map_err(|error| json_syntax_error(&error))?;
    Ok(value)
}

/// Returns whether the JSON text has the escape `\u0000` in a string: a backslash that is not
/// itself escaped, followed by `u0000`.
fn contains_escaped_nul(bytes: &[u8]) -> bool {
    let mut backslashes = 0;
    for (index, byte) in bytes.iter().enumerate() {
        if *byte == b'\\' {
            backslashes += 1;
            continue;
        }
        if backslashes % 2 == 1 && bytes[index..].starts_with(b"u0000") {
            return true;
        }
        backslashes = 0;
    }
    false
}

/// Returns the error for a body that does not start with `{`: a syntax error when it is not
/// JSON, and otherwise a 422 saying what it is. Every request body is an object, and serde
/// would otherwise read a top-level array as the fields in declaration order, a form the API
/// does not document. [`ObjectsOnly`] rejects such an array at any depth below.
fn not_an_object(bytes: &[u8]) -> ApiError {
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(error) => return json_syntax_error(&error),
    };
    let found = match &value {
        serde_json::Value::Null => "null".to_owned(),
        serde_json::Value::Bool(value) => value.to_string(),
        serde_json::Value::Number(number) => format!("the number {}", shorten(&number.to_string())),
        serde_json::Value::String(text) => format!("the string {:?}", shorten(text)),
        serde_json::Value::Array(_) => "an array".to_owned(),
        serde_json::Value::Object(_) => "an object".to_owned(),
    };
    ApiError::Unprocessable {
        field: "body".to_owned(),
        message: format!("the body must be a JSON object, not {found}"),
    }
}

fn json_syntax_error(error: &serde_json::Error) -> ApiError {
    ApiError::BadRequest(format!(
        "request body is not valid JSON: {error}; send a JSON object"
    ))
}

/// Returns the message of a `serde_json` error without its ` at line L column C` suffix, because
/// the error names the field and a position in a one-line body does not help.
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

/// Returns the error for a body field that does not deserialize. `path` is where serde stopped,
/// such as `packages[0]`, or empty for the top level.
fn body_field_error(path: &str, message: &SerdeMessage) -> ApiError {
    let field = if path.is_empty() { "body" } else { path };
    let subject = if path.is_empty() {
        "the body".to_owned()
    } else {
        format!("`{path}`")
    };
    let unprocessable = |field: String, message: String| ApiError::Unprocessable { field, message };
    match message {
        // serde_path_to_error ends the path with the unknown name itself.
        SerdeMessage::UnknownField { name, accepted } => {
            let field = if path.is_empty() {
                name.clone()
            } else {
                path.to_owned()
            };
            let accepted = if accepted.is_empty() {
                "this object takes no fields".to_owned()
            } else {
                format!("accepted fields: {}", accepted.join(", "))
            };
            let message = format!(
                "unknown field `{}`; remove it ({accepted})",
                shorten(&field)
            );
            unprocessable(field, message)
        }
        SerdeMessage::MissingField { name } => {
            let field = join_path(path, name);
            let message = format!("missing field `{field}`; add it");
            unprocessable(field, message)
        }
        SerdeMessage::DuplicateField { name } => {
            let field = join_path(path, name);
            let message = format!("field `{field}` appears more than once; send it once");
            unprocessable(field, message)
        }
        SerdeMessage::InvalidType { found, expected }
        | SerdeMessage::InvalidValue { found, expected } => unprocessable(
            field.to_owned(),
            format!(
                "{subject} must be {}, not {}",
                describe_expected(expected),
                describe_found(found)
            ),
        ),
        SerdeMessage::InvalidLength { length, expected } => unprocessable(
            field.to_owned(),
            format!(
                "{subject} must be {}, not an array of {length} items",
                describe_expected(expected)
            ),
        ),
        SerdeMessage::UnknownVariant { name, accepted } => unprocessable(
            field.to_owned(),
            format!(
                "{subject} must be one of {}, not \"{}\"",
                accepted.join(", "),
                shorten(name)
            ),
        ),
        SerdeMessage::Other(text) => {
            let detail = if mentions_rust(text) {
                "the value does not fit; see docs/api.md for its type"
            } else {
                text
            };
            let name = if path.is_empty() {
                "body".to_owned()
            } else {
                format!("`{path}`")
            };
            unprocessable(field.to_owned(), format!("invalid {name}: {detail}"))
        }
    }
}

/// Joins a body path such as `packages[0]` and a field name such as `version`.
fn join_path(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}
