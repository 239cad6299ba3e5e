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
//!
//! A password check in progress counts against the limit until it ends ([`LoginLimiter::begin`]),
//! so that a burst of concurrent guesses cannot all pass the check before the first failure is
//! counted. A burst of correct logins larger than the limit therefore gets some 429s too, with
//! `Retry-After: 1`.

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
    /// Password checks started and not yet ended.
    in_flight: u32,
}

impl Counter {
    fn new(now_ms: i64) -> Self {
        Self {
            failures: 0,
            window_start_ms: now_ms,
            locked_until_ms: None,
            last_update_ms: now_ms,
            in_flight: 0,
        }
    }

    /// Starts a new window when the current one or its lockout is over.
    fn refresh(&mut self, now_ms: i64, window_ms: i64) {
        let over = match self.locked_until_ms {
            Some(until) => until <= now_ms,
            None => now_ms - self.window_start_ms >= window_ms,
        };
        if over {
            self.failures = 0;
            self.window_start_ms = now_ms;
            self.locked_until_ms = None;
        }
    }

    /// Returns whether the counter carries nothing worth keeping.
    fn is_empty(&self) -> bool {
        self.failures == 0 && self.locked_until_ms.is_none() && self.in_flight == 0
    }
}

impl Counter {
    fn is_stale(&self, now_ms: i64, window_ms: i64) -> bool {
        if self.in_flight > 0 {
            return false;
        }
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

    /// Starts a password check for `userid` from `address`: returns [`ApiError::RateLimited`]
    /// when either is locked out, or when its failures plus the checks already in progress reach
    /// the limit. The returned [`Attempt`] counts as in progress until it ends.
    pub fn begin(
        &self,
        userid: &str,
        address: IpAddr,
        now_ms: i64,
    ) -> Result<Attempt<'_>, ApiError> {
        let keys = Self::keys(userid, address);
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        let mut retry_after_ms = None;
        for key in &keys {
            let Some(counter) = counters.get_mut(key) else {
                continue;
            };
            counter.refresh(now_ms, self.window_ms);
            let wait = match counter.locked_until_ms {
                Some(until) => Some(until - now_ms),
                None if counter.failures + counter.in_flight >= self.max_failures => Some(1000),
                None => None,
            };
            retry_after_ms = retry_after_ms.max(wait);
        }
        if let Some(wait) = retry_after_ms {
            return Err(ApiError::RateLimited {
                retry_after_secs: (wait.max(1) as u64).div_ceil(1000),
            });
        }
        for key in &keys {
            if !counters.contains_key(key) && counters.len() >= MAX_COUNTERS {
                self.make_room(&mut counters, now_ms);
            }
            let counter = counters
                .entry(key.clone())
                .or_insert_with(|| Counter::new(now_ms));
            counter.in_flight += 1;
            counter.last_update_ms = now_ms;
        }
        Ok(Attempt {
            limiter: self,
            keys,
            ended: false,
        })
    }

    /// Counts one failed login for `userid` and for `address`.
    pub fn record_failure(&self, userid: &str, address: IpAddr, now_ms: i64) {
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        for key in Self::keys(userid, address) {
            if !counters.contains_key(&key) && counters.len() >= MAX_COUNTERS {
                self.make_room(&mut counters, now_ms);
            }
            let counter = counters.entry(key).or_insert_with(|| Counter::new(now_ms));
            self.count_failure(counter, now_ms);
        }
    }

    fn count_failure(&self, counter: &mut Counter, now_ms: i64) {
        counter.refresh(now_ms, self.window_ms);
        counter.failures += 1;
        counter.last_update_ms = now_ms;
        if counter.failures >= self.max_failures {
            counter.locked_until_ms = Some(now_ms + self.lockout_ms);
        }
    }

    /// Ends a check of `keys` that [`LoginLimiter::begin`] started, counting a failure when
    /// `failed_at_ms` is set.
    fn end(&self, keys: &[LimitKey; 2], failed_at_ms: Option<i64>) {
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        for key in keys {
            let Some(counter) = counters.get_mut(key) else {
                continue;
            };
            counter.in_flight = counter.in_flight.saturating_sub(1);
            if let Some(now_ms) = failed_at_ms {
                self.count_failure(counter, now_ms);
            }
            if counter.is_empty() {
                counters.remove(key);
            }
        }
    }

