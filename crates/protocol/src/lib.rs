//! Messages exchanged between the SysManage agent and server over the agent WebSocket.
//!
//! Every frame is one JSON text message, an [`Envelope`]: a protocol version `v`, a message id and
//! a typed payload tagged by `type` with its fields under `data`. Both sides decode with
//! [`decode`], which keeps the message id of a frame whose payload is invalid so that the receiver
//! can reply with an [`ErrorReply`] and keep the connection open.

mod validate;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use validate::{
    ValidationError, validate_manager, validate_package_name_any, validate_package_name_for,
    validate_package_spec, validate_version_for,
};

/// Version of the message format. A peer rejects frames whose `v` differs.
pub const PROTOCOL_VERSION: u32 = 1;

/// HTTP path of the agent WebSocket endpoint on the server.
pub const CONNECT_PATH: &str = "/agent/connect";

/// Domain separation prefix of the bytes an agent signs in [`Hello::signature`].
pub const SIGNATURE_CONTEXT: &[u8] = b"sysmanage-agent-auth-v1\0";

/// Size in bytes of the random challenge nonce.
pub const NONCE_LEN: usize = 32;

/// Maximum size in bytes of one WebSocket message or frame, on both sides. A larger message
/// closes the connection, so an agent must keep each message it sends under this size.
pub const MAX_MESSAGE_SIZE: usize = 8 * 1024 * 1024;

/// Largest payload of one WebSocket frame that an agent sends. A longer message goes out as a
/// text frame followed by continuation frames of at most this size. The server keeps each
/// connection's read buffer for as long as the connection lasts, at up to twice the size of the
/// largest frame it received, so small frames keep a large update report from costing memory for
/// every connected agent afterwards. A heartbeat (about 300 bytes) fits in one frame.
pub const MAX_FRAME_PAYLOAD: usize = 512;

/// Splits `text` into pieces of at most `max_bytes` bytes (at least one character each), cut
/// at character boundaries, for sending as the frames of one message.
#[must_use]
pub fn frame_pieces(text: &str, max_bytes: usize) -> Vec<&str> {
    let mut pieces = Vec::with_capacity(text.len() / max_bytes.max(1) + 1);
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = max_bytes.min(rest.len());
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        if end == 0 {
            // A character longer than `max_bytes`: send it whole.
            end = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        let (piece, remainder) = rest.split_at(end);
        pieces.push(piece);
        rest = remainder;
    }
    pieces
}

/// Maximum number of updates of one manager in an [`UpdateReport`]. The server rejects a report
/// with more. At about 220 bytes of JSON per update with typical names and versions, this many
/// take about 4.4 MB and fit in [`MAX_MESSAGE_SIZE`], but updates with long fields may not, so an
/// agent checks the size of the report as well.
pub const MAX_UPDATES_PER_MANAGER: usize = 20_000;

/// Maximum number of disks, of network interfaces, and of addresses of one interface in a
/// [`HostInventory`]. The server rejects an inventory with longer lists.
pub const MAX_INVENTORY_ITEMS: usize = 256;

/// Maximum length in bytes of each string in a [`HostInventory`], the length the server accepts
/// for the host facts of [`HostInfo`] too.
pub const MAX_INVENTORY_STRING_LEN: usize = 255;

/// Identifier of one message, unique per sender.
pub type MessageId = Uuid;

/// One WebSocket frame: version, message id and payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<P> {
    pub v: u32,
    pub id: MessageId,
    #[serde(flatten)]
    pub payload: P,
}

impl<P> Envelope<P> {
    /// Wraps a payload in an envelope with a fresh random message id.
    pub fn new(payload: P) -> Self {
        Self {
            v: PROTOCOL_VERSION,
            id: Uuid::new_v4(),
            payload,
        }
    }
}

impl<P: Serialize> Envelope<P> {
    /// Serializes the envelope to the JSON text sent in one WebSocket frame.
    pub fn to_json(&self) -> String {
        // Serializing these plain data types to a String cannot fail: they contain no maps with
        // non-string keys and no custom serializers.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Reason an incoming frame could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("frame is not a JSON object with a valid \"id\": {0}")]
    NotAnEnvelope(String),
    #[error(
        "protocol version {found} is not supported; this side speaks version {PROTOCOL_VERSION}"
    )]
    UnsupportedVersion { id: MessageId, found: u32 },
    #[error("invalid message payload: {reason}")]
    InvalidPayload { id: MessageId, reason: String },
}

