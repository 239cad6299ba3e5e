//! Last-seen times and up/down detection of approved hosts.
//!
//! Heartbeats only touch an in-memory map ([`Tracker`]), keyed by host id and sharded, so that
//! sessions do not contend for one global lock. Two background tasks started by [`spawn`] do the
//! database work: one turns elapsed timeouts into `up`/`down` transitions with a `host_events`
//! row each, the other writes changed last-seen times and the latest resource snapshots of
//! approved hosts in one batch per flush interval. Every time comes from the server's [`Clock`],
//! never from an agent.

mod rules;
mod store;

use std::time::Duration;

use dashmap::DashMap;
use sysmanage_protocol::ResourceSnapshot;

pub use rules::{HostStatus, Observation, Rules, describe, evaluate};

use crate::clock::Clock;
use crate::config::AgentsConfig;
use crate::events::{self, Event};
use crate::state::AppState;

/// How often the detection task compares every host against the timeouts.
const DETECTION_INTERVAL: Duration = Duration::from_millis(250);

/// In-memory liveness of every host that connected since the server started, plus the
/// approved hosts loaded from the database on start.
pub struct Tracker {
    hosts: DashMap<i64, Entry>,
    rules: Rules,
    clock: Clock,
    flush_interval: Duration,
}

#[derive(Debug, Clone)]
struct Entry {
    observation: Observation,
    /// Id of the open connection, so that a replaced connection's close does not count.
    connection_id: Option<u64>,
    /// Only approved hosts get up/down transitions.
    approved: bool,
    /// `last_seen_ms` changed since the last flush.
    dirty: bool,
    /// Latest resource snapshot of an approved host, with the server time it arrived.
    resources: Option<TimedResources>,
    /// `resources` changed since the last flush.
    resources_dirty: bool,
}

/// A resource snapshot and the server time in Unix milliseconds it arrived.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimedResources {
    pub snapshot: ResourceSnapshot,
    pub at_ms: i64,
}

/// A status change found by [`Tracker::pending_transitions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub host_id: i64,
    pub from: HostStatus,
    pub to: HostStatus,
    pub at_ms: i64,
    pub reason: String,
}

impl Tracker {
    /// Creates an empty tracker with the timeouts of `config`.
    pub fn new(config: &AgentsConfig, clock: Clock) -> Self {
        Self {
            hosts: DashMap::new(),
            rules: Rules::from_config(config),
            clock,
            flush_interval: Duration::from_millis(config.last_seen_flush_interval_ms.max(1)),
        }
    }

    /// Records an authenticated connection of `host_id`. `stored_status` is the host's status in
    /// the database, used when the tracker has no entry for it yet.
    pub fn connected(
        &self,
        host_id: i64,
        connection_id: u64,
        approved: bool,
        stored_status: HostStatus,
    ) {
        let now = self.clock.now_ms();
        let mut entry = self.hosts.entry(host_id).or_insert_with(|| Entry {
            observation: Observation {
                status: stored_status,
                last_seen_ms: None,
                connected: false,
                disconnected_at_ms: None,
            },
            connection_id: None,
            approved,
            dirty: false,
            resources: None,
            resources_dirty: false,
        });
        entry.observation.connected = true;
        entry.observation.disconnected_at_ms = None;
        entry.observation.last_seen_ms = Some(now);
        entry.connection_id = Some(connection_id);
        entry.approved = approved;
        entry.dirty = true;
    }

    /// Records a heartbeat of `host_id` at the current server time, and its resource snapshot
    /// when the host is approved. Touches only one shard and never the database.
    pub fn heartbeat(&self, host_id: i64, resources: Option<ResourceSnapshot>) {
        let now = self.clock.now_ms();
        if let Some(mut entry) = self.hosts.get_mut(&host_id) {
            let seen = entry
                .observation
                .last_seen_ms
                .map_or(now, |seen| seen.max(now));
            entry.observation.last_seen_ms = Some(seen);
            entry.dirty = true;
            if let Some(snapshot) = resources
                && entry.approved
            {
                entry.resources = Some(TimedResources {
                    snapshot,
                    at_ms: now,
                });
                entry.resources_dirty = true;
            }
        }
    }

