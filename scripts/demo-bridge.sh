#!/usr/bin/env bash
# demo-bridge.sh: bridging two brokers. A "connection" section in broker A's
# configuration makes A a client of broker B: it forwards the topics its
# "topic" lines name, in the direction they say, renames them with prefixes,
# never sends a message back where it came from, reports its state on a $SYS
# topic, and keeps QoS 1 messages for B while B is down.
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

title "Bridging two brokers: a factory's broker linked to head office's"
say "Broker A (the factory) connects to broker B (head office) as a client. It subscribes" \
	"on both brokers to the topics of its 'topic' lines and republishes what arrives on" \
	"the other side. The clients of each broker know nothing about the bridge."

if ((EXTERNAL)); then
	skip "this demo starts two brokers of its own and bridges them; MQ_HOST is ignored here"
	finish
	exit 0
fi

STATE="\$SYS/broker/connection/bridge-a/state"
mkdir data-b

b_conf() { # PORT
	conf_prelude
	cat <<EOF
listener $1 127.0.0.1
allow_anonymous true
persistence true
persistence_location $WORK/data-b/
EOF
}

a_conf() { # PORT
	conf_prelude
	cat <<EOF
listener $1 127.0.0.1
allow_anonymous true

connection head-office
address 127.0.0.1:$PORT_B
remote_clientid bridge-a
cleansession false
restart_timeout 1
topic sensors/# out 1
topic commands/# in 1
topic # both 0 site/ factory1/
EOF
}

# wait_state WANT SECS WHAT: wait (bounded) until the last state the watcher
# printed is WANT.
wait_state() {
	local want=$1 secs=$2 what=$3 last
	local deadline=$(($(now_ms) + secs * 1000))
	while :; do
		last=$(grep '^state: ' "$(out state)" | tail -n 1 || true)
		if [[ "$last" == "state: $want" ]]; then
			ok "state $want: $what"
			return 0
		fi
		if ! alive state; then
			_indent "$(out state)"
			fail "the state watcher exited"
		fi
		if (($(now_ms) > deadline)); then
			_indent "$(out state)"
			fail "the bridge state is not $want after ${secs}s: $what did not happen"
		fi
		sleep 0.05
	done
}

# subscribe NAME ARG...: a subscriber in the background, waiting (bounded) for its SUBACK.
subscribe() {
	local name=$1
	shift
	bg "$name" mqsub -d "$@"
	wait_for "$name" 'received SUBACK' 10 "subscribed"
}

step "Broker B, head office"
say "B keeps sessions on disk (persistence), so they survive the restart at the end."
use_broker_conf b_conf 1 broker-b
PORT_B=${PORTS[0]}
B=(-h 127.0.0.1 -p "$PORT_B")

step "Broker A, the factory, with a bridge to B"
say "'connection' starts a bridge section; 'address' is B. Each 'topic' line is" \
	"PATTERN DIRECTION QOS [LOCAL-PREFIX REMOTE-PREFIX]:" \
	"  topic sensors/# out 1          A's sensors/# are published on B (QoS up to 1)" \
	"  topic commands/# in 1          B's commands/# are published on A" \
	"  topic # both 0 site/ factory1/ site/X on A is factory1/X on B, both ways" \
	"This is mosquitto's syntax: the same file works with mosquitto."
use_broker_conf a_conf 1 broker-a
PORT_A=${PORTS[0]}
A=(-h 127.0.0.1 -p "$PORT_A")
say "A listens on port $PORT_A, B on port $PORT_B."

step "Wait until the bridge is connected"
say "A publishes the bridge's state, retained, on $STATE:" \
	"1 when connected to B, 0 when not. A watcher on A prints every change."
bg state mqsub "${A[@]}" -t "$STATE" -F 'state: %p'
wait_state 1 20 "the bridge is connected to B"

step "out: a reading published on A arrives on B"
subscribe b_sensors "${B[@]}" -q 1 -t 'sensors/#' -C 1 -W 10 -F 'on B: %t %p (qos %q)'
expect_rc 0 mqpub "${A[@]}" -q 1 -t sensors/line1/temp -m 21.5
wait_exit b_sensors 0 10
expect_lines "B got A's reading, still at QoS 1" "$(out b_sensors)" 'on B: ' \
	'on B: sensors/line1/temp 21.5 (qos 1)'

step "in: a command published on B arrives on A"
subscribe a_commands "${A[@]}" -q 1 -t 'commands/#' -C 1 -W 10 -F 'on A: %t %p'
expect_rc 0 mqpub "${B[@]}" -q 1 -t commands/line1/stop -m now
wait_exit a_commands 0 10
expect_lines "A got B's command" "$(out a_commands)" 'on A: ' 'on A: commands/line1/stop now'

step "both, with prefixes: site/X on A is factory1/X on B, and nothing loops"
say "One message is published on A, one on B. Each broker's subscriber must see both," \
	"once each, under its own prefix. A bridge that sent a message back where it came" \
	"from would make it go round for ever; the bridge marks its subscriptions so that" \
	"it never receives its own messages (MQTT 5 No Local, or try_private with 3.1.1)." \
	"-C 3 -W 5: the subscribers wait 5 s for a third message, which must not come (exit 27)."
subscribe a_site "${A[@]}" -t 'site/#' -C 3 -W 5 -F 'on A: %t %p'
subscribe b_site "${B[@]}" -t 'factory1/#' -C 3 -W 5 -F 'on B: %t %p'
expect_rc 0 mqpub "${A[@]}" -t site/line1/speed -m 120
expect_rc 0 mqpub "${B[@]}" -t factory1/line1/mode -m auto
wait_exit a_site 27 15
wait_exit b_site 27 15
expect_lines_any_order "A saw each message once, as site/..." "$(out a_site)" 'on A: ' \
	'on A: site/line1/speed 120' 'on A: site/line1/mode auto'
expect_lines_any_order "B saw each message once, as factory1/..." "$(out b_site)" 'on B: ' \
	'on B: factory1/line1/speed 120' 'on B: factory1/line1/mode auto'

step "B goes down: A notices, and keeps QoS 1 messages for it"
say "An archiver on B gets a durable session (-c) for sensors/#, then B is stopped."
expect_rc 0 mqsub "${B[@]}" -c -i archive -q 1 -t 'sensors/#' -E
stop_broker broker-b
wait_state 0 20 "A noticed that B is gone"
say "A reading published on A now cannot reach B. At QoS 1 (or 2) A keeps it for the" \
	"bridge until B is back; QoS 0 messages are not kept."
expect_rc 0 mqpub "${A[@]}" -q 1 -t sensors/line1/temp -m 'sent while B was down'

step "B comes back: the bridge reconnects and delivers what it held"
say "The bridge retries every second (restart_timeout 1); mosquitto may take a few seconds more."
restart_broker broker-b
wait_state 1 30 "the bridge is connected to B again"
say "The archiver comes back to its session on B, with the same id and -c." \
	"Delivery over a bridge is at least once: a message that was on its way when the" \
	"connection broke may arrive twice."
expect_rc 0 mqsub "${B[@]}" -c -i archive -q 1 -t 'sensors/#' -C 1 -W 10 -F 'archive: %t %p'
expect_lines "the archiver got the reading published while B was down" "$LAST_OUT" 'archive: ' \
	'archive: sensors/line1/temp sent while B was down'
expect_sequence "$(out state)" "the watcher on A saw the state go 1, 0, 1" \
	'^state: 1$' '^state: 0$' '^state: 1$'

finish
