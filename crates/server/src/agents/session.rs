//! One authenticated agent connection: reading its messages, replying to them, and forwarding
//! messages queued for it by API handlers.

use std::collections::VecDeque;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, close_code};
use sysmanage_protocol::{
    AgentMessage, AgentSettings, Approval, Envelope, ErrorCode, ErrorReply, MessageId,
    ServerMessage, UpdateStatus, Welcome, decode,
};
use tokio::time::Instant;

use super::admission::RegistrationError;
use super::handshake::{self, message_type};
use super::malformed::MalformedFrames;
use crate::hosts::AgentHost;
use crate::state::AppState;
use crate::{hosts, jobs, updates};

/// Interval of server-side WebSocket pings.
const PING_INTERVAL: Duration = Duration::from_secs(30);

/// Heartbeat intervals without any frame after which the server closes the connection.
const SILENT_INTERVALS: u32 = 3;

/// Messages that wait while an earlier one is stored. At this many the session stops reading
/// frames until the database catches up, so a fast agent cannot queue without limit.
const MAX_QUEUED_MESSAGES: usize = 16;

/// Storing one message that needs the database: an update report, an inventory or a job event.
type Processing = Pin<Box<dyn Future<Output = ProcessedMessage> + Send>>;

/// Outcome of a processed message: the reply to send, or the error to reply with.
struct ProcessedMessage {
    id: MessageId,
    reply: Result<Option<ServerMessage>, (ErrorCode, String)>,
}

/// Serializes `message` in a fresh envelope as one text frame.
fn text_frame(message: ServerMessage) -> Message {
    Message::Text(Envelope::new(message).to_json().into())
}

/// Serializes an `Error` reply as one text frame.
fn error_frame(in_reply_to: Option<MessageId>, code: ErrorCode, message: &str) -> Message {
    text_frame(ServerMessage::Error(ErrorReply {
        in_reply_to,
        code,
        message: message.to_owned(),
    }))
}

/// Serializes `message` in a fresh envelope and sends it as one text frame.
pub(super) async fn send_message(
    socket: &mut WebSocket,
    message: ServerMessage,
) -> Result<(), axum::Error> {
    socket.send(text_frame(message)).await
}

/// Sends an `Error` reply. A failed send is left to the read loop, which then finds the socket
/// closed.
pub(super) async fn reply_error(
    socket: &mut WebSocket,
    in_reply_to: Option<MessageId>,
    code: ErrorCode,
    message: &str,
) {
    let _ = socket.send(error_frame(in_reply_to, code, message)).await;
}

/// Runs one connection from the challenge to its close. Invalid agent input gets an error reply;
/// only a failed handshake, a rejected registration, a close or a transport error ends the
/// connection. `peer_ip` is the client address that the per-address registration limit counts.
///
/// The returned future lives in the connection's task for as long as the agent stays connected,
/// so its size is memory per connected agent. It is built to stay small:
/// - The socket and the state go into `Session` before the future starts. rustc keeps the
///   arguments of an async fn in its future next to the locals they are moved into
///   (rust-lang/rust#62958), so an async fn that took the socket would store it twice.
/// - The handshake runs in a future of its own on the heap, freed before the session starts,
///   because its database queries take several KiB.
/// - The read loop decides what to send without awaiting, and then awaits only the send of a
///   finished frame (see [`Session::serve`]).
pub(super) fn run(
    socket: WebSocket,
    state: AppState,
    peer_ip: Option<IpAddr>,
) -> impl Future<Output = ()> + Send {
    let mut session = Session {
        socket,
        state,
        host_id: 0,
        malformed: MalformedFrames::new(Instant::now()),
        processing: None,
        queued: VecDeque::new(),
    };
    async move {
        let authenticated = authenticate(&mut session.socket, &session.state, peer_ip);
        let Some(host) = Box::pin(authenticated).await else {
            return;
        };
        session.host_id = host.id;
        session.malformed = MalformedFrames::new(Instant::now());

        let mut registration = session.state.agents.register(host.id);
        session.state.liveness.connected(
            host.id,
            registration.connection_id,
            host.approval == Approval::Approved,
            host.status,
        );
        session
            .serve(&mut registration.receiver, host.approval)
            .await;

        session
            .state
            .agents
            .unregister(session.host_id, registration.connection_id);
        session
            .state
            .liveness
            .disconnected(session.host_id, registration.connection_id);
        session.malformed.finish();
        tracing::info!("agent disconnected");
    }
}

