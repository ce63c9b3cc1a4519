#!/usr/bin/env bash
# demo-websocket.sh: MQTT over WebSocket (ws://), the transport browsers use.
# The packets are the same as over TCP; each travels in a binary WebSocket
# frame. We also watch the keepalive: an idle client sends PINGREQ and the
# broker answers PINGRESP.
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

title "MQTT over WebSocket, and the keepalive ping"
say "A broker listener with 'protocol websockets' speaks MQTT inside WebSocket frames." \
	"Clients reach it with -L ws://HOST:PORT/mqtt."

ws_conf() { # TCP_PORT WS_PORT
	conf_prelude
	cat <<EOF
listener $1 127.0.0.1
allow_anonymous true
listener $2 127.0.0.1
protocol websockets
EOF
}

if ((EXTERNAL)); then
	if [[ -z "${MQ_WS_URL:-}" ]]; then
		skip "MQ_HOST is set but MQ_WS_URL is not: no WebSocket listener to use"
		finish
		exit 0
	fi
	WS_URL=$MQ_WS_URL
	TCP_CONN=(-h "$MQ_HOST" -p "${MQ_PORT:-1883}")
	_banner
else
	step "Start a broker with a TCP and a WebSocket listener"
	use_broker_conf ws_conf 2
	WS_URL="ws://127.0.0.1:${PORTS[1]}/mqtt"
	TCP_CONN=(-h 127.0.0.1 -p "${PORTS[0]}")
fi
TOPIC=$T/ws

if tool_supports mqsub 'wss?://' && tool_supports mqpub 'wss?://'; then
	CONN=(-L "$WS_URL")
	VIA="WebSocket ($WS_URL)"
else
	skip "these clients cannot speak WebSocket (${SUB_CMD[0]} has no ws:// URLs); the same steps run over TCP instead"
	CONN=("${TCP_CONN[@]}")
	VIA="TCP (WebSocket skipped)"
fi
DUMP=()
if tool_supports mqsub '--dump' && tool_supports mqpub '--dump'; then
	DUMP=(--dump)
else
	skip "no --dump flag in these clients: packets are traced without their bytes"
fi

step "Subscribe over $VIA with a 5 s keepalive"
say "-d traces each packet${DUMP:+ and --dump prints its bytes}; -k 5 asks for a ping after 5 idle seconds."
bg sub mqsub -d "${DUMP[@]}" -i "$(cid ws-sub)" -k 5 -t "$TOPIC" -C 1 -W 30 -F 'message: %p'
wait_for sub 'received SUBACK' 10 "subscribed"

step "Stay idle: the client pings, the broker answers"
# [MQTT-3.1.2-23] (3.1.1) the client must send a packet within the keepalive:
# with nothing else to send it sends PINGREQ; [MQTT-3.12.4-1] the server
# answers PINGRESP.
wait_for sub 'sending PINGREQ' 12 "sent PINGREQ after ~5 idle seconds"
wait_for sub 'received PINGRESP' 5 "received PINGRESP"
if ((${#DUMP[@]})); then
	expect_sequence "$(out sub)" "PINGREQ is the two bytes c0 00, PINGRESP is d0 00" \
		'sending PINGREQ' '^ *0000 +c0 00 ' 'received PINGRESP' '^ *0000 +d0 00 '
fi

step "Publish over $VIA"
expect_rc 0 mqpub -d "${DUMP[@]}" -i "$(cid ws-pub)" -t "$TOPIC" -m 'hello over websocket'
expect_sequence "$LAST_OUT" "mqpub: CONNECT, CONNACK, PUBLISH" \
	'sending CONNECT' 'received CONNACK' 'sending PUBLISH'
if ((${#DUMP[@]})); then
	# Fixed header of a QoS 0 PUBLISH: type 3, flags 0 -> first byte 0x30.
	expect_sequence "$LAST_OUT" "the PUBLISH bytes start with 30 (PUBLISH, QoS 0)" \
		'sending PUBLISH' '^ *0000 +30 '
fi
wait_exit sub 0 10
expect_lines "the subscriber got the message" "$(out sub)" 'message: ' 'message: hello over websocket'

finish
