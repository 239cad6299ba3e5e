//! One load generator run: ramps agents up, churns a share of them, prints progress, and stops
//! every agent when the duration is over.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};

use crate::agent::{AgentContext, Phase, run_agent};
use crate::config::{ChurnMode, Settings};
use crate::stats::{Snapshot, Stats};

/// Seconds the agents get to close their connections after the duration is over.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Final result of a run, written by `--json-summary`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub server_url: String,
    pub agents: u32,
    pub first_index: u32,
    pub duration_secs: u64,
    pub heartbeat_secs: Option<f64>,
    pub churned_agents: u32,
    pub churn_mode: Option<ChurnMode>,
    /// Unix milliseconds at which the churned agents stopped, when they did.
    pub churn_stopped_ms: Option<u64>,
    /// Unix milliseconds at which the churned agents started again, when they did.
    pub churn_restarted_ms: Option<u64>,
    pub result: Snapshot,
}

/// Runs the agents of `settings` until the duration is over (or Ctrl-C) and returns the summary.
///
/// Fails with a [`crate::fatal::FatalError`] when an agent meets an error that a retry cannot
/// fix, such as a 404 response to the WebSocket upgrade. The other agents are stopped first.
pub async fn run(settings: Settings) -> anyhow::Result<Summary> {
    let stats = Arc::new(Stats::new());
    let (fatal_sender, mut fatal_receiver) = watch::channel(None);
    let context = Arc::new(AgentContext {
        settings: settings.clone(),
        stats: Arc::clone(&stats),
        fatal: fatal_sender,
    });
    let (steady_sender, steady_phase) = watch::channel(Phase::Running);
    let (churn_sender, churn_phase) = watch::channel(Phase::Running);
    let churned_agents = settings.churn.map_or(0, |churn| churn.agents);
    let started = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + settings.duration;

    tracing::info!(
        url = %settings.connect_url,
        agents = settings.agents,
        first_index = settings.first_index,
        churned_agents,
        "load generator started"
    );

    // Agents start on a schedule of `ramp_per_sec`; the first `churned_agents` get the churn
    // phase channel.
    let spawner = {
        let context = Arc::clone(&context);
        let started = Arc::clone(&started);
        tokio::spawn(async move {
            let mut agents = JoinSet::new();
            for position in 0..context.settings.agents {
                let due = start
                    + Duration::from_secs_f64(f64::from(position) / context.settings.ramp_per_sec);
                if due >= deadline {
                    break;
                }
                sleep_until(due).await;
                let phase = if position < churned_agents {
                    churn_phase.clone()
                } else {
                    steady_phase.clone()
                };
                let index = context.settings.first_index + position;
                agents.spawn(run_agent(
                    Arc::clone(&context),
                    index,
                    position as usize,
                    phase,
                ));
                started.fetch_add(1, Ordering::Relaxed);
            }
            agents
        })
    };

    let mut churn_stopped_ms = None;
    let mut churn_restarted_ms = None;
    let mut stats_file = match &settings.stats_file {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("failed to open --stats-file {}", path.display()))?,
        ),
        None => None,
    };

    let churn_stop_at = settings.churn.map(|churn| start + churn.at);
    let churn_restart_at = settings.churn.and_then(|churn| {
        churn
            .restart_after
            .map(|restart_after| start + churn.at + restart_after)
    });
    let mut next_report = start + settings.report_interval;
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);

    loop {
        let next_churn_event = [
            churn_stop_at.filter(|_| churn_stopped_ms.is_none()),
            churn_restart_at.filter(|_| churn_stopped_ms.is_some() && churn_restarted_ms.is_none()),
        ]
        .into_iter()
        .flatten()
        .min();
        let wake_at = [Some(deadline), Some(next_report), next_churn_event]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(deadline);

        tokio::select! {
            () = sleep_until(wake_at) => {}
            _ = fatal_receiver.wait_for(Option::is_some) => break,
            result = &mut interrupted => {
                if let Err(error) = result {
                    tracing::warn!(%error, "failed to listen for Ctrl-C");
                } else {
                    tracing::info!("interrupted, stopping the agents");
                }
                break;
            }
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        if let (Some(stop_at), Some(churn)) = (churn_stop_at, settings.churn)
            && churn_stopped_ms.is_none()
            && now >= stop_at
        {
            churn_sender.send_replace(Phase::Stopped(churn.mode));
            churn_stopped_ms = Some(crate::stats::unix_ms());
            Stats::record_time(&stats.counters.churn_stopped_ms, true);
            tracing::info!(
                agents = churn.agents,
                first_index = settings.first_index,
                mode = ?churn.mode,
                "churned agents stopped"
            );
        }
        if let Some(restart_at) = churn_restart_at
            && churn_stopped_ms.is_some()
            && churn_restarted_ms.is_none()
            && now >= restart_at
        {
            churn_sender.send_replace(Phase::Running);
            churn_restarted_ms = Some(crate::stats::unix_ms());
            tracing::info!(agents = churned_agents, "churned agents started again");
        }
        if now >= next_report {
            next_report += settings.report_interval;
            let snapshot = stats.snapshot(started.load(Ordering::Relaxed));
            report_progress(&snapshot, settings.agents, stats_file.as_mut());
        }
    }

    let fatal = fatal_receiver.borrow().clone();
    if let Some(error) = &fatal {
        tracing::error!(%error, "fatal error, stopping every agent");
    }
    steady_sender.send_replace(Phase::Finished);
    churn_sender.send_replace(Phase::Finished);
    spawner.abort();
    let mut agents = match spawner.await {
        Ok(agents) => agents,
        // The spawner was still starting agents; they were aborted along with it.
        Err(_) => JoinSet::new(),
    };
    let all_closed = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while agents.join_next().await.is_some() {}
    })
    .await;
    if all_closed.is_err() {
        tracing::warn!(
            remaining = agents.len(),
            "agents did not close within the grace period; aborting them"
        );
        agents.abort_all();
    }

    let result = stats.snapshot(started.load(Ordering::Relaxed));
    report_progress(&result, settings.agents, stats_file.as_mut());
    if let Some(error) = fatal {
        return Err(error.into());
    }
    Ok(Summary {
        server_url: settings.connect_url.clone(),
        agents: settings.agents,
        first_index: settings.first_index,
        duration_secs: settings.duration.as_secs(),
        heartbeat_secs: settings
            .heartbeat_interval
            .map(|interval| interval.as_secs_f64()),
        churned_agents,
        churn_mode: settings.churn.map(|churn| churn.mode),
        churn_stopped_ms,
        churn_restarted_ms,
        result,
    })
}

fn report_progress(snapshot: &Snapshot, agents: u32, stats_file: Option<&mut std::fs::File>) {
    println!("{}", snapshot.progress_line(agents));
    if let Some(file) = stats_file {
        let written = serde_json::to_string(snapshot)
            .map_err(std::io::Error::other)
            .and_then(|line| writeln!(file, "{line}"));
        if let Err(error) = written {
            tracing::warn!(%error, "failed to append to the stats file");
        }
    }
}
