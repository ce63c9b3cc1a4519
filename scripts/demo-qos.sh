#!/usr/bin/env bash
# demo-qos.sh: the three QoS levels, the QoS a subscriber actually receives,
# and the packets exchanged for each level (shown with -d).
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

title "QoS 0, 1 and 2: delivery guarantees and the packets behind them"
say "QoS 0: at most once (PUBLISH only). QoS 1: at least once (PUBLISH, PUBACK)." \
	"QoS 2: exactly once (PUBLISH, PUBREC, PUBREL, PUBCOMP)." \
	"QoS applies per hop: a subscriber receives min(publish QoS, subscription QoS)."
use_broker
TOPIC=$T/qos

step "Three subscribers, at QoS 0, 1 and 2"
say "-d prints every packet; we wait for each SUBACK before publishing." \
	"-C 3 exits after three messages, -W 20 is a safety deadline."
for q in 0 1 2; do
	bg "sub$q" mqsub -d -i "$(cid "sub-q$q")" -t "$TOPIC" -q "$q" -C 3 -W 20 -F "message: qos=%q payload=%p"
done
for q in 0 1 2; do
	wait_for "sub$q" 'received SUBACK' 10 "SUBACK received (subscribed)"
done

step "Publish one message at each QoS, with -d to see the packet flow"
for q in 0 1 2; do
	expect_rc 0 mqpub -d -i "$(cid "pub-q$q")" -t "$TOPIC" -q "$q" -m "sent at qos $q"
	cp "$LAST_OUT" "pub$q.out"
done
expect_no_line pub0.out '(PUBACK|PUBREC|PUBREL|PUBCOMP)' "QoS 0: a lone PUBLISH, nothing acknowledges it"
expect_sequence pub1.out "QoS 1: PUBLISH answered by PUBACK" \
	'sending PUBLISH \(d0, q1' 'received PUBACK'
# [MQTT-4.3.3-1] the sender of a QoS 2 message sends PUBLISH, then PUBREL
# after PUBREC; the receiver answers PUBREL with PUBCOMP.
expect_sequence pub2.out "QoS 2: PUBLISH, PUBREC, PUBREL, PUBCOMP" \
	'sending PUBLISH \(d0, q2' 'received PUBREC' 'sending PUBREL' 'received PUBCOMP'

step "What each subscriber received"
for q in 0 1 2; do
	wait_exit "sub$q" 0 15
done
say "The QoS of a delivered message is the lower of the two QoS values."
# [MQTT-3.8.4-8] (v5; 3.8.4 in 3.1.1): delivered QoS = min(published, granted).
expect_lines_any_order "QoS 0 subscriber: every message arrives at QoS 0" "$(out sub0)" message: \
	'message: qos=0 payload=sent at qos 0' \
	'message: qos=0 payload=sent at qos 1' \
	'message: qos=0 payload=sent at qos 2'
expect_lines_any_order "QoS 1 subscriber: the QoS 2 publish arrives at QoS 1" "$(out sub1)" message: \
	'message: qos=0 payload=sent at qos 0' \
	'message: qos=1 payload=sent at qos 1' \
	'message: qos=1 payload=sent at qos 2'
expect_lines_any_order "QoS 2 subscriber: each message keeps its QoS" "$(out sub2)" message: \
	'message: qos=0 payload=sent at qos 0' \
	'message: qos=1 payload=sent at qos 1' \
	'message: qos=2 payload=sent at qos 2'

step "The broker-to-subscriber flows"
# Each QoS 1 PUBLISH is answered by a PUBACK with its packet id; a client may
# read both PUBLISHes before it writes the first PUBACK, so check per id.
expect_sequence "$(out sub1)" "QoS 1 subscriber: the first QoS 1 delivery acknowledged with PUBACK" \
	'received PUBLISH \(d0, q1, r0, m1,' 'sending PUBACK \(m1[,)]'
expect_sequence "$(out sub1)" "QoS 1 subscriber: the second QoS 1 delivery acknowledged with PUBACK" \
	'received PUBLISH \(d0, q1, r0, m2,' 'sending PUBACK \(m2[,)]'
expect_no_line "$(out sub1)" '(PUBREC|PUBREL|PUBCOMP)' "QoS 1 subscriber: no QoS 2 handshake at all"
expect_sequence "$(out sub2)" "QoS 2 subscriber: PUBLISH, PUBREC, PUBREL, PUBCOMP" \
	'received PUBLISH \(d0, q2' 'sending PUBREC' 'received PUBREL' 'sending PUBCOMP'

finish
