//! The first exchange of a connection: the challenge, the agent's `Hello` and its signature.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, VerifyingKey};
use sysmanage_protocol::{
    AgentMessage, DecodeError, ErrorCode, Hello, NONCE_LEN, PROTOCOL_VERSION, decode,
};

use super::malformed::MalformedFrames;
use super::session::{reply_error, send_message};

/// Time an agent has to answer the challenge with `Hello`.
pub(super) const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Number of malformed frames before `Hello` that close the connection. An agent sends `Hello`
/// first, so a peer that sends garbage instead gets only this many error replies.
const MAX_MALFORMED_FRAMES_BEFORE_HELLO: u64 = 3;

/// Maximum length in bytes of each host fact and of the agent version.
const MAX_FACT_LEN: usize = 255;

/// Maximum length in bytes of an enrollment key sent by an agent.
const MAX_ENROLLMENT_KEY_LEN: usize = 1024;

/// Why a connection ended before the agent was authenticated.
#[derive(Debug, thiserror::Error)]
pub(super) enum HandshakeError {
    #[error("no hello within {} seconds of the challenge", HELLO_TIMEOUT.as_secs())]
    Timeout,
    #[error("the connection closed before hello")]
    Closed,
    #[error("the message is larger than the maximum of {} MiB", super::MAX_MESSAGE_SIZE / (1024 * 1024))]
    MessageTooLarge,
    #[error("{MAX_MALFORMED_FRAMES_BEFORE_HELLO} malformed frames before hello")]
    TooManyMalformedFrames,
    #[error("protocol version {0} is not supported; this server speaks version {PROTOCOL_VERSION}")]
    UnsupportedVersion(u32),
    #[error("the first message must be hello, not {0}")]
    Unexpected(&'static str),
    #[error("public_key must be standard base64 of a 32-byte Ed25519 public key")]
    InvalidPublicKey,
    #[error("signature must be standard base64 of a 64-byte Ed25519 signature")]
    InvalidSignatureEncoding,
    #[error("the signature does not verify against the challenge and public key")]
    SignatureMismatch,
    #[error("invalid hello: {0}")]
    InvalidHello(String),
}

impl HandshakeError {
    /// Returns the protocol error code sent to the agent before the connection closes.
    pub(super) fn code(&self) -> ErrorCode {
        match self {
            Self::Timeout
            | Self::Closed
            | Self::InvalidPublicKey
            | Self::InvalidSignatureEncoding
            | Self::SignatureMismatch => ErrorCode::AuthenticationFailed,
            Self::MessageTooLarge | Self::TooManyMalformedFrames => ErrorCode::MalformedMessage,
            Self::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            Self::Unexpected(_) => ErrorCode::UnexpectedMessage,
            Self::InvalidHello(_) => ErrorCode::InvalidRequest,
        }
    }
}

/// A `Hello` whose signature verified.
pub(super) struct VerifiedHello {
    pub hello: Hello,
    /// The public key re-encoded from its bytes, so that one key has one spelling in the database.
    pub public_key: String,
}

/// Returns 32 fresh random bytes for a challenge.
pub(super) fn new_nonce() -> Result<[u8; NONCE_LEN], getrandom::Error> {
    let mut nonce = [0; NONCE_LEN];
    getrandom::fill(&mut nonce)?;
    Ok(nonce)
}

/// Waits up to [`HELLO_TIMEOUT`] for `Hello` and verifies it. Each malformed frame before it gets
/// an error reply, and the [`MAX_MALFORMED_FRAMES_BEFORE_HELLO`]th ends the handshake. Any other
/// message ends the handshake too.
pub(super) async fn receive_hello(
    socket: &mut WebSocket,
    nonce: &[u8],
) -> Result<VerifiedHello, HandshakeError> {
    let deadline = tokio::time::Instant::now() + HELLO_TIMEOUT;
    let mut malformed = MalformedFrames::new(tokio::time::Instant::now());
    loop {
        if malformed.total() >= MAX_MALFORMED_FRAMES_BEFORE_HELLO {
            return Err(HandshakeError::TooManyMalformedFrames);
        }
        let frame = tokio::time::timeout_at(deadline, socket.recv())
            .await
            .map_err(|_| HandshakeError::Timeout)?;
        let text = match frame {
            Some(Err(error)) if super::is_message_too_large(&error) => {
                return Err(HandshakeError::MessageTooLarge);
            }
            None | Some(Err(_) | Ok(Message::Close(_))) => return Err(HandshakeError::Closed),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Binary(_))) => {
                if malformed.record(tokio::time::Instant::now()) {
                    tracing::warn!("agent sent a binary frame before hello");
                }
                reply_error(
                    socket,
                    None,
                    ErrorCode::MalformedMessage,
                    "binary frames are not supported; send JSON text frames",
                )
                .await;
                continue;
            }
            Some(Ok(Message::Text(text))) => text,
        };
        match decode::<AgentMessage>(text.as_str()) {
            Err(DecodeError::UnsupportedVersion { found, .. }) => {
                return Err(HandshakeError::UnsupportedVersion(found));
            }
            Err(error) => {
                // Debug formatting escapes the control characters that the reason may quote.
                if malformed.record(tokio::time::Instant::now()) {
                    tracing::warn!(error = ?error.to_string(), "malformed agent message before hello");
                }
                reply_error(socket, error.message_id(), error.code(), &error.to_string()).await;
            }
            Ok(envelope) => {
                return match envelope.payload {
                    AgentMessage::Hello(hello) => verify_hello(nonce, hello),
                    other => Err(HandshakeError::Unexpected(message_type(&other))),
                };
            }
        }
    }
}