/// Sends the challenge, verifies `Hello` and registers the host. Returns `None` after replying
/// to the agent when the connection has to close.
async fn authenticate(
    socket: &mut WebSocket,
    state: &AppState,
    peer_ip: Option<IpAddr>,
) -> Option<AgentHost> {
    let nonce = match handshake::new_nonce() {
        Ok(nonce) => nonce,
        Err(error) => {
            tracing::error!(%error, "failed to generate a challenge nonce; closing the connection");
            return None;
        }
    };
    if handshake::send_challenge(socket, &nonce).await.is_err() {
        return None;
    }

    let verified = match handshake::receive_hello(socket, &nonce).await {
        Ok(verified) => verified,
        Err(error) => {
            tracing::warn!(%error, "agent authentication failed");
            handshake::reject(socket, &error).await;
            return None;
        }
    };

    let registered =
        hosts::register_agent(state, &verified.hello, &verified.public_key, peer_ip).await;
    let host = match registered {
        Ok(host) => host,
        Err(
            error @ (RegistrationError::TooManyPendingHosts { .. }
            | RegistrationError::TooManyFromAddress),
        ) => {
            if let Some(rejected) = state.registrations.rejection_to_log(state.clock.now_ms()) {
                tracing::warn!(%error, rejected, "rejected new host registrations");
            }
            handshake::reject_registration(socket, &error).await;
            return None;
        }
        Err(RegistrationError::Database(error)) => {
            tracing::error!(%error, "failed to register the agent's host");
            reply_error(
                socket,
                None,
                ErrorCode::Internal,
                "the server could not store the host; reconnect later",
            )
            .await;
            return None;
        }
    };
    tracing::Span::current().record("host_id", host.id);
    tracing::info!(
        approval = host.approval.as_str(),
        agent_version = ?verified.hello.agent_version,
        "agent connected"
    );
    Some(host)
}

/// The connection of one host after its handshake.
///
/// Messages that need the database are stored one at a time, in arrival order, by a future the
/// read loop polls next to the socket, so heartbeats keep being acknowledged while a large update
/// report is stored.
struct Session {
    socket: WebSocket,
    state: AppState,
    host_id: i64,
    malformed: MalformedFrames,
    processing: Option<Processing>,
    queued: VecDeque<(MessageId, AgentMessage)>,
}

/// Action of the read loop after an event, decided without awaiting anything.
enum Step {
    Continue,
    /// Send this frame and go on.
    Send(Message),
    /// Send a close frame with this code and reason, then end the connection.
    Close(u16, &'static str),
    /// End the connection without sending anything, because it failed or the agent closed it.
    End,
}

/// Whether the read loop goes on after a frame.
enum Flow {
    Continue,
    Close,
}

impl Session {
    /// Sends one frame. The future holds only the frame, not the message it was made from.
    async fn send(&mut self, frame: Message) -> Flow {
        match self.socket.send(frame).await {
            Ok(()) => Flow::Continue,
            Err(error) => {
                tracing::debug!(%error, "failed to send to the agent");
                Flow::Close
            }
        }
    }

    /// Carries out a step of the read loop.
    async fn perform(&mut self, step: Step) -> Flow {
        match step {
            Step::Continue => Flow::Continue,
            Step::Send(frame) => self.send(frame).await,
            Step::Close(code, reason) => {
                let frame = CloseFrame {
                    code,
                    reason: reason.into(),
                };
                let _ = self.socket.send(Message::Close(Some(frame))).await;
                Flow::Close
            }
            Step::End => Flow::Close,
        }
    }