impl DecodeError {
    /// Returns the message id of the offending frame, when the frame had one.
    pub fn message_id(&self) -> Option<MessageId> {
        match self {
            Self::NotAnEnvelope(_) => None,
            Self::UnsupportedVersion { id, .. } | Self::InvalidPayload { id, .. } => Some(*id),
        }
    }

    /// Returns the error code to send back in an [`ErrorReply`].
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::NotAnEnvelope(_) | Self::InvalidPayload { .. } => ErrorCode::MalformedMessage,
            Self::UnsupportedVersion { .. } => ErrorCode::UnsupportedVersion,
        }
    }
}

/// Maximum length in characters of the serde reason kept in a [`DecodeError`]. Serde quotes the
/// offending input, such as an unknown `type`, so a longer reason would repeat peer data at length
/// in replies and logs.
pub const MAX_DECODE_REASON_CHARS: usize = 200;

/// Returns `reason` cut to [`MAX_DECODE_REASON_CHARS`] characters, with "…" when it was cut.
fn truncate_reason(reason: &str) -> String {
    match reason.char_indices().nth(MAX_DECODE_REASON_CHARS) {
        Some((end, _)) => format!("{}…", &reason[..end]),
        None => reason.to_owned(),
    }
}

#[derive(Deserialize)]
struct Header {
    v: u32,
    id: MessageId,
}

/// Decodes one text frame into an envelope of `P`.
///
/// The header is read first so that the error of a frame with a valid id but an unknown `type`
/// or invalid `data` carries that id.
pub fn decode<P: DeserializeOwned>(text: &str) -> Result<Envelope<P>, DecodeError> {
    let header: Header = serde_json::from_str(text)
        .map_err(|e| DecodeError::NotAnEnvelope(truncate_reason(&e.to_string())))?;
    if header.v != PROTOCOL_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            id: header.id,
            found: header.v,
        });
    }
    serde_json::from_str(text).map_err(|e| DecodeError::InvalidPayload {
        id: header.id,
        reason: truncate_reason(&e.to_string()),
    })
}

/// Returns the bytes an agent signs in reply to a challenge: the context, the nonce and its own
/// public key, so that a signature cannot be replayed for another nonce or another key.
pub fn signed_challenge_bytes(nonce: &[u8], public_key: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(SIGNATURE_CONTEXT.len() + nonce.len() + public_key.len());
    bytes.extend_from_slice(SIGNATURE_CONTEXT);
    bytes.extend_from_slice(nonce);
    bytes.extend_from_slice(public_key);
    bytes
}

/// Messages from the agent to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum AgentMessage {
    /// First message on every connection: identity, host facts and the signed challenge.
    Hello(Hello),
    /// Periodic sign of life. Liveness uses only the server's clock of its arrival.
    Heartbeat(Heartbeat),
    /// Hardware and operating system inventory, sent after `Welcome` and when it changes.
    Inventory(HostInventory),
    /// Result of one update scan, for every package manager the agent found.
    UpdateReport(UpdateReport),
    /// The agent began executing a job.
    JobStarted { job_id: i64 },
    /// Final result of a job. The agent re-sends it until the server replies with `JobResultAck`.
    JobResult(JobResult),
    /// The agent could not process a server message.
    Error(ErrorReply),
}

/// Messages from the server to the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum ServerMessage {
    /// First message on every connection: a fresh nonce the agent must sign.
    Challenge {
        nonce: String,
        server_version: String,
    },
    /// The agent proved its key. Carries the host id, its approval state and the settings.
    Welcome(Welcome),
    /// An administrator approved or rejected this host while it was connected.
    ApprovalChanged { approval: Approval },
    /// New agent settings, sent when the server configuration changes.
    Settings(AgentSettings),
    /// Acknowledges one agent message (heartbeats, inventories and update reports).
    Ack { of: MessageId },
    /// Asks the agent to scan for updates now.
    RefreshUpdates,
    /// Asks the agent to execute an install job. May be re-sent; the agent runs a job id once.
    InstallJob(InstallJob),
    /// The server stored the result of this job; the agent can forget it.
    JobResultAck { job_id: i64 },
    /// The server could not process an agent message.
    Error(ErrorReply),
}

