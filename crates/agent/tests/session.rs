//! The agent against a mock server on loopback: handshake, inventory, heartbeats, bad frames,
//! install jobs with duplicate delivery and acknowledgement, and reconnects.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use futures_util::{SinkExt, StreamExt};
use sysmanage_agent::agent::{self, AgentOptions};
use sysmanage_agent::config::Secret;
use sysmanage_agent::connection::Endpoint;
use sysmanage_agent::packages::{InstallOutcome, InstallSelection, PackageManager, ScanError};
use sysmanage_protocol::{
    AgentMessage, AgentSettings, Approval, Envelope, ErrorCode, HostInfo, InstallJob,
    InstallRequest, PackageOutcome, PackageResult, PackageSpec, ScanOutcome, ServerMessage,
    UpdateInfo, UpdateStatus, Welcome, decode,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// Reports one update and counts installs, which always succeed.
struct FakeManager {
    installs: AtomicUsize,
}

impl PackageManager for FakeManager {
    fn name(&self) -> &'static str {
        "apt"
    }

    fn detect_updates(&self) -> Result<Vec<UpdateInfo>, ScanError> {
        Ok(vec![UpdateInfo {
            manager: "apt".into(),
            name: "openssl".into(),
            architecture: Some("amd64".into()),
            current_version: Some("1.0".into()),
            new_version: "2.0".into(),
            origin: Some("Debian-Security:12/stable-security".into()),
            security: true,
            status: UpdateStatus::Available,
        }])
    }

    fn install(&self, selection: &InstallSelection) -> InstallOutcome {
        self.installs.fetch_add(1, Ordering::SeqCst);
        let InstallSelection::Packages(specs) = selection else {
            return InstallOutcome::default();
        };
        InstallOutcome {
            packages: specs
                .iter()
                .map(|spec| PackageResult {
                    manager: spec.manager.clone(),
                    name: spec.name.clone(),
                    requested_version: Some(spec.version.clone()),
                    installed_version: Some(spec.version.clone()),
                    outcome: PackageOutcome::Installed,
                    message: None,
                })
                .collect(),
            output_tail: "Setting up openssl (2.0) ...".into(),
            failure: None,
        }
    }
}

type Socket = WebSocketStream<TcpStream>;

async fn send(socket: &mut Socket, message: ServerMessage) -> uuid::Uuid {
    let envelope = Envelope::new(message);
    socket
        .send(Message::text(envelope.to_json()))
        .await
        .unwrap();
    envelope.id
}

/// Returns the next agent message, acknowledging heartbeats with `Ack` and skipping them.
async fn receive(socket: &mut Socket) -> AgentMessage {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("no message from the agent within 10 s")
            .expect("agent closed the connection")
            .unwrap();
        let Message::Text(text) = frame else { continue };
        let envelope: Envelope<AgentMessage> = decode(&text).unwrap();
        if let AgentMessage::Heartbeat(_) = envelope.payload {
            send(socket, ServerMessage::Ack { of: envelope.id }).await;
            continue;
        }
        return envelope.payload;
    }
}

/// Returns the next agent message that is not an update report.
async fn receive_non_report(socket: &mut Socket) -> AgentMessage {
    loop {
        match receive(socket).await {
            AgentMessage::UpdateReport(_) => {}
            other => return other,
        }
    }
}

