//! End to end on this machine: the real `sysmanage-server` and `sysmanage-agent` binaries, the
//! real apt and dpkg, and a hermetic local apt repository built by `tests/e2e/apt-repo.sh`.
//!
//! The agent registers, an administrator approves it through the API, the two test packages
//! appear as updates (one of them a security update), an install of one pinned package and then
//! a security-only install bring them to version 2.0, and the update list ends empty. Stopping
//! the agent then marks the host down. Runs once on SQLite and once on PostgreSQL.
//!
//! Needs root (dpkg installs into the real system) and the Debian packages dpkg and apt-utils.
//! The test packages are purged and the repository folder deleted at the end, even on failure;
//! /etc/apt is never touched.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{ADMIN_PASSWORD, Backend, PostgresDatabase};

const APT_REPO_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/e2e/apt-repo.sh");

/// Local apt repository and test packages, removed on drop.
struct AptRepository {
    dir: PathBuf,
    prefix: String,
}

impl AptRepository {
    fn create(dir: PathBuf, prefix: &str) -> Self {
        let repository = Self {
            dir,
            prefix: prefix.to_owned(),
        };
        let status = Command::new("bash")
            .arg(APT_REPO_SCRIPT)
            .arg("create")
            .arg(&repository.dir)
            .arg(prefix)
            .status()
            .unwrap();
        assert!(status.success(), "apt-repo.sh create failed: {status}");
        repository
    }

    fn apt_config(&self) -> PathBuf {
        self.dir.join("apt.conf")
    }

    fn package(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.prefix)
    }
}

impl Drop for AptRepository {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(APT_REPO_SCRIPT)
            .arg("cleanup")
            .arg(&self.dir)
            .arg(&self.prefix)
            .status();
    }
}

/// A child process killed on drop.
struct Process {
    name: &'static str,
    child: Child,
}

