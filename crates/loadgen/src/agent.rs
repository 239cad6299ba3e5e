//! One simulated agent: connects, proves its key, heartbeats, reports its inventory and updates
//! while approved, runs simulated install jobs, and reconnects with backoff until the run stops
//! it. It follows approval changes as the real agent does: a host that becomes approved
//! sends its inventory and update report at once, and a rejected host closes its connection.
//!
//! An agent is one tokio task with a few hundred bytes of state plus its WebSocket, whose buffers
//! are kept small (see [`websocket_config`]), so one process can hold thousands of them.

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sysmanage_protocol::{
    AgentMessage, Approval, Envelope, ErrorCode, Heartbeat, Hello, InstallJob, InstallRequest,
    JobResult, MAX_FRAME_PAYLOAD, MessageId, NONCE_LEN, ServerMessage, Welcome, frame_pieces,
};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{Bytes, Error as WsError, Message};

use crate::config::{ChurnMode, Settings};
use crate::fatal::FatalError;
use crate::identity::AgentIdentity;
use crate::inventory::simulated_inventory;
use crate::report::SimulatedUpdates;
use crate::stats::{ConnectedGuard, Stats};

/// Agent version sent in `Hello`, marked so that the server's host list shows simulated hosts.
pub const AGENT_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "-loadgen");

/// Heartbeats kept waiting for an Ack; older ones are counted as unacknowledged.
const MAX_PENDING_HEARTBEATS: usize = 8;

/// Seconds after which an unacknowledged job result is sent again.
const RESULT_RESEND_INTERVAL: Duration = Duration::from_secs(30);

/// Acknowledged job ids remembered to detect a job the server delivers again after its Ack.
const REMEMBERED_ACKED_JOBS: usize = 16;

/// Seconds a finishing agent waits for the close handshake.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Instruction from the run to its agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Stay connected, reconnecting when the connection is lost.
    Running,
    /// Disconnect in this way and wait for the next phase.
    Stopped(ChurnMode),
    /// Close the connection and end the task.
    Finished,
}

/// Settings and statistics shared by every agent of a run.
#[derive(Debug)]
pub struct AgentContext {
    pub settings: Settings,
    pub stats: Arc<Stats>,
    /// The first error that must stop the run. An agent that meets one sets it, if unset, and
    /// ends. The run watches it and stops the other agents.
    pub fatal: watch::Sender<Option<FatalError>>,
}

/// Returns the WebSocket settings of a simulated agent: a 4 KiB read buffer instead of the
/// default 128 KiB, no write buffering, and 1 MiB message limits.
pub fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(Some(1024 * 1024))
        .max_frame_size(Some(1024 * 1024))
}

/// Reason a connection ended or could not be set up.
#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error("TCP connect failed: {0}")]
    Connect(std::io::Error),
    #[error("WebSocket upgrade failed: {0}")]
    Upgrade(WsError),
    #[error("handshake timed out")]
    HandshakeTimeout,
    #[error("connection failed: {0}")]
    Connection(WsError),
    #[error("server closed the connection")]
    Closed,
    #[error("invalid server message: {0}")]
    Malformed(sysmanage_protocol::DecodeError),
    #[error("unexpected {0} message during the handshake")]
    Unexpected(&'static str),
    #[error("invalid challenge nonce: expected {NONCE_LEN} bytes of hex")]
    InvalidNonce,
    #[error("server rejected the Hello with {code}: {message}")]
    Rejected { code: String, message: String },
}

impl SessionError {
    /// Returns the error kind under which the statistics count this error.
    fn kind(&self) -> String {
        match self {
            Self::Connect(_) => "connect_failed".to_owned(),
            Self::Upgrade(_) => "upgrade_failed".to_owned(),
            Self::HandshakeTimeout => "handshake_timeout".to_owned(),
            Self::Connection(_) => "connection_error".to_owned(),
            Self::Closed => "closed_by_server".to_owned(),
            Self::Malformed(_) => "malformed_message".to_owned(),
            Self::Unexpected(_) => "unexpected_message".to_owned(),
            Self::InvalidNonce => "invalid_nonce".to_owned(),
            Self::Rejected { code, .. } => format!("hello_rejected.{code}"),
        }
    }
}

