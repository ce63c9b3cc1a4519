#!/usr/bin/env bash
# Side-by-side benchmark: mqbroker against mosquitto on this machine.
#
# Builds bin/mqbroker and bin/mqbench, starts both brokers on loopback,
# runs every scenario against each broker INTERLEAVED (mqbroker, mosquitto,
# mqbroker, mosquitto, ...) for REPS repetitions, and prints the medians per
# broker and the ratio mqbroker/mosquitto per scenario (bin/mqbench table).
#
#   scripts/bench.sh              # full run, REPS=3 (about 10 minutes)
#   QUICK=1 scripts/bench.sh      # smoke run, well under 60 s
#   REPS=5 scripts/bench.sh       # more repetitions
#   ONLY=slow PERSIST=0 scripts/bench.sh   # only the scenarios whose name matches ONLY (a regex)
#
# A second table compares mqbroker --data with mqbroker in memory, with
# durable subscribers (PERSIST=0 skips it).
#
# Environment: REPS, QUICK, PERSIST, ONLY, MQB_PORT (default 21883), MOSQ_PORT (21884),
# STALL (mqbench --stall: how long a blocked publisher or stopped deliveries
# end a run; 1s with QUICK=1, else 3s),
# MOSQUITTO (the mosquitto binary), MQBROKER (the broker under test,
# default bin/mqbroker, built here; anything taking -p PORT), MAX_SECONDS (overall budget; runs that
# would start after it are skipped), OUT (results directory, scripts/out).
# Raw results stay in $OUT/bench-*.jsonl (one mqbench --json result a line).
#
# The brokers are restarted before every repetition and the idle scenario
# runs first, on fresh processes: an allocator keeps the memory of an
# earlier run, which would make RSS per connection read as zero. Every
# scenario whose name starts with "idle" gets fresh brokers for the same
# reason (idle-pub: the idle connections each publish one QoS 1 message
# a second, issue 17's second memory figure).
#
# Exits 0 once the table is printed, whatever the figures; non-zero only
# when something could not run (build failure, a broker that does not
# start).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then REPS=${REPS:-1}; else REPS=${REPS:-3}; fi
MQB_PORT=${MQB_PORT:-21883}
MOSQ_PORT=${MOSQ_PORT:-21884}
MOSQUITTO=${MOSQUITTO:-mosquitto}
MQBROKER=${MQBROKER:-bin/mqbroker}
OUT=${OUT:-scripts/out}

if [ "$QUICK" = 1 ]; then
  MAX_SECONDS=${MAX_SECONDS:-55}
  RUN_TIMEOUT=20
  COMMON=(--stall "${STALL:-1s}")
  SCENARIOS=(
    "idle|idle -c 1000 --hold 1s"
    "idle-pub|idle -c 1000 --hold 1s -q 1 --rate-per-conn 1"
    "p2p-q0|p2p -q 0 --pubs 10 -s 64 -n 20000"
    "p2p-q1|p2p -q 1 --pubs 10 -s 64 -n 20000"
    "p2p-q2|p2p -q 2 --pubs 10 -s 64 -n 20000"
    "fanout-q0|fanout -q 0 --subs 100 -s 64 -n 1000"
    "fanout-q1|fanout -q 1 --subs 100 -s 64 -n 1000"
    "latency|latency -q 0 --rate 1000 -d 2s"
    "slow|slow -q 0 -d 1s --pause 500ms --drain 100ms"
  )
  PERSIST_SCENARIOS=("p2p-q1-durable|p2p -q 1 --pubs 10 -s 64 -n 20000 --durable")