/// Identity and host facts sent by the agent on connect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub agent_version: String,
    /// Ed25519 public key, standard base64 of the 32 raw bytes.
    pub public_key: String,
    /// Ed25519 signature of [`signed_challenge_bytes`], standard base64 of the 64 raw bytes.
    pub signature: String,
    pub host: HostInfo,
    /// Pre-shared key that lets the server approve this host without an administrator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_key: Option<String>,
}

/// Facts that identify a host to an administrator.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HostInfo {
    pub hostname: String,
    pub fqdn: String,
    pub os_name: String,
    pub os_version: String,
    pub kernel: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_id: Option<String>,
}

/// Heartbeat payload. Every field is optional, so new ones may be added without a version change.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Current load and usage, absent from agents that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceSnapshot>,
}

/// Load and usage of a host at one moment, small enough to ride on every heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ResourceSnapshot {
    /// Load averages over 1, 5 and 15 minutes. Zero on Windows, which has no load average.
    pub load_average: [f64; 3],
    pub memory_used_bytes: u64,
    pub memory_total_bytes: u64,
    /// Usage of the file system mounted at `/`, or of the system drive on Windows.
    pub disk_used_bytes: u64,
    pub disk_total_bytes: u64,
}

/// Hardware and operating system facts of a host, beyond the [`HostInfo`] of `Hello`.
///
/// `os_name`, `os_version`, `kernel` and `architecture` come from the same sources as in
/// [`HostInfo`], so the server may overwrite those columns with them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HostInventory {
    pub os_name: String,
    pub os_version: String,
    /// Release codename such as `bookworm`, when the OS has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_codename: Option<String>,
    pub kernel: String,
    pub architecture: String,
    pub cpu_model: String,
    /// Logical CPUs.
    pub cpu_count: u32,
    pub memory_total_bytes: u64,
    pub swap_total_bytes: u64,
    pub disks: Vec<DiskInfo>,
    pub network_interfaces: Vec<NetworkInterface>,
    /// Unix time in seconds.
    pub boot_time: u64,
    pub uptime_secs: u64,
}

/// One mounted file system.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DiskInfo {
    pub mount_point: String,
    pub file_system: String,
    pub total_bytes: u64,
    pub available_bytes: u64,
}

/// One network interface and its addresses.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NetworkInterface {
    pub name: String,
    /// Colon-separated lower-case hex, absent for interfaces without one such as loopback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    /// IPv4 and IPv6 addresses in CIDR notation (`192.0.2.7/24`) or as a plain address.
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// Approval state of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    Pending,
    Approved,
    Rejected,
}

impl Approval {
    /// Returns the lower-case name used in the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }
}

/// Server's reply to a valid `Hello`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    pub host_id: i64,
    pub approval: Approval,
    pub settings: AgentSettings,
    /// Names of the update statuses this server accepts in an [`UpdateReport`]. A report with
    /// any other status fails to decode and is not stored, so an agent replaces other statuses
    /// with [`UpdateReport::restrict_statuses`]. Servers that predate the field omit it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub update_statuses: Vec<String>,
}

/// Settings the server sends to the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSettings {
    /// Seconds between two heartbeats.
    pub heartbeat_interval_secs: u64,
    /// Seconds between two periodic update scans.
    pub update_check_interval_secs: u64,
}

/// Result of one update scan.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UpdateReport {
    pub managers: Vec<ManagerScan>,
    /// The host must reboot to finish an earlier update.
    pub reboot_required: bool,
}

/// Scan result of one package manager.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManagerScan {
    pub manager: String,
    #[serde(flatten)]
    pub outcome: ScanOutcome,
}

/// Either the full list of pending updates of a manager, or why it could not be read.
///
/// A failed scan never means "no updates": the server keeps the previous list and shows the error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ScanOutcome {
    Ok { updates: Vec<UpdateInfo> },
    Failed { error: String },
}

/// One pending update of one package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateInfo {
    pub manager: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<String>,
    pub new_version: String,
    /// Origin and suite of the new version, such as `Debian:bookworm-security`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    pub security: bool,
    pub status: UpdateStatus,
}

/// Whether an upgrade would install an update now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateStatus {
    /// An upgrade installs it.
    Available,
    /// Install-all and security-only leave it alone: the administrator put the package on hold
    /// (apt-mark hold, an apt pin, a dnf versionlock, a zypper lock, a brew or winget pin), or
    /// the manager cannot upgrade it by the reported name (a winget local id such as
    /// `ARP\Machine\X64\{GUID}`). A job that names it gets a per-package failure.
    Held,
    /// The package manager postpones it, as apt does for phased updates.
    Deferred,
    /// The manager's plain upgrade keeps it back because the new version needs other packages
    /// installed or removed, as `apt-get upgrade` does. Install-all and security-only leave it
    /// alone. A job that names it installs it together with those changes.
    KeptBack,
}

