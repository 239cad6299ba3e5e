#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The `sysmanage-server` binary: `db` commands on a SQLite file, configuration errors, the
//! first start that prints the administrator password, shutdown on SIGTERM, and HTTPS.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement};
use sysmanage_server::clock::Clock;
use sysmanage_server::config::Config;
use sysmanage_server::{app, db, tls};

const BINARY: &str = env!("CARGO_BIN_EXE_sysmanage-server");
const INITIAL: &str = "m20261204_000001_initial";
const HOST_INVENTORY: &str = "m20261204_000002_host_inventory";
const LIST_INDEXES: &str = "m20261204_000003_list_indexes";
const JOB_REQUEST_KEY: &str = "m20261204_000004_job_request_key";
const HOSTS_FILLFACTOR: &str = "m20261205_000005_hosts_fillfactor";

/// Runs the binary with `--config` and `args`, without any inherited `SYSMANAGE_` variables.
fn run(config: &Path, args: &[&str]) -> Output {
    command(config).args(args).output().unwrap()
}

fn command(config: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command.arg("--config").arg(config);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SYSMANAGE_") {
            command.env_remove(name);
        }
    }
    command.env_remove("RUST_LOG");
    command
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Writes a configuration with its SQLite database in `dir`, given by URL so that
/// `auto_migrate` defaults to off. `extra` is appended, and must not contain `database:`.
fn sqlite_config(dir: &Path, extra: &str) -> PathBuf {
    sqlite_config_with(dir, "", extra)
}

