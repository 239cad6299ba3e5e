#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Update reports from a real agent connection and the update queries of the API.

mod support;

use serde_json::{Value, json};
use support::agent::{AgentConnection, TestAgent};
use support::api::ApiClient;
use support::{BACKENDS, TestServer};
use sysmanage_protocol::{
    AgentMessage, ErrorCode, ManagerScan, ScanOutcome, ServerMessage, UpdateInfo, UpdateReport,
    UpdateStatus,
};
use sysmanage_server::clock::Clock;

const ENROLLMENT_KEY: &str = "updates-test-key";

async fn start(backend: support::Backend) -> TestServer {
    TestServer::start_with(backend, Clock::system(), |config| {
        config.security.enrollment_key = Some(ENROLLMENT_KEY.into());
    })
    .await
}

async fn connect_approved(server: &TestServer, hostname: &str) -> AgentConnection {
    let mut agent = TestAgent::new(hostname);
    agent.enrollment_key = Some(ENROLLMENT_KEY.into());
    agent.connect(server).await
}

fn update(manager: &str, name: &str, version: &str, security: bool) -> UpdateInfo {
    UpdateInfo {
        manager: manager.into(),
        name: name.into(),
        architecture: (manager == "apt").then(|| "amd64".into()),
        current_version: Some("1.0".into()),
        new_version: version.into(),
        origin: None,
        security,
        status: UpdateStatus::Available,
    }
}

fn scan(manager: &str, updates: Vec<UpdateInfo>) -> ManagerScan {
    ManagerScan {
        manager: manager.into(),
        outcome: ScanOutcome::Ok { updates },
    }
}

/// Sends a report and expects its `Ack`.
async fn report(connection: &mut AgentConnection, managers: Vec<ManagerScan>, reboot: bool) {
    let id = connection
        .send(AgentMessage::UpdateReport(UpdateReport {
            managers,
            reboot_required: reboot,
        }))
        .await;
    match connection.recv().await {
        ServerMessage::Ack { of } => assert_eq!(of, id),
        other => panic!("expected the report's ack, got {other:?}"),
    }
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn report_replaces_list_per_manager() {
    for backend in BACKENDS {
        let server = start(backend).await;
        let mut api = ApiClient::admin(&server).await;
        let mut connection = connect_approved(&server, "web1").await;
        let host_id = connection.host_id();

        report(
            &mut connection,
            vec![
                scan(
                    "apt",
                    vec![
                        update("apt", "openssl", "3.1", true),
                        update("apt", "curl", "8.1", false),
                    ],
                ),
                scan("snap", vec![update("snap", "firefox", "130.0", false)]),
            ],
            false,
        )
        .await;
        let page = api.get_ok(&format!("/hosts/{host_id}/updates")).await;
        assert_eq!(page["total"], 3, "{backend:?}: {page}");

        // apt succeeds with a new list; snap fails and keeps its old rows.
        report(
            &mut connection,
            vec![
                scan("apt", vec![update("apt", "curl", "8.2", false)]),
                ManagerScan {
                    manager: "snap".into(),
                    outcome: ScanOutcome::Failed {
                        error: "snapd is not running".into(),
                    },
                },
            ],
            true,
        )
        .await;
        let page = api.get_ok(&format!("/hosts/{host_id}/updates")).await;
        let mut found = names(&page);
        found.sort();
        assert_eq!(found, ["curl", "firefox"], "{backend:?}: {page}");
        let curl = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["name"] == "curl")
            .unwrap();
        assert_eq!(curl["new_version"], "8.2");
        assert_eq!(curl["architecture"], "amd64");

        let host = api.get_ok(&format!("/hosts/{host_id}")).await;
        assert_eq!(host["update_error"], "snap: snapd is not running", "{host}");
        assert_eq!(host["reboot_required"], true);
        assert_eq!(host["pending_updates"], 2);
        assert_eq!(host["security_updates"], 0);
        assert!(host["updates_checked_at"].is_string());

        // A later successful scan clears the error.
        report(&mut connection, vec![scan("snap", vec![])], false).await;
        let host = api.get_ok(&format!("/hosts/{host_id}")).await;
        assert!(host["update_error"].is_null(), "{host}");
        assert_eq!(host["pending_updates"], 1);
    }
}