impl UpdateStatus {
    /// Every status, in the order the API documents them.
    pub const ALL: [Self; 4] = [Self::Available, Self::Held, Self::Deferred, Self::KeptBack];

    /// Statuses that every server accepts, including servers whose `Welcome` has no
    /// `update_statuses`.
    pub const BASELINE: [Self; 3] = [Self::Available, Self::Held, Self::Deferred];

    /// Returns the lower-case name used in the protocol, the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::Held => "held",
            Self::Deferred => "deferred",
            Self::KeptBack => "kept_back",
        }
    }

    /// Returns the baseline status that an agent sends in place of this one to a server that
    /// does not accept it: `kept_back` becomes `deferred`, because both are postponed updates
    /// that install-all leaves alone.
    #[must_use]
    pub fn baseline_fallback(self) -> Self {
        match self {
            Self::KeptBack => Self::Deferred,
            other => other,
        }
    }
}

impl UpdateReport {
    /// Replaces every status that the server does not accept by its
    /// [`UpdateStatus::baseline_fallback`].
    ///
    /// `accepted` is [`Welcome::update_statuses`]. When it is empty, as from a server that
    /// predates the field, only [`UpdateStatus::BASELINE`] is accepted.
    pub fn restrict_statuses(&mut self, accepted: &[String]) {
        let is_accepted = |status: UpdateStatus| {
            if accepted.is_empty() {
                UpdateStatus::BASELINE.contains(&status)
            } else {
                accepted.iter().any(|name| name == status.as_str())
            }
        };
        for scan in &mut self.managers {
            let ScanOutcome::Ok { updates } = &mut scan.outcome else {
                continue;
            };
            for update in updates {
                if !is_accepted(update.status) {
                    update.status = update.status.baseline_fallback();
                }
            }
        }
    }
}

/// An install job as delivered to the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstallJob {
    pub job_id: i64,
    pub request: InstallRequest,
}

/// Selection of updates an install job installs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum InstallRequest {
    /// These packages, each pinned to the version the administrator saw.
    Packages { packages: Vec<PackageSpec> },
    /// Every available update of every manager.
    All,
    /// Every available security update.
    SecurityOnly,
}

/// A package pinned to a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageSpec {
    pub manager: String,
    pub name: String,
    pub version: String,
}

/// Final result of a job, as reported by the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    pub job_id: i64,
    pub success: bool,
    pub packages: Vec<PackageResult>,
    /// Last lines of the package manager's output, at most a few kilobytes.
    pub output_tail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<JobFailure>,
    /// The host must reboot to finish this or an earlier update.
    pub reboot_required: bool,
}

/// Reason a job failed as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFailure {
    pub kind: JobFailureKind,
    pub message: String,
}

/// Kinds of job failure an administrator acts on differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobFailureKind {
    /// The request named an unknown manager, an invalid name or an invalid version.
    InvalidRequest,
    /// The package manager lock stayed held by another process for too long.
    LockTimeout,
    /// An earlier dpkg run was interrupted; `dpkg --configure -a` must run first.
    DpkgInterrupted,
    /// The package manager exited with an error.
    CommandFailed,
    /// The install took longer than its time limit and was stopped.
    Timeout,
    /// The agent restarted while the job ran, so its outcome is unknown.
    Interrupted,
    /// The agent has no support for this request on this host.
    Unsupported,
}

/// Outcome for one package of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageResult {
    pub manager: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_version: Option<String>,
    /// Version installed after the job, when the package is installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed_version: Option<String>,
    pub outcome: PackageOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// State of one package after a job: installed, failed, or left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageOutcome {
    Installed,
    Failed,
    NotAttempted,
}

/// Error reply to a message that could not be processed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<MessageId>,
    pub code: ErrorCode,
    pub message: String,
}

