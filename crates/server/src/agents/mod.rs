//! The agent WebSocket endpoint: challenge and signature check, registration, and the session
//! that serves one agent. See docs/protocol.md for the message flow.
//!
//! Not for: what a message does to the database, which lives in `hosts`, `updates` and `jobs`.

mod handshake;
mod registry;
mod session;

use std::net::SocketAddr;

use axum::Extension;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{State, WebSocketUpgrade};
use axum::response::Response;
use tracing::Instrument as _;

pub use registry::{Registration, Registry, SendError};

use crate::state::AppState;

/// Maximum size of one incoming message or frame. An update report of a few thousand packages
/// fits easily; a larger frame closes the connection.
const MAX_MESSAGE_SIZE: usize = 1024 * 1024;

/// Size of the read and write buffers of one connection.
const BUFFER_SIZE: usize = 16 * 1024;

/// Maximum bytes queued for writing before a send fails, so that a stalled agent cannot make the
/// server buffer without limit.
const MAX_WRITE_BUFFER_SIZE: usize = 2 * MAX_MESSAGE_SIZE;

/// `GET /agent/connect`: upgrades to a WebSocket and runs the agent session in a span that
/// carries the peer address and, once known, the host id.
pub async fn connect(
    upgrade: WebSocketUpgrade,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    State(state): State<AppState>,
) -> Response {
    let peer = peer.map_or_else(
        || "unknown".to_owned(),
        |Extension(ConnectInfo(address))| address.to_string(),
    );
    let span = tracing::info_span!("agent", %peer, host_id = tracing::field::Empty);
    upgrade
        .read_buffer_size(BUFFER_SIZE)
        .write_buffer_size(BUFFER_SIZE)
        .max_write_buffer_size(MAX_WRITE_BUFFER_SIZE)
        .max_message_size(MAX_MESSAGE_SIZE)
        .max_frame_size(MAX_MESSAGE_SIZE)
        .on_failed_upgrade(|error| tracing::warn!(%error, "agent WebSocket upgrade failed"))
        .on_upgrade(move |socket| session::run(socket, state).instrument(span))
}
