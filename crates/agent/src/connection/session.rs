//! One WebSocket session: challenge, hello, welcome, then heartbeats, pings, scans, inventory
//! and jobs until the connection ends.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sysmanage_protocol::{
    AgentMessage, AgentSettings, Approval, Envelope, ErrorCode, ErrorReply, Heartbeat, Hello,
    HostInfo, HostInventory, MAX_FRAME_PAYLOAD, ServerMessage, Welcome, decode, frame_pieces,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{Bytes, Message};

use crate::config::Secret;
use crate::identity::Identity;
use crate::inventory::{self, INVENTORY_CHECK_INTERVAL, ResourceSampler};
use crate::jobs::JobRunner;
use crate::scanner::Scanner;

/// Interval of WebSocket pings, well below the 4-minute idle timeout of common load balancers.
pub const PING_INTERVAL: Duration = Duration::from_secs(30);
/// Time limit for the server's `Challenge` and `Welcome`.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection without any frame from the server for this many heartbeat intervals is dead.
pub const DEAD_AFTER_HEARTBEATS: u32 = 3;

/// Inputs of a session besides the socket.
pub struct SessionContext<'a> {
    pub identity: &'a Identity,
    pub host: HostInfo,
    pub enrollment_key: Option<Secret>,
    pub runner: &'a JobRunner,
    pub scanner: &'a Scanner,
    pub outbox: &'a mut mpsc::UnboundedReceiver<AgentMessage>,
}

/// Outcome of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEnd {
    /// The server sent `Welcome`, so the backoff starts over.
    pub welcomed: bool,
    /// The server rejected this host, so the next attempt waits longer.
    pub rejected: bool,
    pub reason: String,
}

impl SessionEnd {
    fn before_welcome(reason: impl Into<String>) -> Self {
        Self {
            welcomed: false,
            rejected: false,
            reason: reason.into(),
        }
    }

    fn after_welcome(reason: impl Into<String>) -> Self {
        Self {
            welcomed: true,
            rejected: false,
            reason: reason.into(),
        }
    }
}

/// Runs one session on an open WebSocket until it ends.
pub async fn run<S>(mut socket: WebSocketStream<S>, context: SessionContext<'_>) -> SessionEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let welcome = match handshake(&mut socket, &context).await {
        Ok(welcome) => welcome,
        Err(end) => {
            let _ = socket.close(None).await;
            return end;
        }
    };
    tracing::info!(
        host_id = welcome.host_id,
        approval = welcome.approval.as_str(),
        heartbeat_interval_secs = welcome.settings.heartbeat_interval_secs,
        "connected and welcomed by the server"
    );
    if welcome.approval == Approval::Rejected {
        let _ = socket.close(None).await;
        return SessionEnd {
            welcomed: true,
            rejected: true,
            reason: "the server rejected this host".to_owned(),
        };
    }
    let end = Session::new(socket, context, &welcome).run().await;
    SessionEnd {
        welcomed: true,
        ..end
    }
}

async fn handshake<S>(
    socket: &mut WebSocketStream<S>,
    context: &SessionContext<'_>,
) -> Result<Welcome, SessionEnd>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let nonce = match next_server_message(socket).await? {
        ServerMessage::Challenge {
            nonce,
            server_version,
        } => {
            tracing::debug!(%server_version, "received challenge");
            hex::decode(&nonce).map_err(|_| {
                SessionEnd::before_welcome(format!("challenge nonce {nonce:?} is not hex"))
            })?
        }
        other => return Err(unexpected(&other, "Challenge")),
    };

    let hello = AgentMessage::Hello(Hello {
        agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        public_key: context.identity.public_key_base64(),
        signature: context.identity.sign_challenge(&nonce),
        host: context.host.clone(),
        enrollment_key: context
            .enrollment_key
            .as_ref()
            .map(|key| key.expose().to_owned()),
    });
    send(socket, hello)
        .await
        .map_err(|error| SessionEnd::before_welcome(format!("failed to send hello: {error}")))?;

    match next_server_message(socket).await? {
        ServerMessage::Welcome(welcome) => Ok(welcome),
        ServerMessage::Error(reply) => Err(SessionEnd::before_welcome(format!(
            "the server rejected the hello ({:?}): {}",
            reply.code, reply.message
        ))),
        other => Err(unexpected(&other, "Welcome")),
    }
}

