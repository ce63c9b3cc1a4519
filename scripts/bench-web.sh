#!/usr/bin/env bash
# What the web view costs message routing (issue 15: at most 5 %):
# mqbroker alone against mqbroker with its web view open in headless
# Chromium (scripts/mqbroker-web.sh: the page follows /api/live, refreshes
# its topic tree every second and draws the rate charts), on bench.sh's
# routing scenarios, interleaved (plain, requests, web, then web,
# requests, plain, ...), a fresh broker (and browser) per repetition and
# only one broker running at a time.
#
# A third variant, "requests", tells the broker's cost of serving the page
# from the browser's cost of rendering it on the same (small) machine:
# bin/mqbench webview makes the page's requests (the live stream, the
# topic tree on each tick) without a browser. A fourth, "blank" (not run
# unless VARIANTS names it), is the same broker and browser with the
# browser on about:blank: what a browser's presence costs on this machine,
# whatever page it shows.
#
# PIN=1 gives the browser (or bin/mqbench webview) a CPU of its own: the
# broker and the load generator run on CPU 0, the browser on CPU 1, in
# every variant (plain too). On a small machine a browser's drawing
# competes with the broker for the CPUs whatever page it shows (the blank
# variant); pinned, what is left is what the view costs the broker.
#
# Prints the medians per variant and the ratios plain/web, plain/requests
# and plain/blank (bin/mqbench table; for msgs/s a ratio above 1.05
# breaks the bound, for latency one below 0.95).
#
#   scripts/bench-web.sh            # REPS=8, about 3 minutes
#   QUICK=1 scripts/bench-web.sh    # smoke run, REPS=2, small counts
#
# Environment: REPS, QUICK, PIN, VARIANTS (default "plain requests web", or
# any of plain, requests, blank, web; plain must be one), ONLY (only the scenarios whose name matches it, a regex:
# ONLY=latency VARIANTS="plain web" REPS=25 for the latency bound alone), MQB_PORT (default 21883; the web listener is
# on MQB_PORT+100), CHROMIUM (default chromium), OUT (results directory,
# scripts/out). Raw results stay in $OUT/bench-web-*.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

QUICK=${QUICK:-0}
read -r -a VARIANTS <<<"${VARIANTS:-plain requests web}"
PORT=${MQB_PORT:-21883}
WEB_PORT=$((PORT + 100))
OUT=${OUT:-scripts/out}
if [ "$QUICK" = 1 ]; then
  REPS=${REPS:-2}
  SCENARIOS=(
    "p2p-q0|p2p -q 0 --pubs 10 -s 64 -n 20000"
    "latency|latency -q 0 --rate 1000 -d 1s"
  )
else
  REPS=${REPS:-8}
  SCENARIOS=(
    "p2p-q0|p2p -q 0 --pubs 10 -s 64 -n 1000000"
    "p2p-q1|p2p -q 1 --pubs 10 -s 64 -n 300000"
    "fanout-q0|fanout -q 0 --subs 100 -s 64 -n 10000"
    "latency|latency -q 0 --rate 1000 -d 3s"
  )
fi

log() { printf '%s\n' "bench-web.sh: $*" >&2; }
die() { log "$*"; exit 1; }
command -v "${CHROMIUM:-chromium}" >/dev/null 2>&1 || die "chromium not found (apt-get install chromium, or set CHROMIUM)"
command -v jq >/dev/null 2>&1 || die "jq not found (apt-get install jq)"
case " ${VARIANTS[*]} " in *" plain "*) ;; *) die "VARIANTS must include plain (the ratios are against it)" ;; esac
for v in "${VARIANTS[@]}"; do
  case $v in plain | requests | blank | web) ;; *) die "unknown variant $v (plain, requests, blank, web)" ;; esac
done

# PIN=1: CPU 0 for the broker and the load, CPU 1 for the browser.
# ON_BROKER and ON_BROWSER prefix the commands (taskset execs the command,
# so a PID from $! is the command's).
BROKER_CPUS='' BROWSER_CPUS='' ON_BROKER=() ON_BROWSER=()
if [ "${PIN:-0}" = 1 ]; then
  command -v taskset >/dev/null 2>&1 || die "PIN=1 needs taskset (apt-get install util-linux)"
  [ "$(nproc)" -ge 2 ] || die "PIN=1 needs two CPUs"
  BROKER_CPUS=0 BROWSER_CPUS=1
  ON_BROKER=(taskset -c 0) ON_BROWSER=(taskset -c 1)
fi

mkdir -p bin "$OUT"
log "building bin/mqbroker and bin/mqbench"
go build -trimpath -o bin/ ./cmd/mqbroker ./cmd/mqbench

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$PORT" "$WEB_PORT"; do
  port_busy "$p" && die "port $p is already in use (set MQB_PORT)"
done

