#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Runs the load generator against a small in-test WebSocket server on 127.0.0.1 that speaks the
//! server side of the agent protocol: it checks every Hello signature, acknowledges heartbeats,
//! inventories and reports, sends each host one install job, and approves or rejects hosts
//! while they are connected. Plain HTTP servers that respond to every upgrade with one status
//! check which responses stop the run and which are retried.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::Parser;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use futures_util::{SinkExt, StreamExt};
use sysmanage_loadgen::config::Args;
use sysmanage_loadgen::run::{Summary, run};
use sysmanage_protocol::{
    AgentMessage, AgentSettings, Approval, Envelope, InstallJob, InstallRequest, NONCE_LEN,
    ServerMessage, Welcome,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

const ENROLLMENT_KEY: &str = "mock-enrollment-key";

/// How the mock server treats a host's approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ApprovalFlow {
    /// Every `Welcome` carries `approved`.
    Approved,
    /// `Welcome` carries `pending`, and the first heartbeat of the connection gets an
    /// `ApprovalChanged` to approved, as when an administrator approves a connected host.
    ApproveWhileConnected,
    /// The first connection of a host is welcomed as pending and rejected by `ApprovalChanged`
    /// at its first heartbeat. Later connections are welcomed as rejected.
    RejectWhileConnected,
}

/// What the mock server saw.
#[derive(Debug, Default)]
struct Observed {
    hellos: u64,
    invalid_signatures: u64,
    wrong_enrollment_keys: u64,
    public_keys: HashSet<String>,
    peers: HashSet<std::net::IpAddr>,
    heartbeats: u64,
    reports: u64,
    inventories: u64,
    /// Inventories and reports that arrived before the host was approved.
    sent_while_not_approved: u64,
    /// Hosts that were sent an `ApprovalChanged`.
    approval_changes_sent: HashSet<i64>,
    /// Connections that the agent closed.
    closed_by_agent: u64,
    /// `reboot_required` of the last update report per host.
    last_report_reboot_required: HashMap<i64, bool>,
    /// Jobs whose result reported `reboot_required`.
    job_results_reboot_required: HashSet<i64>,
    /// Hosts that were sent their one install job.
    jobs_sent: HashSet<i64>,
    jobs_started: HashSet<i64>,
    /// Job results received per job id, resends included.
    job_results: HashMap<i64, u64>,
}

async fn start_mock_server(flow: ApprovalFlow) -> (SocketAddr, Arc<Mutex<Observed>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let observed = Arc::new(Mutex::new(Observed::default()));
    let shared = Arc::clone(&observed);
    tokio::spawn(async move {
        loop {
            let (stream, peer) = listener.accept().await.unwrap();
            shared.lock().unwrap().peers.insert(peer.ip());
            tokio::spawn(serve_agent(stream, Arc::clone(&shared), flow));
        }
    });
    (address, observed)
}

async fn send(
    socket: &mut tokio_tungstenite::WebSocketStream<TcpStream>,
    message: ServerMessage,
) -> bool {
    let envelope = Envelope::new(message);
    socket.send(Message::text(envelope.to_json())).await.is_ok()
}