    /// Sends `Welcome`, delivers open jobs, then serves frames until either side closes.
    ///
    /// Each turn of the loop waits for the first of: a stored message, a frame from the agent, a
    /// message queued by an API handler, or the check timer. Handling it is synchronous and
    /// yields a [`Step`], and the only await after it is the send of one finished frame. This keeps
    /// the future of the loop, which every connected agent holds, to the socket's own send future
    /// instead of the nested futures of each handler with their messages inside.
    async fn serve(&mut self, outgoing: &mut super::outbox::Receiver, approval: Approval) {
        let config = &self.state.config.agents;
        let heartbeat_interval = Duration::from_secs(config.heartbeat_interval_secs.max(1));
        let welcome = Welcome {
            host_id: self.host_id,
            approval,
            settings: AgentSettings {
                heartbeat_interval_secs: config.heartbeat_interval_secs,
                update_check_interval_secs: config.update_check_interval_secs,
            },
            update_statuses: UpdateStatus::ALL
                .iter()
                .map(|status| status.as_str().to_owned())
                .collect(),
        };
        if let Flow::Close = self.send(text_frame(ServerMessage::Welcome(welcome))).await {
            return;
        }
        // Boxed like the handshake in `run`, because its database queries would otherwise
        // enlarge the session future for the whole connection.
        if approval == Approval::Approved
            && let Flow::Close = Box::pin(self.deliver_open_jobs()).await
        {
            return;
        }

        let mut timers = Timers::new(heartbeat_interval, Instant::now());
        loop {
            let step = tokio::select! {
                processed = finish(&mut self.processing), if self.processing.is_some() => {
                    self.processing = None;
                    self.start_next();
                    processed_step(processed)
                }
                frame = self.socket.recv(), if self.queued.len() < MAX_QUEUED_MESSAGES => match frame {
                    Some(Ok(message)) => {
                        timers.last_frame = Instant::now();
                        self.handle_frame(message)
                    }
                    Some(Err(error)) if super::is_message_too_large(&error) => {
                        tracing::warn!(
                            max_bytes = super::MAX_MESSAGE_SIZE,
                            "closing the connection because the agent sent a message that is too large"
                        );
                        Step::Close(close_code::SIZE, "message larger than the maximum of 8 MiB")
                    }
                    Some(Err(error)) => {
                        tracing::debug!(%error, "agent connection failed");
                        Step::End
                    }
                    None => Step::End,
                },
                message = outgoing.recv() => match message {
                    Some(message) => Step::Send(text_frame(*message)),
                    None if outgoing.host_deleted() => Step::Close(
                        close_code::POLICY,
                        "the host was deleted on the server",
                    ),
                    None => Step::Close(
                        close_code::POLICY,
                        "replaced by a newer connection of this host",
                    ),
                },
                _ = timers.check.tick() => {
                    timers.step(Instant::now(), self.queued.len() >= MAX_QUEUED_MESSAGES)
                }
            };
            if let Flow::Close = self.perform(step).await {
                // A message being stored, such as a job result, is finished rather than dropped.
                // Its reply cannot be sent any more, so the agent sends the message again.
                if let Some(processing) = self.processing.take() {
                    processing.await;
                }
                return;
            }
        }
    }

    /// Queues a message that needs the database, and starts storing it if nothing else is.
    fn enqueue(&mut self, id: MessageId, message: AgentMessage) {
        self.queued.push_back((id, message));
        if self.processing.is_none() {
            self.start_next();
        }
    }

    /// Starts storing the oldest queued message, if any.
    fn start_next(&mut self) {
        if let Some((id, message)) = self.queued.pop_front() {
            let state = self.state.clone();
            let host_id = self.host_id;
            self.processing = Some(Box::pin(process_approved_only(state, host_id, id, message)));
        }
        // A drained queue frees its buffer (four slots of about 280 bytes once anything was
        // queued), because most agents queue messages only after connecting and then hourly.
        if self.queued.is_empty() {
            self.queued.shrink_to_fit();
        }
    }

