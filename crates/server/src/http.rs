//! The HTTP router: public routes, privileged routes behind the token middleware, and the agent
//! WebSocket endpoint. Also binds the listening socket.

use std::net::SocketAddr;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use serde_json::{Value, json};
use tokio::net::TcpSocket;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::error::{self, ApiError};
use crate::state::AppState;
use crate::{agents, auth, events, hosts, jobs, summary, ui, updates, users};

/// Length of the listen queue requested for the API socket. Linux caps it at
/// `net.core.somaxconn` (4096 by default since kernel 5.4).
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds a TCP listener on `address`, IPv4 or IPv6, with [`LISTEN_BACKLOG`].
///
/// `std::net::TcpListener::bind` passes a backlog of 128 to `listen(2)` (Rust 1.95 on Linux).
/// When thousands of agents reconnect at once, for example after a server restart, connections
/// arrive faster than they are accepted. The kernel then drops the SYNs that do not fit
/// ("Possible SYN flooding" in its log), and those agents wait for their retransmit timeout.
/// `SO_REUSEADDR` is set as std sets it, so that a restarted server can bind while old
/// connections are in `TIME_WAIT`.
///
/// Must be called inside a Tokio runtime. The listener is returned in non-blocking mode.
pub fn bind_listener(address: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)?.into_std()
}

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
        // Added before the token check, so it runs after it: a request with a bad token gets
        // 403 whatever its query, and the token of a rejected query is spent like on any 4xx.
        .route_layer(middleware::from_fn(reject_query_string))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));

    let ui = ui::routes().layer(SetResponseHeaderLayer::overriding(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(UI_CONTENT_SECURITY_POLICY),
    ));

    let router = Router::new()
        .route(
            "/login",
            post(auth::login).route_layer(middleware::from_fn(reject_query_string)),
        )
        .route("/health", get(health))
        .route(sysmanage_protocol::CONNECT_PATH, get(agents::connect))
        .merge(events::public_routes())
        .merge(ui)
        .merge(privileged)
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(error::MAX_BODY_BYTES))
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

/// API endpoints whose handlers read query parameters and check them themselves, as route
/// templates. `HEAD` counts as `GET`.
const QUERY_ENDPOINTS: [(Method, &str); 5] = [
    (Method::GET, "/hosts"),
    (Method::GET, "/hosts/{id}/events"),
    (Method::GET, "/hosts/{id}/updates"),
    (Method::GET, "/updates"),
    (Method::GET, "/jobs"),
];

/// Rejects a query string on an API endpoint that takes no query parameters (every one but
/// [`QUERY_ENDPOINTS`]) with a 422 naming the first parameter, as a misspelt parameter on a
/// list endpoint is. Without this, `DELETE /hosts/7?dry_run=true` would delete the host.
async fn reject_query_string(matched: MatchedPath, request: Request, next: Next) -> Response {
    let method = if request.method() == Method::HEAD {
        Method::GET
    } else {
        request.method().clone()
    };
    let takes_query = QUERY_ENDPOINTS
        .iter()
        .any(|(endpoint_method, path)| *endpoint_method == method && *path == matched.as_str());
    if takes_query {
        return next.run(request).await;
    }
    let pairs = match error::query_pairs(request.uri().query().unwrap_or_default()) {
        Ok(pairs) => pairs,
        Err(rejection) => return rejection.into_response(),
    };
    if let Some((name, _)) = pairs.first() {
        return ApiError::Unprocessable {
            field: name.clone(),
            message: format!(
                "unknown query parameter `{name}`; remove it ({method} {} takes no query \
                 parameters)",
                matched.as_str()
            ),
        }
        .into_response();
    }
    next.run(request).await
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

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;
    use std::time::Duration;

    use tokio::net::TcpStream;

    use super::*;

    /// Connections made to a listener that accepts none: more than the queue of 128 that
    /// `std::net::TcpListener::bind` gets.
    const UNACCEPTED_CONNECTIONS: usize = 300;

    #[tokio::test]
    async fn listener_queues_past_std_backlog() {
        let somaxconn: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .map_or(0, |text| text.trim().parse().unwrap_or(0));
        if somaxconn < UNACCEPTED_CONNECTIONS {
            eprintln!(
                "skipped: net.core.somaxconn is {somaxconn}, below the queue this test needs"
            );
            return;
        }
        let listener = bind_listener("127.0.0.1:0".parse().unwrap()).unwrap();
        let address = listener.local_addr().unwrap();

        // A full accept queue makes the kernel drop the SYN, so the connect times out.
        let mut streams = Vec::with_capacity(UNACCEPTED_CONNECTIONS);
        for index in 0..UNACCEPTED_CONNECTIONS {
            let connect = TcpStream::connect(address);
            let stream = tokio::time::timeout(Duration::from_secs(2), connect)
                .await
                .unwrap_or_else(|_| panic!("connection {index} timed out: the queue is full"))
                .unwrap();
            streams.push(stream);
        }
        assert_eq!(streams.len(), UNACCEPTED_CONNECTIONS);
    }

    #[tokio::test]
    async fn listener_binds_ipv6() {
        match bind_listener("[::1]:0".parse().unwrap()) {
            Ok(listener) => assert!(listener.local_addr().unwrap().is_ipv6()),
            Err(error) if error.kind() == ErrorKind::AddrNotAvailable => {
                eprintln!("skipped: this machine has no IPv6 loopback address");
            }
            Err(error) => panic!("failed to bind [::1]:0: {error}"),
        }
    }

    #[tokio::test]
    async fn listener_rejects_address_in_use() {
        let first = bind_listener("127.0.0.1:0".parse().unwrap()).unwrap();
        let address = first.local_addr().unwrap();
        let error = bind_listener(address).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AddrInUse, "{error}");
    }
}
