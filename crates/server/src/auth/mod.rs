//! Logins, one-use bearer tokens with rotation, and failed-login rate limits.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::config::SecurityConfig;
use crate::error::ApiResult;
use crate::state::AppState;

/// Failed-login counters. TODO: implement.
pub struct LoginLimiter;

impl LoginLimiter {
    pub fn new(_config: &SecurityConfig) -> Self {
        Self
    }
}

pub async fn login() -> ApiResult<()> {
    Err(crate::error::ApiError::Forbidden)
}

pub async fn logout() -> ApiResult<()> {
    Err(crate::error::ApiError::Forbidden)
}

pub async fn require_token(
    State(_state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    next.run(request).await
}

pub async fn bootstrap_admin(
    _state: &AppState,
    _admin_password: Option<String>,
) -> anyhow::Result<()> {
    Ok(())
}

pub fn spawn_token_purge(_state: AppState) {}
