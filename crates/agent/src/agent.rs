//! The `run` command: wires configuration, identity, scanner, job runner and connection.

use std::path::PathBuf;
use std::sync::Arc;

use sysmanage_protocol::HostInfo;
use tokio::sync::mpsc;

use crate::config::{self, Config, Secret};
use crate::connection::{self, ConnectionContext, Endpoint};
use crate::identity::{Identity, IdentityError};
use crate::jobs::JobRunner;
use crate::jobs::journal::{Journal, JournalError};
use crate::packages::{self, PackageManager};
use crate::scanner::Scanner;

/// Error starting the agent.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Tls(#[from] connection::tls::TlsError),
}

/// Everything the agent runs with, built from the configuration or by tests.
pub struct AgentOptions {
    pub endpoint: Endpoint,
    pub state_dir: PathBuf,
    pub enrollment_key: Option<Secret>,
    pub host: HostInfo,
    pub managers: Vec<Arc<dyn PackageManager>>,
    pub reboot_required_path: PathBuf,
}

impl AgentOptions {
    /// Builds the options of this host from the configuration.
    pub fn from_config(config: &Config) -> Result<Self, StartError> {
        let url = config::websocket_url(&config.server.url)?;
        let tls = if url.starts_with("wss://") {
            let fingerprint = config
                .server
                .cert_fingerprint
                .as_deref()
                .map(config::parse_fingerprint)
                .transpose()?;
            Some(connection::tls::client_config(
                config.server.ca_file.as_deref(),
                fingerprint,
            )?)
        } else {
            None
        };
        let settings = config.manager_settings();
        Ok(Self {
            endpoint: Endpoint { url, tls },
            state_dir: config.state_dir.clone(),
            enrollment_key: config.enrollment_key.clone(),
            host: crate::host_info::collect(),
            managers: packages::detect_managers(&settings),
            reboot_required_path: PathBuf::from(packages::REBOOT_REQUIRED_PATH),
        })
    }
}

/// Runs the agent until the task is dropped. Needs a Tokio runtime.
pub async fn run(options: AgentOptions) -> Result<(), StartError> {
    let identity = Arc::new(Identity::load_or_create(&options.state_dir)?);
    let journal = Journal::open(&options.state_dir.join("jobs"))?;
    let manager_names: Vec<&str> = options
        .managers
        .iter()
        .map(|manager| manager.name())
        .collect();
    tracing::info!(
        public_key = %identity.public_key_base64(),
        managers = ?manager_names,
        hostname = %options.host.hostname,
        "agent starting"
    );

    let (outbox, outbox_receiver) = mpsc::unbounded_channel();
    let scanner = Scanner::start(
        options.managers.clone(),
        options.reboot_required_path.clone(),
        outbox.clone(),
    );
    let runner = JobRunner::start(
        journal,
        options.managers,
        scanner.clone(),
        outbox,
        options.reboot_required_path,
    );
    let context = ConnectionContext {
        identity,
        host: options.host,
        enrollment_key: options.enrollment_key,
        runner,
        scanner,
        outbox: outbox_receiver,
    };
    connection::run_forever(options.endpoint, context).await;
    Ok(())
}