/// [`sqlite_config`] with `database_keys` (indented lines) added to the `database` section.
fn sqlite_config_with(dir: &Path, database_keys: &str, extra: &str) -> PathBuf {
    let path = dir.join("sysmanage.yaml");
    let database = dir.join("server.sqlite");
    let text = format!(
        "data_dir: {data}\ndatabase:\n  url: \"sqlite://{database}?mode=rwc\"\n{database_keys}{extra}",
        data = dir.display(),
        database = database.display(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

async fn table_exists(dir: &Path, table: &str) -> bool {
    let url = format!("sqlite://{}?mode=rwc", dir.join("server.sqlite").display());
    let connection = db::connect(&url, 1).await.unwrap();
    let row = connection
        .query_one_raw(Statement::from_string(
            connection.get_database_backend(),
            format!(
                "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    let count: i64 = row.try_get("", "n").unwrap();
    connection.close().await.unwrap();
    count == 1
}

#[tokio::test]
async fn db_commands_on_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    // A free port, so that `serve` reaches the schema check even when port 8000 is taken.
    let config = sqlite_config(dir.path(), "api:\n  listen: 127.0.0.1:0\n");

    let database = dir.path().join("server.sqlite");
    let opened = format!("database: SQLite at {}\n", database.display());
    let missing = format!(
        "{opened}no database at {}; run `sysmanage-server db upgrade` or start the server to \
         create it\n",
        database.display()
    );
    for command in ["status", "history"] {
        let report = run(&config, &["db", command]);
        assert!(report.status.success(), "{}", stderr(&report));
        assert_eq!(stdout(&report), missing, "db {command}");
        assert!(!database.exists(), "db {command} created the database");
    }

    let serve = run(&config, &["serve"]);
    assert!(!serve.status.success());
    let message = stderr(&serve);
    assert!(message.contains("sysmanage-server db upgrade"), "{message}");
    assert!(message.contains(INITIAL), "{message}");

    let status = run(&config, &["db", "status"]);
    assert!(status.status.success(), "{}", stderr(&status));
    assert_eq!(
        stdout(&status),
        format!(
            "{opened}current revision: none\npending migrations: 5\n  {INITIAL}\n  \
             {HOST_INVENTORY}\n  {LIST_INDEXES}\n  {JOB_REQUEST_KEY}\n  {HOSTS_FILLFACTOR}\n"
        )
    );
    let history = run(&config, &["db", "history"]);
    assert_eq!(
        stdout(&history),
        format!(
            "{opened}pending  {INITIAL}\npending  {HOST_INVENTORY}\npending  {LIST_INDEXES}\n\
             pending  {JOB_REQUEST_KEY}\npending  {HOSTS_FILLFACTOR}\n"
        )
    );

    let upgrade = run(&config, &["db", "upgrade"]);
    assert!(upgrade.status.success(), "{}", stderr(&upgrade));
    assert_eq!(
        stdout(&upgrade),
        format!(
            "applied {INITIAL}\napplied {HOST_INVENTORY}\napplied {LIST_INDEXES}\n\
             applied {JOB_REQUEST_KEY}\napplied {HOSTS_FILLFACTOR}\n"
        )
    );
    assert!(table_exists(dir.path(), "users").await);
    let again = run(&config, &["db", "upgrade"]);
    assert_eq!(stdout(&again), "database is up to date\n");

    let status = run(&config, &["db", "status"]);
    assert_eq!(
        stdout(&status),
        format!("{opened}current revision: {HOSTS_FILLFACTOR}\npending migrations: none\n")
    );
    let history = run(&config, &["db", "history"]);
    assert_eq!(
        stdout(&history),
        format!(
            "{opened}applied  {INITIAL}\napplied  {HOST_INVENTORY}\napplied  {LIST_INDEXES}\n\
             applied  {JOB_REQUEST_KEY}\napplied  {HOSTS_FILLFACTOR}\n"
        )
    );

    let keep = run(&config, &["db", "downgrade", "--to", HOSTS_FILLFACTOR]);
    assert!(keep.status.success(), "{}", stderr(&keep));
    assert_eq!(stdout(&keep), "nothing to downgrade\n");
    assert!(table_exists(dir.path(), "users").await);

    let unknown = run(&config, &["db", "downgrade", "--to", "m0_missing"]);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("unknown revision"),
        "{}",
        stderr(&unknown)
    );

    let to_initial = run(&config, &["db", "downgrade", "--to", INITIAL]);
    assert!(to_initial.status.success(), "{}", stderr(&to_initial));
    assert_eq!(
        stdout(&to_initial),
        format!(
            "reverted {HOSTS_FILLFACTOR}\nreverted {JOB_REQUEST_KEY}\nreverted {LIST_INDEXES}\n\
             reverted {HOST_INVENTORY}\n"
        )
    );
    assert!(table_exists(dir.path(), "hosts").await);

    let downgrade = run(&config, &["db", "downgrade"]);
    assert!(downgrade.status.success(), "{}", stderr(&downgrade));
    assert_eq!(stdout(&downgrade), format!("reverted {INITIAL}\n"));
    assert!(!table_exists(dir.path(), "users").await);
    let status = run(&config, &["db", "status"]);
    assert!(
        stdout(&status).contains("current revision: none\n"),
        "{}",
        stdout(&status)
    );

    let nothing = run(&config, &["db", "downgrade"]);
    assert!(nothing.status.success());
    assert_eq!(stdout(&nothing), "nothing to downgrade\n");

    let not_applied = run(&config, &["db", "downgrade", "--to", INITIAL]);
    assert!(!not_applied.status.success());
    assert!(
        stderr(&not_applied).contains("not applied"),
        "{}",
        stderr(&not_applied)
    );
}

/// Returns whether the inventory columns of `hosts` exist, by selecting them from no rows.
async fn inventory_columns_exist(url: &str) -> bool {
    let connection = db::connect(url, 1).await.unwrap();
    let result = connection
        .execute_unprepared(
            "SELECT inventory, inventory_updated_at, resources, resources_at FROM hosts WHERE 1 = 0",
        )
        .await;
    connection.close().await.unwrap();
    result.is_ok()
}

#[tokio::test]
async fn inventory_migration_down_and_up() {
    for backend in support::BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let postgres = match backend {
            support::Backend::Sqlite => None,
            support::Backend::Postgres => Some(support::PostgresDatabase::create().await),
        };
        let url = postgres.as_ref().map_or_else(
            || {
                format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("server.sqlite").display()
                )
            },
            |database| database.url.clone(),
        );
        let config = dir.path().join("sysmanage.yaml");
        std::fs::write(
            &config,
            format!(
                "data_dir: {}\ndatabase:\n  url: \"{url}\"\n",
                dir.path().display()
            ),
        )
        .unwrap();

        let upgrade = run(&config, &["db", "upgrade"]);
        assert!(
            upgrade.status.success(),
            "{backend:?}: {}",
            stderr(&upgrade)
        );
        assert!(inventory_columns_exist(&url).await, "{backend:?}");

        let downgrade = run(&config, &["db", "downgrade", "--to", INITIAL]);
        assert!(
            downgrade.status.success(),
            "{backend:?}: {}",
            stderr(&downgrade)
        );
        assert_eq!(
            stdout(&downgrade),
            format!(
                "reverted {HOSTS_FILLFACTOR}\nreverted {JOB_REQUEST_KEY}\nreverted {LIST_INDEXES}\n\
                 reverted {HOST_INVENTORY}\n"
            )
        );
        assert!(!inventory_columns_exist(&url).await, "{backend:?}");

        let again = run(&config, &["db", "upgrade"]);
        assert!(again.status.success(), "{backend:?}: {}", stderr(&again));
        assert_eq!(
            stdout(&again),
            format!(
                "applied {HOST_INVENTORY}\napplied {LIST_INDEXES}\napplied {JOB_REQUEST_KEY}\n\
                 applied {HOSTS_FILLFACTOR}\n"
            )
        );
        assert!(inventory_columns_exist(&url).await, "{backend:?}");
    }
}

/// Returns the indexes on `host_updates` that the list-index migration creates, sorted.
async fn list_indexes(url: &str) -> Vec<String> {
    let connection = db::connect(url, 1).await.unwrap();
    let backend = connection.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'index'",
        _ => "SELECT indexname AS name FROM pg_indexes",
    };
    let mut names: Vec<String> = connection
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .filter(|name| {
            [
                "idx_host_updates_list_order",
                "idx_host_updates_host_order",
                "idx_host_updates_name_order",
            ]
            .contains(&name.as_str())
        })
        .collect();
    connection.close().await.unwrap();
    names.sort();
    names
}

/// Returns `host_update_counts` as `host_id manager status security updates` lines, sorted,
/// or `None` when the table does not exist.
async fn update_counts(url: &str) -> Option<Vec<String>> {
    let connection = db::connect(url, 1).await.unwrap();
    let rows = connection
        .query_all_raw(Statement::from_string(
            connection.get_database_backend(),
            "SELECT host_id, manager, status, security, updates FROM host_update_counts",
        ))
        .await
        .ok()?;
    connection.close().await.unwrap();
    let mut lines: Vec<String> = rows
        .iter()
        .map(|row| {
            format!(
                "{} {} {} {} {}",
                row.try_get::<i64>("", "host_id").unwrap(),
                row.try_get::<String>("", "manager").unwrap(),
                row.try_get::<String>("", "status").unwrap(),
                row.try_get::<bool>("", "security").unwrap(),
                row.try_get::<i64>("", "updates").unwrap(),
            )
        })
        .collect();
    lines.sort();
    Some(lines)
}

/// The list-index migration fills `host_update_counts` from the updates stored before it, and
/// `down` drops the table and every index it created.
#[tokio::test]
async fn list_index_migration_counts_existing_updates() {
    for backend in support::BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let postgres = match backend {
            support::Backend::Sqlite => None,
            support::Backend::Postgres => Some(support::PostgresDatabase::create().await),
        };
        let url = postgres.as_ref().map_or_else(
            || {
                format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("server.sqlite").display()
                )
            },
            |database| database.url.clone(),
        );
        let config = dir.path().join("sysmanage.yaml");
        std::fs::write(
            &config,
            format!(
                "data_dir: {}\ndatabase:\n  url: \"{url}\"\n",
                dir.path().display()
            ),
        )
        .unwrap();

        let upgrade = run(&config, &["db", "upgrade"]);
        assert!(
            upgrade.status.success(),
            "{backend:?}: {}",
            stderr(&upgrade)
        );
        assert_eq!(list_indexes(&url).await.len(), 3, "{backend:?}");
        let downgrade = run(&config, &["db", "downgrade", "--to", HOST_INVENTORY]);
        assert!(
            downgrade.status.success(),
            "{backend:?}: {}",
            stderr(&downgrade)
        );
        assert_eq!(
            stdout(&downgrade),
            format!(
                "reverted {HOSTS_FILLFACTOR}\nreverted {JOB_REQUEST_KEY}\nreverted {LIST_INDEXES}\n"
            )
        );
        assert!(update_counts(&url).await.is_none(), "{backend:?}");
        assert!(list_indexes(&url).await.is_empty(), "{backend:?}");

        // Two hosts with updates of two managers, statuses and both security flags, stored
        // while the database is at the previous revision.
        let connection = db::connect(&url, 1).await.unwrap();
        for host_id in [1, 2] {
            connection
                .execute_unprepared(&format!(
                    "INSERT INTO hosts (id, hostname, fqdn, os_name, os_version, kernel, \
                     architecture, agent_version, public_key, approval, status, \
                     status_changed_at, reboot_required, created_at) VALUES ({host_id}, \
                     'h{host_id}', 'h{host_id}', 'Debian', '12', '6.1', 'x86_64', '1', \
                     'key{host_id}', 'approved', 'up', 0, false, 0)"
                ))
                .await
                .unwrap();
        }
        let updates = [
            (1, "apt", "curl", "available", false),
            (1, "apt", "openssl", "available", true),
            (1, "apt", "zlib1g", "available", true),
            (1, "apt", "vim", "held", false),
            (1, "snap", "firefox", "available", false),
            (2, "apt", "openssl", "deferred", true),
        ];
        for (host_id, manager, name, status, security) in updates {
            connection
                .execute_unprepared(&format!(
                    "INSERT INTO host_updates (host_id, manager, name, architecture, \
                     new_version, security, status) VALUES ({host_id}, '{manager}', '{name}', \
                     '', '2.0', {security}, '{status}')"
                ))
                .await
                .unwrap();
        }
        connection.close().await.unwrap();

        let again = run(&config, &["db", "upgrade"]);
        assert!(again.status.success(), "{backend:?}: {}", stderr(&again));
        assert_eq!(
            stdout(&again),
            format!(
                "applied {LIST_INDEXES}\napplied {JOB_REQUEST_KEY}\napplied {HOSTS_FILLFACTOR}\n"
            )
        );
        assert_eq!(
            update_counts(&url).await.unwrap(),
            [
                "1 apt available false 1",
                "1 apt available true 2",
                "1 apt held false 1",
                "1 snap available false 1",
                "2 apt deferred true 1",
            ],
            "{backend:?}"
        );
        assert_eq!(
            list_indexes(&url).await,
            [
                "idx_host_updates_host_order",
                "idx_host_updates_list_order",
                "idx_host_updates_name_order",
            ],
            "{backend:?}"
        );
    }
}

