//! Logins, one-use bearer tokens with rotation, and failed-login rate limits.
//!
//! The flow: `POST /login` returns a token in `{"X_Reauthorization": ...}`. Every privileged
//! request sends it as `Authorization: Bearer <token>`, and [`require_token`] consumes it and
//! returns the next token in the `X_Reauthorization` response header. Each token works for one
//! request only (see [`tokens`]). `POST /logout` ends the chain.
//!
//! Permissions: administrators may do everything, and other active users may only read. The
//! middleware rejects any method but GET and HEAD from a non-administrator with 403, except the
//! few POST routes in [`OPEN_TO_EVERY_USER`] that concern the user's own session.

mod account;
mod bootstrap;
mod limiter;
pub mod password;
pub mod tokens;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

pub use account::change_password;
pub use bootstrap::bootstrap_admin;
pub use limiter::{LoginLimiter, MAX_COUNTERS};
pub use tokens::spawn_token_purge;

use crate::client_address::ClientAddress;
use crate::db::entities::user;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;

/// Paths that every signed-in user may POST to, administrator or not: they act on the user's own
/// session and account, never on the fleet.
pub const OPEN_TO_EVERY_USER: [&str; 3] = ["/logout", "/events/ticket", "/account/password"];

/// Name of the response header, and of the login response field, that carries the next token.
pub const REAUTHORIZATION_HEADER: &str = "X_Reauthorization";

/// The user of an authenticated request, in the request extensions for handlers
/// (`Extension<CurrentUser>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentUser {
    pub user_id: i64,
    pub userid: String,
    pub is_admin: bool,
    /// Chain of the token that authenticated the request.
    pub chain_id: String,
}

impl CurrentUser {
    /// Returns [`ApiError::AdminRequired`] (403) unless the user is an administrator.
    pub fn require_admin(&self) -> ApiResult<()> {
        if self.is_admin {
            Ok(())
        } else {
            Err(ApiError::AdminRequired)
        }
    }
}

/// Body of `POST /login`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub userid: String,
    pub password: String,
}

/// Response of a successful `POST /login`.
#[derive(Debug, Serialize, Deserialize)]
pub struct LoginResponse {
    #[serde(rename = "X_Reauthorization")]
    pub token: String,
}

/// `POST /login`: checks the password and starts a token chain.
///
/// Wrong credentials, unknown users and inactive users all get the same 401. Too many failures
/// for the user id or from the client address get 429 with `Retry-After`. Behind a reverse
/// proxy in `api.trusted_proxies`, the client address comes from `X-Forwarded-For`.
pub async fn login(
    State(state): State<AppState>,
    ClientAddress { client, peer }: ClientAddress,
    ApiJson(request): ApiJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let attempt = state
        .login_limiter
        .begin(&request.userid, client, state.clock.now_ms())
        .inspect_err(|_| {
            tracing::info!(
                client_address = %client,
                %peer,
                "login rejected: too many failures"
            );
        })?;

    let found = user::Entity::find()
        .filter(user::Column::Userid.eq(&request.userid))
        .one(&state.db)
        .await?;
    let verified = if let Some(user) = &found {
        password::verify(request.password, user.password_hash.clone()).await?
    } else {
        password::verify_dummy(request.password).await;
        false
    };

    let now = state.clock.now_ms();
    let user = match found {
        Some(user) if verified && user.active => user,
        found => {
            attempt.failed(now);
            if let Some(user) = found {
                tracing::info!(
                    user_id = user.id,
                    userid = %user.userid,
                    active = user.active,
                    client_address = %client,
                    %peer,
                    "login failed"
                );
            } else {
                // The attempted user id is not logged: it may be a password typed in the wrong box.
                tracing::info!(
                    client_address = %client,
                    %peer,
                    "login failed for an unknown user id"
                );
            }
            return Err(ApiError::InvalidCredentials);
        }
    };

    attempt.succeeded();
    let chain_id = tokens::new_chain_id();
    let token = tokens::issue(
        &state.db,
        user.id,
        &chain_id,
        now,
        state.config.security.idle_timeout_ms(),
    )
    .await?;
    tracing::info!(
        user_id = user.id,
        userid = %user.userid,
        %chain_id,
        client_address = %client,
        %peer,
        "user logged in"
    );
    Ok(Json(LoginResponse { token }))
}

