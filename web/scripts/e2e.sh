#!/usr/bin/env bash
# Runs the Playwright end-to-end tests in Debian's Chromium against the real sysmanage-server,
# sysmanage-agent and sysmanage-loadgen binaries (in $CARGO_TARGET_DIR/debug, by default
# target/debug, unless SYSMANAGE_SERVER_BIN / SYSMANAGE_AGENT_BIN / SYSMANAGE_LOADGEN_BIN are
# set). The server runs on SQLite in a temporary folder on a random loopback port, and real apt
# installs from the local test repository that tests/e2e/apt-repo.sh builds. The load generator
# adds simulated hosts for the bulk install. Needs root for dpkg, the Debian packages chromium,
# dpkg-dev and apt-utils, and a server built after `npm run build`.
set -euo pipefail
cd "$(dirname "$0")/.."
web_dir=$(pwd)
repo_dir=$(cd .. && pwd)

target_dir=${CARGO_TARGET_DIR:-$repo_dir/target}
server_bin=${SYSMANAGE_SERVER_BIN:-$target_dir/debug/sysmanage-server}
agent_bin=${SYSMANAGE_AGENT_BIN:-$target_dir/debug/sysmanage-agent}
loadgen_bin=${SYSMANAGE_LOADGEN_BIN:-$target_dir/debug/sysmanage-loadgen}
for binary in "$server_bin" "$agent_bin" "$loadgen_bin"; do
  if [[ ! -x $binary ]]; then
    echo "$binary not found: build it with 'cargo build --workspace' after 'npm run build' in web/" >&2
    exit 1
  fi
done
if [[ $(id -u) -ne 0 ]]; then
  echo "the end-to-end tests install test packages with dpkg and must run as root" >&2
  exit 1
fi

work=$(mktemp -d)
prefix="smui-$$"
server_pid=""
cleanup() {
  if [[ -n $server_pid ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  bash "$repo_dir/tests/e2e/apt-repo.sh" cleanup "$work/apt" "$prefix" || true
  rm -rf "$work"
}
trap cleanup EXIT

bash "$repo_dir/tests/e2e/apt-repo.sh" create "$work/apt" "$prefix"

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
url="http://127.0.0.1:$port"
export SYSMANAGE_ADMIN_PASSWORD="e2e admin password $$"
# Simulated hosts that present this key are approved on registration.
enrollment_key="e2e enrollment key $$"

(
  cd "$work"
  exec env -u SYSMANAGE_CONFIG \
    SYSMANAGE_DATA_DIR="$work/server" \
    SYSMANAGE_API_LISTEN="127.0.0.1:$port" \
    SYSMANAGE_AGENTS_HEARTBEAT_INTERVAL_SECS=1 \
    SYSMANAGE_AGENTS_HEARTBEAT_TIMEOUT_SECS=3 \
    SYSMANAGE_AGENTS_DISCONNECT_GRACE_SECS=1 \
    SYSMANAGE_AGENTS_LAST_SEEN_FLUSH_INTERVAL_MS=500 \
    SYSMANAGE_SECURITY_ENROLLMENT_KEY="$enrollment_key" \
    "$server_bin" >"$work/server.log" 2>&1
) &
server_pid=$!

for _ in $(seq 1 60); do
  curl -fsS "$url/health" >/dev/null 2>&1 && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "sysmanage-server exited early; its log:" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  sleep 0.5
done
if ! curl -fsS "$url/ui/" >/dev/null; then
  echo "$server_bin serves no web UI at /ui/: run 'npm run build' in web/, then rebuild the server" >&2
  exit 1
fi

mkdir -p "$repo_dir/docs/screenshots"
status=0
SYSMANAGE_URL="$url" \
  SYSMANAGE_AGENT_BIN="$agent_bin" \
  SYSMANAGE_LOADGEN_BIN="$loadgen_bin" \
  SYSMANAGE_E2E_ENROLLMENT_KEY="$enrollment_key" \
  SYSMANAGE_E2E_AGENT_STATE_DIR="$work/agent" \
  SYSMANAGE_E2E_APT_CONFIG="$work/apt/apt.conf" \
  SYSMANAGE_E2E_PACKAGE_PREFIX="$prefix" \
  npx playwright test "$@" || status=$?
if [[ $status -ne 0 ]]; then
  echo "== sysmanage-server log (last 80 lines)" >&2
  tail -n 80 "$work/server.log" >&2
fi
exit $status
