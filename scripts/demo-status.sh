#!/usr/bin/env bash
# demo-status.sh: the online/offline pattern. A device announces a retained
# "online" on its status topic and leaves a retained will "offline" on the
# same topic, so the status topic always tells the truth, even to late
# subscribers and even when the device dies without a word.
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

title "Online/offline status with a retained message and a retained will"
say "The device connects with a retained will 'offline' on A/status, then publishes" \
	"a retained 'online' there. If it dies, the broker replaces 'online' by 'offline'."
use_broker
STATUS=$T/A/status
DEVICE=$(cid device-A)

step "The device connects with a retained will 'offline' on $STATUS"
say "mqsub keeps the device's connection (and so its will) open." \
	"A real device would publish 'online' on this same connection; here mqpub does it."
bg device mqsub -d -i "$DEVICE" -t "$T/A/cmd" -q 1 \
	--will-topic "$STATUS" --will-payload offline --will-retain --will-qos 1
wait_for device 'received SUBACK' 10 "connected, will registered"
expect_rc 0 mqpub -t "$STATUS" -m online -r -q 1

step "A late subscriber sees 'online'"
expect_rc 0 mqsub -t "$STATUS" -C 1 -W 5 -F 'status: %p (retain=%r)'
expect_lines "late subscriber: online" "$LAST_OUT" 'status: ' 'status: online (retain=1)'

step "A dashboard watches the status, then the device dies (kill -9)"
bg dashboard mqsub -t "$STATUS" -q 1 -C 2 -W 15 -F 'status: %p (retain=%r)'
wait_for dashboard '^status: online' 5 "shows online (it is subscribed)"
signal device KILL
# [MQTT-3.1.2-8] the will is published on an abnormal close;
# [MQTT-3.1.2-17] with Will Retain 1 it is published as a retained message.
wait_exit dashboard 0 15
expect_lines "dashboard saw online, then offline" "$(out dashboard)" 'status: ' \
	'status: online (retain=1)' 'status: offline (retain=0)'

step "A late subscriber now sees 'offline'"
expect_rc 0 mqsub -t "$STATUS" -C 1 -W 5 -F 'status: %p (retain=%r)'
expect_lines "late subscriber: offline" "$LAST_OUT" 'status: ' 'status: offline (retain=1)'

if ((EXTERNAL)); then
	step "Clean up the retained status on the shared broker"
	expect_rc 0 mqpub -t "$STATUS" -n -r
fi

finish
