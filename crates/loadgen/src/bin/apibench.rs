//! `sysmanage-apibench`: measures the `SysManage` REST API of a server on this machine, for the
//! benchmark script: request latency per path, login rate, counts, waits and job fan-out.
//!
//! Every command runs for a bounded time and prints one JSON object on standard output.

// Request counts converted to f64 for rates stay far below 2^52.
#![allow(clippy::cast_precision_loss)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args as ClapArgs, Parser, Subcommand};
use hdrhistogram::Histogram;
use rand::Rng;
use serde_json::{Value, json};
use sysmanage_loadgen::api::{ApiClient, check_api_url};
use sysmanage_loadgen::stats::{LatencySummary, unix_ms};
use tokio::sync::Mutex;

/// Maximum run time of any command: one hour.
const MAX_RUN_SECS: u64 = 3600;

/// Measures the `SysManage` REST API of a server on this machine.
#[derive(Debug, Parser)]
#[command(name = "sysmanage-apibench", version, about)]
struct Cli {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, ClapArgs)]
struct Connection {
    /// Base URL of the API; the host must be a loopback address.
    #[arg(long, global = true, default_value = "http://127.0.0.1:8000")]
    api_url: String,
    /// User id to log in with.
    #[arg(long, global = true, default_value = "admin")]
    userid: String,
    /// Password of that user.
    #[arg(
        long,
        global = true,
        env = "SYSMANAGE_ADMIN_PASSWORD",
        hide_env_values = true,
        default_value = ""
    )]
    password: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sends GET requests from parallel logged-in clients and reports latency per path.
    Latency {
        /// Logged-in clients sending requests in parallel, each one request at a time.
        #[arg(long, default_value_t = 4)]
        clients: usize,
        /// Seconds to send requests for.
        #[arg(long, default_value_t = 30)]
        duration_secs: u64,
        /// Paths to request in turn; `{host_id}` is replaced by a random id from 1 to
        /// `--max-host-id`.
        #[arg(long = "path", required = true)]
        paths: Vec<String>,
        /// Largest host id substituted for `{host_id}`.
        #[arg(long, default_value_t = 1)]
        max_host_id: i64,
    },
    /// Logs in repeatedly from parallel clients and reports login latency and rate.
    Logins {
        #[arg(long, default_value_t = 2)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        duration_secs: u64,
    },
    /// Prints the `total` of a list endpoint, such as `/hosts?status=down&limit=1`.
    Count {
        #[arg(long)]
        path: String,
    },
    /// Polls the `total` of a list endpoint until it reaches a value, and reports when.
    Wait {
        #[arg(long)]
        path: String,
        /// Stop once the total is at least this value.
        #[arg(long)]
        at_least: u64,
        /// Milliseconds between two polls.
        #[arg(long, default_value_t = 200)]
        poll_ms: u64,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 120)]
        timeout_secs: u64,
    },
    /// Creates one install job for each of the first N hosts that are up, then waits until
    /// every job has a stored result.
    Fanout {
        /// Number of hosts to send a job to.
        #[arg(long)]
        hosts: usize,
        /// Parallel clients creating jobs.
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// Hosts per `POST /jobs` request; 0 creates each job with its own
        /// `POST /hosts/{id}/updates/install`.
        #[arg(long, default_value_t = 10_000)]
        batch_size: usize,
        /// Install request of every job, without `host_ids`.
        #[arg(long, default_value = r#"{"all":true}"#)]
        request: String,
        /// Give up waiting for results after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout_secs: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let base_url = check_api_url(&cli.connection.api_url)?;
    let connection = Connection {
        api_url: base_url,
        ..cli.connection
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_mins(1))
        .build()
        .context("failed to build the HTTP client")?;

    let output = match cli.command {
        Command::Latency {
            clients,
            duration_secs,
            paths,
            max_host_id,
        } => {
            latency(
                &http,
                &connection,
                clients,
                bounded(duration_secs)?,
                paths,
                max_host_id,
            )
            .await?
        }
        Command::Logins {
            clients,
            duration_secs,
        } => logins(&http, &connection, clients, bounded(duration_secs)?).await,
        Command::Count { path } => {
            let mut client = login(&http, &connection).await?;
            json!({ "path": path, "total": client.count(&path).await? })
        }
        Command::Wait {
            path,
            at_least,
            poll_ms,
            timeout_secs,
        } => {
            wait(
                &http,
                &connection,
                &path,
                at_least,
                Duration::from_millis(poll_ms.max(10)),
                bounded(timeout_secs)?,
            )
            .await?
        }
        Command::Fanout {
            hosts,
            clients,
            batch_size,
            request,
            timeout_secs,
        } => {
            let body: Value = serde_json::from_str(&request)
                .with_context(|| format!("--request {request:?} is not valid JSON"))?;
            fanout(
                &http,
                &connection,
                hosts,
                clients,
                batch_size,
                &body,
                bounded(timeout_secs)?,
            )
            .await?
        }
    };
    println!("{output}");
    Ok(())
}

