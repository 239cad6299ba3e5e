//! Agent configuration: a YAML file, built-in defaults and environment overrides.
//!
//! The file is the first that exists of `--config`, `$SYSMANAGE_AGENT_CONFIG`,
//! `/etc/sysmanage-agent.yaml` and `./sysmanage-agent.yaml`; without one the defaults apply.
//! Unknown keys are errors. Every key can be overridden by the variable listed in
//! [`ENV_OVERRIDES`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::packages::ManagerSettings;
use crate::packages::apt::AptSettings;

/// Variable naming the configuration file.
pub const CONFIG_PATH_VARIABLE: &str = "SYSMANAGE_AGENT_CONFIG";
/// Configuration files tried in order when neither `--config` nor the variable is set.
pub const DEFAULT_PATHS: &[&str] = &["/etc/sysmanage-agent.yaml", "./sysmanage-agent.yaml"];

/// Environment variables and the configuration keys they override.
pub const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("SYSMANAGE_AGENT_SERVER_URL", "server.url"),
    ("SYSMANAGE_AGENT_SERVER_CA_FILE", "server.ca_file"),
    (
        "SYSMANAGE_AGENT_SERVER_CERT_FINGERPRINT",
        "server.cert_fingerprint",
    ),
    ("SYSMANAGE_AGENT_ENROLLMENT_KEY", "enrollment_key"),
    ("SYSMANAGE_AGENT_STATE_DIR", "state_dir"),
    ("SYSMANAGE_AGENT_LOG_FORMAT", "log.format"),
    ("SYSMANAGE_AGENT_APT_UPDATE_LISTS", "apt.update_lists"),
    ("SYSMANAGE_AGENT_BREW_UPDATE_FIRST", "brew.update_first"),
    (
        "SYSMANAGE_AGENT_APT_LOCK_TIMEOUT_SECS",
        "apt.lock_timeout_secs",
    ),
    (
        "SYSMANAGE_AGENT_INSTALL_TIMEOUT_SECS",
        "install_timeout_secs",
    ),
];

/// Error loading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid value {value:?} in environment variable {variable} ({key}): {reason}")]
    Environment {
        variable: &'static str,
        key: &'static str,
        value: String,
        reason: String,
    },
    #[error("invalid {key} {value:?}: {reason}")]
    Invalid {
        key: &'static str,
        value: String,
        reason: String,
    },
}

/// A secret string whose `Debug` output never shows the value.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Returns the secret value, for sending it to the server.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Secret(redacted)")
    }
}

/// Output format of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The whole agent configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    /// Pre-shared key that lets the server approve this host without an administrator.
    pub enrollment_key: Option<Secret>,
    /// Directory of the key pair and the job journal, created with mode 0700.
    pub state_dir: PathBuf,
    pub log: LogConfig,
    pub apt: AptConfig,
    pub brew: BrewConfig,
    /// Time limit of one install in seconds, after which the package manager is killed.
    pub install_timeout_secs: u64,
}

/// `server` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Base URL of the server, `http://` or `https://`.
    pub url: String,
    /// PEM file of CA certificates trusted in addition to the system roots.
    pub ca_file: Option<PathBuf>,
    /// SHA-256 of the server certificate (DER), hex with optional colons. When set, the
    /// certificate must match it and the CA roots are not consulted.
    pub cert_fingerprint: Option<String>,
}

/// `log` section.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
}

/// `apt` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AptConfig {
    /// Run `apt-get update` before each update scan.
    pub update_lists: bool,
    /// Seconds apt waits for the dpkg lock.
    pub lock_timeout_secs: u64,
}

/// `brew` section.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrewConfig {
    /// Run `brew update` before each update scan, which fetches every tap from the network.
    pub update_first: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::default(),
            enrollment_key: None,
            state_dir: PathBuf::from("/var/lib/sysmanage-agent"),
            log: LogConfig::default(),
            apt: AptConfig::default(),
            brew: BrewConfig::default(),
            install_timeout_secs: 3600,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8000".to_owned(),
            ca_file: None,
            cert_fingerprint: None,
        }
    }
}

