//! The two HTTP handlers of the event stream: ticket issue and the SSE stream itself.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures_util::stream::{self, Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::broadcast;

use super::{Event, StreamOwner, TICKET_TTL_SECS, TicketError};
use crate::auth::{CurrentUser, tokens};
use crate::error::ApiQuery;
use crate::state::AppState;

/// Interval of SSE comment lines that keep idle connections open through proxies.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(15);

/// Interval between two checks that the session which opened a stream is still open. A logout,
/// a revoked chain, an idle timeout or a deactivated user ends the stream within this time.
const SESSION_CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// Body of `POST /events/ticket`.
#[derive(Debug, Serialize, Deserialize)]
pub struct TicketResponse {
    pub ticket: String,
    /// Seconds until the ticket expires.
    pub expires_in: u64,
}

/// Query of `GET /events`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    ticket: Option<String>,
}

impl IntoResponse for TicketError {
    fn into_response(self) -> Response {
        let (status, code) = match self {
            Self::StoreFull => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Random => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            Self::Invalid => (StatusCode::FORBIDDEN, "forbidden"),
        };
        let body = json!({ "error": { "code": code, "message": self.to_string() } });
        (status, Json(body)).into_response()
    }
}

/// `POST /events/ticket`: issues a one-time ticket that opens one event stream for the session
/// of the request.
pub async fn issue_ticket(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
) -> Result<Json<TicketResponse>, TicketError> {
    let now = state.clock.now_ms();
    let expires_at = now + (TICKET_TTL_SECS * 1000) as i64;
    let ticket = state
        .events
        .tickets
        .issue(
            now,
            expires_at,
            StreamOwner {
                user_id: user.user_id,
                chain_id: user.chain_id,
            },
        )
        .inspect_err(|error| tracing::warn!(%error, "event stream ticket not issued"))?;
    Ok(Json(TicketResponse {
        ticket,
        expires_in: TICKET_TTL_SECS,
    }))
}

/// `GET /events?ticket=...`: burns the ticket and streams every published event as SSE until
/// the session that asked for the ticket ends.
///
/// The first event is `ready`. A client that falls more than the channel capacity behind gets a
/// `resync` event and should refetch everything it shows. The stream checks its session every
/// [`SESSION_CHECK_INTERVAL`] and closes once the session is logged out, revoked, idle past its
/// timeout or its user is deactivated or deleted.
pub async fn open_stream(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, TicketError> {
    let ticket = query.ticket.unwrap_or_default();
    let owner = state
        .events
        .tickets
        .redeem(&ticket, state.clock.now_ms())
        .inspect_err(|_| tracing::info!("event stream rejected: invalid ticket"))?;
    tracing::info!(user_id = owner.user_id, "event stream opened");

    let mut session_check = tokio::time::interval(SESSION_CHECK_INTERVAL);
    session_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let subscription = Subscription {
        receiver: state.events.subscribe(),
        session_check,
        owner,
        state,
    };
    let ready = stream::once(async { Ok(SseEvent::default().event("ready").data("{}")) });
    let events = stream::unfold(subscription, |mut subscription| async move {
        let message = subscription.next().await?;
        Some((Ok(message), subscription))
    });
    Ok(Sse::new(ready.chain(events)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE_INTERVAL)))
}

/// One open stream: its place on the event bus and the session it belongs to.
struct Subscription {
    receiver: broadcast::Receiver<Event>,
    session_check: tokio::time::Interval,
    owner: StreamOwner,
    state: AppState,
}

impl Subscription {
    /// Returns the next message, or `None` when the stream must end: the session ended or the
    /// bus is gone (server shutdown).
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            tokio::select! {
                message = next_message(&mut self.receiver) => return message,
                _ = self.session_check.tick() => {
                    if !self.session_is_open().await {
                        tracing::info!(user_id = self.owner.user_id, "event stream closed: its session ended");
                        return None;
                    }
                }
            }
        }
    }

    /// Checks the session in the database. A database error keeps the stream open; the next
    /// check tries again.
    async fn session_is_open(&self) -> bool {
        let now = self.state.clock.now_ms();
        match tokens::session_is_open(
            &self.state.db,
            self.owner.user_id,
            &self.owner.chain_id,
            now,
        )
        .await
        {
            Ok(open) => open,
            Err(error) => {
                tracing::warn!(%error, "could not check the session of an event stream; keeping it open");
                true
            }
        }
    }
}

/// Waits for the next event and converts it to an SSE message. Returns `None` when the bus is
/// gone (server shutdown).
async fn next_message(receiver: &mut broadcast::Receiver<Event>) -> Option<SseEvent> {
    match receiver.recv().await {
        Ok(event) => Some(to_sse(&event)),
        Err(broadcast::error::RecvError::Lagged(missed)) => {
            tracing::warn!(
                missed,
                "event stream subscriber fell behind; sending resync"
            );
            Some(
                SseEvent::default()
                    .event("resync")
                    .data(json!({ "missed": missed }).to_string()),
            )
        }
        Err(broadcast::error::RecvError::Closed) => None,
    }
}

/// Converts an event to an SSE message named after its type with the event as JSON data.
pub(super) fn to_sse(event: &Event) -> SseEvent {
    let data = serde_json::to_string(event).unwrap_or_else(|error| {
        // Unreachable for these plain types; a resync makes the client refetch everything.
        tracing::error!(%error, "failed to serialize a live event");
        String::from("{}")
    });
    SseEvent::default().event(event.name()).data(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventBus;

    #[tokio::test]
    async fn subscriber_receives_published_events() {
        let bus = EventBus::new();
        let mut receiver = bus.subscribe();
        bus.publish(Event::HostStatus {
            host_id: 7,
            status: "down".to_owned(),
        });
        bus.publish(Event::JobState {
            job_id: 3,
            host_id: 7,
            state: "succeeded".to_owned(),
        });

        let first = receiver.recv().await.unwrap();
        assert_eq!(first.name(), "host_status");
        let second = receiver.recv().await.unwrap();
        assert_eq!(
            serde_json::to_value(&second).unwrap(),
            json!({ "type": "job_state", "job_id": 3, "host_id": 7, "state": "succeeded" })
        );
    }

    #[test]
    fn publish_without_subscribers_is_dropped() {
        let bus = EventBus::new();
        bus.publish(Event::UpdatesChanged { host_id: 1 });
    }

    #[tokio::test]
    async fn lagging_subscriber_gets_resync() {
        let bus = EventBus::new();
        let mut receiver = bus.subscribe();
        for host_id in 0..(super::super::CHANNEL_CAPACITY as i64 + 10) {
            bus.publish(Event::UpdatesChanged { host_id });
        }
        let message = next_message(&mut receiver).await;
        assert!(message.is_some());
        // After the resync the receiver continues with the oldest event still buffered.
        assert!(matches!(
            receiver.recv().await,
            Ok(Event::UpdatesChanged { .. })
        ));
    }

    #[test]
    fn event_names_match_type_tags() {
        let events = [
            Event::HostStatus {
                host_id: 1,
                status: "up".to_owned(),
            },
            Event::HostRegistered {
                host_id: 1,
                hostname: "web-1".to_owned(),
            },
            Event::HostApproval {
                host_id: 1,
                approval: "approved".to_owned(),
            },
            Event::UpdatesChanged { host_id: 1 },
            Event::JobState {
                job_id: 1,
                host_id: 1,
                state: "queued".to_owned(),
            },
        ];
        for event in events {
            let value = serde_json::to_value(&event).unwrap();
            assert_eq!(value["type"], event.name(), "{event:?}");
        }
    }
}