else
  MAX_SECONDS=${MAX_SECONDS:-1800}
  RUN_TIMEOUT=150
  COMMON=(--stall "${STALL:-3s}")
  SCENARIOS=(
    "idle|idle -c 10000 --hold 3s"
    "idle-pub|idle -c 10000 --hold 3s -q 1 --rate-per-conn 1"
    "p2p-q0|p2p -q 0 --pubs 10 -s 64 -n 200000"
    "p2p-q1|p2p -q 1 --pubs 10 -s 64 -n 200000"
    "p2p-q2|p2p -q 2 --pubs 10 -s 64 -n 200000"
    "fanout-q0|fanout -q 0 --subs 100 -s 64 -n 10000"
    "fanout-q1|fanout -q 1 --subs 100 -s 64 -n 10000"
    "latency|latency -q 0 --rate 1000 -d 10s"
    "slow|slow -q 0 -d 10s --pause 2.3s --drain 200ms"
  )
  PERSIST_SCENARIOS=(
    "p2p-q1-durable|p2p -q 1 --pubs 10 -s 64 -n 200000 --durable"
    "p2p-q1-durable-1|p2p -q 1 --pubs 1 -s 64 -n 100000 --durable"
  )
fi

log() { printf '%s\n' "bench.sh: $*" >&2; }
die() { log "$*"; exit 1; }

command -v "$MOSQUITTO" >/dev/null 2>&1 ||
  die "mosquitto not found (apt-get install mosquitto, or set MOSQUITTO=/path/to/mosquitto)"

# Each idle connection is a file descriptor in the broker and in mqbench.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 10100 ]; then
  log "warning: file descriptor limit $(ulimit -n) is below 10100; the idle scenario will refuse 10000 connections"
fi

mkdir -p bin "$OUT"
if [ "$MQBROKER" = bin/mqbroker ]; then
  log "building bin/mqbroker and bin/mqbench"
  go build -trimpath -o bin/ ./cmd/mqbroker ./cmd/mqbench
else
  log "building bin/mqbench (broker under test: $MQBROKER)"
  go build -trimpath -o bin/ ./cmd/mqbench
fi

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$MQB_PORT" "$MOSQ_PORT"; do
  port_busy "$p" && die "port $p is already in use (set MQB_PORT / MOSQ_PORT)"
done

MQB_PID=
MOSQ_PID=
stop_brokers() {
  local pid
  for pid in "$MQB_PID" "$MOSQ_PID"; do
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  MQB_PID='' MOSQ_PID=''
}
trap stop_brokers EXIT
trap 'exit 130' INT TERM

# wait_port NAME PID PORT LOG: wait up to 5 s for the broker to accept.
wait_port() {
  local name=$1 pid=$2 port=$3 logf=$4
  for _ in $(seq 50); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited during start-up; its output ($logf):"
      sed 's/^/  | /' "$logf" >&2
      return 1
    fi
    port_busy "$port" && return 0
    sleep 0.1
  done
  log "$name did not accept connections on 127.0.0.1:$port within 5 s; its output ($logf):"
  sed 's/^/  | /' "$logf" >&2
  return 1
}

start_brokers() {
  "$MQBROKER" -p "$MQB_PORT" >"$OUT/mqbroker.log" 2>&1 &
  MQB_PID=$!
  wait_port mqbroker "$MQB_PID" "$MQB_PORT" "$OUT/mqbroker.log" ||
    die "mqbroker is not usable yet: '$MQBROKER -p $MQB_PORT' must start a broker with its default configuration on 127.0.0.1"
  # With -p and no configuration file mosquitto 2.0 listens on loopback only.
  "$MOSQUITTO" -p "$MOSQ_PORT" >"$OUT/mosquitto.log" 2>&1 &
  MOSQ_PID=$!
  wait_port mosquitto "$MOSQ_PID" "$MOSQ_PORT" "$OUT/mosquitto.log" || die "mosquitto did not start"
}

# run_one NAME LABEL PORT PID RESULTS ARGS...: one mqbench run, appended
# to RESULTS; a failure is logged, not fatal. mqbench bounds itself;
# timeout is the belt to its braces (TERM makes mqbench print what it
# measured so far).
run_one() {
  local name=$1 label=$2 port=$3 pid=$4 results=$5 rc=0
  shift 5
  log "[rep $rep/$REPS] $name on $label"
  timeout -k 5 "$RUN_TIMEOUT" bin/mqbench --json --no-progress -p "$port" --pid "$pid" \
    --label "$label" "${COMMON[@]}" "$@" >>"$results" || rc=$?
  [ "$rc" -eq 0 ] || log "  $name on $label failed (exit $rc); see above"
}

