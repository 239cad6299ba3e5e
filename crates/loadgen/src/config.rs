//! Command line of `sysmanage-loadgen` and its validation into [`Settings`].
//!
//! Validation rejects every server address that is not a loopback address, because the load
//! generator is only ever pointed at a server on the same machine.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use tokio_tungstenite::tungstenite::http::Uri;

/// Longest run accepted by `--duration-secs`: one day.
pub const MAX_DURATION_SECS: u64 = 24 * 60 * 60;

/// Largest number of pending updates one simulated host reports.
pub const MAX_UPDATES_PER_HOST: usize = 500;

/// Simulates many `SysManage` agents against a server on this machine.
#[derive(Debug, Clone, Parser)]
#[command(name = "sysmanage-loadgen", version, about)]
pub struct Args {
    /// Server URL: `ws://HOST:PORT` or `http://HOST:PORT`, optionally with the agent endpoint
    /// path. HOST must be a loopback address (127.0.0.0/8, `::1` or localhost).
    #[arg(long, default_value = "ws://127.0.0.1:8000")]
    pub server_url: String,

    /// Number of simulated agents in this process.
    #[arg(long, default_value_t = 100)]
    pub agents: u32,

    /// New agents started per second while ramping up.
    #[arg(long, default_value_t = 500.0)]
    pub ramp_per_sec: f64,

    /// Seconds between two heartbeats of one agent. Default: the interval the server sends in
    /// its Welcome message.
    #[arg(long)]
    pub heartbeat_secs: Option<f64>,

    /// Random variation of each heartbeat interval, as a share of it (0.1 means +/- 10 %).
    #[arg(long, default_value_t = 0.1)]
    pub heartbeat_jitter: f64,

    /// Run time in seconds, after which every agent disconnects and the program exits.
    #[arg(long)]
    pub duration_secs: u64,

    /// Index of the first agent. Processes that run side by side use disjoint ranges, such as
    /// 0 and 10000 with `--agents 10000` each.
    #[arg(long, default_value_t = 0)]
    pub first_index: u32,

    /// Secret from which every agent's key is derived. The same seed and index give the same
    /// key, so a restarted load generator reconnects as the same hosts.
    #[arg(long, default_value = "sysmanage-loadgen")]
    pub seed: String,

    /// Enrollment key sent in every Hello, so that the server approves the hosts itself.
    #[arg(long, env = "SYSMANAGE_LOADGEN_ENROLLMENT_KEY", hide_env_values = true)]
    pub enrollment_key: Option<String>,

    /// Number of local source addresses (127.0.0.2, 127.0.0.3, ...) to spread connections over,
    /// so that no address runs out of ephemeral ports. 0 lets the kernel choose.
    #[arg(long, default_value_t = 0)]
    pub source_addresses: u32,

    /// Share of the agents (0 to 1) to stop at `--churn-at-secs`.
    #[arg(long, default_value_t = 0.0)]
    pub churn_share: f64,

    /// Seconds after the start at which the churned agents stop.
    #[arg(long)]
    pub churn_at_secs: Option<u64>,

    /// Seconds after stopping at which the churned agents start again. Default: never.
    #[arg(long)]
    pub churn_restart_after_secs: Option<u64>,

    /// How churned agents stop: `close` drops the TCP connection, `silent` keeps it open but
    /// stops sending and reading, as a host whose network vanished.
    #[arg(long, value_enum, default_value_t = ChurnMode::Close)]
    pub churn_mode: ChurnMode,

    /// Milliseconds between `JobStarted` and `JobResult` of a simulated install job.
    #[arg(long, default_value_t = 2_000)]
    pub job_delay_ms: u64,

    /// Probability (0 to 1) that an install job which installs at least one package leaves the
    /// host needing a reboot, whatever the packages. Default: a job needs a reboot when it
    /// installs a kernel package (`linux-image-*`). Once set, the host reports
    /// `reboot_required` in every later job result and update report of the run.
    #[arg(long, value_name = "PROBABILITY")]
    pub reboot_after_install: Option<f64>,

