//! Command line of `sysmanage-agent`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sysmanage_agent::check::{self, CheckFormat};
use sysmanage_agent::config::Config;
use sysmanage_agent::identity::Identity;
use sysmanage_agent::packages;
use sysmanage_agent::{agent, logging};

/// Reports pending updates to the server and installs them on request.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        help = "Configuration file (default: $SYSMANAGE_AGENT_CONFIG, /etc/sysmanage-agent.yaml, \
                ./sysmanage-agent.yaml, then built-in defaults)"
    )]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Connect to the server and serve it until stopped (the default).
    Run,
    /// Detect pending updates on this machine once, without a server, and print them.
    /// Exits with status 1 if any package manager's detection failed.
    Check {
        /// Print the update report as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the agent's public key (base64) and its SHA-256 fingerprint.
    PublicKey,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref(), |name| std::env::var(name).ok()) {
        Ok((config, _path)) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    logging::init(config.log.format);

    match cli.command.unwrap_or(Command::Run) {
        Command::Run => run(&config),
        Command::Check { json } => run_check(&config, json),
        Command::PublicKey => match Identity::load_or_create(&config.state_dir) {
            Ok(identity) => {
                println!("public key:  {}", identity.public_key_base64());
                println!("fingerprint: SHA256 {}", identity.fingerprint());
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        },
    }
}

fn run(config: &Config) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: failed to start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let options = agent::AgentOptions::from_config(config)?;
        tokio::select! {
            result = agent::run(options) => result,
            () = shutdown_signal() => {
                tracing::info!("agent stopping on signal");
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "agent failed to start");
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

fn run_check(config: &Config, json: bool) -> ExitCode {
    let settings = config.manager_settings();
    let managers = packages::detect_managers(&settings);
    let format = if json {
        CheckFormat::Json
    } else {
        CheckFormat::Table
    };
    let result = check::run(
        &managers,
        std::path::Path::new(packages::REBOOT_REQUIRED_PATH),
        format,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    match result {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: failed to write the report: {error}");
            ExitCode::FAILURE
        }
    }
}