async fn serve_agent(stream: TcpStream, observed: Arc<Mutex<Observed>>, flow: ApprovalFlow) {
    let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let nonce: [u8; NONCE_LEN] = rand::random();
    let challenge = Envelope::new(ServerMessage::Challenge {
        nonce: hex::encode(nonce),
        server_version: "mock".to_owned(),
    });
    socket
        .send(Message::text(challenge.to_json()))
        .await
        .unwrap();

    let Some(Ok(Message::Text(text))) = socket.next().await else {
        return;
    };
    let hello = match sysmanage_protocol::decode::<AgentMessage>(text.as_str())
        .unwrap()
        .payload
    {
        AgentMessage::Hello(hello) => hello,
        other => panic!("expected Hello, got {other:?}"),
    };
    let public_key: [u8; 32] = BASE64
        .decode(&hello.public_key)
        .unwrap()
        .try_into()
        .unwrap();
    let signature = Signature::from_slice(&BASE64.decode(&hello.signature).unwrap()).unwrap();
    let message = sysmanage_protocol::signed_challenge_bytes(&nonce, &public_key);
    let valid = VerifyingKey::from_bytes(&public_key)
        .unwrap()
        .verify(&message, &signature)
        .is_ok();
    let host_id = {
        let mut observed = observed.lock().unwrap();
        observed.hellos += 1;
        if !valid {
            observed.invalid_signatures += 1;
        }
        if hello.enrollment_key.as_deref() != Some(ENROLLMENT_KEY) {
            observed.wrong_enrollment_keys += 1;
        }
        observed.public_keys.insert(hello.public_key.clone());
        hello
            .host
            .hostname
            .trim_start_matches("loadgen-")
            .parse::<i64>()
            .unwrap()
            + 1
    };

    let first_connection = !observed
        .lock()
        .unwrap()
        .approval_changes_sent
        .contains(&host_id);
    let mut approval = match flow {
        ApprovalFlow::Approved => Approval::Approved,
        ApprovalFlow::ApproveWhileConnected => Approval::Pending,
        ApprovalFlow::RejectWhileConnected if first_connection => Approval::Pending,
        ApprovalFlow::RejectWhileConnected => Approval::Rejected,
    };
    let welcome = ServerMessage::Welcome(Welcome {
        host_id,
        approval,
        settings: AgentSettings {
            heartbeat_interval_secs: 30,
            update_check_interval_secs: 3600,
        },
        update_statuses: Vec::new(),
    });
    assert!(send(&mut socket, welcome).await);

    loop {
        let message = match socket.next().await {
            Some(Ok(Message::Close(_))) | None => {
                observed.lock().unwrap().closed_by_agent += 1;
                return;
            }
            Some(Err(_)) => return,
            Some(Ok(message)) => message,
        };
        let Message::Text(text) = message else {
            continue;
        };
        let envelope = sysmanage_protocol::decode::<AgentMessage>(text.as_str()).unwrap();
        let reply = match envelope.payload {
            AgentMessage::Heartbeat(_) => {
                observed.lock().unwrap().heartbeats += 1;
                if !send(&mut socket, ServerMessage::Ack { of: envelope.id }).await {
                    return;
                }
                if approval == Approval::Pending
                    && observed
                        .lock()
                        .unwrap()
                        .approval_changes_sent
                        .insert(host_id)
                {
                    approval = if flow == ApprovalFlow::ApproveWhileConnected {
                        Approval::Approved
                    } else {
                        Approval::Rejected
                    };
                    Some(ServerMessage::ApprovalChanged { approval })
                } else {
                    None
                }
            }
            AgentMessage::Inventory(_) => {
                let mut observed = observed.lock().unwrap();
                observed.inventories += 1;
                if approval != Approval::Approved {
                    observed.sent_while_not_approved += 1;
                }
                Some(ServerMessage::Ack { of: envelope.id })
            }
            AgentMessage::UpdateReport(report) => {
                {
                    let mut observed = observed.lock().unwrap();
                    observed.reports += 1;
                    if approval != Approval::Approved {
                        observed.sent_while_not_approved += 1;
                    }
                    observed
                        .last_report_reboot_required
                        .insert(host_id, report.reboot_required);
                }
                if !send(&mut socket, ServerMessage::Ack { of: envelope.id }).await {
                    return;
                }
                // Each host gets one job, with the host id as job id, after its first report.
                if observed.lock().unwrap().jobs_sent.insert(host_id) {
                    Some(ServerMessage::InstallJob(InstallJob {
                        job_id: host_id,
                        request: InstallRequest::All,
                    }))
                } else {
                    None
                }
            }
            AgentMessage::JobStarted { job_id } => {
                observed.lock().unwrap().jobs_started.insert(job_id);
                None
            }
            AgentMessage::JobResult(result) => {
                let mut observed = observed.lock().unwrap();
                *observed.job_results.entry(result.job_id).or_insert(0) += 1;
                if result.reboot_required {
                    observed.job_results_reboot_required.insert(result.job_id);
                }
                Some(ServerMessage::JobResultAck {
                    job_id: result.job_id,
                })
            }
            other => panic!("unexpected agent message {other:?}"),
        };
        if let Some(reply) = reply
            && !send(&mut socket, reply).await
        {
            return;
        }
    }
}