#[tokio::test]
async fn report_over_one_mib_stored() {
    for backend in BACKENDS {
        let server = start(backend).await;
        let mut api = ApiClient::admin(&server).await;
        let mut connection = connect_approved(&server, "web1").await;
        let host_id = connection.host_id();

        let updates: Vec<UpdateInfo> = (0..6000)
            .map(|index| UpdateInfo {
                origin: Some("Debian:bookworm-security/main".into()),
                ..update(
                    "apt",
                    &format!("library-package-number-{index:05}"),
                    "1:2.36.1-8+deb12u1",
                    index % 2 == 0,
                )
            })
            .collect();
        let size = serde_json::to_string(&updates).unwrap().len();
        assert!(size > 1024 * 1024, "report is only {size} bytes");

        report(&mut connection, vec![scan("apt", updates)], false).await;
        let page = api.get_ok(&format!("/hosts/{host_id}/updates")).await;
        assert_eq!(page["total"], 6000, "{backend:?}");
    }
}

#[tokio::test]
async fn invalid_report_stores_nothing() {
    for backend in BACKENDS {
        let server = start(backend).await;
        let mut api = ApiClient::admin(&server).await;
        let mut connection = connect_approved(&server, "web1").await;
        let host_id = connection.host_id();

        let cases = [
            scan("apt", vec![update("apt", "openssl", "3.1; reboot", true)]),
            scan("npm", vec![update("npm", "left-pad", "1.3.0", false)]),
            scan("apt", vec![update("snap", "firefox", "130.0", false)]),
            scan(
                "apt",
                vec![
                    update("apt", "curl", "8.1", false),
                    update("apt", "curl", "8.2", false),
                ],
            ),
        ];
        for case in cases {
            let id = connection
                .send(AgentMessage::UpdateReport(UpdateReport {
                    managers: vec![case],
                    reboot_required: true,
                }))
                .await;
            match connection.recv().await {
                ServerMessage::Error(reply) => {
                    assert_eq!(reply.code, ErrorCode::InvalidRequest, "{backend:?}");
                    assert_eq!(reply.in_reply_to, Some(id));
                }
                other => panic!("expected invalid_request, got {other:?}"),
            }
        }
        connection.heartbeat().await;

        let page = api.get_ok(&format!("/hosts/{host_id}/updates")).await;
        assert_eq!(page["total"], 0, "{page}");
        let host = api.get_ok(&format!("/hosts/{host_id}")).await;
        assert_eq!(host["reboot_required"], false);
    }
}