/// `POST /logout`: revokes the chain of the presented token. Returns 204 and no next token.
pub async fn logout(
    State(state): State<AppState>,
    Extension(current): Extension<CurrentUser>,
) -> ApiResult<StatusCode> {
    tokens::revoke_chain(&state.db, &current.chain_id, state.clock.now_ms()).await?;
    tracing::info!(user_id = current.user_id, chain_id = %current.chain_id, "user logged out");
    Ok(StatusCode::NO_CONTENT)
}

/// Returns the token of an `Authorization: Bearer <token>` header.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Middleware of every privileged route: consumes the bearer token, puts a [`CurrentUser`] into
/// the request extensions, and returns the next token in the `X_Reauthorization` header of the
/// response, whatever its status. A missing, malformed, expired, unknown, revoked or used token,
/// or an inactive user, gets 403.
pub async fn require_token(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(token) = bearer_token(request.headers()) else {
        return ApiError::Forbidden.into_response();
    };
    let consumed = match tokens::consume(&state.db, token, state.clock.now_ms()).await {
        Ok(Ok(consumed)) => consumed,
        Ok(Err(rejection)) => {
            tracing::debug!(?rejection, path = %request.uri().path(), "token rejected");
            return ApiError::Forbidden.into_response();
        }
        Err(error) => return ApiError::from(error).into_response(),
    };

    let user = match user::Entity::find_by_id(consumed.user_id)
        .one(&state.db)
        .await
    {
        Ok(Some(user)) if user.active => user,
        Ok(_) => {
            tracing::info!(
                user_id = consumed.user_id,
                "token of a deleted or inactive user rejected"
            );
            return ApiError::Forbidden.into_response();
        }
        Err(error) => return ApiError::from(error).into_response(),
    };
    let current = CurrentUser {
        user_id: user.id,
        userid: user.userid,
        is_admin: user.is_admin,
        chain_id: consumed.chain_id.clone(),
    };

    let read_only = matches!(*request.method(), Method::GET | Method::HEAD);
    let own_session = OPEN_TO_EVERY_USER.contains(&request.uri().path());
    let mut response = if current.is_admin || read_only || own_session {
        request.extensions_mut().insert(current);
        next.run(request).await
    } else {
        ApiError::AdminRequired.into_response()
    };

    let lifetime_ms = state.config.security.idle_timeout_ms();
    match tokens::issue_successor(&state.db, &consumed, state.clock.now_ms(), lifetime_ms).await {
        Ok(Some(next_token)) => match HeaderValue::from_str(&next_token) {
            Ok(value) => {
                let headers = response.headers_mut();
                headers.insert(REAUTHORIZATION_HEADER, value);
                headers.insert(
                    header::ACCESS_CONTROL_EXPOSE_HEADERS,
                    HeaderValue::from_static(REAUTHORIZATION_HEADER),
                );
            }
            Err(error) => tracing::error!(%error, "next token is not a valid header value"),
        },
        Ok(None) => {}
        Err(error) => tracing::error!(
            error = %format!("{error:#}"),
            user_id = consumed.user_id,
            chain_id = %consumed.chain_id,
            "failed to issue the next token; the client must log in again"
        ),
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_token_parsing() {
        let cases = [
            ("Bearer abc", Some("abc")),
            ("bearer abc", Some("abc")),
            ("Bearer  abc ", Some("abc")),
            ("Basic abc", None),
            ("Bearer", None),
            ("Bearer ", None),
            ("abc", None),
        ];
        for (value, expected) in cases {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(bearer_token(&headers), expected, "{value:?}");
        }
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