async fn run_loadgen(address: SocketAddr, extra: &[&str]) -> Summary {
    let url = format!("ws://{address}");
    let mut argv = vec![
        "sysmanage-loadgen",
        "--server-url",
        &url,
        "--enrollment-key",
        ENROLLMENT_KEY,
        "--ramp-per-sec",
        "200",
        "--report-secs",
        "1",
        "--reconnect-min-ms",
        "50",
        "--reconnect-max-ms",
        "200",
    ];
    argv.extend_from_slice(extra);
    let settings = Args::try_parse_from(argv).unwrap().validate().unwrap();
    run(settings).await.unwrap()
}

#[tokio::test]
async fn agents_connect_heartbeat_and_answer_jobs() {
    let (address, observed) = start_mock_server(ApprovalFlow::Approved).await;
    let summary = run_loadgen(
        address,
        &[
            "--agents",
            "20",
            "--heartbeat-secs",
            "0.2",
            "--duration-secs",
            "3",
            "--job-delay-ms",
            "100",
            "--source-addresses",
            "3",
        ],
    )
    .await;
    let result = &summary.result;
    let observed = observed.lock().unwrap();

    assert_eq!(observed.hellos, 20);
    assert_eq!(observed.invalid_signatures, 0);
    assert_eq!(observed.wrong_enrollment_keys, 0);
    assert_eq!(observed.public_keys.len(), 20);
    let expected_peers: HashSet<std::net::IpAddr> = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
        .iter()
        .map(|address| address.parse().unwrap())
        .collect();
    assert_eq!(observed.peers, expected_peers);

    assert_eq!(result.welcomes, 20);
    assert_eq!(result.connected, 0, "every agent closed at the end");
    assert_eq!(result.reconnects, 0);
    assert!(result.errors.is_empty(), "{:?}", result.errors);
    // At 0.2 s intervals over about 2 s connected, each agent sends about 10 heartbeats.
    assert!(
        result.heartbeats_sent >= 20 * 5,
        "{}",
        result.heartbeats_sent
    );
    assert_eq!(result.heartbeats_sent, observed.heartbeats);
    assert!(
        result.heartbeats_acked + result.heartbeats_unacked >= result.heartbeats_sent - 20,
        "{result:?}"
    );
    assert_eq!(result.ack_latency.count, result.heartbeats_acked);
    assert!(result.ack_latency.p99_ms > 0.0);

    assert_eq!(result.jobs_received, 20);
    assert_eq!(observed.jobs_started.len(), 20);
    assert_eq!(result.job_results_acked, 20);
    assert_eq!(observed.job_results.len(), 20);
    assert!(observed.job_results.values().all(|count| *count == 1));
    assert_eq!(result.jobs_redelivered, 0);
    // One report on connect and one after the install job.
    assert_eq!(result.reports_sent, 40);
    assert_eq!(observed.reports, 40);
    // One inventory on connect.
    assert_eq!(result.inventories_sent, 20);
    assert_eq!(observed.inventories, 20);
    assert_eq!(result.inventories_acked, 20);
    assert!(result.first_job_received_ms > 0);
    assert!(result.last_result_acked_ms >= result.first_job_received_ms);
}

