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

/// `kept_back` is its own status: the server lists it in `Welcome`, stores it, and the
/// `status` filter of both update lists separates it from `deferred`.
#[tokio::test]
async fn kept_back_filtered_apart_from_deferred() {
    for backend in BACKENDS {
        let server = start(backend).await;
        let mut api = ApiClient::admin(&server).await;
        let mut agent = connect_approved(&server, "web1").await;
        let statuses = &agent.welcome.as_ref().unwrap().update_statuses;
        assert!(
            statuses.iter().any(|status| status == "kept_back"),
            "{backend:?}: {statuses:?}"
        );

        let mut kept_back = update("apt", "linux-image-amd64", "6.1.76-1", true);
        kept_back.status = UpdateStatus::KeptBack;
        let mut deferred = update("apt", "libsystemd0", "252.33-1", false);
        deferred.status = UpdateStatus::Deferred;
        report(
            &mut agent,
            vec![scan(
                "apt",
                vec![update("apt", "curl", "8.1", false), kept_back, deferred],
            )],
            false,
        )
        .await;

        let host_id = agent.host_id();
        for path in [
            "/updates?status=kept_back".to_owned(),
            format!("/hosts/{host_id}/updates?status=kept_back"),
        ] {
            let page = api.get_ok(&path).await;
            assert_eq!(
                names(&page),
                ["linux-image-amd64"],
                "{backend:?} {path}: {page}"
            );
            assert_eq!(page["total"], 1, "{backend:?} {path}: {page}");
            assert_eq!(
                page["items"][0]["status"], "kept_back",
                "{backend:?} {path}"
            );
        }
        for path in [
            "/updates?status=deferred".to_owned(),
            format!("/hosts/{host_id}/updates?status=deferred"),
        ] {
            let page = api.get_ok(&path).await;
            assert_eq!(names(&page), ["libsystemd0"], "{backend:?} {path}: {page}");
            assert_eq!(page["total"], 1, "{backend:?} {path}: {page}");
        }
        let security_kept_back = api
            .get_ok("/updates?status=kept_back&security=true&manager=apt")
            .await;
        assert_eq!(
            security_kept_back["total"], 1,
            "{backend:?}: {security_kept_back}"
        );

        let (status, body) = api.get("/updates?status=kept-back").await;
        assert_eq!(status, 422, "{backend:?}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("kept_back"),
            "{backend:?}: {body}"
        );
    }
}

/// One stored update as the test expects it: `(host_id, manager, name, security, status)`.
type Expected = (i64, String, String, bool, String);

/// Selects the expected updates that a list filter matches.
type Filter = Box<dyn Fn(&Expected) -> bool>;

/// Every update of `reports`, sorted in the order of the update lists: security first, then
/// host, manager and name (all architectures of this test are equal per manager).
fn expected_order(reports: &[(i64, Vec<UpdateInfo>)]) -> Vec<Expected> {
    let mut all: Vec<Expected> = reports
        .iter()
        .flat_map(|(host_id, updates)| {
            updates.iter().map(|update| {
                (
                    *host_id,
                    update.manager.clone(),
                    update.name.clone(),
                    update.security,
                    update.status.as_str().to_owned(),
                )
            })
        })
        .collect();
    all.sort_by(|a, b| (!a.3, a.0, &a.1, &a.2).cmp(&(!b.3, b.0, &b.1, &b.2)));
    all
}

/// Reads every page of `path` (which has a query string) with pages of two, checking that each
/// page reports the same total, and returns the items with that total.
async fn all_pages(api: &mut ApiClient, path: &str) -> (Vec<Expected>, u64) {
    let mut items = Vec::new();
    let mut total = None;
    loop {
        let page = api
            .get_ok(&format!("{path}&limit=2&offset={}", items.len()))
            .await;
        let page_total = page["total"].as_u64().unwrap();
        assert_eq!(
            *total.get_or_insert(page_total),
            page_total,
            "{path}: {page}"
        );
        let page_items = page["items"].as_array().unwrap();
        for item in page_items {
            items.push((
                item["host_id"].as_i64().unwrap(),
                item["manager"].as_str().unwrap().to_owned(),
                item["name"].as_str().unwrap().to_owned(),
                item["security"].as_bool().unwrap(),
                item["status"].as_str().unwrap().to_owned(),
            ));
        }
        if page_items.len() < 2 {
            return (items, total.unwrap());
        }
    }
}

