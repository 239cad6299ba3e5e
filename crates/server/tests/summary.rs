#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `GET /summary`: every count against a known fleet, on both backends.
//!
//! Most of the fleet is written straight into the database, because states such as a host that
//! is down or a job that failed 24 hours ago take minutes to reach through real agents. One host
//! comes from a real agent connection, so that the path agents take is counted too.

mod support;

use std::time::Duration;

use reqwest::Method;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection};
use serde_json::{Value, json};
use support::agent::{AgentConnection, TestAgent};
use support::api::ApiClient;
use support::{BACKENDS, Backend, TestServer};
use sysmanage_protocol::{
    AgentMessage, ManagerScan, ScanOutcome, ServerMessage, UpdateInfo, UpdateReport, UpdateStatus,
};
use sysmanage_server::clock::Clock;
use sysmanage_server::db::entities::{host, host_update, job};

const ENROLLMENT_KEY: &str = "summary-test-key";

/// Server time of every test, in Unix milliseconds (2027-01-15).
const NOW_MS: i64 = 1_800_000_000_000;
const HOUR_MS: i64 = 60 * 60 * 1000;

async fn start(backend: Backend) -> TestServer {
    TestServer::start_with(backend, Clock::manual(NOW_MS), |config| {
        config.security.enrollment_key = Some(ENROLLMENT_KEY.into());
        config.agents.last_seen_flush_interval_ms = 200;
    })
    .await
}

/// A host row as the seeded fleet describes it.
struct SeedHost {
    hostname: &'static str,
    approval: &'static str,
    status: &'static str,
    reboot_required: bool,
    update_error: Option<&'static str>,
}

