#!/usr/bin/env bash
# demo-will.sh: the last will. A client leaves a will message with the broker
# when it connects; the broker publishes it if the client vanishes without a
# clean DISCONNECT (process killed, network gone, keepalive expired), and in
# MQTT 5 also when the client disconnects with reason code 0x04.
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

title "Last will: the broker speaks for a client that died"
say "--will-topic/--will-payload register a will in CONNECT. The broker publishes it" \
	"when the connection ends without a normal DISCONNECT."
use_broker
WILL=$T/will

# watch NAME SECONDS: a subscriber on the will topic, waiting (bounded) for its SUBACK.
watch() {
	bg "$1" mqsub -d -i "$(cid "watch-$1")" -t "$WILL" -C 1 -W "$2" -F 'will: %p'
	wait_for "$1" 'received SUBACK' 10 "watching $WILL"
}

step "The device's process is killed (kill -9): the will fires"
bg dev1 mqsub -d -i "$(cid dev1)" -t "$T/dev1/cmd" \
	--will-topic "$WILL" --will-payload "dev1 died"
wait_for dev1 'received SUBACK' 10 "connected, will registered"
watch w1 10
signal dev1 KILL
# [MQTT-3.1.2-8] the will is published when the connection closes without DISCONNECT.
wait_exit w1 0 10
expect_lines "the will 'dev1 died' was published" "$(out w1)" 'will: ' 'will: dev1 died'

step "A normal disconnect: the will is discarded"
say "mqpub connects with a will, publishes, and sends DISCONNECT."
watch w2 3
# [MQTT-3.1.2-10] a DISCONNECT removes the will without publishing it.
expect_rc 0 mqpub -i "$(cid dev2)" -t "$T/dev2/data" -m hello \
	--will-topic "$WILL" --will-payload "dev2 died"
say "The watcher hears nothing: -W 3 times out with exit 27."
wait_exit w2 27 10
expect_lines "no will was published" "$(out w2)" 'will: '

step "A frozen client: the will fires when its keepalive expires"
say "-k 5 promises a packet at least every 5 s. We freeze the process (SIGSTOP);" \
	"the broker gives up after 1.5 x 5 = 7.5 s and publishes the will."
bg dev3 mqsub -d -i "$(cid dev3)" -k 5 -t "$T/dev3/cmd" \
	--will-topic "$WILL" --will-payload "dev3 froze"
wait_for dev3 'received SUBACK' 10 "connected with keepalive 5 s"
watch w3 15
signal dev3 STOP
t0=$(now_ms)
# [MQTT-3.1.2-24] the server disconnects a client silent for 1.5 x keepalive.
wait_exit w3 0 16
elapsed=$(($(now_ms) - t0))
expect_lines "the will 'dev3 froze' was published" "$(out w3)" 'will: ' 'will: dev3 froze'
secs=$(printf '%d.%d' $((elapsed / 1000)) $((elapsed % 1000 / 100)))
if ((elapsed < 4000)); then
	fail "the will came after ${secs} s: too early for a 5 s keepalive"
fi
ok "the will came ${secs} s after the freeze (about 1.5 x keepalive)"
signal dev3 KILL

step "MQTT 5: DISCONNECT with reason code 0x04 asks for the will"
if tool_supports mqpub 'disconnect-reason'; then
	watch w4 10
	# v5 3.14.2.1: 0x04 "Disconnect with Will Message": the server publishes the will.
	expect_rc 0 mqpub -V 5 -i "$(cid dev4)" -t "$T/dev4/data" -m bye \
		--will-topic "$WILL" --will-payload "dev4 left with its will" --disconnect-reason 4
	wait_exit w4 0 10
	expect_lines "the will was published after DISCONNECT 0x04" "$(out w4)" 'will: ' \
		'will: dev4 left with its will'
else
	skip "mqpub has no --disconnect-reason flag (${PUB_CMD[0]}): cannot send DISCONNECT 0x04"
fi

finish
