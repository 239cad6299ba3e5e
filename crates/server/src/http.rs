//! The HTTP router: public routes, privileged routes behind the token middleware, and the agent
//! WebSocket endpoint.

use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use serde_json::{Value, json};

use crate::state::AppState;
use crate::{agents, auth, events, hosts, jobs, ui, updates, users};

/// Builds the complete router.
pub fn router(state: AppState) -> Router {
    let privileged = Router::new()
        .merge(users::routes())
        .merge(hosts::routes())
        .merge(updates::routes())
        .merge(jobs::routes())
        .merge(events::privileged_routes())
        .route("/logout", post(auth::logout))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));

    Router::new()
        .route("/login", post(auth::login))
        .route("/health", get(health))
        .route(sysmanage_protocol::CONNECT_PATH, get(agents::connect))
        .merge(events::public_routes())
        .merge(ui::routes())
        .merge(privileged)
        .with_state(state)
}

/// Public liveness probe for load balancers. Says nothing about the fleet.
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}
