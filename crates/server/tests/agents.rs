#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Agent endpoint: registration, signatures, approval, enrollment keys, hostname conflicts and
//! malformed frames, over a real WebSocket against both database backends.

mod support;

use sea_orm::{EntityTrait as _, PaginatorTrait as _};
use serde_json::json;
use support::agent::{AgentConnection, TestAgent};
use support::api::ApiClient;
use support::{BACKENDS, TestServer};
use sysmanage_protocol::{
    AgentMessage, Approval, ErrorCode, ManagerScan, ScanOutcome, ServerMessage, UpdateInfo,
    UpdateReport, UpdateStatus,
};
use sysmanage_server::clock::Clock;

fn report_with_openssl() -> UpdateReport {
    UpdateReport {
        managers: vec![ManagerScan {
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
        }],
        reboot_required: true,
    }
}

async fn start_with_key(backend: support::Backend, key: &str) -> TestServer {
    let key = key.to_owned();
    TestServer::start_with(backend, Clock::system(), move |config| {
        config.security.enrollment_key = Some(key);
    })
    .await
}

#[tokio::test]
async fn registration_stores_pending_host() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut api = ApiClient::admin(&server).await;
        let agent = TestAgent::new("web1");

        let connection = agent.connect(&server).await;
        let welcome = connection.welcome.clone().unwrap();
        assert_eq!(welcome.approval, Approval::Pending, "{backend:?}");
        assert_eq!(welcome.settings.heartbeat_interval_secs, 30);

        let host = api.get_ok(&format!("/hosts/{}", welcome.host_id)).await;
        assert_eq!(host["hostname"], "web1", "{backend:?}");
        assert_eq!(host["fqdn"], "web1.example.test");
        assert_eq!(host["os_name"], "Debian GNU/Linux");
        assert_eq!(host["os_version"], "12");
        assert_eq!(host["kernel"], "6.1.0-18-amd64");
        assert_eq!(host["architecture"], "x86_64");
        assert_eq!(host["machine_id"], "machine-web1");
        assert_eq!(host["agent_version"], "0.1.0-test");
        assert_eq!(host["approval"], "pending");
        assert_eq!(host["status"], "unknown");
        assert_eq!(host["connected"], true);
        assert!(host["conflict_with_host_id"].is_null());
        assert!(host["created_at"].as_str().unwrap().ends_with('Z'));

        let events = api
            .get_ok(&format!("/hosts/{}/events", welcome.host_id))
            .await;
        assert_eq!(events["items"][0]["kind"], "registered", "{events}");
    }
}

#[tokio::test]
async fn wrong_signature_rejected() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut api = ApiClient::admin(&server).await;
        let agent = TestAgent::new("web1");
        let impostor = TestAgent::new("web1");

        let (mut connection, nonce) = AgentConnection::open(&server).await;
        let mut hello = impostor.hello(&nonce);
        hello.public_key = agent.public_key();
        connection.send(AgentMessage::Hello(hello)).await;
        connection
            .expect_error(ErrorCode::AuthenticationFailed)
            .await;
        connection.expect_closed().await;

        let (mut connection, nonce) = AgentConnection::open(&server).await;
        let mut hello = agent.hello(&nonce);
        hello.public_key = "not base64!".into();
        connection.send(AgentMessage::Hello(hello)).await;
        connection
            .expect_error(ErrorCode::AuthenticationFailed)
            .await;
        connection.expect_closed().await;

        let hosts = api.get_ok("/hosts").await;
        assert_eq!(hosts["total"], 0, "{backend:?}: {hosts}");
    }
}

