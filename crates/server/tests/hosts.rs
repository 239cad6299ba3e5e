#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Hosts API: listing with filters, order and pages, the event history, deletion, and the
//! inventory that agents send.

mod support;

use reqwest::Method;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use support::agent::{AgentConnection, TestAgent};
use support::api::ApiClient;
use support::{BACKENDS, TestServer};
use sysmanage_protocol::{
    AgentMessage, DiskInfo, ErrorCode, HostInventory, NetworkInterface, ServerMessage,
};

fn hostnames(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["hostname"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn list_filters_sorts_and_pages() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut api = ApiClient::admin(&server).await;
        let mut ids = Vec::new();
        for hostname in ["db1", "web2", "web1", "mail"] {
            let connection = TestAgent::new(hostname).connect(&server).await;
            ids.push(connection.host_id());
        }
        let (status, _) = api
            .post(&format!("/hosts/{}/approve", ids[2]), json!({}))
            .await;
        assert_eq!(status, 200);

        let all = api.get_ok("/hosts").await;
        assert_eq!(all["total"], 4, "{backend:?}: {all}");
        assert_eq!(hostnames(&all), ["db1", "mail", "web1", "web2"]);

        let web = api.get_ok("/hosts?hostname=WEB").await;
        let mut found = hostnames(&web);
        found.sort();
        assert_eq!(
            found,
            ["web1", "web2"],
            "{backend:?}: case-insensitive substring"
        );

        let approved = api.get_ok("/hosts?approval=approved").await;
        assert_eq!(hostnames(&approved), ["web1"]);

        let unknown = api.get_ok("/hosts?status=unknown&sort=-id").await;
        assert_eq!(unknown["items"][0]["id"], ids[3]);

        let page = api.get_ok("/hosts?sort=id&page=2&per_page=3").await;
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        assert_eq!(page["items"][0]["id"], ids[3]);
        assert_eq!(page["offset"], 3);

        let literal = api.get_ok("/hosts?hostname=%25").await;
        assert_eq!(literal["total"], 0, "% is matched literally");

        for (query, field) in [
            ("sort=password", "sort"),
            ("status=sideways", "status"),
            ("approval=maybe", "approval"),
            ("offset=-1", "offset"),
            ("limit=501", "limit"),
            ("stauts=down", "stauts"),
            ("limit=1&limit=2", "limit"),
            ("limit=abc", "limit"),
        ] {
            let (status, body) = api.get(&format!("/hosts?{query}")).await;
            assert_eq!(status, 422, "{query}: {body}");
            assert_eq!(body["error"]["field"], field, "{query}: {body}");
        }
        let (status, _) = api.get("/hosts/999999").await;
        assert_eq!(status, 404);
    }
}

/// One host as this test stores it: `(id, hostname, status, approval, last_seen_at,
/// created_at)`.
type StoredHost = (i64, String, &'static str, &'static str, i64, i64);

/// Sort key of a stored host for one `sort` column, before the id that breaks ties.
type SortKey = Box<dyn Fn(&StoredHost) -> (String, i64)>;

/// Selects the stored hosts that a list filter matches.
type HostFilter = Box<dyn Fn(&StoredHost) -> bool>;

/// Reads every page of `query` with pages of two and returns the host ids and the total, which
/// every page must report alike.
async fn all_host_pages(api: &mut ApiClient, query: &str) -> (Vec<i64>, u64) {
    let mut ids = Vec::new();
    let mut total = None;
    loop {
        let page = api
            .get_ok(&format!("/hosts?{query}&limit=2&offset={}", ids.len()))
            .await;
        let page_total = page["total"].as_u64().unwrap();
        assert_eq!(
            *total.get_or_insert(page_total),
            page_total,
            "{query}: {page}"
        );
        let items = page["items"].as_array().unwrap();
        ids.extend(items.iter().map(|item| item["id"].as_i64().unwrap()));
        if items.len() < 2 {
            return (ids, total.unwrap());
        }
    }
}

