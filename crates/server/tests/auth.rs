#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Login, one-use token rotation, replay detection, expiry, logout and login rate limits, on
//! SQLite and PostgreSQL.

mod support;

use std::net::{IpAddr, Ipv4Addr};

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{ADMIN_PASSWORD, BACKENDS, Backend, TestServer};
use sysmanage_server::auth::tokens;
use sysmanage_server::clock::Clock;

const T0: i64 = 1_800_000_000_000;

/// Sends `GET /users` with `token` and returns the response.
async fn get_users(server: &TestServer, token: &str) -> reqwest::Response {
    server
        .client
        .get(server.url("/users"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn next_token(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("X_Reauthorization")
        .map(|value| value.to_str().unwrap().to_owned())
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Builds a client whose connections come from `127.0.0.<last>`, to act as another address.
fn client_from(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .build()
        .unwrap()
}

async fn login_status(
    server: &TestServer,
    client: &reqwest::Client,
    userid: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(server.url("/login"))
        .json(&json!({ "userid": userid, "password": password }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn login_accepts_and_rejects() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;

        let response = login_status(&server, &server.client, "admin", ADMIN_PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "{backend:?}");
        let body: Value = response.json().await.unwrap();
        let token = body["X_Reauthorization"].as_str().unwrap();
        assert_eq!(token.len(), 43, "{backend:?}");

        let wrong = login_status(&server, &server.client, "admin", "wrong password").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{backend:?}");
        let wrong_body: Value = wrong.json().await.unwrap();

        let unknown = login_status(&server, &server.client, "nobody", ADMIN_PASSWORD).await;
        assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED, "{backend:?}");
        let unknown_body: Value = unknown.json().await.unwrap();
        // The two failures must look the same, so that user ids cannot be probed.
        assert_eq!(wrong_body, unknown_body, "{backend:?}");
        assert_eq!(
            wrong_body["error"]["code"], "invalid_credentials",
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn login_body_errors_name_problem() {
    let server = TestServer::start(Backend::Sqlite).await;
    let missing = server
        .client
        .post(server.url("/login"))
        .json(&json!({ "userid": "admin" }))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["field"], "password");

    let not_json = server
        .client
        .post(server.url("/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    let body: Value = not_json.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");
}

#[tokio::test]
async fn inactive_user_cannot_log_in() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let token = server.login_admin().await;
        let created = server
            .client
            .post(server.url("/users"))
            .bearer_auth(&token)
            .json(&json!({ "userid": "sleeper", "password": "password123", "active": false }))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED, "{backend:?}");
        assert_eq!(
            server.login("sleeper", "password123").await,
            Err(401),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn each_token_works_once() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut token = server.login_admin().await;
        let mut seen = vec![token.clone()];
        for _ in 0..3 {
            let response = get_users(&server, &token).await;
            assert_eq!(response.status(), StatusCode::OK, "{backend:?}");
            assert_eq!(
                response.headers()["access-control-expose-headers"],
                "X_Reauthorization",
                "{backend:?}"
            );
            let next = next_token(&response).expect("every response carries a next token");
            assert!(!seen.contains(&next), "{backend:?}: token repeated");
            seen.push(next.clone());
            token = next;
        }
        // The newest token still works, and the one before it no longer does.
        let response = get_users(&server, &token).await;
        assert_eq!(response.status(), StatusCode::OK, "{backend:?}");
    }
}

#[tokio::test]
async fn reused_token_is_forbidden() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let token = server.login_admin().await;
        assert_eq!(get_users(&server, &token).await.status(), StatusCode::OK);
        let replay = get_users(&server, &token).await;
        assert_eq!(replay.status(), StatusCode::FORBIDDEN, "{backend:?}");
        assert!(next_token(&replay).is_none(), "{backend:?}");
        assert_eq!(error_code(replay).await, "forbidden", "{backend:?}");
    }
}

#[tokio::test]
async fn replay_revokes_successor() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let t1 = server.login_admin().await;
        let first = get_users(&server, &t1).await;
        assert_eq!(first.status(), StatusCode::OK, "{backend:?}");
        let t2 = next_token(&first).unwrap();

        assert_eq!(
            get_users(&server, &t1).await.status(),
            StatusCode::FORBIDDEN,
            "{backend:?}"
        );
        assert_eq!(
            get_users(&server, &t2).await.status(),
            StatusCode::FORBIDDEN,
            "{backend:?}"
        );

        // Other sessions of the same user are unaffected.
        let other = server.login_admin().await;
        assert_eq!(
            get_users(&server, &other).await.status(),
            StatusCode::OK,
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn expired_token_is_forbidden() {
    for backend in BACKENDS {
        let server = TestServer::start_with(backend, Clock::manual(T0), |config| {
            config.security.token_idle_timeout_secs = 60;
        })
        .await;
        let token = server.login_admin().await;
        server.state.clock.advance(59_000);
        let response = get_users(&server, &token).await;
        assert_eq!(response.status(), StatusCode::OK, "{backend:?}");
        let next = next_token(&response).unwrap();

        // The successor's idle timeout starts when it was issued.
        server.state.clock.advance(60_000);
        assert_eq!(
            get_users(&server, &next).await.status(),
            StatusCode::FORBIDDEN,
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn concurrent_reuse_admits_one() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let token = server.login_admin().await;
        let requests = (0..10).map(|_| get_users(&server, &token));
        let statuses: Vec<StatusCode> = futures_util::future::join_all(requests)
            .await
            .iter()
            .map(reqwest::Response::status)
            .collect();
        let successes = statuses.iter().filter(|status| status.is_success()).count();
        assert_eq!(successes, 1, "{backend:?}: {statuses:?}");
        let forbidden = statuses
            .iter()
            .filter(|status| **status == StatusCode::FORBIDDEN)
            .count();
        assert_eq!(forbidden, 9, "{backend:?}: {statuses:?}");
    }
}

#[tokio::test]
async fn logout_ends_chain() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let t1 = server.login_admin().await;
        let first = get_users(&server, &t1).await;
        let t2 = next_token(&first).unwrap();

        let logout = server
            .client
            .post(server.url("/logout"))
            .bearer_auth(&t2)
            .send()
            .await
            .unwrap();
        assert_eq!(logout.status(), StatusCode::NO_CONTENT, "{backend:?}");
        assert!(next_token(&logout).is_none(), "{backend:?}");

        assert_eq!(
            get_users(&server, &t2).await.status(),
            StatusCode::FORBIDDEN,
            "{backend:?}"
        );
        assert_eq!(
            get_users(&server, &t1).await.status(),
            StatusCode::FORBIDDEN,
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn missing_or_malformed_header_is_forbidden() {
    let server = TestServer::start(Backend::Sqlite).await;
    let no_header = server
        .client
        .get(server.url("/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_header.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(no_header).await, "forbidden");

    let token = server.login_admin().await;
    let cases = [
        format!("Basic {token}"),
        "Bearer".to_owned(),
        "Bearer not-a-token".to_owned(),
        format!("Bearer {}", tokens::generate().unwrap()),
        token.clone(),
    ];
    for value in cases {
        let response = server
            .client
            .get(server.url("/users"))
            .header("authorization", &value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{value}");
    }
    // None of the malformed headers spent the real token.
    assert_eq!(get_users(&server, &token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn error_responses_carry_next_token() {
    let server = TestServer::start(Backend::Sqlite).await;
    let token = server.login_admin().await;
    let response = server
        .client
        .get(server.url("/users/999999"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let next = next_token(&response).expect("a 404 still spends the token");
    assert_eq!(get_users(&server, &next).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn non_admin_may_only_read() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let admin = server.login_admin().await;
        let created = server
            .client
            .post(server.url("/users"))
            .bearer_auth(&admin)
            .json(&json!({ "userid": "viewer", "password": "password123" }))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED, "{backend:?}");

        let token = server.login("viewer", "password123").await.unwrap();
        let read = get_users(&server, &token).await;
        assert_eq!(read.status(), StatusCode::OK, "{backend:?}");
        let token = next_token(&read).unwrap();

        let write = server
            .client
            .post(server.url("/users"))
            .bearer_auth(&token)
            .json(&json!({ "userid": "intruder", "password": "password123" }))
            .send()
            .await
            .unwrap();
        assert_eq!(write.status(), StatusCode::FORBIDDEN, "{backend:?}");
        let token = next_token(&write).expect("a rejected write still rotates the token");
        assert_eq!(error_code(write).await, "admin_required", "{backend:?}");

        let logout = server
            .client
            .post(server.url("/logout"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(logout.status(), StatusCode::NO_CONTENT, "{backend:?}");
    }
}

#[tokio::test]
async fn deactivated_user_token_is_forbidden() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let admin = server.login_admin().await;
        let created = server
            .client
            .post(server.url("/users"))
            .bearer_auth(&admin)
            .json(&json!({ "userid": "temp", "password": "password123" }))
            .send()
            .await
            .unwrap();
        let admin = next_token(&created).unwrap();
        let id = created.json::<Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap();
        let user_token = server.login("temp", "password123").await.unwrap();

        let deactivated = server
            .client
            .put(server.url(&format!("/users/{id}")))
            .bearer_auth(&admin)
            .json(&json!({ "active": false }))
            .send()
            .await
            .unwrap();
        assert_eq!(deactivated.status(), StatusCode::OK, "{backend:?}");
        assert_eq!(
            get_users(&server, &user_token).await.status(),
            StatusCode::FORBIDDEN,
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn rate_limit_per_user() {
    for backend in BACKENDS {
        let server = TestServer::start_with(backend, Clock::manual(T0), |config| {
            config.security.login_max_failures = 3;
            config.security.login_lockout_secs = 120;
        })
        .await;
        // Each failure from its own address, so that only the user id's counter reaches 3.
        for last in 2..5 {
            let response =
                login_status(&server, &client_from(last), "admin", "wrong password").await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{backend:?}");
        }
        let locked = login_status(&server, &client_from(5), "admin", ADMIN_PASSWORD).await;
        assert_eq!(
            locked.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{backend:?}"
        );
        assert_eq!(locked.headers()["retry-after"], "120", "{backend:?}");
        assert_eq!(error_code(locked).await, "rate_limited", "{backend:?}");

        // Another user id from the same fresh address is not affected.
        let other = login_status(&server, &client_from(5), "someone", "wrong password").await;
        assert_eq!(other.status(), StatusCode::UNAUTHORIZED, "{backend:?}");

        server.state.clock.advance(120_000);
        let unlocked = login_status(&server, &client_from(6), "admin", ADMIN_PASSWORD).await;
        assert_eq!(unlocked.status(), StatusCode::OK, "{backend:?}");
    }
}

/// A burst of concurrent wrong passwords must not all be checked before the first failure is
/// counted: at most `login_max_failures` of them get as far as the password check.
#[tokio::test]
async fn concurrent_guesses_stay_limited() {
    for backend in BACKENDS {
        let server = TestServer::start_with(backend, Clock::manual(T0), |config| {
            config.security.login_max_failures = 3;
            config.security.login_lockout_secs = 120;
        })
        .await;
        let attempts = (0..30u8).map(|index| {
            let server = &server;
            async move {
                login_status(server, &client_from(10 + index), "admin", "wrong password")
                    .await
                    .status()
            }
        });
        let statuses = futures_util::future::join_all(attempts).await;
        let checked = statuses
            .iter()
            .filter(|status| **status == StatusCode::UNAUTHORIZED)
            .count();
        let limited = statuses
            .iter()
            .filter(|status| **status == StatusCode::TOO_MANY_REQUESTS)
            .count();
        assert!(checked <= 3, "{backend:?}: {statuses:?}");
        assert_eq!(checked + limited, 30, "{backend:?}: {statuses:?}");

        let locked = login_status(&server, &client_from(50), "admin", ADMIN_PASSWORD).await;
        assert_eq!(
            locked.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn rate_limit_per_address() {
    for backend in BACKENDS {
        let server = TestServer::start_with(backend, Clock::manual(T0), |config| {
            config.security.login_max_failures = 3;
            config.security.login_lockout_secs = 60;
        })
        .await;
        let attacker = client_from(7);
        for userid in ["alice", "bob", "carol"] {
            let response = login_status(&server, &attacker, userid, "guess").await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{backend:?}");
        }
        let locked = login_status(&server, &attacker, "admin", ADMIN_PASSWORD).await;
        assert_eq!(
            locked.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{backend:?}"
        );

        let elsewhere = login_status(&server, &client_from(8), "admin", ADMIN_PASSWORD).await;
        assert_eq!(elsewhere.status(), StatusCode::OK, "{backend:?}");
    }
}

#[tokio::test]
async fn success_resets_user_counter() {
    let server = TestServer::start_with(Backend::Sqlite, Clock::manual(T0), |config| {
        config.security.login_max_failures = 3;
    })
    .await;
    let mut last = 10;
    for _ in 0..3 {
        for _ in 0..2 {
            let response =
                login_status(&server, &client_from(last), "admin", "wrong password").await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            last += 1;
        }
        let response = login_status(&server, &client_from(last), "admin", ADMIN_PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        last += 1;
    }
}

#[tokio::test]
async fn purge_deletes_only_long_expired() {
    for backend in BACKENDS {
        let server = TestServer::start_with(backend, Clock::manual(T0), |config| {
            config.security.token_idle_timeout_secs = 60;
        })
        .await;
        let token = server.login_admin().await;
        let idle_ms = 60_000;
        let now = server.state.clock.now_ms();
        let kept = tokens::purge_expired(&server.state.db, now + 2 * idle_ms, idle_ms)
            .await
            .unwrap();
        assert_eq!(kept, 0, "{backend:?}");
        // Past expiry plus the idle timeout plus the one-hour margin, the row goes.
        let later = now + idle_ms + idle_ms + 3_600_000 + 1;
        let deleted = tokens::purge_expired(&server.state.db, later, idle_ms)
            .await
            .unwrap();
        assert_eq!(deleted, 1, "{backend:?}");
        assert_eq!(
            get_users(&server, &token).await.status(),
            StatusCode::FORBIDDEN,
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn user_changes_own_password_and_other_sessions_end() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut admin = support::api::ApiClient::admin(&server).await;
        let (status, body) = admin
            .post(
                "/users",
                json!({"userid": "operator", "password": "first-password", "is_admin": false}),
            )
            .await;
        assert_eq!(status, 201, "{backend:?}: {body}");
        let mut session =
            support::api::ApiClient::login(&server, "operator", "first-password").await;
        let mut other_session =
            support::api::ApiClient::login(&server, "operator", "first-password").await;

        for (body, field) in [
            (
                json!({"current_password": "wrong-password", "new_password": "second-password"}),
                "current_password",
            ),
            (
                json!({"current_password": "first-password", "new_password": "short"}),
                "new_password",
            ),
        ] {
            let (status, reply) = session.post("/account/password", body).await;
            assert_eq!(status, 422, "{backend:?}: {reply}");
            assert_eq!(reply["error"]["field"], field, "{backend:?}: {reply}");
        }
        // A non-administrator may change only their own account, not others'.
        let (status, _) = session
            .post("/users", json!({"userid": "x", "password": "password123"}))
            .await;
        assert_eq!(status, 403, "{backend:?}");

        let (status, reply) = session
            .post(
                "/account/password",
                json!({"current_password": "first-password", "new_password": "second-password"}),
            )
            .await;
        assert_eq!(status, 204, "{backend:?}: {reply}");
        let (status, _) = session.get("/hosts").await;
        assert_eq!(
            status, 200,
            "{backend:?}: the session that changed the password stays open"
        );
        let (status, _) = other_session.get("/hosts").await;
        assert_eq!(
            status, 403,
            "{backend:?}: another session survived the password change"
        );
        assert_eq!(
            server.login("operator", "first-password").await,
            Err(401),
            "{backend:?}"
        );
        assert!(
            server.login("operator", "second-password").await.is_ok(),
            "{backend:?}"
        );
    }
}

/// Sends `POST /login` from `client` with `X-Forwarded-For: forwarded_for`.
async fn login_forwarded(
    server: &TestServer,
    client: &reqwest::Client,
    forwarded_for: &str,
    userid: &str,
    password: &str,
) -> StatusCode {
    client
        .post(server.url("/login"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({ "userid": userid, "password": password }))
        .send()
        .await
        .unwrap()
        .status()
}

/// Starts a server that locks after 3 failures and trusts the proxies in `trusted_proxies`.
async fn start_behind_proxy(backend: Backend, trusted_proxies: &str) -> TestServer {
    let trusted_proxies = sysmanage_server::client_address::parse_list(trusted_proxies).unwrap();
    TestServer::start_with(backend, Clock::manual(T0), move |config| {
        config.security.login_max_failures = 3;
        config.security.login_lockout_secs = 60;
        config.api.trusted_proxies = trusted_proxies;
    })
    .await
}

#[tokio::test]
async fn forwarded_for_ignored_from_untrusted_peer() {
    for backend in BACKENDS {
        // Another loopback address is trusted, but not the one this client connects from.
        let server = start_behind_proxy(backend, "127.0.0.20").await;
        let client = client_from(21);
        for (userid, forwarded_for) in [
            ("alice", "203.0.113.1"),
            ("bob", "203.0.113.2"),
            ("carol", "203.0.113.3"),
        ] {
            let status = login_forwarded(&server, &client, forwarded_for, userid, "guess").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{backend:?}");
        }
        // The failures counted against 127.0.0.21, whatever the header claimed.
        let status =
            login_forwarded(&server, &client, "198.51.100.9", "admin", ADMIN_PASSWORD).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{backend:?}");
        let response = login_status(&server, &client_from(22), "admin", ADMIN_PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "{backend:?}");
    }
}

#[tokio::test]
async fn forwarded_for_honoured_from_trusted_proxy() {
    for backend in BACKENDS {
        let server = start_behind_proxy(backend, "127.0.0.23, 10.0.0.0/8").await;
        let proxy = client_from(23);
        // The attacker's address is the right-most entry that is not a trusted proxy.
        for userid in ["alice", "bob", "carol"] {
            let status = login_forwarded(
                &server,
                &proxy,
                "192.0.2.66, 203.0.113.5, 10.1.2.3",
                userid,
                "guess",
            )
            .await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{backend:?}");
        }
        let status = login_forwarded(&server, &proxy, "203.0.113.5", "admin", ADMIN_PASSWORD).await;
        assert_eq!(
            status,
            StatusCode::TOO_MANY_REQUESTS,
            "{backend:?}: the attacker's address is locked"
        );

        // Another user behind the same proxy is not locked out.
        let status =
            login_forwarded(&server, &proxy, "198.51.100.7", "admin", ADMIN_PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{backend:?}");
        // Nor is a client that writes the attacker's address further left, which only the
        // client itself can have written.
        let status = login_forwarded(
            &server,
            &proxy,
            "203.0.113.5, 198.51.100.8",
            "admin",
            ADMIN_PASSWORD,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{backend:?}");
    }
}

#[tokio::test]
async fn per_user_limit_behind_proxy() {
    for backend in BACKENDS {
        let server = start_behind_proxy(backend, "127.0.0.24").await;
        let mut admin = support::api::ApiClient::admin(&server).await;
        let (status, body) = admin
            .post(
                "/users",
                json!({"userid": "operator", "password": "operator-password"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{backend:?}: {body}");
        let proxy = client_from(24);

        // Guesses for one user id spread over three client addresses.
        for last in 1..=3 {
            let forwarded_for = format!("203.0.113.{last}");
            let status =
                login_forwarded(&server, &proxy, &forwarded_for, "admin", "wrong password").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{backend:?}");
        }
        let status =
            login_forwarded(&server, &proxy, "198.51.100.1", "admin", ADMIN_PASSWORD).await;
        assert_eq!(
            status,
            StatusCode::TOO_MANY_REQUESTS,
            "{backend:?}: the user id is locked from every address"
        );

        // Another user id through the same proxy, even from an address that guessed, is not
        // locked out.
        let status = login_forwarded(
            &server,
            &proxy,
            "203.0.113.1",
            "operator",
            "operator-password",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{backend:?}");
    }
}

/// Starts a server that locks after 3 failures, with the user `dave` (password
/// `first-password`), and returns it with an administrator client and dave's id.
async fn start_with_dave(backend: Backend) -> (TestServer, support::api::ApiClient, i64) {
    let server = TestServer::start_with(backend, Clock::manual(T0), |config| {
        config.security.login_max_failures = 3;
    })
    .await;
    let mut admin = support::api::ApiClient::admin(&server).await;
    let (status, body) = admin
        .post(
            "/users",
            json!({"userid": "dave", "password": "first-password"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{backend:?}: {body}");
    let id = body["id"].as_i64().unwrap();
    (server, admin, id)
}

#[tokio::test]
async fn admin_password_reset_clears_failures() {
    for backend in BACKENDS {
        let (server, mut admin, dave_id) = start_with_dave(backend).await;
        for last in 30..33 {
            let response = login_status(&server, &client_from(last), "dave", "guess").await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{backend:?}");
        }
        let locked = login_status(&server, &client_from(33), "dave", "first-password").await;
        assert_eq!(
            locked.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{backend:?}"
        );

        let (status, body) = admin
            .request(
                reqwest::Method::PUT,
                &format!("/users/{dave_id}"),
                Some(json!({"password": "second-password"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{backend:?}: {body}");
        let response = login_status(&server, &client_from(34), "dave", "second-password").await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{backend:?}: the reset password works at once"
        );
    }
}

#[tokio::test]
async fn own_password_change_clears_failures() {
    for backend in BACKENDS {
        let (server, _admin, _) = start_with_dave(backend).await;
        let mut session = support::api::ApiClient::login(&server, "dave", "first-password").await;
        for last in 40..42 {
            let response = login_status(&server, &client_from(last), "dave", "guess").await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{backend:?}");
        }

        let (status, body) = session
            .post(
                "/account/password",
                json!({"current_password": "first-password", "new_password": "second-password"}),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{backend:?}: {body}");
        // Without the reset, these two failures would make four and lock the user id.
        for last in 42..44 {
            let response = login_status(&server, &client_from(last), "dave", "guess").await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{backend:?}");
        }
        let response = login_status(&server, &client_from(44), "dave", "second-password").await;
        assert_eq!(response.status(), StatusCode::OK, "{backend:?}");
    }
}
