//! The WebSocket session of one agent. TODO: implement.

use axum::http::StatusCode;

/// Connected agents by host id.
#[derive(Default)]
pub struct Registry;

pub async fn connect() -> StatusCode {
    StatusCode::NOT_IMPLEMENTED
}