fn bounded(secs: u64) -> anyhow::Result<Duration> {
    anyhow::ensure!(
        (1..=MAX_RUN_SECS).contains(&secs),
        "invalid duration {secs} s: expected 1 to {MAX_RUN_SECS} seconds"
    );
    Ok(Duration::from_secs(secs))
}

async fn login(http: &reqwest::Client, connection: &Connection) -> anyhow::Result<ApiClient> {
    ApiClient::login(
        http.clone(),
        &connection.api_url,
        &connection.userid,
        &connection.password,
    )
    .await
    .with_context(|| {
        format!(
            "failed to log in to {} as {:?} (set --password or SYSMANAGE_ADMIN_PASSWORD)",
            connection.api_url, connection.userid
        )
    })
}

fn new_histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, 60_000_000, 3) {
        Ok(histogram) => histogram,
        // Constant bounds that meet the constructor's conditions, so this arm never runs.
        Err(error) => unreachable!("invalid histogram bounds: {error:?}"),
    }
}

fn record(histogram: &mut Histogram<u64>, elapsed: Duration) {
    // Values are clamped into the histogram's range, so recording cannot fail.
    let _ = histogram.record((elapsed.as_micros() as u64).clamp(1, 60_000_000));
}

/// Latencies and errors of one measurement, shared by its clients.
#[derive(Default)]
struct Measurement {
    by_path: BTreeMap<String, Histogram<u64>>,
    errors: BTreeMap<String, u64>,
}

