//! `sysmanage-loadgen`: simulates many `SysManage` agents against a server on this machine.

use anyhow::Context;
use clap::Parser;
use sysmanage_loadgen::config::{Args, open_files_limit};
use tracing_subscriber::EnvFilter;

/// Open files this process needs besides one socket per agent (runtime, stats files, stdio).
const RESERVED_OPEN_FILES: u64 = 64;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let args = Args::parse();
    let settings = args.validate()?;
    if let Some(limit) = open_files_limit() {
        let needed = u64::from(settings.agents) + RESERVED_OPEN_FILES;
        anyhow::ensure!(
            needed <= limit,
            "--agents {} needs about {needed} open files but this process may open {limit}: \
             split the agents over several processes with --first-index",
            settings.agents
        );
    }

    let json_summary = settings.json_summary.clone();
    let summary = sysmanage_loadgen::run::run(settings).await?;
    if let Some(path) = json_summary {
        let json = serde_json::to_string_pretty(&summary)?;
        std::fs::write(&path, json)
            .with_context(|| format!("failed to write --json-summary {}", path.display()))?;
    }
    Ok(())
}
