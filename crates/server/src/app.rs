//! Start-up: open and check the database, build the state, start background tasks and serve.

use anyhow::Context;
use axum::Router;

use crate::clock::Clock;
use crate::config::Config;
use crate::state::AppState;
use crate::{auth, db, http, jobs, liveness};

/// Returns the database URL: `database.url`, or SQLite in `data_dir` when it is unset.
pub fn database_url(config: &Config) -> anyhow::Result<String> {
    if let Some(url) = &config.database.url {
        return Ok(url.clone());
    }
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "failed to create data directory {}; set data_dir to a writable folder",
            config.data_dir.display()
        )
    })?;
    Ok(sqlite_url(&default_sqlite_path(config)))
}

/// Returns the SQLite file used when `database.url` is unset.
#[must_use]
pub fn default_sqlite_path(config: &Config) -> std::path::PathBuf {
    config.data_dir.join("sysmanage.sqlite")
}

/// Returns the URL that opens the SQLite file at `path`, creating it when missing.
#[must_use]
pub fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// Returns whether pending migrations are applied on start.
pub fn auto_migrate(config: &Config) -> bool {
    config
        .database
        .auto_migrate
        .unwrap_or(config.database.url.is_none())
}

/// Opens the database, checks or upgrades its schema, creates the first administrator, and
/// returns the router and state with background tasks running.
///
/// `admin_password` is the first administrator's password (from `SYSMANAGE_ADMIN_PASSWORD`);
/// without it a random one is generated and printed once, when the user table is empty.
pub async fn build(
    config: Config,
    clock: Clock,
    admin_password: Option<String>,
) -> anyhow::Result<(Router, AppState)> {
    let url = database_url(&config)?;
    let connection = db::open(&url, config.database.max_connections.unwrap_or(10)).await?;

    let pending = db::pending_migrations(&connection).await?;
    if !pending.is_empty() {
        if auto_migrate(&config) {
            tracing::info!(pending = pending.len(), "applying database migrations");
            <db::Migrator as sea_orm_migration::MigratorTrait>::up(&connection, None).await?;
        } else {
            anyhow::bail!(
                "the database schema is behind: {} migration(s) not applied ({}); \
                 run `sysmanage-server db upgrade` or set database.auto_migrate: true",
                pending.len(),
                pending.join(", ")
            );
        }
    }

    let state = AppState::new(connection, config, clock);
    auth::bootstrap_admin(&state, admin_password).await?;
    liveness::spawn(state.clone()).await?;
    jobs::spawn_expiry(state.clone());
    auth::spawn_token_purge(state.clone());
    Ok((http::router(state.clone()), state))
}
