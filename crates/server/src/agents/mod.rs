//! The agent WebSocket endpoint: challenge and signature check, registration, and the session
//! that serves one agent. See docs/protocol.md for the message flow.
//!
//! Not for: what a message does to the database, which lives in `hosts`, `updates` and `jobs`.

mod admission;
mod handshake;
mod malformed;
mod outbox;
mod registry;
mod session;

use std::net::SocketAddr;

use axum::Extension;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{State, WebSocketUpgrade};
use axum::response::Response;
use tracing::Instrument as _;

pub use admission::{RegistrationError, RegistrationLimiter};
pub use registry::{Registration, Registry, SendError};

use crate::state::AppState;

/// Maximum size of one incoming message or frame, the same limit as the agent's. A larger one
/// closes the connection.
const MAX_MESSAGE_SIZE: usize = sysmanage_protocol::MAX_MESSAGE_SIZE;

/// Size of the read and write buffers of one connection, the agents' largest frame payload
/// (`MAX_FRAME_PAYLOAD`). tungstenite (0.29) allocates the read buffer up front for every
/// connection, so it counts fully in the server's memory per connected agent. Heartbeats and
/// acknowledgements take a few hundred bytes. A frame reserves its length beyond the bytes
/// already buffered, so frames of 512 bytes grow the buffer once, to 1 KiB; each read from the
/// socket still takes at most this many bytes.
// NOTE: tungstenite reuses a grown read buffer (bytes 1.12 reclaims it) instead of shrinking it,
// so a connection that received a large message in one frame, as agents older than
// `MAX_FRAME_PAYLOAD` send them, keeps a buffer of that size until it closes.
const BUFFER_SIZE: usize = sysmanage_protocol::MAX_FRAME_PAYLOAD;

/// Maximum bytes queued for writing before a send fails, so that a stalled agent cannot make the
/// server buffer without limit.
const MAX_WRITE_BUFFER_SIZE: usize = 2 * MAX_MESSAGE_SIZE;

/// Returns whether a receive error means that the agent sent a message or frame over
/// [`MAX_MESSAGE_SIZE`].
fn is_message_too_large(error: &axum::Error) -> bool {
    // NOTE: axum hides the tungstenite error type, so this matches the text of tungstenite's
    // `CapacityError::MessageTooLong` ("Message too long: N > M", tungstenite 0.26 to 0.29).
    error.to_string().contains("Message too long")
}

/// `GET /agent/connect`: upgrades to a WebSocket and runs the agent session in a span that
/// carries the peer address and, once known, the host id.
pub async fn connect(
    upgrade: WebSocketUpgrade,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    State(state): State<AppState>,
) -> Response {
    let peer_address = peer.map(|Extension(ConnectInfo(address))| address);
    let peer = peer_address.map_or_else(|| "unknown".to_owned(), |address| address.to_string());
    let span = tracing::info_span!("agent", %peer, host_id = tracing::field::Empty);
    upgrade
        .read_buffer_size(BUFFER_SIZE)
        .write_buffer_size(BUFFER_SIZE)
        .max_write_buffer_size(MAX_WRITE_BUFFER_SIZE)
        .max_message_size(MAX_MESSAGE_SIZE)
        .max_frame_size(MAX_MESSAGE_SIZE)
        .on_failed_upgrade(|error| tracing::warn!(%error, "agent WebSocket upgrade failed"))
        .on_upgrade(move |socket| {
            session::run(socket, state, peer_address.map(|address| address.ip())).instrument(span)
        })
}
