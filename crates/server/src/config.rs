//! Server configuration: a YAML file plus `SYSMANAGE_...` environment overrides.
//!
//! Every key has a default, so the server runs with no file at all (SQLite in `data_dir`,
//! listening on 127.0.0.1:8000). Unknown keys are an error that names the key.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The whole configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Folder for the SQLite database and other local state.
    pub data_dir: PathBuf,
    pub api: ApiConfig,
    pub database: DatabaseConfig,
    pub security: SecurityConfig,
    pub agents: AgentsConfig,
    pub jobs: JobsConfig,
    pub log: LogConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("sysmanage-data"),
            api: ApiConfig::default(),
            database: DatabaseConfig::default(),
            security: SecurityConfig::default(),
            agents: AgentsConfig::default(),
            jobs: JobsConfig::default(),
            log: LogConfig::default(),
        }
    }
}

/// HTTP listener settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    /// PEM certificate chain. With `key_file`, the server serves HTTPS and agents use wss.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            cert_file: None,
            key_file: None,
        }
    }
}

/// Database settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `postgres://user:password@host:port/name` or `sqlite://PATH?mode=rwc`. Unset means SQLite
    /// at `data_dir/sysmanage.sqlite`. Contains a password, so it is never logged.
    pub url: Option<String>,
    /// Apply pending migrations on start. Unset means on for the embedded SQLite default and off
    /// when `url` is set.
    pub auto_migrate: Option<bool>,
    /// Size of the connection pool. Unset means 10.
    pub max_connections: Option<u32>,
}

/// Authentication settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Seconds a token stays valid after it was issued if nobody uses it.
    pub token_idle_timeout_secs: u64,
    /// Failed logins per user id or per client address before logins are refused for a while.
    pub login_max_failures: u32,
    /// Seconds a rate-limited user id or address waits.
    pub login_lockout_secs: u64,
    /// User id of the first administrator, created on first start.
    pub admin_userid: String,
    /// Agents that present this key are approved without an administrator. Never logged.
    pub enrollment_key: Option<String>,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            token_idle_timeout_secs: 30 * 60,
            login_max_failures: 5,
            login_lockout_secs: 5 * 60,
            admin_userid: "admin".to_owned(),
            enrollment_key: None,
        }
    }
}

/// Agent connection and liveness settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentsConfig {
    /// Seconds between agent heartbeats, sent to every agent.
    pub heartbeat_interval_secs: u64,
    /// Seconds without a heartbeat after which a host is down. Unset means 3 intervals.
    pub heartbeat_timeout_secs: Option<u64>,
    /// Seconds a closed connection may stay closed before the host is down.
    pub disconnect_grace_secs: u64,
    /// Seconds between periodic update scans, sent to every agent.
    pub update_check_interval_secs: u64,
    /// Milliseconds between two batched writes of last-seen times to the database.
    pub last_seen_flush_interval_ms: u64,
}

impl Default for AgentsConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval_secs: 30,
            heartbeat_timeout_secs: None,
            disconnect_grace_secs: 10,
            update_check_interval_secs: 60 * 60,
            last_seen_flush_interval_ms: 5_000,
        }
    }
}

impl AgentsConfig {
    /// Returns the heartbeat timeout in seconds, defaulting to three intervals.
    pub fn heartbeat_timeout_secs(&self) -> u64 {
        self.heartbeat_timeout_secs
            .unwrap_or(3 * self.heartbeat_interval_secs)
    }
}

/// Job settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// Seconds a job for an offline host stays queued before it expires.
    pub expiry_secs: u64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            expiry_secs: 7 * 24 * 60 * 60,
        }
    }
}

/// Log output settings. `RUST_LOG` overrides `level`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: "text".to_owned(),
            level: "info".to_owned(),
        }
    }
}