    /// Clears the counter of `userid` after a successful login or a password change. The
    /// counters of client addresses stay.
    pub fn record_success(&self, userid: &str) {
        let key = LimitKey::Userid(userid.chars().take(MAX_KEY_CHARS).collect());
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(counter) = counters.get_mut(&key) {
            counter.failures = 0;
            counter.locked_until_ms = None;
            if counter.is_empty() {
                counters.remove(&key);
            }
        }
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

    /// Drops stale counters, and if that frees nothing, the least recently updated one that is
    /// not locked, so that a flood of failures for new user ids cannot unlock a locked one early.
    /// Only when every counter is locked does the one whose lockout ends first go.
    fn make_room(&self, counters: &mut HashMap<LimitKey, Counter>, now_ms: i64) {
        counters.retain(|_, counter| !counter.is_stale(now_ms, self.window_ms));
        if counters.len() < MAX_COUNTERS {
            return;
        }
        let oldest = counters
            .iter()
            .min_by_key(|(_, counter)| match counter.locked_until_ms {
                Some(until) if until > now_ms => (1, until),
                _ => (0, counter.last_update_ms),
            })
            .map(|(key, _)| key.clone());
        if let Some(oldest) = oldest {
            counters.remove(&oldest);
        }
    }
}

/// A password check in progress, from [`LoginLimiter::begin`]. Dropping it without
/// [`Attempt::failed`] or [`Attempt::succeeded`], as on a database error, ends it without
/// counting a failure.
#[derive(Debug)]
pub struct Attempt<'a> {
    limiter: &'a LoginLimiter,
    keys: [LimitKey; 2],
    ended: bool,
}

impl Attempt<'_> {
    /// Ends the check as a failed login at `now_ms`.
    pub fn failed(mut self, now_ms: i64) {
        self.ended = true;
        self.limiter.end(&self.keys, Some(now_ms));
    }

    /// Ends the check as a correct password and clears the user id's failures.
    pub fn succeeded(mut self) {
        self.ended = true;
        self.limiter.end(&self.keys, None);
        if let LimitKey::Userid(userid) = &self.keys[0] {
            self.limiter.record_success(userid);
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.limiter.end(&self.keys, None);
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
    fn checks_in_progress_count_against_limit() {
        let limiter = limiter(3, 60);
        let first = limiter.begin("alice", address(1), 0).unwrap();
        let second = limiter.begin("alice", address(2), 0).unwrap();
        let third = limiter.begin("alice", address(3), 0).unwrap();
        match limiter.begin("alice", address(4), 0) {
            Err(ApiError::RateLimited { retry_after_secs }) => assert_eq!(retry_after_secs, 1),
            other => panic!("expected a rate limit, got {other:?}"),
        }
        // Another user id from a fresh address is not held up.
        drop(limiter.begin("bob", address(5), 0).unwrap());

        first.failed(0);
        second.succeeded();
        drop(third);
        // The success cleared the user id's failure; the failure of address 1 stays.
        assert_eq!(limiter.len(), 1);
        assert!(limiter.begin("alice", address(4), 0).is_ok());
    }

    #[test]
    fn ended_checks_leave_no_counters() {
        let limiter = limiter(3, 60);
        limiter.begin("alice", address(1), 0).unwrap().succeeded();
        drop(limiter.begin("bob", address(1), 0).unwrap());
        assert!(limiter.is_empty());
    }

    #[test]
    fn full_map_keeps_locked_counters() {
        let limiter = limiter(2, 60);
        limiter.record_failure("victim", address(1), 0);
        limiter.record_failure("victim", address(2), 0);
        assert!(limiter.check("victim", address(3), 1).is_err());
        // Fill the map with single failures of other user ids, all from one address.
        for i in 0..MAX_COUNTERS {
            limiter.record_failure(&format!("user{i}"), address(4), 2 + i as i64);
        }
        assert!(limiter.check("victim", address(3), 20_000).is_err());
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