/// Sorts with many equal values page in id order within each tie, in the direction of the
/// sort, and filters combine with every sort.
#[tokio::test]
async fn list_sort_ties_and_filters_page() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut api = ApiClient::admin(&server).await;

        // Pending hosts whose connections are closed, so that neither the liveness tracker
        // nor a flush changes the status and last-seen times set below.
        let layout = [
            ("web1", "up", "approved", 300, 20),
            ("web2", "up", "approved", 200, 10),
            ("web3", "down", "approved", 200, 10),
            ("db1", "up", "pending", 300, 30),
            ("db2", "up", "approved", 200, 10),
            ("mail", "down", "rejected", 100, 30),
            ("web4", "up", "approved", 300, 20),
        ];
        let mut hosts: Vec<StoredHost> = Vec::new();
        for (hostname, status, approval, last_seen, created) in layout {
            let connection = TestAgent::new(hostname).connect(&server).await;
            let id = connection.host_id();
            connection.kill();
            // Far in the future, so that a late flush of a real time never overwrites them.
            let last_seen = 4_000_000_000_000_i64 + last_seen;
            server
                .state
                .db
                .execute_unprepared(&format!(
                    "UPDATE hosts SET status = '{status}', approval = '{approval}', \
                     last_seen_at = {last_seen}, created_at = {created} WHERE id = {id}"
                ))
                .await
                .unwrap();
            hosts.push((
                id,
                hostname.to_owned(),
                status,
                approval,
                last_seen,
                created,
            ));
        }

        let sorts: Vec<(&str, SortKey)> = vec![
            ("hostname", Box::new(|h| (h.1.clone(), 0))),
            ("status", Box::new(|h| (h.2.to_owned(), 0))),
            ("last_seen_at", Box::new(|h| (String::new(), h.4))),
            ("created_at", Box::new(|h| (String::new(), h.5))),
            ("id", Box::new(|_| (String::new(), 0))),
        ];
        let filters: Vec<(&str, HostFilter)> = vec![
            ("", Box::new(|_| true)),
            ("status=up", Box::new(|h| h.2 == "up")),
            ("approval=approved", Box::new(|h| h.3 == "approved")),
            (
                "hostname=WEB&approval=approved&status=up",
                Box::new(|h| h.1.contains("web") && h.3 == "approved" && h.2 == "up"),
            ),
        ];
        for (filter_query, filter) in &filters {
            for (column, key) in &sorts {
                for descending in [false, true] {
                    let mut want: Vec<&StoredHost> = hosts.iter().filter(|h| filter(h)).collect();
                    want.sort_by_key(|host| (key(host), host.0));
                    if descending {
                        want.reverse();
                    }
                    let want: Vec<i64> = want.iter().map(|h| h.0).collect();
                    let sign = if descending { "-" } else { "" };
                    let query = format!("sort={sign}{column}&{filter_query}");
                    let (found, total) = all_host_pages(&mut api, &query).await;
                    assert_eq!(found, want, "{backend:?}: {query}");
                    assert_eq!(total, want.len() as u64, "{backend:?}: total of {query}");
                }
            }
        }
    }
}

#[tokio::test]
async fn huge_page_offsets_rejected() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut api = ApiClient::admin(&server).await;
        let host_id = TestAgent::new("web1").connect(&server).await.host_id();

        let cases = [
            ("offset=9223372036854775808", "offset"),
            ("offset=18446744073709551615", "offset"),
            ("page=99999999999999999&per_page=500", "page"),
            ("page=18446744073709551615&per_page=2", "page"),
        ];
        let lists = [
            "/hosts".to_owned(),
            "/updates".to_owned(),
            "/jobs".to_owned(),
            format!("/hosts/{host_id}/events"),
            format!("/hosts/{host_id}/updates"),
        ];
        for list in &lists {
            for (query, field) in cases {
                let (status, body) = api.get(&format!("{list}?{query}")).await;
                assert_eq!(status, 422, "{backend:?} {list}?{query}: {body}");
                assert_eq!(body["error"]["field"], field, "{list}?{query}: {body}");
            }
        }

        let last = api.get_ok(&format!("/hosts?offset={}", i64::MAX)).await;
        assert_eq!(
            last["items"].as_array().unwrap().len(),
            0,
            "{backend:?}: {last}"
        );
        assert_eq!(last["total"], 1);
    }
}