    /// Returns the latest resource snapshot received since the server started, if any.
    pub fn resources(&self, host_id: i64) -> Option<TimedResources> {
        self.hosts.get(&host_id).and_then(|entry| entry.resources)
    }

    /// Records that connection `connection_id` of `host_id` closed. Ignored when a newer
    /// connection of the same host replaced it.
    pub fn disconnected(&self, host_id: i64, connection_id: u64) {
        let now = self.clock.now_ms();
        if let Some(mut entry) = self.hosts.get_mut(&host_id)
            && entry.connection_id == Some(connection_id)
        {
            entry.connection_id = None;
            entry.observation.connected = false;
            entry.observation.disconnected_at_ms = Some(now);
        }
    }

    /// Starts or stops up/down tracking of a host after an approval change.
    pub fn set_approved(&self, host_id: i64, approved: bool) {
        if let Some(mut entry) = self.hosts.get_mut(&host_id) {
            entry.approved = approved;
        }
    }

    /// Forgets a deleted host.
    pub fn remove(&self, host_id: i64) {
        self.hosts.remove(&host_id);
    }

    /// Returns the last time the host was heard from, in Unix milliseconds, if it connected since
    /// the server started or was loaded on start.
    pub fn last_seen_ms(&self, host_id: i64) -> Option<i64> {
        self.hosts
            .get(&host_id)
            .and_then(|entry| entry.observation.last_seen_ms)
    }

    /// Returns the host's current status in the tracker.
    pub fn status(&self, host_id: i64) -> Option<HostStatus> {
        self.hosts
            .get(&host_id)
            .map(|entry| entry.observation.status)
    }

    /// Returns whether the host has an open, authenticated connection.
    pub fn is_connected(&self, host_id: i64) -> bool {
        self.hosts
            .get(&host_id)
            .is_some_and(|entry| entry.observation.connected)
    }

    /// Loads an approved host from the database on start. A host stored as `up` gets the
    /// disconnect grace from now, so that its agent can reconnect before it is marked down.
    fn load(&self, host_id: i64, status: HostStatus, last_seen_ms: Option<i64>) {
        let now = self.clock.now_ms();
        self.hosts.entry(host_id).or_insert_with(|| Entry {
            observation: Observation {
                status,
                last_seen_ms,
                connected: false,
                disconnected_at_ms: (status == HostStatus::Up).then_some(now),
            },
            connection_id: None,
            approved: true,
            dirty: false,
            resources: None,
            resources_dirty: false,
        });
    }

    /// Returns the status changes of approved hosts due at the current time, by host id.
    pub fn pending_transitions(&self) -> Vec<Transition> {
        let now = self.clock.now_ms();
        let mut transitions: Vec<Transition> = self
            .hosts
            .iter()
            .filter(|entry| entry.approved)
            .filter_map(|entry| {
                let observation = &entry.observation;
                let to = evaluate(observation, now, &self.rules);
                (to != observation.status).then(|| Transition {
                    host_id: *entry.key(),
                    from: observation.status,
                    to,
                    at_ms: now,
                    reason: describe(observation, to, now),
                })
            })
            .collect();
        transitions.sort_by_key(|transition| transition.host_id);
        transitions
    }

    /// Records a transition that was written to the database, unless the status changed since.
    fn apply(&self, transition: &Transition) {
        if let Some(mut entry) = self.hosts.get_mut(&transition.host_id)
            && entry.observation.status == transition.from
        {
            entry.observation.status = transition.to;
        }
    }

    /// Returns `(host_id, last_seen_ms)` of every host whose last-seen time changed since the
    /// last call, sorted by host id, and clears their changed flag.
    pub fn take_changed_last_seen(&self) -> Vec<(i64, i64)> {
        let mut changed = Vec::new();
        for mut entry in self.hosts.iter_mut() {
            if entry.dirty
                && let Some(seen) = entry.observation.last_seen_ms
            {
                entry.dirty = false;
                changed.push((*entry.key(), seen));
            }
        }
        changed.sort_unstable();
        changed
    }

