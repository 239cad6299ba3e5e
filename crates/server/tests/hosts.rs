#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Hosts API: listing with filters, order and pages, the event history, and deletion.

mod support;

use serde_json::{Value, json};
use support::agent::TestAgent;
use support::api::ApiClient;
use support::{BACKENDS, TestServer};

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
        ] {
            let (status, body) = api.get(&format!("/hosts?{query}")).await;
            assert_eq!(status, 422, "{query}: {body}");
            assert_eq!(body["error"]["field"], field, "{query}: {body}");
        }
        let (status, _) = api.get("/hosts/999999").await;
        assert_eq!(status, 404);
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
        connection.expect_closed().await;
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