    /// Average number of pending updates each host reports (the actual number varies by
    /// +/- 25 % per host).
    #[arg(long, default_value_t = 40)]
    pub updates_per_host: usize,

    /// Smallest delay in milliseconds before reconnecting after a lost connection. It doubles
    /// on every failed attempt up to `--reconnect-max-ms`, with random jitter.
    #[arg(long, default_value_t = 1_000)]
    pub reconnect_min_ms: u64,

    /// Largest delay in milliseconds before reconnecting.
    #[arg(long, default_value_t = 30_000)]
    pub reconnect_max_ms: u64,

    /// Seconds allowed for the TCP connect, the WebSocket upgrade and the Hello exchange.
    #[arg(long, default_value_t = 30)]
    pub handshake_timeout_secs: u64,

    /// Seconds between two progress lines on standard output.
    #[arg(long, default_value_t = 5.0)]
    pub report_secs: f64,

    /// File to which one JSON object per progress line is appended.
    #[arg(long)]
    pub stats_file: Option<PathBuf>,

    /// File to which the final summary is written as JSON.
    #[arg(long)]
    pub json_summary: Option<PathBuf>,
}

/// How churned agents stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChurnMode {
    /// Drop the TCP connection, so the server sees it close.
    Close,
    /// Keep the connection open but send and read nothing.
    Silent,
}

/// When a simulated install job leaves the host needing a reboot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RebootAfterInstall {
    /// When the job installs a kernel package (`linux-image-*`), which runs only after a reboot.
    KernelPackages,
    /// With this probability (0 to 1) when the job installs at least one package.
    Probability(f64),
}

/// An invalid command line value.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("invalid --server-url {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error(
        "--server-url host {host} is not a loopback address: the load generator only connects \
         to 127.0.0.0/8, ::1 or localhost"
    )]
    NotLoopback { host: String },
    #[error("invalid {flag} {value}: {reason}")]
    InvalidValue {
        flag: &'static str,
        value: String,
        reason: String,
    },
}

/// Validated settings of one load generator run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Loopback address of the server.
    pub server_address: SocketAddr,
    /// Full `ws://` URL of the agent endpoint.
    pub connect_url: String,
    pub agents: u32,
    pub ramp_per_sec: f64,
    pub heartbeat_interval: Option<Duration>,
    pub heartbeat_jitter: f64,
    pub duration: Duration,
    pub first_index: u32,
    pub seed: String,
    pub enrollment_key: Option<String>,
    pub source_addresses: Vec<IpAddr>,
    pub churn: Option<Churn>,
    pub job_delay: Duration,
    pub reboot_after_install: RebootAfterInstall,
    pub updates_per_host: usize,
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    pub handshake_timeout: Duration,
    pub report_interval: Duration,
    pub stats_file: Option<PathBuf>,
    pub json_summary: Option<PathBuf>,
}

/// When and how a share of the agents stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Churn {
    /// Number of agents that stop: the first ones of this process.
    pub agents: u32,
    pub at: Duration,
    pub restart_after: Option<Duration>,
    pub mode: ChurnMode,
}

fn invalid(flag: &'static str, value: &impl ToString, reason: &str) -> ConfigError {
    ConfigError::InvalidValue {
        flag,
        value: value.to_string(),
        reason: reason.to_owned(),
    }
}

fn positive_seconds(flag: &'static str, value: f64) -> Result<Duration, ConfigError> {
    if !value.is_finite() || value <= 0.0 || value > 86_400.0 {
        return Err(invalid(
            flag,
            &value,
            "expected a number of seconds greater than 0 and at most one day",
        ));
    }
    Ok(Duration::from_secs_f64(value))
}