/// Returns `id request_key` lines of every job, sorted by id, with `-` for a NULL key.
async fn job_request_keys(url: &str) -> Vec<String> {
    let connection = db::connect(url, 1).await.unwrap();
    let rows = connection
        .query_all_raw(Statement::from_string(
            connection.get_database_backend(),
            "SELECT id, request_key FROM jobs ORDER BY id",
        ))
        .await
        .unwrap();
    connection.close().await.unwrap();
    rows.iter()
        .map(|row| {
            let key: Option<String> = row.try_get("", "request_key").unwrap();
            format!(
                "{} {}",
                row.try_get::<i64>("", "id").unwrap(),
                key.as_deref().unwrap_or("-")
            )
        })
        .collect()
}

/// The request-key migration keys the open jobs stored before it, leaves a duplicate of an older
/// open job without a key, and its index then rejects a second open job with the same key.
#[tokio::test]
async fn job_request_key_migration_keys_open_jobs() {
    for backend in support::BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let postgres = match backend {
            support::Backend::Sqlite => None,
            support::Backend::Postgres => Some(support::PostgresDatabase::create().await),
        };
        let url = postgres.as_ref().map_or_else(
            || {
                format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("server.sqlite").display()
                )
            },
            |database| database.url.clone(),
        );
        let config = dir.path().join("sysmanage.yaml");
        std::fs::write(
            &config,
            format!(
                "data_dir: {}\ndatabase:\n  url: \"{url}\"\n",
                dir.path().display()
            ),
        )
        .unwrap();

        let upgrade = run(&config, &["db", "upgrade"]);
        assert!(
            upgrade.status.success(),
            "{backend:?}: {}",
            stderr(&upgrade)
        );
        let downgrade = run(&config, &["db", "downgrade", "--to", LIST_INDEXES]);
        assert!(
            downgrade.status.success(),
            "{backend:?}: {}",
            stderr(&downgrade)
        );
        assert_eq!(
            stdout(&downgrade),
            format!("reverted {HOSTS_FILLFACTOR}\nreverted {JOB_REQUEST_KEY}\n")
        );

        // Jobs accepted before the migration: two identical open ones, an open package job,
        // and a finished one identical to the first.
        let curl =
            r#"{"mode":"packages","packages":[{"manager":"apt","name":"curl","version":"8.1-1"}]}"#;
        let connection = db::connect(&url, 1).await.unwrap();
        connection
            .execute_unprepared(
                "INSERT INTO hosts (id, hostname, fqdn, os_name, os_version, kernel, \
                 architecture, agent_version, public_key, approval, status, \
                 status_changed_at, reboot_required, created_at) VALUES (1, 'h1', 'h1', \
                 'Debian', '12', '6.1', 'x86_64', '1', 'key1', 'approved', 'up', 0, false, 0)",
            )
            .await
            .unwrap();
        for (id, request, state) in [
            (1, r#"{"mode":"all"}"#, "queued"),
            (2, r#"{"mode":"all"}"#, "sent"),
            (3, curl, "running"),
            (4, r#"{"mode":"all"}"#, "succeeded"),
        ] {
            connection
                .execute_unprepared(&format!(
                    "INSERT INTO jobs (id, host_id, request, state, created_at, expires_at, \
                     reboot_required) VALUES ({id}, 1, '{request}', '{state}', 0, 1, false)"
                ))
                .await
                .unwrap();
        }
        connection.close().await.unwrap();

        let again = run(&config, &["db", "upgrade"]);
        assert!(again.status.success(), "{backend:?}: {}", stderr(&again));
        assert_eq!(
            stdout(&again),
            format!("applied {JOB_REQUEST_KEY}\napplied {HOSTS_FILLFACTOR}\n")
        );
        let curl_key = sysmanage_server::jobs::request_key(&serde_json::from_str(curl).unwrap());
        assert_eq!(
            job_request_keys(&url).await,
            [
                "1 all".to_owned(),
                "2 -".to_owned(),
                format!("3 {curl_key}"),
                "4 -".to_owned()
            ],
            "{backend:?}"
        );

        let connection = db::connect(&url, 1).await.unwrap();
        let second_open = connection
            .execute_unprepared(
                "INSERT INTO jobs (id, host_id, request, state, created_at, expires_at, \
                 reboot_required, request_key) VALUES (5, 1, '{\"mode\":\"all\"}', 'queued', \
                 0, 1, false, 'all')",
            )
            .await;
        assert!(
            second_open.is_err(),
            "{backend:?}: a second open job was stored"
        );
        connection
            .execute_unprepared(
                "INSERT INTO jobs (id, host_id, request, state, created_at, expires_at, \
                 reboot_required, request_key) VALUES (6, 1, '{\"mode\":\"all\"}', 'failed', \
                 0, 1, false, 'all')",
            )
            .await
            .unwrap();
        connection.close().await.unwrap();
    }
}

/// Returns the storage options of the `hosts` table on PostgreSQL, such as `fillfactor=50`.
async fn hosts_options(url: &str) -> Vec<String> {
    let connection = db::connect(url, 1).await.unwrap();
    let row = connection
        .query_one_raw(Statement::from_string(
            connection.get_database_backend(),
            "SELECT coalesce(array_to_string(reloptions, ','), '') FROM pg_class \
             WHERE relname = 'hosts' AND relkind = 'r'",
        ))
        .await
        .unwrap()
        .unwrap();
    connection.close().await.unwrap();
    let options: String = row.try_get_by_index(0).unwrap();
    options
        .split(',')
        .filter(|option| !option.is_empty())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn hosts_fillfactor_migration_on_postgres() {
    let database = support::PostgresDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sysmanage.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {}\ndatabase:\n  url: \"{}\"\n",
            dir.path().display(),
            database.url
        ),
    )
    .unwrap();

    let upgrade = run(&config, &["db", "upgrade"]);
    assert!(upgrade.status.success(), "{}", stderr(&upgrade));
    assert_eq!(hosts_options(&database.url).await, ["fillfactor=50"]);

    let downgrade = run(&config, &["db", "downgrade"]);
    assert!(downgrade.status.success(), "{}", stderr(&downgrade));
    assert_eq!(stdout(&downgrade), format!("reverted {HOSTS_FILLFACTOR}\n"));
    assert!(hosts_options(&database.url).await.is_empty());
}

