#!/usr/bin/env python3
"""SysManage benchmark suite: drives sysmanage-server with simulated agents and writes BENCHMARKS.md.

Started by bench/run after the release build. Standard library only. Every server, load generator
and API client it starts listens on or connects to loopback addresses, and every run is bounded by
a duration or a timeout.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "target" / "release"
SERVER = RELEASE / "sysmanage-server"
AGENT = RELEASE / "sysmanage-agent"
LOADGEN = RELEASE / "sysmanage-loadgen"
APIBENCH = RELEASE / "sysmanage-apibench"

ENROLLMENT_KEY = "bench-enrollment-key-0123456789abcdef"
ADMIN_PASSWORD = "bench-admin-password-0123"
POSTGRES_ADMIN = ["psql", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-v", "ON_ERROR_STOP=1"]
# Each load generator process stays below the limit of 20,000 open files per process.
AGENTS_PER_PROCESS = 9_500
# Seconds between the last agent connecting and the start of a measured hold.
SETTLE_SECS = 10
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def log(message):
    print(f"[{datetime.datetime.now():%H:%M:%S}] {message}", flush=True)


def unix_ms():
    return int(time.time() * 1000)


def read_proc(pid):
    """Returns (rss_bytes, cpu_seconds) of a process from /proc, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            fields = stat_file.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/statm") as statm_file:
            rss_pages = int(statm_file.read().split()[1])
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    # Fields after the command name start at field 3 (state); utime and stime are fields 14, 15.
    cpu_ticks = int(fields[11]) + int(fields[12])
    return rss_pages * PAGE_SIZE, cpu_ticks / CLOCK_TICKS


class Window:
    """CPU and memory of one process between two points in time."""

    def __init__(self, pid):
        self.pid = pid
        self.start_time = time.monotonic()
        sample = read_proc(pid) or (0, 0.0)
        self.start_cpu = sample[1]
        self.peak_rss = sample[0]

    def sample(self):
        current = read_proc(self.pid)
        if current:
            self.peak_rss = max(self.peak_rss, current[0])
        return current

    def finish(self):
        current = read_proc(self.pid) or (0, self.start_cpu)
        elapsed = time.monotonic() - self.start_time
        cpu = current[1] - self.start_cpu
        return {
            "seconds": round(elapsed, 1),
            "cpu_seconds": round(cpu, 2),
            "cpu_share_of_one_core": round(cpu / elapsed, 3) if elapsed > 0 else 0.0,
            "rss_bytes": current[0],
            "peak_rss_bytes": max(self.peak_rss, current[0]),
        }


def sleep_sampling(seconds, windows):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for window in windows:
            window.sample()
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def postgres_autovacuum_off():
    """Returns whether the local PostgreSQL server has autovacuum turned off."""
    shown = subprocess.run(POSTGRES_ADMIN + ["-At", "-c", "SHOW autovacuum"], check=True,
                           capture_output=True, text=True)
    return shown.stdout.strip() == "off"


