#!/usr/bin/env bash
# demo-retain.sh: retained messages. A retained message is kept by the broker
# and handed to every new subscriber; a newer one replaces it; an empty
# retained publish clears it.
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

title "Retained messages: the last known value of a topic"
say "A publisher sets the retain flag (-r) to ask the broker to keep the message." \
	"Anyone who subscribes later gets it at once, with the retain flag set."
use_broker
TOPIC=$T/room1/temperature

step "Publish a retained reading, before anyone subscribes"
expect_rc 0 mqpub -t "$TOPIC" -m 21.5 -r -q 1

step "A late subscriber still gets it"
say "-F 'retain=%r payload=%p' prints the retain flag and the payload; -C 1 exits after one" \
	"message, -W 5 gives up after 5 seconds (exit 27)."
# [MQTT-3.3.1-6] a new subscription gets the retained message;
# [MQTT-3.3.1-8] with RETAIN set to 1.
expect_rc 0 mqsub -t "$TOPIC" -C 1 -W 5 -F 'retain=%r payload=%p'
expect_lines "late subscriber got 21.5 with retain=1" "$LAST_OUT" retain= 'retain=1 payload=21.5'

step "A live subscriber sees a new reading with the retain flag 0"
say "Subscribed before the publish, it gets the stored 21.5 first (retain 1)," \
	"then 22.0 as an ordinary live message (retain 0)."
bg live mqsub -t "$TOPIC" -C 2 -W 10 -F 'retain=%r payload=%p'
wait_for live '^retain=1 payload=21\.5$' 5 "received the stored reading (it is subscribed)"
expect_rc 0 mqpub -t "$TOPIC" -m 22.0 -r -q 1
wait_exit live 0 10
# [MQTT-3.3.1-9] RETAIN is 0 when a message matches an established subscription.
expect_lines "live subscriber got 21.5 (retain=1), then 22.0 (retain=0)" "$(out live)" retain= \
	'retain=1 payload=21.5' 'retain=0 payload=22.0'

step "The new reading replaced the old one"
# [MQTT-3.3.1-5] the new retained message replaces the stored one.
expect_rc 0 mqsub -t "$TOPIC" -C 1 -W 5 -F 'retain=%r payload=%p'
expect_lines "late subscriber got only 22.0 (retain=1)" "$LAST_OUT" retain= 'retain=1 payload=22.0'

step "Clear it with an empty retained message (-n -r)"
# [MQTT-3.3.1-10] a zero-byte retained PUBLISH removes the retained message;
# [MQTT-3.3.1-11] and is not itself stored.
expect_rc 0 mqpub -t "$TOPIC" -n -r -q 1
say "A late subscriber now gets nothing: -W 2 times out with exit code 27."
expect_rc 27 mqsub -t "$TOPIC" -C 1 -W 2 -F 'retain=%r payload=%p'
expect_lines "late subscriber got no message" "$LAST_OUT" retain=

finish
