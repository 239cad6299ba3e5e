//! Server configuration: a YAML file plus `SYSMANAGE_...` environment overrides.
//!
//! Every key has a default, so the server runs with no file at all (SQLite in `data_dir`,
//! listening on 127.0.0.1:8000). Unknown keys are an error that names the key. The environment
//! is passed in as a map, so that tests can supply their own.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::client_address::{self, TrustedProxy};

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
    /// Reverse proxies whose `X-Forwarded-For` header names the client address, as IP
    /// addresses or CIDR ranges. Empty means the header is ignored. See
    /// [`crate::client_address`].
    pub trusted_proxies: Vec<TrustedProxy>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            cert_file: None,
            key_file: None,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Database settings. `Debug` hides the password in `url`.
#[derive(Clone, Default, Serialize, Deserialize)]
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

/// Authentication settings. `Debug` hides `enrollment_key`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Seconds an unused token stays valid after it was issued.
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

impl SecurityConfig {
    /// Returns `token_idle_timeout_secs` in milliseconds.
    #[must_use]
    pub fn idle_timeout_ms(&self) -> i64 {
        (self.token_idle_timeout_secs as i64).saturating_mul(1000)
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
    /// Maximum number of hosts pending approval. A new host without a valid enrollment key is
    /// rejected while this many are pending.
    pub max_pending_hosts: u64,
    /// Maximum number of new hosts without a valid enrollment key that one client address may
    /// register per minute.
    pub max_registrations_per_address_per_minute: u32,
}

impl Default for AgentsConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval_secs: 30,
            heartbeat_timeout_secs: None,
            disconnect_grace_secs: 10,
            update_check_interval_secs: 60 * 60,
            last_seen_flush_interval_ms: 5_000,
            max_pending_hosts: 1000,
            max_registrations_per_address_per_minute: 20,
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

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &self.url.as_deref().map(redact_url))
            .field("auto_migrate", &self.auto_migrate)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl fmt::Debug for SecurityConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityConfig")
            .field("token_idle_timeout_secs", &self.token_idle_timeout_secs)
            .field("login_max_failures", &self.login_max_failures)
            .field("login_lockout_secs", &self.login_lockout_secs)
            .field("admin_userid", &self.admin_userid)
            .field(
                "enrollment_key",
                &self.enrollment_key.as_ref().map(|_| REDACTED),
            )
            .finish()
    }
}

const REDACTED: &str = "<redacted>";

/// Returns `url` with the password of its user info and any `password=` query parameter
/// replaced by `<redacted>`, for logs and error messages.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);

    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:{REDACTED}@{host}"),
            None => format!("{user_info}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) if name.eq_ignore_ascii_case("password") => {
                        format!("{name}={REDACTED}")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{authority}{tail}"),
        None => format!("{authority}{tail}"),
    }
}

/// Environment variable that names the configuration file when `--config` is not given.
pub const CONFIG_VARIABLE: &str = "SYSMANAGE_CONFIG";

/// Environment variable with the first administrator's password. Not a configuration key.
pub const ADMIN_PASSWORD_VARIABLE: &str = "SYSMANAGE_ADMIN_PASSWORD";

/// `SYSMANAGE_` variables that are not configuration keys and never get a warning.
const NON_KEY_VARIABLES: &[&str] = &[
    CONFIG_VARIABLE,
    ADMIN_PASSWORD_VARIABLE,
    "SYSMANAGE_TEST_POSTGRES_URL",
];

/// Files tried in order when neither `--config` nor `SYSMANAGE_CONFIG` names one.
pub const DEFAULT_PATHS: &[&str] = &["/etc/sysmanage.yaml", "sysmanage.yaml"];

/// Maximum value of a `*_secs` key: ten years, far below the overflow of the
/// millisecond arithmetic.
const MAX_SECS: u64 = 10 * 365 * 24 * 60 * 60;

/// An error while loading or checking the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid value {value:?} in environment variable {variable} (key {key}): {message}")]
    Environment {
        variable: &'static str,
        key: &'static str,
        value: String,
        message: String,
    },
    #[error("invalid configuration value {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

/// A `SYSMANAGE_` environment variable that is no key but looks like a misspelt one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MisspeltVariable {
    pub variable: String,
    /// The key variable with the closest spelling.
    pub suggestion: &'static str,
}

