//! Counters and heartbeat acknowledgement latency shared by all simulated agents, and the
//! snapshots printed while running and written as the JSON summary.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde::Serialize;

/// Largest latency the histograms record, in microseconds (one minute). Larger values are
/// clamped to it.
const MAX_LATENCY_MICROS: u64 = 60_000_000;

/// Counters of one run. Every field is a monotonic count except `connected`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Agents that completed the handshake and hold an open connection now.
    pub connected: AtomicU64,
    pub connect_attempts: AtomicU64,
    /// Handshakes that ended with a Welcome.
    pub welcomes: AtomicU64,
    /// Welcomes whose approval was not `approved`.
    pub welcomes_not_approved: AtomicU64,
    /// `ApprovalChanged` messages received.
    pub approval_changes: AtomicU64,
    /// Connections the agent closed because the server rejected its host, in `Welcome` or in
    /// `ApprovalChanged`.
    pub rejected_closes: AtomicU64,
    /// Connection attempts after the first one of an agent.
    pub reconnects: AtomicU64,
    pub heartbeats_sent: AtomicU64,
    pub heartbeats_acked: AtomicU64,
    /// Heartbeats dropped from the pending list without an Ack (connection lost or too old).
    pub heartbeats_unacked: AtomicU64,
    pub reports_sent: AtomicU64,
    pub reports_acked: AtomicU64,
    pub inventories_sent: AtomicU64,
    pub inventories_acked: AtomicU64,
    pub jobs_received: AtomicU64,
    /// `InstallJob` messages for a job id the agent already had.
    pub jobs_redelivered: AtomicU64,
    /// `InstallJob` messages for a job whose result the server had already acknowledged, which
    /// would make a real agent's job run twice if it kept no record.
    pub jobs_redelivered_after_ack: AtomicU64,
    pub jobs_started_sent: AtomicU64,
    pub job_results_sent: AtomicU64,
    pub job_results_acked: AtomicU64,
    /// `JobResultAck` messages for a job whose result was already acknowledged.
    pub job_results_acked_again: AtomicU64,
    /// Finished jobs whose result reports `reboot_required`, counted once per job.
    pub job_results_reboot_required: AtomicU64,
    pub refresh_requests: AtomicU64,
    /// Unix milliseconds of the first and last `InstallJob` received (0 when none).
    pub first_job_received_ms: AtomicU64,
    pub last_job_received_ms: AtomicU64,
    /// Unix milliseconds of the last `JobResultAck` received (0 when none).
    pub last_result_acked_ms: AtomicU64,
    /// Unix milliseconds of the last Welcome received (0 when none).
    pub last_welcome_ms: AtomicU64,
    /// Unix milliseconds at which the churned agents stopped (0 before that).
    pub churn_stopped_ms: AtomicU64,
}

/// Shared statistics of all agents in this process.
#[derive(Debug)]
pub struct Stats {
    pub counters: Counters,
    started: Instant,
    errors: Mutex<BTreeMap<String, u64>>,
    latency: Mutex<LatencyHistograms>,
}

#[derive(Debug)]
struct LatencyHistograms {
    /// Every acknowledged heartbeat since the start.
    total: Histogram<u64>,
    /// Heartbeats acknowledged since the last progress line.
    interval: Histogram<u64>,
}

/// Percentiles of a latency histogram, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl LatencySummary {
    /// Summarizes a histogram of microseconds.
    pub fn from_micros(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return Self::default();
        }
        let millis = |micros: u64| micros as f64 / 1000.0;
        Self {
            count: histogram.len(),
            p50_ms: millis(histogram.value_at_quantile(0.50)),
            p90_ms: millis(histogram.value_at_quantile(0.90)),
            p99_ms: millis(histogram.value_at_quantile(0.99)),
            p999_ms: millis(histogram.value_at_quantile(0.999)),
            max_ms: millis(histogram.max()),
            mean_ms: histogram.mean() / 1000.0,
        }
    }
}

/// Counters and latencies at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub elapsed_secs: f64,
    pub unix_ms: u64,
    pub agents_started: u64,
    pub connected: u64,
    pub connect_attempts: u64,
    pub welcomes: u64,
    pub welcomes_not_approved: u64,
    pub approval_changes: u64,
    pub rejected_closes: u64,
    pub reconnects: u64,
    pub heartbeats_sent: u64,
    pub heartbeats_acked: u64,
    pub heartbeats_unacked: u64,
    pub reports_sent: u64,
    pub reports_acked: u64,
    pub inventories_sent: u64,
    pub inventories_acked: u64,
    pub jobs_received: u64,
    pub jobs_redelivered: u64,
    pub jobs_redelivered_after_ack: u64,
    pub jobs_started_sent: u64,
    pub job_results_sent: u64,
    pub job_results_acked: u64,
    pub job_results_acked_again: u64,
    pub job_results_reboot_required: u64,
    pub refresh_requests: u64,
    pub first_job_received_ms: u64,
    pub last_job_received_ms: u64,
    pub last_result_acked_ms: u64,
    pub last_welcome_ms: u64,
    pub churn_stopped_ms: u64,
    /// Heartbeat acknowledgement latency since the start.
    pub ack_latency: LatencySummary,
    /// Heartbeat acknowledgement latency since the previous snapshot.
    pub interval_ack_latency: LatencySummary,
    /// Errors by kind, such as `connect_failed` or `server_error.not_approved`.
    pub errors: BTreeMap<String, u64>,
}