    async fn deliver_open_jobs(&mut self) -> Flow {
        let open = match jobs::jobs_to_deliver(&self.state, self.host_id).await {
            Ok(open) => open,
            Err(error) => {
                tracing::error!(%error, "failed to load jobs to deliver; they are retried on the next connection");
                return Flow::Continue;
            }
        };
        for job in open {
            let job_id = job.job_id;
            if let Flow::Close = self.send(text_frame(ServerMessage::InstallJob(job))).await {
                return Flow::Close;
            }
            tracing::info!(job_id, "install job delivered");
            if let Err(error) = jobs::mark_sent(&self.state, job_id).await {
                tracing::error!(%error, job_id, "failed to mark a delivered job as sent");
            }
        }
        Flow::Continue
    }

    fn handle_frame(&mut self, frame: Message) -> Step {
        match frame {
            Message::Text(text) => self.handle_text(text.as_str()),
            Message::Binary(_) => {
                if self.malformed.record(Instant::now()) {
                    tracing::warn!("agent sent a binary frame");
                }
                Step::Send(error_frame(
                    None,
                    ErrorCode::MalformedMessage,
                    "binary frames are not supported; send JSON text frames",
                ))
            }
            Message::Ping(_) | Message::Pong(_) => Step::Continue,
            Message::Close(_) => Step::End,
        }
    }

    fn handle_text(&mut self, text: &str) -> Step {
        let envelope = match decode::<AgentMessage>(text) {
            Ok(envelope) => envelope,
            Err(error) => {
                // Debug formatting escapes the control characters that the reason may quote.
                if self.malformed.record(Instant::now()) {
                    tracing::warn!(error = ?error.to_string(), "malformed agent message");
                }
                return Step::Send(error_frame(
                    error.message_id(),
                    error.code(),
                    &error.to_string(),
                ));
            }
        };
        let id = envelope.id;
        match envelope.payload {
            AgentMessage::Heartbeat(heartbeat) => {
                self.state
                    .liveness
                    .heartbeat(self.host_id, heartbeat.resources);
                Step::Send(text_frame(ServerMessage::Ack { of: id }))
            }
            AgentMessage::Hello(_) => Step::Send(error_frame(
                Some(id),
                ErrorCode::UnexpectedMessage,
                "hello is only allowed as the first message of a connection",
            )),
            AgentMessage::Error(reply) => {
                tracing::warn!(
                    code = ?reply.code,
                    in_reply_to = ?reply.in_reply_to,
                    message = ?reply.message,
                    "agent could not process a server message"
                );
                Step::Continue
            }
            other => {
                self.enqueue(id, other);
                Step::Continue
            }
        }
    }
}

/// Returns the reply to a stored message, if it has one.
fn processed_step(processed: ProcessedMessage) -> Step {
    match processed.reply {
        Ok(Some(message)) => Step::Send(text_frame(message)),
        Ok(None) => Step::Continue,
        Err((code, message)) => Step::Send(error_frame(Some(processed.id), code, &message)),
    }
}

/// The one timer of a connection: WebSocket pings every [`PING_INTERVAL`] and the close of a
/// connection silent for [`SILENT_INTERVALS`] heartbeat intervals. A single interval that ticks
/// once per heartbeat interval (at most every [`PING_INTERVAL`]) serves both, so that a
/// connection has one timer instead of two. A silent connection is closed at most one tick
/// after its limit.
struct Timers {
    check: tokio::time::Interval,
    silence_limit: Duration,
    last_frame: Instant,
    last_ping: Instant,
}

impl Timers {
    fn new(heartbeat_interval: Duration, now: Instant) -> Self {
        let period = heartbeat_interval.min(PING_INTERVAL);
        let mut check = tokio::time::interval_at(now + period, period);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self {
            check,
            silence_limit: heartbeat_interval * SILENT_INTERVALS,
            last_frame: now,
            last_ping: now,
        }
    }