/// Returns the `snake_case` name of an error code, as it appears on the wire.
fn error_code_name(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{code:?}"))
}

/// Outcome of one connection.
enum SessionEnd {
    /// The run changed the phase; the caller reads the new one.
    PhaseChanged,
    /// The connection failed or was closed; `welcomed` is true when the handshake had
    /// completed, which resets the reconnect backoff.
    Lost { welcomed: bool },
    /// The agent closed the connection because the server rejected its host.
    Rejected,
    /// The agent stopped after an error that a retry cannot fix, stored in
    /// [`AgentContext::fatal`].
    Fatal,
}

/// State of one connection: the host's approval and the messages that wait for the server's
/// Ack.
struct ConnectionState {
    approval: Approval,
    heartbeats: VecDeque<(MessageId, Instant)>,
    reports: VecDeque<MessageId>,
    inventories: VecDeque<MessageId>,
}

impl ConnectionState {
    fn new(approval: Approval) -> Self {
        Self {
            approval,
            heartbeats: VecDeque::new(),
            reports: VecDeque::new(),
            inventories: VecDeque::new(),
        }
    }
}

/// Adds `id` to a list of messages waiting for an Ack, dropping the oldest beyond
/// [`MAX_PENDING_HEARTBEATS`].
fn push_pending(pending: &mut VecDeque<MessageId>, id: MessageId) {
    pending.push_back(id);
    if pending.len() > MAX_PENDING_HEARTBEATS {
        pending.pop_front();
    }
}

/// State of one install job that the server has not acknowledged yet.
enum JobState {
    Running {
        request: InstallRequest,
        finish_at: Instant,
    },
    Finished {
        result: JobResult,
        sent_at: Instant,
    },
}

type AgentSocket = WebSocketStream<TcpStream>;

/// One simulated agent and what it keeps across connections.
struct SimulatedAgent {
    context: Arc<AgentContext>,
    identity: AgentIdentity,
    source_address: Option<IpAddr>,
    updates: SimulatedUpdates,
    jobs: BTreeMap<i64, JobState>,
    acked_jobs: VecDeque<i64>,
    rng: SmallRng,
}

/// Runs agent `index` until its phase becomes [`Phase::Finished`] or the run drops the sender.
///
/// `position` is the agent's place in this process and picks its source address.
pub async fn run_agent(
    context: Arc<AgentContext>,
    index: u32,
    position: usize,
    mut phase: watch::Receiver<Phase>,
) {
    let settings = &context.settings;
    let source_address = if settings.source_addresses.is_empty() {
        None
    } else {
        settings
            .source_addresses
            .get(position % settings.source_addresses.len())
            .copied()
    };
    let mut agent = SimulatedAgent {
        identity: AgentIdentity::derive(&settings.seed, index),
        source_address,
        updates: SimulatedUpdates::new(index, settings.updates_per_host),
        jobs: BTreeMap::new(),
        acked_jobs: VecDeque::new(),
        rng: SmallRng::seed_from_u64(u64::from(index)),
        context: Arc::clone(&context),
    };
    agent.run(&mut phase).await;
}

impl SimulatedAgent {
    fn stats(&self) -> &Stats {
        &self.context.stats
    }

    async fn run(&mut self, phase: &mut watch::Receiver<Phase>) {
        let reconnect_min = self.context.settings.reconnect_min;
        let reconnect_max = self.context.settings.reconnect_max;
        let mut backoff = reconnect_min;
        let mut attempts: u64 = 0;

        loop {
            if phase.has_changed().is_err() {
                return;
            }
            let current = *phase.borrow_and_update();
            match current {
                Phase::Finished => return,
                Phase::Stopped(_) => {
                    if phase.changed().await.is_err() {
                        return;
                    }
                    backoff = reconnect_min;
                    continue;
                }
                Phase::Running => {}
            }

            if attempts > 0 {
                Stats::increment(&self.stats().counters.reconnects);
            }
            attempts += 1;
            match self.connect_and_serve(phase).await {
                SessionEnd::PhaseChanged => {}
                SessionEnd::Fatal => return,
                SessionEnd::Lost { welcomed } => {
                    if welcomed {
                        backoff = reconnect_min;
                    }
                    // Full jitter between half and all of the backoff spreads a reconnect wave.
                    let delay = backoff.mul_f64(self.rng.random_range(0.5..=1.0));
                    backoff = (backoff * 2).min(reconnect_max);
                    tokio::select! {
                        () = sleep(delay) => {}
                        _ = phase.changed() => {}
                    }
                }
                SessionEnd::Rejected => {
                    // The real agent waits 10 minutes after a rejection; the load generator waits
                    // its longest backoff, so that short runs still see the reconnect.
                    let delay = reconnect_max.mul_f64(self.rng.random_range(0.5..=1.0));
                    backoff = reconnect_max;
                    tokio::select! {
                        () = sleep(delay) => {}
                        _ = phase.changed() => {}
                    }
                }
            }
        }
    }