impl Args {
    /// Checks every value and resolves the server URL to a loopback socket address.
    pub fn validate(&self) -> Result<Settings, ConfigError> {
        let (server_address, connect_url) = parse_server_url(&self.server_url)?;

        if self.agents == 0 {
            return Err(invalid("--agents", &self.agents, "expected at least 1"));
        }
        if self.first_index.checked_add(self.agents).is_none() {
            return Err(invalid(
                "--first-index",
                &self.first_index,
                &format!(
                    "--first-index plus --agents ({}) must be at most {}; lower either of them",
                    self.agents,
                    u32::MAX
                ),
            ));
        }
        // The pause between two starts is 1 / rate seconds, which overflows `Duration` for a rate
        // near 0. Below 0.001 agents per second it is over 16 minutes, longer than a test waits.
        if !self.ramp_per_sec.is_finite() || self.ramp_per_sec < 0.001 {
            return Err(invalid(
                "--ramp-per-sec",
                &self.ramp_per_sec,
                "expected a number of at least 0.001",
            ));
        }
        let heartbeat_interval = self
            .heartbeat_secs
            .map(|secs| positive_seconds("--heartbeat-secs", secs))
            .transpose()?;
        if !(0.0..=0.5).contains(&self.heartbeat_jitter) {
            return Err(invalid(
                "--heartbeat-jitter",
                &self.heartbeat_jitter,
                "expected a share between 0 and 0.5",
            ));
        }
        if self.duration_secs == 0 || self.duration_secs > MAX_DURATION_SECS {
            return Err(invalid(
                "--duration-secs",
                &self.duration_secs,
                "expected 1 to 86400 seconds",
            ));
        }
        let duration = Duration::from_secs(self.duration_secs);
        let source_addresses = source_addresses(self.source_addresses, server_address)?;
        let churn = self.churn(duration)?;
        if self.updates_per_host > MAX_UPDATES_PER_HOST {
            return Err(invalid(
                "--updates-per-host",
                &self.updates_per_host,
                "expected at most 500",
            ));
        }
        if self.reconnect_min_ms == 0 {
            return Err(invalid(
                "--reconnect-min-ms",
                &self.reconnect_min_ms,
                "expected a delay of at least 1 millisecond, so that failed connects do not \
                 repeat without pause",
            ));
        }
        if self.reconnect_max_ms < self.reconnect_min_ms {
            return Err(invalid(
                "--reconnect-max-ms",
                &self.reconnect_max_ms,
                &format!(
                    "expected at least --reconnect-min-ms ({} milliseconds)",
                    self.reconnect_min_ms
                ),
            ));
        }
        if self.handshake_timeout_secs == 0 {
            return Err(invalid(
                "--handshake-timeout-secs",
                &self.handshake_timeout_secs,
                "expected at least 1",
            ));
        }
        let report_interval = positive_seconds("--report-secs", self.report_secs)?;
        let reboot_after_install = match self.reboot_after_install {
            None => RebootAfterInstall::KernelPackages,
            Some(probability) if (0.0..=1.0).contains(&probability) => {
                RebootAfterInstall::Probability(probability)
            }
            Some(probability) => {
                return Err(invalid(
                    "--reboot-after-install",
                    &probability,
                    "expected a probability between 0 and 1",
                ));
            }
        };

        Ok(Settings {
            server_address,
            connect_url,
            agents: self.agents,
            ramp_per_sec: self.ramp_per_sec,
            heartbeat_interval,
            heartbeat_jitter: self.heartbeat_jitter,
            duration,
            first_index: self.first_index,
            seed: self.seed.clone(),
            enrollment_key: self.enrollment_key.clone(),
            source_addresses,
            churn,
            job_delay: Duration::from_millis(self.job_delay_ms),
            reboot_after_install,
            updates_per_host: self.updates_per_host,
            reconnect_min: Duration::from_millis(self.reconnect_min_ms),
            reconnect_max: Duration::from_millis(self.reconnect_max_ms),
            handshake_timeout: Duration::from_secs(self.handshake_timeout_secs),
            report_interval,
            stats_file: self.stats_file.clone(),
            json_summary: self.json_summary.clone(),
        })
    }