fn unexpected(message: &ServerMessage, expected: &str) -> SessionEnd {
    SessionEnd::before_welcome(format!(
        "expected {expected} from the server, received {message:?}"
    ))
}

/// Reads frames until a server message arrives, within [`HANDSHAKE_TIMEOUT`].
async fn next_server_message<S>(
    socket: &mut WebSocketStream<S>,
) -> Result<ServerMessage, SessionEnd>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    loop {
        let frame = tokio::time::timeout_at(deadline, socket.next())
            .await
            .map_err(|_| SessionEnd::before_welcome("the server did not answer in time"))?;
        match frame {
            None => {
                return Err(SessionEnd::before_welcome(
                    "the server closed the connection",
                ));
            }
            Some(Err(error)) => return Err(SessionEnd::before_welcome(error.to_string())),
            Some(Ok(Message::Text(text))) => {
                return decode::<ServerMessage>(&text)
                    .map(|envelope| envelope.payload)
                    .map_err(|error| {
                        SessionEnd::before_welcome(format!("invalid handshake message: {error}"))
                    });
            }
            Some(Ok(Message::Close(frame))) => {
                return Err(SessionEnd::before_welcome(format!(
                    "the server closed the connection: {frame:?}"
                )));
            }
            Some(Ok(_)) => {}
        }
    }
}

async fn send<S>(
    socket: &mut WebSocketStream<S>,
    message: AgentMessage,
) -> Result<(), tokio_tungstenite::tungstenite::Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let text = Envelope::new(message).to_json();
    if text.len() <= MAX_FRAME_PAYLOAD {
        return socket.send(Message::text(text)).await;
    }
    // A long message goes out as a text frame and continuation frames, see MAX_FRAME_PAYLOAD.
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
        if index == last {
            socket.send(Message::Frame(frame)).await?;
        } else {
            socket.feed(Message::Frame(frame)).await?;
        }
    }
    Ok(())
}

fn interval_after(period: Duration) -> Interval {
    let mut interval = tokio::time::interval_at(Instant::now() + period, period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval
}

/// State of a welcomed session.
struct Session<'a, S> {
    socket: WebSocketStream<S>,
    context: SessionContext<'a>,
    approval: Approval,
    settings: AgentSettings,
    /// `Welcome::update_statuses`: the update statuses the server accepts.
    update_statuses: Vec<String>,
    heartbeat: Interval,
    periodic_scan: Interval,
    inventory_check: Interval,
    /// Inventory last sent in this session, compared with each new collection.
    sent_inventory: Option<HostInventory>,
    resources: ResourceSampler,
    last_frame: Instant,
}

/// When [`Session::report_inventory`] sends the collected inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InventorySend {
    Always,
    IfChanged,
}

enum Control {
    Continue,
    End(SessionEnd),
}

