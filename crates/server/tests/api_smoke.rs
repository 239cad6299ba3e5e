#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{BACKENDS, TestServer};

#[tokio::test]
async fn health_on_both_backends() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let response = server
            .client
            .get(server.url("/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{backend:?}");
    }
}

#[tokio::test]
async fn sqlite_pragmas_on_every_connection() {
    use sea_orm::{ConnectionTrait, Statement};

    let directory = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        directory.path().join("db.sqlite").display()
    );
    let db = sysmanage_server::db::connect(&url, 4).await.unwrap();
    // Hold several queries at once so that the pool opens more than one connection.
    let queries = (0..8).map(|_| {
        let db = db.clone();
        tokio::spawn(async move {
            let backend = db.get_database_backend();
            let keys = db
                .query_one_raw(Statement::from_string(backend, "PRAGMA foreign_keys"))
                .await
                .unwrap()
                .unwrap();
            let journal = db
                .query_one_raw(Statement::from_string(backend, "PRAGMA journal_mode"))
                .await
                .unwrap()
                .unwrap();
            let temp_store = db
                .query_one_raw(Statement::from_string(backend, "PRAGMA temp_store"))
                .await
                .unwrap()
                .unwrap();
            (
                keys.try_get_by_index::<i64>(0).unwrap(),
                journal.try_get_by_index::<String>(0).unwrap(),
                temp_store.try_get_by_index::<i64>(0).unwrap(),
            )
        })
    });
    for query in queries {
        let (foreign_keys, journal_mode, temp_store) = query.await.unwrap();
        assert_eq!(foreign_keys, 1);
        assert_eq!(journal_mode, "wal");
        assert_eq!(temp_store, 2, "temporary storage is not in memory");
    }
}

#[tokio::test]
async fn security_headers_on_every_response() {
    let server = TestServer::start(support::Backend::Sqlite).await;
    for path in ["/health", "/ui/", "/ui/hosts/7", "/hosts", "/no/such/route"] {
        let response = server.client.get(server.url(path)).send().await.unwrap();
        let headers = response.headers();
        let header = |name: &str| {
            headers
                .get(name)
                .map(|value| value.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
        let policy = header("content-security-policy");
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        if path.starts_with("/ui/") {
            assert_eq!(
                policy,
                sysmanage_server::http::UI_CONTENT_SECURITY_POLICY,
                "{path}"
            );
        } else {
            assert!(policy.starts_with("default-src 'none'"), "{path}: {policy}");
        }
    }
}

#[tokio::test]
async fn repeated_stream_ticket_named() {
    let server = TestServer::start(support::Backend::Sqlite).await;
    let response = server
        .client
        .get(server.url("/events?ticket=a&ticket=b"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["field"], "ticket", "{body}");
}