impl Default for AptConfig {
    fn default() -> Self {
        Self {
            update_lists: true,
            lock_timeout_secs: 300,
        }
    }
}

impl Config {
    /// Loads the configuration as the module documentation describes.
    ///
    /// `explicit_path` is `--config`; `env` returns an environment variable (a parameter so that
    /// tests need not change the process environment). Returns the configuration and the file it
    /// came from, if any.
    pub fn load(
        explicit_path: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(Self, Option<PathBuf>), ConfigError> {
        let path = explicit_path
            .map(Path::to_path_buf)
            .or_else(|| env(CONFIG_PATH_VARIABLE).map(PathBuf::from))
            .or_else(|| {
                DEFAULT_PATHS
                    .iter()
                    .map(PathBuf::from)
                    .find(|path| path.exists())
            });
        let mut config = match &path {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        config.apply_env(env)?;
        config.validate()?;
        Ok((config, path))
    }

    /// Parses a YAML file. An empty file gives the defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_yaml(&text).map_err(|message| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        })
    }

    fn from_yaml(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_norway::from_str(text).map_err(|error| error.to_string())
    }

    /// Applies every variable of [`ENV_OVERRIDES`] that is set.
    pub fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        for (variable, key) in ENV_OVERRIDES {
            if let Some(value) = env(variable) {
                self.set(key, &value)
                    .map_err(|reason| ConfigError::Environment {
                        variable,
                        key,
                        value: if *key == "enrollment_key" {
                            "(redacted)".to_owned()
                        } else {
                            value.clone()
                        },
                        reason,
                    })?;
            }
        }
        Ok(())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "server.url" => value.clone_into(&mut self.server.url),
            "server.ca_file" => self.server.ca_file = non_empty(value).map(PathBuf::from),
            "server.cert_fingerprint" => self.server.cert_fingerprint = non_empty(value),
            "enrollment_key" => self.enrollment_key = non_empty(value).map(Secret),
            "state_dir" => self.state_dir = PathBuf::from(value),
            "log.format" => {
                self.log.format = match value {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    _ => return Err("expected text or json".to_owned()),
                }
            }
            "apt.update_lists" => self.apt.update_lists = parse_bool(value)?,
            "apt.lock_timeout_secs" => self.apt.lock_timeout_secs = parse_seconds(value)?,
            "brew.update_first" => self.brew.update_first = parse_bool(value)?,
            "install_timeout_secs" => self.install_timeout_secs = parse_seconds(value)?,
            _ => return Err(format!("no configuration key {key}")),
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        websocket_url(&self.server.url)?;
        if let Some(fingerprint) = &self.server.cert_fingerprint {
            parse_fingerprint(fingerprint)?;
        }
        if !self.state_dir.is_absolute() {
            return Err(ConfigError::Invalid {
                key: "state_dir",
                value: self.state_dir.display().to_string(),
                reason: "must be an absolute path".to_owned(),
            });
        }
        if self.install_timeout_secs == 0 {
            return Err(ConfigError::Invalid {
                key: "install_timeout_secs",
                value: "0".to_owned(),
                reason: "must be at least 1".to_owned(),
            });
        }
        Ok(())
    }

    pub fn install_timeout(&self) -> Duration {
        Duration::from_secs(self.install_timeout_secs)
    }

    pub fn lock_timeout(&self) -> Duration {
        Duration::from_secs(self.apt.lock_timeout_secs)
    }

    /// Returns the settings the package managers take from this configuration.
    pub fn manager_settings(&self) -> ManagerSettings {
        ManagerSettings {
            apt: AptSettings {
                update_lists: self.apt.update_lists,
                lock_timeout: self.lock_timeout(),
                install_timeout: self.install_timeout(),
                apt_config: None,
            },
            brew_update_first: self.brew.update_first,
        }
    }
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("expected true or false".to_owned()),
    }
}

