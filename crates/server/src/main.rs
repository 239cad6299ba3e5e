//! Entry point of `sysmanage-server`: parses the command line, loads the configuration, sets
//! up logging, and runs the server, a `db` command or `setup`.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use sysmanage_server::cli::{self, Cli, Command};
use sysmanage_server::clock::Clock;
use sysmanage_server::config::{ADMIN_PASSWORD_VARIABLE, Config, LogConfig};
use sysmanage_server::{app, http, setup, tls};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// jemalloc returns freed pages to the system after a few seconds, where glibc's allocator kept
/// the memory of connection handshakes and update report ingest resident after a connect wave.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Time that open requests get to finish after SIGINT or SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "sysmanage-server failed");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let environment = cli::environment();
    let rust_log = environment.get("RUST_LOG").map(String::as_str);
    let command = cli.command.unwrap_or(Command::Serve);

    if let Command::Setup(args) = &command {
        cli::init_tracing(&LogConfig::default(), rust_log)?;
        let interactive = !args.non_interactive && std::io::stdin().is_terminal();
        return setup::run(
            args,
            &mut std::io::stdin().lock(),
            &mut std::io::stdout(),
            interactive,
        );
    }

    let loaded = Config::load(cli.config.as_deref(), &environment)?;
    cli::init_tracing(&loaded.config.log, rust_log)?;
    for misspelt in &loaded.misspelt_variables {
        tracing::warn!(
            variable = %misspelt.variable,
            suggestion = misspelt.suggestion,
            "environment variable is not a configuration key; is it a misspelling of the suggestion?"
        );
    }
    tracing::info!(
        file = %loaded.path.as_ref().map_or("none (defaults)".to_owned(), |path| path.display().to_string()),
        "configuration loaded"
    );
    tracing::debug!(config = ?loaded.config, "effective configuration");

    match command {
        Command::Db(db_command) => {
            cli::run_db(&db_command, &loaded.config, &mut std::io::stdout()).await
        }
        Command::Serve | Command::Setup(_) => {
            let admin_password = environment.get(ADMIN_PASSWORD_VARIABLE).cloned();
            serve(loaded.config, admin_password).await
        }
    }
}

async fn serve(config: Config, admin_password: Option<String>) -> anyhow::Result<()> {
    tls::install_crypto_provider();
    let tls_config = match (&config.api.cert_file, &config.api.key_file) {
        (Some(cert_file), Some(key_file)) => Some(tls::load_server_config(cert_file, key_file)?),
        _ => None,
    };
    let listener = http::bind_listener(config.api.listen).with_context(|| {
        format!(
            "failed to listen on {}; set api.listen to a free address",
            config.api.listen
        )
    })?;
    let address: SocketAddr = listener.local_addr()?;
    let backend = if app::database_url(&config)?.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    };

    let trusted_proxies = config.api.trusted_proxies.len();
    let (router, _state) = app::build(config, Clock::system(), admin_password).await?;

    let handle = axum_server::Handle::new();
    // The handlers are registered here, before "server listening" is logged, so that a signal
    // sent as soon as the server is up never meets the default action, which kills the process.
    let interrupt = signal(SignalKind::interrupt()).context("failed to listen for SIGINT")?;
    let terminate = signal(SignalKind::terminate()).context("failed to listen for SIGTERM")?;
    tokio::spawn(shutdown_on_signal(handle.clone(), interrupt, terminate));
    tracing::info!(
        %address,
        backend,
        tls = tls_config.is_some(),
        trusted_proxies,
        version = env!("CARGO_PKG_VERSION"),
        "server listening"
    );
    tls::serve(listener, router, tls_config, handle)
        .await
        .context("HTTP server failed")?;
    tracing::info!("server stopped");
    Ok(())
}

/// Waits for SIGINT or SIGTERM and then starts a graceful shutdown.
async fn shutdown_on_signal(
    handle: axum_server::Handle,
    mut interrupt: Signal,
    mut terminate: Signal,
) {
    let signal = tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    };
    tracing::info!(
        signal,
        grace_secs = SHUTDOWN_GRACE.as_secs(),
        "shutting down: no new connections, open requests may finish"
    );
    handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
}