/// Checks the encoding of the key and signature, the signature itself, and the host facts.
pub(super) fn verify_hello(nonce: &[u8], hello: Hello) -> Result<VerifiedHello, HandshakeError> {
    let key_bytes: [u8; 32] = STANDARD
        .decode(&hello.public_key)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(HandshakeError::InvalidPublicKey)?;
    let key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| HandshakeError::InvalidPublicKey)?;
    let signature_bytes: [u8; 64] = STANDARD
        .decode(&hello.signature)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(HandshakeError::InvalidSignatureEncoding)?;
    let signature = Signature::from_bytes(&signature_bytes);
    let signed = sysmanage_protocol::signed_challenge_bytes(nonce, &key_bytes);
    key.verify_strict(&signed, &signature)
        .map_err(|_| HandshakeError::SignatureMismatch)?;

    validate_facts(&hello).map_err(HandshakeError::InvalidHello)?;
    Ok(VerifiedHello {
        public_key: STANDARD.encode(key_bytes),
        hello,
    })
}

fn validate_facts(hello: &Hello) -> Result<(), String> {
    let host = &hello.host;
    let required = [
        ("host.hostname", host.hostname.as_str()),
        ("agent_version", hello.agent_version.as_str()),
    ];
    for (field, value) in required {
        if value.trim().is_empty() {
            return Err(format!("{field} must not be empty"));
        }
    }
    let facts = [
        ("host.hostname", host.hostname.as_str()),
        ("host.fqdn", host.fqdn.as_str()),
        ("host.os_name", host.os_name.as_str()),
        ("host.os_version", host.os_version.as_str()),
        ("host.kernel", host.kernel.as_str()),
        ("host.architecture", host.architecture.as_str()),
        (
            "host.machine_id",
            host.machine_id.as_deref().unwrap_or_default(),
        ),
        ("agent_version", hello.agent_version.as_str()),
    ];
    for (field, value) in facts {
        if value.len() > MAX_FACT_LEN {
            return Err(format!("{field} must be at most {MAX_FACT_LEN} bytes long"));
        }
        if value.chars().any(char::is_control) {
            return Err(format!("{field} must not contain control characters"));
        }
    }
    if hello
        .enrollment_key
        .as_ref()
        .is_some_and(|key| key.len() > MAX_ENROLLMENT_KEY_LEN)
    {
        return Err(format!(
            "enrollment_key must be at most {MAX_ENROLLMENT_KEY_LEN} bytes long"
        ));
    }
    Ok(())
}

/// Returns the protocol name of a message type, for logs and error messages.
pub(super) fn message_type(message: &AgentMessage) -> &'static str {
    match message {
        AgentMessage::Hello(_) => "hello",
        AgentMessage::Heartbeat(_) => "heartbeat",
        AgentMessage::Inventory(_) => "inventory",
        AgentMessage::UpdateReport(_) => "update_report",
        AgentMessage::JobStarted { .. } => "job_started",
        AgentMessage::JobResult(_) => "job_result",
        AgentMessage::Error(_) => "error",
    }
}

/// Sends the handshake failure to the agent and closes the connection.
pub(super) async fn reject(socket: &mut WebSocket, error: &HandshakeError) {
    reply_error(socket, None, error.code(), &error.to_string()).await;
    let _ = socket.send(Message::Close(None)).await;
}

/// Sends the reason of a rejected registration to the agent and closes the connection.
pub(super) async fn reject_registration(
    socket: &mut WebSocket,
    error: &super::admission::RegistrationError,
) {
    reply_error(
        socket,
        None,
        ErrorCode::AuthenticationFailed,
        &error.to_string(),
    )
    .await;
    let _ = socket.send(Message::Close(None)).await;
}

/// Sends the challenge.
pub(super) async fn send_challenge(
    socket: &mut WebSocket,
    nonce: &[u8],
) -> Result<(), axum::Error> {
    send_message(
        socket,
        sysmanage_protocol::ServerMessage::Challenge {
            nonce: hex::encode(nonce),
            server_version: env!("CARGO_PKG_VERSION").to_owned(),
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};
    use sysmanage_protocol::HostInfo;

    use super::*;

    fn signed_hello(key: &SigningKey, nonce: &[u8]) -> Hello {
        let public = key.verifying_key().to_bytes();
        let signature = key.sign(&sysmanage_protocol::signed_challenge_bytes(nonce, &public));
        Hello {
            agent_version: "0.1.0".into(),
            public_key: STANDARD.encode(public),
            signature: STANDARD.encode(signature.to_bytes()),
            host: HostInfo {
                hostname: "web1".into(),
                ..HostInfo::default()
            },
            enrollment_key: None,
        }
    }

    #[test]
    fn valid_signature_accepted() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let verified = verify_hello(&[1; NONCE_LEN], signed_hello(&key, &[1; NONCE_LEN])).unwrap();
        assert_eq!(
            verified.public_key,
            STANDARD.encode(key.verifying_key().to_bytes())
        );
    }

    #[test]
    fn signature_of_other_nonce_rejected() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let hello = signed_hello(&key, &[2; NONCE_LEN]);
        assert!(matches!(
            verify_hello(&[1; NONCE_LEN], hello),
            Err(HandshakeError::SignatureMismatch)
        ));
    }

    #[test]
    fn short_public_key_rejected() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let mut hello = signed_hello(&key, &[1; NONCE_LEN]);
        hello.public_key = STANDARD.encode([1; 16]);
        assert!(matches!(
            verify_hello(&[1; NONCE_LEN], hello),
            Err(HandshakeError::InvalidPublicKey)
        ));
    }

    #[test]
    fn control_characters_in_hostname_rejected() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let mut hello = signed_hello(&key, &[1; NONCE_LEN]);
        hello.host.hostname = "web1\n".into();
        assert!(validate_facts(&hello).is_err());
    }
}
