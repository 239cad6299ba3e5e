//! Waiting out "busy" states: another process holds the package manager's lock, or a service
//! such as Windows Update is busy. Busy is not a failure: the caller retries with exponential
//! backoff and reports the lock holder only when the wait runs out.

use std::time::Duration;

/// How long and how often to retry a busy package manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusyPolicy {
    /// Total time to keep retrying before giving up.
    pub max_wait: Duration,
    /// Delay before the first retry; each later delay doubles up to `max_delay`.
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for BusyPolicy {
    fn default() -> Self {
        Self {
            max_wait: Duration::from_mins(5),
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// Result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt<T> {
    Done(T),
    /// The manager is busy; `holder` describes who holds it (a process name and pid, a service
    /// state) as well as the tool tells.
    Busy {
        holder: String,
    },
}

/// The manager stayed busy for the whole wait.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the package manager stayed busy for {} s, held by {holder}", waited.as_secs())]
pub struct BusyTimeout {
    pub holder: String,
    pub waited: Duration,
}

/// Runs `attempt` until it is done, sleeping with `sleep` between busy attempts.
///
/// `sleep` is a parameter so that tests run without waiting.
pub fn retry_while_busy<T>(
    policy: BusyPolicy,
    mut sleep: impl FnMut(Duration),
    mut attempt: impl FnMut() -> Attempt<T>,
) -> Result<T, BusyTimeout> {
    let mut waited = Duration::ZERO;
    let mut delay = policy.first_delay;
    loop {
        match attempt() {
            Attempt::Done(value) => return Ok(value),
            Attempt::Busy { holder } => {
                if waited >= policy.max_wait {
                    return Err(BusyTimeout { holder, waited });
                }
                let step = delay.min(policy.max_wait.saturating_sub(waited));
                tracing::info!(%holder, retry_in_ms = step.as_millis() as u64, "package manager is busy, waiting");
                sleep(step);
                waited += step;
                delay = (delay * 2).min(policy.max_delay);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> BusyPolicy {
        BusyPolicy {
            max_wait: Duration::from_secs(10),
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(4),
        }
    }

    #[test]
    fn done_after_busy_attempts() {
        let mut sleeps = Vec::new();
        let mut calls = 0;
        let result = retry_while_busy(
            policy(),
            |d| sleeps.push(d),
            || {
                calls += 1;
                if calls < 4 {
                    Attempt::Busy {
                        holder: "dnf (pid 42)".into(),
                    }
                } else {
                    Attempt::Done(calls)
                }
            },
        );
        assert_eq!(result, Ok(4));
        assert_eq!(sleeps, [1, 2, 4].map(Duration::from_secs));
    }

    #[test]
    fn gives_up_and_names_holder() {
        let mut slept = Duration::ZERO;
        let result: Result<(), _> = retry_while_busy(
            policy(),
            |d| slept += d,
            || Attempt::Busy {
                holder: "zypper (pid 7)".into(),
            },
        );
        let error = result.unwrap_err();
        assert_eq!(error.holder, "zypper (pid 7)");
        assert_eq!(error.waited, Duration::from_secs(10));
        assert_eq!(slept, Duration::from_secs(10));
    }
}
