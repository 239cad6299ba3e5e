//! The `sysmanage-server` command line: `serve` (the default), `db ...` and `setup`.

use clap::{Parser, Subcommand};

/// SysManage server.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// Configuration file. Default: $SYSMANAGE_CONFIG, else /etc/sysmanage.yaml, else
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
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply every pending migration.
    Upgrade,
    /// Revert the last migration, or every migration after REVISION.
    Downgrade {
        #[arg(long)]
        to: Option<String>,
    },
    /// List all migrations and whether each is applied.
    History,
    /// Print the current revision and the pending migrations.
    Status,
}
