#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The live event stream: tickets, events as they happen, and the end of a stream when the
//! session that opened it ends.

mod support;

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use support::agent::TestAgent;
use support::api::ApiClient;
use support::{BACKENDS, TestServer};

/// Longest wait for the stream to end or for an event: three session checks.
const STREAM_WAIT: Duration = Duration::from_secs(15);

/// What a stream did within [`STREAM_WAIT`].
#[derive(Debug, PartialEq, Eq)]
enum StreamEnd {
    /// The server closed the stream.
    Closed,
    /// The wait ran out with the stream still open.
    StillOpen,
}

/// Gets a ticket with `api`'s session and opens the stream.
async fn open_stream(server: &TestServer, api: &mut ApiClient) -> reqwest::Response {
    let (status, body) = api.post("/events/ticket", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let ticket = body["ticket"].as_str().unwrap();
    let response = server
        .client
        .get(server.url(&format!("/events?ticket={ticket}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response
}

/// Reads the stream until it closes, `wanted` appears in it or [`STREAM_WAIT`] passes; returns
/// the text read and how it ended.
async fn read_stream(
    response: &mut reqwest::Response,
    wanted: Option<&str>,
) -> (String, StreamEnd) {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + STREAM_WAIT;
    loop {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Err(_) => return (text, StreamEnd::StillOpen),
            Ok(Ok(Some(chunk))) => {
                text.push_str(&String::from_utf8_lossy(&chunk));
                if wanted.is_some_and(|wanted| text.contains(wanted)) {
                    return (text, StreamEnd::StillOpen);
                }
            }
            Ok(Ok(None) | Err(_)) => return (text, StreamEnd::Closed),
        }
    }
}

#[tokio::test]
async fn stream_carries_events_and_ends_at_logout() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut api = ApiClient::admin(&server).await;
        let mut stream = open_stream(&server, &mut api).await;
        let (text, _) = read_stream(&mut stream, Some("event: ready")).await;
        assert!(text.contains("event: ready"), "{backend:?}: {text}");

        TestAgent::new("stream-host").connect(&server).await;
        let (text, end) = read_stream(&mut stream, Some("stream-host")).await;
        assert!(
            text.contains("event: host_registered"),
            "{backend:?}: {text}"
        );
        assert_eq!(end, StreamEnd::StillOpen, "{backend:?}");

        let (status, body) = api.post("/logout", json!({})).await;
        assert_eq!(status, 204, "{backend:?}: {body}");
        let (_, end) = read_stream(&mut stream, None).await;
        assert_eq!(
            end,
            StreamEnd::Closed,
            "{backend:?}: the stream outlived the logout"
        );
    }
}

#[tokio::test]
async fn stream_ends_when_user_is_deactivated() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut admin = ApiClient::admin(&server).await;
        let (status, created) = admin
            .post(
                "/users",
                json!({"userid": "viewer", "password": "viewer-password-1", "is_admin": false}),
            )
            .await;
        assert_eq!(status, 201, "{backend:?}: {created}");
        let viewer_id = created["id"].as_i64().unwrap();
        let mut viewer = ApiClient::login(&server, "viewer", "viewer-password-1").await;
        let mut viewer_stream = open_stream(&server, &mut viewer).await;
        let mut admin_stream = open_stream(&server, &mut admin).await;

        let (status, body) = admin
            .request(
                Method::PUT,
                &format!("/users/{viewer_id}"),
                Some(json!({"active": false})),
            )
            .await;
        assert_eq!(status, 200, "{backend:?}: {body}");
        let (_, end) = read_stream(&mut viewer_stream, None).await;
        assert_eq!(
            end,
            StreamEnd::Closed,
            "{backend:?}: a deactivated user kept the stream"
        );
        // Another session's stream stays open: by now it has passed at least one session check.
        let (text, end) = read_stream(&mut admin_stream, None).await;
        assert_eq!(end, StreamEnd::StillOpen, "{backend:?}: {text}");
    }
}
