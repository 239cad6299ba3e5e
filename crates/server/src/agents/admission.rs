//! Limits on new hosts: the number of hosts pending approval, and the number of new hosts that one
//! client address may register per minute. Hosts with a known key always reconnect.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use sea_orm::DbErr;

use crate::config::AgentsConfig;

/// Length of the window of the per-address limit, in milliseconds.
const WINDOW_MS: i64 = 60_000;

/// Maximum number of client addresses tracked at once, so that the map stays bounded. When it is
/// full of addresses seen within the last minute, new addresses are rejected until entries expire.
const MAX_TRACKED_ADDRESSES: usize = 10_000;

/// Error of a registration that was not stored.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error(
        "{pending} hosts are pending approval, the maximum set by agents.max_pending_hosts; an \
         administrator must approve or reject hosts before new ones can register"
    )]
    TooManyPendingHosts { pending: u64 },
    #[error("too many new hosts registered from this address in the last minute; retry later")]
    TooManyFromAddress,
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

/// Counter of new registrations per client address, in fixed one-minute windows.
#[derive(Debug)]
pub struct RegistrationLimiter {
    per_address_per_minute: u32,
    state: Mutex<LimiterState>,
}

#[derive(Debug, Default)]
struct LimiterState {
    /// Start of the current window in milliseconds since the Unix epoch, and the registrations
    /// counted in it, per address.
    windows: HashMap<IpAddr, (i64, u32)>,
    /// Rejections since the last warning, and the time of that warning.
    unlogged_rejections: u64,
    last_warning_ms: Option<i64>,
}

impl RegistrationLimiter {
    pub fn new(config: &AgentsConfig) -> Self {
        Self {
            per_address_per_minute: config.max_registrations_per_address_per_minute,
            state: Mutex::new(LimiterState::default()),
        }
    }

    /// Counts one new registration from `address` at `now_ms` and returns whether it is within
    /// the limit. A rejected registration is not counted.
    pub fn try_register(&self, address: IpAddr, now_ms: i64) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        if state.windows.len() >= MAX_TRACKED_ADDRESSES && !state.windows.contains_key(&address) {
            state
                .windows
                .retain(|_, (start, _)| now_ms - *start < WINDOW_MS);
            if state.windows.len() >= MAX_TRACKED_ADDRESSES {
                return false;
            }
        }
        let window = state.windows.entry(address).or_insert((now_ms, 0));
        if now_ms - window.0 >= WINDOW_MS {
            *window = (now_ms, 0);
        }
        if window.1 >= self.per_address_per_minute {
            return false;
        }
        window.1 += 1;
        true
    }

    /// Counts one rejected registration and returns the number of rejections to log, at most once
    /// per minute, so that a flood of registrations does not flood the log.
    pub fn rejection_to_log(&self, now_ms: i64) -> Option<u64> {
        let mut state = self.state.lock().ok()?;
        state.unlogged_rejections += 1;
        if state
            .last_warning_ms
            .is_some_and(|last| now_ms - last < WINDOW_MS)
        {
            return None;
        }
        state.last_warning_ms = Some(now_ms);
        Some(std::mem::take(&mut state.unlogged_rejections))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u32) -> RegistrationLimiter {
        RegistrationLimiter::new(&AgentsConfig {
            max_registrations_per_address_per_minute: per_minute,
            ..AgentsConfig::default()
        })
    }

    #[test]
    fn limit_per_address_and_window() {
        let limiter = limiter(2);
        let first: IpAddr = "192.0.2.1".parse().unwrap();
        let second: IpAddr = "192.0.2.2".parse().unwrap();

        assert!(limiter.try_register(first, 0));
        assert!(limiter.try_register(first, 1));
        assert!(!limiter.try_register(first, 2));
        assert!(limiter.try_register(second, 3));
        assert!(limiter.try_register(first, WINDOW_MS));
    }

    #[test]
    fn rejections_logged_once_per_minute() {
        let limiter = limiter(1);
        assert_eq!(limiter.rejection_to_log(0), Some(1));
        assert_eq!(limiter.rejection_to_log(1), None);
        assert_eq!(limiter.rejection_to_log(2), None);
        assert_eq!(limiter.rejection_to_log(WINDOW_MS), Some(3));
    }

    #[test]
    fn tracked_addresses_bounded() {
        let limiter = limiter(1);
        for index in 0..MAX_TRACKED_ADDRESSES {
            let address = IpAddr::from(u32::try_from(index).unwrap().to_be_bytes());
            assert!(limiter.try_register(address, 0));
        }
        let extra: IpAddr = "198.51.100.1".parse().unwrap();
        assert!(!limiter.try_register(extra, 1));
        assert!(limiter.try_register(extra, WINDOW_MS));
        assert!(limiter.state.lock().unwrap().windows.len() == 1);
    }
}
