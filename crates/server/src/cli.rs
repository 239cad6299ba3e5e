//! The `sysmanage-server` command line: `serve` (the default), `db ...` and `setup`, and the
//! logging set-up they share.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};

use anyhow::Context;
use clap::{Parser, Subcommand};
use sea_orm_migration::{MigrationStatus, MigratorTrait};

use crate::config::{Config, LogConfig};
use crate::db::{self, Migrator};
use crate::setup::SetupArgs;

/// SysManage server.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// Configuration file. Default: `$SYSMANAGE_CONFIG`, else /etc/sysmanage.yaml, else
    /// ./sysmanage.yaml, else built-in defaults.
    #[arg(long, global = true)]
    pub config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Inspect or change the database schema revision.
    #[command(subcommand)]
    Db(DbCommand),
    /// Write a configuration file and a script that creates the PostgreSQL role and database.
    Setup(Box<SetupArgs>),
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply every pending migration.
    Upgrade,
    /// Revert the last migration, or with --to every migration after REVISION.
    Downgrade {
        /// Revision to go back to. It stays applied; every later migration is reverted.
        #[arg(long, value_name = "REVISION")]
        to: Option<String>,
    },
    /// List all migrations and whether each is applied.
    History,
    /// Print the current revision and the pending migrations.
    Status,
}

/// Sets up `tracing` on standard error: the filter is `RUST_LOG` when set, else `log.level`,
/// and the format is `log.format` (`text` or `json`). Does nothing if logging is already set.
pub fn init_tracing(log: &LogConfig, rust_log: Option<&str>) -> anyhow::Result<()> {
    let directives = rust_log.unwrap_or(&log.level);
    let filter = tracing_subscriber::EnvFilter::try_new(directives)
        .with_context(|| format!("invalid log filter {directives:?} in RUST_LOG or log.level"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only help on a terminal and clutter log files and journals.
        .with_ansi(std::io::stderr().is_terminal());
    // `try_init` fails when a global subscriber is already set, and the first one stays.
    let _ = if log.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    Ok(())
}

/// Collects the process environment into a map, skipping variables that are not UTF-8.
#[must_use]
pub fn environment() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .collect()
}

/// Runs one `db` subcommand against the database of `config` and writes its report to `out`.
pub async fn run_db(
    command: &DbCommand,
    config: &Config,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let reads_only = matches!(command, DbCommand::Status | DbCommand::History);
    let url = if reads_only {
        // Reporting must not create the data directory or an empty database as a side effect.
        config
            .database
            .url
            .clone()
            .unwrap_or_else(|| crate::app::sqlite_url(&crate::app::default_sqlite_path(config)))
    } else {
        crate::app::database_url(config)?
    };
    if reads_only {
        writeln!(out, "database: {}", db::describe_url(&url))?;
        if let Some(path) = db::sqlite_path(&url)
            && !path.exists()
        {
            writeln!(
                out,
                "no database at {}; run `sysmanage-server db upgrade` or start the server to \
                 create it",
                path.display()
            )?;
            return Ok(());
        }
    }
    let connection = db::open(&url, 1).await?;

    match command {
        DbCommand::Upgrade => {
            let pending = db::pending_migrations(&connection).await?;
            if pending.is_empty() {
                writeln!(out, "database is up to date")?;
            } else {
                Migrator::up(&connection, None).await?;
                tracing::info!(applied = pending.len(), "database upgraded");
                for name in &pending {
                    writeln!(out, "applied {name}")?;
                }
            }
        }
        DbCommand::Downgrade { to } => downgrade(&connection, to.as_deref(), out).await?,
        DbCommand::History => {
            for migration in Migrator::get_migration_with_status_read_only(&connection).await? {
                let status = match migration.status() {
                    MigrationStatus::Applied => "applied",
                    MigrationStatus::Pending => "pending",
                };
                writeln!(out, "{status:<8} {}", migration.name())?;
            }
        }
        DbCommand::Status => {
            let migrations = Migrator::get_migration_with_status_read_only(&connection).await?;
            let current = migrations
                .iter()
                .rfind(|migration| migration.status() == MigrationStatus::Applied)
                .map_or("none", |migration| migration.name());
            let pending: Vec<&str> = migrations
                .iter()
                .filter(|migration| migration.status() == MigrationStatus::Pending)
                .map(sea_orm_migration::Migration::name)
                .collect();
            writeln!(out, "current revision: {current}")?;
            if pending.is_empty() {
                writeln!(out, "pending migrations: none")?;
            } else {
                writeln!(out, "pending migrations: {}", pending.len())?;
                for name in pending {
                    writeln!(out, "  {name}")?;
                }
            }
        }
    }
    connection.close().await?;
    Ok(())
}

/// Reverts the last migration, or every migration applied after `to`.
async fn downgrade(
    connection: &sea_orm::DatabaseConnection,
    to: Option<&str>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let applied: Vec<String> = Migrator::get_applied_migrations(connection)
        .await?
        .iter()
        .map(|migration| migration.name().to_owned())
        .collect();

    let steps = match to {
        None => usize::from(!applied.is_empty()),
        Some(revision) => {
            let known = Migrator::migrations()
                .iter()
                .any(|migration| migration.name() == revision);
            if !known {
                anyhow::bail!(
                    "unknown revision {revision:?}; run `sysmanage-server db history` to list \
                     the revisions"
                );
            }
            let Some(position) = applied.iter().position(|name| name == revision) else {
                anyhow::bail!(
                    "revision {revision} is not applied, so there is nothing to downgrade to; \
                     run `sysmanage-server db status` to see the current revision"
                );
            };
            applied.len() - position - 1
        }
    };
    if steps == 0 {
        writeln!(out, "nothing to downgrade")?;
        return Ok(());
    }

    Migrator::down(connection, Some(steps as u32)).await?;
    tracing::info!(reverted = steps, "database downgraded");
    for name in applied.iter().rev().take(steps) {
        writeln!(out, "reverted {name}")?;
    }
    Ok(())
}