#[test]
fn unknown_config_key_names_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = sqlite_config(dir.path(), "api:\n  lisen: 127.0.0.1:9000\n");
    let output = run(&config, &["db", "status"]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("lisen"), "{message}");
    assert!(message.contains(&config.display().to_string()), "{message}");
}

#[test]
fn bad_trusted_proxy_names_value() {
    let dir = tempfile::tempdir().unwrap();
    let config = sqlite_config(
        dir.path(),
        "api:\n  trusted_proxies: [127.0.0.1, 10.0.0.0/33]\n",
    );
    // `db status` loads the configuration as `serve` does, but exits on success too.
    let output = run(&config, &["db", "status"]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("\"10.0.0.0/33\""), "{message}");
    assert!(message.contains(&config.display().to_string()), "{message}");

    let config = sqlite_config(dir.path(), "");
    let output = command(&config)
        .args(["db", "status"])
        .env("SYSMANAGE_API_TRUSTED_PROXIES", "127.0.0.1,proxy.internal")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("SYSMANAGE_API_TRUSTED_PROXIES"),
        "{message}"
    );
    assert!(message.contains("\"proxy.internal\""), "{message}");
}

#[test]
fn bad_environment_value_names_variable() {
    let dir = tempfile::tempdir().unwrap();
    let config = sqlite_config(dir.path(), "");
    let output = command(&config)
        .args(["db", "status"])
        .env("SYSMANAGE_AGENTS_HEARTBEAT_INTERVAL_SECS", "often")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("SYSMANAGE_AGENTS_HEARTBEAT_INTERVAL_SECS"),
        "{message}"
    );
    assert!(message.contains("often"), "{message}");
}