/// Returns the current time in Unix milliseconds.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

fn new_histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, MAX_LATENCY_MICROS, 3) {
        Ok(histogram) => histogram,
        // The bounds are constants that meet the constructor's conditions (low >= 1,
        // high >= 2 * low, at most 5 significant digits), so this arm never runs.
        Err(error) => unreachable!("invalid histogram bounds: {error:?}"),
    }
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

impl Stats {
    /// Creates empty statistics whose elapsed time starts now.
    pub fn new() -> Self {
        Self {
            counters: Counters::default(),
            started: Instant::now(),
            errors: Mutex::new(BTreeMap::new()),
            latency: Mutex::new(LatencyHistograms {
                total: new_histogram(),
                interval: new_histogram(),
            }),
        }
    }

    /// Adds one to a counter.
    pub fn increment(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one error of `kind` and returns whether it is the first of that kind.
    pub fn record_error(&self, kind: &str) -> bool {
        let mut errors = self
            .errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = errors.entry(kind.to_owned()).or_insert(0);
        *count += 1;
        *count == 1
    }

    /// Records the time between sending a heartbeat and receiving its Ack.
    pub fn record_ack_latency(&self, latency: Duration) {
        let micros = (latency.as_micros() as u64).clamp(1, MAX_LATENCY_MICROS);
        let mut histograms = self
            .latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Values are clamped into the histogram's range, so recording cannot fail.
        let _ = histograms.total.record(micros);
        let _ = histograms.interval.record(micros);
        drop(histograms);
        Self::increment(&self.counters.heartbeats_acked);
    }

    /// Stores `now` in a Unix-milliseconds field if it is the first, or the latest, event.
    pub fn record_time(field: &AtomicU64, keep_first: bool) {
        let now = unix_ms();
        if keep_first {
            let _ = field.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        } else {
            field.fetch_max(now, Ordering::Relaxed);
        }
    }

    /// Takes a snapshot and starts a new latency interval.
    pub fn snapshot(&self, agents_started: u64) -> Snapshot {
        let (ack_latency, interval_ack_latency) = {
            let mut histograms = self
                .latency
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let total = LatencySummary::from_micros(&histograms.total);
            let interval = LatencySummary::from_micros(&histograms.interval);
            histograms.interval.reset();
            (total, interval)
        };
        let errors = self
            .errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let counters = &self.counters;
        Snapshot {
            elapsed_secs: self.started.elapsed().as_secs_f64(),
            unix_ms: unix_ms(),
            agents_started,
            connected: load(&counters.connected),
            connect_attempts: load(&counters.connect_attempts),
            welcomes: load(&counters.welcomes),
            welcomes_not_approved: load(&counters.welcomes_not_approved),
            approval_changes: load(&counters.approval_changes),
            rejected_closes: load(&counters.rejected_closes),
            reconnects: load(&counters.reconnects),
            heartbeats_sent: load(&counters.heartbeats_sent),
            heartbeats_acked: load(&counters.heartbeats_acked),
            heartbeats_unacked: load(&counters.heartbeats_unacked),
            reports_sent: load(&counters.reports_sent),
            reports_acked: load(&counters.reports_acked),
            inventories_sent: load(&counters.inventories_sent),
            inventories_acked: load(&counters.inventories_acked),
            jobs_received: load(&counters.jobs_received),
            jobs_redelivered: load(&counters.jobs_redelivered),
            jobs_redelivered_after_ack: load(&counters.jobs_redelivered_after_ack),
            jobs_started_sent: load(&counters.jobs_started_sent),
            job_results_sent: load(&counters.job_results_sent),
            job_results_acked: load(&counters.job_results_acked),
            job_results_acked_again: load(&counters.job_results_acked_again),
            job_results_reboot_required: load(&counters.job_results_reboot_required),
            refresh_requests: load(&counters.refresh_requests),
            first_job_received_ms: load(&counters.first_job_received_ms),
            last_job_received_ms: load(&counters.last_job_received_ms),
            last_result_acked_ms: load(&counters.last_result_acked_ms),
            last_welcome_ms: load(&counters.last_welcome_ms),
            churn_stopped_ms: load(&counters.churn_stopped_ms),
            ack_latency,
            interval_ack_latency,
            errors,
        }
    }
}

impl Snapshot {
    /// Formats the snapshot as one human-readable progress line.
    pub fn progress_line(&self, agents: u32) -> String {
        let errors = if self.errors.is_empty() {
            "none".to_owned()
        } else {
            self.errors
                .iter()
                .map(|(kind, count)| format!("{kind}={count}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            "t={:.0}s connected={}/{} heartbeats sent={} acked={} ack_ms p50={:.2} p99={:.2} \
             max={:.2} (interval p99={:.2}) reconnects={} jobs received={} answered={} acked={} \
             errors={}",
            self.elapsed_secs,
            self.connected,
            agents,
            self.heartbeats_sent,
            self.heartbeats_acked,
            self.ack_latency.p50_ms,
            self.ack_latency.p99_ms,
            self.ack_latency.max_ms,
            self.interval_ack_latency.p99_ms,
            self.reconnects,
            self.jobs_received,
            self.job_results_sent,
            self.job_results_acked,
            errors,
        )
    }
}

/// A guard that counts one connected agent while it lives.
#[derive(Debug)]
pub struct ConnectedGuard<'a> {
    counter: &'a AtomicU64,
}

impl<'a> ConnectedGuard<'a> {
    /// Counts one more connected agent until the guard is dropped.
    pub fn new(counter: &'a AtomicU64) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self { counter }
    }
}

impl Drop for ConnectedGuard<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_histogram_summary_is_zero() {
        let summary = LatencySummary::from_micros(&new_histogram());
        assert_eq!(summary, LatencySummary::default());
    }