    /// Returns `(host_id, resources)` of every host whose snapshot changed since the last call,
    /// sorted by host id, and clears their changed flag.
    pub fn take_changed_resources(&self) -> Vec<(i64, TimedResources)> {
        let mut changed = Vec::new();
        for mut entry in self.hosts.iter_mut() {
            if entry.resources_dirty
                && let Some(resources) = entry.resources
            {
                entry.resources_dirty = false;
                changed.push((*entry.key(), resources));
            }
        }
        changed.sort_unstable_by_key(|(host_id, _)| *host_id);
        changed
    }

    /// Flags hosts again after a failed flush, so that the next flush retries them.
    fn mark_changed(&self, last_seen: &[(i64, i64)], resources: &[(i64, TimedResources)]) {
        for (host_id, _) in last_seen {
            if let Some(mut entry) = self.hosts.get_mut(host_id) {
                entry.dirty = true;
            }
        }
        for (host_id, _) in resources {
            if let Some(mut entry) = self.hosts.get_mut(host_id) {
                entry.resources_dirty = true;
            }
        }
    }
}

/// Loads approved hosts from the database and starts the detection and flush tasks.
pub async fn spawn(state: AppState) -> anyhow::Result<()> {
    let loaded = store::load_approved(&state.db).await?;
    for (host_id, status, last_seen_ms) in loaded {
        state.liveness.load(host_id, status, last_seen_ms);
    }

    let detection_state = state.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(DETECTION_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            detect_transitions(&detection_state).await;
        }
    });

    tokio::spawn(async move {
        let mut interval = tokio::time::interval(state.liveness.flush_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            flush(&state).await;
        }
    });
    Ok(())
}

/// Writes due transitions in one transaction and logs each one.
async fn detect_transitions(state: &AppState) {
    let transitions = state.liveness.pending_transitions();
    if transitions.is_empty() {
        return;
    }
    match store::write_transitions(&state.db, &transitions).await {
        Ok(()) => {
            for transition in &transitions {
                state.liveness.apply(transition);
                events::publish(
                    state,
                    Event::HostStatus {
                        host_id: transition.host_id,
                        status: transition.to.as_str().to_owned(),
                    },
                );
                match transition.to {
                    HostStatus::Up => {
                        tracing::info!(host_id = transition.host_id, "host marked up");
                    }
                    HostStatus::Down | HostStatus::Unknown => tracing::warn!(
                        host_id = transition.host_id,
                        reason = %transition.reason,
                        "host marked down"
                    ),
                }
            }
        }
        Err(error) => tracing::error!(
            %error,
            hosts = transitions.len(),
            "failed to store host status changes; retrying on the next check"
        ),
    }
}