async fn insert_host(db: &DatabaseConnection, seed: &SeedHost) -> i64 {
    let last_seen_at = match seed.status {
        "up" => Some(NOW_MS),
        "down" => Some(NOW_MS - 2 * HOUR_MS),
        _ => None,
    };
    let model = host::ActiveModel {
        hostname: Set(seed.hostname.into()),
        fqdn: Set(format!("{}.example.test", seed.hostname)),
        os_name: Set("Debian GNU/Linux".into()),
        os_version: Set("12".into()),
        kernel: Set("6.1.0".into()),
        architecture: Set("x86_64".into()),
        machine_id: Set(None),
        agent_version: Set("0.1.0".into()),
        public_key: Set(format!("public-key-of-{}", seed.hostname)),
        approval: Set(seed.approval.into()),
        conflict_with_host_id: Set(None),
        status: Set(seed.status.into()),
        last_seen_at: Set(last_seen_at),
        status_changed_at: Set(NOW_MS - HOUR_MS),
        reboot_required: Set(seed.reboot_required),
        updates_checked_at: Set(Some(NOW_MS - HOUR_MS)),
        update_error: Set(seed.update_error.map(str::to_owned)),
        created_at: Set(NOW_MS - 48 * HOUR_MS),
        approved_at: Set((seed.approval == "approved").then_some(NOW_MS - 47 * HOUR_MS)),
        inventory: Set(None),
        inventory_updated_at: Set(None),
        resources: Set(None),
        resources_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    model.id
}

async fn insert_update(
    db: &DatabaseConnection,
    host_id: i64,
    name: &str,
    security: bool,
    status: &str,
) {
    host_update::ActiveModel {
        host_id: Set(host_id),
        manager: Set("apt".into()),
        name: Set(name.into()),
        architecture: Set("amd64".into()),
        current_version: Set(Some("1.0".into())),
        new_version: Set("1.1".into()),
        origin: Set(None),
        security: Set(security),
        status: Set(status.into()),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
}

async fn insert_job(db: &DatabaseConnection, host_id: i64, state: &str, finished_at: Option<i64>) {
    job::ActiveModel {
        host_id: Set(host_id),
        request: Set(r#"{"packages":[]}"#.into()),
        state: Set(state.into()),
        created_by: Set(None),
        created_at: Set(NOW_MS - 72 * HOUR_MS),
        sent_at: Set(None),
        started_at: Set(None),
        finished_at: Set(finished_at),
        // Far ahead, so that the expiry sweep leaves waiting jobs alone.
        expires_at: Set(NOW_MS + 240 * HOUR_MS),
        reboot_required: Set(false),
        output_tail: Set(None),
        failure_kind: Set(None),
        failure_message: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
}

/// Connects an agent with the enrollment key, so that its host is approved and up, and sends an
/// update report with one available security update.
async fn connect_reporting_agent(server: &TestServer) -> AgentConnection {
    let mut agent = TestAgent::new("agent1");
    agent.enrollment_key = Some(ENROLLMENT_KEY.into());
    let mut connection = agent.connect(server).await;
    let update = UpdateInfo {
        manager: "apt".into(),
        name: "openssl".into(),
        architecture: Some("amd64".into()),
        current_version: Some("3.0".into()),
        new_version: "3.1".into(),
        origin: None,
        security: true,
        status: UpdateStatus::Available,
    };
    let id = connection
        .send(AgentMessage::UpdateReport(UpdateReport {
            managers: vec![ManagerScan {
                manager: "apt".into(),
                outcome: ScanOutcome::Ok {
                    updates: vec![update],
                },
            }],
            reboot_required: false,
        }))
        .await;
    match connection.recv().await {
        ServerMessage::Ack { of } => assert_eq!(of, id),
        other => panic!("expected an Ack of the update report, got {other:?}"),
    }
    connection
}

/// Polls the host until the liveness flush has stored its status as `up`, which `GET /summary`
/// reads like `GET /hosts` does.
async fn wait_until_up(api: &mut ApiClient, host_id: i64) {
    let limit = Duration::from_secs(5);
    let start = tokio::time::Instant::now();
    loop {
        let host = api.get_ok(&format!("/hosts/{host_id}")).await;
        if host["status"] == "up" {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "host {host_id} did not become up within {limit:?}: {host}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Seeds a fleet whose every count differs from the others, so that a count taken from the
/// wrong column or group fails.
async fn seed_fleet(db: &DatabaseConnection) {
    let seeds = [
        SeedHost {
            hostname: "web1",
            approval: "approved",
            status: "up",
            reboot_required: true,
            update_error: None,
        },
        SeedHost {
            hostname: "web2",
            approval: "approved",
            status: "up",
            reboot_required: false,
            update_error: Some("dnf: repository metadata download failed"),
        },
        SeedHost {
            hostname: "db1",
            approval: "approved",
            status: "down",
            reboot_required: true,
            update_error: None,
        },
        SeedHost {
            hostname: "db2",
            approval: "approved",
            status: "unknown",
            reboot_required: false,
            update_error: None,
        },
        SeedHost {
            hostname: "new1",
            approval: "pending",
            status: "unknown",
            reboot_required: true,
            update_error: Some("apt: lock held"),
        },
        SeedHost {
            hostname: "new2",
            approval: "pending",
            status: "up",
            reboot_required: false,
            update_error: None,
        },
        SeedHost {
            hostname: "old1",
            approval: "rejected",
            status: "down",
            reboot_required: true,
            update_error: None,
        },
    ];
    let mut ids = Vec::new();
    for seed in &seeds {
        ids.push(insert_host(db, seed).await);
    }
    let [web1, web2, db1, db2, new1, _new2, old1] = ids[..] else {
        panic!("expected 7 host ids, got {ids:?}");
    };

    // web1: 3 available (2 security) and 1 held security update.
    insert_update(db, web1, "openssl", true, "available").await;
    insert_update(db, web1, "libc6", true, "available").await;
    insert_update(db, web1, "curl", false, "available").await;
    insert_update(db, web1, "linux-image-amd64", true, "held").await;
    // web2: 1 available update.
    insert_update(db, web2, "vim", false, "available").await;
    // db2: only a deferred and a kept-back update, so it has no pending update.
    insert_update(db, db2, "postgresql-16", false, "deferred").await;
    insert_update(db, db2, "linux-image-amd64", true, "kept_back").await;
    // Updates of pending and rejected hosts are not counted.
    insert_update(db, new1, "bash", true, "available").await;
    insert_update(db, old1, "zlib1g", true, "available").await;

    insert_job(db, web1, "queued", None).await;
    insert_job(db, web2, "queued", None).await;
    insert_job(db, web2, "queued", None).await;
    insert_job(db, db1, "sent", None).await;
    insert_job(db, db1, "sent", None).await;
    insert_job(db, db1, "sent", None).await;
    insert_job(db, web1, "running", None).await;
    insert_job(db, web1, "succeeded", Some(NOW_MS - HOUR_MS)).await;
    insert_job(db, web1, "expired", Some(NOW_MS - HOUR_MS)).await;
    insert_job(db, web1, "failed", Some(NOW_MS - HOUR_MS)).await;
    // The 24-hour window includes its start and excludes anything older.
    insert_job(db, web2, "failed", Some(NOW_MS - 24 * HOUR_MS)).await;
    insert_job(db, web2, "failed", Some(NOW_MS - 24 * HOUR_MS - 1)).await;
    insert_job(db, db1, "failed", Some(NOW_MS - 30 * HOUR_MS)).await;
}

/// Asserts one count of the summary, naming it and the backend on failure.
fn assert_count(summary: &Value, path: &str, expected: i64, backend: Backend) {
    let value = path.split('.').fold(summary, |value, key| &value[key]);
    assert_eq!(
        value.as_i64(),
        Some(expected),
        "{path} on {backend:?}: {summary}"
    );
}

#[tokio::test]
async fn summary_counts_known_fleet() {
    for backend in BACKENDS {
        let server = start(backend).await;
        let mut api = ApiClient::admin(&server).await;
        seed_fleet(&server.state.db).await;
        let agent = connect_reporting_agent(&server).await;
        wait_until_up(&mut api, agent.host_id()).await;

        let summary = api.get_ok("/summary").await;
        let expected = [
            ("hosts.total", 8),
            ("hosts.approved", 5),
            ("hosts.pending", 2),
            ("hosts.rejected", 1),
            ("hosts.up", 3),
            ("hosts.down", 1),
            ("hosts.unknown", 1),
            ("hosts.with_pending_updates", 3),
            ("hosts.with_security_updates", 2),
            ("hosts.reboot_required", 2),
            ("hosts.update_error", 1),
            ("updates.pending", 5),
            ("updates.security", 3),
            ("updates.by_status.available.total", 5),
            ("updates.by_status.available.security", 3),
            ("updates.by_status.held.total", 1),
            ("updates.by_status.held.security", 1),
            ("updates.by_status.deferred.total", 1),
            ("updates.by_status.deferred.security", 0),
            ("updates.by_status.kept_back.total", 1),
            ("updates.by_status.kept_back.security", 1),
            ("jobs.queued", 3),
            ("jobs.sent", 3),
            ("jobs.running", 1),
            ("jobs.failed_last_24h", 2),
        ];
        for (path, count) in expected {
            assert_count(&summary, path, count, backend);
        }
        assert_eq!(
            summary["generated_at"], "2027-01-15T08:00:00.000Z",
            "{backend:?}: {summary}"
        );
    }
}

#[tokio::test]
async fn summary_of_empty_fleet_is_zero() {
    for backend in BACKENDS {
        let server = start(backend).await;
        let mut api = ApiClient::admin(&server).await;

        let summary = api.get_ok("/summary").await;
        for group in ["hosts", "jobs"] {
            for (name, value) in summary[group].as_object().unwrap() {
                assert_eq!(value, &json!(0), "{group}.{name} on {backend:?}");
            }
        }
        assert_count(&summary, "updates.pending", 0, backend);
        assert_count(&summary, "updates.security", 0, backend);
        assert_count(&summary, "updates.by_status.available.total", 0, backend);
    }
}

#[tokio::test]
async fn summary_rejects_token_and_query_errors() {
    for backend in BACKENDS {
        let server = start(backend).await;

        let response = server
            .client
            .get(server.url("/summary"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{backend:?}");

        let mut api = ApiClient::admin(&server).await;
        let (status, body) = api.request(Method::GET, "/summary?host=1", None).await;
        assert_eq!(status, 422, "{backend:?}: {body}");
        assert_eq!(body["error"]["field"], "host", "{backend:?}: {body}");
    }
}
