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
# topic tree on each tick) without a browser.
#
# Prints the medians per variant and the ratios plain/web and
# plain/requests (bin/mqbench table; for msgs/s a ratio above 1.05 breaks
# the bound, for latency one below 0.95).
#
#   scripts/bench-web.sh            # REPS=8, about 3 minutes
#   QUICK=1 scripts/bench-web.sh    # smoke run, REPS=2, small counts
#
# Environment: REPS, QUICK, VARIANTS (default "plain requests web"; plain
# must be one), ONLY (only the scenarios whose name matches it, a regex:
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
  case $v in plain | requests | web) ;; *) die "unknown variant $v (plain, requests, web)" ;; esac
done

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
# web listener and bin/mqbench webview following it) or web
# (scripts/mqbroker-web.sh), ready once the page (or mqbench) follows the
# live view.
start() {
  if [ "$1" = plain ]; then
    bin/mqbroker -p "$PORT" >"$OUT/mqbroker.log" 2>&1 &
    PID=$!
    BROKER_PID=$PID
  elif [ "$1" = requests ]; then
    bin/mqbroker -p "$PORT" --listen "http://127.0.0.1:$WEB_PORT" >"$OUT/mqbroker.log" 2>&1 &
    PID=$!
    BROKER_PID=$PID
    for _ in $(seq 50); do port_busy "$WEB_PORT" && break; sleep 0.1; done
    bin/mqbench webview "http://127.0.0.1:$WEB_PORT" >>"$OUT/mqbroker.log" 2>&1 &
    FOLLOW_PID=$!
  else
    MQBROKER_BIN=bin/mqbroker WEB_PORT=$WEB_PORT scripts/mqbroker-web.sh -p "$PORT" >"$OUT/mqbroker.log" 2>&1 &
    PID=$!
  fi
  for _ in $(seq 50); do
    port_busy "$PORT" && break
    kill -0 "$PID" 2>/dev/null || die "the broker exited; see $OUT/mqbroker.log"
    sleep 0.1
  done
  port_busy "$PORT" || die "the broker does not accept connections; see $OUT/mqbroker.log"
  [ "$1" != plain ] || return 0
  if [ "$1" = web ]; then
    BROKER_PID=$(pgrep -P "$PID" -x mqbroker || true)
    [ -n "$BROKER_PID" ] || die "no mqbroker process under scripts/mqbroker-web.sh ($PID)"
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
log "results: $RESULTS (REPS=$REPS QUICK=$QUICK)"
START=$SECONDS
for rep in $(seq "$REPS"); do
  order=("${VARIANTS[@]}")
  if [ $((rep % 2)) = 0 ]; then
    for ((i = 0; i < ${#VARIANTS[@]}; i++)); do order[i]=${VARIANTS[${#VARIANTS[@]} - 1 - i]}; done
  fi
  for variant in "${order[@]}"; do
    start "$variant"
    label=mqbroker
    [ "$variant" = plain ] || label=mqbroker+$variant
    for entry in "${SCENARIOS[@]}"; do
      name=${entry%%|*}
      [[ $name =~ ${ONLY:-.} ]] || continue
      read -r -a args <<<"${entry#*|}"
      log "[rep $rep/$REPS] $name on $label"
      timeout -k 5 120 bin/mqbench --json --no-progress -p "$PORT" --pid "$BROKER_PID" \
        --label "$label" --stall 3s "${args[@]}" >>"$RESULTS" || log "  $name on $label failed"
    done
    if [ "$variant" != plain ] && ! curl -fsS "http://127.0.0.1:$WEB_PORT/metrics" | grep -qx 'mqbroker_web_live_streams [1-9][0-9]*'; then
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
    web) echo "mqbroker vs mqbroker with a browser on its web view, $REPS repetition(s), interleaved; medians (QUICK=$QUICK)" ;;
    requests) echo "mqbroker vs mqbroker serving its web view's requests (bin/mqbench webview, no browser), $REPS repetition(s), interleaved; medians (QUICK=$QUICK)" ;;
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
    | (map(select(.label == "mqbroker+requests").v) | if length > 0 then median else null end) as $r
    | (map(select(.label == "mqbroker+web").v) | if length > 0 then median else null end) as $b
    | "\(.[0].k)\tmqbroker \($a * 1000 | round / 1000)"
      + (if $r then "\trequests \($r * 1000 | round / 1000)\trequests/plain \($r / $a * 1000 | round / 1000)" else "" end)
      + (if $b then "\tweb \($b * 1000 | round / 1000)\tweb/plain \($b / $a * 1000 | round / 1000)" else "" end)
  ' "$RESULTS" | column -t -s "$(printf '\t')"
}
echo
echo "raw results: $RESULTS (elapsed $((SECONDS - START))s)"
