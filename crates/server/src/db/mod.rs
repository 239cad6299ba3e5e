//! Database connection, schema revision checks and the embedded migrations.

pub mod entities;
pub mod migrations;

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;

pub use migrations::Migrator;

/// Opens a connection pool to `url` (`sqlite://PATH?mode=rwc` or `postgres://...`).
///
/// Every SQLite connection of the pool gets write-ahead logging, foreign keys and a busy
/// timeout, so that concurrent requests wait for the write lock instead of failing, and keeps
/// temporary tables and sort spills in memory: a server with tens of thousands of agent sockets
/// runs close to its limit of open files, where opening a temporary file fails with "unable to
/// open database file". These are per-connection settings in SQLite, so they are set in the
/// connect options rather than once.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|sqlite| {
            sqlite
                .journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .synchronous(SqliteSynchronous::Normal)
                .pragma("temp_store", "memory")
        });
    Database::connect(options).await
}

/// Time allowed for the first connection to PostgreSQL, so that an unreachable server fails
/// start-up with the real cause instead of a pool timeout.
pub const FIRST_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens a connection pool like [`connect`], with errors that name the database and the cause
/// but not the user name or password.
///
/// For PostgreSQL, one direct connection is tried first. A refused or timed-out connection is
/// then reported as such within [`FIRST_CONNECT_TIMEOUT`], instead of as a pool timeout.
///
/// # Errors
/// Fails when the database cannot be reached or the pool cannot open a connection.
pub async fn open(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
    let description = describe_url(url);
    if !url.starts_with("sqlite:") {
        probe_postgres(url).await.map_err(|cause| {
            anyhow::anyhow!(
                "failed to connect to {description}: {cause}; check database.url and that \
                 PostgreSQL is running and reachable"
            )
        })?;
    }
    let db = connect(url, max_connections).await.map_err(|error| {
        anyhow::anyhow!("failed to connect to {description}: {error}; check database.url")
    })?;
    if !url.starts_with("sqlite:") {
        warn_if_autovacuum_off(&db).await;
    }
    Ok(db)
}

/// Logs a warning when PostgreSQL runs without autovacuum. Without it no table gets statistics
/// or loses its dead rows, and update reports replace rows all day, so list pages slow down
/// from full scans and bloat.
async fn warn_if_autovacuum_off(db: &DatabaseConnection) {
    use sea_orm::{ConnectionTrait, Statement};

    let statement = Statement::from_string(db.get_database_backend(), "SHOW autovacuum");
    match db.query_one_raw(statement).await {
        Ok(Some(row)) => {
            if row
                .try_get_by_index::<String>(0)
                .is_ok_and(|value| value == "off")
            {
                tracing::warn!(
                    "PostgreSQL autovacuum is off: tables never get statistics or lose dead rows, \
                     so host and update lists slow down; set autovacuum = on in postgresql.conf \
                     or run VACUUM ANALYZE regularly"
                );
            }
        }
        Ok(None) => {}
        Err(error) => tracing::debug!(%error, "could not read the autovacuum setting"),
    }
}

/// Opens and closes one PostgreSQL connection, returning the cause when that fails.
async fn probe_postgres(url: &str) -> Result<(), String> {
    use sea_orm::sqlx::Connection;
    use sea_orm::sqlx::postgres::PgConnection;

    match tokio::time::timeout(FIRST_CONNECT_TIMEOUT, PgConnection::connect(url)).await {
        Err(_) => Err(format!(
            "connection timed out after {} seconds",
            FIRST_CONNECT_TIMEOUT.as_secs()
        )),
        Ok(Err(sea_orm::sqlx::Error::Io(error)))
            if error.kind() == std::io::ErrorKind::ConnectionRefused =>
        {
            Err("connection refused".to_owned())
        }
        Ok(Err(error)) => Err(error.to_string()),
        Ok(Ok(connection)) => {
            if let Err(error) = connection.close().await {
                tracing::debug!(%error, "failed to close the PostgreSQL test connection");
            }
            Ok(())
        }
    }
}

/// Returns the file of a SQLite URL (`sqlite://PATH?mode=rwc` or `sqlite:PATH`), or `None` for
/// another backend or an in-memory database.
#[must_use]
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split_once('?').map_or(rest, |(path, _)| path);
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(std::path::PathBuf::from(path))
}

/// Describes the database of `url` for people: `SQLite at PATH`, or `PostgreSQL at
/// HOST:PORT, database NAME`. The user name and password are left out.
#[must_use]
pub fn describe_url(url: &str) -> String {
    if url.starts_with("sqlite:") {
        return match sqlite_path(url) {
            Some(path) => format!("SQLite at {}", path.display()),
            None => "SQLite in memory".to_owned(),
        };
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return "a database with an unrecognized URL".to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let name = tail
        .strip_prefix('/')
        .and_then(|tail| tail.split(['?', '#']).next())
        .filter(|name| !name.is_empty());
    let backend = if scheme.starts_with("postgres") {
        "PostgreSQL"
    } else {
        scheme
    };
    let host = if host.is_empty() {
        "the default host".to_owned()
    } else if host.contains(':') && !host.ends_with(']') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    };
    match name {
        Some(name) => format!("{backend} at {host}, database {name}"),
        None => format!("{backend} at {host}"),
    }
}

/// Names of the migrations that are not applied yet, oldest first.
pub async fn pending_migrations(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    Ok(Migrator::get_pending_migrations(db)
        .await?
        .iter()
        .map(|migration| migration.name().to_owned())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_url_hides_credentials() {
        let cases = [
            (
                "postgres://sysmanage:secret@db.example.com:6543/fleet?sslmode=require",
                "PostgreSQL at db.example.com:6543, database fleet",
            ),
            (
                "postgresql://sysmanage:secret@127.0.0.1/sysmanage",
                "PostgreSQL at 127.0.0.1:5432, database sysmanage",
            ),
            (
                "sqlite:///var/lib/sysmanage/sysmanage.sqlite?mode=rwc",
                "SQLite at /var/lib/sysmanage/sysmanage.sqlite",
            ),
            ("sqlite::memory:", "SQLite in memory"),
        ];
        for (url, expected) in cases {
            let description = describe_url(url);
            assert_eq!(description, expected, "{url}");
            assert!(!description.contains("secret"), "{url}");
        }
    }
}