#[test]
fn db_status_creates_no_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("sysmanage-data");
    let config = dir.path().join("sysmanage.yaml");
    std::fs::write(&config, format!("data_dir: {}\n", data_dir.display())).unwrap();
    let database = data_dir.join("sysmanage.sqlite");

    let output = run(&config, &["db", "status"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = stdout(&output);
    assert!(
        report.starts_with(&format!("database: SQLite at {}\n", database.display())),
        "{report}"
    );
    assert!(
        report.contains(&format!("no database at {}", database.display())),
        "{report}"
    );
    assert!(
        !data_dir.exists(),
        "db status created {}",
        data_dir.display()
    );
}

#[test]
fn unreachable_postgres_named_in_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sysmanage.yaml");
    // Nothing listens on port 1 of the loopback address, so the connection is refused.
    std::fs::write(
        &config,
        format!(
            "data_dir: {}\napi:\n  listen: 127.0.0.1:0\ndatabase:\n  url: \
             \"postgres://sysmanage:hunter2secret@127.0.0.1:1/fleet\"\n",
            dir.path().display()
        ),
    )
    .unwrap();

    for args in [&["serve"][..], &["db", "status"][..]] {
        let output = run(&config, args);
        assert!(!output.status.success(), "{args:?}");
        let message = stderr(&output);
        assert!(message.contains("127.0.0.1:1"), "{args:?}: {message}");
        assert!(message.contains("database fleet"), "{args:?}: {message}");
        assert!(
            message.contains("connection refused"),
            "{args:?}: {message}"
        );
        assert!(!message.contains("hunter2secret"), "{args:?}: {message}");
        assert!(!message.contains("pool timed out"), "{args:?}: {message}");
    }
}

