#![allow(clippy::unwrap_used, clippy::expect_used)]

//! `sysmanage-server setup` through the real binary, then the generated `createdb.sh` against
//! the local PostgreSQL, with names and a password full of quotes, `$`, spaces and backslashes.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use sea_orm::{ConnectionTrait, Database, Statement};
use sysmanage_server::config::Config;
use sysmanage_server::db;

const BINARY: &str = env!("CARGO_BIN_EXE_sysmanage-server");

fn postgres_admin_url() -> String {
    std::env::var("SYSMANAGE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Drops the database and role when the test ends, passed or failed.
struct Cleanup {
    database: String,
    role: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let statements = [
            format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_identifier(&self.database)
            ),
            format!("DROP ROLE IF EXISTS {}", quote_identifier(&self.role)),
        ];
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let admin = Database::connect(&postgres_admin_url()).await.unwrap();
                for statement in statements {
                    admin.execute_unprepared(&statement).await.unwrap();
                }
            });
        })
        .join();
    }
}

fn setup(output_dir: &Path, database: &str, role: &str, password: &str, force: bool) -> Output {
    let mut command = Command::new(BINARY);
    command
        .arg("setup")
        .args([
            "--non-interactive",
            "--db-host",
            "127.0.0.1",
            "--db-port",
            "5432",
        ])
        .args([
            "--db-name",
            database,
            "--db-user",
            role,
            "--db-password",
            password,
        ])
        .args(["--admin-user", "ops", "--listen", "127.0.0.1:8123"])
        .arg("--output-dir")
        .arg(output_dir)
        .env_remove("SYSMANAGE_SETUP_DB_PASSWORD");
    if force {
        command.arg("--force");
    }
    command.output().unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn setup_script_creates_database() {
    let suffix = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let database = format!("sm db \"{suffix}\" $HOME \\x");
    let role = format!("sm o'role \"{suffix}\" $USER");
    let password = "pa ss'w\"o$rd \\ `id` $(id) %41".to_owned();
    let _cleanup = Cleanup {
        database: database.clone(),
        role: role.clone(),
    };
    let dir = tempfile::tempdir().unwrap();

    let output = setup(dir.path(), &database, &role, &password, false);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let shown = String::from_utf8(output.stdout).unwrap();
    assert!(
        !shown.contains(&password),
        "setup must not print the password"
    );
    let config_path = dir.path().join("sysmanage.yaml");
    let script_path = dir.path().join("createdb.sh");
    assert_eq!(mode(&config_path), 0o600);
    assert_eq!(mode(&script_path), 0o700);

    let again = setup(dir.path(), &database, &role, &password, false);
    assert!(!again.status.success());
    let message = String::from_utf8(again.stderr).unwrap();
    assert!(message.contains("already exists"), "{message}");
    assert!(message.contains("--force"), "{message}");
    let forced = setup(dir.path(), &database, &role, &password, true);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );

    let config = Config::from_file(&config_path).unwrap();
    config.validate().unwrap();
    assert_eq!(config.security.admin_userid, "ops");
    assert_eq!(config.api.listen.to_string(), "127.0.0.1:8123");
    assert!(config.security.enrollment_key.as_ref().unwrap().len() >= 32);

    let script = Command::new("sh")
        .arg(&script_path)
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", "5432")
        .env("PGUSER", "postgres")
        .env_remove("PGDATABASE")
        .output()
        .unwrap();
    assert!(
        script.status.success(),
        "createdb.sh failed: {}",
        String::from_utf8_lossy(&script.stderr)
    );

    let url = config.database.url.unwrap();
    let connection = db::connect(&url, 1).await.unwrap();
    let row = connection
        .query_one_raw(Statement::from_string(
            connection.get_database_backend(),
            "SELECT current_user::text AS role, current_database()::text AS database",
        ))
        .await
        .unwrap()
        .unwrap();
    let connected_role: String = row.try_get("", "role").unwrap();
    let connected_database: String = row.try_get("", "database").unwrap();
    assert_eq!(connected_role, role);
    assert_eq!(connected_database, database);
    connection.close().await.unwrap();

    // The role owns the database, so it can create the schema.
    let upgrade = Command::new(BINARY)
        .arg("--config")
        .arg(&config_path)
        .args(["db", "upgrade"])
        .output()
        .unwrap();
    assert!(
        upgrade.status.success(),
        "{}",
        String::from_utf8_lossy(&upgrade.stderr)
    );

    // The password was stored as given: PostgreSQL keeps a SCRAM verifier of it.
    let admin = Database::connect(&postgres_admin_url()).await.unwrap();
    let row = admin
        .query_one_raw(Statement::from_sql_and_values(
            admin.get_database_backend(),
            "SELECT rolcanlogin, rolpassword IS NOT NULL AS has_password FROM pg_authid WHERE rolname = $1",
            [role.clone().into()],
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(row.try_get::<bool>("", "rolcanlogin").unwrap());
    assert!(row.try_get::<bool>("", "has_password").unwrap());
    admin.close().await.unwrap();
}
