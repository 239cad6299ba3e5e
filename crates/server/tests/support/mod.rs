//! Shared helpers of the server integration tests: an in-process server on a loopback port, on
//! SQLite in a temporary folder or on a fresh PostgreSQL database that is dropped afterwards.
//!
//! PostgreSQL is reached through `SYSMANAGE_TEST_POSTGRES_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/postgres`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod agent;
pub mod api;

use std::net::SocketAddr;

use sea_orm::{ConnectionTrait, Database};
use sysmanage_server::clock::Clock;
use sysmanage_server::config::Config;
use sysmanage_server::state::AppState;

/// Password of the administrator every test server starts with.
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// Database backend of a test server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Both backends, for tests that loop over them.
pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

fn postgres_admin_url() -> String {
    std::env::var("SYSMANAGE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A fresh PostgreSQL database, dropped when this value is dropped.
pub struct PostgresDatabase {
    pub url: String,
    name: String,
}

impl PostgresDatabase {
    pub async fn create() -> Self {
        let admin_url = postgres_admin_url();
        let name = format!("sysmanage_test_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(&admin_url)
            .await
            .expect("PostgreSQL must run on 127.0.0.1:5432 (or set SYSMANAGE_TEST_POSTGRES_URL)");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        admin.close().await.unwrap();
        let base = admin_url.rsplit_once('/').unwrap().0;
        Self {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async code, so the DROP DATABASE gets a runtime of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(admin) = Database::connect(&postgres_admin_url()).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// A server running in this process on 127.0.0.1 with a random port.
pub struct TestServer {
    pub backend: Backend,
    pub address: SocketAddr,
    pub base_url: String,
    pub state: AppState,
    pub client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
    _data_dir: tempfile::TempDir,
    _postgres: Option<PostgresDatabase>,
}

impl TestServer {
    /// Starts a server with the default configuration and the system clock.
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, Clock::system(), |_| {}).await
    }

    /// Starts a server after `configure` adjusted its configuration.
    pub async fn start_with(
        backend: Backend,
        clock: Clock,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let postgres = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PostgresDatabase::create().await),
        };
        let mut config = Config {
            data_dir: data_dir.path().to_owned(),
            ..Config::default()
        };
        config.database.url = postgres.as_ref().map(|database| database.url.clone());
        config.database.auto_migrate = Some(true);
        configure(&mut config);
        let (router, state) =
            sysmanage_server::app::build(config, clock, Some(ADMIN_PASSWORD.to_owned()))
                .await
                .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        Self {
            backend,
            address,
            base_url: format!("http://{address}"),
            state,
            client: reqwest::Client::new(),
            server,
            _data_dir: data_dir,
            _postgres: postgres,
        }
    }

    /// Returns the absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// Logs in as the first administrator and returns the token.
    pub async fn login_admin(&self) -> String {
        self.login("admin", ADMIN_PASSWORD).await.unwrap()
    }

    /// Logs in and returns the token, or the HTTP status on failure.
    pub async fn login(&self, userid: &str, password: &str) -> Result<String, u16> {
        let response = self
            .client
            .post(self.url("/login"))
            .json(&serde_json::json!({ "userid": userid, "password": password }))
            .send()
            .await
            .unwrap();
        if !response.status().is_success() {
            return Err(response.status().as_u16());
        }
        let body: serde_json::Value = response.json().await.unwrap();
        Ok(body["X_Reauthorization"].as_str().unwrap().to_owned())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}
