//! The HTTP router: public routes, privileged routes behind the token middleware, and the agent
//! WebSocket endpoint.

use axum::http::{HeaderName, HeaderValue, Method, Uri, header};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use serde_json::{Value, json};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::error::ApiError;
use crate::state::AppState;
use crate::{agents, auth, events, hosts, jobs, summary, ui, updates, users};

/// Builds the complete router.
pub fn router(state: AppState) -> Router {
    let privileged = Router::new()
        .merge(users::routes())
        .merge(hosts::routes())
        .merge(updates::routes())
        .merge(jobs::routes())
        .merge(summary::routes())
        .merge(events::privileged_routes())
        .route("/logout", post(auth::logout))
        .route("/account/password", post(auth::change_password))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));

    let ui = ui::routes().layer(SetResponseHeaderLayer::overriding(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(UI_CONTENT_SECURITY_POLICY),
    ));

    let router = Router::new()
        .route("/login", post(auth::login))
        .route("/health", get(health))
        .route(sysmanage_protocol::CONNECT_PATH, get(agents::connect))
        .merge(events::public_routes())
        .merge(ui)
        .merge(privileged)
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    with_security_headers(router)
}

/// Content-Security-Policy of the web UI. Styles allow `'unsafe-inline'` because Mantine sets
/// inline styles at run time, and images allow `data:` URLs for inline icons.
pub const UI_CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Content-Security-Policy of every other response: JSON and event streams load nothing.
const API_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// Adds headers that stop browsers from sniffing content types, framing pages and sending the
/// URL as a referrer, on every response.
fn with_security_headers(router: Router) -> Router {
    let headers = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    let router = headers.into_iter().fold(
        router,
        |router, (name, value): (HeaderName, &'static str)| {
            router.layer(SetResponseHeaderLayer::overriding(
                name,
                HeaderValue::from_static(value),
            ))
        },
    );
    router.layer(SetResponseHeaderLayer::if_not_present(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(API_CONTENT_SECURITY_POLICY),
    ))
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