/// Runs the handshake and returns the agent's public key.
async fn accept_agent(listener: &TcpListener) -> (Socket, Vec<u8>) {
    let (stream, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("agent did not connect within 10 s")
        .unwrap();
    let mut socket = tokio_tungstenite::accept_async(stream).await.unwrap();
    let nonce = [9u8; sysmanage_protocol::NONCE_LEN];
    send(
        &mut socket,
        ServerMessage::Challenge {
            nonce: hex::encode(nonce),
            server_version: "test".into(),
        },
    )
    .await;

    let AgentMessage::Hello(hello) = receive(&mut socket).await else {
        panic!("first agent message must be Hello");
    };
    assert_eq!(hello.enrollment_key.as_deref(), Some("enroll-me"));
    assert_eq!(hello.host.hostname, "test-host");
    let public_key = BASE64.decode(&hello.public_key).unwrap();
    let verifying_key = VerifyingKey::from_bytes(&public_key.clone().try_into().unwrap()).unwrap();
    let signature = Signature::from_slice(&BASE64.decode(&hello.signature).unwrap()).unwrap();
    let message = sysmanage_protocol::signed_challenge_bytes(&nonce, &public_key);
    assert!(
        verifying_key.verify(&message, &signature).is_ok(),
        "Hello signature is invalid"
    );

    send(
        &mut socket,
        ServerMessage::Welcome(Welcome {
            host_id: 1,
            approval: Approval::Approved,
            settings: AgentSettings {
                heartbeat_interval_secs: 1,
                update_check_interval_secs: 3600,
            },
            update_statuses: Vec::new(),
        }),
    )
    .await;
    (socket, public_key)
}

fn install_job(job_id: i64) -> ServerMessage {
    ServerMessage::InstallJob(InstallJob {
        job_id,
        request: InstallRequest::Packages {
            packages: vec![PackageSpec {
                manager: "apt".into(),
                name: "openssl".into(),
                version: "2.0".into(),
            }],
        },
    })
}

#[tokio::test]
async fn agent_session_with_mock_server() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let state = tempfile::tempdir().unwrap();
    let manager = Arc::new(FakeManager {
        installs: AtomicUsize::new(0),
    });
    let options = AgentOptions {
        endpoint: Endpoint {
            url: format!("ws://127.0.0.1:{port}/agent/connect"),
            tls: None,
        },
        state_dir: state.path().to_path_buf(),
        enrollment_key: Some(Secret::new("enroll-me")),
        host: HostInfo {
            hostname: "test-host".into(),
            ..HostInfo::default()
        },
        managers: vec![manager.clone()],
        reboot_required_path: state.path().join("reboot-required"),
    };
    let agent_task = tokio::spawn(agent::run(options));

    // First connection: handshake, then the inventory and the scan that follow an approved
    // Welcome.
    let (mut socket, first_key) = accept_agent(&listener).await;
    let AgentMessage::Inventory(inventory) = receive(&mut socket).await else {
        panic!("expected the inventory after Welcome");
    };
    assert!(inventory.cpu_count >= 1);
    assert!(!inventory.disks.is_empty(), "{inventory:?}");
    let AgentMessage::UpdateReport(report) = receive(&mut socket).await else {
        panic!("expected an update report after Welcome");
    };
    assert!(!report.reboot_required);
    let ScanOutcome::Ok { updates } = &report.managers[0].outcome else {
        panic!("fake detection cannot fail");
    };
    assert_eq!(updates[0].name, "openssl");

    // Heartbeats flow at the 1 s interval from Welcome.
    let frame = tokio::time::timeout(Duration::from_secs(3), socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let envelope: Envelope<AgentMessage> = decode(frame.to_text().unwrap()).unwrap();
    let AgentMessage::Heartbeat(heartbeat) = envelope.payload else {
        panic!("expected a heartbeat, got {envelope:?}");
    };
    let resources = heartbeat.resources.expect("heartbeat without resources");
    assert!(resources.memory_total_bytes > 0);
    assert!(resources.disk_total_bytes > 0);

    // A frame of an unknown type gets an Error naming its id, and the connection stays open.
    let bad_id = uuid::Uuid::new_v4();
    let bad = format!(r#"{{"v":1,"id":"{bad_id}","type":"format_disk","data":{{}}}}"#);
    socket.send(Message::text(bad)).await.unwrap();
    let AgentMessage::Error(reply) = receive_non_report(&mut socket).await else {
        panic!("expected an Error for the bad frame");
    };
    assert_eq!(reply.in_reply_to, Some(bad_id));
    assert_eq!(reply.code, ErrorCode::MalformedMessage);

    // An install job runs once: JobStarted, then JobResult.
    send(&mut socket, install_job(42)).await;
    assert_eq!(
        receive_non_report(&mut socket).await,
        AgentMessage::JobStarted { job_id: 42 }
    );
    let AgentMessage::JobResult(result) = receive_non_report(&mut socket).await else {
        panic!("expected the job result");
    };
    assert_eq!(result.job_id, 42);
    assert!(result.success, "{result:?}");
    assert_eq!(result.packages[0].installed_version.as_deref(), Some("2.0"));

    // A duplicate delivery re-sends the stored result without running the job again.
    send(&mut socket, install_job(42)).await;
    let AgentMessage::JobResult(resent) = receive_non_report(&mut socket).await else {
        panic!("expected the stored job result");
    };
    assert_eq!(resent, result);
    assert_eq!(manager.installs.load(Ordering::SeqCst), 1);

    // After the acknowledgement the result is gone and a late delivery is ignored.
    send(&mut socket, ServerMessage::JobResultAck { job_id: 42 }).await;
    send(&mut socket, install_job(42)).await;

    // Job 43 finishes but is not acknowledged before the connection drops.
    send(&mut socket, install_job(43)).await;
    assert_eq!(
        receive_non_report(&mut socket).await,
        AgentMessage::JobStarted { job_id: 43 }
    );
    let AgentMessage::JobResult(result_43) = receive_non_report(&mut socket).await else {
        panic!("expected the result of job 43");
    };
    assert_eq!(manager.installs.load(Ordering::SeqCst), 2);
    assert!(!state.path().join("jobs/42.result.json").exists());
    assert!(state.path().join("jobs/43.result.json").exists());
    drop(socket);

    // The agent reconnects with the same key and re-sends only the unacknowledged result.
    let (mut socket, second_key) = accept_agent(&listener).await;
    assert_eq!(first_key, second_key);
    let AgentMessage::JobResult(again) = receive_non_report(&mut socket).await else {
        panic!("expected the unacknowledged result after Welcome");
    };
    assert_eq!(again, result_43);
    // Every Welcome of an approved host brings the inventory again, even when unchanged.
    assert!(
        matches!(
            receive_non_report(&mut socket).await,
            AgentMessage::Inventory(_)
        ),
        "expected the inventory after the second Welcome"
    );

    agent_task.abort();
}
