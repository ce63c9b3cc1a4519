# shellcheck shell=bash
# lib.sh: helpers shared by the scripts/demo-*.sh tutorials. Source it, don't run it.
#
# Every demo is a lesson and a test: it says what it does, shows each command,
# runs it, checks the outcome against a deadline, and exits non-zero with a
# clear message when the broker misbehaved.
#
# Environment (all optional):
#   MQ_PUB, MQ_SUB, MQ_BROKER  the tools (default: bin/mqpub, bin/mqsub, bin/mqbroker
#                              relative to the repository root). A value may hold
#                              arguments, e.g. MQ_PASSWD="bin/mqbroker passwd".
#   MQ_PASSWD                  password-file tool (default "bin/mqbroker passwd";
#                              with mosquitto: mosquitto_passwd).
#   MQ_HOST, MQ_PORT           use this broker instead of starting one (MQ_PORT
#                              defaults to 1883). Demos that need their own broker
#                              configuration (tls-auth, bridge) then skip.
#   MQ_WS_URL                  with MQ_HOST: the broker's WebSocket URL for demo-websocket.
#   MQ_STRICT=1                a skipped step is a failure (CI sets this for mqkit).
#   MQ_KEEP=1                  keep the temporary directory (logs, configs, certs).
#   NO_COLOR                   no colour even on a terminal.
#
# Try it against mosquitto:
#   MQ_PUB=mosquitto_pub MQ_SUB=mosquitto_sub MQ_BROKER=mosquitto \
#   MQ_PASSWD=mosquitto_passwd bash scripts/demo-retain.sh

set -euo pipefail

MQ_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# ---------------------------------------------------------------- output

if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
	C_BOLD=$'\e[1m' C_DIM=$'\e[2m' C_RED=$'\e[31m' C_GREEN=$'\e[32m'
	C_YELLOW=$'\e[33m' C_CYAN=$'\e[36m' C_OFF=$'\e[0m'
else
	C_BOLD='' C_DIM='' C_RED='' C_GREEN='' C_YELLOW='' C_CYAN='' C_OFF=''
fi

STEP=0 CHECKS=0 SKIPS=0

# title TEXT: the name of the lesson.
title() { printf '%s%s%s\n' "$C_BOLD" "$*" "$C_OFF"; }

# step TEXT: a numbered heading.
step() {
	STEP=$((STEP + 1))
	printf '\n%s%d. %s%s\n' "$C_BOLD" "$STEP" "$*" "$C_OFF"
}

# say TEXT...: plain-words explanation, one line per argument.
say() {
	local line
	for line in "$@"; do printf '   %s\n' "$line"; done
}

# ok TEXT: a check that passed.
ok() {
	CHECKS=$((CHECKS + 1))
	printf '   %s[ok]%s %s\n' "$C_GREEN" "$C_OFF" "$*"
}

# fail TEXT: a check that failed; ends the script with status 1.
fail() {
	printf '   %s[FAIL]%s %s\n' "$C_RED" "$C_OFF" "$*"
	exit 1
}

# skip TEXT: a step the tools cannot do. Fatal when MQ_STRICT=1.
skip() {
	if [[ "${MQ_STRICT:-}" == 1 ]]; then
		fail "$* (MQ_STRICT=1: skipping is not allowed)"
	fi
	SKIPS=$((SKIPS + 1))
	printf '   %s[skip]%s %s\n' "$C_YELLOW" "$C_OFF" "$*"
}

# finish: the closing line; the script then exits 0.
finish() {
	printf '\n%sPASS%s %s: %d checks passed' "$C_GREEN" "$C_OFF" "$(basename "$0")" "$CHECKS"
	if ((SKIPS > 0)); then printf ', %d skipped' "$SKIPS"; fi
	printf '.\n'
}