impl<'a, S> Session<'a, S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn new(socket: WebSocketStream<S>, context: SessionContext<'a>, welcome: &Welcome) -> Self {
        let settings = sanitized(welcome.settings);
        Self {
            socket,
            context,
            approval: welcome.approval,
            update_statuses: welcome.update_statuses.clone(),
            heartbeat: interval_after(Duration::from_secs(settings.heartbeat_interval_secs)),
            periodic_scan: interval_after(Duration::from_secs(settings.update_check_interval_secs)),
            inventory_check: interval_after(INVENTORY_CHECK_INTERVAL),
            sent_inventory: None,
            resources: ResourceSampler::new(),
            settings,
            last_frame: Instant::now(),
        }
    }

    fn dead_after(&self) -> Duration {
        Duration::from_secs(self.settings.heartbeat_interval_secs) * DEAD_AFTER_HEARTBEATS
    }

    async fn run(mut self) -> SessionEnd {
        if let Err(end) = self.after_welcome().await {
            return end;
        }
        let mut ping = interval_after(PING_INTERVAL);
        loop {
            let dead_at = self.last_frame + self.dead_after();
            let control = tokio::select! {
                frame = self.socket.next() => self.on_frame(frame).await,
                _ = self.heartbeat.tick() => {
                    let heartbeat = Heartbeat { resources: Some(self.resources.sample()) };
                    self.send_or_end(AgentMessage::Heartbeat(heartbeat)).await
                }
                _ = ping.tick() => {
                    match self.socket.send(Message::Ping(Bytes::new())).await {
                        Ok(()) => Control::Continue,
                        Err(error) => Control::End(SessionEnd::after_welcome(format!("ping failed: {error}"))),
                    }
                }
                _ = self.periodic_scan.tick() => {
                    if self.approval == Approval::Approved {
                        self.context.scanner.request();
                    }
                    Control::Continue
                }
                _ = self.inventory_check.tick() => {
                    self.report_inventory(InventorySend::IfChanged).await
                }
                () = tokio::time::sleep_until(dead_at) => {
                    Control::End(SessionEnd::after_welcome(format!(
                        "no frame from the server for {} s; the connection is dead",
                        self.dead_after().as_secs()
                    )))
                }
                Some(message) = self.context.outbox.recv() => {
                    let message = restrict_statuses(message, &self.update_statuses);
                    self.send_or_end(message).await
                }
            };
            if let Control::End(end) = control {
                let _ = self.socket.close(None).await;
                return end;
            }
        }
    }

    async fn after_welcome(&mut self) -> Result<(), SessionEnd> {
        match self.context.runner.unacknowledged_results() {
            Ok(results) => {
                for result in results {
                    tracing::info!(
                        job_id = result.job_id,
                        "sending unacknowledged job result again"
                    );
                    if let Control::End(end) =
                        self.send_or_end(AgentMessage::JobResult(result)).await
                    {
                        return Err(end);
                    }
                }
            }
            Err(error) => tracing::error!(%error, "could not read the job journal"),
        }
        if let Control::End(end) = self.report_inventory(InventorySend::Always).await {
            return Err(end);
        }
        if self.approval == Approval::Approved {
            self.context.scanner.request();
        }
        Ok(())
    }

    /// Collects the inventory and sends it when the host is approved and `mode` allows. The
    /// server ignores inventory from hosts that are not approved, so nothing is sent for them.
    async fn report_inventory(&mut self, mode: InventorySend) -> Control {
        if self.approval != Approval::Approved {
            return Control::Continue;
        }
        let current = match tokio::task::spawn_blocking(inventory::collect).await {
            Ok(current) => current,
            Err(error) => {
                tracing::error!(%error, "inventory collection task failed");
                return Control::Continue;
            }
        };
        let changed = self
            .sent_inventory
            .as_ref()
            .is_none_or(|previous| inventory::inventory_changed(previous, &current));
        if mode == InventorySend::IfChanged && !changed {
            tracing::debug!("inventory unchanged");
            return Control::Continue;
        }
        tracing::info!(
            disks = current.disks.len(),
            network_interfaces = current.network_interfaces.len(),
            "sending the host inventory"
        );
        self.sent_inventory = Some(current.clone());
        self.send_or_end(AgentMessage::Inventory(current)).await
    }

    async fn send_or_end(&mut self, message: AgentMessage) -> Control {
        match send(&mut self.socket, message).await {
            Ok(()) => Control::Continue,
            Err(error) => Control::End(SessionEnd::after_welcome(format!("send failed: {error}"))),
        }
    }

    async fn on_frame(
        &mut self,
        frame: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> Control {
        let message = match frame {
            None => {
                return Control::End(SessionEnd::after_welcome(
                    "the server closed the connection",
                ));
            }
            Some(Err(error)) => {
                return Control::End(SessionEnd::after_welcome(format!(
                    "connection error: {error}"
                )));
            }
            Some(Ok(message)) => message,
        };
        self.last_frame = Instant::now();
        match message {
            Message::Text(text) => self.on_text(&text).await,
            Message::Binary(_) => {
                let reply = ErrorReply {
                    in_reply_to: None,
                    code: ErrorCode::MalformedMessage,
                    message: "binary frames are not part of the protocol".to_owned(),
                };
                self.send_or_end(AgentMessage::Error(reply)).await
            }
            Message::Close(frame) => Control::End(SessionEnd::after_welcome(format!(
                "the server closed the connection: {frame:?}"
            ))),
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Control::Continue,
        }
    }

    async fn on_text(&mut self, text: &str) -> Control {
        let envelope = match decode::<ServerMessage>(text) {
            Ok(envelope) => envelope,
            Err(error) => {
                tracing::warn!(%error, "could not decode a server message");
                let reply = ErrorReply {
                    in_reply_to: error.message_id(),
                    code: error.code(),
                    message: error.to_string(),
                };
                return self.send_or_end(AgentMessage::Error(reply)).await;
            }
        };
        let id = envelope.id;
        match envelope.payload {
            ServerMessage::Ack { of } => {
                tracing::trace!(%of, "server acknowledged a message");
                Control::Continue
            }
            ServerMessage::ApprovalChanged { approval } => self.on_approval(approval).await,
            ServerMessage::Settings(settings) => self.on_settings(settings, id).await,
            ServerMessage::RefreshUpdates => {
                tracing::info!("server requested an update scan");
                self.context.scanner.request();
                Control::Continue
            }
            ServerMessage::InstallJob(job) => {
                let job_id = job.job_id;
                match self.context.runner.submit(job) {
                    Ok(Some(message)) => self.send_or_end(message).await,
                    Ok(None) => Control::Continue,
                    Err(error) => {
                        tracing::error!(job_id, %error, "could not admit the install job");
                        let reply = ErrorReply {
                            in_reply_to: Some(id),
                            code: ErrorCode::Internal,
                            message: format!("job {job_id}: {error}"),
                        };
                        self.send_or_end(AgentMessage::Error(reply)).await
                    }
                }
            }
            ServerMessage::JobResultAck { job_id } => {
                match self.context.runner.acknowledge(job_id) {
                    Ok(()) => tracing::info!(job_id, "server stored the job result"),
                    Err(error) => {
                        tracing::error!(job_id, %error, "could not record the acknowledgement");
                    }
                }
                Control::Continue
            }
            ServerMessage::Error(reply) => {
                tracing::warn!(code = ?reply.code, in_reply_to = ?reply.in_reply_to, message = %reply.message, "server reported an error");
                Control::Continue
            }
            ServerMessage::Challenge { .. } | ServerMessage::Welcome(_) => {
                let reply = ErrorReply {
                    in_reply_to: Some(id),
                    code: ErrorCode::UnexpectedMessage,
                    message: "the handshake is already done".to_owned(),
                };
                self.send_or_end(AgentMessage::Error(reply)).await
            }
        }
    }

    async fn on_approval(&mut self, approval: Approval) -> Control {
        tracing::info!(approval = approval.as_str(), "approval changed");
        let was_approved = self.approval == Approval::Approved;
        self.approval = approval;
        match approval {
            Approval::Rejected => Control::End(SessionEnd {
                welcomed: true,
                rejected: true,
                reason: "the server rejected this host".to_owned(),
            }),
            Approval::Approved if !was_approved => {
                self.context.scanner.request();
                self.report_inventory(InventorySend::Always).await
            }
            Approval::Approved | Approval::Pending => Control::Continue,
        }
    }

    async fn on_settings(&mut self, settings: AgentSettings, id: uuid::Uuid) -> Control {
        if settings.heartbeat_interval_secs == 0 || settings.update_check_interval_secs == 0 {
            let reply = ErrorReply {
                in_reply_to: Some(id),
                code: ErrorCode::InvalidRequest,
                message:
                    "heartbeat_interval_secs and update_check_interval_secs must be at least 1"
                        .to_owned(),
            };
            return self.send_or_end(AgentMessage::Error(reply)).await;
        }
        tracing::info!(
            heartbeat_interval_secs = settings.heartbeat_interval_secs,
            update_check_interval_secs = settings.update_check_interval_secs,
            "settings changed"
        );
        if settings.heartbeat_interval_secs != self.settings.heartbeat_interval_secs {
            self.heartbeat = interval_after(Duration::from_secs(settings.heartbeat_interval_secs));
        }
        if settings.update_check_interval_secs != self.settings.update_check_interval_secs {
            self.periodic_scan =
                interval_after(Duration::from_secs(settings.update_check_interval_secs));
        }
        self.settings = settings;
        Control::Continue
    }
}