    fn churn(&self, duration: Duration) -> Result<Option<Churn>, ConfigError> {
        if !(0.0..=1.0).contains(&self.churn_share) {
            return Err(invalid(
                "--churn-share",
                &self.churn_share,
                "expected a share between 0 and 1",
            ));
        }
        let Some(at_secs) = self.churn_at_secs else {
            if self.churn_share > 0.0 {
                return Err(invalid(
                    "--churn-share",
                    &self.churn_share,
                    "needs --churn-at-secs SECONDS to say when the churned agents stop; add it, \
                     or leave out --churn-share",
                ));
            }
            return Ok(None);
        };
        let at = Duration::from_secs(at_secs);
        if at >= duration {
            return Err(invalid(
                "--churn-at-secs",
                &at_secs,
                &format!(
                    "expected fewer seconds than --duration-secs ({})",
                    duration.as_secs()
                ),
            ));
        }
        let agents = (self.churn_share * f64::from(self.agents)).round() as u32;
        if agents == 0 {
            return Err(invalid(
                "--churn-share",
                &self.churn_share,
                "selects no agent; raise it or drop --churn-at-secs",
            ));
        }
        if let Some(after) = self.churn_restart_after_secs
            && after > MAX_DURATION_SECS
        {
            return Err(invalid(
                "--churn-restart-after-secs",
                &after,
                "expected at most 86400 seconds, the longest --duration-secs",
            ));
        }
        Ok(Some(Churn {
            agents,
            at,
            restart_after: self.churn_restart_after_secs.map(Duration::from_secs),
            mode: self.churn_mode,
        }))
    }
}

/// Parses the server URL, checks that its host is a loopback address, and returns the socket
/// address and the `ws://` URL of the agent endpoint.
pub fn parse_server_url(url: &str) -> Result<(SocketAddr, String), ConfigError> {
    let invalid_url = |reason: &str| ConfigError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: Uri = url.parse().map_err(
        |error: tokio_tungstenite::tungstenite::http::uri::InvalidUri| {
            invalid_url(&error.to_string())
        },
    )?;
    match uri.scheme_str() {
        Some("ws" | "http") => {}
        Some("wss" | "https") => {
            return Err(invalid_url(
                "TLS is not supported by the load generator; run the server without TLS on \
                 loopback",
            ));
        }
        _ => return Err(invalid_url("expected a ws:// or http:// URL")),
    }
    let host = uri.host().ok_or_else(|| invalid_url("missing host"))?;
    let ip = loopback_ip(host)?;
    let port = uri.port_u16().unwrap_or(80);
    let path = match uri.path() {
        "" | "/" => sysmanage_protocol::CONNECT_PATH,
        path => path,
    };
    let address = SocketAddr::new(ip, port);
    Ok((address, format!("ws://{address}{path}")))
}

/// Resolves a URL host to a loopback IP address without DNS: IP literals and `localhost` only.
pub fn loopback_ip(host: &str) -> Result<IpAddr, ConfigError> {
    let not_loopback = || ConfigError::NotLoopback {
        host: host.to_owned(),
    };
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = literal.parse().map_err(|_| not_loopback())?;
    if ip.is_loopback() {
        Ok(ip)
    } else {
        Err(not_loopback())
    }
}

/// Returns `count` source addresses 127.0.0.2, 127.0.0.3, ... for an IPv4 loopback server.
fn source_addresses(count: u32, server: SocketAddr) -> Result<Vec<IpAddr>, ConfigError> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if server.is_ipv6() {
        return Err(invalid(
            "--source-addresses",
            &count,
            "IPv6 has a single loopback address (::1); use an IPv4 server URL",
        ));
    }
    // 127.0.0.2 up to 127.255.255.254 stays inside 127.0.0.0/8.
    let first = u32::from(Ipv4Addr::new(127, 0, 0, 2));
    let last = u32::from(Ipv4Addr::new(127, 255, 255, 254));
    if count > last - first + 1 {
        return Err(invalid(
            "--source-addresses",
            &count,
            "more addresses than 127.0.0.0/8 contains",
        ));
    }
    Ok((first..first + count)
        .map(|address| IpAddr::V4(Ipv4Addr::from(address)))
        .collect())
}