/// The outcome of [`Config::load`].
#[derive(Debug)]
pub struct LoadedConfig {
    pub config: Config,
    /// The file that was read, or `None` when only defaults and the environment apply.
    pub path: Option<PathBuf>,
    /// Variables to warn about once logging is set up.
    pub misspelt_variables: Vec<MisspeltVariable>,
}

impl Config {
    /// Loads the configuration and validates it. The file is `cli_path`, else
    /// `SYSMANAGE_CONFIG`, else the first of [`DEFAULT_PATHS`] that exists. Without a file the
    /// defaults apply. The `SYSMANAGE_...` overrides from `environment` come last.
    ///
    /// A file named by `cli_path` or `SYSMANAGE_CONFIG` must exist.
    pub fn load(
        cli_path: Option<&Path>,
        environment: &BTreeMap<String, String>,
    ) -> Result<LoadedConfig, ConfigError> {
        let default_paths: Vec<&Path> = DEFAULT_PATHS.iter().map(Path::new).collect();
        Self::load_with_defaults(cli_path, environment, &default_paths)
    }

    /// [`Config::load`] with the fallback files given, for tests.
    pub fn load_with_defaults(
        cli_path: Option<&Path>,
        environment: &BTreeMap<String, String>,
        default_paths: &[&Path],
    ) -> Result<LoadedConfig, ConfigError> {
        let path = cli_path
            .map(Path::to_path_buf)
            .or_else(|| environment.get(CONFIG_VARIABLE).map(PathBuf::from))
            .or_else(|| {
                default_paths
                    .iter()
                    .find(|path| path.is_file())
                    .map(|path| path.to_path_buf())
            });

        let mut config = match &path {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        config.apply_environment(environment)?;
        config.validate()?;
        Ok(LoadedConfig {
            config,
            path,
            misspelt_variables: misspelt_variables(environment),
        })
    }

    /// Reads and parses one YAML file. An empty file means all defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_yaml(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses YAML text. Unknown keys are errors whose message names the key.
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_norway::from_str(text).map_err(|error| error.to_string())
    }

    /// Applies every `SYSMANAGE_...` variable of [`ENV_OVERRIDES`] found in `environment`.
    pub fn apply_environment(
        &mut self,
        environment: &BTreeMap<String, String>,
    ) -> Result<(), ConfigError> {
        for entry in ENV_OVERRIDES {
            let Some(value) = environment.get(entry.variable) else {
                continue;
            };
            (entry.apply)(self, value).map_err(|message| ConfigError::Environment {
                variable: entry.variable,
                key: entry.key,
                value: if entry.secret {
                    REDACTED.to_owned()
                } else {
                    value.clone()
                },
                message,
            })?;
        }
        Ok(())
    }

    /// Checks ranges and combinations of keys.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid =
            |key: &'static str, message: String| Err(ConfigError::Invalid { key, message });

        if self.api.cert_file.is_some() != self.api.key_file.is_some() {
            return invalid(
                "api.cert_file",
                "api.cert_file and api.key_file must be set together".to_owned(),
            );
        }

        if let Some(url) = &self.database.url
            && !["postgres://", "postgresql://", "sqlite:"]
                .iter()
                .any(|prefix| url.starts_with(prefix))
        {
            return invalid(
                "database.url",
                format!(
                    "{} must start with postgres://, postgresql:// or sqlite:",
                    redact_url(url)
                ),
            );
        }
        if self.database.max_connections == Some(0) {
            return invalid("database.max_connections", "must be at least 1".to_owned());
        }

        let security = &self.security;
        check_secs(
            "security.token_idle_timeout_secs",
            security.token_idle_timeout_secs,
        )?;
        check_secs("security.login_lockout_secs", security.login_lockout_secs)?;
        if security.login_max_failures == 0 {
            return invalid(
                "security.login_max_failures",
                "must be at least 1".to_owned(),
            );
        }
        if let Err(message) = crate::users::validate_userid(&security.admin_userid) {
            return invalid("security.admin_userid", message);
        }
        if let Some(key) = &security.enrollment_key
            && key.chars().count() < MIN_ENROLLMENT_KEY_CHARS
        {
            return invalid(
                "security.enrollment_key",
                format!("must be at least {MIN_ENROLLMENT_KEY_CHARS} characters long"),
            );
        }