/// Replaces the update statuses of a report that the server does not accept (`accepted` is
/// `Welcome::update_statuses`), so that an older server stores the report instead of rejecting
/// it as malformed. Other messages pass unchanged.
fn restrict_statuses(message: AgentMessage, accepted: &[String]) -> AgentMessage {
    match message {
        AgentMessage::UpdateReport(mut report) => {
            report.restrict_statuses(accepted);
            AgentMessage::UpdateReport(report)
        }
        other => other,
    }
}

/// Replaces zero intervals, which would make a timer spin, with one second.
fn sanitized(settings: AgentSettings) -> AgentSettings {
    AgentSettings {
        heartbeat_interval_secs: settings.heartbeat_interval_secs.max(1),
        update_check_interval_secs: settings.update_check_interval_secs.max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sysmanage_protocol::{ManagerScan, ScanOutcome, UpdateInfo, UpdateReport, UpdateStatus};
    use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

    /// A report of `count` updates, about 200 bytes of JSON each.
    fn report(count: usize) -> AgentMessage {
        let updates = (0..count)
            .map(|index| UpdateInfo {
                manager: "apt".into(),
                name: format!("package-{index}-\u{e9}"),
                architecture: Some("amd64".into()),
                current_version: Some("1.0-1".into()),
                new_version: "1.0-2".into(),
                origin: Some("Debian-Security:12/stable-security".into()),
                security: true,
                status: UpdateStatus::Available,
            })
            .collect();
        AgentMessage::UpdateReport(UpdateReport {
            managers: vec![ManagerScan {
                manager: "apt".into(),
                outcome: ScanOutcome::Ok { updates },
            }],
            reboot_required: false,
        })
    }

    #[tokio::test]
    async fn long_message_sent_in_small_frames() {
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let mut client = WebSocketStream::from_raw_socket(client_io, Role::Client, None).await;
        // The receiving side rejects any frame longer than MAX_FRAME_PAYLOAD.
        let config = WebSocketConfig::default().max_frame_size(Some(MAX_FRAME_PAYLOAD));
        let mut server =
            WebSocketStream::from_raw_socket(server_io, Role::Server, Some(config)).await;

        let message = report(200);
        let sender = tokio::spawn(async move { send(&mut client, message).await.map(|()| client) });
        let received = server.next().await.unwrap().unwrap();
        let Message::Text(text) = received else {
            panic!("expected one text message, got {received:?}");
        };
        assert!(text.len() > 20 * MAX_FRAME_PAYLOAD, "{} bytes", text.len());
        let envelope = decode::<AgentMessage>(&text).unwrap();
        assert_eq!(envelope.payload, report(200));
        assert!(sender.await.unwrap().is_ok());
    }

    #[test]
    fn kept_back_sent_as_deferred_to_older_server() {
        let report_with_status = |status| {
            let AgentMessage::UpdateReport(mut report) = report(1) else {
                unreachable!("report() builds an update report");
            };
            let ScanOutcome::Ok { updates } = &mut report.managers[0].outcome else {
                unreachable!("report() builds a successful scan");
            };
            updates[0].status = status;
            AgentMessage::UpdateReport(report)
        };
        assert_eq!(
            restrict_statuses(report_with_status(UpdateStatus::KeptBack), &[]),
            report_with_status(UpdateStatus::Deferred)
        );
        let accepted = vec!["available".to_owned(), "kept_back".to_owned()];
        assert_eq!(
            restrict_statuses(report_with_status(UpdateStatus::KeptBack), &accepted),
            report_with_status(UpdateStatus::KeptBack)
        );
    }

    #[tokio::test]
    async fn short_message_sent_in_one_frame() {
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let mut client = WebSocketStream::from_raw_socket(client_io, Role::Client, None).await;
        let mut server = WebSocketStream::from_raw_socket(server_io, Role::Server, None).await;
        send(&mut client, report(1)).await.unwrap();
        let Some(Ok(Message::Text(text))) = server.next().await else {
            panic!("expected a text message");
        };
        assert_eq!(decode::<AgentMessage>(&text).unwrap().payload, report(1));
    }
}
