//! A test agent that speaks the real protocol over a real WebSocket. It signs the challenge with
//! Ed25519 and then sends and receives typed messages.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer, SigningKey};
use futures_util::{SinkExt, StreamExt};
use sysmanage_protocol::{
    AgentMessage, Envelope, ErrorCode, Heartbeat, Hello, HostInfo, MessageId, ServerMessage,
    Welcome, decode,
};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::TestServer;

/// Time a test waits for one server message.
pub const RECEIVE_TIMEOUT: Duration = Duration::from_secs(10);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The identity and facts of one simulated host.
#[derive(Clone)]
pub struct TestAgent {
    pub key: SigningKey,
    pub host: HostInfo,
    pub enrollment_key: Option<String>,
}

impl TestAgent {
    /// Returns an agent with a fresh random key and the facts of a Debian host named `hostname`.
    pub fn new(hostname: &str) -> Self {
        let mut seed = [0; 32];
        getrandom::fill(&mut seed).unwrap();
        Self {
            key: SigningKey::from_bytes(&seed),
            host: HostInfo {
                hostname: hostname.to_owned(),
                fqdn: format!("{hostname}.example.test"),
                os_name: "Debian GNU/Linux".to_owned(),
                os_version: "12".to_owned(),
                kernel: "6.1.0-18-amd64".to_owned(),
                architecture: "x86_64".to_owned(),
                machine_id: Some(format!("machine-{hostname}")),
            },
            enrollment_key: None,
        }
    }

    /// Returns the base64 public key, as the server stores it.
    pub fn public_key(&self) -> String {
        STANDARD.encode(self.key.verifying_key().to_bytes())
    }

    /// Builds a `Hello` for `nonce_hex` signed with this agent's key.
    pub fn hello(&self, nonce_hex: &str) -> Hello {
        let nonce = hex::decode(nonce_hex).unwrap();
        let public = self.key.verifying_key().to_bytes();
        let signature = self
            .key
            .sign(&sysmanage_protocol::signed_challenge_bytes(&nonce, &public));
        Hello {
            agent_version: "0.1.0-test".to_owned(),
            public_key: STANDARD.encode(public),
            signature: STANDARD.encode(signature.to_bytes()),
            host: self.host.clone(),
            enrollment_key: self.enrollment_key.clone(),
        }
    }

    /// Connects, signs the challenge and returns the connection after `Welcome`.
    pub async fn connect(&self, server: &TestServer) -> AgentConnection {
        let (mut connection, nonce) = AgentConnection::open(server).await;
        connection
            .send(AgentMessage::Hello(self.hello(&nonce)))
            .await;
        match connection.recv().await {
            ServerMessage::Welcome(welcome) => {
                connection.welcome = Some(welcome);
                connection
            }
            other => panic!("expected welcome, got {other:?}"),
        }
    }
}

/// One open agent WebSocket.
pub struct AgentConnection {
    socket: Socket,
    pub welcome: Option<Welcome>,
}

impl AgentConnection {
    /// Opens a WebSocket and returns it with the challenge nonce, before any `Hello`.
    pub async fn open(server: &TestServer) -> (Self, String) {
        let url = format!(
            "ws://{}{}",
            server.address,
            sysmanage_protocol::CONNECT_PATH
        );
        let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut connection = Self {
            socket,
            welcome: None,
        };
        match connection.recv().await {
            ServerMessage::Challenge { nonce, .. } => (connection, nonce),
            other => panic!("expected a challenge, got {other:?}"),
        }
    }

    /// Returns the host id from `Welcome`.
    pub fn host_id(&self) -> i64 {
        self.welcome.as_ref().unwrap().host_id
    }

    /// Sends a message in a fresh envelope and returns its id.
    pub async fn send(&mut self, message: AgentMessage) -> MessageId {
        let envelope = Envelope::new(message);
        self.send_text(&envelope.to_json()).await;
        envelope.id
    }

    /// Sends one raw text frame.
    pub async fn send_text(&mut self, text: &str) {
        self.socket
            .send(Message::Text(text.to_owned().into()))
            .await
            .unwrap();
    }

    /// Sends one raw text frame and returns whether the send succeeded, for frames that the
    /// server may close the connection on while they are still being written.
    pub async fn try_send_text(&mut self, text: &str) -> bool {
        self.socket
            .send(Message::Text(text.to_owned().into()))
            .await
            .is_ok()
    }

    /// Sends one binary frame.
    pub async fn send_binary(&mut self, bytes: &[u8]) {
        self.socket
            .send(Message::Binary(bytes.to_vec().into()))
            .await
            .unwrap();
    }

    /// Returns the next server message, skipping WebSocket pings and pongs. Panics after
    /// [`RECEIVE_TIMEOUT`] or when the connection closes.
    pub async fn recv(&mut self) -> ServerMessage {
        match self.try_recv(RECEIVE_TIMEOUT).await {
            Some(message) => message,
            None => panic!("the server closed the connection or sent nothing"),
        }
    }

    /// Returns the next server message within `timeout`, or `None` when the connection closed
    /// or nothing arrived.
    pub async fn try_recv(&mut self, timeout: Duration) -> Option<ServerMessage> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()??;
            match frame {
                Ok(Message::Text(text)) => {
                    let envelope: Envelope<ServerMessage> = decode(text.as_str()).unwrap();
                    return Some(envelope.payload);
                }
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
                Ok(Message::Binary(bytes)) => panic!("server sent a binary frame: {bytes:?}"),
                Ok(Message::Close(_)) | Err(_) => return None,
            }
        }
    }

    /// Returns the next message that `select` accepts, dropping the others.
    pub async fn recv_matching<T>(&mut self, select: impl Fn(ServerMessage) -> Option<T>) -> T {
        loop {
            if let Some(value) = select(self.recv().await) {
                return value;
            }
        }
    }

    /// Expects an `Error` reply with `code` and returns its message.
    pub async fn expect_error(&mut self, code: ErrorCode) -> String {
        match self.recv().await {
            ServerMessage::Error(reply) => {
                assert_eq!(reply.code, code, "{}", reply.message);
                reply.message
            }
            other => panic!("expected an error {code:?}, got {other:?}"),
        }
    }

    /// Sends a heartbeat and expects its `Ack`.
    pub async fn heartbeat(&mut self) {
        let id = self
            .send(AgentMessage::Heartbeat(Heartbeat::default()))
            .await;
        match self.recv().await {
            ServerMessage::Ack { of } => assert_eq!(of, id),
            other => panic!("expected the heartbeat's ack, got {other:?}"),
        }
    }

    /// Waits until the server closes the connection.
    pub async fn expect_closed(&mut self) {
        let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
        loop {
            let Ok(frame) = tokio::time::timeout_at(deadline, self.socket.next()).await else {
                panic!("the server did not close the connection");
            };
            match frame {
                None | Some(Err(_) | Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    }

    /// Waits for the server's close frame and returns its reason, skipping other frames.
    pub async fn expect_close_reason(&mut self) -> String {
        let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
        loop {
            let Ok(frame) = tokio::time::timeout_at(deadline, self.socket.next()).await else {
                panic!("the server did not close the connection");
            };
            match frame {
                Some(Ok(Message::Close(Some(close)))) => return close.reason.to_string(),
                None | Some(Err(_) | Ok(Message::Close(None))) => {
                    panic!("the connection closed without a close reason")
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Drops the TCP connection without a close handshake, as a killed agent does.
    pub fn kill(self) {
        drop(self.socket);
    }
}
