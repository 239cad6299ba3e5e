#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The users API on SQLite and PostgreSQL: CRUD, validation errors that name the field, and
//! the protection of the last active administrator.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{ADMIN_PASSWORD, BACKENDS, Backend, TestServer};
use sysmanage_server::clock::Clock;

/// An administrator session that follows the token rotation.
struct Session<'a> {
    server: &'a TestServer,
    token: String,
}

impl<'a> Session<'a> {
    async fn admin(server: &'a TestServer) -> Self {
        Self {
            token: server.login_admin().await,
            server,
        }
    }

    /// Sends a request and returns the status and the JSON body (`Null` when empty).
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .server
            .client
            .request(method, self.server.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        if let Some(next) = response.headers().get("X_Reauthorization") {
            next.to_str().unwrap().clone_into(&mut self.token);
        }
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, body)
    }

    async fn create(&mut self, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, "/users", Some(body)).await
    }
}

#[tokio::test]
async fn crud_round_trip() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut admin = Session::admin(&server).await;

        let (status, created) = admin
            .create(json!({ "userid": "alice", "password": "password123", "is_admin": true }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{backend:?}: {created}");
        assert_eq!(created["userid"], "alice");
        assert_eq!(created["is_admin"], true);
        assert_eq!(created["active"], true);
        assert!(created.get("password_hash").is_none(), "{created}");
        let id = created["id"].as_i64().unwrap();

        let (status, list) = admin.send(Method::GET, "/users", None).await;
        assert_eq!(status, StatusCode::OK, "{backend:?}");
        let userids: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|user| user["userid"].as_str().unwrap())
            .collect();
        assert_eq!(userids, ["admin", "alice"], "{backend:?}");
        assert!(list.to_string().find("argon2").is_none(), "{list}");

        let (status, fetched) = admin.send(Method::GET, &format!("/users/{id}"), None).await;
        assert_eq!(status, StatusCode::OK, "{backend:?}");
        assert_eq!(fetched, created, "{backend:?}");

        let (status, updated) = admin
            .send(
                Method::PUT,
                &format!("/users/{id}"),
                Some(json!({ "is_admin": false })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{backend:?}");
        assert_eq!(updated["is_admin"], false, "{backend:?}");
        assert_eq!(updated["active"], true, "{backend:?}");

        let (status, _) = admin
            .send(
                Method::PUT,
                &format!("/users/{id}"),
                Some(json!({ "password": "new password 1" })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{backend:?}");
        assert_eq!(
            server.login("alice", "password123").await,
            Err(401),
            "{backend:?}"
        );
        assert!(
            server.login("alice", "new password 1").await.is_ok(),
            "{backend:?}"
        );

        let (status, body) = admin
            .send(Method::DELETE, &format!("/users/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{backend:?}");
        assert_eq!(body, Value::Null);
        let (status, body) = admin.send(Method::GET, &format!("/users/{id}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{backend:?}");
        assert_eq!(body["error"]["code"], "not_found");
        let (status, _) = admin
            .send(Method::DELETE, &format!("/users/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{backend:?}");
    }
}

#[tokio::test]
async fn validation_errors_name_field() {
    let server = TestServer::start(Backend::Sqlite).await;
    let mut admin = Session::admin(&server).await;
    let long_userid = "u".repeat(256);
    let cases = [
        (json!({ "userid": "", "password": "password123" }), "userid"),
        (
            json!({ "userid": "has space", "password": "password123" }),
            "userid",
        ),
        (
            json!({ "userid": "tab\tchar", "password": "password123" }),
            "userid",
        ),
        (
            json!({ "userid": long_userid, "password": "password123" }),
            "userid",
        ),
        (json!({ "userid": "bob", "password": "short" }), "password"),
        (json!({ "userid": "bob" }), "password"),
        (json!({ "password": "password123" }), "userid"),
        (
            json!({ "userid": "bob", "password": "password123", "is_admin": "yes" }),
            "is_admin",
        ),
        (
            json!({ "userid": "bob", "password": "password123", "password_hash": "x" }),
            "password_hash",
        ),
    ];
    for (body, field) in cases {
        let (status, error) = admin.create(body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {error}");
        assert_eq!(error["error"]["code"], "invalid", "{body}: {error}");
        assert_eq!(error["error"]["field"], field, "{body}: {error}");
    }

    let (status, error) = admin
        .send(
            Method::PUT,
            "/users/1",
            Some(json!({ "password": "short" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"]["field"], "password");

    let (status, error) = admin
        .send(
            Method::PUT,
            "/users/1",
            Some(json!({ "userid": "renamed" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"]["field"], "userid");

    let (status, error) = admin.send(Method::GET, "/users/not-a-number", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["error"]["code"], "bad_request");
}

#[tokio::test]
async fn duplicate_userid_conflicts() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut admin = Session::admin(&server).await;
        let (status, _) = admin
            .create(json!({ "userid": "carol", "password": "password123" }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{backend:?}");
        let (status, error) = admin
            .create(json!({ "userid": "carol", "password": "password456" }))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{backend:?}");
        assert_eq!(error["error"]["code"], "conflict");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("carol"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn last_admin_is_protected() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut admin = Session::admin(&server).await;
        let (_, list) = admin.send(Method::GET, "/users", None).await;
        let admin_id = list[0]["id"].as_i64().unwrap();
        let path = format!("/users/{admin_id}");

        let attempts = [
            (Method::DELETE, None, "delete"),
            (Method::PUT, Some(json!({ "active": false })), "deactivate"),
            (Method::PUT, Some(json!({ "is_admin": false })), "demote"),
        ];
        for (method, body, action) in &attempts {
            let (status, error) = admin.send(method.clone(), &path, body.clone()).await;
            assert_eq!(
                status,
                StatusCode::CONFLICT,
                "{backend:?} {action}: {error}"
            );
            let message = error["error"]["message"].as_str().unwrap();
            assert!(message.contains("last active administrator"), "{message}");
            assert!(message.contains(action), "{message}");
        }

        // An inactive administrator does not count as a second one.
        let (status, _) = admin
            .create(json!({ "userid": "dormant", "password": "password123", "is_admin": true, "active": false }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{backend:?}");
        let (status, _) = admin
            .send(Method::PUT, &path, Some(json!({ "is_admin": false })))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{backend:?}");

        // With a second active administrator the first may be demoted.
        let (status, _) = admin
            .create(json!({ "userid": "deputy", "password": "password123", "is_admin": true }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{backend:?}");
        let (status, demoted) = admin
            .send(Method::PUT, &path, Some(json!({ "is_admin": false })))
            .await;
        assert_eq!(status, StatusCode::OK, "{backend:?}: {demoted}");
        assert_eq!(demoted["is_admin"], false);
    }
}

#[tokio::test]
async fn update_without_change_keeps_updated_at() {
    const T0: i64 = 1_800_000_000_000;
    for backend in BACKENDS {
        let clock = Clock::manual(T0);
        let server = TestServer::start_with(backend, clock.clone(), |_| {}).await;
        let mut admin = Session::admin(&server).await;
        let (_, created) = admin
            .create(json!({ "userid": "erin", "password": "password123" }))
            .await;
        let path = format!("/users/{}", created["id"].as_i64().unwrap());
        assert_eq!(created["updated_at"], T0, "{backend:?}: {created}");
        clock.advance(5_000);

        for body in [json!({}), json!({ "password": null, "active": null })] {
            let (status, error) = admin.send(Method::PUT, &path, Some(body.clone())).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{backend:?} {body}: {error}"
            );
            assert_eq!(error["error"]["code"], "invalid", "{error}");
            assert_eq!(error["error"]["field"], "body", "{error}");
            let message = error["error"]["message"].as_str().unwrap();
            assert!(
                message.contains("send at least one of password, is_admin, active"),
                "{message}"
            );
        }

        let (status, same) = admin
            .send(
                Method::PUT,
                &path,
                Some(json!({ "is_admin": false, "active": true })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{backend:?}: {same}");
        assert_eq!(same, created, "{backend:?}");
        let (_, fetched) = admin.send(Method::GET, &path, None).await;
        assert_eq!(fetched["updated_at"], T0, "{backend:?}: {fetched}");

        let (status, changed) = admin
            .send(Method::PUT, &path, Some(json!({ "active": false })))
            .await;
        assert_eq!(status, StatusCode::OK, "{backend:?}: {changed}");
        assert_eq!(changed["active"], false, "{backend:?}");
        assert_eq!(changed["updated_at"], T0 + 5_000, "{backend:?}: {changed}");
    }
}

#[tokio::test]
async fn password_change_revokes_tokens() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut admin = Session::admin(&server).await;
        let (_, created) = admin
            .create(json!({ "userid": "dave", "password": "password123" }))
            .await;
        let id = created["id"].as_i64().unwrap();
        let dave = server.login("dave", "password123").await.unwrap();

        let (status, _) = admin
            .send(
                Method::PUT,
                &format!("/users/{id}"),
                Some(json!({ "password": "password456" })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{backend:?}");
        let response = server
            .client
            .get(server.url("/users"))
            .bearer_auth(&dave)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{backend:?}");
    }
}

#[tokio::test]
async fn own_password_change_ends_session() {
    let server = TestServer::start(Backend::Sqlite).await;
    let mut admin = Session::admin(&server).await;
    let (_, list) = admin.send(Method::GET, "/users", None).await;
    let admin_id = list[0]["id"].as_i64().unwrap();
    let response = server
        .client
        .put(server.url(&format!("/users/{admin_id}")))
        .bearer_auth(&admin.token)
        .json(&json!({ "password": "a brand new password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The chain is revoked, so no next token is handed out.
    assert!(response.headers().get("X_Reauthorization").is_none());
    assert_eq!(server.login("admin", ADMIN_PASSWORD).await, Err(401));
    assert!(server.login("admin", "a brand new password").await.is_ok());
}