#[tokio::test]
async fn churned_agents_return_with_same_keys() {
    let (address, observed) = start_mock_server(ApprovalFlow::Approved).await;
    let summary = run_loadgen(
        address,
        &[
            "--agents",
            "10",
            "--heartbeat-secs",
            "0.2",
            "--duration-secs",
            "4",
            "--churn-share",
            "0.5",
            "--churn-at-secs",
            "1",
            "--churn-restart-after-secs",
            "1",
        ],
    )
    .await;
    let result = &summary.result;
    let observed = observed.lock().unwrap();

    assert_eq!(summary.churned_agents, 5);
    assert!(summary.churn_stopped_ms.is_some());
    assert!(summary.churn_restarted_ms.is_some());
    assert_eq!(observed.hellos, 15);
    assert_eq!(
        observed.public_keys.len(),
        10,
        "restarted agents reuse their keys"
    );
    assert_eq!(result.welcomes, 15);
    assert_eq!(result.reconnects, 5);
    assert!(result.errors.is_empty(), "{:?}", result.errors);
    // The churned agents' jobs were still running when they stopped (2 s job delay), so their
    // results are sent after the reconnect.
    assert_eq!(result.jobs_received, 10);
    assert_eq!(result.job_results_acked, 10);
    assert_eq!(result.jobs_redelivered_after_ack, 0);
}

#[tokio::test]
async fn approved_host_sends_inventory_and_report() {
    let (address, observed) = start_mock_server(ApprovalFlow::ApproveWhileConnected).await;
    let summary = run_loadgen(
        address,
        &[
            "--agents",
            "10",
            "--heartbeat-secs",
            "0.2",
            "--duration-secs",
            "3",
            "--job-delay-ms",
            "100",
        ],
    )
    .await;
    let result = &summary.result;
    let observed = observed.lock().unwrap();

    assert!(result.errors.is_empty(), "{:?}", result.errors);
    assert_eq!(result.welcomes_not_approved, 10);
    assert_eq!(result.approval_changes, 10);
    assert_eq!(observed.approval_changes_sent.len(), 10);
    assert_eq!(
        observed.sent_while_not_approved, 0,
        "a pending host sends no inventory or report"
    );
    // The approval brings one inventory and one report, and the job that the report triggers
    // brings a second report.
    assert_eq!(observed.inventories, 10);
    assert_eq!(result.inventories_acked, 10);
    assert_eq!(observed.reports, 20);
    assert_eq!(result.reports_acked, 20);
    assert_eq!(result.jobs_received, 10);
    assert_eq!(result.job_results_acked, 10);
    assert_eq!(result.rejected_closes, 0);
}

#[tokio::test]
async fn rejected_host_closes_and_reconnects_later() {
    let (address, observed) = start_mock_server(ApprovalFlow::RejectWhileConnected).await;
    let summary = run_loadgen(
        address,
        &[
            "--agents",
            "5",
            "--heartbeat-secs",
            "0.2",
            "--duration-secs",
            "3",
        ],
    )
    .await;
    let result = &summary.result;
    let observed = observed.lock().unwrap();

    assert!(result.errors.is_empty(), "{:?}", result.errors);
    assert_eq!(result.approval_changes, 5);
    assert_eq!(observed.reports, 0);
    assert_eq!(observed.inventories, 0);
    // Every connection ends with the agent closing it: the first on ApprovalChanged, later ones
    // on a Welcome that carries `rejected`.
    assert_eq!(result.rejected_closes, result.welcomes);
    assert!(
        observed.closed_by_agent >= 5,
        "{}",
        observed.closed_by_agent
    );
    assert!(
        observed.hellos >= 10,
        "reconnected after the rejection: {}",
        observed.hellos
    );
    // A rejected agent waits at least half of --reconnect-max-ms (100 ms) before it connects
    // again, so in about 3 s each agent connects at most about 30 times. Without that wait,
    // the 50 ms --reconnect-min-ms would allow twice as many.
    assert!(
        observed.hellos <= 5 * 40,
        "rejected agents reconnect without waiting: {}",
        observed.hellos
    );
}