async fn latency(
    http: &reqwest::Client,
    connection: &Connection,
    clients: usize,
    duration: Duration,
    paths: Vec<String>,
    max_host_id: i64,
) -> anyhow::Result<Value> {
    let measurement = Arc::new(Mutex::new(Measurement::default()));
    let paths = Arc::new(paths);
    let deadline = Instant::now() + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients.max(1) {
        let mut client = login(http, connection).await?;
        let measurement = Arc::clone(&measurement);
        let paths = Arc::clone(&paths);
        tasks.spawn(async move {
            let mut turn = rand::rng().random_range(0..paths.len());
            while Instant::now() < deadline {
                turn = (turn + 1) % paths.len();
                let template = &paths[turn];
                let host_id = rand::rng().random_range(1..=max_host_id.max(1));
                let path = template.replace("{host_id}", &host_id.to_string());
                let result = client.get(&path).await;
                let mut measurement = measurement.lock().await;
                match result {
                    Ok((_, elapsed)) => {
                        let histogram = measurement
                            .by_path
                            .entry(template.clone())
                            .or_insert_with(new_histogram);
                        record(histogram, elapsed);
                    }
                    Err(error) => {
                        *measurement.errors.entry(error.kind()).or_insert(0) += 1;
                        drop(measurement);
                        if error.lost_token() && client.relogin().await.is_err() {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}

    let measurement = measurement.lock().await;
    let mut all = new_histogram();
    let mut by_path = serde_json::Map::new();
    for (path, histogram) in &measurement.by_path {
        let _ = all.add(histogram);
        by_path.insert(path.clone(), json!(LatencySummary::from_micros(histogram)));
    }
    let seconds = duration.as_secs_f64();
    Ok(json!({
        "clients": clients,
        "duration_secs": seconds,
        "requests": all.len(),
        "requests_per_sec": all.len() as f64 / seconds,
        "all": LatencySummary::from_micros(&all),
        "paths": by_path,
        "errors": measurement.errors,
    }))
}

async fn logins(
    http: &reqwest::Client,
    connection: &Connection,
    clients: usize,
    duration: Duration,
) -> Value {
    let measurement = Arc::new(Mutex::new(Measurement::default()));
    let deadline = Instant::now() + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients.max(1) {
        let measurement = Arc::clone(&measurement);
        let http = http.clone();
        let connection = Connection {
            api_url: connection.api_url.clone(),
            userid: connection.userid.clone(),
            password: connection.password.clone(),
        };
        tasks.spawn(async move {
            while Instant::now() < deadline {
                let started = Instant::now();
                let result = ApiClient::login(
                    http.clone(),
                    &connection.api_url,
                    &connection.userid,
                    &connection.password,
                )
                .await;
                let elapsed = started.elapsed();
                let mut measurement = measurement.lock().await;
                match result {
                    Ok(_) => record(
                        measurement
                            .by_path
                            .entry("/login".to_owned())
                            .or_insert_with(new_histogram),
                        elapsed,
                    ),
                    Err(error) => *measurement.errors.entry(error.kind()).or_insert(0) += 1,
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let measurement = measurement.lock().await;
    let histogram = measurement
        .by_path
        .get("/login")
        .cloned()
        .unwrap_or_else(new_histogram);
    json!({
        "clients": clients,
        "duration_secs": duration.as_secs_f64(),
        "logins": histogram.len(),
        "logins_per_sec": histogram.len() as f64 / duration.as_secs_f64(),
        "latency": LatencySummary::from_micros(&histogram),
        "errors": measurement.errors,
    })
}

async fn wait(
    http: &reqwest::Client,
    connection: &Connection,
    path: &str,
    at_least: u64,
    poll: Duration,
    timeout: Duration,
) -> anyhow::Result<Value> {
    let mut client = login(http, connection).await?;
    let started = Instant::now();
    let mut total = 0;
    let mut polls = 0;
    while started.elapsed() < timeout {
        polls += 1;
        match client.count(path).await {
            Ok(count) => {
                total = count;
                if total >= at_least {
                    return Ok(json!({
                        "path": path,
                        "reached": true,
                        "total": total,
                        "reached_unix_ms": unix_ms(),
                        "waited_secs": started.elapsed().as_secs_f64(),
                        "polls": polls,
                    }));
                }
            }
            Err(error) => {
                tracing::warn!(%error, "poll failed");
                if error.lost_token() {
                    client.relogin().await?;
                }
            }
        }
        tokio::time::sleep(poll).await;
    }
    Ok(json!({
        "path": path,
        "reached": false,
        "total": total,
        "waited_secs": started.elapsed().as_secs_f64(),
        "polls": polls,
    }))
}

async fn fanout(
    http: &reqwest::Client,
    connection: &Connection,
    hosts: usize,
    clients: usize,
    batch_size: usize,
    body: &Value,
    timeout: Duration,
) -> anyhow::Result<Value> {
    let mut lister = login(http, connection).await?;
    let host_ids = lister
        .list_ids("/hosts?status=up&approval=approved&sort=id", hosts)
        .await?;
    anyhow::ensure!(
        host_ids.len() == hosts,
        "only {} approved hosts are up, {hosts} requested",
        host_ids.len()
    );
    let finished_before = lister.count("/jobs?state=succeeded&limit=1").await?
        + lister.count("/jobs?state=failed&limit=1").await?;

    let started = Instant::now();
    let started_unix_ms = unix_ms();
    let measurement = Arc::new(Mutex::new(Measurement::default()));
    let created_jobs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Each request is one batch of hosts (or one host); clients take batches in turn.
    let batches: Vec<Vec<i64>> = host_ids
        .chunks(batch_size.max(1))
        .map(<[i64]>::to_vec)
        .collect();
    let per_client = batches.len().div_ceil(clients.max(1)).max(1);
    let mut tasks = tokio::task::JoinSet::new();
    for client_batches in batches.chunks(per_client) {
        let mut client = login(http, connection).await?;
        let client_batches = client_batches.to_vec();
        let body = body.clone();
        let measurement = Arc::clone(&measurement);
        let created_jobs = Arc::clone(&created_jobs);
        tasks.spawn(async move {
            for batch in client_batches {
                let result = if batch_size == 0 {
                    let host_id = batch[0];
                    client
                        .post(&format!("/hosts/{host_id}/updates/install"), &body)
                        .await
                        .map(|(_, elapsed)| (1, elapsed))
                } else {
                    let mut bulk = body.clone();
                    bulk["host_ids"] = json!(batch);
                    client.post("/jobs", &bulk).await.map(|(reply, elapsed)| {
                        let jobs = reply["jobs"].as_array().map_or(0, Vec::len);
                        (jobs, elapsed)
                    })
                };
                let mut measurement = measurement.lock().await;
                match result {
                    Ok((jobs, elapsed)) => {
                        created_jobs.fetch_add(jobs, std::sync::atomic::Ordering::Relaxed);
                        record(
                            measurement
                                .by_path
                                .entry("create".to_owned())
                                .or_insert_with(new_histogram),
                            elapsed,
                        );
                    }
                    Err(error) => {
                        *measurement.errors.entry(error.kind()).or_insert(0) += 1;
                        drop(measurement);
                        if error.lost_token() {
                            let _ = client.relogin().await;
                        }
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let created_secs = started.elapsed().as_secs_f64();
    let created = created_jobs.load(std::sync::atomic::Ordering::Relaxed) as u64;
    let (create_requests, create_latency, errors) = {
        let measurement = measurement.lock().await;
        let histogram = measurement
            .by_path
            .get("create")
            .cloned()
            .unwrap_or_else(new_histogram);
        (
            histogram.len(),
            LatencySummary::from_micros(&histogram),
            measurement.errors.clone(),
        )
    };

    let mut finished = 0;
    let mut all_stored_secs = None;
    while started.elapsed() < timeout {
        let succeeded = lister.count("/jobs?state=succeeded&limit=1").await?;
        let failed = lister.count("/jobs?state=failed&limit=1").await?;
        finished = (succeeded + failed).saturating_sub(finished_before);
        if finished >= created {
            all_stored_secs = Some(started.elapsed().as_secs_f64());
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(json!({
        "hosts": hosts,
        "clients": clients,
        "batch_size": batch_size,
        "create_requests": create_requests,
        "started_unix_ms": started_unix_ms,
        "jobs_created": created,
        "create_errors": errors,
        "created_secs": created_secs,
        "create_latency": create_latency,
        "results_stored": finished,
        "all_results_stored_secs": all_stored_secs,
    }))
}