        let agents = &self.agents;
        check_secs(
            "agents.heartbeat_interval_secs",
            agents.heartbeat_interval_secs,
        )?;
        if let Some(timeout) = agents.heartbeat_timeout_secs {
            check_secs("agents.heartbeat_timeout_secs", timeout)?;
        }
        if agents.heartbeat_timeout_secs() <= agents.heartbeat_interval_secs {
            return invalid(
                "agents.heartbeat_timeout_secs",
                format!(
                    "{} must be greater than agents.heartbeat_interval_secs ({})",
                    agents.heartbeat_timeout_secs(),
                    agents.heartbeat_interval_secs
                ),
            );
        }
        if agents.disconnect_grace_secs > MAX_SECS {
            return invalid(
                "agents.disconnect_grace_secs",
                format!("must be at most {MAX_SECS}"),
            );
        }
        check_secs(
            "agents.update_check_interval_secs",
            agents.update_check_interval_secs,
        )?;
        if agents.last_seen_flush_interval_ms == 0 || agents.last_seen_flush_interval_ms > MAX_SECS
        {
            return invalid(
                "agents.last_seen_flush_interval_ms",
                format!("must be between 1 and {MAX_SECS}"),
            );
        }

        check_secs("jobs.expiry_secs", self.jobs.expiry_secs)?;

        if !["text", "json"].contains(&self.log.format.as_str()) {
            return invalid(
                "log.format",
                format!("{:?} is neither \"text\" nor \"json\"", self.log.format),
            );
        }
        if let Err(error) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            return invalid(
                "log.level",
                format!(
                    "{:?} is not a log filter such as \"info\" or \"sysmanage_server=debug\": {error}",
                    self.log.level
                ),
            );
        }
        Ok(())
    }
}

/// Minimum length of `security.enrollment_key`, in characters.
pub const MIN_ENROLLMENT_KEY_CHARS: usize = 16;

fn check_secs(key: &'static str, value: u64) -> Result<(), ConfigError> {
    if value == 0 || value > MAX_SECS {
        return Err(ConfigError::Invalid {
            key,
            message: format!("{value} is out of range: must be between 1 and {MAX_SECS} seconds"),
        });
    }
    Ok(())
}

/// One environment variable that overrides one configuration key.
pub struct EnvOverride {
    pub variable: &'static str,
    /// Dotted path of the key, such as `api.listen`.
    pub key: &'static str,
    /// Whether the value is a secret, so that errors must not show it.
    pub secret: bool,
    apply: fn(&mut Config, &str) -> Result<(), String>,
}

fn parse<T: FromStr>(value: &str) -> Result<T, String>
where
    T::Err: fmt::Display,
{
    value
        .trim()
        .parse()
        .map_err(|error: T::Err| error.to_string())
}

/// Parses an optional value. An empty variable unsets the key.
fn parse_optional<T: FromStr>(value: &str) -> Result<Option<T>, String>
where
    T::Err: fmt::Display,
{
    if value.trim().is_empty() {
        Ok(None)
    } else {
        parse(value).map(Some)
    }
}

fn optional_string(value: &str) -> Option<String> {
    if value.is_empty() {
        None
    } else {
        Some(value.to_owned())
    }
}

