//! Error bodies of bad requests: each case goes to a real server on both backends and checks
//! the status, code and field, that the message names the bad value, and that it contains no
//! Rust type name and no wording of serde or axum.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use support::api::ApiClient;
use support::{BACKENDS, TestServer};

/// Text that must never appear in an error message: serde's and axum's wording and Rust type
/// names.
const FORBIDDEN_WORDS: [&str; 10] = [
    "serde",
    "struct",
    "Body",
    "`u64`",
    "`i64`",
    "axum",
    "Failed to deserialize",
    "expected one of",
    "Cannot parse",
    "Invalid URL",
];

const JSON: Option<&str> = Some("application/json");

/// One bad request and the error it must get.
struct Case {
    method: Method,
    path: &'static str,
    content_type: Option<&'static str>,
    body: &'static str,
    status: u16,
    code: &'static str,
    /// The `field` of the error, or `None` when the body must have none.
    field: Option<&'static str>,
    /// Texts the message must contain, such as the bad value and the fix.
    message_contains: &'static [&'static str],
}

const fn case(
    method: Method,
    path: &'static str,
    content_type: Option<&'static str>,
    body: &'static str,
    status: u16,
    field: Option<&'static str>,
    message_contains: &'static [&'static str],
) -> Case {
    let code = match status {
        400 => "bad_request",
        413 => "payload_too_large",
        _ => "invalid",
    };
    Case {
        method,
        path,
        content_type,
        body,
        status,
        code,
        field,
        message_contains,
    }
}

/// Unknown, repeated, missing and wrongly typed body fields.
fn body_cases() -> Vec<Case> {
    vec![
        case(
            Method::POST,
            "/users",
            JSON,
            r#"{"userid": "bob", "password": "password123", "admin": true}"#,
            422,
            Some("admin"),
            &[
                "unknown field `admin`",
                "remove it",
                "accepted fields: userid, password, is_admin, active",
            ],
        ),
        case(
            Method::POST,
            "/login",
            JSON,
            r#"{"userid": "admin", "password": "x", "remember_me": true}"#,
            422,
            Some("remember_me"),
            &[
                "unknown field `remember_me`",
                "accepted fields: userid, password",
            ],
        ),
        case(
            Method::POST,
            "/login",
            JSON,
            r#"{"userid": "a\u0000b", "password": "x"}"#,
            422,
            Some("body"),
            &["contains the NUL character (\\u0000); remove it"],
        ),
        case(
            Method::POST,
            "/login",
            JSON,
            r#"{"userid": "admin"}"#,
            422,
            Some("password"),
            &["missing field `password`; add it"],
        ),
        case(
            Method::POST,
            "/users",
            JSON,
            r#"{"userid": "a", "password": "password123", "userid": "b"}"#,
            422,
            Some("userid"),
            &["`userid` appears more than once"],
        ),
        case(
            Method::POST,
            "/login",
            JSON,
            r#"["admin", "correct horse battery staple"]"#,
            422,
            Some("body"),
            &["the body must be a JSON object, not an array"],
        ),
        case(
            Method::POST,
            "/jobs",
            JSON,
            "[1, 2]",
            422,
            Some("body"),
            &["the body must be a JSON object, not an array"],
        ),
        case(
            Method::POST,
            "/jobs",
            JSON,
            r#"{"host_ids": "web1", "all": true}"#,
            422,
            Some("host_ids"),
            &["must be a JSON array", "\"web1\""],
        ),
        case(
            Method::POST,
            "/jobs",
            JSON,
            r#"{"host_ids": [1, "web2"], "all": true}"#,
            422,
            Some("host_ids[1]"),
            &["must be an integer from", "\"web2\""],
        ),
        case(
            Method::POST,
            "/hosts/1/updates/install",
            JSON,
            r#"{"packages": [{"manager": "apt", "name": "curl", "version": "1", "arch": "amd64"}]}"#,
            422,
            Some("packages[0].arch"),
            &[
                "unknown field `packages[0].arch`",
                "accepted fields: manager, name, version",
            ],
        ),
        case(
            Method::POST,
            "/hosts/1/updates/install",
            JSON,
            r#"{"packages": [["apt", "curl", "1.0"]]}"#,
            422,
            Some("packages[0]"),
            &[
                "`packages[0]` must be a JSON object with the fields manager, name, version",
                "not an array",
            ],
        ),
        case(
            Method::POST,
            "/jobs",
            JSON,
            r#"{"host_ids": [1], "packages": [{"manager": "apt", "name": "curl", "version": "1"}, ["apt", "vim", "2"]]}"#,
            422,
            Some("packages[1]"),
            &["`packages[1]` must be a JSON object with the fields manager, name, version"],
        ),
        case(
            Method::POST,
            "/hosts/1/updates/install",
            JSON,
            r#"{"everything": true}"#,
            422,
            Some("everything"),
            &["unknown field `everything`", "packages, all, security_only"],
        ),
        case(
            Method::POST,
            "/hosts/1/updates/install",
            JSON,
            r#""all""#,
            422,
            Some("body"),
            &["the body must be a JSON object, not the string \"all\""],
        ),
        case(
            Method::POST,
            "/hosts/1/approve",
            JSON,
            r#"{"replace": "yes"}"#,
            422,
            Some("replace"),
            &["must be true or false, not the string \"yes\""],
        ),
        case(
            Method::POST,
            "/hosts/1/approve",
            JSON,
            r#"{"replace": true, "force": true}"#,
            422,
            Some("force"),
            &["unknown field `force`", "accepted fields: replace"],
        ),
        case(
            Method::PUT,
            "/users/1",
            JSON,
            r#"{"active": "no"}"#,
            422,
            Some("active"),
            &["must be true or false, not the string \"no\""],
        ),
        case(
            Method::POST,
            "/account/password",
            JSON,
            r#"{"current_password": "a", "new_password": "b", "confirm": "b"}"#,
            422,
            Some("confirm"),
            &[
                "unknown field `confirm`; remove it",
                "current_password, new_password",
            ],
        ),
    ]
}