    /// Connects, runs the handshake and serves the connection until it ends.
    async fn connect_and_serve(&mut self, phase: &mut watch::Receiver<Phase>) -> SessionEnd {
        Stats::increment(&self.stats().counters.connect_attempts);
        let handshake_timeout = self.context.settings.handshake_timeout;
        let handshake = tokio::select! {
            result = timeout(handshake_timeout, self.handshake()) => {
                result.unwrap_or(Err(SessionError::HandshakeTimeout))
            }
            _ = phase.changed() => return SessionEnd::PhaseChanged,
        };
        let (socket, welcome) = match handshake {
            Ok(pair) => pair,
            Err(error) => {
                self.record_error(&error);
                if let Some(fatal) = self.fatal_error(&error) {
                    self.context.fatal.send_if_modified(|current| {
                        let first = current.is_none();
                        if first {
                            *current = Some(fatal);
                        }
                        first
                    });
                    return SessionEnd::Fatal;
                }
                return SessionEnd::Lost { welcomed: false };
            }
        };

        let counters = &self.context.stats.counters;
        Stats::increment(&counters.welcomes);
        Stats::record_time(&counters.last_welcome_ms, false);
        if welcome.approval != Approval::Approved {
            Stats::increment(&counters.welcomes_not_approved);
        }
        if welcome.approval == Approval::Rejected {
            // As the real agent does, a rejected host does not stay connected.
            Stats::increment(&counters.rejected_closes);
            let mut socket = socket;
            let _ = timeout(CLOSE_TIMEOUT, socket.close(None)).await;
            return SessionEnd::Rejected;
        }
        let context = Arc::clone(&self.context);
        let _connected = ConnectedGuard::new(&context.stats.counters.connected);
        match self.serve(socket, &welcome, phase).await {
            Ok(end) => end,
            Err(error) => {
                self.record_error(&error);
                SessionEnd::Lost { welcomed: true }
            }
        }
    }

    /// Returns the run-stopping error for an HTTP response to the upgrade that no retry can
    /// change, such as 404 for a wrong path. Other errors are retried with backoff.
    fn fatal_error(&self, error: &SessionError) -> Option<FatalError> {
        let SessionError::Upgrade(WsError::Http(response)) = error else {
            return None;
        };
        FatalError::from_upgrade_status(&self.context.settings.connect_url, response.status())
    }

    fn record_error(&self, error: &SessionError) {
        // Thousands of agents fail together when the server goes away, so only the first error
        // of each kind is a warning. The progress lines contain the counts.
        let kind = error.kind();
        if self.stats().record_error(&kind) {
            tracing::warn!(agent = self.identity.index(), %error, kind, "first error of this kind");
        } else {
            tracing::debug!(agent = self.identity.index(), %error, "agent connection failed");
        }
    }