# _quote ARG...: the arguments as a reader would type them.
_quote() {
	local a out=''
	for a in "$@"; do
		if [[ "$a" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
			out+=" $a"
		else
			out+=" '${a//\'/\'\\\'\'}'"
		fi
	done
	printf '%s' "${out# }"
}

# _indent FILE: print FILE indented, as the output of the command above.
_indent() {
	if [[ -s "$1" ]]; then sed 's/^/     | /' "$1"; fi
}

# ---------------------------------------------------------------- tools

# _tool VAR DEFAULT: the command words for a tool, resolving paths relative
# to the repository root when they are not found relative to the current directory.
_tool() {
	local spec=${!1:-$2}
	local -a words
	read -ra words <<<"$spec"
	if [[ "${words[0]}" == */* && "${words[0]}" != /* && ! -e "${words[0]}" ]]; then
		words[0]=$MQ_ROOT/${words[0]}
	elif [[ "${words[0]}" == */* && "${words[0]}" != /* ]]; then
		words[0]=$PWD/${words[0]}
	fi
	printf '%s\n' "${words[@]}"
}

mapfile -t PUB_CMD < <(_tool MQ_PUB bin/mqpub)
mapfile -t SUB_CMD < <(_tool MQ_SUB bin/mqsub)
mapfile -t BROKER_CMD < <(_tool MQ_BROKER bin/mqbroker)
mapfile -t PASSWD_CMD < <(_tool MQ_PASSWD "bin/mqbroker passwd")

# The connection arguments every mqpub/mqsub call gets (set by use_broker,
# changed by demos that talk TLS or WebSocket).
CONN=()

# _argv NAME ARG...: fills _ARGV with the real command for a friendly name.
_argv() {
	local name=$1
	shift
	case $name in
	mqpub) _ARGV=("${PUB_CMD[@]}" "${CONN[@]}" "$@") ;;
	mqsub) _ARGV=("${SUB_CMD[@]}" "${CONN[@]}" "$@") ;;
	mqpasswd) _ARGV=("${PASSWD_CMD[@]}" "$@") ;;
	*) _ARGV=("$name" "$@") ;;
	esac
}

# _label NAME: how a tool is called in messages ("mqpub", "mqbroker passwd").
_label() {
	case $1 in
	mqpasswd) _quote "$(basename "${PASSWD_CMD[0]}")" "${PASSWD_CMD[@]:1}" ;;
	*) printf '%s' "$1" ;;
	esac
}

# _display NAME ARG...: the command line shown to the reader.
_display() {
	local name=$1
	shift
	case $name in
	mqpub | mqsub) _quote "$name" "${CONN[@]}" "$@" ;;
	*) printf '%s %s' "$(_label "$name")" "$(_quote "$@")" ;;
	esac
}

# need_tool NAME: fail with a hint when a tool is missing.
need_tool() {
	local -n cmd=$1
	local var=$2
	if ! command -v "${cmd[0]}" >/dev/null 2>&1; then
		fail "${cmd[0]} not found: run 'make build', or set $var (e.g. $var=${3:-mosquitto_pub})"
	fi
}

# tool_help NAME: the --help text of a tool (never fails).
tool_help() {
	local -a argv
	case $1 in
	mqpub) argv=("${PUB_CMD[@]}") ;;
	mqsub) argv=("${SUB_CMD[@]}") ;;
	*) argv=("$1") ;;
	esac
	"${argv[@]}" --help 2>&1 || true
}

# tool_supports NAME REGEX: whether NAME's --help mentions REGEX.
tool_supports() {
	local help
	help=$(tool_help "$1")
	grep -Eq -- "$2" <<<"$help"
}

# ---------------------------------------------------------------- time

# now_ms: wall clock in milliseconds.
now_ms() {
	local t=${EPOCHREALTIME:-}
	if [[ -n "$t" ]]; then
		t=${t/[.,]/}
		echo $((10#$t / 1000))
	else
		echo $(($(date +%s) * 1000))
	fi
}

# ---------------------------------------------------------------- commands

CMD_TIMEOUT=${MQ_CMD_TIMEOUT:-20}
LAST_OUT='' LAST_RC=0 _N=0

# run NAME ARG...: show and run a command (bounded by CMD_TIMEOUT seconds),
# print its output, set LAST_RC and LAST_OUT (a file with stdout+stderr).
run() {
	_N=$((_N + 1))
	LAST_OUT=$WORK/cmd$_N.out
	_argv "$@"
	printf '   %s$ %s%s\n' "$C_CYAN" "$(_display "$@")" "$C_OFF"
	LAST_RC=0
	timeout -k 2 "$CMD_TIMEOUT" stdbuf -oL -eL "${_ARGV[@]}" >"$LAST_OUT" 2>&1 </dev/null || LAST_RC=$?
	_indent "$LAST_OUT"
	if ((LAST_RC == 124 || LAST_RC == 137)); then
		fail "$(_label "$1") did not finish within ${CMD_TIMEOUT}s (hung?)"
	fi
}

# expect_rc WANT NAME ARG...: run, then require the exit status to match
# WANT (an extended regex such as 0, 27 or '134|135').
expect_rc() {
	local want=$1
	shift
	run "$@"
	if [[ ! "$LAST_RC" =~ ^($want)$ ]]; then
		fail "$(_label "$1") exited $LAST_RC, expected $want$(_rc_hint "$LAST_RC")"
	fi
	ok "$(_label "$1") exited $LAST_RC$(_rc_meaning "$LAST_RC")"
}

_rc_meaning() {
	case $1 in
	0) echo " (success)" ;;
	5) echo " (connection refused: not authorised)" ;;
	27) echo " (-W timeout: nothing more arrived)" ;;
	134) echo " (v5: bad user name or password)" ;;
	135) echo " (v5: not authorised)" ;;
	*) echo "" ;;
	esac
}

_rc_hint() {
	case $1 in
	27) echo " (27 means the -W timeout passed without the expected messages)" ;;
	1) echo " (1: an error, see the output above)" ;;
	*) _rc_meaning "$1" ;;
	esac
}

# ---------------------------------------------------------------- background

declare -A BG_PID=()
ALL_PIDS=()

# bg NAME CMD ARG...: start a command in the background; its stdout+stderr go
# to $WORK/NAME.out (line-buffered, so waits can watch it).
bg() {
	local name=$1
	shift
	_argv "$@"
	printf '   %s$ %s &%s   %s# %s%s\n' "$C_CYAN" "$(_display "$@")" "$C_OFF" "$C_DIM" "$name" "$C_OFF"
	: >"$WORK/$name.out"
	stdbuf -oL -eL "${_ARGV[@]}" >"$WORK/$name.out" 2>&1 </dev/null &
	BG_PID[$name]=$!
	ALL_PIDS+=("$!")
}

# out NAME: the output file of a background command.
out() { printf '%s' "$WORK/$1.out"; }

# alive NAME: whether the background command is still running (an exited
# child stays a zombie until we wait for it, so kill -0 alone is not enough).
alive() { _pid_alive "${BG_PID[$1]}"; }

# _pid_alive PID: the same for any child process.
_pid_alive() {
	local pid=$1 state stat
	kill -0 "$pid" 2>/dev/null || return 1
	if [[ -r /proc/$pid/stat ]]; then
		# read, not $(<file): the process may vanish after the -r test, and a
		# failed $(<file) is an expansion error that ends the whole script.
		{ read -r stat <"/proc/$pid/stat"; } 2>/dev/null || return 1
		stat=${stat##*) } # the fields after "(comm) "
		state=${stat%% *}
	else
		state=$(ps -o stat= -p "$pid" 2>/dev/null || true)
	fi
	[[ -n "$state" && "$state" != Z* ]]
}

# wait_for NAME REGEX SECONDS WHAT: poll NAME's output until a line matches
# REGEX; fail if NAME exits first or SECONDS pass.
wait_for() {
	local name=$1 re=$2 secs=$3 what=$4 f
	f=$(out "$1")
	local deadline=$(($(now_ms) + secs * 1000))
	while :; do
		if grep -Eq -- "$re" "$f"; then
			ok "$name: $what"
			return 0
		fi
		if ! alive "$name"; then
			grep -Eq -- "$re" "$f" && { ok "$name: $what"; return 0; }
			_indent "$f"
			fail "$name exited before $what"
		fi
		if (($(now_ms) > deadline)); then
			_indent "$f"
			fail "$name: no $what within ${secs}s"
		fi
		sleep 0.05
	done
}

# wait_exit NAME WANT SECONDS: wait (bounded) for NAME to exit, print its
# output, and require its exit status to match WANT (a regex).
wait_exit() {
	local name=$1 want=$2 secs=$3 rc=0 pid=${BG_PID[$1]}
	local deadline=$(($(now_ms) + secs * 1000))
	while alive "$name"; do
		if (($(now_ms) > deadline)); then
			kill -9 "$pid" 2>/dev/null || true
			_indent "$(out "$name")"
			fail "$name still running after ${secs}s"
		fi
		sleep 0.05
	done
	wait "$pid" 2>/dev/null || rc=$?
	printf '   %s# output of %s:%s\n' "$C_DIM" "$name" "$C_OFF"
	_indent "$(out "$name")"
	if [[ ! "$rc" =~ ^($want)$ ]]; then
		fail "$name exited $rc, expected $want$(_rc_hint "$rc")"
	fi
	ok "$name exited $rc$(_rc_meaning "$rc")"
}

# signal NAME SIG: send a signal to a background command, showing it.
signal() {
	printf '   %s$ kill -%s %s%s   %s# %s%s\n' "$C_CYAN" "$2" "${BG_PID[$1]}" "$C_OFF" "$C_DIM" "$1" "$C_OFF"
	kill "-$2" "${BG_PID[$1]}"
	if [[ $2 == KILL || $2 == 9 ]]; then
		# reap it now, quietly (bash would report "Killed" later).
		{ wait "${BG_PID[$1]}"; } 2>/dev/null || true
	fi
}

# ---------------------------------------------------------------- checks

# _lines FILE PREFIX: the lines of FILE that start with PREFIX.
_lines() { awk -v p="$2" 'index($0, p) == 1' "$1"; }

# _prefix PREFIX TEXT: TEXT with PREFIX before each line.
_prefix() { awk -v p="$1" '{ print p $0 }' <<<"$2"; }

# _compare WHAT GOT WANT: ok when equal, else show both and fail.
_compare() {
	if [[ "$2" != "$3" ]]; then
		printf '   expected:\n%s\n   got:\n%s\n' "$(_prefix '     > ' "$3")" "$(_prefix '     < ' "$2")"
		fail "$1"
	fi
	ok "$1"
}

# expect_lines WHAT FILE PREFIX WANT...: the lines of FILE starting with
# PREFIX are exactly WANT..., in this order (none when WANT is empty).
expect_lines() {
	local what=$1 f=$2 prefix=$3 want=''
	shift 3
	(($# > 0)) && want=$(printf '%s\n' "$@")
	_compare "$what" "$(_lines "$f" "$prefix")" "$want"
}

# expect_lines_any_order WHAT FILE PREFIX WANT...: the same, order ignored.
expect_lines_any_order() {
	local what=$1 f=$2 prefix=$3 want=''
	shift 3
	(($# > 0)) && want=$(printf '%s\n' "$@" | LC_ALL=C sort)
	_compare "$what" "$(_lines "$f" "$prefix" | LC_ALL=C sort)" "$want"
}

# expect_sequence FILE WHAT REGEX...: lines matching each REGEX appear in FILE
# in this order (other lines may come between).
expect_sequence() {
	local f=$1 what=$2
	shift 2
	local i=1 re line
	for re in "$@"; do
		line=$(tail -n "+$i" "$f" | grep -En -m1 -- "$re" | cut -d: -f1 || true)
		if [[ -z "$line" ]]; then
			fail "$what: no line matching /$re/ (after line $((i - 1)))"
		fi
		i=$((i + line))
	done
	ok "$what"
}

# expect_no_line FILE REGEX WHAT: no line of FILE matches REGEX.
expect_no_line() {
	if grep -Eq -- "$2" "$1"; then
		fail "$3: unexpected line /$2/"
	fi
	ok "$3"
}

# ---------------------------------------------------------------- broker

EXTERNAL=0
# The brokers started and not stopped, name -> pid. use_broker's is "broker";
# a demo with several brokers names them (use_broker_conf WRITER N NAME).
# Each logs to $WORK/NAME.log.
declare -A BROKERS=() _BROKER_PORTS=()
_BROKER_NAMES=() # every name started, in order: their logs are shown on failure
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mqdemo.XXXXXX")
cd "$WORK"

# Unique names, so runs against a shared broker (MQ_HOST) do not collide.
# T is the topic prefix the demos build their topics on.
# shellcheck disable=SC2034
if [[ -n "${MQ_HOST:-}" ]]; then
	EXTERNAL=1
	RUN_ID="$$$RANDOM"
	T="demo-$RUN_ID"
else
	RUN_ID=''
	T=demo
fi

# cid NAME: a client id (suffixed with the run id against a shared broker).
cid() { printf '%s' "$1${RUN_ID:+-$RUN_ID}"; }

_cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	# Reaped here, quietly: else bash reports "Killed" for the ones still running.
	{
		for pid in "${ALL_PIDS[@]}"; do
			kill -CONT "$pid" || true
			kill -KILL "$pid" || true
		done
		for pid in "${ALL_PIDS[@]}"; do wait "$pid" || true; done
	} 2>/dev/null
	local name deadline=$(($(now_ms) + 3000))
	for pid in "${BROKERS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${BROKERS[@]}"; do
		while _pid_alive "$pid" && (($(now_ms) < deadline)); do sleep 0.05; done
		kill -KILL "$pid" 2>/dev/null || true
	done
	{ wait; } 2>/dev/null || true
	if ((rc != 0)); then
		for name in "${_BROKER_NAMES[@]}"; do
			[[ -s "$WORK/$name.log" ]] || continue
			printf '\n--- last lines of the %s log (%s) ---\n' "$name" "$WORK/$name.log" >&2
			tail -n 25 "$WORK/$name.log" >&2
		done
	fi
	cd /
	if [[ "${MQ_KEEP:-}" == 1 ]]; then
		printf 'files kept in %s\n' "$WORK" >&2
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# port_open PORT: whether something accepts TCP connections on 127.0.0.1:PORT.
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# pick_port: a port nothing listens on now (the broker start retries on a race).
pick_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		port_open "$p" || { echo "$p"; return 0; }
	done
}

# is_mosquitto: whether MQ_BROKER is mosquitto (it needs 'user root' in a
# config file when run as root, or it drops to the 'mosquitto' user and can
# no longer read our temporary files).
is_mosquitto() { [[ "$(basename "${BROKER_CMD[0]}")" == mosquitto* ]]; }

# conf_prelude: lines every generated broker config starts with.
conf_prelude() {
	echo "# generated by $(basename "$0")"
	if is_mosquitto && [[ "$(id -u)" == 0 ]]; then echo "user root"; fi
}

# _start_broker PORT... -- ARG...: start MQ_BROKER with ARGs and wait until all
# PORTs accept connections. Returns 1 if the broker exited (port race).
_start_broker() { _launch broker "$@"; }

# _launch NAME PORT... -- ARG...: _start_broker for the broker NAME: its log is
# $WORK/NAME.log, its pid BROKERS[NAME].
_launch() {
	local name=$1 who pid log
	shift
	who=$(_who "$name")
	local -a ports=()
	while [[ $1 != -- ]]; do ports+=("$1"); shift; done
	shift
	log=$WORK/$name.log
	if [[ $name == broker ]]; then
		printf '   %s$ %s &%s\n' "$C_CYAN" "$(_quote mqbroker "$@")" "$C_OFF"
	else
		printf '   %s$ %s &%s   %s# %s%s\n' "$C_CYAN" "$(_quote mqbroker "$@")" "$C_OFF" "$C_DIM" "$name" "$C_OFF"
	fi
	"${BROKER_CMD[@]}" "$@" >"$log" 2>&1 </dev/null &
	pid=$!
	BROKERS[$name]=$pid
	[[ " ${_BROKER_NAMES[*]} " == *" $name "* ]] || _BROKER_NAMES+=("$name")
	local deadline=$(($(now_ms) + 10000)) p
	for p in "${ports[@]}"; do
		until port_open "$p"; do
			if ! _pid_alive "$pid"; then
				_unlaunch "$name"
				return 1
			fi
			# Another process took the port between pick_port and the bind.
			# mosquitto then keeps running on ::1 only, so do not wait for it.
			if grep -qi 'address already in use' "$log"; then
				_unlaunch "$name"
				return 1
			fi
			if (($(now_ms) > deadline)); then
				fail "$who did not listen on port $p within 10s"
			fi
			sleep 0.05
		done
	done
	# An open port may belong to another process that grabbed it between
	# pick_port and the bind: trust it only once the broker itself says it
	# is ready (mosquitto: "... running", mqbroker: "... ready") and logged
	# no bind error.
	until grep -Eq ' (running|ready)$' "$log"; do
		_pid_alive "$pid" || { _unlaunch "$name"; return 1; }
		if (($(now_ms) > deadline)); then
			fail "$who did not report it was ready within 10s"
		fi
		sleep 0.05
	done
	if grep -qi 'address already in use' "$log" || ! _pid_alive "$pid"; then
		_unlaunch "$name"
		return 1
	fi
}

# _who NAME: how messages call the broker NAME.
_who() { if [[ $1 == broker ]]; then echo "the broker"; else echo "$1"; fi; }

# _unlaunch NAME: end (if need be) and forget the broker NAME.
_unlaunch() {
	local pid=${BROKERS[$1]}
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset 'BROKERS[$1]'
}

# use_broker: the broker for demos that need nothing special. With MQ_HOST,
# that broker; otherwise start "mqbroker -p PORT" on a free loopback port.
use_broker() {
	if ((EXTERNAL)); then
		MQ_PORT=${MQ_PORT:-1883}
		CONN=(-h "$MQ_HOST" -p "$MQ_PORT")
		say "Using the broker at $MQ_HOST:$MQ_PORT (MQ_HOST is set)."
		_banner
		return
	fi
	need_tool BROKER_CMD MQ_BROKER mosquitto
	local try
	for try in 1 2 3 4 5; do
		MQ_PORT=$(pick_port)
		if _start_broker "$MQ_PORT" -- -p "$MQ_PORT"; then
			MQ_HOST=127.0.0.1
			CONN=(-h "$MQ_HOST" -p "$MQ_PORT")
			ok "broker listening on $MQ_HOST:$MQ_PORT"
			_banner
			return
		fi
	done
	_indent "$WORK/broker.log"
	fail "the broker would not start (see its log above)"
}

# use_broker_conf WRITER NPORTS [NAME]: start the broker with a generated config.
# WRITER is a function called with NPORTS free ports as arguments; it must
# print the config. The ports are left in PORTS. With NAME (default "broker"),
# a second broker: its config is NAME.conf, its log NAME.log (stop_broker and
# restart_broker take the NAME).
use_broker_conf() {
	local writer=$1 n=$2 name=${3:-broker} try i
	need_tool BROKER_CMD MQ_BROKER mosquitto
	for try in 1 2 3 4 5; do
		PORTS=()
		for ((i = 0; i < n; i++)); do PORTS+=("$(pick_port)"); done
		"$writer" "${PORTS[@]}" >"$WORK/$name.conf"
		if ((try == 1)); then
			if [[ $name == broker ]]; then
				say "The broker's configuration (mosquitto.conf syntax), broker.conf:"
			else
				say "The configuration of $name (mosquitto.conf syntax), $name.conf:"
			fi
			_indent "$WORK/$name.conf"
		fi
		if _launch "$name" "${PORTS[@]}" -- -c "$name.conf"; then
			_BROKER_PORTS[$name]="${PORTS[*]}"
			MQ_HOST=127.0.0.1
			ok "$name listening on port(s) ${PORTS[*]}"
			_banner
			return
		fi
	done
	_indent "$WORK/$name.log"
	fail "$(_who "$name") would not start with $name.conf (see its log above)"
}

# stop_broker NAME: stop a broker started by use_broker_conf with SIGTERM (a
# clean shutdown: persistence is saved), and wait (bounded) until it is gone.
stop_broker() {
	local name=$1 pid=${BROKERS[$1]:?"stop_broker: no running broker named $1"}
	printf '   %s$ kill -TERM %s%s   %s# %s%s\n' "$C_CYAN" "$pid" "$C_OFF" "$C_DIM" "$name" "$C_OFF"
	kill -TERM "$pid" 2>/dev/null || true
	local deadline=$(($(now_ms) + 10000))
	while _pid_alive "$pid"; do
		if (($(now_ms) > deadline)); then
			fail "$name still running 10s after SIGTERM"
		fi
		sleep 0.05
	done
	wait "$pid" 2>/dev/null || true
	unset 'BROKERS[$name]'
	ok "$name stopped"
}

# restart_broker NAME: start a broker stopped by stop_broker again, with the
# same config and ports (its previous log is kept as NAME.prev.log).
restart_broker() {
	local name=$1
	local -a ports
	read -ra ports <<<"${_BROKER_PORTS[$name]:?"restart_broker: no broker named $name"}"
	mv -f "$WORK/$name.log" "$WORK/$name.prev.log" 2>/dev/null || true
	if ! _launch "$name" "${ports[@]}" -- -c "$name.conf"; then
		_indent "$WORK/$name.log"
		fail "$name would not start again on port(s) ${ports[*]} (taken meanwhile? see its log above)"
	fi
	ok "$name listening again on port(s) ${ports[*]}"
}

_BANNER_SHOWN=0
_banner() {
	((_BANNER_SHOWN)) && return 0
	_BANNER_SHOWN=1
	need_tool PUB_CMD MQ_PUB mosquitto_pub
	need_tool SUB_CMD MQ_SUB mosquitto_sub
	local broker=''
	((EXTERNAL)) || broker="mqbroker is ${BROKER_CMD[*]}, "
	printf '   %s(%smqpub is %s, mqsub is %s)%s\n' "$C_DIM" "$broker" "${PUB_CMD[*]}" "${SUB_CMD[*]}" "$C_OFF"
}