/// Checks pages and totals of `/updates` and `/hosts/{id}/updates` for many filter
/// combinations against the updates the agents reported, and the per-host counts of `/hosts`.
async fn check_update_lists(api: &mut ApiClient, reports: &[(i64, Vec<UpdateInfo>)], when: &str) {
    let expected = expected_order(reports);
    let mut cases: Vec<(String, Filter)> = vec![
        ("/updates?".into(), Box::new(|_| true)),
        ("/updates?security=true".into(), Box::new(|u| u.3)),
        ("/updates?security=false".into(), Box::new(|u| !u.3)),
        ("/updates?manager=apt".into(), Box::new(|u| u.1 == "apt")),
        (
            "/updates?manager=snap&security=false".into(),
            Box::new(|u| u.1 == "snap" && !u.3),
        ),
        ("/updates?status=held".into(), Box::new(|u| u.4 == "held")),
        (
            "/updates?manager=apt&status=available&security=true".into(),
            Box::new(|u| u.1 == "apt" && u.4 == "available" && u.3),
        ),
        (
            "/updates?name=openssl".into(),
            Box::new(|u| u.2 == "openssl"),
        ),
        (
            "/updates?name=openssl&security=false".into(),
            Box::new(|u| u.2 == "openssl" && !u.3),
        ),
    ];
    for (host_id, _) in reports {
        let id = *host_id;
        cases.push((
            format!("/updates?host_id={id}"),
            Box::new(move |u| u.0 == id),
        ));
        cases.push((
            format!("/hosts/{id}/updates?security=true"),
            Box::new(move |u| u.0 == id && u.3),
        ));
        cases.push((
            format!("/hosts/{id}/updates?manager=apt&status=available"),
            Box::new(move |u| u.0 == id && u.1 == "apt" && u.4 == "available"),
        ));
    }
    for (path, filter) in &cases {
        let want: Vec<Expected> = expected.iter().filter(|u| filter(u)).cloned().collect();
        let (found, total) = all_pages(api, path).await;
        assert_eq!(found, want, "{when}: {path}");
        assert_eq!(total, want.len() as u64, "{when}: total of {path}");
    }

    let hosts = api.get_ok("/hosts?sort=id&limit=500").await;
    for host in hosts["items"].as_array().unwrap() {
        let id = host["id"].as_i64().unwrap();
        let of_host: Vec<&Expected> = expected.iter().filter(|u| u.0 == id).collect();
        let security = of_host.iter().filter(|u| u.3).count();
        assert_eq!(host["pending_updates"], of_host.len(), "{when}: {host}");
        assert_eq!(host["security_updates"], security, "{when}: {host}");
    }
}

/// Pages of the update lists keep their order across page boundaries, with many ties on the
/// security flag and the same package on several hosts, and every total matches its filters,
/// also after a report replaces one manager's list and after a host is deleted.
#[tokio::test]
async fn update_pages_and_totals_follow_reports() {
    for backend in BACKENDS {
        let server = start(backend).await;
        let mut api = ApiClient::admin(&server).await;
        let mut connections = Vec::new();
        for hostname in ["web1", "web2", "db1"] {
            connections.push(connect_approved(&server, hostname).await);
        }

        let mut held = update("apt", "vim", "9.1", false);
        held.status = UpdateStatus::Held;
        let mut deferred = update("snap", "firefox", "131.0", true);
        deferred.status = UpdateStatus::Deferred;
        let mut reports: Vec<(i64, Vec<UpdateInfo>)> = vec![
            (
                connections[0].host_id(),
                vec![
                    update("apt", "openssl", "3.1", true),
                    update("apt", "curl", "8.1", false),
                    update("apt", "bash", "5.2", false),
                    held.clone(),
                    update("snap", "firefox", "130.0", false),
                ],
            ),
            (
                connections[1].host_id(),
                vec![
                    update("apt", "openssl", "3.1", true),
                    update("apt", "zlib1g", "1.3", true),
                    update("apt", "curl", "8.1", false),
                    deferred.clone(),
                ],
            ),
            (
                connections[2].host_id(),
                vec![
                    update("apt", "openssl", "3.0", false),
                    update("apt", "libc6", "2.36", true),
                ],
            ),
        ];
        for (connection, (_, updates)) in connections.iter_mut().zip(&reports) {
            let mut managers: Vec<ManagerScan> = Vec::new();
            for manager in ["apt", "snap"] {
                let of_manager: Vec<UpdateInfo> = updates
                    .iter()
                    .filter(|update| update.manager == manager)
                    .cloned()
                    .collect();
                if !of_manager.is_empty() {
                    managers.push(scan(manager, of_manager));
                }
            }
            report(connection, managers, false).await;
        }
        check_update_lists(&mut api, &reports, &format!("{backend:?} first reports")).await;

        // web1 replaces its apt list and its snap scan fails, which keeps the snap rows.
        let replacement = vec![
            update("apt", "openssl", "3.2", true),
            update("apt", "bash", "5.2", true),
        ];
        report(
            &mut connections[0],
            vec![
                scan("apt", replacement.clone()),
                ManagerScan {
                    manager: "snap".into(),
                    outcome: ScanOutcome::Failed {
                        error: "snapd is not running".into(),
                    },
                },
            ],
            false,
        )
        .await;
        reports[0].1.retain(|update| update.manager == "snap");
        reports[0].1.extend(replacement);
        check_update_lists(&mut api, &reports, &format!("{backend:?} replaced list")).await;

        // web2 reports no apt updates any more.
        report(&mut connections[1], vec![scan("apt", vec![])], false).await;
        reports[1].1.retain(|update| update.manager != "apt");
        check_update_lists(&mut api, &reports, &format!("{backend:?} emptied list")).await;

        let (status, body) = api
            .delete(&format!("/hosts/{}", connections[2].host_id()))
            .await;
        assert_eq!(status, 204, "{backend:?}: {body}");
        reports.pop();
        check_update_lists(&mut api, &reports, &format!("{backend:?} deleted host")).await;
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