#[tokio::test]
async fn invalid_requests_get_json_errors() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut api = ApiClient::admin(&server).await;
        let host_id = TestAgent::new("web1").connect(&server).await.host_id();

        for path in ["/hosts/abc", "/hosts/abc/events", "/hosts/abc/updates"] {
            let (status, body) = api.get(path).await;
            assert_eq!(status, 400, "{backend:?} {path}: {body}");
            assert_eq!(body["error"]["code"], "bad_request", "{path}: {body}");
        }
        let (status, body) = api.get(&format!("/hosts/{host_id}/events?limt=5")).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["field"], "limt", "{body}");

        let approve = format!("/hosts/{host_id}/approve");
        let (status, _, body) = api
            .request_raw(Method::POST, &approve, Some("application/json"), "")
            .await;
        assert_eq!(status, 200, "{backend:?}: empty body reads as {{}}: {body}");
        assert_eq!(body["approval"], "approved");
        let (status, content_type, body) = api
            .request_raw(Method::POST, &approve, Some("application/json"), "{")
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(content_type, "application/json");

        let (status, body) = api.get("/no/such/route").await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["error"]["code"], "not_found", "{body}");
        let (status, body) = api.request(Method::PUT, "/hosts", None).await;
        assert_eq!(status, 405, "{body}");
        assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");

        api.get_ok("/hosts").await;
    }
}

#[tokio::test]
async fn events_newest_first_paged() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut api = ApiClient::admin(&server).await;
        let host_id = TestAgent::new("web1").connect(&server).await.host_id();
        for action in ["approve", "reject", "approve"] {
            let (status, body) = api
                .post(&format!("/hosts/{host_id}/{action}"), json!({}))
                .await;
            assert_eq!(status, 200, "{action}: {body}");
        }

        let events = api
            .get_ok(&format!("/hosts/{host_id}/events?limit=2"))
            .await;
        assert_eq!(events["total"], 4, "{backend:?}: {events}");
        assert_eq!(events["items"][0]["kind"], "approved");
        assert_eq!(events["items"][1]["kind"], "rejected");
        assert!(
            events["items"][0]["detail"]
                .as_str()
                .unwrap()
                .contains("admin"),
            "{events}"
        );
        let rest = api
            .get_ok(&format!("/hosts/{host_id}/events?limit=2&offset=2"))
            .await;
        assert_eq!(rest["items"][1]["kind"], "registered");
    }
}

#[tokio::test]
async fn delete_closes_agent_connection() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut api = ApiClient::admin(&server).await;
        let agent = TestAgent::new("web1");
        let mut connection = agent.connect(&server).await;
        let host_id = connection.host_id();
        let (status, _) = api
            .post(&format!("/hosts/{host_id}/approve"), json!({}))
            .await;
        assert_eq!(status, 200);
        connection.recv().await;
        let (status, _) = api
            .post(
                &format!("/hosts/{host_id}/updates/install"),
                json!({"all": true}),
            )
            .await;
        assert_eq!(status, 201);

        let (status, body) = api.delete(&format!("/hosts/{host_id}")).await;
        assert_eq!(status, 204, "{backend:?}: {body}");
        assert_eq!(
            connection.expect_close_reason().await,
            "the host was deleted on the server"
        );
        let (status, _) = api.get(&format!("/hosts/{host_id}")).await;
        assert_eq!(status, 404);
        let jobs = api.get_ok("/jobs").await;
        assert_eq!(jobs["total"], 0);

        // The same key registers again as a new pending host.
        let connection = agent.connect(&server).await;
        assert_ne!(connection.host_id(), host_id);
        assert_eq!(
            connection.welcome.as_ref().unwrap().approval,
            sysmanage_protocol::Approval::Pending
        );
    }
}