/// Bodies that cannot be read at all: not JSON, empty, or without a JSON `Content-Type`.
fn unreadable_body_cases() -> Vec<Case> {
    vec![
        case(
            Method::POST,
            "/users",
            JSON,
            r#"{"userid": "a","#,
            400,
            None,
            &["request body is not valid JSON", "send a JSON object"],
        ),
        case(
            Method::POST,
            "/users",
            JSON,
            "",
            400,
            None,
            &["request body is empty"],
        ),
        case(
            Method::POST,
            "/users",
            None,
            r#"{"userid": "a", "password": "password123"}"#,
            400,
            None,
            &["no Content-Type", "send Content-Type: application/json"],
        ),
        case(
            Method::POST,
            "/login",
            Some("text/plain"),
            r#"{"userid": "admin", "password": "x"}"#,
            400,
            None,
            &["`text/plain`", "send Content-Type: application/json"],
        ),
        case(
            Method::POST,
            "/hosts/1/approve",
            Some("application/x-www-form-urlencoded"),
            "replace=true",
            400,
            None,
            &["send Content-Type: application/json"],
        ),
    ]
}

/// Path ids that are not positive integers, on every route that takes one.
fn path_cases() -> Vec<Case> {
    const HOST_ID: &[&str] = &["host id `abc`", "must be a positive integer"];
    vec![
        case(
            Method::GET,
            "/hosts/abc",
            None,
            "",
            400,
            Some("id"),
            HOST_ID,
        ),
        case(
            Method::DELETE,
            "/hosts/abc",
            None,
            "",
            400,
            Some("id"),
            HOST_ID,
        ),
        case(
            Method::GET,
            "/hosts/abc/events",
            None,
            "",
            400,
            Some("id"),
            HOST_ID,
        ),
        case(
            Method::GET,
            "/hosts/abc/updates",
            None,
            "",
            400,
            Some("id"),
            HOST_ID,
        ),
        case(
            Method::POST,
            "/hosts/abc/approve",
            JSON,
            "{}",
            400,
            Some("id"),
            HOST_ID,
        ),
        case(
            Method::POST,
            "/hosts/abc/reject",
            JSON,
            "{}",
            400,
            Some("id"),
            HOST_ID,
        ),
        case(
            Method::POST,
            "/hosts/abc/updates/refresh",
            JSON,
            "{}",
            400,
            Some("id"),
            HOST_ID,
        ),
        case(
            Method::POST,
            "/hosts/abc/updates/install",
            JSON,
            r#"{"all": true}"#,
            400,
            Some("id"),
            HOST_ID,
        ),
        case(
            Method::GET,
            "/hosts/0",
            None,
            "",
            400,
            Some("id"),
            &["host id `0`", "must be a positive integer"],
        ),
        case(
            Method::GET,
            "/hosts/-3",
            None,
            "",
            400,
            Some("id"),
            &["host id `-3`", "must be a positive integer"],
        ),
        case(
            Method::GET,
            "/hosts/99999999999999999999",
            None,
            "",
            400,
            Some("id"),
            &["`99999999999999999999`", "at most 9223372036854775807"],
        ),
        case(
            Method::GET,
            "/jobs/abc",
            None,
            "",
            400,
            Some("id"),
            &["job id `abc`", "must be a positive integer"],
        ),
        case(
            Method::GET,
            "/users/abc",
            None,
            "",
            400,
            Some("id"),
            &["user id `abc`", "must be a positive integer"],
        ),
        case(
            Method::PUT,
            "/users/abc",
            JSON,
            r#"{"active": true}"#,
            400,
            Some("id"),
            &["user id `abc`"],
        ),
        case(
            Method::DELETE,
            "/users/1.5",
            None,
            "",
            400,
            Some("id"),
            &["user id `1.5`"],
        ),
    ]
}