/// Writes changed last-seen times and resource snapshots in one transaction.
async fn flush(state: &AppState) {
    let last_seen = state.liveness.take_changed_last_seen();
    let resources = state.liveness.take_changed_resources();
    if last_seen.is_empty() && resources.is_empty() {
        return;
    }
    if let Err(error) = store::write_flush(&state.db, &last_seen, &resources).await {
        tracing::error!(
            %error,
            last_seen_hosts = last_seen.len(),
            resources_hosts = resources.len(),
            "failed to store last-seen times and resource snapshots; retrying on the next flush"
        );
        state.liveness.mark_changed(&last_seen, &resources);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker(clock: &Clock) -> Tracker {
        let config = AgentsConfig {
            heartbeat_interval_secs: 1,
            heartbeat_timeout_secs: Some(3),
            disconnect_grace_secs: 1,
            ..AgentsConfig::default()
        };
        Tracker::new(&config, clock.clone())
    }

    #[test]
    fn connect_then_silence_gives_up_then_down() {
        let clock = Clock::manual(1_000_000);
        let tracker = tracker(&clock);
        tracker.connected(7, 1, true, HostStatus::Unknown);

        let up = tracker.pending_transitions();
        assert_eq!(up.len(), 1);
        assert_eq!(up[0].to, HostStatus::Up);
        tracker.apply(&up[0]);
        assert!(tracker.pending_transitions().is_empty());

        clock.advance(3_000);
        let down = tracker.pending_transitions();
        assert_eq!(down.len(), 1);
        assert_eq!(down[0].to, HostStatus::Down);
        assert_eq!(down[0].reason, "no heartbeat for 3 s");
    }

    #[test]
    fn pending_host_has_no_transitions() {
        let clock = Clock::manual(1_000_000);
        let tracker = tracker(&clock);
        tracker.connected(7, 1, false, HostStatus::Unknown);
        assert!(tracker.pending_transitions().is_empty());
    }

    #[test]
    fn replaced_connection_close_ignored() {
        let clock = Clock::manual(1_000_000);
        let tracker = tracker(&clock);
        tracker.connected(7, 1, true, HostStatus::Up);
        tracker.connected(7, 2, true, HostStatus::Up);
        tracker.disconnected(7, 1);
        assert!(tracker.is_connected(7));
        tracker.disconnected(7, 2);
        assert!(!tracker.is_connected(7));
    }

    #[test]
    fn changed_last_seen_taken_once() {
        let clock = Clock::manual(1_000_000);
        let tracker = tracker(&clock);
        tracker.connected(9, 1, true, HostStatus::Up);
        tracker.connected(3, 2, false, HostStatus::Unknown);
        clock.advance(500);
        tracker.heartbeat(9, None);

        assert_eq!(
            tracker.take_changed_last_seen(),
            vec![(3, 1_000_000), (9, 1_000_500)]
        );
        assert!(tracker.take_changed_last_seen().is_empty());
    }

    fn snapshot(memory_used_bytes: u64) -> ResourceSnapshot {
        ResourceSnapshot {
            load_average: [0.5, 0.4, 0.3],
            memory_used_bytes,
            memory_total_bytes: 8 << 30,
            disk_used_bytes: 10 << 30,
            disk_total_bytes: 100 << 30,
        }
    }

    #[test]
    fn resources_kept_for_approved_only() {
        let clock = Clock::manual(1_000_000);
        let tracker = tracker(&clock);
        tracker.connected(9, 1, true, HostStatus::Up);
        tracker.connected(3, 2, false, HostStatus::Unknown);
        tracker.heartbeat(9, Some(snapshot(1)));
        tracker.heartbeat(3, Some(snapshot(2)));

        assert_eq!(tracker.resources(3), None);
        let kept = tracker.resources(9).unwrap();
        assert_eq!(kept.snapshot, snapshot(1));
        assert_eq!(kept.at_ms, 1_000_000);
    }

    #[test]
    fn changed_resources_taken_once() {
        let clock = Clock::manual(1_000_000);
        let tracker = tracker(&clock);
        tracker.connected(9, 1, true, HostStatus::Up);
        tracker.connected(4, 2, true, HostStatus::Up);
        tracker.heartbeat(9, Some(snapshot(1)));
        clock.advance(500);
        tracker.heartbeat(9, Some(snapshot(2)));
        tracker.heartbeat(4, Some(snapshot(3)));

        let changed = tracker.take_changed_resources();
        let hosts: Vec<i64> = changed.iter().map(|(host_id, _)| *host_id).collect();
        assert_eq!(hosts, vec![4, 9]);
        assert_eq!(changed[1].1.snapshot, snapshot(2));
        assert_eq!(changed[1].1.at_ms, 1_000_500);
        assert!(tracker.take_changed_resources().is_empty());

        // A heartbeat without a snapshot keeps the last one and flags nothing.
        tracker.heartbeat(9, None);
        assert!(tracker.take_changed_resources().is_empty());
        assert_eq!(tracker.resources(9).unwrap().snapshot, snapshot(2));

        tracker.mark_changed(&[], &changed);
        assert_eq!(tracker.take_changed_resources().len(), 2);
    }
}