fn parse_seconds(value: &str) -> Result<u64, String> {
    value
        .parse()
        .map_err(|_| "expected a whole number of seconds".to_owned())
}

/// Returns the WebSocket URL of the agent endpoint for a server base URL: `ws://` for `http://`,
/// `wss://` for `https://`, with [`sysmanage_protocol::CONNECT_PATH`] appended.
pub fn websocket_url(server_url: &str) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        key: "server.url",
        value: server_url.to_owned(),
        reason: reason.to_owned(),
    };
    let (scheme, rest) = if let Some(rest) = server_url.strip_prefix("https://") {
        ("wss://", rest)
    } else if let Some(rest) = server_url.strip_prefix("http://") {
        ("ws://", rest)
    } else {
        return Err(invalid("must start with http:// or https://"));
    };
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.starts_with('/') {
        return Err(invalid("has no host"));
    }
    if rest.contains(['?', '#', ' ']) {
        return Err(invalid("must not contain a query, a fragment or spaces"));
    }
    Ok(format!(
        "{scheme}{rest}{}",
        sysmanage_protocol::CONNECT_PATH
    ))
}

/// Parses a SHA-256 fingerprint written as 64 hex digits, optionally separated by colons.
pub fn parse_fingerprint(text: &str) -> Result<[u8; 32], ConfigError> {
    let digits: String = text.chars().filter(|c| *c != ':').collect();
    let invalid = |reason: &str| ConfigError::Invalid {
        key: "server.cert_fingerprint",
        value: text.to_owned(),
        reason: reason.to_owned(),
    };
    let bytes = hex::decode(digits).map_err(|_| invalid("must be hexadecimal"))?;
    bytes
        .try_into()
        .map_err(|_| invalid("must be a SHA-256 digest (32 bytes, 64 hex digits)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn environment(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        move |key| map.get(key).cloned()
    }

    #[test]
    fn defaults_without_file() {
        let config = Config::from_yaml("").unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.server.url, "http://127.0.0.1:8000");
        assert_eq!(config.state_dir, Path::new("/var/lib/sysmanage-agent"));
        assert!(config.apt.update_lists);
        assert_eq!(config.apt.lock_timeout_secs, 300);
        assert_eq!(config.install_timeout_secs, 3600);
        assert_eq!(config.log.format, LogFormat::Text);
        assert!(!config.brew.update_first);
        assert!(!config.manager_settings().brew_update_first);
    }

    #[test]
    fn file_sets_every_key() {
        let yaml = "\
server:
  url: https://sysmanage.example.com
  ca_file: /etc/ssl/sysmanage-ca.pem
  cert_fingerprint: 'AB:CD'
enrollment_key: s3cret
state_dir: /srv/agent
log:
  format: json
apt:
  update_lists: false
  lock_timeout_secs: 60
brew:
  update_first: true
install_timeout_secs: 120
";
        let config = Config::from_yaml(yaml).unwrap();
        assert_eq!(config.server.url, "https://sysmanage.example.com");
        assert_eq!(
            config.server.ca_file.as_deref(),
            Some(Path::new("/etc/ssl/sysmanage-ca.pem"))
        );
        assert_eq!(config.server.cert_fingerprint.as_deref(), Some("AB:CD"));
        assert_eq!(config.enrollment_key, Some(Secret::new("s3cret")));
        assert_eq!(config.state_dir, Path::new("/srv/agent"));
        assert_eq!(config.log.format, LogFormat::Json);
        assert!(!config.apt.update_lists);
        assert_eq!(config.apt.lock_timeout_secs, 60);
        assert!(config.brew.update_first);
        assert_eq!(config.install_timeout_secs, 120);
        assert!(config.manager_settings().brew_update_first);
    }

    #[test]
    fn unknown_key_is_named() {
        let error = Config::from_yaml("apt:\n  update_list: false\n").unwrap_err();
        assert!(error.contains("update_list"), "{error}");
        let error = Config::from_yaml("heartbeat: 5\n").unwrap_err();
        assert!(error.contains("heartbeat"), "{error}");
    }

    #[test]
    fn env_overrides_file() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("agent.yaml");
        std::fs::write(&path, "server:\n  url: http://file.example:8000\n").unwrap();
        let env = environment(&[
            ("SYSMANAGE_AGENT_SERVER_URL", "https://env.example"),
            ("SYSMANAGE_AGENT_APT_UPDATE_LISTS", "false"),
            ("SYSMANAGE_AGENT_INSTALL_TIMEOUT_SECS", "42"),
            ("SYSMANAGE_AGENT_LOG_FORMAT", "json"),
        ]);
        let (config, used) = Config::load(Some(&path), env).unwrap();
        assert_eq!(used.as_deref(), Some(path.as_path()));
        assert_eq!(config.server.url, "https://env.example");
        assert!(!config.apt.update_lists);
        assert_eq!(config.install_timeout_secs, 42);
        assert_eq!(config.log.format, LogFormat::Json);
    }

    #[test]
    fn config_variable_names_file() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("agent.yaml");
        std::fs::write(&path, "install_timeout_secs: 7\n").unwrap();
        let path_text = path.display().to_string();
        let env = environment(&[("SYSMANAGE_AGENT_CONFIG", path_text.as_str())]);
        let (config, used) = Config::load(None, env).unwrap();
        assert_eq!(used.as_deref(), Some(path.as_path()));
        assert_eq!(config.install_timeout_secs, 7);
    }

    #[test]
    fn bad_env_value_names_variable_and_value() {
        let mut config = Config::default();
        let error = config
            .apply_env(environment(&[(
                "SYSMANAGE_AGENT_APT_LOCK_TIMEOUT_SECS",
                "soon",
            )]))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("SYSMANAGE_AGENT_APT_LOCK_TIMEOUT_SECS"),
            "{error}"
        );
        assert!(error.contains("\"soon\""), "{error}");
    }

    #[test]
    fn every_override_key_is_settable() {
        for (variable, key) in ENV_OVERRIDES {
            let value = match *key {
                "log.format" => "json",
                "apt.update_lists" => "false",
                "brew.update_first" => "true",
                "apt.lock_timeout_secs" | "install_timeout_secs" => "5",
                _ => "/x",
            };
            let mut config = Config::default();
            assert_eq!(config.set(key, value), Ok(()), "{variable}");
            assert_ne!(config, Config::default(), "{variable} changed nothing");
        }
    }

    #[test]
    fn enrollment_key_never_in_debug() {
        let config = Config {
            enrollment_key: Some(Secret::new("hunter2")),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn websocket_urls() {
        assert_eq!(
            websocket_url("http://127.0.0.1:8000").unwrap(),
            "ws://127.0.0.1:8000/agent/connect"
        );
        assert_eq!(
            websocket_url("https://sysmanage.example.com/").unwrap(),
            "wss://sysmanage.example.com/agent/connect"
        );
        for bad in [
            "ftp://host",
            "127.0.0.1:8000",
            "http://",
            "http://host/?x=1",
        ] {
            assert!(websocket_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fingerprints() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_fingerprint(&hex).unwrap(), [0xab; 32]);
        let with_colons = vec!["AB"; 32].join(":");
        assert_eq!(parse_fingerprint(&with_colons).unwrap(), [0xab; 32]);
        assert!(parse_fingerprint("abcd").is_err());
        assert!(parse_fingerprint(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn invalid_url_rejected_on_load() {
        let env = environment(&[("SYSMANAGE_AGENT_SERVER_URL", "server:8000")]);
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("empty.yaml");
        std::fs::write(&path, "").unwrap();
        let error = Config::load(Some(&path), env).unwrap_err().to_string();
        assert!(error.contains("server.url"), "{error}");
    }
}