    /// Returns the action for a tick of the check timer at `now`. While `reading_paused`, the
    /// session reads no frames because the database is behind, so the agent's unread heartbeats
    /// do not count as silence.
    fn step(&mut self, now: Instant, reading_paused: bool) -> Step {
        if reading_paused {
            self.last_frame = now;
        }
        if now.duration_since(self.last_frame) >= self.silence_limit {
            tracing::warn!(
                silent_secs = self.silence_limit.as_secs(),
                "closing silent agent connection"
            );
            return Step::Close(close_code::AWAY, "no message for three heartbeat intervals");
        }
        if now.duration_since(self.last_ping) >= PING_INTERVAL {
            self.last_ping = now;
            return Step::Send(Message::Ping(axum::body::Bytes::default()));
        }
        Step::Continue
    }
}

/// Waits for the message being stored. Only polled while there is one.
async fn finish(processing: &mut Option<Processing>) -> ProcessedMessage {
    match processing {
        Some(processing) => processing.await,
        None => std::future::pending().await,
    }
}

/// Stores a message that only an approved host may send. The approval is read from the
/// database for each one, so that an approval change applies to the next message.
async fn process_approved_only(
    state: AppState,
    host_id: i64,
    id: MessageId,
    message: AgentMessage,
) -> ProcessedMessage {
    match hosts::current_approval(&state.db, host_id).await {
        Ok(Some(Approval::Approved)) => {}
        Ok(_) => {
            tracing::warn!(
                message_type = message_type(&message),
                "ignored message from a host that is not approved"
            );
            return ProcessedMessage {
                id,
                reply: Err((
                    ErrorCode::NotApproved,
                    "this host is not approved; an administrator must approve it first".to_owned(),
                )),
            };
        }
        Err(error) => {
            tracing::error!(%error, "failed to read the host's approval");
            return ProcessedMessage {
                id,
                reply: Err((
                    ErrorCode::Internal,
                    "database error; retry later".to_owned(),
                )),
            };
        }
    }

    let reply = match message {
        AgentMessage::UpdateReport(report) => {
            match updates::store_report(&state, host_id, &report).await {
                Ok(()) => Ok(Some(ServerMessage::Ack { of: id })),
                Err(error) => Err(error.into_reply()),
            }
        }
        AgentMessage::Inventory(inventory) => {
            match hosts::store_inventory(&state, host_id, &inventory).await {
                Ok(()) => Ok(Some(ServerMessage::Ack { of: id })),
                Err(error) => Err(error.into_reply()),
            }
        }
        AgentMessage::JobStarted { job_id } => jobs::record_started(&state, host_id, job_id)
            .await
            .map(|()| None)
            .map_err(jobs::JobMessageError::into_reply),
        AgentMessage::JobResult(result) => {
            let job_id = result.job_id;
            jobs::record_result(&state, host_id, &result)
                .await
                .map(|()| Some(ServerMessage::JobResultAck { job_id }))
                .map_err(jobs::JobMessageError::into_reply)
        }
        AgentMessage::Hello(_) | AgentMessage::Heartbeat(_) | AgentMessage::Error(_) => Ok(None),
    };
    ProcessedMessage { id, reply }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(seconds: u64) -> Duration {
        Duration::from_secs(seconds)
    }

    #[tokio::test]
    async fn silent_connection_closes_at_limit() {
        let start = Instant::now();
        let mut timers = Timers::new(secs(1), start);
        assert!(matches!(
            timers.step(start + secs(2), false),
            Step::Continue
        ));
        assert!(matches!(
            timers.step(start + secs(3), false),
            Step::Close(close_code::AWAY, _)
        ));
    }

    #[tokio::test]
    async fn paused_reading_is_not_silence() {
        let start = Instant::now();
        let mut timers = Timers::new(secs(1), start);
        assert!(matches!(timers.step(start + secs(5), true), Step::Continue));
        assert!(matches!(
            timers.step(start + secs(7), false),
            Step::Continue
        ));
        assert!(matches!(
            timers.step(start + secs(8), false),
            Step::Close(close_code::AWAY, _)
        ));
    }

    #[tokio::test]
    async fn ping_sent_every_ping_interval() {
        let start = Instant::now();
        let mut timers = Timers::new(secs(30), start);
        timers.last_frame = start + secs(29);
        assert!(matches!(
            timers.step(start + PING_INTERVAL, false),
            Step::Send(Message::Ping(_))
        ));
        timers.last_frame = start + secs(59);
        assert!(matches!(
            timers.step(start + PING_INTERVAL + secs(10), false),
            Step::Continue
        ));
    }
}