#[tokio::test]
async fn approval_notifies_agent() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut api = ApiClient::admin(&server).await;
        let mut connection = TestAgent::new("web1").connect(&server).await;
        let host_id = connection.host_id();

        let (status, body) = api
            .post(&format!("/hosts/{host_id}/approve"), json!({}))
            .await;
        assert_eq!(status, 200, "{backend:?}: {body}");
        assert_eq!(body["approval"], "approved");
        assert_eq!(
            connection.recv().await,
            ServerMessage::ApprovalChanged {
                approval: Approval::Approved
            }
        );

        let (status, body) = api
            .post(&format!("/hosts/{host_id}/reject"), json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["approval"], "rejected");
        assert_eq!(
            connection.recv().await,
            ServerMessage::ApprovalChanged {
                approval: Approval::Rejected
            }
        );

        let events = api.get_ok(&format!("/hosts/{host_id}/events")).await;
        let kinds: Vec<&str> = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|event| event["kind"].as_str().unwrap())
            .collect();
        assert!(kinds.contains(&"approved"), "{kinds:?}");
        assert_eq!(kinds[0], "rejected", "{kinds:?}");
    }
}

#[tokio::test]
async fn enrollment_key_approves() {
    for backend in BACKENDS {
        let server = start_with_key(backend, "s3cret-enrollment").await;

        let mut agent = TestAgent::new("web1");
        agent.enrollment_key = Some("s3cret-enrollment".into());
        let connection = agent.connect(&server).await;
        assert_eq!(
            connection.welcome.as_ref().unwrap().approval,
            Approval::Approved,
            "{backend:?}"
        );

        let mut wrong = TestAgent::new("web2");
        wrong.enrollment_key = Some("s3cret-enrollmenT".into());
        let connection = wrong.connect(&server).await;
        assert_eq!(
            connection.welcome.as_ref().unwrap().approval,
            Approval::Pending,
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn same_hostname_conflict_stays_pending() {
    for backend in BACKENDS {
        let server = start_with_key(backend, "s3cret-enrollment").await;
        let mut api = ApiClient::admin(&server).await;

        let mut original = TestAgent::new("db1");
        original.enrollment_key = Some("s3cret-enrollment".into());
        let mut original_connection = original.connect(&server).await;
        let original_id = original_connection.host_id();

        // Same hostname, another key, even with the enrollment key: a separate pending host.
        let mut newcomer = TestAgent::new("db1");
        newcomer.enrollment_key = Some("s3cret-enrollment".into());
        newcomer.host.os_version = "13".into();
        let newcomer_connection = newcomer.connect(&server).await;
        let newcomer_id = newcomer_connection.host_id();
        assert_ne!(newcomer_id, original_id, "{backend:?}");
        assert_eq!(
            newcomer_connection.welcome.as_ref().unwrap().approval,
            Approval::Pending
        );

        let host = api.get_ok(&format!("/hosts/{newcomer_id}")).await;
        assert_eq!(host["approval"], "pending");
        assert_eq!(host["conflict_with_host_id"], original_id);
        assert_eq!(host["conflict_with"]["hostname"], "db1");
        assert_eq!(host["conflict_with"]["approval"], "approved");

        let original_host = api.get_ok(&format!("/hosts/{original_id}")).await;
        assert_eq!(original_host["approval"], "approved");
        assert_eq!(original_host["os_version"], "12");

        let (status, body) = api
            .post(&format!("/hosts/{newcomer_id}/approve"), json!({}))
            .await;
        assert_eq!(status, 409, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("replace"),
            "{body}"
        );

        let (status, body) = api
            .post(
                &format!("/hosts/{newcomer_id}/approve"),
                json!({"replace": true}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["approval"], "approved");
        assert!(body["conflict_with_host_id"].is_null());
        let original_host = api.get_ok(&format!("/hosts/{original_id}")).await;
        assert_eq!(original_host["approval"], "rejected");
        assert_eq!(
            original_connection.recv().await,
            ServerMessage::ApprovalChanged {
                approval: Approval::Rejected
            }
        );
    }
}

#[tokio::test]
async fn pending_update_report_ignored() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut api = ApiClient::admin(&server).await;
        let mut connection = TestAgent::new("web1").connect(&server).await;
        let host_id = connection.host_id();

        let id = connection
            .send(AgentMessage::UpdateReport(report_with_openssl()))
            .await;
        match connection.recv().await {
            ServerMessage::Error(reply) => {
                assert_eq!(reply.code, ErrorCode::NotApproved, "{backend:?}");
                assert_eq!(reply.in_reply_to, Some(id));
            }
            other => panic!("expected not_approved, got {other:?}"),
        }
        connection.heartbeat().await;

        let updates = api.get_ok(&format!("/hosts/{host_id}/updates")).await;
        assert_eq!(updates["total"], 0, "{updates}");
        let host = api.get_ok(&format!("/hosts/{host_id}")).await;
        assert!(host["updates_checked_at"].is_null(), "{host}");
        assert_eq!(host["reboot_required"], false);
    }
}

#[tokio::test]
async fn rejected_host_facts_unchanged() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut api = ApiClient::admin(&server).await;
        let mut agent = TestAgent::new("web1");
        let connection = agent.connect(&server).await;
        let host_id = connection.host_id();
        drop(connection);

        let (status, _) = api
            .post(&format!("/hosts/{host_id}/reject"), json!({}))
            .await;
        assert_eq!(status, 200);

        agent.host.hostname = "renamed".into();
        let connection = agent.connect(&server).await;
        assert_eq!(connection.host_id(), host_id, "{backend:?}");
        assert_eq!(
            connection.welcome.as_ref().unwrap().approval,
            Approval::Rejected
        );
        let host = api.get_ok(&format!("/hosts/{host_id}")).await;
        assert_eq!(host["hostname"], "web1", "{host}");
    }
}

