//! Live events for the web UI: an in-process bus that the domain modules publish to, and a
//! server-sent events (SSE) stream that browsers subscribe to.
//!
//! Browsers cannot send an `Authorization` header with `EventSource`, and API tokens are valid
//! for one call, so a stream is opened in two steps. `POST /events/ticket` (a privileged call)
//! returns a random one-time ticket valid for [`TICKET_TTL_SECS`] seconds. Then
//! `GET /events?ticket=...` (a public route) burns the ticket and streams events. Events carry
//! ids and states only, never package lists or output, so clients refetch details through the
//! REST API. Not a durable log: a client that reconnects has missed the events in between.

mod stream;
mod tickets;

use axum::Router;
use axum::routing::{get, post};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::state::AppState;

pub use stream::{issue_ticket, open_stream};
pub use tickets::{StreamOwner, TicketError, TicketStore};

/// Seconds a stream ticket stays valid after it was issued.
pub const TICKET_TTL_SECS: u64 = 30;

/// Maximum number of unused tickets kept at once. Issuing more fails until some expire or are
/// used, so a client that requests tickets in a loop cannot grow the store without bound.
pub const MAX_PENDING_TICKETS: usize = 1024;

/// Events buffered per subscriber. A subscriber that falls further behind receives a `resync`
/// event instead of the events it missed.
const CHANNEL_CAPACITY: usize = 256;

/// One change that the web UI shows live. Serialized as the SSE `event` name (the variant name
/// in snake case) and a JSON `data` object with the fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A host went `up` or `down`.
    HostStatus { host_id: i64, status: String },
    /// A new host registered (pending approval, or approved by enrollment key).
    HostRegistered { host_id: i64, hostname: String },
    /// An administrator approved or rejected a host; `approval` is the new value.
    HostApproval { host_id: i64, approval: String },
    /// The stored list of pending updates of a host changed.
    UpdatesChanged { host_id: i64 },
    /// An install job changed state (`queued`, `sent`, `running`, `succeeded`, `failed`,
    /// `expired`).
    JobState {
        job_id: i64,
        host_id: i64,
        state: String,
    },
}

impl Event {
    /// Returns the SSE event name: the `type` tag.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::HostStatus { .. } => "host_status",
            Self::HostRegistered { .. } => "host_registered",
            Self::HostApproval { .. } => "host_approval",
            Self::UpdatesChanged { .. } => "updates_changed",
            Self::JobState { .. } => "job_state",
        }
    }
}

/// The event bus and the stream tickets, shared through [`AppState::events`].
pub struct EventBus {
    sender: broadcast::Sender<Event>,
    pub tickets: TicketStore,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    #[must_use]
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        Self {
            sender,
            tickets: TicketStore::new(MAX_PENDING_TICKETS),
        }
    }

    /// Sends `event` to every open stream without blocking. With no open stream the event is
    /// dropped.
    pub fn publish(&self, event: Event) {
        tracing::debug!(event = event.name(), ?event, "publishing live event");
        // `send` fails only when no stream is open, which is the normal case without browsers.
        let _ = self.sender.send(event);
    }

    /// Returns a receiver of every event published from now on.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}

/// Publishes `event` on the bus of `state`. The call for domain modules:
/// `events::publish(&state, Event::UpdatesChanged { host_id })`.
pub fn publish(state: &AppState, event: Event) {
    state.events.publish(event);
}

/// `POST /events/ticket`, to mount behind the token middleware.
pub fn privileged_routes() -> Router<AppState> {
    Router::new().route("/events/ticket", post(issue_ticket))
}

/// `GET /events`, public: the ticket in the query string authenticates it.
pub fn public_routes() -> Router<AppState> {
    Router::new().route("/events", get(open_stream))
}