/// Unknown, repeated and conflicting query parameters, and query strings on endpoints that
/// take none.
fn query_cases() -> Vec<Case> {
    vec![
        case(
            Method::GET,
            "/hosts?sort_by=id",
            None,
            "",
            422,
            Some("sort_by"),
            &[
                "unknown query parameter `sort_by`",
                "accepted parameters: status, approval, hostname, sort, limit, offset, page, per_page",
            ],
        ),
        case(
            Method::GET,
            "/hosts?hostname=web%00",
            None,
            "",
            422,
            Some("hostname"),
            &["query parameter `hostname` contains the NUL character (%00); remove it"],
        ),
        case(
            Method::GET,
            "/hosts?limit=abc",
            None,
            "",
            422,
            Some("limit"),
            &["\"abc\" is not a whole number; send an integer from 1 to 500"],
        ),
        case(
            Method::GET,
            "/hosts?limit=0",
            None,
            "",
            422,
            Some("limit"),
            &["0 is out of range; send an integer from 1 to 500"],
        ),
        case(
            Method::GET,
            "/jobs?host_id=0",
            None,
            "",
            422,
            Some("host_id"),
            &["\"0\" is not an id; send a positive integer"],
        ),
        case(
            Method::GET,
            "/updates?host_id=-1",
            None,
            "",
            422,
            Some("host_id"),
            &["\"-1\" is not an id; send a positive integer"],
        ),
        case(
            Method::GET,
            "/hosts?limit=1&limit=2",
            None,
            "",
            422,
            Some("limit"),
            &["`limit` is given more than once"],
        ),
        case(
            Method::GET,
            "/hosts?offset=10&page=2",
            None,
            "",
            422,
            Some("page"),
            &["`offset` and `page` cannot be combined"],
        ),
        case(
            Method::GET,
            "/hosts?limit=10&per_page=20",
            None,
            "",
            422,
            Some("per_page"),
            &["`limit` and `per_page` cannot be combined"],
        ),
        case(
            Method::GET,
            "/updates?offset=5&per_page=5",
            None,
            "",
            422,
            Some("per_page"),
            &["`offset` and `per_page`"],
        ),
        case(
            Method::GET,
            "/jobs?limit=5&page=2",
            None,
            "",
            422,
            Some("page"),
            &["`limit` and `page`"],
        ),
        case(
            Method::GET,
            "/hosts/1/events?kind=up",
            None,
            "",
            422,
            Some("kind"),
            &[
                "unknown query parameter `kind`",
                "limit, offset, page, per_page",
            ],
        ),
        case(
            Method::GET,
            "/summary?host=1",
            None,
            "",
            422,
            Some("host"),
            &[
                "unknown query parameter `host`",
                "takes no query parameters",
            ],
        ),
        case(
            Method::GET,
            "/hosts/1?verbose=true",
            None,
            "",
            422,
            Some("verbose"),
            &[
                "unknown query parameter `verbose`",
                "takes no query parameters",
            ],
        ),
        case(
            Method::DELETE,
            "/hosts/1?dry_run=true",
            None,
            "",
            422,
            Some("dry_run"),
            &["unknown query parameter `dry_run`"],
        ),
        case(
            Method::POST,
            "/jobs?host_id=1",
            JSON,
            r#"{"host_ids": [1], "all": true}"#,
            422,
            Some("host_id"),
            &[
                "unknown query parameter `host_id`",
                "POST /jobs takes no query parameters",
            ],
        ),
        case(
            Method::GET,
            "/users?active=true",
            None,
            "",
            422,
            Some("active"),
            &["unknown query parameter `active`"],
        ),
        case(
            Method::POST,
            "/login?next=/ui/",
            JSON,
            r#"{"userid": "admin", "password": "x"}"#,
            422,
            Some("next"),
            &["unknown query parameter `next`"],
        ),
        case(
            Method::GET,
            "/events?ticket=a&since=5",
            None,
            "",
            422,
            Some("since"),
            &[
                "unknown query parameter `since`",
                "accepted parameters: ticket",
            ],
        ),
    ]
}

