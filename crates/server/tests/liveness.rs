#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Liveness: up/down transitions of real agent connections, with short timeouts or a manual
//! clock, and batched writes of last-seen times and heartbeat resource snapshots.

mod support;

use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use support::agent::{AgentConnection, TestAgent};
use support::api::ApiClient;
use support::{BACKENDS, TestServer};
use sysmanage_protocol::{AgentMessage, Heartbeat, ResourceSnapshot, ServerMessage};
use sysmanage_server::clock::Clock;
use sysmanage_server::config::Config;
use sysmanage_server::db::entities::host;

const ENROLLMENT_KEY: &str = "liveness-test-key";

fn fast_liveness(config: &mut Config) {
    config.security.enrollment_key = Some(ENROLLMENT_KEY.into());
    config.agents.heartbeat_interval_secs = 1;
    config.agents.heartbeat_timeout_secs = Some(3);
    config.agents.disconnect_grace_secs = 1;
    config.agents.last_seen_flush_interval_ms = 200;
}

fn approved_agent(hostname: &str) -> TestAgent {
    let mut agent = TestAgent::new(hostname);
    agent.enrollment_key = Some(ENROLLMENT_KEY.into());
    agent
}

/// Polls the host until its status is `status` and returns the time it took.
async fn wait_for_status(
    api: &mut ApiClient,
    host_id: i64,
    status: &str,
    limit: Duration,
) -> Duration {
    let start = tokio::time::Instant::now();
    loop {
        let host = api.get_ok(&format!("/hosts/{host_id}")).await;
        if host["status"] == status {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "host {host_id} did not become {status} within {limit:?}: {host}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn event_kinds(api: &mut ApiClient, host_id: i64) -> Vec<String> {
    let events = api.get_ok(&format!("/hosts/{host_id}/events")).await;
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn killed_agent_down_then_up() {
    for backend in BACKENDS {
        let server = TestServer::start_with(backend, Clock::system(), fast_liveness).await;
        let mut api = ApiClient::admin(&server).await;
        let agent = approved_agent("web1");

        let mut connection = agent.connect(&server).await;
        let host_id = connection.host_id();
        connection.heartbeat().await;
        wait_for_status(&mut api, host_id, "up", Duration::from_secs(3)).await;

        connection.kill();
        // Grace 1 s after the close, checked every 250 ms.
        let took = wait_for_status(&mut api, host_id, "down", Duration::from_secs(4)).await;
        assert!(
            took >= Duration::from_millis(500),
            "{backend:?}: down after {took:?}"
        );

        let mut connection = agent.connect(&server).await;
        connection.heartbeat().await;
        wait_for_status(&mut api, host_id, "up", Duration::from_secs(3)).await;

        let kinds = event_kinds(&mut api, host_id).await;
        assert_eq!(
            kinds[..3],
            ["up".to_owned(), "down".to_owned(), "up".to_owned()],
            "{backend:?}: {kinds:?}"
        );
        let events = api.get_ok(&format!("/hosts/{host_id}/events")).await;
        assert!(
            events["items"][1]["detail"]
                .as_str()
                .unwrap()
                .starts_with("connection closed"),
            "{events}"
        );
    }
}

#[tokio::test]
async fn heartbeating_host_never_down() {
    for backend in BACKENDS {
        let server = TestServer::start_with(backend, Clock::system(), fast_liveness).await;
        let mut api = ApiClient::admin(&server).await;
        let mut connection = approved_agent("web1").connect(&server).await;
        let host_id = connection.host_id();
        wait_for_status(&mut api, host_id, "up", Duration::from_secs(3)).await;

        // Eight seconds are more than two heartbeat timeouts of 3 s.
        for _ in 0..16 {
            connection.heartbeat().await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            let host = api.get_ok(&format!("/hosts/{host_id}")).await;
            assert_eq!(host["status"], "up", "{backend:?}: {host}");
        }
        let kinds = event_kinds(&mut api, host_id).await;
        assert!(!kinds.contains(&"down".to_owned()), "{kinds:?}");
    }
}

#[tokio::test]
async fn silent_host_down_by_manual_clock() {
    for backend in BACKENDS {
        let clock = Clock::manual(1_800_000_000_000);
        let server = TestServer::start_with(backend, clock.clone(), |config| {
            config.security.enrollment_key = Some(ENROLLMENT_KEY.into());
            // A long interval keeps the server's own silent-connection close out of the test.
            config.agents.heartbeat_interval_secs = 30;
            config.agents.heartbeat_timeout_secs = Some(90);
        })
        .await;
        let mut api = ApiClient::admin(&server).await;
        let mut connection = approved_agent("web1").connect(&server).await;
        let host_id = connection.host_id();
        wait_for_status(&mut api, host_id, "up", Duration::from_secs(3)).await;

        clock.advance(89_000);
        connection.heartbeat().await;
        clock.advance(89_000);
        tokio::time::sleep(Duration::from_millis(600)).await;
        let host = api.get_ok(&format!("/hosts/{host_id}")).await;
        assert_eq!(host["status"], "up", "{backend:?}: {host}");

        clock.advance(1_000);
        wait_for_status(&mut api, host_id, "down", Duration::from_secs(3)).await;
        let events = api.get_ok(&format!("/hosts/{host_id}/events")).await;
        assert_eq!(events["items"][0]["kind"], "down");
        assert_eq!(events["items"][0]["detail"], "no heartbeat for 90 s");

        connection.heartbeat().await;
        wait_for_status(&mut api, host_id, "up", Duration::from_secs(3)).await;
    }
}

async fn hosts_seen_at(server: &TestServer, ids: &[i64], at_ms: i64) -> usize {
    host::Entity::find()
        .filter(host::Column::Id.is_in(ids.iter().copied()))
        .filter(host::Column::LastSeenAt.eq(at_ms))
        .all(&server.state.db)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn last_seen_flushed_in_one_batch() {
    for backend in BACKENDS {
        let start_ms = 1_800_000_000_000;
        let clock = Clock::manual(start_ms);
        let server = TestServer::start_with(backend, clock.clone(), |config| {
            fast_liveness(config);
            config.agents.heartbeat_interval_secs = 30;
            config.agents.last_seen_flush_interval_ms = 300;
        })
        .await;

        let mut connections = Vec::new();
        for index in 0..20 {
            connections.push(
                approved_agent(&format!("web{index}"))
                    .connect(&server)
                    .await,
            );
        }
        let ids: Vec<i64> = connections.iter().map(AgentConnection::host_id).collect();
        let start = tokio::time::Instant::now();
        while hosts_seen_at(&server, &ids, start_ms).await < ids.len() {
            assert!(
                start.elapsed() < Duration::from_secs(3),
                "{backend:?}: connect times not written within 3 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        // The test runtime has one thread, so no flush runs between these calls: all 20
        // heartbeats land in the same flush, which is one transaction.
        clock.advance(5_000);
        for id in &ids {
            server.state.liveness.heartbeat(*id, None);
        }
        let start = tokio::time::Instant::now();
        loop {
            let written = hosts_seen_at(&server, &ids, start_ms + 5_000).await;
            if written == ids.len() {
                break;
            }
            assert_eq!(
                written, 0,
                "{backend:?}: a flush wrote only part of the hosts"
            );
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "{backend:?}: last-seen times not written within 2 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        let mut api = ApiClient::admin(&server).await;
        let host = api.get_ok(&format!("/hosts/{}", ids[0])).await;
        assert_eq!(host["last_seen_at"], "2027-01-15T08:00:05.000Z", "{host}");
        drop(connections);
    }
}

fn snapshot() -> ResourceSnapshot {
    ResourceSnapshot {
        load_average: [0.5, 0.25, 0.125],
        memory_used_bytes: 3 << 30,
        memory_total_bytes: 8 << 30,
        disk_used_bytes: 40 << 30,
        disk_total_bytes: 100 << 30,
    }
}

/// Sends a heartbeat with `snapshot()` and expects its `Ack`.
async fn heartbeat_with_resources(connection: &mut AgentConnection) {
    let heartbeat = Heartbeat {
        resources: Some(snapshot()),
    };
    let id = connection.send(AgentMessage::Heartbeat(heartbeat)).await;
    connection
        .recv_matching(|message| match message {
            ServerMessage::Ack { of } if of == id => Some(()),
            _ => None,
        })
        .await;
}

#[tokio::test]
async fn resources_reach_api_and_database() {
    for backend in BACKENDS {
        let server = TestServer::start_with(backend, Clock::system(), fast_liveness).await;
        let mut api = ApiClient::admin(&server).await;
        let mut approved = approved_agent("web1").connect(&server).await;
        let mut pending = TestAgent::new("web2").connect(&server).await;
        let approved_id = approved.host_id();
        let pending_id = pending.host_id();

        let before = api.get_ok(&format!("/hosts/{approved_id}")).await;
        assert_eq!(before["resources"], serde_json::Value::Null, "{backend:?}");
        assert_eq!(before["resources_at"], serde_json::Value::Null);

        heartbeat_with_resources(&mut approved).await;
        heartbeat_with_resources(&mut pending).await;

        // The API reads the tracker, so the snapshot shows before any flush.
        let host = api.get_ok(&format!("/hosts/{approved_id}")).await;
        assert_eq!(
            host["resources"]["load_average"],
            serde_json::json!([0.5, 0.25, 0.125]),
            "{backend:?}: {host}"
        );
        assert_eq!(host["resources"]["memory_used_bytes"], 3_u64 << 30);
        assert_eq!(host["resources"]["disk_total_bytes"], 100_u64 << 30);
        assert!(
            host["resources_at"]
                .as_str()
                .is_some_and(|time| time.ends_with('Z')),
            "{host}"
        );

        // The flush writes the snapshot within a few flush intervals of 200 ms.
        let start = tokio::time::Instant::now();
        let stored = loop {
            let model = host::Entity::find_by_id(approved_id)
                .one(&server.state.db)
                .await
                .unwrap()
                .unwrap();
            if let Some(json) = model.resources {
                assert!(model.resources_at.is_some(), "{backend:?}");
                break json;
            }
            assert!(
                start.elapsed() < Duration::from_secs(3),
                "{backend:?}: resources not written within 3 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let stored: ResourceSnapshot = serde_json::from_str(&stored).unwrap();
        assert_eq!(stored, snapshot());

        // A pending host's snapshot is kept nowhere.
        let host = api.get_ok(&format!("/hosts/{pending_id}")).await;
        assert_eq!(host["resources"], serde_json::Value::Null, "{backend:?}");
        let model = host::Entity::find_by_id(pending_id)
            .one(&server.state.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(model.resources, None);
    }
}
