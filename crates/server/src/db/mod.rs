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
/// timeout, so that concurrent requests wait for the write lock instead of failing. These are
/// per-connection settings in SQLite, so they are set in the connect options rather than once.
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
        });
    Database::connect(options).await
}

/// Names of the migrations that are not applied yet, oldest first.
pub async fn pending_migrations(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    Ok(Migrator::get_pending_migrations(db)
        .await?
        .iter()
        .map(|migration| migration.name().to_owned())
        .collect())
}
