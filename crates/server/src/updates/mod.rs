//! Pending updates: storing the reports of agents and the `/updates` queries.
//!
//! Not for: installing updates, which is the job of `jobs`.

mod api;
mod ingest;

use axum::Router;
use axum::routing::{get, post};

pub use ingest::{ReportError, store_report};

use crate::state::AppState;

/// Routes of the updates API, mounted behind the token middleware.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/updates", get(api::list_updates))
        .route("/hosts/{id}/updates", get(api::list_host_updates))
        .route("/hosts/{id}/updates/refresh", post(api::refresh_updates))
}