impl Process {
    fn spawn(name: &'static str, command: &mut Command) -> Self {
        let child = command
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("failed to start {name}: {error}"));
        Self { name, child }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("{} exited early with {status}", self.name);
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

fn binary(name: &str) -> PathBuf {
    let server = Path::new(env!("CARGO_BIN_EXE_sysmanage-server"));
    let path = server.with_file_name(name);
    assert!(
        path.exists(),
        "{} not found: build it first with `cargo build --workspace`",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn installed_version(package: &str) -> String {
    let output = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", package])
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    assert!(output.status.success(), "dpkg-query {package} failed");
    String::from_utf8(output.stdout).unwrap()
}

/// A REST client that follows the one-use token chain.
struct ApiClient {
    base_url: String,
    http: reqwest::Client,
    token: String,
}

impl ApiClient {
    async fn login(base_url: &str) -> Self {
        let http = reqwest::Client::new();
        let response = http
            .post(format!("{base_url}/login"))
            .json(&json!({ "userid": "admin", "password": ADMIN_PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "login failed");
        let body: Value = response.json().await.unwrap();
        Self {
            base_url: base_url.to_owned(),
            http,
            token: body["X_Reauthorization"].as_str().unwrap().to_owned(),
        }
    }

    async fn call(&mut self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base_url))
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
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        }
    }

    async fn get(&mut self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&mut self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
}

/// Returns the array of a list response, whether it is a bare array or `{"items": [...]}`.
fn items(list: &Value) -> Vec<Value> {
    list.as_array()
        .or_else(|| list["items"].as_array())
        .cloned()
        .unwrap_or_else(|| panic!("not a list response: {list}"))
}

/// A time limit for polling, checked between attempts.
struct Deadline {
    what: &'static str,
    timeout: Duration,
    until: Instant,
}

impl Deadline {
    fn new(what: &'static str, timeout: Duration) -> Self {
        Self {
            what,
            timeout,
            until: Instant::now() + timeout,
        }
    }

    /// Waits 250 ms before the next attempt, or fails the test once the time is up.
    async fn tick(&self) {
        assert!(
            Instant::now() < self.until,
            "timed out after {:?} waiting for {}",
            self.timeout,
            self.what
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Polls `GET /jobs/{job_id}` until the job has finished, and returns it.
async fn wait_for_job(api: &mut ApiClient, job_id: i64) -> Value {
    let deadline = Deadline::new("the install job to finish", Duration::from_mins(3));
    loop {
        let job = api.get(&format!("/jobs/{job_id}")).await;
        if matches!(
            job["state"].as_str(),
            Some("succeeded" | "failed" | "expired")
        ) {
            return job;
        }
        deadline.tick().await;
    }
}

async fn run_end_to_end(backend: Backend, prefix: &str) {
    let work = tempfile::tempdir().unwrap();
    let repository = AptRepository::create(work.path().join("apt"), prefix);
    let postgres = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PostgresDatabase::create().await),
    };

    let port = free_port();
    let base_url = format!("http://127.0.0.1:{port}");
    let mut server_command = Command::new(binary("sysmanage-server"));
    server_command
        .current_dir(work.path())
        .env_remove("SYSMANAGE_CONFIG")
        .env("SYSMANAGE_DATA_DIR", work.path().join("server"))
        .env("SYSMANAGE_API_LISTEN", format!("127.0.0.1:{port}"))
        .env("SYSMANAGE_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("SYSMANAGE_AGENTS_HEARTBEAT_INTERVAL_SECS", "1")
        .env("SYSMANAGE_AGENTS_HEARTBEAT_TIMEOUT_SECS", "3")
        .env("SYSMANAGE_AGENTS_DISCONNECT_GRACE_SECS", "1")
        .env("SYSMANAGE_AGENTS_LAST_SEEN_FLUSH_INTERVAL_MS", "500");
    if let Some(database) = &postgres {
        // Production path: migrate explicitly, then start with auto-migration off.
        let status = Command::new(binary("sysmanage-server"))
            .args(["db", "upgrade"])
            .current_dir(work.path())
            .env_remove("SYSMANAGE_CONFIG")
            .env("SYSMANAGE_DATABASE_URL", &database.url)
            .status()
            .unwrap();
        assert!(status.success(), "sysmanage-server db upgrade failed");
        server_command.env("SYSMANAGE_DATABASE_URL", &database.url);
    }
    let mut server = Process::spawn("sysmanage-server", &mut server_command);

    let http = reqwest::Client::new();
    let deadline = Deadline::new("the server to answer /health", Duration::from_secs(30));
    loop {
        let response = http.get(format!("{base_url}/health")).send().await;
        if response.is_ok_and(|response| response.status().is_success()) {
            break;
        }
        server.assert_running();
        deadline.tick().await;
    }
    server.assert_running();

    let mut agent = Process::spawn(
        "sysmanage-agent",
        Command::new(binary("sysmanage-agent"))
            .current_dir(work.path())
            .env_remove("SYSMANAGE_AGENT_CONFIG")
            .env("SYSMANAGE_AGENT_SERVER_URL", &base_url)
            .env("SYSMANAGE_AGENT_STATE_DIR", work.path().join("agent"))
            .env("APT_CONFIG", repository.apt_config()),
    );

    let mut api = ApiClient::login(&base_url).await;

    // The agent registers as pending; the administrator approves it.
    let deadline = Deadline::new("the agent to register", Duration::from_secs(30));
    let host = loop {
        if let Some(host) = items(&api.get("/hosts").await).into_iter().next() {
            break host;
        }
        agent.assert_running();
        deadline.tick().await;
    };
    let host_id = host["id"].as_i64().unwrap();
    assert_eq!(host["approval"], "pending", "{host}");
    api.post(&format!("/hosts/{host_id}/approve"), json!({}))
        .await;
    agent.assert_running();

    // Both test packages appear with their versions; only one is a security update.
    let hello = repository.package("hello");
    let security = repository.package("security");
    let deadline = Deadline::new("the update report", Duration::from_secs(90));
    let updates = loop {
        let updates = items(&api.get(&format!("/hosts/{host_id}/updates")).await);
        let has = |name: &str| updates.iter().any(|update| update["name"] == name);
        if has(&hello) && has(&security) {
            break updates;
        }
        deadline.tick().await;
    };
    let find = |name: &str| updates.iter().find(|u| u["name"] == name).unwrap().clone();
    let hello_update = find(&hello);
    assert_eq!(hello_update["manager"], "apt");
    assert_eq!(hello_update["current_version"], "1.0");
    assert_eq!(hello_update["new_version"], "2.0");
    assert_eq!(hello_update["security"], false);
    assert_eq!(hello_update["status"], "available");
    let security_update = find(&security);
    assert_eq!(security_update["security"], true, "{security_update}");
    assert_eq!(security_update["new_version"], "2.0");

    // Install one package pinned to the version the administrator saw.
    let job = api
        .post(
            &format!("/hosts/{host_id}/updates/install"),
            json!({ "packages": [{ "manager": "apt", "name": hello, "version": "2.0" }] }),
        )
        .await;
    let finished = wait_for_job(&mut api, job["job_id"].as_i64().unwrap()).await;
    assert_eq!(finished["state"], "succeeded", "{finished}");
    assert_eq!(installed_version(&hello), "2.0");
    assert_eq!(installed_version(&security), "1.0");

    // Then every security update.
    let job = api
        .post(
            &format!("/hosts/{host_id}/updates/install"),
            json!({ "security_only": true }),
        )
        .await;
    let finished = wait_for_job(&mut api, job["job_id"].as_i64().unwrap()).await;
    assert_eq!(finished["state"], "succeeded", "{finished}");
    assert_eq!(installed_version(&security), "2.0");

    // The agent re-scans after each install, so the list ends empty.
    let deadline = Deadline::new("an empty update list", Duration::from_secs(90));
    while !items(&api.get(&format!("/hosts/{host_id}/updates")).await).is_empty() {
        deadline.tick().await;
    }

    let host = api.get(&format!("/hosts/{host_id}")).await;
    assert_eq!(host["approval"], "approved");
    assert_eq!(host["status"], "up");

    // A stopped agent makes the host down within timeout plus grace.
    agent.kill();
    let deadline = Deadline::new("the host to be marked down", Duration::from_secs(15));
    while api.get(&format!("/hosts/{host_id}")).await["status"] != "down" {
        deadline.tick().await;
    }
    server.assert_running();
}

#[tokio::test]
async fn apt_updates_end_to_end_sqlite() {
    run_end_to_end(
        Backend::Sqlite,
        &format!("sme2e-lite-{}", std::process::id()),
    )
    .await;
}

#[tokio::test]
async fn apt_updates_end_to_end_postgres() {
    run_end_to_end(
        Backend::Postgres,
        &format!("sme2e-pg-{}", std::process::id()),
    )
    .await;
}