#[tokio::test]
async fn malformed_frames_keep_connection() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut connection = TestAgent::new("web1").connect(&server).await;

        connection.send_text("this is not json").await;
        match connection.recv().await {
            ServerMessage::Error(reply) => {
                assert_eq!(reply.code, ErrorCode::MalformedMessage, "{backend:?}");
                assert_eq!(reply.in_reply_to, None);
            }
            other => panic!("expected malformed_message, got {other:?}"),
        }

        let id = uuid::Uuid::new_v4();
        connection
            .send_text(&format!(
                r#"{{"v":1,"id":"{id}","type":"format_disk","data":{{}}}}"#
            ))
            .await;
        match connection.recv().await {
            ServerMessage::Error(reply) => {
                assert_eq!(reply.code, ErrorCode::MalformedMessage);
                assert_eq!(reply.in_reply_to, Some(id));
            }
            other => panic!("expected malformed_message, got {other:?}"),
        }

        connection
            .send_text(&format!(
                r#"{{"v":2,"id":"{id}","type":"heartbeat","data":{{}}}}"#
            ))
            .await;
        connection.expect_error(ErrorCode::UnsupportedVersion).await;

        connection.send_binary(&[0, 159, 146, 150]).await;
        connection.expect_error(ErrorCode::MalformedMessage).await;

        connection
            .send_text(&format!(
                r#"{{"v":1,"id":"{id}","type":"job_started","data":{{"job_id":"seven"}}}}"#
            ))
            .await;
        connection.expect_error(ErrorCode::MalformedMessage).await;

        connection.heartbeat().await;
    }
}

#[tokio::test]
async fn malformed_frames_before_hello_close() {
    let server = TestServer::start(support::Backend::Sqlite).await;
    let (mut connection, _nonce) = AgentConnection::open(&server).await;

    for _ in 0..3 {
        connection.send_text("this is not json").await;
        connection.expect_error(ErrorCode::MalformedMessage).await;
    }
    connection.expect_closed().await;
}