/// Every configuration key with its environment variable: `SYSMANAGE_` and the key path in
/// upper case with `_` in place of `.`. A unit test checks that this table covers every key.
pub const ENV_OVERRIDES: &[EnvOverride] = &[
    EnvOverride {
        variable: "SYSMANAGE_DATA_DIR",
        key: "data_dir",
        secret: false,
        apply: |config, value| {
            config.data_dir = PathBuf::from(value);
            Ok(())
        },
    },
    EnvOverride {
        variable: "SYSMANAGE_API_LISTEN",
        key: "api.listen",
        secret: false,
        apply: |config, value| {
            config.api.listen = parse(value)?;
            Ok(())
        },
    },
    EnvOverride {
        variable: "SYSMANAGE_API_CERT_FILE",
        key: "api.cert_file",
        secret: false,
        apply: |config, value| {
            config.api.cert_file = optional_string(value).map(PathBuf::from);
            Ok(())
        },
    },
    EnvOverride {
        variable: "SYSMANAGE_API_KEY_FILE",
        key: "api.key_file",
        secret: false,
        apply: |config, value| {
            config.api.key_file = optional_string(value).map(PathBuf::from);
            Ok(())
        },
    },
    EnvOverride {
        variable: "SYSMANAGE_API_TRUSTED_PROXIES",
        key: "api.trusted_proxies",
        secret: false,
        apply: |config, value| {
            config.api.trusted_proxies = client_address::parse_list(value)?;
            Ok(())
        },
    },
    EnvOverride {
        variable: "SYSMANAGE_DATABASE_URL",
        key: "database.url",
        secret: true,
        apply: |config, value| {
            config.database.url = optional_string(value);
            Ok(())
        },
    },
    EnvOverride {
        variable: "SYSMANAGE_DATABASE_AUTO_MIGRATE",
        key: "database.auto_migrate",
        secret: false,
        apply: |config, value| {
            config.database.auto_migrate = parse_optional(value)?;
            Ok(())
        },
    },
    EnvOverride {
        variable: "SYSMANAGE_DATABASE_MAX_CONNECTIONS",
        key: "database.max_connections",
        secret: false,
        apply: |config, value| {
            config.database.max_connections = parse_optional(value)?;
            Ok(())
        },
    },
    EnvOverride {
        variable: "SYSMANAGE_SECURITY_TOKEN_IDLE_TIMEOUT_SECS",
        key: "security.token_idle_timeout_secs",
        secret: false,
        apply: |config, value| {
            config.security.token_idle_timeout_secs = parse(value)?;
            Ok(())
        },
    },
    EnvOverride {
        variable: "SYSMANAGE_SECURITY_LOGIN_MAX_FAILURES",
        key: "security.login_max_failures",
        secret: false,
        apply: |config, value| {
            config.security.login_max_failures = parse(value)?;
            Ok(())
        },
    },
    EnvOverride {
        variable: "SYSMANAGE_SECURITY_LOGIN_LOCKOUT_SECS",
        key: "security.login_lockout_secs",
        secret: false,
        apply: |config, value| {
            config.security.login_lockout_secs = parse(value)?;
            Ok(())
        },
    },
    EnvOverride {
        variable: "SYSMANAGE_SECURITY_ADMIN_USERID",
        key: "security.admin_userid",
        secret: false,
        apply: |config, value| {
            value.clone_into(&mut config.security.admin_userid);
            Ok(())
        },
    },
    EnvOverride {
        variable: "SYSMANAGE_SECURITY_ENROLLMENT_KEY",
        key: "security.enrollment_key",
        secret: true,
        apply: |config, value| {
            config.security.enrollment_key = optional_string(value);
            Ok(())
        },
    },
    EnvOverride {
        variable: "SYSMANAGE_AGENTS_HEARTBEAT_INTERVAL_SECS",
        key: "agents.heartbeat_interval_secs",
        secret: false,
        apply: |config, value| {
            config.agents.heartbeat_interval_secs = parse(value)?;
            Ok(())
        },
    },
    EnvOverride {
        variable: "SYSMANAGE_AGENTS_HEARTBEAT_TIMEOUT_SECS",
        key: "agents.heartbeat_timeout_secs",
        secret: false,
        apply: |config, value| {
            config.agents.heartbeat_timeout_secs = parse_optional(value)?;
            Ok(())
        },
    },
    EnvOverride {
        variable: "SYSMANAGE_AGENTS_DISCONNECT_GRACE_SECS",
        key: "agents.disconnect_grace_secs",
        secret: false,
        apply: |config, value| {
            config.agents.disconnect_grace_secs = parse(value)?;
            Ok(())
        },
    },
    EnvOverride {
        variable: "SYSMANAGE_AGENTS_UPDATE_CHECK_INTERVAL_SECS",
        key: "agents.update_check_interval_secs",
        secret: false,
        apply: |config, value| {
            config.agents.update_check_interval_secs = parse(value)?;
            Ok(())
        },
    },
    EnvOverride {
        variable: "SYSMANAGE_AGENTS_LAST_SEEN_FLUSH_INTERVAL_MS",
        key: "agents.last_seen_flush_interval_ms",
        secret: false,
        apply: |config, value| {
            config.agents.last_seen_flush_interval_ms = parse(value)?;
            Ok(())
        },
    },
    EnvOverride {
        variable: "SYSMANAGE_AGENTS_MAX_PENDING_HOSTS",
        key: "agents.max_pending_hosts",
        secret: false,
        apply: |config, value| {
            config.agents.max_pending_hosts = parse(value)?;
            Ok(())
        },
    },
    EnvOverride {
        variable: "SYSMANAGE_AGENTS_MAX_REGISTRATIONS_PER_ADDRESS_PER_MINUTE",
        key: "agents.max_registrations_per_address_per_minute",
        secret: false,
        apply: |config, value| {
            config.agents.max_registrations_per_address_per_minute = parse(value)?;
            Ok(())
        },
    },
    EnvOverride {
        variable: "SYSMANAGE_JOBS_EXPIRY_SECS",
        key: "jobs.expiry_secs",
        secret: false,
        apply: |config, value| {
            config.jobs.expiry_secs = parse(value)?;
            Ok(())
        },
    },
    EnvOverride {
        variable: "SYSMANAGE_LOG_FORMAT",
        key: "log.format",
        secret: false,
        apply: |config, value| {
            value.trim().clone_into(&mut config.log.format);
            Ok(())
        },
    },
    EnvOverride {
        variable: "SYSMANAGE_LOG_LEVEL",
        key: "log.level",
        secret: false,
        apply: |config, value| {
            value.trim().clone_into(&mut config.log.level);
            Ok(())
        },
    },
];