    async fn handshake(&self) -> Result<(AgentSocket, Welcome), SessionError> {
        let settings = &self.context.settings;
        let stream = connect_tcp(settings.server_address, self.source_address)
            .await
            .map_err(SessionError::Connect)?;
        let (mut socket, _response) = tokio_tungstenite::client_async_with_config(
            settings.connect_url.as_str(),
            stream,
            Some(websocket_config()),
        )
        .await
        .map_err(SessionError::Upgrade)?;

        let nonce = match receive(&mut socket).await?.payload {
            ServerMessage::Challenge { nonce, .. } => {
                hex::decode(nonce).map_err(|_| SessionError::InvalidNonce)?
            }
            _ => return Err(SessionError::Unexpected("non-Challenge")),
        };
        if nonce.len() != NONCE_LEN {
            return Err(SessionError::InvalidNonce);
        }

        let hello = Hello {
            agent_version: AGENT_VERSION.to_owned(),
            public_key: self.identity.public_key_base64(),
            signature: self.identity.sign_challenge(&nonce),
            host: self.identity.host_info(),
            enrollment_key: settings.enrollment_key.clone(),
        };
        send(&mut socket, AgentMessage::Hello(hello)).await?;

        match receive(&mut socket).await?.payload {
            ServerMessage::Welcome(welcome) => Ok((socket, welcome)),
            ServerMessage::Error(reply) => Err(SessionError::Rejected {
                code: error_code_name(reply.code),
                message: reply.message,
            }),
            _ => Err(SessionError::Unexpected("non-Welcome")),
        }
    }

