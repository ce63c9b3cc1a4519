#!/usr/bin/env bash
# demo-durable-session.sh: a persistent session (clean session off, -c) keeps
# a subscriber's subscriptions and queues its QoS 1 messages while it is away;
# a clean session does not.
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

title "Durable sessions: messages wait for a subscriber that went away"
say "With -c (clean session off) and a fixed client id (-i), the broker keeps the" \
	"session after the client disconnects and queues its QoS 1 and 2 messages."
use_broker
TOPIC=$T/orders
ID=$(cid client01)

step "Create the durable session, then go away"
say "-E exits as soon as the subscription is acknowledged: the session stays."
expect_rc 0 mqsub -c -i "$ID" -q 1 -t "$TOPIC" -E

step "Publish 5 messages at QoS 1 while the subscriber is offline"
# [MQTT-3.1.2-5] (3.1.1) the server stores QoS 1 and QoS 2 messages for a
# disconnected client whose session is not clean.
for n in 1 2 3 4 5; do
	expect_rc 0 mqpub -q 1 -t "$TOPIC" -m "order $n"
done

step "The subscriber comes back with the same id and -c"
say "-C 5 exits after five messages; -W 5 bounds the wait."
# [MQTT-3.1.2-4] clean session 0 resumes the stored session.
expect_rc 0 mqsub -c -i "$ID" -q 1 -t "$TOPIC" -C 5 -W 5 -F 'got: %p'
expect_lines "all 5 queued messages arrived, in order" "$LAST_OUT" 'got: ' \
	'got: order 1' 'got: order 2' 'got: order 3' 'got: order 4' 'got: order 5'

step "The same with a clean session (no -c): nothing is kept"
say "A clean session starts fresh and is discarded when the client leaves."
# [MQTT-3.1.2-6] clean session 1: the session lasts only as long as the connection.
expect_rc 0 mqsub -i "$ID" -q 1 -t "$TOPIC" -E
for n in 6 7 8 9 10; do
	expect_rc 0 mqpub -q 1 -t "$TOPIC" -m "order $n"
done
say "Coming back: nothing was queued, so -W 3 times out (exit 27)."
expect_rc 27 mqsub -i "$ID" -q 1 -t "$TOPIC" -C 5 -W 3 -F 'got: %p'
expect_lines "no message was kept for the clean session" "$LAST_OUT" 'got: '

finish