#[tokio::test]
async fn reboot_after_install_is_reported() {
    for (probability, expected) in [("1", true), ("0", false)] {
        let (address, observed) = start_mock_server(ApprovalFlow::Approved).await;
        let summary = run_loadgen(
            address,
            &[
                "--agents",
                "10",
                "--heartbeat-secs",
                "0.5",
                "--duration-secs",
                "2",
                "--job-delay-ms",
                "100",
                "--reboot-after-install",
                probability,
            ],
        )
        .await;
        let result = &summary.result;
        let observed = observed.lock().unwrap();

        assert!(
            result.errors.is_empty(),
            "{probability}: {:?}",
            result.errors
        );
        assert_eq!(result.job_results_acked, 10, "{probability}");
        let rebooting = if expected { 10 } else { 0 };
        assert_eq!(
            observed.job_results_reboot_required.len(),
            rebooting,
            "{probability}: job results"
        );
        assert_eq!(
            result.job_results_reboot_required, rebooting as u64,
            "{probability}"
        );
        // The report that follows each job carries the flag too.
        assert_eq!(
            observed.last_report_reboot_required.len(),
            10,
            "{probability}"
        );
        assert!(
            observed
                .last_report_reboot_required
                .values()
                .all(|reboot_required| *reboot_required == expected),
            "{probability}: {:?}",
            observed.last_report_reboot_required
        );
    }
}

#[tokio::test]
async fn refused_connections_are_retried() {
    // Bind and drop a listener to get a loopback port that nothing listens on.
    let address = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let summary = run_loadgen(address, &["--agents", "2", "--duration-secs", "1"]).await;
    let result = &summary.result;
    assert_eq!(result.welcomes, 0);
    assert!(result.reconnects >= 2, "{result:?}");
    let failures = result.errors.get("connect_failed").copied().unwrap_or(0);
    assert!(failures >= 4, "{:?}", result.errors);
    assert_eq!(failures, result.connect_attempts);
}

/// Starts a server on 127.0.0.1 that responds to every request with `status_line`, such as
/// `404 Not Found`, and an empty body.
async fn start_status_server(status_line: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0; 1024];
                while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 {status_line}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    address
}

#[tokio::test]
async fn wrong_path_stops_the_binary() {
    let address = start_status_server("404 Not Found").await;
    let url = format!("ws://{address}/wrong");
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_sysmanage-loadgen"));
    command
        .args([
            "--server-url",
            &url,
            "--agents",
            "3",
            "--duration-secs",
            "120",
        ])
        .args(["--reconnect-min-ms", "50", "--reconnect-max-ms", "200"])
        .kill_on_drop(true);
    let output = tokio::time::timeout(std::time::Duration::from_secs(30), command.output())
        .await
        .expect("the load generator kept retrying a 404 response")
        .unwrap();
    assert!(!output.status.success(), "{:?}", output.status);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&url), "{stderr}");
    assert!(stderr.contains("HTTP 404 Not Found"), "{stderr}");
    assert!(stderr.contains("/agent/connect"), "{stderr}");
}

#[tokio::test]
async fn permanent_statuses_stop_the_run() {
    for status_line in [
        "200 OK",
        "400 Bad Request",
        "401 Unauthorized",
        "403 Forbidden",
        "405 Method Not Allowed",
    ] {
        let address = start_status_server(status_line).await;
        let url = format!("ws://{address}");
        let settings = Args::try_parse_from([
            "sysmanage-loadgen",
            "--server-url",
            &url,
            "--agents",
            "2",
            "--duration-secs",
            "120",
        ])
        .unwrap()
        .validate()
        .unwrap();
        let error = tokio::time::timeout(std::time::Duration::from_secs(30), run(settings))
            .await
            .unwrap_or_else(|_| panic!("the run kept retrying {status_line}"))
            .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains(&format!("HTTP {status_line}")),
            "{message}"
        );
        assert!(
            message.contains(&format!("{url}/agent/connect")),
            "{message}"
        );
    }
}

#[tokio::test]
async fn transient_statuses_are_retried() {
    for status_line in ["503 Service Unavailable", "429 Too Many Requests"] {
        let address = start_status_server(status_line).await;
        let summary = run_loadgen(address, &["--agents", "2", "--duration-secs", "1"]).await;
        let result = &summary.result;
        assert_eq!(result.welcomes, 0, "{status_line}");
        let failures = result.errors.get("upgrade_failed").copied().unwrap_or(0);
        assert!(failures >= 4, "{status_line}: {:?}", result.errors);
        assert_eq!(failures, result.connect_attempts, "{status_line}");
    }
}