/// Machine-readable error codes of [`ErrorReply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not valid JSON, had no id, or had an unknown type or invalid fields.
    MalformedMessage,
    UnsupportedVersion,
    /// The message is not allowed in the connection's current state, such as a job result
    /// before `Hello`.
    UnexpectedMessage,
    AuthenticationFailed,
    /// The host is pending or rejected, so the server ignored the message.
    NotApproved,
    InvalidRequest,
    Internal,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_pieces_cut_at_characters() {
        let text = "ab\u{e9}cd\u{1f600}e";
        let pieces = frame_pieces(text, 3);
        assert_eq!(pieces.concat(), text);
        assert!(
            pieces
                .iter()
                .all(|piece| piece.len() <= 4 && !piece.is_empty()),
            "{pieces:?}"
        );
        assert_eq!(pieces[0], "ab");
        assert_eq!(frame_pieces("", 3), Vec::<&str>::new());
        assert_eq!(frame_pieces("abc", 1024), vec!["abc"]);
        assert_eq!(frame_pieces("\u{1f600}", 2), vec!["\u{1f600}"]);
    }

    #[test]
    fn heartbeat_round_trip() {
        let sent = Envelope::new(AgentMessage::Heartbeat(Heartbeat::default()));
        let json = sent.to_json();
        let received: Envelope<AgentMessage> = decode(&json).unwrap();
        assert_eq!(received, sent);
        assert!(json.contains(r#""type":"heartbeat""#), "{json}");
        assert!(!json.contains("resources"), "{json}");
    }

    #[test]
    fn heartbeat_with_resources_round_trip() {
        let sent = Envelope::new(AgentMessage::Heartbeat(Heartbeat {
            resources: Some(ResourceSnapshot {
                load_average: [0.5, 0.25, 1.75],
                memory_used_bytes: 3 << 30,
                memory_total_bytes: 8 << 30,
                disk_used_bytes: 40 << 30,
                disk_total_bytes: 100 << 30,
            }),
        }));
        let json = sent.to_json();
        let received: Envelope<AgentMessage> = decode(&json).unwrap();
        assert_eq!(received, sent);
        assert!(json.contains(r#""load_average":[0.5,0.25,1.75]"#), "{json}");
    }

    #[test]
    fn heartbeat_without_resources_decodes() {
        let id = Uuid::new_v4();
        for data in ["{}", r#"{"resources":null}"#] {
            let json = format!(r#"{{"v":1,"id":"{id}","type":"heartbeat","data":{data}}}"#);
            let received: Envelope<AgentMessage> = decode(&json).unwrap();
            assert_eq!(
                received.payload,
                AgentMessage::Heartbeat(Heartbeat::default()),
                "{json}"
            );
        }
    }

    #[test]
    fn inventory_round_trip() {
        let inventory = HostInventory {
            os_name: "Debian GNU/Linux".into(),
            os_version: "12".into(),
            os_codename: Some("bookworm".into()),
            kernel: "6.1.0-18-amd64".into(),
            architecture: "x86_64".into(),
            cpu_model: "AMD EPYC 7763 64-Core Processor".into(),
            cpu_count: 4,
            memory_total_bytes: 16 << 30,
            swap_total_bytes: 0,
            disks: vec![DiskInfo {
                mount_point: "/".into(),
                file_system: "ext4".into(),
                total_bytes: 100 << 30,
                available_bytes: 60 << 30,
            }],
            network_interfaces: vec![
                NetworkInterface {
                    name: "lo".into(),
                    mac_address: None,
                    addresses: vec!["127.0.0.1/8".into(), "::1/128".into()],
                },
                NetworkInterface {
                    name: "eth0".into(),
                    mac_address: Some("52:54:00:12:34:56".into()),
                    addresses: vec!["192.0.2.7/24".into()],
                },
            ],
            boot_time: 1_765_000_000,
            uptime_secs: 3600,
        };
        let sent = Envelope::new(AgentMessage::Inventory(inventory));
        let json = sent.to_json();
        let received: Envelope<AgentMessage> = decode(&json).unwrap();
        assert_eq!(received, sent);
        assert!(json.contains(r#""type":"inventory""#), "{json}");
    }

    #[test]
    fn inventory_optional_fields_absent() {
        let id = Uuid::new_v4();
        let json = format!(
            r#"{{"v":1,"id":"{id}","type":"inventory","data":{{"os_name":"FreeBSD","os_version":"14.1","kernel":"14.1-RELEASE","architecture":"amd64","cpu_model":"","cpu_count":1,"memory_total_bytes":1,"swap_total_bytes":0,"disks":[],"network_interfaces":[{{"name":"em0"}}],"boot_time":0,"uptime_secs":0}}}}"#
        );
        let received: Envelope<AgentMessage> = decode(&json).unwrap();
        let AgentMessage::Inventory(inventory) = received.payload else {
            panic!("expected an inventory");
        };
        assert_eq!(inventory.os_codename, None);
        assert_eq!(inventory.network_interfaces[0].mac_address, None);
        assert!(inventory.network_interfaces[0].addresses.is_empty());
    }

    #[test]
    fn unit_variant_without_data() {
        let id = Uuid::new_v4();
        let json = format!(r#"{{"v":1,"id":"{id}","type":"refresh_updates"}}"#);
        let received: Envelope<ServerMessage> = decode(&json).unwrap();
        assert_eq!(received.payload, ServerMessage::RefreshUpdates);
    }

    #[test]
    fn unknown_type_keeps_message_id() {
        let id = Uuid::new_v4();
        let json = format!(r#"{{"v":1,"id":"{id}","type":"format_disk","data":{{}}}}"#);
        let error = decode::<AgentMessage>(&json).unwrap_err();
        assert_eq!(error.message_id(), Some(id));
        assert_eq!(error.code(), ErrorCode::MalformedMessage);
    }

    #[test]
    fn long_unknown_type_reason_truncated() {
        let id = Uuid::new_v4();
        let long_type = "é".repeat(100_000);
        let json = format!(r#"{{"v":1,"id":"{id}","type":"{long_type}","data":{{}}}}"#);
        let error = decode::<AgentMessage>(&json).unwrap_err();
        let DecodeError::InvalidPayload { reason, .. } = &error else {
            panic!("expected an invalid payload, got {error:?}");
        };
        assert_eq!(reason.chars().count(), MAX_DECODE_REASON_CHARS + 1);
        assert!(reason.ends_with('…'));
        assert!(error.to_string().len() < 1000);
    }

    #[test]
    fn long_garbage_reason_truncated() {
        let text = format!("{{\"id\":\"{}\"}}", "A".repeat(100_000));
        let error = decode::<AgentMessage>(&text).unwrap_err();
        assert!(error.to_string().len() < 1000);
    }

    #[test]
    fn other_version_rejected() {
        let id = Uuid::new_v4();
        let json = format!(r#"{{"v":2,"id":"{id}","type":"heartbeat","data":{{}}}}"#);
        let error = decode::<AgentMessage>(&json).unwrap_err();
        assert_eq!(error.code(), ErrorCode::UnsupportedVersion);
        assert_eq!(error.message_id(), Some(id));
    }

    #[test]
    fn garbage_has_no_message_id() {
        for text in ["", "null", "[1,2]", "{\"id\":42}", "not json"] {
            let error = decode::<AgentMessage>(text).unwrap_err();
            assert_eq!(error.message_id(), None, "{text}");
        }
    }

    #[test]
    fn scan_outcome_round_trip() {
        let report = UpdateReport {
            managers: vec![
                ManagerScan {
                    manager: "apt".into(),
                    outcome: ScanOutcome::Ok {
                        updates: vec![UpdateInfo {
                            manager: "apt".into(),
                            name: "openssl".into(),
                            architecture: Some("amd64".into()),
                            current_version: Some("3.0.11-1~deb12u1".into()),
                            new_version: "3.0.11-1~deb12u2".into(),
                            origin: Some("Debian:bookworm-security".into()),
                            security: true,
                            status: UpdateStatus::Available,
                        }],
                    },
                },
                ManagerScan {
                    manager: "snap".into(),
                    outcome: ScanOutcome::Failed {
                        error: "snapd is not running".into(),
                    },
                },
            ],
            reboot_required: true,
        };
        let sent = Envelope::new(AgentMessage::UpdateReport(report));
        let received: Envelope<AgentMessage> = decode(&sent.to_json()).unwrap();
        assert_eq!(received, sent);
    }

    fn report_with_statuses(statuses: &[UpdateStatus]) -> UpdateReport {
        let updates = statuses
            .iter()
            .map(|status| UpdateInfo {
                manager: "apt".into(),
                name: format!("package-{}", status.as_str()),
                architecture: None,
                current_version: Some("1.0".into()),
                new_version: "2.0".into(),
                origin: None,
                security: false,
                status: *status,
            })
            .collect();
        UpdateReport {
            managers: vec![ManagerScan {
                manager: "apt".into(),
                outcome: ScanOutcome::Ok { updates },
            }],
            reboot_required: false,
        }
    }

    fn statuses_of(report: &UpdateReport) -> Vec<UpdateStatus> {
        match &report.managers[0].outcome {
            ScanOutcome::Ok { updates } => updates.iter().map(|update| update.status).collect(),
            ScanOutcome::Failed { .. } => Vec::new(),
        }
    }

    #[test]
    fn kept_back_status_name() {
        let json = serde_json::to_string(&UpdateStatus::KeptBack).unwrap();
        assert_eq!(json, r#""kept_back""#);
        assert_eq!(UpdateStatus::KeptBack.as_str(), "kept_back");
        for status in UpdateStatus::ALL {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
    }

    #[test]
    fn welcome_without_update_statuses() {
        let json = r#"{"host_id":1,"approval":"approved",
            "settings":{"heartbeat_interval_secs":30,"update_check_interval_secs":3600}}"#;
        let welcome: Welcome = serde_json::from_str(json).unwrap();
        assert!(welcome.update_statuses.is_empty());
    }

    /// `Welcome` of an agent that predates `update_statuses`.
    #[derive(Debug, Deserialize)]
    struct BaselineWelcome {
        host_id: i64,
    }

    #[test]
    fn baseline_agent_ignores_update_statuses() {
        let welcome = Welcome {
            host_id: 7,
            approval: Approval::Approved,
            settings: AgentSettings {
                heartbeat_interval_secs: 30,
                update_check_interval_secs: 3600,
            },
            update_statuses: vec!["kept_back".into()],
        };
        let json = serde_json::to_string(&welcome).unwrap();
        assert!(json.contains("update_statuses"), "{json}");
        let baseline: BaselineWelcome = serde_json::from_str(&json).unwrap();
        assert_eq!(baseline.host_id, 7);
    }

    #[test]
    fn restrict_statuses_for_older_server() {
        let mut report = report_with_statuses(&UpdateStatus::ALL);
        report.restrict_statuses(&[]);
        assert_eq!(
            statuses_of(&report),
            [
                UpdateStatus::Available,
                UpdateStatus::Held,
                UpdateStatus::Deferred,
                UpdateStatus::Deferred,
            ]
        );

        let mut report = report_with_statuses(&UpdateStatus::ALL);
        let accepted: Vec<String> = ["available", "held", "deferred"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        report.restrict_statuses(&accepted);
        assert_eq!(statuses_of(&report)[3], UpdateStatus::Deferred);
    }

    #[test]
    fn restrict_statuses_keeps_accepted() {
        let mut report = report_with_statuses(&UpdateStatus::ALL);
        let accepted: Vec<String> = UpdateStatus::ALL
            .iter()
            .map(|status| status.as_str().to_owned())
            .collect();
        report.restrict_statuses(&accepted);
        assert_eq!(statuses_of(&report), UpdateStatus::ALL);
    }

    /// The status enum of a server that predates `kept_back`.
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum BaselineStatus {
        Available,
        Held,
        Deferred,
    }

    #[derive(Debug, Deserialize)]
    struct BaselineUpdate {
        #[allow(dead_code)]
        status: BaselineStatus,
    }

    #[test]
    fn baseline_server_decodes_restricted_report() {
        let decode_updates = |report: &UpdateReport| {
            let ScanOutcome::Ok { updates } = &report.managers[0].outcome else {
                panic!("expected updates");
            };
            serde_json::from_str::<Vec<BaselineUpdate>>(&serde_json::to_string(updates).unwrap())
        };
        let report = report_with_statuses(&UpdateStatus::ALL);
        assert!(decode_updates(&report).is_err());
        let mut restricted = report.clone();
        restricted.restrict_statuses(&[]);
        assert_eq!(decode_updates(&restricted).unwrap().len(), 4);
    }

    #[test]
    fn install_request_modes() {
        let all: InstallRequest = serde_json::from_str(r#"{"mode":"all"}"#).unwrap();
        assert_eq!(all, InstallRequest::All);
        let security: InstallRequest = serde_json::from_str(r#"{"mode":"security_only"}"#).unwrap();
        assert_eq!(security, InstallRequest::SecurityOnly);
    }

    #[test]
    fn challenge_bytes_bind_nonce_and_key() {
        let a = signed_challenge_bytes(&[1; NONCE_LEN], &[2; 32]);
        let b = signed_challenge_bytes(&[1; NONCE_LEN], &[3; 32]);
        assert_ne!(a, b);
        assert!(a.starts_with(SIGNATURE_CONTEXT));
    }
}