fn inventory() -> HostInventory {
    HostInventory {
        os_name: "Debian GNU/Linux".into(),
        os_version: "12".into(),
        os_codename: Some("bookworm".into()),
        kernel: "6.1.0-20-amd64".into(),
        architecture: "x86_64".into(),
        cpu_model: "AMD EPYC 7763 64-Core Processor".into(),
        cpu_count: 4,
        memory_total_bytes: 16 << 30,
        swap_total_bytes: 1 << 30,
        disks: vec![DiskInfo {
            mount_point: "/".into(),
            file_system: "ext4".into(),
            total_bytes: 100 << 30,
            available_bytes: 60 << 30,
        }],
        network_interfaces: vec![NetworkInterface {
            name: "eth0".into(),
            mac_address: Some("52:54:00:12:34:56".into()),
            addresses: vec!["192.0.2.7/24".into(), "2001:db8::7/64".into()],
        }],
        boot_time: 1_765_000_000,
        uptime_secs: 3600,
    }
}

/// Sends `inventory` and expects its `Ack`, skipping other server messages.
async fn send_inventory(connection: &mut AgentConnection, inventory: HostInventory) {
    let id = connection.send(AgentMessage::Inventory(inventory)).await;
    connection
        .recv_matching(|message| match message {
            ServerMessage::Ack { of } if of == id => Some(()),
            ServerMessage::Error(reply) => panic!("inventory rejected: {reply:?}"),
            _ => None,
        })
        .await;
}

#[tokio::test]
async fn inventory_stored_and_served() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut api = ApiClient::admin(&server).await;
        let mut connection = TestAgent::new("web1").connect(&server).await;
        let host_id = connection.host_id();
        let (status, _) = api
            .post(&format!("/hosts/{host_id}/approve"), json!({}))
            .await;
        assert_eq!(status, 200);

        let before = api.get_ok(&format!("/hosts/{host_id}")).await;
        assert_eq!(before["inventory"], Value::Null, "{backend:?}: {before}");
        assert_eq!(before["inventory_updated_at"], Value::Null);

        send_inventory(&mut connection, inventory()).await;
        let host = api.get_ok(&format!("/hosts/{host_id}")).await;
        let stored = &host["inventory"];
        assert_eq!(stored["os_codename"], "bookworm", "{backend:?}: {host}");
        assert_eq!(stored["cpu_count"], 4);
        assert_eq!(stored["memory_total_bytes"], 16_u64 << 30);
        assert_eq!(stored["disks"][0]["mount_point"], "/");
        assert_eq!(stored["disks"][0]["total_bytes"], 100_u64 << 30);
        assert_eq!(
            stored["network_interfaces"][0]["addresses"][1],
            "2001:db8::7/64"
        );
        assert!(
            host["inventory_updated_at"]
                .as_str()
                .is_some_and(|time| time.ends_with('Z')),
            "{host}"
        );
        // The inventory's kernel replaces the one from Hello.
        assert_eq!(host["kernel"], "6.1.0-20-amd64");
        assert_eq!(host["os_version"], "12");

        // The list stays small: no inventory per item.
        let list = api.get_ok("/hosts").await;
        assert!(list["items"][0].get("inventory").is_none(), "{list}");

        // An oversize inventory is rejected and leaves the stored one alone.
        let mut oversize = inventory();
        oversize.kernel = "7.0".into();
        oversize.disks = vec![oversize.disks[0].clone(); 257];
        connection.send(AgentMessage::Inventory(oversize)).await;
        let message = connection.expect_error(ErrorCode::InvalidRequest).await;
        assert!(message.contains("disks"), "{message}");
        let host = api.get_ok(&format!("/hosts/{host_id}")).await;
        assert_eq!(host["kernel"], "6.1.0-20-amd64", "{backend:?}");
        assert_eq!(host["inventory"]["disks"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn pending_host_inventory_ignored() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut api = ApiClient::admin(&server).await;
        let mut connection = TestAgent::new("web1").connect(&server).await;
        let host_id = connection.host_id();

        let mut changed = inventory();
        changed.os_name = "Changed OS".into();
        connection.send(AgentMessage::Inventory(changed)).await;
        connection.expect_error(ErrorCode::NotApproved).await;

        let host = api.get_ok(&format!("/hosts/{host_id}")).await;
        assert_eq!(host["approval"], "pending", "{backend:?}: {host}");
        assert_eq!(host["inventory"], Value::Null);
        assert_eq!(host["os_name"], "Debian GNU/Linux");
        assert_eq!(host["kernel"], "6.1.0-18-amd64");
    }
}