#[test]
fn misspelt_variable_only_warns() {
    let dir = tempfile::tempdir().unwrap();
    let config = sqlite_config(dir.path(), "");
    let output = command(&config)
        .args(["db", "status"])
        .env("SYSMANAGE_DATABSE_URL", "postgres://nowhere")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("SYSMANAGE_DATABSE_URL"), "{message}");
    assert!(message.contains("SYSMANAGE_DATABASE_URL"), "{message}");
    assert!(
        !message.contains('\x1b'),
        "stderr is a pipe, so the log must have no colour codes: {message:?}"
    );
}

/// A `serve` process whose JSON log lines arrive on a channel.
struct Served {
    child: Child,
    logs: mpsc::Receiver<serde_json::Value>,
    stdout: std::thread::JoinHandle<String>,
}

impl Served {
    fn start(config: &Path) -> Self {
        let mut child = command(config)
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (sender, logs) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let line = line.unwrap();
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({ "raw": line }));
                if sender.send(value).is_err() {
                    break;
                }
            }
        });
        let mut out = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            out.read_to_string(&mut text).unwrap();
            text
        });
        Self {
            child,
            logs,
            stdout,
        }
    }

    /// Waits for the log line whose message is `message` and returns it with the lines before.
    fn wait_for(&self, message: &str) -> (serde_json::Value, Vec<serde_json::Value>) {
        let mut before = Vec::new();
        loop {
            let line = self
                .logs
                .recv_timeout(Duration::from_mins(1))
                .unwrap_or_else(|_| panic!("no log line {message:?}; got {before:?}"));
            if line["fields"]["message"] == message {
                return (line, before);
            }
            before.push(line);
        }
    }

    fn terminate(mut self) -> (std::process::ExitStatus, String, Vec<serde_json::Value>) {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = self.child.wait().unwrap();
        let stdout = self.stdout.join().unwrap();
        let rest = self.logs.iter().collect();
        (status, stdout, rest)
    }
}

