//! The connection to the server: WebSocket client, TLS, reconnects with backoff, and the
//! session loop in [`session`].

pub mod backoff;
pub mod session;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use sysmanage_protocol::{AgentMessage, HostInfo};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use self::backoff::{Backoff, REJECTED_DELAY};
use self::session::SessionContext;
use crate::config::Secret;
use crate::identity::Identity;
use crate::jobs::JobRunner;
use crate::scanner::Scanner;

/// Size of the WebSocket read and write buffers. Agent messages are small, so a small buffer
/// keeps the memory per connection low on the server's side of the same library, and here.
pub const BUFFER_SIZE: usize = 8 * 1024;
/// Maximum size of a message or frame, the same limit as the server's.
pub const MAX_MESSAGE_SIZE: usize = sysmanage_protocol::MAX_MESSAGE_SIZE;
/// Time limit for the TCP, TLS and WebSocket handshakes.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and how to connect.
#[derive(Clone)]
pub struct Endpoint {
    /// `ws://` or `wss://` URL of the agent endpoint.
    pub url: String,
    /// TLS configuration for `wss://`.
    pub tls: Option<Arc<ClientConfig>>,
}

/// The WebSocket configuration of every connection.
pub fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(BUFFER_SIZE)
        .write_buffer_size(BUFFER_SIZE)
        .max_write_buffer_size(MAX_MESSAGE_SIZE + BUFFER_SIZE)
        .max_message_size(Some(MAX_MESSAGE_SIZE))
        .max_frame_size(Some(MAX_MESSAGE_SIZE))
}

/// Opens one WebSocket connection to the endpoint.
pub async fn connect(
    endpoint: &Endpoint,
) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, String> {
    let connector = match &endpoint.tls {
        Some(config) if endpoint.url.starts_with("wss://") => Connector::Rustls(Arc::clone(config)),
        _ => Connector::Plain,
    };
    let attempt = tokio_tungstenite::connect_async_tls_with_config(
        endpoint.url.as_str(),
        Some(websocket_config()),
        true,
        Some(connector),
    );
    match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        Ok(Ok((socket, _response))) => Ok(socket),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("timed out after {} s", CONNECT_TIMEOUT.as_secs())),
    }
}

/// Everything the connection loop needs that lives longer than one connection.
pub struct ConnectionContext {
    pub identity: Arc<Identity>,
    pub host: HostInfo,
    pub enrollment_key: Option<Secret>,
    pub runner: JobRunner,
    pub scanner: Scanner,
    pub outbox: mpsc::UnboundedReceiver<AgentMessage>,
}

/// Connects, runs a session, and reconnects forever.
///
/// Delays follow [`Backoff`], reset after every `Welcome`; after a rejection the next attempt
/// waits [`REJECTED_DELAY`].
pub async fn run_forever(endpoint: Endpoint, mut context: ConnectionContext) {
    let mut backoff = Backoff::default();
    loop {
        tracing::info!(url = %endpoint.url, "connecting to the server");
        let delay = match connect(&endpoint).await {
            Ok(socket) => {
                let session_context = SessionContext {
                    identity: &context.identity,
                    host: context.host.clone(),
                    enrollment_key: context.enrollment_key.clone(),
                    runner: &context.runner,
                    scanner: &context.scanner,
                    outbox: &mut context.outbox,
                };
                let end = session::run(socket, session_context).await;
                tracing::warn!(reason = %end.reason, "disconnected from the server");
                if end.welcomed {
                    backoff.reset();
                }
                if end.rejected {
                    REJECTED_DELAY
                } else {
                    backoff.next_random_delay()
                }
            }
            Err(error) => {
                tracing::warn!(url = %endpoint.url, %error, "connection failed");
                backoff.next_random_delay()
            }
        };
        tracing::info!(
            delay_ms = delay.as_millis() as u64,
            "reconnecting after a delay"
        );
        tokio::time::sleep(delay).await;
    }
}