    /// Serves an established connection: job results left from earlier connections, inventory
    /// and update report when approved, heartbeats, server messages and job timers.
    async fn serve(
        &mut self,
        mut socket: AgentSocket,
        welcome: &Welcome,
        phase: &mut watch::Receiver<Phase>,
    ) -> Result<SessionEnd, SessionError> {
        let mut interval = self
            .context
            .settings
            .heartbeat_interval
            .unwrap_or(Duration::from_secs(
                welcome.settings.heartbeat_interval_secs.max(1),
            ));
        let mut connection = ConnectionState::new(welcome.approval);

        // The same order as the real agent: unacknowledged results first, which the server
        // stores whatever the approval, then inventory and updates, which it takes only from
        // approved hosts.
        self.finish_due_jobs(&mut socket, &mut connection, true)
            .await?;
        if connection.approval == Approval::Approved {
            self.send_inventory(&mut socket, &mut connection).await?;
            self.send_report(&mut socket, &mut connection).await?;
        }

        // The first heartbeat comes at a random point of the first interval, so that agents
        // reconnecting together do not heartbeat together.
        let mut next_heartbeat = Instant::now() + interval.mul_f64(self.rng.random::<f64>());

        loop {
            let job_deadline = self.next_job_deadline();
            tokio::select! {
                () = sleep_until(next_heartbeat) => {
                    let envelope = Envelope::new(AgentMessage::Heartbeat(Heartbeat::default()));
                    let id = envelope.id;
                    send_envelope(&mut socket, &envelope).await?;
                    Stats::increment(&self.stats().counters.heartbeats_sent);
                    connection.heartbeats.push_back((id, Instant::now()));
                    if connection.heartbeats.len() > MAX_PENDING_HEARTBEATS {
                        connection.heartbeats.pop_front();
                        Stats::increment(&self.stats().counters.heartbeats_unacked);
                    }
                    next_heartbeat += self.jittered(interval);
                    let now = Instant::now();
                    if next_heartbeat < now {
                        next_heartbeat = now + self.jittered(interval);
                    }
                }
                () = sleep_until_option(job_deadline) => {
                    self.finish_due_jobs(&mut socket, &mut connection, false).await?;
                }
                message = socket.next() => {
                    let text = match message {
                        None | Some(Ok(Message::Close(_))) => return Err(SessionError::Closed),
                        Some(Err(error)) => return Err(SessionError::Connection(error)),
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(_)) => continue,
                    };
                    match sysmanage_protocol::decode::<ServerMessage>(text.as_str()) {
                        Ok(envelope) => {
                            if let ServerMessage::Settings(settings) = &envelope.payload
                                && self.context.settings.heartbeat_interval.is_none()
                            {
                                interval =
                                    Duration::from_secs(settings.heartbeat_interval_secs.max(1));
                            }
                            if let ServerMessage::ApprovalChanged { approval } = envelope.payload {
                                let rejected = self
                                    .change_approval(&mut socket, &mut connection, approval)
                                    .await?;
                                if rejected {
                                    self.count_unacked(&connection.heartbeats);
                                    Stats::increment(&self.stats().counters.rejected_closes);
                                    let _ = timeout(CLOSE_TIMEOUT, socket.close(None)).await;
                                    return Ok(SessionEnd::Rejected);
                                }
                                continue;
                            }
                            self.handle_message(&mut socket, envelope.payload, &mut connection)
                                .await?;
                        }
                        Err(error) => {
                            self.record_error(&SessionError::Malformed(error));
                        }
                    }
                }
                _ = phase.changed() => {
                    let current = *phase.borrow();
                    self.count_unacked(&connection.heartbeats);
                    return Ok(self.leave(socket, current, phase).await);
                }
            }
        }
    }

    /// Applies an `ApprovalChanged` message as the real agent does. A host that becomes approved
    /// sends its inventory and update report at once. Returns true when the server rejected the
    /// host, so that the caller closes the connection.
    async fn change_approval(
        &mut self,
        socket: &mut AgentSocket,
        connection: &mut ConnectionState,
        approval: Approval,
    ) -> Result<bool, SessionError> {
        Stats::increment(&self.stats().counters.approval_changes);
        tracing::debug!(
            agent = self.identity.index(),
            approval = approval.as_str(),
            "approval changed"
        );
        let was_approved = connection.approval == Approval::Approved;
        connection.approval = approval;
        match approval {
            Approval::Rejected => Ok(true),
            Approval::Approved if !was_approved => {
                self.send_inventory(socket, connection).await?;
                self.send_report(socket, connection).await?;
                Ok(false)
            }
            Approval::Approved | Approval::Pending => Ok(false),
        }
    }

    fn count_unacked(&self, pending_heartbeats: &VecDeque<(MessageId, Instant)>) {
        self.stats().counters.heartbeats_unacked.fetch_add(
            pending_heartbeats.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Leaves a connection the way the new phase requests.
    async fn leave(
        &mut self,
        mut socket: AgentSocket,
        current: Phase,
        phase: &mut watch::Receiver<Phase>,
    ) -> SessionEnd {
        match current {
            Phase::Running => {
                // A change back to running while connected could keep the connection, but closing
                // and reconnecting is simpler and the server sees a normal close.
                let _ = timeout(CLOSE_TIMEOUT, socket.close(None)).await;
            }
            Phase::Finished => {
                let _ = timeout(CLOSE_TIMEOUT, socket.close(None)).await;
            }
            Phase::Stopped(ChurnMode::Close) => drop(socket),
            Phase::Stopped(ChurnMode::Silent) => {
                // Hold the socket without reading or writing until the next phase, as a host
                // whose network vanished. The kernel still acknowledges TCP segments.
                let _ = phase.changed().await;
                drop(socket);
            }
        }
        SessionEnd::PhaseChanged
    }

    async fn handle_message(
        &mut self,
        socket: &mut AgentSocket,
        message: ServerMessage,
        connection: &mut ConnectionState,
    ) -> Result<(), SessionError> {
        let counters = &self.context.stats.counters;
        match message {
            ServerMessage::Ack { of } => {
                if let Some(position) = connection.heartbeats.iter().position(|(id, _)| *id == of) {
                    if let Some((_, sent_at)) = connection.heartbeats.remove(position) {
                        self.stats().record_ack_latency(sent_at.elapsed());
                    }
                } else if let Some(position) = connection.reports.iter().position(|id| *id == of) {
                    connection.reports.remove(position);
                    Stats::increment(&counters.reports_acked);
                } else if let Some(position) =
                    connection.inventories.iter().position(|id| *id == of)
                {
                    connection.inventories.remove(position);
                    Stats::increment(&counters.inventories_acked);
                } else {
                    let _ = self.stats().record_error("ack_for_unknown_message");
                }
            }
            ServerMessage::InstallJob(job) => self.receive_job(socket, job).await?,
            ServerMessage::JobResultAck { job_id } => {
                if let Some(JobState::Finished { .. }) = self.jobs.get(&job_id) {
                    self.jobs.remove(&job_id);
                    Stats::increment(&counters.job_results_acked);
                    Stats::record_time(&counters.last_result_acked_ms, false);
                    self.acked_jobs.push_back(job_id);
                    if self.acked_jobs.len() > REMEMBERED_ACKED_JOBS {
                        self.acked_jobs.pop_front();
                    }
                } else if self.acked_jobs.contains(&job_id) {
                    // A result sent twice (after a reconnect, and again when the server
                    // delivered the job once more) is acknowledged twice.
                    Stats::increment(&counters.job_results_acked_again);
                } else {
                    let _ = self.stats().record_error("job_result_ack_for_unknown_job");
                }
            }
            ServerMessage::RefreshUpdates => {
                Stats::increment(&counters.refresh_requests);
                self.send_report(socket, connection).await?;
            }
            ServerMessage::Error(reply) => {
                let kind = format!("server_error.{}", error_code_name(reply.code));
                if self.stats().record_error(&kind) {
                    tracing::warn!(
                        agent = self.identity.index(),
                        code = kind,
                        message = reply.message,
                        "first server error of this kind"
                    );
                }
            }
            // The caller applies settings and approval changes.
            ServerMessage::Settings(_) | ServerMessage::ApprovalChanged { .. } => {}
            ServerMessage::Challenge { .. } | ServerMessage::Welcome(_) => {
                let _ = self.stats().record_error("unexpected_message");
            }
        }
        Ok(())
    }

    async fn receive_job(
        &mut self,
        socket: &mut AgentSocket,
        job: InstallJob,
    ) -> Result<(), SessionError> {
        let counters = &self.context.stats.counters;
        let job_id = job.job_id;
        if self.acked_jobs.contains(&job_id) {
            Stats::increment(&counters.jobs_redelivered);
            Stats::increment(&counters.jobs_redelivered_after_ack);
            tracing::warn!(
                agent = self.identity.index(),
                job_id,
                "server sent an install job again after acknowledging its result"
            );
            return Ok(());
        }
        match self.jobs.get_mut(&job_id) {
            Some(JobState::Running { .. }) => {
                Stats::increment(&counters.jobs_redelivered);
                send(socket, AgentMessage::JobStarted { job_id }).await?;
                Stats::increment(&counters.jobs_started_sent);
            }
            Some(JobState::Finished { result, sent_at }) => {
                Stats::increment(&counters.jobs_redelivered);
                send(socket, AgentMessage::JobResult(result.clone())).await?;
                *sent_at = Instant::now();
                Stats::increment(&counters.job_results_sent);
            }
            None => {
                Stats::increment(&counters.jobs_received);
                Stats::record_time(&counters.first_job_received_ms, true);
                Stats::record_time(&counters.last_job_received_ms, false);
                send(socket, AgentMessage::JobStarted { job_id }).await?;
                Stats::increment(&counters.jobs_started_sent);
                self.jobs.insert(
                    job_id,
                    JobState::Running {
                        request: job.request,
                        finish_at: Instant::now() + self.context.settings.job_delay,
                    },
                );
            }
        }
        Ok(())
    }

    fn next_job_deadline(&self) -> Option<Instant> {
        self.jobs
            .values()
            .map(|job| match job {
                JobState::Running { finish_at, .. } => *finish_at,
                JobState::Finished { sent_at, .. } => *sent_at + RESULT_RESEND_INTERVAL,
            })
            .min()
    }

    /// Sends the result of every job whose simulated run is over, and the update report that
    /// follows an install on an approved host. Results not yet acknowledged are sent again after
    /// [`RESULT_RESEND_INTERVAL`], or at once when `resend_all` is set after a reconnect.
    async fn finish_due_jobs(
        &mut self,
        socket: &mut AgentSocket,
        connection: &mut ConnectionState,
        resend_all: bool,
    ) -> Result<(), SessionError> {
        let now = Instant::now();
        let mut installed = false;
        let reboot_policy = self.context.settings.reboot_after_install;
        for (job_id, job) in &mut self.jobs {
            let result = match job {
                JobState::Running { request, finish_at } if *finish_at <= now => {
                    installed = true;
                    let result =
                        self.updates
                            .install(*job_id, request, reboot_policy, &mut self.rng);
                    if result.reboot_required {
                        Stats::increment(&self.context.stats.counters.job_results_reboot_required);
                    }
                    result
                }
                JobState::Finished { result, sent_at }
                    if resend_all || *sent_at + RESULT_RESEND_INTERVAL <= now =>
                {
                    result.clone()
                }
                _ => continue,
            };
            send(socket, AgentMessage::JobResult(result.clone())).await?;
            Stats::increment(&self.context.stats.counters.job_results_sent);
            *job = JobState::Finished {
                result,
                sent_at: now,
            };
        }
        // The real agent scans after every job, so the server learns the new update list and
        // the reboot flag. The server ignores reports from hosts that are not approved.
        if installed && connection.approval == Approval::Approved {
            self.send_report(socket, connection).await?;
        }
        Ok(())
    }

    async fn send_report(
        &self,
        socket: &mut AgentSocket,
        connection: &mut ConnectionState,
    ) -> Result<(), SessionError> {
        let envelope = Envelope::new(AgentMessage::UpdateReport(self.updates.report()));
        send_envelope(socket, &envelope).await?;
        Stats::increment(&self.stats().counters.reports_sent);
        push_pending(&mut connection.reports, envelope.id);
        Ok(())
    }

    async fn send_inventory(
        &self,
        socket: &mut AgentSocket,
        connection: &mut ConnectionState,
    ) -> Result<(), SessionError> {
        let inventory = simulated_inventory(self.identity.index(), &self.identity.host_info());
        let envelope = Envelope::new(AgentMessage::Inventory(inventory));
        send_envelope(socket, &envelope).await?;
        Stats::increment(&self.stats().counters.inventories_sent);
        push_pending(&mut connection.inventories, envelope.id);
        Ok(())
    }

    fn jittered(&mut self, interval: Duration) -> Duration {
        let jitter = self.context.settings.heartbeat_jitter;
        if jitter == 0.0 {
            return interval;
        }
        interval.mul_f64(1.0 + self.rng.random_range(-jitter..=jitter))
    }
}

/// Opens a TCP connection to `server`, from `source` when given, so that connections spread
/// over several loopback addresses and their ephemeral ports.
pub async fn connect_tcp(server: SocketAddr, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let socket = if server.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(source) = source {
        socket.bind(SocketAddr::new(source, 0))?;
    }
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

async fn sleep_until_option(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

async fn send(socket: &mut AgentSocket, message: AgentMessage) -> Result<(), SessionError> {
    send_envelope(socket, &Envelope::new(message)).await
}

async fn send_envelope(
    socket: &mut AgentSocket,
    envelope: &Envelope<AgentMessage>,
) -> Result<(), SessionError> {
    let text = envelope.to_json();
    if text.len() <= MAX_FRAME_PAYLOAD {
        return socket
            .send(Message::text(text))
            .await
            .map_err(SessionError::Connection);
    }
    // Long messages go out in frames of at most MAX_FRAME_PAYLOAD bytes, as the real agent sends
    // them, so that the server's per-connection read buffers stay as small as with real agents.
    let pieces = frame_pieces(&text, MAX_FRAME_PAYLOAD);
    let last = pieces.len() - 1;
    for (index, piece) in pieces.into_iter().enumerate() {
        let opcode = if index == 0 {
            OpCode::Data(Data::Text)
        } else {
            OpCode::Data(Data::Continue)
        };
        let frame = Frame::message(
            Bytes::copy_from_slice(piece.as_bytes()),
            opcode,
            index == last,
        );
        let sent = if index == last {
            socket.send(Message::Frame(frame)).await
        } else {
            socket.feed(Message::Frame(frame)).await
        };
        sent.map_err(SessionError::Connection)?;
    }
    Ok(())
}

/// Reads the next server message during the handshake, skipping control frames.
async fn receive(socket: &mut AgentSocket) -> Result<Envelope<ServerMessage>, SessionError> {
    loop {
        match socket.next().await {
            None | Some(Ok(Message::Close(_))) => return Err(SessionError::Closed),
            Some(Err(error)) => return Err(SessionError::Connection(error)),
            Some(Ok(Message::Text(text))) => {
                return sysmanage_protocol::decode(text.as_str()).map_err(SessionError::Malformed);
            }
            Some(Ok(_)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_code_names_match_wire_format() {
        assert_eq!(error_code_name(ErrorCode::NotApproved), "not_approved");
        assert_eq!(
            error_code_name(ErrorCode::AuthenticationFailed),
            "authentication_failed"
        );
    }

    #[test]
    fn websocket_buffers_are_small() {
        let config = websocket_config();
        assert_eq!(config.read_buffer_size, 4 * 1024);
        assert_eq!(config.write_buffer_size, 0);
        assert_eq!(config.max_message_size, Some(1024 * 1024));
    }
}