#[tokio::test]
async fn serve_prints_password_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = sqlite_config_with(
        dir.path(),
        "  auto_migrate: true\n",
        "api:\n  listen: 127.0.0.1:0\nlog:\n  format: json\n",
    );

    let first = Served::start(&config);
    let (listening, _) = first.wait_for("server listening");
    assert_eq!(listening["fields"]["backend"], "sqlite");
    let (status, stdout, logs) = first.terminate();
    assert!(status.success(), "{status:?}");
    assert!(
        logs.iter().any(|line| line["fields"]["message"]
            .as_str()
            .is_some_and(|message| message.starts_with("shutting down"))),
        "{logs:?}"
    );
    let line = stdout.lines().next().unwrap_or_default();
    let password = line
        .strip_prefix("Created administrator 'admin' with password ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    assert!(password.len() >= 20, "{password}");
    assert!(logs.iter().all(|line| !line.to_string().contains(password)));

    let second = Served::start(&config);
    let (listening, earlier) = second.wait_for("server listening");
    assert!(
        earlier
            .iter()
            .all(|line| !line.to_string().contains(password))
    );
    let address: SocketAddr = listening["fields"]["address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let login = reqwest::Client::new()
        .post(format!("http://{address}/login"))
        .json(&serde_json::json!({ "userid": "admin", "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let (status, stdout, _) = second.terminate();
    assert!(status.success());
    assert_eq!(
        stdout, "",
        "the password must be printed only on the first start"
    );
}

#[tokio::test]
async fn https_serves_health() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_file = dir.path().join("cert.pem");
    let key_file = dir.path().join("key.pem");
    std::fs::write(&cert_file, certified.cert.pem()).unwrap();
    std::fs::write(&key_file, certified.signing_key.serialize_pem()).unwrap();

    tls::install_crypto_provider();
    let server_config = tls::load_server_config(&cert_file, &key_file).unwrap();
    let config = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    let (router, _state) = app::build(
        config,
        Clock::system(),
        Some(support::ADMIN_PASSWORD.to_owned()),
    )
    .await
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let handle = axum_server::Handle::new();
    let server = tokio::spawn(tls::serve(
        listener,
        router,
        Some(server_config),
        handle.clone(),
    ));

    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap(),
        )
        .resolve("localhost", address)
        .build()
        .unwrap();
    let response = client
        .get(format!("https://localhost:{}/health", address.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let untrusting = reqwest::Client::builder()
        .resolve("localhost", address)
        .build()
        .unwrap();
    let rejected = untrusting
        .get(format!("https://localhost:{}/health", address.port()))
        .send()
        .await;
    assert!(
        rejected.is_err(),
        "a client without the certificate must not connect"
    );

    handle.shutdown();
    server.await.unwrap().unwrap();
}

#[test]
fn tls_errors_name_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing-cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&key, "not a key").unwrap();
    let error = tls::load_server_config(&missing, &key)
        .unwrap_err()
        .to_string();
    assert!(error.contains("missing-cert.pem"), "{error}");

    let empty_cert = dir.path().join("empty-cert.pem");
    std::fs::write(&empty_cert, "no PEM blocks here\n").unwrap();
    let error = tls::load_server_config(&empty_cert, &key)
        .unwrap_err()
        .to_string();
    assert!(error.contains("empty-cert.pem"), "{error}");

    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    let error = tls::load_server_config(&cert, &key)
        .unwrap_err()
        .to_string();
    assert!(error.contains("key.pem"), "{error}");
}