class Server:
    """One sysmanage-server process on a loopback port with its own data folder and database."""

    def __init__(self, backend, port, work, heartbeat_secs):
        self.backend = backend
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"server-{backend}-", dir=work))
        self.log_path = self.data_dir / "server.log"
        self.database = None
        self.process = None
        self.heartbeat_secs = heartbeat_secs
        if backend == "postgres":
            self.database = f"sysmanage_bench_{os.getpid()}_{port}"
            subprocess.run(POSTGRES_ADMIN + ["-c", f"CREATE DATABASE {self.database}"],
                           check=True, capture_output=True)
            self.database_url = f"postgres://postgres@127.0.0.1:5432/{self.database}"
        else:
            self.database_url = f"sqlite://{self.data_dir / 'sysmanage.sqlite'}?mode=rwc"

    def environment(self):
        environment = dict(os.environ)
        environment.update({
            "SYSMANAGE_DATA_DIR": str(self.data_dir),
            "SYSMANAGE_API_LISTEN": f"127.0.0.1:{self.port}",
            "SYSMANAGE_DATABASE_URL": self.database_url,
            "SYSMANAGE_DATABASE_AUTO_MIGRATE": "true",
            "SYSMANAGE_SECURITY_ENROLLMENT_KEY": ENROLLMENT_KEY,
            "SYSMANAGE_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "SYSMANAGE_AGENTS_HEARTBEAT_INTERVAL_SECS": str(self.heartbeat_secs),
            "SYSMANAGE_LOG_LEVEL": "warn",
        })
        return environment

    def start(self):
        log_file = open(self.log_path, "a")
        self.process = subprocess.Popen([str(SERVER)], env=self.environment(), stdout=log_file,
                                        stderr=subprocess.STDOUT, cwd=self.data_dir)
        started = time.monotonic()
        while time.monotonic() - started < 60:
            if self.process.poll() is not None:
                raise RuntimeError(f"sysmanage-server exited at start; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"sysmanage-server did not answer /health within 60 s; see {self.log_path}")

    @property
    def pid(self):
        return self.process.pid

    def stop(self, timeout=45):
        """Sends SIGTERM, waits, and kills after `timeout` seconds. Returns the seconds taken."""
        if not self.process or self.process.poll() is not None:
            return 0.0
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return time.monotonic() - started

    def drop(self):
        self.stop()
        if self.database:
            subprocess.run(POSTGRES_ADMIN + ["-c", f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)"],
                           check=False, capture_output=True)

    def query(self, sql):
        """Runs one SQL query on the server's database and returns the rows as lists of strings."""
        if self.backend == "postgres":
            output = subprocess.run(POSTGRES_ADMIN + ["-d", self.database, "-At", "-F", "|", "-c", sql],
                                    check=True, capture_output=True, text=True).stdout
        else:
            output = subprocess.run(["sqlite3", "-separator", "|", str(self.data_dir / "sysmanage.sqlite"), sql],
                                    check=True, capture_output=True, text=True).stdout
        return [line.split("|") for line in output.splitlines() if line]

    def errors_in_log(self):
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return 0
        return sum(1 for line in text.splitlines() if "ERROR" in line)

    def last_errors(self, count=5):
        """Returns the last `count` ERROR lines of the server log, for a failed run's report."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return []
        return [line for line in text.splitlines() if "ERROR" in line][-count:]


class Fleet:
    """Load generator processes that together simulate `agents` agents."""

    # Every fleet started and not yet stopped. A scenario that fails leaves its fleet running, and
    # its agents would then reconnect to the next server on the same port; `stop_all` ends them.
    running = []

    def __init__(self, server, agents, work, name, heartbeat_secs=None, duration_secs=3600,
                 ramp_per_sec=500, job_delay_ms=2000, extra=()):
        Fleet.running.append(self)
        self.agents = agents
        self.processes = []
        self.stats_files = []
        self.summaries = []
        folder = Path(tempfile.mkdtemp(prefix=f"fleet-{name}-", dir=work))
        first = 0
        count = 0
        while first < agents:
            size = min(AGENTS_PER_PROCESS, agents - first)
            stats_file = folder / f"stats-{count}.jsonl"
            summary = folder / f"summary-{count}.json"
            command = [
                str(LOADGEN), "--server-url", f"ws://127.0.0.1:{server.port}",
                "--agents", str(size), "--first-index", str(first),
                "--ramp-per-sec", str(max(1, ramp_per_sec // max(1, (agents + AGENTS_PER_PROCESS - 1) // AGENTS_PER_PROCESS))),
                "--duration-secs", str(duration_secs), "--enrollment-key", ENROLLMENT_KEY,
                "--source-addresses", "4", "--report-secs", "1", "--job-delay-ms", str(job_delay_ms),
                "--stats-file", str(stats_file), "--json-summary", str(summary),
            ]
            if heartbeat_secs:
                command += ["--heartbeat-secs", str(heartbeat_secs)]
            command += list(extra)
            log_file = open(folder / f"loadgen-{count}.log", "w")
            self.processes.append(subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT,
                                                   env={**os.environ, "RUST_LOG": "warn"}))
            self.stats_files.append(stats_file)
            self.summaries.append(summary)
            first += size
            count += 1

    def snapshots(self):
        result = []
        for path in self.stats_files:
            try:
                lines = path.read_text().splitlines()
                result.append(json.loads(lines[-1]) if lines else {})
            except (FileNotFoundError, json.JSONDecodeError):
                result.append({})
        return result

    def total(self, field):
        return sum(snapshot.get(field, 0) for snapshot in self.snapshots())

    def wait_for(self, field, at_least, timeout, windows=()):
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.total(field) >= at_least:
                return time.monotonic() - started
            for window in windows:
                window.sample()
            time.sleep(0.5)
        return None

    @classmethod
    def stop_all(cls):
        for fleet in list(cls.running):
            fleet.stop()

    def stop(self):
        if self in Fleet.running:
            Fleet.running.remove(self)
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        results = []
        for path in self.summaries:
            try:
                results.append(json.loads(path.read_text()))
            except (FileNotFoundError, json.JSONDecodeError):
                results.append(None)
        return results

    def pids(self):
        return [process.pid for process in self.processes]


def apibench(server, *arguments, timeout=900):
    command = [str(APIBENCH), "--api-url", server.base_url, "--password", ADMIN_PASSWORD, *arguments]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments[:1])} failed: {completed.stderr.strip()[-500:]}")
    return json.loads(completed.stdout)


def count(server, path):
    return apibench(server, "count", "--path", path)["total"]


def merge_latency(summaries):
    """Combines the load generator summaries: totals, worst p99 and max, error counts."""
    valid = [summary["result"] for summary in summaries if summary]
    errors = {}
    for result in valid:
        for kind, number in result["errors"].items():
            errors[kind] = errors.get(kind, 0) + number
    return {
        "heartbeats_sent": sum(result["heartbeats_sent"] for result in valid),
        "heartbeats_acked": sum(result["heartbeats_acked"] for result in valid),
        "ack_p50_ms": max((result["ack_latency"]["p50_ms"] for result in valid), default=0),
        "ack_p99_ms": max((result["ack_latency"]["p99_ms"] for result in valid), default=0),
        "ack_max_ms": max((result["ack_latency"]["max_ms"] for result in valid), default=0),
        "reconnects": sum(result["reconnects"] for result in valid),
        "welcomes": sum(result["welcomes"] for result in valid),
        "jobs_received": sum(result["jobs_received"] for result in valid),
        "jobs_redelivered": sum(result["jobs_redelivered"] for result in valid),
        "jobs_redelivered_after_ack": sum(result["jobs_redelivered_after_ack"] for result in valid),
        "errors": errors,
    }


def hold_interval_p99(fleet, since_elapsed):
    """Returns the worst per-second heartbeat ack p99 seen after `since_elapsed` seconds.

    This is stricter than the p99 over the whole hold: one slow second decides it.
    """
    worst = 0.0
    for path in fleet.stats_files:
        try:
            for line in path.read_text().splitlines():
                snapshot = json.loads(line)
                if snapshot["elapsed_secs"] >= since_elapsed:
                    worst = max(worst, snapshot["interval_ack_latency"]["p99_ms"])
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            continue
    return worst


def loadgen_cpu(fleet, windows):
    return round(sum(window.finish()["cpu_share_of_one_core"] for window in windows), 3)


# ---------------------------------------------------------------------------------------------
# Scenarios. Each returns a dict of results; the report is written from these dicts.


def scenario_idle(server, work, agents, hold_secs, ramp):
    log(f"idle fleet: {agents} agents at {server.heartbeat_secs} s heartbeats, hold {hold_secs} s")
    baseline = read_proc(server.pid)[0]
    fleet = Fleet(server, agents, work, f"idle-{agents}", ramp_per_sec=ramp)
    connected_after = fleet.wait_for("connected", agents, timeout=agents / ramp * 4 + 120)
    # Registrations and first update reports are still being stored just after the last agent
    # connected; the hold measures the idle fleet after they settle.
    time.sleep(SETTLE_SECS)
    started = time.monotonic()
    elapsed_at_hold = max((snapshot.get("elapsed_secs", 0) for snapshot in fleet.snapshots()), default=0)
    window = Window(server.pid)
    loadgen_windows = [Window(pid) for pid in fleet.pids()]
    sleep_sampling(hold_secs, [window])
    hold = window.finish()
    down = count(server, "/hosts?status=down&limit=1")
    up = count(server, "/hosts?status=up&limit=1")
    interval_p99 = hold_interval_p99(fleet, elapsed_at_hold)
    loadgen_share = loadgen_cpu(fleet, loadgen_windows)
    summaries = fleet.stop()
    merged = merge_latency(summaries)
    connected = hold["rss_bytes"] - baseline
    return {
        "agents": agents,
        "connected_after_secs": None if connected_after is None else round(connected_after, 1),
        "hold_secs": round(time.monotonic() - started, 1),
        "baseline_rss_bytes": baseline,
        "rss_bytes": hold["rss_bytes"],
        "bytes_per_agent": round(connected / agents) if agents else 0,
        "cpu_share_of_one_core": hold["cpu_share_of_one_core"],
        "loadgen_cpu_share_of_one_core": loadgen_share,
        "hold_ack_p99_ms": interval_p99,
        "hosts_up": up,
        "hosts_down": down,
        **merged,
    }


def scenario_message_rate(server, work, agents, hold_secs, ramp):
    log(f"message rate: {agents} agents at 1 s heartbeats, hold {hold_secs} s")
    fleet = Fleet(server, agents, work, f"rate-{agents}", heartbeat_secs=1, ramp_per_sec=ramp)
    fleet.wait_for("connected", agents, timeout=agents / ramp * 4 + 120)
    time.sleep(SETTLE_SECS)
    elapsed_at_hold = max((snapshot.get("elapsed_secs", 0) for snapshot in fleet.snapshots()), default=0)
    sent_before = fleet.total("heartbeats_sent")
    window = Window(server.pid)
    loadgen_windows = [Window(pid) for pid in fleet.pids()]
    sleep_sampling(hold_secs, [window])
    hold = window.finish()
    sent = fleet.total("heartbeats_sent") - sent_before
    now = unix_ms()
    rows = server.query("SELECT COUNT(*), MIN(last_seen_at), MAX(last_seen_at) FROM hosts WHERE status = 'up'")
    up_hosts, oldest, newest = rows[0] if rows else (0, None, None)
    staleness_ms = now - int(oldest) if oldest else None
    interval_p99 = hold_interval_p99(fleet, elapsed_at_hold)
    loadgen_share = loadgen_cpu(fleet, loadgen_windows)
    merged = merge_latency(fleet.stop())
    flush_ms = 5000
    return {
        "agents": agents,
        "messages_per_sec": round(sent / hold["seconds"], 1),
        "cpu_share_of_one_core": hold["cpu_share_of_one_core"],
        "loadgen_cpu_share_of_one_core": loadgen_share,
        "rss_bytes": hold["rss_bytes"],
        "hold_ack_p99_ms": interval_p99,
        "up_hosts_in_database": int(up_hosts),
        "oldest_last_seen_age_ms": staleness_ms,
        # A host's last_seen_at may lag by one heartbeat interval (1 s + 10 % jitter) plus one
        # flush interval (5 s by default).
        "last_seen_within_flush": staleness_ms is not None and staleness_ms <= flush_ms + 1100 + 500,
        **merged,
    }


API_PATHS = [
    "/hosts?limit=50&sort=hostname",
    "/hosts?limit=50&sort=-last_seen_at&status=up",
    "/hosts?limit=50&hostname=loadgen-00&approval=approved",
    "/updates?limit=50",
    "/hosts/{host_id}",
    "/hosts/{host_id}/updates",
    "/hosts/{host_id}/events",
    "/jobs?host_id={host_id}",
]


def scenario_big_fleet(server, work, agents, hold_secs, ramp, api_secs, fanout_hosts, restart_jobs):
    """Idle point at the largest fleet, then API under load, fan-out and restart on it."""
    results = {}
    results["idle"] = None
    log(f"large fleet: {agents} agents")
    baseline = read_proc(server.pid)[0]
    fleet = Fleet(server, agents, work, f"large-{agents}", ramp_per_sec=ramp, job_delay_ms=2000)
    connected_after = fleet.wait_for("connected", agents, timeout=agents / ramp * 4 + 180)
    time.sleep(SETTLE_SECS)
    elapsed_at_hold = max((snapshot.get("elapsed_secs", 0) for snapshot in fleet.snapshots()), default=0)
    window = Window(server.pid)
    loadgen_windows = [Window(pid) for pid in fleet.pids()]
    sleep_sampling(hold_secs, [window])
    hold = window.finish()
    results["idle"] = {
        "agents": agents,
        "connected_after_secs": None if connected_after is None else round(connected_after, 1),
        "hold_secs": hold["seconds"],
        "baseline_rss_bytes": baseline,
        "rss_bytes": hold["rss_bytes"],
        "bytes_per_agent": round((hold["rss_bytes"] - baseline) / agents),
        "cpu_share_of_one_core": hold["cpu_share_of_one_core"],
        "loadgen_cpu_share_of_one_core": loadgen_cpu(fleet, loadgen_windows),
        "hold_ack_p99_ms": hold_interval_p99(fleet, elapsed_at_hold),
        "ack_p99_ms": max((snapshot.get("ack_latency", {}).get("p99_ms", 0) for snapshot in fleet.snapshots()), default=0),
        "hosts_up": count(server, "/hosts?status=up&limit=1"),
        "hosts_down": count(server, "/hosts?status=down&limit=1"),
        "connected_now": fleet.total("connected"),
    }

    if server.backend == "postgres" and postgres_autovacuum_off():
        # This machine's PostgreSQL runs with autovacuum off, unlike a default installation
        # (docs/database.md). Without statistics the planner scans whole tables. Without a
        # vacuum, the dead row versions that every last-seen flush leaves in `hosts` pile up.
        # So the API scenario runs after one VACUUM ANALYZE, as autovacuum would have done
        # after the connect wave.
        log("PostgreSQL autovacuum is off here: running VACUUM ANALYZE once before the API scenario")
        subprocess.run(POSTGRES_ADMIN + ["-d", server.database, "-c", "VACUUM ANALYZE"], check=True, capture_output=True)
        results["analyzed_before_api"] = True

    log(f"API under load: {api_secs} s with {agents} agents connected")
    window = Window(server.pid)
    api = apibench(server, "latency", "--clients", "4", "--duration-secs", str(api_secs),
                   "--max-host-id", str(agents), *[item for path in API_PATHS for item in ("--path", path)])
    logins = apibench(server, "logins", "--clients", "2", "--duration-secs", str(max(5, api_secs // 3)))
    api_window = window.finish()
    results["api"] = {"agents": agents, "latency": api, "logins": logins,
                      "cpu_share_of_one_core": api_window["cpu_share_of_one_core"]}

    log(f"fan-out: one install job to each of {fanout_hosts} hosts")
    received_before = fleet.total("jobs_received")
    window = Window(server.pid)
    fan = apibench(server, "fanout", "--hosts", str(fanout_hosts), "--clients", "1",
                   "--batch-size", str(fanout_hosts), "--timeout-secs", "300")
    fleet.wait_for("jobs_received", received_before + fanout_hosts, timeout=60)
    last_received = max(snapshot.get("last_job_received_ms", 0) for snapshot in fleet.snapshots())
    fan["jobs_received_by_agents"] = fleet.total("jobs_received") - received_before
    fan["all_agents_have_job_secs"] = round((last_received - fan["started_unix_ms"]) / 1000, 2) \
        if fan["jobs_received_by_agents"] >= fanout_hosts else None
    fan["cpu_share_of_one_core"] = window.finish()["cpu_share_of_one_core"]
    results["fanout"] = fan

    log(f"restart: {restart_jobs} jobs in flight, then restart the server with {agents} agents connected")
    succeeded_before = count(server, "/jobs?state=succeeded&limit=1")
    received_before = fleet.total("jobs_received")
    # Jobs created just before the restart are queued, sent or running when the server stops.
    apibench(server, "fanout", "--hosts", str(restart_jobs), "--clients", "1",
             "--batch-size", str(restart_jobs), "--timeout-secs", "1")
    stop_secs = server.stop()
    restart_started = time.monotonic()
    restart_ms = unix_ms()
    server.start()
    window = Window(server.pid)
    back_after = None
    while time.monotonic() - restart_started < 600:
        window.sample()
        snapshots = fleet.snapshots()
        welcomed_since = all(snapshot.get("last_welcome_ms", 0) > restart_ms for snapshot in snapshots)
        if welcomed_since and fleet.total("connected") >= agents:
            back_after = time.monotonic() - restart_started
            break
        time.sleep(0.5)
    up_after = None
    while time.monotonic() - restart_started < 600:
        window.sample()
        if count(server, "/hosts?status=up&limit=1") >= agents:
            up_after = time.monotonic() - restart_started
            break
        time.sleep(1)
    wave = window.finish()
    # Results of the in-flight jobs arrive after the job delay and the reconnect.
    deadline = time.monotonic() + 120
    succeeded = 0
    while time.monotonic() < deadline:
        succeeded = count(server, "/jobs?state=succeeded&limit=1") - succeeded_before
        if succeeded >= restart_jobs:
            break
        time.sleep(1)
    summaries = fleet.stop()
    merged = merge_latency(summaries)
    states = dict((row[0], int(row[1])) for row in server.query("SELECT state, COUNT(*) FROM jobs GROUP BY state"))
    results["restart"] = {
        "agents": agents,
        "server_stop_secs": round(stop_secs, 1),
        "all_reconnected_secs": None if back_after is None else round(back_after, 1),
        "all_up_secs": None if up_after is None else round(up_after, 1),
        "peak_cpu_share_of_one_core": wave["cpu_share_of_one_core"],
        "peak_rss_bytes": wave["peak_rss_bytes"],
        "jobs_in_flight": restart_jobs,
        "jobs_succeeded_after_restart": succeeded,
        "jobs_received_by_agents": merged["jobs_received"] - received_before,
        "jobs_redelivered_after_ack": merged["jobs_redelivered_after_ack"],
        "job_states": states,
        "loadgen": merged,
    }
    return results


def scenario_lost_connectivity(server, work, agents, lost, ramp, timeout_secs):
    log(f"lost connectivity: {lost} of {agents} agents go silent")
    churn_at = int(agents / ramp) + 20
    fleet = Fleet(server, agents, work, f"lost-{agents}", ramp_per_sec=ramp,
                  extra=["--churn-share", f"{lost / agents:.6f}", "--churn-at-secs", str(churn_at),
                         "--churn-mode", "silent"])
    fleet.wait_for("connected", agents, timeout=agents / ramp * 4 + 120)
    up_before = count(server, "/hosts?status=up&limit=1")
    # Hosts of earlier, larger fleets are already down; only new down hosts count.
    down_before = count(server, "/hosts?status=down&limit=1")
    fleet.wait_for("churn_stopped_ms", 1, timeout=churn_at + 60)
    stopped_ms = min(snapshot.get("churn_stopped_ms") or 10**15 for snapshot in fleet.snapshots())
    wait = apibench(server, "wait", "--path", "/hosts?status=down&limit=1", "--at-least", str(down_before + lost),
                    "--poll-ms", "200", "--timeout-secs", str(timeout_secs + 120))
    # Watch a little longer: no further host may go down.
    time.sleep(5)
    down_after = count(server, "/hosts?status=down&limit=1")
    up_after = count(server, "/hosts?status=up&limit=1")
    fleet.stop()
    detected_secs = (wait["reached_unix_ms"] - stopped_ms) / 1000 if wait.get("reached") else None
    return {
        "agents": agents,
        "stopped": lost,
        "heartbeat_timeout_secs": timeout_secs,
        "up_before": up_before,
        "all_down_after_secs": None if detected_secs is None else round(detected_secs, 1),
        "down_before": down_before,
        "down_after": down_after,
        "up_after": up_after,
        "other_hosts_changed": (up_before - up_after) - lost + (down_after - down_before - lost),
    }


def scenario_agent(server, work, idle_secs):
    log(f"agent footprint: real sysmanage-agent idle for {idle_secs} s")
    state_dir = Path(tempfile.mkdtemp(prefix="agent-", dir=work))
    environment = {**os.environ,
                   "SYSMANAGE_AGENT_SERVER_URL": server.base_url,
                   "SYSMANAGE_AGENT_ENROLLMENT_KEY": ENROLLMENT_KEY,
                   "SYSMANAGE_AGENT_STATE_DIR": str(state_dir),
                   # Refreshing the package lists would contact Debian mirrors; the benchmark
                   # only talks to loopback.
                   "SYSMANAGE_AGENT_APT_UPDATE_LISTS": "false"}
    started = time.monotonic()
    check = subprocess.run([str(AGENT), "check", "--json"], env=environment, capture_output=True,
                           text=True, timeout=600)
    check_secs = time.monotonic() - started
    log_file = open(state_dir / "agent.log", "w")
    process = subprocess.Popen([str(AGENT), "run"], env=environment, stdout=log_file,
                               stderr=subprocess.STDOUT)
    time.sleep(5)
    window = Window(process.pid)
    children_seen = set()
    deadline = time.monotonic() + idle_secs
    while time.monotonic() < deadline and process.poll() is None:
        window.sample()
        try:
            children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
            children_seen.update(children)
        except FileNotFoundError:
            pass
        time.sleep(0.5)
    idle = window.finish()
    total = read_proc(process.pid)
    exited = process.poll()
    if exited is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
    return {
        "idle_secs": idle_secs,
        "rss_bytes": idle["rss_bytes"],
        "peak_rss_bytes": idle["peak_rss_bytes"],
        "idle_cpu_seconds": idle["cpu_seconds"],
        "total_cpu_seconds": None if total is None else round(total[1], 2),
        "child_processes_seen": len(children_seen),
        "exited_early": exited is not None,
        "binary_bytes": AGENT.stat().st_size,
        "check_secs": round(check_secs, 2),
        "check_exit_code": check.returncode,
        "check_stderr_tail": check.stderr.strip()[-300:],
    }


# ---------------------------------------------------------------------------------------------
# Report


def mib(value):
    return f"{value / 1024 / 1024:.1f} MiB" if value is not None else "n/a"


def verdict(met):
    if met is None:
        return "not measured"
    return "met" if met else "**missed**"


def machine():
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {memory} memory, CPU {cpu}, {platform.system()} {platform.release()}"


def write_report(path, command, mode, parameters, results, started, finished):
    lines = [
        "# Benchmarks",
        "",
        "Server capacity and latency measured with simulated agents (`sysmanage-loadgen`) and the",
        "API client `sysmanage-apibench`. Load generators, API clients and the server share the",
        "machine, so the server's CPU share is measured from `/proc/PID/stat` of the server alone,",
        "and the load generators' own CPU is listed next to it.",
        "",
        f"- Command: `{command}`",
        f"- Mode: **{mode}**" + (" (small fleets and short holds; rerun `bench/run` for the full suite)" if mode == "quick" else ""),
        f"- Machine: {machine()}",
        f"- Date: {started:%Y-%m-%d %H:%M} to {finished:%H:%M} UTC",
        f"- Commit: `{git_commit()}`",
        f"- Parameters: {json.dumps(parameters)}",
        "",
    ]
    for backend, result in results.items():
        lines += report_backend(backend, result, parameters)
    lines += ["", "Raw results of this run are in `bench/results.json`.", ""]
    Path(path).write_text("\n".join(lines))


def report_backend(backend, result, parameters):
    if backend.startswith("_"):
        return report_agent(result) if backend == "_agent_footprint" else []
    lines = [f"## {backend}", ""]
    if "error" in result:
        lines += [f"The run on {backend} failed: `{result['error']}`", ""]
    idle = result.get("idle", [])
    if idle:
        lines += [
            "### 1. Idle fleet",
            "",
            f"Heartbeat every {parameters['heartbeat_secs']} s, hold {parameters['hold_secs']} s per point after all agents connected.",
            "",
            "| agents | connected after | server RSS | memory per agent | server CPU (share of one core) | load generator CPU | worst 1 s ack p99 in hold | ack p99 (whole run, with ramp) | hosts down |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for point in idle:
            lines.append(
                f"| {point['agents']:,} | {point.get('connected_after_secs')} s | {mib(point['rss_bytes'])} | "
                f"{point['bytes_per_agent'] / 1024:.1f} KiB | {point['cpu_share_of_one_core']:.3f} | "
                f"{point['loadgen_cpu_share_of_one_core']:.3f} | {point['hold_ack_p99_ms']:.1f} ms | "
                f"{point.get('ack_p99_ms', float('nan')):.1f} ms | {point['hosts_down']} |")
        largest = idle[-1]
        lines += [
            "",
            # Smaller fleets spread the server's fixed memory over fewer agents, so the verdict
            # reads the largest fleet. This is an average that the baseline, taken after earlier
            # fleets, lowers; `bench/memory-per-agent` measures the cost of one more agent.
            f"- Memory per connected agent < 10 KB: {verdict(largest['bytes_per_agent'] < 10_000)} "
            f"(largest fleet, average over the fleet: {largest['bytes_per_agent']:,} bytes per agent; "
            "`bench/memory-per-agent` measures the marginal cost)",
            f"- Heartbeat handling leaves most of one core free at the largest fleet: "
            f"{verdict(largest['cpu_share_of_one_core'] < 0.5)} ({largest['cpu_share_of_one_core']:.3f} of one core)",
            f"- No host wrongly marked down: {verdict(all(point['hosts_down'] == 0 for point in idle))}",
            "",
        ]
        errors = {}
        for point in idle:
            for kind, number in point.get("errors", {}).items():
                errors[kind] = errors.get(kind, 0) + number
        if errors:
            lines += [f"Agent-side errors during the idle runs: `{json.dumps(errors)}`", ""]
    rate = result.get("rate")
    if rate:
        lines += [
            "### 2. Message rate",
            "",
            f"{rate['agents']:,} agents at 1 s heartbeats: {rate['messages_per_sec']:,} heartbeats/s, server CPU "
            f"{rate['cpu_share_of_one_core']:.3f} of one core (load generators {rate['loadgen_cpu_share_of_one_core']:.3f}), "
            f"worst one-second ack p99 during the hold {rate['hold_ack_p99_ms']:.1f} ms (whole run p99 {rate['ack_p99_ms']:.1f} ms, max {rate['ack_max_ms']:.1f} ms).",
            f"Oldest `hosts.last_seen_at` of an up host was {rate['oldest_last_seen_age_ms']} ms old "
            f"({rate['up_hosts_in_database']:,} up hosts in the database).",
            "",
            f"- Heartbeat ack p99 < 50 ms at this rate (in every second of the hold): {verdict(rate['hold_ack_p99_ms'] < 50)}",
            f"- Last-seen times reach the database within one flush interval (5 s + one heartbeat): {verdict(rate['last_seen_within_flush'])}",
            "",
        ]
        if rate.get("errors"):
            lines += [f"Agent-side errors: `{json.dumps(rate['errors'])}`", ""]
    big = result.get("big", {})
    api = big.get("api")
    if api:
        latency = api["latency"]
        lines += [
            "### 3. API under load",
            "",
            f"{api['agents']:,} agents connected; 4 logged-in clients, each one request at a time with token rotation: "
            f"{latency['requests_per_sec']:.1f} requests/s, server CPU {api['cpu_share_of_one_core']:.3f} of one core."
            + (" PostgreSQL's autovacuum is off on this machine, so the suite ran `VACUUM ANALYZE` once before this scenario."
               if big.get("analyzed_before_api") else ""),
            "",
            "| path | requests | p50 | p99 | max |",
            "|---|---|---|---|---|",
        ]
        for path, summary in latency["paths"].items():
            lines.append(f"| `{path}` | {summary['count']} | {summary['p50_ms']:.1f} ms | {summary['p99_ms']:.1f} ms | {summary['max_ms']:.1f} ms |")
        logins = api["logins"]
        lines += [
            "",
            f"Logins: {logins['logins_per_sec']:.1f}/s from 2 clients, p50 {logins['latency']['p50_ms']:.1f} ms, p99 {logins['latency']['p99_ms']:.1f} ms. "
            f"Token rotations: one per request above ({latency['requests_per_sec']:.1f}/s).",
            f"Errors: `{json.dumps(latency['errors'])}` (requests), `{json.dumps(logins['errors'])}` (logins).",
            "",
            f"- API p99 < 100 ms with the fleet connected: {verdict(latency['all']['p99_ms'] < 100)} (all paths p99 {latency['all']['p99_ms']:.1f} ms)",
            "",
        ]
    fan = big.get("fanout")
    if fan:
        all_have = fan.get("all_agents_have_job_secs")
        lines += [
            "### 4. Fan-out",
            "",
            f"One install job (`{{\"all\": true}}`) to each of {fan['hosts']:,} hosts, created by one `POST /jobs` request: "
            f"created in {fan['created_secs']:.1f} s, "
            f"every agent had its job after {all_have} s, every result stored after {round(fan['all_results_stored_secs'], 1) if fan['all_results_stored_secs'] else None} s "
            f"(agents answer after a simulated 2 s install). Jobs received by agents: {fan['jobs_received_by_agents']:,}; "
            f"create errors: `{json.dumps(fan['create_errors'])}`.",
            "",
            f"- Fan-out of one job to {fan['hosts']:,} hosts < 5 s: {verdict(None if all_have is None else all_have < 5)}",
            "",
        ]
    restart = big.get("restart")
    if restart:
        lines += [
            "### 6. Restart",
            "",
            f"Server restarted (SIGTERM, then start on the same database) with {restart['agents']:,} agents connected and "
            f"{restart['jobs_in_flight']} install jobs just created. Stop took {restart['server_stop_secs']} s; "
            f"every agent reconnected after {restart['all_reconnected_secs']} s and every host was up after {restart['all_up_secs']} s "
            f"(from the start of the new process). Reconnect wave: server CPU {restart['peak_cpu_share_of_one_core']:.3f} of one core on average, "
            f"peak RSS {mib(restart['peak_rss_bytes'])}.",
            f"Jobs: {restart['jobs_succeeded_after_restart']} of {restart['jobs_in_flight']} succeeded, "
            f"{restart['jobs_redelivered_after_ack']} delivered again after their result was acknowledged; job states `{json.dumps(restart['job_states'])}`.",
            "",
            f"- No queued job lost or run twice: {verdict(restart['jobs_succeeded_after_restart'] >= restart['jobs_in_flight'] and restart['jobs_redelivered_after_ack'] == 0)}",
            "",
        ]
        if restart["loadgen"]["errors"]:
            lines += [f"Agent-side errors over the whole large-fleet run (`connection_error` counts the connections the restart closed): "
                      f"`{json.dumps(restart['loadgen']['errors'])}`", ""]
    lost = result.get("lost")
    if lost:
        detected = lost["all_down_after_secs"]
        target = lost["heartbeat_timeout_secs"] + 1
        lines += [
            "### 5. Lost connectivity",
            "",
            f"{lost['stopped']:,} of {lost['agents']:,} agents stop sending and reading at once (TCP stays open). "
            f"All were marked down after {detected} s (heartbeat timeout {lost['heartbeat_timeout_secs']} s). "
            f"Afterwards {lost['down_after'] - lost['down_before']:,} more hosts were down and {lost['up_after']:,} up "
            f"(before: {lost['up_before']:,} up; {lost['down_before']:,} hosts of earlier, larger fleets were already down).",
            "",
            f"- Down detection within timeout + 1 s ({target} s): {verdict(None if detected is None else detected <= target)}",
            f"- No other host changed state: {verdict(lost['other_hosts_changed'] == 0 if lost['other_hosts_changed'] is not None else None)}",
            "",
        ]
    return lines


def report_agent(agent):
    if not agent:
        return []
    if "error" in agent:
        return ["## 7. Agent footprint", "", f"Failed: `{agent['error']}`", ""]
    return [
        "## 7. Agent footprint",
        "",
        f"The real `sysmanage-agent` (release) connected to the SQLite server, idle for {agent['idle_secs']} s: "
        f"RSS {mib(agent['rss_bytes'])} (peak {mib(agent['peak_rss_bytes'])}), {agent['idle_cpu_seconds']} CPU seconds while idle, "
        f"{agent['child_processes_seen']} child processes seen; binary {mib(agent['binary_bytes'])}. "
        f"`sysmanage-agent check --json` (apt, package lists not refreshed) took {agent['check_secs']} s (exit code {agent['check_exit_code']}).",
        "",
        *([f"Its error output ended with: `{agent['check_stderr_tail']}`", ""] if agent.get("check_stderr_tail") else []),
        f"- Idle RSS < 10 MB: {verdict(agent['peak_rss_bytes'] < 10_000_000)}",
        f"- No child process per heartbeat: {verdict(agent['child_processes_seen'] == 0)} "
        "(children sampled every 0.5 s; periodic update scans do run apt)",
        f"- Release binary < 15 MB: {verdict(agent['binary_bytes'] < 15_000_000)}",
        "",
    ]


def git_commit():
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# ---------------------------------------------------------------------------------------------


def parse_arguments():
    parser = argparse.ArgumentParser(description="Run the SysManage benchmark suite and write BENCHMARKS.md.")
    parser.add_argument("--quick", action="store_true", help="small fleets and short holds (a few minutes per backend)")
    parser.add_argument("--skip-build", action="store_true", help="use the release binaries as built (bench/run only)")
    parser.add_argument("--backends", default="sqlite,postgres",
                        help="comma-separated: sqlite, postgres; empty runs only the agent footprint")
    parser.add_argument("--hold-secs", type=int, help="seconds each idle point is held (default 150, quick 20)")
    parser.add_argument("--agent-idle-mins", type=float, help="minutes the real agent idles (default 10, quick 1)")
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"), help="report file")
    parser.add_argument("--port", type=int, default=18600, help="first loopback port for servers")
    return parser.parse_args()


def main():
    arguments = parse_arguments()
    for binary in (SERVER, AGENT, LOADGEN, APIBENCH):
        if not binary.exists():
            sys.exit(f"missing {binary}: run bench/run without --skip-build")
    quick = arguments.quick
    parameters = {
        "idle_agents": [200, 1000] if quick else [1000, 5000],
        "large_fleet": 2000 if quick else 19000,
        "rate_agents": 1000 if quick else 10000,
        "fanout_hosts": 500 if quick else 10000,
        "restart_jobs": 100 if quick else 1000,
        "lost_fleet": 1000 if quick else 5000,
        "lost_agents": 100 if quick else 1000,
        "hold_secs": arguments.hold_secs or (20 if quick else 150),
        "rate_hold_secs": 15 if quick else 60,
        "api_secs": 10 if quick else 30,
        "ramp_per_sec": 500,
        "heartbeat_secs": 10 if quick else 30,
        "agent_idle_secs": int((arguments.agent_idle_mins or (1 if quick else 10)) * 60),
    }
    started = datetime.datetime.now(datetime.timezone.utc)
    work = Path(tempfile.mkdtemp(prefix="sysmanage-bench-"))
    log(f"work folder {work}")
    results = {}
    port = arguments.port
    ramp = parameters["ramp_per_sec"]
    agent_server = None
    for backend in [name.strip() for name in arguments.backends.split(",") if name.strip()]:
        result = results.setdefault(backend, {})
        server = Server(backend, port, work, parameters["heartbeat_secs"])
        port += 1
        try:
            server.start()
            log(f"{backend}: server started on {server.base_url}")
            result["idle"] = [scenario_idle(server, work, agents, parameters["hold_secs"], ramp)
                              for agents in parameters["idle_agents"]]
            result["rate"] = scenario_message_rate(server, work, parameters["rate_agents"],
                                                   parameters["rate_hold_secs"], ramp)
            big = scenario_big_fleet(server, work, parameters["large_fleet"], parameters["hold_secs"], ramp,
                                     parameters["api_secs"], parameters["fanout_hosts"], parameters["restart_jobs"])
            result["idle"].append(big.pop("idle"))
            result["big"] = big
            # Hosts of the large fleet go down after it stops; wait for that before counting.
            time.sleep(15)
            result["lost"] = scenario_lost_connectivity(server, work, parameters["lost_fleet"],
                                                        parameters["lost_agents"], ramp,
                                                        3 * parameters["heartbeat_secs"])
        except Exception as error:  # noqa: BLE001 - report the failure and go on to the next backend
            log(f"{backend}: failed: {error}")
            result["error"] = str(error)
        finally:
            Fleet.stop_all()
            result["server_log_errors"] = server.errors_in_log()
            if "error" in result:
                result["server_last_errors"] = server.last_errors()
            if backend == "sqlite" and server.process and server.process.poll() is None:
                agent_server = server
            else:
                server.drop()
        write_report(arguments.output, " ".join(["bench/run", *sys.argv[1:]]), "quick" if quick else "full",
                     parameters, results, started, datetime.datetime.now(datetime.timezone.utc))

    if agent_server is None:
        agent_server = Server("sqlite", port, work, parameters["heartbeat_secs"])
        agent_server.start()
    try:
        results["_agent_footprint"] = scenario_agent(agent_server, work, parameters["agent_idle_secs"])
    except Exception as error:  # noqa: BLE001
        results["_agent_footprint"] = {"error": str(error)}
    finally:
        agent_server.drop()

    finished = datetime.datetime.now(datetime.timezone.utc)
    (ROOT / "bench" / "results.json").write_text(json.dumps({"parameters": parameters, "results": results}, indent=2))
    write_report(arguments.output, " ".join(["bench/run", *sys.argv[1:]]), "quick" if quick else "full",
                 parameters, results, started, finished)
    log(f"wrote {arguments.output}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