#[tokio::test]
async fn fleet_updates_filtered() {
    for backend in BACKENDS {
        let server = start(backend).await;
        let mut api = ApiClient::admin(&server).await;
        let mut first = connect_approved(&server, "web1").await;
        let mut second = connect_approved(&server, "web2").await;

        report(
            &mut first,
            vec![scan(
                "apt",
                vec![
                    update("apt", "curl", "8.1", false),
                    update("apt", "openssl", "3.1", true),
                ],
            )],
            false,
        )
        .await;
        let mut held = update("snap", "firefox", "130.0", false);
        held.status = UpdateStatus::Held;
        report(
            &mut second,
            vec![
                scan("apt", vec![update("apt", "zlib1g", "1.3", true)]),
                scan("snap", vec![held]),
            ],
            false,
        )
        .await;

        let all = api.get_ok("/updates").await;
        assert_eq!(all["total"], 4, "{backend:?}: {all}");
        // Security updates come first.
        assert_eq!(all["items"][0]["security"], true);
        assert_eq!(all["items"][1]["security"], true);
        assert_eq!(all["items"][0]["hostname"], "web1");

        let security = api.get_ok("/updates?security=true").await;
        let mut found = names(&security);
        found.sort();
        assert_eq!(found, ["openssl", "zlib1g"]);

        let not_security = api.get_ok("/updates?security=false").await;
        assert_eq!(not_security["total"], 2);

        let of_second = api
            .get_ok(&format!("/updates?host_id={}", second.host_id()))
            .await;
        assert_eq!(of_second["total"], 2);

        let snap = api.get_ok("/updates?manager=snap&status=held").await;
        assert_eq!(names(&snap), ["firefox"]);
        assert!(snap["items"][0]["architecture"].is_null());

        let paged = api.get_ok("/updates?limit=1&offset=1").await;
        assert_eq!(paged["items"].as_array().unwrap().len(), 1);
        assert_eq!(paged["total"], 4);

        let host_security = api
            .get_ok(&format!("/hosts/{}/updates?security=true", first.host_id()))
            .await;
        assert_eq!(names(&host_security), ["openssl"]);

        let openssl = api.get_ok("/updates?name=openssl").await;
        assert_eq!(names(&openssl), ["openssl"], "{backend:?}: {openssl}");
        assert_eq!(openssl["items"][0]["hostname"], "web1");
        let prefix = api.get_ok("/updates?name=open").await;
        assert_eq!(prefix["total"], 0, "{backend:?}: name matches exactly");
        let host_openssl = api
            .get_ok(&format!("/hosts/{}/updates?name=openssl", second.host_id()))
            .await;
        assert_eq!(host_openssl["total"], 0, "{backend:?}: {host_openssl}");

        for (query, field) in [
            ("security=maybe", "security"),
            ("manager=npm", "manager"),
            ("status=gone", "status"),
            ("host_id=abc", "host_id"),
            ("limit=0", "limit"),
            ("name=-rf", "name"),
            ("nmae=openssl", "nmae"),
            ("limit=1&limit=2", "limit"),
            ("offset=9223372036854775808", "offset"),
            ("page=99999999999999999&per_page=500", "page"),
        ] {
            let (status, body) = api.get(&format!("/updates?{query}")).await;
            assert_eq!(status, 422, "{query}: {body}");
            assert_eq!(body["error"]["field"], field, "{query}: {body}");
        }
    }
}

#[tokio::test]
async fn refresh_needs_connected_agent() {
    for backend in BACKENDS {
        let server = start(backend).await;
        let mut api = ApiClient::admin(&server).await;
        let mut connection = connect_approved(&server, "web1").await;
        let host_id = connection.host_id();

        let (status, body) = api
            .post(&format!("/hosts/{host_id}/updates/refresh"), json!({}))
            .await;
        assert_eq!(status, 202, "{backend:?}: {body}");
        assert_eq!(connection.recv().await, ServerMessage::RefreshUpdates);

        connection.kill();
        let start = tokio::time::Instant::now();
        while server.state.agents.is_connected(host_id) {
            assert!(
                start.elapsed().as_secs() < 5,
                "the server kept the closed connection"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let (status, body) = api
            .post(&format!("/hosts/{host_id}/updates/refresh"), json!({}))
            .await;
        assert_eq!(status, 409, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not connected"),
            "{body}"
        );

        let (status, _) = api.post("/hosts/999999/updates/refresh", json!({})).await;
        assert_eq!(status, 404);
    }
}

/// A report that waits for the database must not hold up heartbeats: the heartbeat's `Ack`
/// arrives first, and the report's once the database is free again.
#[tokio::test]
async fn heartbeat_acked_while_report_waits() {
    use sea_orm::{ConnectionTrait, TransactionTrait};

    let server = start(support::Backend::Sqlite).await;
    let mut connection = connect_approved(&server, "busy-db").await;

    // Another connection takes SQLite's write lock and keeps it.
    let path = server.state.config.data_dir.join("sysmanage.sqlite");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let other = sysmanage_server::db::connect(&url, 1).await.unwrap();
    let lock = other.begin().await.unwrap();
    lock.execute_unprepared("UPDATE users SET updated_at = updated_at")
        .await
        .unwrap();

    let report_id = connection
        .send(AgentMessage::UpdateReport(UpdateReport {
            managers: vec![scan("apt", vec![update("apt", "openssl", "3.1", true)])],
            reboot_required: false,
        }))
        .await;
    connection.heartbeat().await;

    lock.rollback().await.unwrap();
    let acknowledged = connection
        .recv_matching(|message| match message {
            ServerMessage::Ack { of } => Some(of),
            _ => None,
        })
        .await;
    assert_eq!(acknowledged, report_id);
}