    #[test]
    fn percentiles_of_uniform_latencies() {
        let stats = Stats::new();
        for millis in 1..=1000 {
            stats.record_ack_latency(Duration::from_millis(millis));
        }
        let snapshot = stats.snapshot(0);
        let latency = snapshot.ack_latency;
        assert_eq!(latency.count, 1000);
        // Three significant digits: each percentile is within 0.1 % of the exact value.
        assert!((latency.p50_ms - 500.0).abs() <= 1.0, "{latency:?}");
        assert!((latency.p99_ms - 990.0).abs() <= 1.0, "{latency:?}");
        assert!((latency.max_ms - 1000.0).abs() <= 1.0, "{latency:?}");
        assert!((latency.mean_ms - 500.5).abs() <= 1.0, "{latency:?}");
        assert_eq!(snapshot.heartbeats_acked, 1000);
    }

    #[test]
    fn interval_resets_after_snapshot() {
        let stats = Stats::new();
        stats.record_ack_latency(Duration::from_millis(100));
        let first = stats.snapshot(0);
        assert_eq!(first.interval_ack_latency.count, 1);
        stats.record_ack_latency(Duration::from_millis(2));
        let second = stats.snapshot(0);
        assert_eq!(second.interval_ack_latency.count, 1);
        assert!(second.interval_ack_latency.max_ms < 3.0);
        assert_eq!(second.ack_latency.count, 2);
        assert!(second.ack_latency.max_ms >= 99.0);
    }

    #[test]
    fn latency_outside_range_is_clamped() {
        let stats = Stats::new();
        stats.record_ack_latency(Duration::ZERO);
        stats.record_ack_latency(Duration::from_hours(1));
        let latency = stats.snapshot(0).ack_latency;
        assert_eq!(latency.count, 2);
        assert!(latency.max_ms <= 60_100.0, "{latency:?}");
    }

    #[test]
    fn errors_counted_by_kind() {
        let stats = Stats::new();
        assert!(stats.record_error("connect_failed"));
        assert!(!stats.record_error("connect_failed"));
        assert!(stats.record_error("server_error.not_approved"));
        let errors = stats.snapshot(0).errors;
        assert_eq!(errors.get("connect_failed"), Some(&2));
        assert_eq!(errors.get("server_error.not_approved"), Some(&1));
        let line = stats.snapshot(0).progress_line(10);
        assert!(line.contains("connect_failed=2"), "{line}");
    }

    #[test]
    fn connected_guard_counts_while_alive() {
        let counter = AtomicU64::new(0);
        let guard = ConnectedGuard::new(&counter);
        assert_eq!(counter.load(Ordering::Relaxed), 1);
        drop(guard);
        assert_eq!(counter.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn record_time_keeps_first_or_latest() {
        let first = AtomicU64::new(0);
        Stats::record_time(&first, true);
        let stored = first.load(Ordering::Relaxed);
        assert!(stored > 0);
        std::thread::sleep(Duration::from_millis(2));
        Stats::record_time(&first, true);
        assert_eq!(first.load(Ordering::Relaxed), stored);
        let latest = AtomicU64::new(0);
        Stats::record_time(&latest, false);
        assert!(latest.load(Ordering::Relaxed) >= stored);
    }
}