#[tokio::test]
async fn unsupported_version_before_hello_closes() {
    let server = TestServer::start(support::Backend::Sqlite).await;
    let (mut connection, _nonce) = AgentConnection::open(&server).await;

    let id = uuid::Uuid::new_v4();
    connection
        .send_text(&format!(
            r#"{{"v":2,"id":"{id}","type":"hello","data":{{}}}}"#
        ))
        .await;
    connection.expect_error(ErrorCode::UnsupportedVersion).await;
    connection.expect_closed().await;
}

#[tokio::test]
async fn oversized_message_before_hello_named() {
    let server = TestServer::start(support::Backend::Sqlite).await;
    let (mut connection, _nonce) = AgentConnection::open(&server).await;

    let text = "A".repeat(sysmanage_protocol::MAX_MESSAGE_SIZE + 1);
    // The server closes the connection after the frame header, so the rest of the write fails.
    let _ = connection.try_send_text(&text).await;
    let message = connection.expect_error(ErrorCode::MalformedMessage).await;
    assert!(message.contains("larger than the maximum"), "{message}");
    connection.expect_closed().await;
}

#[tokio::test]
async fn long_type_reply_truncated() {
    let server = TestServer::start(support::Backend::Sqlite).await;
    let mut connection = TestAgent::new("web1").connect(&server).await;

    let id = uuid::Uuid::new_v4();
    let long_type = "A".repeat(1024 * 1024);
    for _ in 0..10 {
        connection
            .send_text(&format!(
                r#"{{"v":1,"id":"{id}","type":"{long_type}","data":{{}}}}"#
            ))
            .await;
        let message = connection.expect_error(ErrorCode::MalformedMessage).await;
        assert!(message.len() < 1000, "reply is {} bytes", message.len());
    }
    connection.heartbeat().await;
}

/// Log records written by a `tracing` subscriber, one string per event.
#[derive(Clone, Default)]
struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

/// Writer of one event, which stores the formatted record when it is dropped.
struct RecordWriter {
    logs: CapturedLogs,
    record: Vec<u8>,
}

