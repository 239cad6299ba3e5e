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
            (
                keys.try_get_by_index::<i64>(0).unwrap(),
                journal.try_get_by_index::<String>(0).unwrap(),
            )
        })
    });
    for query in queries {
        let (foreign_keys, journal_mode) = query.await.unwrap();
        assert_eq!(foreign_keys, 1);
        assert_eq!(journal_mode, "wal");
    }
}