PID=        # what was started: bin/mqbroker, or scripts/mqbroker-web.sh
BROKER_PID= # the broker process itself (for mqbench --pid)
FOLLOW_PID= # requests: bin/mqbench webview
stop_broker() {
  if [ -n "$FOLLOW_PID" ]; then
    kill -TERM "$FOLLOW_PID" 2>/dev/null || true
    wait "$FOLLOW_PID" 2>/dev/null || true
    FOLLOW_PID=''
  fi
  [ -n "$PID" ] || return 0
  kill -TERM "$PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID='' BROKER_PID=''
}
trap stop_broker EXIT
trap 'exit 130' INT TERM

# start VARIANT: plain (bin/mqbroker), requests (bin/mqbroker with its
# web listener and bin/mqbench webview following it), web
# (scripts/mqbroker-web.sh) or blank (the same on about:blank), ready once
# the page (or mqbench) follows the live view and the browser is quiet.
start() {
  if [ "$1" = plain ]; then
    "${ON_BROKER[@]}" bin/mqbroker -p "$PORT" >"$OUT/mqbroker.log" 2>&1 &
    PID=$!
    BROKER_PID=$PID
  elif [ "$1" = requests ]; then
    "${ON_BROKER[@]}" bin/mqbroker -p "$PORT" --listen "http://127.0.0.1:$WEB_PORT" >"$OUT/mqbroker.log" 2>&1 &
    PID=$!
    BROKER_PID=$PID
    for _ in $(seq 50); do port_busy "$WEB_PORT" && break; sleep 0.1; done
    "${ON_BROWSER[@]}" bin/mqbench webview "http://127.0.0.1:$WEB_PORT" >>"$OUT/mqbroker.log" 2>&1 &
    FOLLOW_PID=$!
  else
    local page=""
    [ "$1" = web ] || page=about:blank
    MQBROKER_BIN=bin/mqbroker WEB_PORT=$WEB_PORT WEB_PAGE=$page BROKER_CPUS=$BROKER_CPUS BROWSER_CPUS=$BROWSER_CPUS scripts/mqbroker-web.sh -p "$PORT" >"$OUT/mqbroker.log" 2>&1 &
    PID=$!
  fi
  for _ in $(seq 50); do
    port_busy "$PORT" && break
    kill -0 "$PID" 2>/dev/null || die "the broker exited; see $OUT/mqbroker.log"
    sleep 0.1
  done
  port_busy "$PORT" || die "the broker does not accept connections; see $OUT/mqbroker.log"
  [ "$1" != plain ] || return 0
  if [ "$1" = web ] || [ "$1" = blank ]; then
    BROKER_PID=$(pgrep -P "$PID" -x mqbroker || true)
    [ -n "$BROKER_PID" ] || die "no mqbroker process under scripts/mqbroker-web.sh ($PID)"
  fi
  if [ "$1" = blank ]; then
    browser_up || die "no browser under scripts/mqbroker-web.sh within 15 s"
    settle
    return 0
  fi
  # The browser (or mqbench) is attached when it follows the live stream.
  local attached=0
  for _ in $(seq 150); do
    if curl -fsS "http://127.0.0.1:$WEB_PORT/metrics" 2>/dev/null | grep -qx 'mqbroker_web_live_streams [1-9][0-9]*'; then
      attached=1
      break
    fi
    sleep 0.1
  done
  [ "$attached" = 1 ] || die "the $1 variant did not open the web view within 15 s"
  [ "$1" = requests ] || settle
}

# browser_up waits (up to 15 s) until a process other than the broker runs
# under scripts/mqbroker-web.sh: the browser.
browser_up() {
  for _ in $(seq 150); do
    browser_running && return 0
    sleep 0.1
  done
  return 1
}

# browser_running: a process other than the broker runs under PID. (The
# list is read whole first: with pipefail, grep -q closing the pipe early
# would fail the pipeline.)
browser_running() {
  local procs
  procs=$(descendants "$PID")
  grep -qvx "$BROKER_PID" <<<"$procs"
}

# check_pins VARIANT: with PIN=1, dies unless the broker runs on CPU 0
# and the browser's processes (or bin/mqbench webview) on CPU 1.
check_pins() {
  [ -n "$BROKER_CPUS" ] || return 0
  local others="" p cpus
  case $1 in
    requests) others=$FOLLOW_PID ;;
    blank | web) others=$(descendants "$PID" | grep -vx "$BROKER_PID" || true) ;;
  esac
  cpus=$(affinity "$BROKER_PID")
  [ "$cpus" = "$BROKER_CPUS" ] || die "PIN=1: the broker ($BROKER_PID) runs on CPUs '$cpus', want $BROKER_CPUS"
  for p in $others; do
    cpus=$(affinity "$p")
    [ -z "$cpus" ] || [ "$cpus" = "$BROWSER_CPUS" ] || die "PIN=1: the $1 variant's process $p runs on CPUs '$cpus', want $BROWSER_CPUS"
  done
}

# affinity PID: the CPUs PID may run on (taskset's list), empty once it
# has exited.
affinity() { taskset -cp "$1" 2>/dev/null | sed 's/.*: //' || true; }

# descendants PID: the processes under PID, recursively.
descendants() {
  local c
  for c in $(pgrep -P "$1" || true); do
    echo "$c"
    descendants "$c"
  done
}

