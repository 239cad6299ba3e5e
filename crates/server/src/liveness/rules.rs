//! The up/down decision as a pure function of what the tracker observed and the current time.

use crate::config::AgentsConfig;

/// Availability of a host as stored in `hosts.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostStatus {
    Up,
    Down,
    /// Never connected since registration.
    Unknown,
}

impl HostStatus {
    /// Returns the lower-case name used in the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Unknown => "unknown",
        }
    }

    /// Parses a stored status. An unrecognized value reads as `Unknown`.
    pub fn parse(value: &str) -> Self {
        match value {
            "up" => Self::Up,
            "down" => Self::Down,
            _ => Self::Unknown,
        }
    }
}

/// Timeouts of the decision, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// A host with no heartbeat for this long is down.
    pub heartbeat_timeout_ms: i64,
    /// A host whose connection closed this long ago without a new one is down.
    pub disconnect_grace_ms: i64,
}

impl Rules {
    /// Reads the timeouts from the `agents` configuration section.
    pub fn from_config(config: &AgentsConfig) -> Self {
        Self {
            heartbeat_timeout_ms: secs_to_ms(config.heartbeat_timeout_secs()),
            disconnect_grace_ms: secs_to_ms(config.disconnect_grace_secs),
        }
    }
}

fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// Liveness facts the tracker stores about one host, all times in server-clock Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    pub status: HostStatus,
    /// Arrival of the last heartbeat, or of the connection's `Hello`.
    pub last_seen_ms: Option<i64>,
    pub connected: bool,
    /// When the last connection closed; `None` while connected or when never connected here.
    pub disconnected_at_ms: Option<i64>,
}

/// Returns the status the host should have at `now_ms`.
///
/// A connected host is up while its last heartbeat is younger than the heartbeat timeout. A host
/// whose connection closed keeps its status for the disconnect grace, so that a quick reconnect
/// produces no down/up pair, unless its heartbeat timeout runs out first. After that it is down.
/// A host that was never seen stays `Unknown`, but one whose connection closed before any check
/// counted it up goes down like the others.
pub fn evaluate(observation: &Observation, now_ms: i64, rules: &Rules) -> HostStatus {
    let heard_recently = observation
        .last_seen_ms
        .is_some_and(|seen| now_ms.saturating_sub(seen) < rules.heartbeat_timeout_ms);

    if observation.connected {
        return if heard_recently {
            HostStatus::Up
        } else {
            HostStatus::Down
        };
    }

    let within_grace = observation
        .disconnected_at_ms
        .is_some_and(|closed| now_ms.saturating_sub(closed) < rules.disconnect_grace_ms);
    if within_grace && heard_recently {
        return observation.status;
    }
    match observation.status {
        HostStatus::Unknown if observation.last_seen_ms.is_none() => HostStatus::Unknown,
        HostStatus::Unknown | HostStatus::Up | HostStatus::Down => HostStatus::Down,
    }
}

