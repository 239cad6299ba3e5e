//! Reconnect delays: exponential backoff with full jitter.

use std::time::Duration;

/// First delay ceiling after a failure.
pub const INITIAL_DELAY: Duration = Duration::from_secs(1);
/// Highest delay ceiling.
pub const MAX_DELAY: Duration = Duration::from_mins(1);
/// Delay before reconnecting after the server rejected this host.
pub const REJECTED_DELAY: Duration = Duration::from_mins(10);

/// Exponential backoff: the ceiling starts at [`INITIAL_DELAY`], doubles after each failure up
/// to [`MAX_DELAY`], and each delay is uniformly random between zero and the ceiling.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// Returns the current ceiling without jitter.
    pub fn ceiling(&self) -> Duration {
        let factor = 2u32.saturating_pow(self.failures.min(16));
        INITIAL_DELAY.saturating_mul(factor).min(MAX_DELAY)
    }

    /// Returns the next delay; `fraction` in `[0, 1)` picks the point below the ceiling.
    pub fn next_delay(&mut self, fraction: f64) -> Duration {
        let delay = self.ceiling().mul_f64(fraction.clamp(0.0, 1.0));
        self.failures = self.failures.saturating_add(1);
        delay
    }

    /// Returns the next delay with a random jitter.
    pub fn next_random_delay(&mut self) -> Duration {
        self.next_delay(rand::random::<f64>())
    }

    /// Starts over after a successful connection.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_to_cap() {
        let mut backoff = Backoff::default();
        let ceilings: Vec<u64> = (0..9)
            .map(|_| {
                let ceiling = backoff.ceiling().as_secs();
                backoff.next_delay(0.5);
                ceiling
            })
            .collect();
        assert_eq!(ceilings, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[test]
    fn jitter_stays_below_ceiling() {
        let mut backoff = Backoff::default();
        for _ in 0..5 {
            backoff.next_delay(0.0);
        }
        assert_eq!(backoff.next_delay(0.0), Duration::ZERO);
        assert_eq!(backoff.next_delay(0.5), Duration::from_secs(30));
        for _ in 0..100 {
            assert!(backoff.next_random_delay() <= MAX_DELAY);
        }
    }

    #[test]
    fn reset_starts_over() {
        let mut backoff = Backoff::default();
        for _ in 0..20 {
            backoff.next_delay(1.0);
        }
        backoff.reset();
        assert_eq!(backoff.ceiling(), INITIAL_DELAY);
    }
}