/// Sends `case` and checks its error body.
async fn check(api: &mut ApiClient, backend: support::Backend, case: &Case) {
    let (status, _, body) = api
        .request_raw(case.method.clone(), case.path, case.content_type, case.body)
        .await;
    let label = format!("{backend:?} {} {} {:?}", case.method, case.path, case.body);
    assert_eq!(status.as_u16(), case.status, "{label}: {body}");
    assert_eq!(body["error"]["code"], case.code, "{label}: {body}");
    let field = case.field.map_or(Value::Null, Value::from);
    assert_eq!(body["error"]["field"], field, "{label}: {body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    for expected in case.message_contains {
        assert!(
            message.contains(expected),
            "{label}: message lacks {expected:?}: {message}"
        );
    }
    for word in FORBIDDEN_WORDS {
        assert!(
            !message.contains(word),
            "{label}: message contains {word:?}: {message}"
        );
    }
}

#[tokio::test]
async fn bad_requests_get_plain_errors() {
    let cases: Vec<Case> = [
        body_cases(),
        unreadable_body_cases(),
        path_cases(),
        query_cases(),
    ]
    .into_iter()
    .flatten()
    .collect();
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut api = ApiClient::admin(&server).await;
        for case in &cases {
            check(&mut api, backend, case).await;
        }
        // The token chain still works after every rejection.
        let (status, body) = api.get("/hosts").await;
        assert_eq!(status, StatusCode::OK, "{backend:?}: {body}");
    }
}

#[tokio::test]
async fn oversized_body_states_limit() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let mut api = ApiClient::admin(&server).await;
        let limit = sysmanage_server::error::MAX_BODY_BYTES;
        let body = format!(r#"{{"userid": "{}"}}"#, "a".repeat(limit));
        let (status, _, reply) = api.request_raw(Method::POST, "/users", JSON, &body).await;
        assert_eq!(
            status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{backend:?}: {reply}"
        );
        assert_eq!(reply["error"]["code"], "payload_too_large", "{reply}");
        let message = reply["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("2097152 bytes"), "{message}");
        assert!(message.contains("2048 KiB"), "{message}");
        assert!(message.contains("send a smaller body"), "{message}");

        let (status, body) = api.get("/hosts").await;
        assert_eq!(status, StatusCode::OK, "{backend:?}: {body}");
    }
}
