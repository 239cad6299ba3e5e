//! In-memory failed-login counters per user id and per client address.
//!
//! After `security.login_max_failures` failures within `security.login_lockout_secs`, logins for
//! that user id, or from that address, are rejected for `security.login_lockout_secs`. Counting
//! per user id means that spreading guesses over many addresses does not help, and a locked user
//! id does not lock out other user ids. A successful login or password change clears the user
//! id's counter but not the address's, so that one valid account cannot reset the limit for
//! guessing others. Behind a reverse proxy the address is the client's only when the proxy is
//! in `api.trusted_proxies` (see [`crate::client_address`]). The counters live in one process: with
//! several server processes, each counts on its own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use crate::config::SecurityConfig;
use crate::error::ApiError;

/// Maximum number of counters kept at once. Beyond that, expired ones are pruned first and
/// then the least recently updated ones.
pub const MAX_COUNTERS: usize = 10_000;

/// Maximum characters of a user id used as a key, so that huge request bodies cannot grow
/// the map.
const MAX_KEY_CHARS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum LimitKey {
    Userid(String),
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Counter {
    failures: u32,
    /// Unix milliseconds of the first failure of the current window.
    window_start_ms: i64,
    /// Unix milliseconds until which logins are rejected.
    locked_until_ms: Option<i64>,
    last_update_ms: i64,
}

impl Counter {
    fn is_stale(&self, now_ms: i64, window_ms: i64) -> bool {
        match self.locked_until_ms {
            Some(until) => until <= now_ms,
            None => now_ms - self.window_start_ms >= window_ms,
        }
    }
}

/// Failed-login counters. Times are Unix milliseconds passed in by the caller.
#[derive(Debug)]
pub struct LoginLimiter {
    max_failures: u32,
    window_ms: i64,
    lockout_ms: i64,
    counters: Mutex<HashMap<LimitKey, Counter>>,
}

impl LoginLimiter {
    /// Creates an empty limiter with the limits of `config`.
    #[must_use]
    pub fn new(config: &SecurityConfig) -> Self {
        let lockout_ms = (config.login_lockout_secs as i64).saturating_mul(1000);
        Self {
            max_failures: config.login_max_failures.max(1),
            window_ms: lockout_ms,
            lockout_ms,
            counters: Mutex::new(HashMap::new()),
        }
    }

    fn keys(userid: &str, address: IpAddr) -> [LimitKey; 2] {
        let userid: String = userid.chars().take(MAX_KEY_CHARS).collect();
        [
            LimitKey::Userid(userid),
            LimitKey::Address(address.to_canonical()),
        ]
    }

    /// Returns [`ApiError::RateLimited`] when `userid` or `address` is locked out at `now_ms`.
    pub fn check(&self, userid: &str, address: IpAddr, now_ms: i64) -> Result<(), ApiError> {
        let counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        let locked_until = Self::keys(userid, address)
            .iter()
            .filter_map(|key| counters.get(key)?.locked_until_ms)
            .filter(|until| *until > now_ms)
            .max();
        match locked_until {
            Some(until) => Err(ApiError::RateLimited {
                retry_after_secs: ((until - now_ms) as u64).div_ceil(1000),
            }),
            None => Ok(()),
        }
    }

    /// Counts one failed login for `userid` and for `address`.
    pub fn record_failure(&self, userid: &str, address: IpAddr, now_ms: i64) {
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        for key in Self::keys(userid, address) {
            if !counters.contains_key(&key) && counters.len() >= MAX_COUNTERS {
                self.make_room(&mut counters, now_ms);
            }
            let counter = counters.entry(key).or_insert(Counter {
                failures: 0,
                window_start_ms: now_ms,
                locked_until_ms: None,
                last_update_ms: now_ms,
            });
            if counter.is_stale(now_ms, self.window_ms) {
                counter.failures = 0;
                counter.window_start_ms = now_ms;
                counter.locked_until_ms = None;
            }
            counter.failures += 1;
            counter.last_update_ms = now_ms;
            if counter.failures >= self.max_failures {
                counter.locked_until_ms = Some(now_ms + self.lockout_ms);
            }
        }
    }

    /// Clears the counter of `userid` after a successful login or a password change. The
    /// counters of client addresses stay.
    pub fn record_success(&self, userid: &str) {
        let userid: String = userid.chars().take(MAX_KEY_CHARS).collect();
        self.counters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&LimitKey::Userid(userid));
    }

    /// Returns how many counters are kept.
    pub fn len(&self) -> usize {
        self.counters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Returns whether no counter is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops stale counters, and if that frees nothing, the least recently updated one.
    fn make_room(&self, counters: &mut HashMap<LimitKey, Counter>, now_ms: i64) {
        counters.retain(|_, counter| !counter.is_stale(now_ms, self.window_ms));
        if counters.len() < MAX_COUNTERS {
            return;
        }
        let oldest = counters
            .iter()
            .min_by_key(|(_, counter)| counter.last_update_ms)
            .map(|(key, _)| key.clone());
        if let Some(oldest) = oldest {
            counters.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn limiter(max_failures: u32, lockout_secs: u64) -> LoginLimiter {
        LoginLimiter::new(&SecurityConfig {
            login_max_failures: max_failures,
            login_lockout_secs: lockout_secs,
            ..SecurityConfig::default()
        })
    }

    fn address(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    #[test]
    fn locks_after_max_failures() {
        let limiter = limiter(3, 60);
        for _ in 0..2 {
            limiter.record_failure("alice", address(1), 0);
            assert!(limiter.check("alice", address(1), 0).is_ok());
        }
        limiter.record_failure("alice", address(1), 0);
        match limiter.check("alice", address(2), 1_500) {
            Err(ApiError::RateLimited { retry_after_secs }) => assert_eq!(retry_after_secs, 59),
            other => panic!("expected RateLimited, got {other:?}"),
        }
        assert!(limiter.check("alice", address(2), 60_000).is_ok());
    }

    #[test]
    fn failures_outside_window_do_not_add_up() {
        let limiter = limiter(2, 10);
        limiter.record_failure("alice", address(1), 0);
        limiter.record_failure("alice", address(1), 10_000);
        assert!(limiter.check("alice", address(1), 10_000).is_ok());
    }

    #[test]
    fn success_clears_user_but_not_address() {
        let limiter = limiter(2, 60);
        limiter.record_failure("alice", address(1), 0);
        limiter.record_success("alice");
        limiter.record_failure("alice", address(2), 0);
        assert!(limiter.check("alice", address(3), 0).is_ok());

        limiter.record_failure("bob", address(1), 0);
        assert!(limiter.check("carol", address(1), 0).is_err());
    }

    #[test]
    fn map_size_is_bounded() {
        let limiter = limiter(5, 60);
        for i in 0..(MAX_COUNTERS + 100) {
            limiter.record_failure(&format!("user{i}"), address(1), i as i64);
        }
        assert!(limiter.len() <= MAX_COUNTERS, "{}", limiter.len());
        // The address counter reached the limit long ago and must have survived the pruning.
        assert!(
            limiter
                .check("anyone", address(1), MAX_COUNTERS as i64)
                .is_err()
        );
    }
}