/// Maximum edit distance at which an unknown `SYSMANAGE_` variable counts as a misspelt key.
const MISSPELLING_DISTANCE: usize = 3;

/// Finds `SYSMANAGE_` variables that are no key but lie within a few edits of one.
fn misspelt_variables(environment: &BTreeMap<String, String>) -> Vec<MisspeltVariable> {
    environment
        .keys()
        .filter(|name| name.starts_with("SYSMANAGE_"))
        .filter(|name| !NON_KEY_VARIABLES.contains(&name.as_str()))
        .filter(|name| {
            !ENV_OVERRIDES
                .iter()
                .any(|entry| entry.variable == name.as_str())
        })
        .filter_map(|name| {
            ENV_OVERRIDES
                .iter()
                .map(|entry| (edit_distance(name, entry.variable), entry.variable))
                .min()
                .filter(|(distance, _)| *distance <= MISSPELLING_DISTANCE)
                .map(|(_, suggestion)| MisspeltVariable {
                    variable: name.clone(),
                    suggestion,
                })
        })
        .collect()
}

/// Levenshtein distance between two strings, counted in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, a_char) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, b_char) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(a_char != *b_char);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environment(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn write_file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Collects the dotted paths of every leaf of a serialized configuration.
    fn leaf_keys(value: &serde_json::Value, prefix: &str, keys: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (name, child) in map {
                    let path = if prefix.is_empty() {
                        name.clone()
                    } else {
                        format!("{prefix}.{name}")
                    };
                    leaf_keys(child, &path, keys);
                }
            }
            _ => keys.push(prefix.to_owned()),
        }
    }

    #[test]
    fn env_table_covers_every_key() {
        let mut keys = Vec::new();
        leaf_keys(
            &serde_json::to_value(Config::default()).unwrap(),
            "",
            &mut keys,
        );
        keys.sort();
        let mut table: Vec<String> = ENV_OVERRIDES
            .iter()
            .map(|entry| entry.key.to_owned())
            .collect();
        table.sort();
        assert_eq!(table, keys);
        for entry in ENV_OVERRIDES {
            let expected = format!("SYSMANAGE_{}", entry.key.to_uppercase().replace('.', "_"));
            assert_eq!(entry.variable, expected);
        }
    }

    #[test]
    fn load_without_file_gives_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("absent.yaml");
        let loaded =
            Config::load_with_defaults(None, &BTreeMap::new(), &[missing.as_path()]).unwrap();
        assert_eq!(loaded.path, None);
        assert_eq!(loaded.config.api.listen, ApiConfig::default().listen);
        assert_eq!(loaded.config.security.admin_userid, "admin");
    }

    #[test]
    fn load_prefers_cli_then_env_then_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let cli = write_file(&dir, "cli.yaml", "api:\n  listen: 127.0.0.1:9001\n");
        let from_env = write_file(&dir, "env.yaml", "api:\n  listen: 127.0.0.1:9002\n");
        let fallback = write_file(&dir, "fallback.yaml", "api:\n  listen: 127.0.0.1:9003\n");
        let env = environment(&[(CONFIG_VARIABLE, from_env.to_str().unwrap())]);

        let loaded = Config::load_with_defaults(Some(&cli), &env, &[&fallback]).unwrap();
        assert_eq!(loaded.config.api.listen.port(), 9001);
        assert_eq!(loaded.path.as_deref(), Some(cli.as_path()));

        let loaded = Config::load_with_defaults(None, &env, &[&fallback]).unwrap();
        assert_eq!(loaded.config.api.listen.port(), 9002);

        let loaded = Config::load_with_defaults(None, &BTreeMap::new(), &[&fallback]).unwrap();
        assert_eq!(loaded.config.api.listen.port(), 9003);
        assert_eq!(loaded.path.as_deref(), Some(fallback.as_path()));
    }

    #[test]
    fn named_file_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.yaml");
        let error = Config::load_with_defaults(Some(&missing), &BTreeMap::new(), &[]).unwrap_err();
        assert!(matches!(error, ConfigError::Read { .. }), "{error}");
        assert!(error.to_string().contains("missing.yaml"), "{error}");
    }

    #[test]
    fn unknown_key_names_key_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(&dir, "typo.yaml", "api:\n  lisen: 127.0.0.1:9000\n");
        let error = Config::load_with_defaults(Some(&path), &BTreeMap::new(), &[]).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("lisen"), "{message}");
        assert!(message.contains("typo.yaml"), "{message}");

        let error = Config::from_yaml("colour: blue\n").unwrap_err();
        assert!(error.contains("colour"), "{error}");
    }

    #[test]
    fn empty_file_gives_defaults() {
        let config = Config::from_yaml("\n# nothing set\n").unwrap();
        assert_eq!(config.log.format, "text");
    }

    #[test]
    fn environment_overrides_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(
            &dir,
            "base.yaml",
            "agents:\n  heartbeat_interval_secs: 10\ndatabase:\n  url: postgres://a@h/db\n",
        );
        let env = environment(&[
            ("SYSMANAGE_AGENTS_HEARTBEAT_INTERVAL_SECS", "20"),
            ("SYSMANAGE_API_LISTEN", "[::1]:8443"),
            ("SYSMANAGE_DATABASE_URL", "postgres://b:secret@h/other"),
            ("SYSMANAGE_DATABASE_AUTO_MIGRATE", "true"),
            ("SYSMANAGE_SECURITY_ENROLLMENT_KEY", "0123456789abcdef0123"),
            ("SYSMANAGE_DATA_DIR", "/var/lib/sysmanage"),
        ]);
        let config = Config::load_with_defaults(Some(&path), &env, &[])
            .unwrap()
            .config;
        assert_eq!(config.agents.heartbeat_interval_secs, 20);
        assert_eq!(config.api.listen, "[::1]:8443".parse().unwrap());
        assert_eq!(
            config.database.url.as_deref(),
            Some("postgres://b:secret@h/other")
        );
        assert_eq!(config.database.auto_migrate, Some(true));
        assert_eq!(
            config.security.enrollment_key.as_deref(),
            Some("0123456789abcdef0123")
        );
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/sysmanage"));
    }

    #[test]
    fn empty_variable_unsets_optional_key() {
        let mut config = Config::default();
        config.database.url = Some("postgres://a@h/db".to_owned());
        config
            .apply_environment(&environment(&[("SYSMANAGE_DATABASE_URL", "")]))
            .unwrap();
        assert_eq!(config.database.url, None);
    }

    #[test]
    fn bad_variable_names_variable_and_value() {
        let env = environment(&[("SYSMANAGE_AGENTS_HEARTBEAT_INTERVAL_SECS", "often")]);
        let error = Config::load_with_defaults(None, &env, &[]).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("SYSMANAGE_AGENTS_HEARTBEAT_INTERVAL_SECS"),
            "{message}"
        );
        assert!(message.contains("often"), "{message}");

        let env = environment(&[("SYSMANAGE_API_LISTEN", "localhost")]);
        let message = Config::load_with_defaults(None, &env, &[])
            .unwrap_err()
            .to_string();
        assert!(message.contains("SYSMANAGE_API_LISTEN"), "{message}");
    }

    #[test]
    fn trusted_proxies_bad_value_named() {
        let config =
            Config::from_yaml("api:\n  trusted_proxies: [10.0.0.0/8, 192.0.2.1, \"::1\"]\n")
                .unwrap();
        let formatted: Vec<String> = config
            .api
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(formatted, ["10.0.0.0/8", "192.0.2.1", "::1"]);

        let error = Config::from_yaml("api:\n  trusted_proxies: [10.0.0.0/33]\n").unwrap_err();
        assert!(error.contains("trusted_proxies"), "{error}");
        assert!(error.contains("\"10.0.0.0/33\""), "{error}");

        let env = environment(&[("SYSMANAGE_API_TRUSTED_PROXIES", "10.0.0.1, proxy.local")]);
        let message = Config::load_with_defaults(None, &env, &[])
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("SYSMANAGE_API_TRUSTED_PROXIES"),
            "{message}"
        );
        assert!(message.contains("\"proxy.local\""), "{message}");

        let env = environment(&[("SYSMANAGE_API_TRUSTED_PROXIES", "127.0.0.1,10.0.0.0/8")]);
        let config = Config::load_with_defaults(None, &env, &[]).unwrap().config;
        assert_eq!(config.api.trusted_proxies.len(), 2);
    }

    #[test]
    fn misspelt_variable_is_reported_not_rejected() {
        let env = environment(&[
            ("SYSMANAGE_DATABSE_URL", "postgres://x"),
            ("SYSMANAGE_ADMIN_PASSWORD", "not a key"),
            ("SYSMANAGE_SOMETHING_ELSE_ENTIRELY", "1"),
        ]);
        let loaded = Config::load_with_defaults(None, &env, &[]).unwrap();
        assert_eq!(
            loaded.misspelt_variables,
            vec![MisspeltVariable {
                variable: "SYSMANAGE_DATABSE_URL".to_owned(),
                suggestion: "SYSMANAGE_DATABASE_URL",
            }]
        );
        assert_eq!(loaded.config.database.url, None);
    }

    #[test]
    fn validation_rejects_bad_ranges() {
        let cases: &[(&str, &str)] = &[
            (
                "agents:\n  heartbeat_interval_secs: 0\n",
                "agents.heartbeat_interval_secs",
            ),
            (
                "agents:\n  heartbeat_interval_secs: 30\n  heartbeat_timeout_secs: 30\n",
                "agents.heartbeat_timeout_secs",
            ),
            ("api:\n  cert_file: /tmp/cert.pem\n", "api.cert_file"),
            ("api:\n  key_file: /tmp/key.pem\n", "api.cert_file"),
            (
                "security:\n  login_max_failures: 0\n",
                "security.login_max_failures",
            ),
            (
                "security:\n  token_idle_timeout_secs: 0\n",
                "security.token_idle_timeout_secs",
            ),
            (
                "security:\n  enrollment_key: short\n",
                "security.enrollment_key",
            ),
            (
                "security:\n  admin_userid: \"two words\"\n",
                "security.admin_userid",
            ),
            ("database:\n  url: mysql://x\n", "database.url"),
            (
                "database:\n  max_connections: 0\n",
                "database.max_connections",
            ),
            ("log:\n  format: xml\n", "log.format"),
            ("log:\n  level: \"[[[\"\n", "log.level"),
        ];
        for (yaml, key) in cases {
            let config = Config::from_yaml(yaml).unwrap();
            let error = config.validate().unwrap_err();
            match &error {
                ConfigError::Invalid { key: actual, .. } => assert_eq!(actual, key, "{yaml}"),
                other => panic!("{yaml}: unexpected error {other}"),
            }
        }
        assert!(Config::default().validate().is_ok());
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let mut config = Config::default();
        config.database.url = Some("postgres://sysmanage:hunter2@db:5432/sysmanage".to_owned());
        config.security.enrollment_key = Some("enrollment-secret-0123456789".to_owned());
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(!debug.contains("enrollment-secret"), "{debug}");
        assert!(
            debug.contains("postgres://sysmanage:<redacted>@db:5432/sysmanage"),
            "{debug}"
        );
    }

    #[test]
    fn redact_url_cases() {
        let cases = [
            (
                "postgres://u:p@h:5432/db",
                "postgres://u:<redacted>@h:5432/db",
            ),
            ("postgres://u@h/db", "postgres://u@h/db"),
            (
                "postgres://u:p%40ss@h/db?sslmode=require",
                "postgres://u:<redacted>@h/db?sslmode=require",
            ),
            (
                "postgres://h/db?user=u&password=p",
                "postgres://h/db?user=u&password=<redacted>",
            ),
            (
                "sqlite:///var/lib/sysmanage.sqlite?mode=rwc",
                "sqlite:///var/lib/sysmanage.sqlite?mode=rwc",
            ),
        ];
        for (url, expected) in cases {
            assert_eq!(redact_url(url), expected, "{url}");
        }
    }
}