# over_budget counts a run as skipped when the time budget is spent.
over_budget() {
  if [ $((SECONDS - START)) -ge "$MAX_SECONDS" ]; then
    skipped=$((skipped + 1))
    return 0
  fi
  return 1
}

START=$SECONDS # the budget counts the runs, not the build
RESULTS="$OUT/bench-$(date +%Y%m%d-%H%M%S).jsonl"
: >"$RESULTS"
log "results: $RESULTS (REPS=$REPS QUICK=$QUICK, budget ${MAX_SECONDS}s)"
log "note: a shared machine makes single runs noisy; compare medians of interleaved runs"

skipped=0
for rep in $(seq "$REPS"); do
  stop_brokers
  start_brokers
  fresh=1
  for entry in "${SCENARIOS[@]}"; do
    name=${entry%%|*}
    [[ $name =~ ${ONLY:-.} ]] || continue
    read -r -a args <<<"${entry#*|}"
    if [[ $name == idle* ]] && [ "$fresh" = 0 ] && [ $((SECONDS - START)) -lt "$MAX_SECONDS" ]; then
      stop_brokers # RSS per connection: from fresh processes
      start_brokers
    fi
    fresh=0
    for broker in mqbroker mosquitto; do
      over_budget && continue
      if [ "$broker" = mqbroker ]; then port=$MQB_PORT pid=$MQB_PID; else port=$MOSQ_PORT pid=$MOSQ_PID; fi
      run_one "$name" "$broker" "$port" "$pid" "$RESULTS" "${args[@]}"
    done
  done
done
stop_brokers

# Persistence: mqbroker --data against mqbroker in memory, durable
# subscribers (every QoS 1 message is stored until acknowledged, and
# acknowledged to its publisher only once on disk). Interleaved, a fresh
# broker and data directory per run. PERSIST=0 skips it.
PRESULTS="${RESULTS%.jsonl}-persist.jsonl"
: >"$PRESULTS"
if [ "${PERSIST:-1}" = 1 ]; then
  DATA_DIR=$(mktemp -d)
  trap 'stop_brokers; rm -rf "$DATA_DIR"' EXIT
  for rep in $(seq "$REPS"); do
    for entry in "${PERSIST_SCENARIOS[@]}"; do
      name=${entry%%|*}
      [[ $name =~ ${ONLY:-.} ]] || continue
      read -r -a args <<<"${entry#*|}"
      for mode in data memory; do
        over_budget && continue
        rm -rf "${DATA_DIR:?}"/*
        if [ "$mode" = data ]; then
          label="mqbroker --data"
          "$MQBROKER" -p "$MQB_PORT" --data "$DATA_DIR" >"$OUT/mqbroker.log" 2>&1 &
        else
          label="mqbroker (memory)"
          "$MQBROKER" -p "$MQB_PORT" >"$OUT/mqbroker.log" 2>&1 &
        fi
        MQB_PID=$!
        wait_port mqbroker "$MQB_PID" "$MQB_PORT" "$OUT/mqbroker.log" || die "mqbroker did not start"
        run_one "$name" "$label" "$MQB_PORT" "$MQB_PID" "$PRESULTS" "${args[@]}"
        stop_brokers
      done
    done
  done
fi

[ "$skipped" -eq 0 ] || log "warning: $skipped runs skipped: the ${MAX_SECONDS}s budget ran out"
echo
echo "mqbroker vs mosquitto 2.0.11, $REPS repetition(s), interleaved; medians (QUICK=$QUICK)"
bin/mqbench table "$RESULTS"
if [ -s "$PRESULTS" ]; then
  echo
  echo "persistence: mqbroker --data vs in memory, durable subscribers, QoS 1; medians"
  bin/mqbench table "$PRESULTS"
fi
echo
echo "raw results: $RESULTS $([ -s "$PRESULTS" ] && echo "$PRESULTS") (elapsed $((SECONDS - START))s)"
exit 0