impl std::io::Write for RecordWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.record.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for RecordWriter {
    fn drop(&mut self) {
        let record = String::from_utf8_lossy(&self.record).into_owned();
        self.logs.0.lock().unwrap().push(record);
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = RecordWriter;

    fn make_writer(&'a self) -> Self::Writer {
        RecordWriter {
            logs: self.clone(),
            record: Vec::new(),
        }
    }
}

#[tokio::test]
async fn newline_in_type_escaped_in_log() {
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = TestServer::start(support::Backend::Sqlite).await;
    let mut connection = TestAgent::new("web1").connect(&server).await;
    let id = uuid::Uuid::new_v4();
    let forged = "x\nERROR forged record";
    let json_type = serde_json::to_string(forged).unwrap();
    connection
        .send_text(&format!(
            r#"{{"v":1,"id":"{id}","type":{json_type},"data":{{}}}}"#
        ))
        .await;
    let message = connection.expect_error(ErrorCode::MalformedMessage).await;
    assert!(message.contains("forged record"), "{message}");

    connection
        .send(AgentMessage::Error(sysmanage_protocol::ErrorReply {
            in_reply_to: None,
            code: ErrorCode::Internal,
            message: "failed\nERROR forged record".into(),
        }))
        .await;
    connection.heartbeat().await;

    let records = logs.0.lock().unwrap().clone();
    let malformed: Vec<&String> = records
        .iter()
        .filter(|record| record.contains("malformed agent message"))
        .collect();
    assert_eq!(malformed.len(), 1, "{records:#?}");
    let agent_error: Vec<&String> = records
        .iter()
        .filter(|record| record.contains("agent could not process a server message"))
        .collect();
    assert_eq!(agent_error.len(), 1, "{records:#?}");
    for record in &records {
        let body = record.strip_suffix('\n').unwrap_or(record);
        assert!(!body.contains('\n'), "raw newline in log record {record:?}");
    }
}

/// Sends a signed `Hello` and returns the rejection message, expecting the connection to close.
async fn expect_registration_rejected(agent: &TestAgent, server: &TestServer) -> String {
    let (mut connection, nonce) = AgentConnection::open(server).await;
    connection
        .send(AgentMessage::Hello(agent.hello(&nonce)))
        .await;
    let message = connection
        .expect_error(ErrorCode::AuthenticationFailed)
        .await;
    connection.expect_closed().await;
    message
}

#[tokio::test]
async fn pending_host_limit_rejects_new_keys() {
    for backend in BACKENDS {
        let server = TestServer::start_with(backend, Clock::system(), |config| {
            config.agents.max_pending_hosts = 2;
            config.security.enrollment_key = Some("s3cret-enrollment".into());
        })
        .await;
        let first = TestAgent::new("web1");
        first.connect(&server).await;
        TestAgent::new("web2").connect(&server).await;

        let message = expect_registration_rejected(&TestAgent::new("web3"), &server).await;
        assert!(
            message.contains("pending approval"),
            "{backend:?}: {message}"
        );

        let known = first.connect(&server).await;
        assert_eq!(known.welcome.unwrap().approval, Approval::Pending);

        let mut enrolled = TestAgent::new("web4");
        enrolled.enrollment_key = Some("s3cret-enrollment".into());
        let connection = enrolled.connect(&server).await;
        assert_eq!(connection.welcome.unwrap().approval, Approval::Approved);

        let count = sysmanage_server::db::entities::host::Entity::find()
            .count(&server.state.db)
            .await
            .unwrap();
        assert_eq!(count, 3, "{backend:?}");
    }
}

#[tokio::test]
async fn registrations_per_address_limited() {
    for backend in BACKENDS {
        let server = TestServer::start_with(backend, Clock::system(), |config| {
            config.agents.max_registrations_per_address_per_minute = 3;
        })
        .await;
        let first = TestAgent::new("web1");
        first.connect(&server).await;
        TestAgent::new("web2").connect(&server).await;
        TestAgent::new("web3").connect(&server).await;

        let message = expect_registration_rejected(&TestAgent::new("web4"), &server).await;
        assert!(
            message.contains("from this address"),
            "{backend:?}: {message}"
        );

        let known = first.connect(&server).await;
        assert_eq!(known.welcome.unwrap().approval, Approval::Pending);
    }
}

#[tokio::test]
async fn wrong_enrollment_key_logged() {
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = start_with_key(support::Backend::Sqlite, "s3cret-enrollment").await;
    let mut agent = TestAgent::new("web1");
    agent.enrollment_key = Some("wrong-enrollment-key".into());
    let connection = agent.connect(&server).await;
    let welcome = connection.welcome.clone().unwrap();
    assert_eq!(welcome.approval, Approval::Pending);

    let records = logs.0.lock().unwrap().clone();
    let pending: Vec<&String> = records
        .iter()
        .filter(|record| record.contains("enrollment key did not match"))
        .collect();
    assert_eq!(pending.len(), 1, "{records:#?}");
    assert!(
        pending[0].contains(&format!("host_id={}", welcome.host_id)),
        "{}",
        pending[0]
    );
    assert!(pending[0].contains("peer=127.0.0.1"), "{}", pending[0]);
    for record in &records {
        assert!(!record.contains("wrong-enrollment-key"), "{record}");
        assert!(!record.contains("s3cret-enrollment"), "{record}");
    }
}

#[tokio::test]
async fn oversized_message_after_hello_closes() {
    let server = TestServer::start(support::Backend::Sqlite).await;
    let mut connection = TestAgent::new("web1").connect(&server).await;

    let text = "A".repeat(sysmanage_protocol::MAX_MESSAGE_SIZE + 1);
    // The server closes the connection after the frame header, so the rest of the write fails.
    let _ = connection.try_send_text(&text).await;
    connection.expect_closed().await;
}
