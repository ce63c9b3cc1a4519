#!/usr/bin/env bash
# mqbroker with its web view open in a browser, for scripts/bench.sh:
#
#   MQBROKER=scripts/mqbroker-web.sh scripts/bench.sh
#
# Takes "-p PORT" as bench.sh passes it, starts bin/mqbroker with an HTTP
# listener on 127.0.0.1:PORT+100 (WEB_PORT to choose another) and headless
# Chromium (CHROMIUM, default chromium) showing http://127.0.0.1:WEB_PORT/
# for as long as the broker runs: the page follows /api/live and refreshes
# its topic tree every second. WEB_PAGE opens another page instead
# (scripts/bench-web.sh's "blank" variant: WEB_PAGE=about:blank, the
# browser's cost without the view). BROKER_CPUS and BROWSER_CPUS (taskset
# CPU lists) pin the broker and the browser to CPUs of their own
# (bench-web.sh PIN=1). Stops both on SIGTERM/SIGINT.
set -euo pipefail
cd "$(dirname "$0")/.."
port=""
while [ $# -gt 0 ]; do
  case "$1" in
    -p) port=$2; shift 2 ;;
    *) echo "mqbroker-web.sh: unexpected argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$port" ] || { echo "usage: mqbroker-web.sh -p PORT" >&2; exit 2; }
web=${WEB_PORT:-$((port + 100))}
MQBROKER_BIN=${MQBROKER_BIN:-bin/mqbroker}
[ -x "$MQBROKER_BIN" ] || go build -trimpath -o bin/ ./cmd/mqbroker
profile=$(mktemp -d)
broker_pid=""
browser_pid=""
stop() {
  for pid in "$browser_pid" "$broker_pid"; do
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  done
  wait 2>/dev/null || true
  rm -rf "$profile"
}
trap 'stop; exit 0' TERM INT
trap stop EXIT
# pinned CPUS CMD...: CMD, on the CPUs CPUS when that is set (taskset
# execs CMD: the process ID is CMD's).
pinned() {
  local cpus=$1
  shift
  if [ -n "$cpus" ]; then exec taskset -c "$cpus" "$@"; else exec "$@"; fi
}
pinned "${BROKER_CPUS:-}" "$MQBROKER_BIN" -p "$port" --listen "http://127.0.0.1:$web" &
broker_pid=$!
for _ in $(seq 50); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$web") 2>/dev/null; then break; fi
  sleep 0.1
done
pinned "${BROWSER_CPUS:-}" "${CHROMIUM:-chromium}" --headless --no-sandbox --disable-gpu --user-data-dir="$profile" \
  --remote-debugging-port=0 "${WEB_PAGE:-http://127.0.0.1:$web/}" >/dev/null 2>&1 &
browser_pid=$!
wait "$broker_pid"
