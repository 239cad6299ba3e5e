//! The HTTP router: public routes, privileged routes behind the token middleware, and the agent
//! WebSocket endpoint.

use axum::http::{Method, Uri};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use serde_json::{Value, json};

use crate::error::ApiError;
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
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// Returns a JSON 404 for a path that no route matches.
async fn route_not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("route {}", uri.path()))
}

/// Returns a JSON 405 for a known path requested with a method it does not take.
async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

/// Public liveness probe for load balancers. Says nothing about the fleet.
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}