/// Returns the reason recorded in the `host_events.detail` of a transition to `to`.
pub fn describe(observation: &Observation, to: HostStatus, now_ms: i64) -> String {
    let seconds_since = |at: Option<i64>| at.map(|at| now_ms.saturating_sub(at) / 1000);
    match to {
        HostStatus::Up => "heartbeat received".to_owned(),
        HostStatus::Down if observation.connected => {
            match seconds_since(observation.last_seen_ms) {
                Some(seconds) => format!("no heartbeat for {seconds} s"),
                None => "no heartbeat received".to_owned(),
            }
        }
        HostStatus::Down => match seconds_since(observation.disconnected_at_ms) {
            Some(seconds) => format!("connection closed {seconds} s ago"),
            None => "not connected since the server started".to_owned(),
        },
        HostStatus::Unknown => "never connected".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;

    const RULES: Rules = Rules {
        heartbeat_timeout_ms: 3_000,
        disconnect_grace_ms: 1_000,
    };
    const START: i64 = 1_700_000_000_000;

    fn connected(status: HostStatus, last_seen_ms: i64) -> Observation {
        Observation {
            status,
            last_seen_ms: Some(last_seen_ms),
            connected: true,
            disconnected_at_ms: None,
        }
    }

    #[test]
    fn heartbeating_host_stays_up() {
        let clock = Clock::manual(START);
        let mut observation = connected(HostStatus::Up, START);
        for _ in 0..20 {
            clock.advance(1_000);
            observation.last_seen_ms = Some(clock.now_ms());
            assert_eq!(
                evaluate(&observation, clock.now_ms(), &RULES),
                HostStatus::Up
            );
        }
    }

    #[test]
    fn silent_connection_down_at_timeout() {
        let clock = Clock::manual(START);
        let observation = connected(HostStatus::Up, START);
        clock.advance(2_999);
        assert_eq!(
            evaluate(&observation, clock.now_ms(), &RULES),
            HostStatus::Up
        );
        clock.advance(1);
        assert_eq!(
            evaluate(&observation, clock.now_ms(), &RULES),
            HostStatus::Down
        );
    }

    #[test]
    fn closed_connection_down_after_grace() {
        let clock = Clock::manual(START);
        let observation = Observation {
            status: HostStatus::Up,
            last_seen_ms: Some(START),
            connected: false,
            disconnected_at_ms: Some(START),
        };
        clock.advance(999);
        assert_eq!(
            evaluate(&observation, clock.now_ms(), &RULES),
            HostStatus::Up
        );
        clock.advance(1);
        assert_eq!(
            evaluate(&observation, clock.now_ms(), &RULES),
            HostStatus::Down
        );
    }

    #[test]
    fn short_first_connection_goes_down() {
        let observation = Observation {
            status: HostStatus::Unknown,
            last_seen_ms: Some(START),
            connected: false,
            disconnected_at_ms: Some(START + 50),
        };
        assert_eq!(
            evaluate(&observation, START + 500, &RULES),
            HostStatus::Unknown
        );
        assert_eq!(
            evaluate(&observation, START + 1_050, &RULES),
            HostStatus::Down
        );
        assert_eq!(
            describe(&observation, HostStatus::Down, START + 1_050),
            "connection closed 1 s ago"
        );
    }

    #[test]
    fn closed_connection_with_stale_heartbeat_down() {
        let observation = Observation {
            status: HostStatus::Up,
            last_seen_ms: Some(START - 5_000),
            connected: false,
            disconnected_at_ms: Some(START),
        };
        assert_eq!(evaluate(&observation, START, &RULES), HostStatus::Down);
    }

    #[test]
    fn reconnect_brings_host_up() {
        let observation = connected(HostStatus::Down, START);
        assert_eq!(evaluate(&observation, START, &RULES), HostStatus::Up);
    }

    #[test]
    fn never_connected_stays_unknown() {
        let observation = Observation {
            status: HostStatus::Unknown,
            last_seen_ms: None,
            connected: false,
            disconnected_at_ms: None,
        };
        assert_eq!(evaluate(&observation, START, &RULES), HostStatus::Unknown);
    }

    #[test]
    fn up_after_restart_without_connection() {
        // A host stored as up when the server starts gets the grace from the start time.
        let clock = Clock::manual(START);
        let observation = Observation {
            status: HostStatus::Up,
            last_seen_ms: Some(START - 500),
            connected: false,
            disconnected_at_ms: Some(START),
        };
        assert_eq!(
            evaluate(&observation, clock.now_ms(), &RULES),
            HostStatus::Up
        );
        clock.advance(1_000);
        assert_eq!(
            evaluate(&observation, clock.now_ms(), &RULES),
            HostStatus::Down
        );
    }

    #[test]
    fn down_reason_names_cause() {
        let silent = connected(HostStatus::Up, START);
        assert_eq!(
            describe(&silent, HostStatus::Down, START + 4_000),
            "no heartbeat for 4 s"
        );
        let closed = Observation {
            connected: false,
            disconnected_at_ms: Some(START),
            ..silent
        };
        assert_eq!(
            describe(&closed, HostStatus::Down, START + 2_000),
            "connection closed 2 s ago"
        );
    }
}
