//! Entry point of `sysmanage-server`.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = sysmanage_server::cli::Cli::parse();
    let _ = cli;
    Ok(())
}