# cpu_ticks PID...: their user+system CPU time in clock ticks.
cpu_ticks() {
  local p sum=0 t
  for p in "$@"; do
    t=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
    sum=$((sum + t))
  done
  echo "$sum"
}

# settle waits until the browser has finished loading the page: its
# processes used at most 5 % of one CPU over half a second (bounded by
# 20 s). A starting Chromium takes about 60 % of a CPU for its first half
# second after the page connects; measured then, the first scenario would
# time the browser's start, not the view's cost while it is open.
settle() {
  local hz procs before after
  hz=$(getconf CLK_TCK)
  for _ in $(seq 40); do
    procs=$(descendants "$PID" | grep -vx "$BROKER_PID" || true)
    # shellcheck disable=SC2086 # one PID per word
    before=$(cpu_ticks $procs)
    sleep 0.5
    # shellcheck disable=SC2086
    after=$(cpu_ticks $procs)
    if [ $(((after - before) * 100)) -le $((hz * 5 / 2)) ]; then
      return 0
    fi
  done
  log "the browser still used more than 5 % of a CPU after 20 s; measuring anyway"
}

RESULTS="$OUT/bench-web-$(date +%Y%m%d-%H%M%S).jsonl"
: >"$RESULTS"
log "results: $RESULTS (REPS=$REPS QUICK=$QUICK PIN=${PIN:-0})"
START=$SECONDS
for rep in $(seq "$REPS"); do
  order=("${VARIANTS[@]}")
  if [ $((rep % 2)) = 0 ]; then
    for ((i = 0; i < ${#VARIANTS[@]}; i++)); do order[i]=${VARIANTS[${#VARIANTS[@]} - 1 - i]}; done
  fi
  for variant in "${order[@]}"; do
    start "$variant"
    check_pins "$variant"
    label=mqbroker
    [ "$variant" = plain ] || label=mqbroker+$variant
    for entry in "${SCENARIOS[@]}"; do
      name=${entry%%|*}
      [[ $name =~ ${ONLY:-.} ]] || continue
      read -r -a args <<<"${entry#*|}"
      log "[rep $rep/$REPS] $name on $label"
      "${ON_BROKER[@]}" timeout -k 5 120 bin/mqbench --json --no-progress -p "$PORT" --pid "$BROKER_PID" \
        --label "$label" --stall 3s "${args[@]}" >>"$RESULTS" || log "  $name on $label failed"
    done
    if [ "$variant" = blank ] && ! browser_running; then
      die "the browser of the blank variant exited during the runs"
    fi
    if [ "$variant" != plain ] && [ "$variant" != blank ] && ! curl -fsS "http://127.0.0.1:$WEB_PORT/metrics" | grep -qx 'mqbroker_web_live_streams [1-9][0-9]*'; then
      die "the $variant variant left the web view during the runs"
    fi
    stop_broker
  done
done
echo
for variant in "${VARIANTS[@]}"; do
  [ "$variant" != plain ] || continue
  echo
  case $variant in
    web) echo "mqbroker vs mqbroker with a browser on its web view, $REPS repetition(s), interleaved; medians (QUICK=$QUICK PIN=${PIN:-0})" ;;
    requests) echo "mqbroker vs mqbroker serving its web view's requests (bin/mqbench webview, no browser), $REPS repetition(s), interleaved; medians (QUICK=$QUICK PIN=${PIN:-0})" ;;
    blank) echo "mqbroker vs mqbroker with its web listener and a browser on about:blank (not the view), $REPS repetition(s), interleaved; medians (QUICK=$QUICK PIN=${PIN:-0})" ;;
  esac
  pair=$(mktemp)
  jq -c --arg l "mqbroker+$variant" 'select(.label == "mqbroker" or .label == $l)' "$RESULTS" >"$pair"
  bin/mqbench table "$pair"
  rm -f "$pair"
done
{
  # Broker CPU time per message received by the subscribers (from
  # mqbench's cpu_pct of the broker process and the run's duration): what
  # routing costs the broker, less sensitive than msgs/s to what else the
  # machine runs.
  echo
  echo "broker CPU per message delivered (µs), medians"
  jq -rs '
    def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
    map(select(.broker.cpu_pct != null and .received > 0)
      | {k: "\(.scenario) q\(.qos)", label: .label, v: (.broker.cpu_pct / 100 * .elapsed_s * 1e6 / .received)})
    | group_by(.k) | .[]
    | (map(select(.label == "mqbroker").v) | median) as $a
    | . as $runs
    | "\(.[0].k)\tmqbroker \($a * 1000 | round / 1000)"
      + ([("requests", "blank", "web") as $v
          | ($runs | map(select(.label == "mqbroker+" + $v).v)) as $vs
          | select($vs | length > 0)
          | ($vs | median) as $m
          | "\t\($v) \($m * 1000 | round / 1000)\t\($v)/plain \($m / $a * 1000 | round / 1000)"] | add // "")
  ' "$RESULTS" | column -t -s "$(printf '\t')"
}
echo
echo "raw results: $RESULTS (elapsed $((SECONDS - START))s)"