/// Returns the soft limit of open files of this process from `/proc/self/limits`, if readable.
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Args {
        let mut argv = vec!["sysmanage-loadgen", "--duration-secs", "10"];
        argv.extend_from_slice(extra);
        Args::try_parse_from(argv).unwrap()
    }

    #[test]
    fn loopback_urls_accepted() {
        let cases = [
            ("ws://127.0.0.1:8000", "ws://127.0.0.1:8000/agent/connect"),
            (
                "http://127.0.0.1:8000/",
                "ws://127.0.0.1:8000/agent/connect",
            ),
            (
                "ws://127.1.2.3:9000/agent/connect",
                "ws://127.1.2.3:9000/agent/connect",
            ),
            ("ws://localhost:8000", "ws://127.0.0.1:8000/agent/connect"),
            ("ws://[::1]:8000", "ws://[::1]:8000/agent/connect"),
            ("ws://127.0.0.1", "ws://127.0.0.1:80/agent/connect"),
        ];
        for (url, expected) in cases {
            let (_, connect_url) = parse_server_url(url).unwrap();
            assert_eq!(connect_url, expected, "{url}");
        }
    }

    #[test]
    fn non_loopback_hosts_rejected() {
        for url in [
            "ws://10.0.0.1:8000",
            "ws://192.168.1.10:8000",
            "ws://0.0.0.0:8000",
            "ws://[::]:8000",
            "ws://[::ffff:127.0.0.1]:8000",
            "ws://example.com:8000",
            "ws://localhost.example.com:8000",
            "http://8.8.8.8",
        ] {
            let error = parse_server_url(url).unwrap_err();
            assert!(
                matches!(error, ConfigError::NotLoopback { .. }),
                "{url}: {error}"
            );
        }
    }

    #[test]
    fn tls_and_other_schemes_rejected() {
        for url in [
            "wss://127.0.0.1:8443",
            "https://127.0.0.1",
            "ftp://127.0.0.1",
            "127.0.0.1:80",
        ] {
            let error = parse_server_url(url).unwrap_err();
            assert!(
                matches!(error, ConfigError::InvalidUrl { .. }),
                "{url}: {error}"
            );
        }
    }

    #[test]
    fn duration_is_mandatory() {
        let result = Args::try_parse_from(["sysmanage-loadgen", "--agents", "5"]);
        assert!(result.is_err());
    }

    #[test]
    fn invalid_values_rejected() {
        let cases: [&[&str]; 14] = [
            &["--agents", "0"],
            &["--ramp-per-sec", "0"],
            &["--heartbeat-secs", "0"],
            &["--heartbeat-secs=-1"],
            &["--heartbeat-jitter", "0.9"],
            &["--churn-share", "1.5"],
            &["--churn-share", "0.5"],
            &["--churn-share", "0.5", "--churn-at-secs", "10"],
            &["--first-index", "4294967295", "--agents", "2"],
            &["--reconnect-min-ms", "5000", "--reconnect-max-ms", "10"],
            &["--updates-per-host", "501"],
            &["--reboot-after-install", "1.5"],
            &["--reboot-after-install=-0.1"],
            &["--reboot-after-install", "NaN"],
        ];
        for extra in cases {
            assert!(args(extra).validate().is_err(), "{extra:?}");
        }
        let too_long = Args::try_parse_from(["sysmanage-loadgen", "--duration-secs", "86401"])
            .unwrap()
            .validate();
        assert!(too_long.is_err());
    }

    /// Each invalid value is reported under its own flag, with the value as given.
    #[test]
    fn errors_name_flag_and_value() {
        let cases: [(&[&str], &str, &str, &str); 11] = [
            (
                &["--reconnect-min-ms", "0"],
                "--reconnect-min-ms",
                "0",
                "at least 1 millisecond",
            ),
            (
                &["--reconnect-min-ms", "0", "--reconnect-max-ms", "0"],
                "--reconnect-min-ms",
                "0",
                "at least 1 millisecond",
            ),
            (
                &["--reconnect-min-ms", "5000", "--reconnect-max-ms", "10"],
                "--reconnect-max-ms",
                "10",
                "at least --reconnect-min-ms (5000 milliseconds)",
            ),
            (
                &["--churn-share", "0.5"],
                "--churn-share",
                "0.5",
                "needs --churn-at-secs",
            ),
            (
                &["--churn-at-secs", "10"],
                "--churn-at-secs",
                "10",
                "fewer seconds than --duration-secs (10)",
            ),
            (
                &["--first-index", "4294967295", "--agents", "2"],
                "--first-index",
                "4294967295",
                "--first-index plus --agents (2) must be at most 4294967295",
            ),
            (&["--agents", "0"], "--agents", "0", "at least 1"),
            (
                &["--handshake-timeout-secs", "0"],
                "--handshake-timeout-secs",
                "0",
                "at least 1",
            ),
            (
                &["--report-secs", "0"],
                "--report-secs",
                "0",
                "greater than 0",
            ),
            (
                &["--ramp-per-sec", "1e-20"],
                "--ramp-per-sec",
                "0.00000000000000000001",
                "at least 0.001",
            ),
            (
                &[
                    "--churn-share",
                    "0.5",
                    "--churn-at-secs",
                    "1",
                    "--churn-restart-after-secs",
                    "18446744073709551615",
                ],
                "--churn-restart-after-secs",
                "18446744073709551615",
                "at most 86400 seconds",
            ),
        ];
        for (extra, expected_flag, expected_value, reason_contains) in cases {
            let error = args(extra).validate().unwrap_err();
            let ConfigError::InvalidValue {
                flag,
                value,
                reason,
            } = &error
            else {
                panic!("{extra:?}: {error}");
            };
            assert_eq!(*flag, expected_flag, "{extra:?}: {error}");
            assert_eq!(value, expected_value, "{extra:?}: {error}");
            assert!(reason.contains(reason_contains), "{extra:?}: {error}");
            let message = error.to_string();
            assert!(
                message.starts_with(&format!("invalid {expected_flag} {expected_value}: ")),
                "{message}"
            );
        }
    }

    #[test]
    fn churn_selects_share_of_agents() {
        let settings = args(&[
            "--agents",
            "1000",
            "--churn-share",
            "0.25",
            "--churn-at-secs",
            "5",
            "--churn-restart-after-secs",
            "3",
            "--churn-mode",
            "silent",
        ])
        .validate()
        .unwrap();
        let churn = settings.churn.unwrap();
        assert_eq!(churn.agents, 250);
        assert_eq!(churn.at, Duration::from_secs(5));
        assert_eq!(churn.restart_after, Some(Duration::from_secs(3)));
        assert_eq!(churn.mode, ChurnMode::Silent);
    }

    #[test]
    fn source_addresses_start_at_127_0_0_2() {
        let settings = args(&["--source-addresses", "3"]).validate().unwrap();
        let expected: Vec<IpAddr> = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
            .iter()
            .map(|address| address.parse().unwrap())
            .collect();
        assert_eq!(settings.source_addresses, expected);
        assert!(settings.source_addresses.iter().all(IpAddr::is_loopback));
    }

    #[test]
    fn source_addresses_rejected_for_ipv6() {
        let result =
            args(&["--server-url", "ws://[::1]:8000", "--source-addresses", "2"]).validate();
        assert!(result.is_err());
    }

    #[test]
    fn defaults_validate() {
        let settings = args(&[]).validate().unwrap();
        assert_eq!(settings.connect_url, "ws://127.0.0.1:8000/agent/connect");
        assert_eq!(settings.heartbeat_interval, None);
        assert_eq!(settings.churn, None);
        assert!(settings.source_addresses.is_empty());
        assert_eq!(
            settings.reboot_after_install,
            RebootAfterInstall::KernelPackages
        );
    }

    #[test]
    fn reboot_after_install_takes_probability() {
        for (value, expected) in [("0", 0.0), ("0.3", 0.3), ("1", 1.0)] {
            let settings = args(&["--reboot-after-install", value]).validate().unwrap();
            assert_eq!(
                settings.reboot_after_install,
                RebootAfterInstall::Probability(expected),
                "{value}"
            );
        }
    }
}
