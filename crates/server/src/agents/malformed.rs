//! Rate limit of the warnings about malformed frames on one connection, so that a peer that sends
//! garbage in a loop cannot flood the server log.

use std::time::Duration;

use tokio::time::Instant;

/// Number of malformed frames per connection that are logged one by one.
const LOGGED_FRAMES: u64 = 5;

/// Interval of the summary line that counts the malformed frames not logged one by one.
const SUMMARY_INTERVAL: Duration = Duration::from_mins(1);

/// Counter of the malformed frames of one connection.
#[derive(Debug)]
pub(super) struct MalformedFrames {
    total: u64,
    unlogged: u64,
    last_summary: Instant,
}

impl MalformedFrames {
    pub(super) fn new(now: Instant) -> Self {
        Self {
            total: 0,
            unlogged: 0,
            last_summary: now,
        }
    }

    /// Counts one malformed frame and returns whether the caller logs it. Past the first
    /// [`LOGGED_FRAMES`], it logs one summary line per [`SUMMARY_INTERVAL`] instead.
    pub(super) fn record(&mut self, now: Instant) -> bool {
        self.total += 1;
        if self.total <= LOGGED_FRAMES {
            return true;
        }
        self.unlogged += 1;
        if now.duration_since(self.last_summary) >= SUMMARY_INTERVAL {
            self.log_summary();
            self.last_summary = now;
        }
        false
    }

    /// Number of malformed frames counted so far.
    pub(super) fn total(&self) -> u64 {
        self.total
    }

    /// Logs the count of malformed frames not logged yet, if there are any. Called when the
    /// connection ends.
    pub(super) fn finish(&mut self) {
        if self.unlogged > 0 {
            self.log_summary();
        }
    }

    fn log_summary(&mut self) {
        tracing::warn!(
            unlogged = self.unlogged,
            total = self.total,
            "agent keeps sending malformed frames; these were not logged one by one"
        );
        self.unlogged = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_frames_logged() {
        let start = Instant::now();
        let mut frames = MalformedFrames::new(start);
        for _ in 0..LOGGED_FRAMES {
            assert!(frames.record(start));
        }
        assert!(!frames.record(start));
        assert_eq!(frames.total(), LOGGED_FRAMES + 1);
    }

    #[test]
    fn summary_once_per_interval() {
        let start = Instant::now();
        let mut frames = MalformedFrames::new(start);
        for _ in 0..LOGGED_FRAMES + 10 {
            frames.record(start);
        }
        assert_eq!(frames.unlogged, 10);

        frames.record(start + SUMMARY_INTERVAL);
        assert_eq!(frames.unlogged, 0);
        assert_eq!(frames.last_summary, start + SUMMARY_INTERVAL);

        frames.record(start + SUMMARY_INTERVAL + Duration::from_secs(1));
        assert_eq!(frames.unlogged, 1);
        frames.finish();
        assert_eq!(frames.unlogged, 0);
    }
}
