package broker_test

import (
	"bufio"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/testnet"
)

// dialWireSmallWindow dials s with a 4 KiB receive buffer, so that what
// the broker writes to this client piles up on the broker's side while
// the client does not read.
func dialWireSmallWindow(t *testing.T, s *server) *wire {
	t.Helper()
	nc := testnet.DialSmallWindow(t, s.addr(), peerTimeout)
	return &wire{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// TestPeerSysDroppedQoS0Expired: v5 QoS 0 messages with a Message Expiry
// Interval of 1 s, published to a subscriber that does not read for 2.5 s:
// every message is either received or counted in
// $SYS/broker/publish/messages/dropped.
//
// mqbroker deletes the ones still waiting in the connection's write queue
// when they expire ("If the Message Expiry Interval has passed and the
// Server has not managed to start onward delivery to a matching
// subscriber, then it MUST delete the copy of the message for that
// subscriber" [MQTT-3.3.2-5]) and counts them as dropped (as /metrics
// does, reason expired). mosquitto 2.0.11 checks the expiry only when it
// turns a message into a PUBLISH packet (src/database.c,
// db__message_write_inflight_out_single), which for a connected client
// it does at once: a packet in its out-packet queue counts as onward
// delivery started, so it sends them all, and its dropped counter counts
// only the messages max_queued_messages refuses (G_MSGS_DROPPED_INC in
// db__message_insert). Both keep the sum.
func TestPeerSysDroppedQoS0Expired(t *testing.T) {
	const conf = "listener {port} 127.0.0.1\nallow_anonymous true\nsys_interval 1\n"
	eachServer(t, conf, func(t *testing.T, s *server) {
		t.Parallel()
		sub := dialWireSmallWindow(t, s)
		sub.connect(connectV5("pe-sub", true, 0, nil, nil), false, 0)
		sub.send(subscribeV5(1, "pe/#", 0))
		sub.expect("SUBACK", []byte{tSUBACK, 4, 0, 1, 0, 0})

		pub := dialWire(t, s)
		pub.connect(connectV5("pe-pub", true, 30, nil, nil), false, 0)
		const n = 300
		payload := strings.Repeat("x", 32<<10)
		published := time.Now()
		for range n {
			pub.send(publishV5("pe/data", 0, false, 0, props(propU32(pMessageExpiry, 1)), payload))
		}
		pub.ping() // all routed
		// Let them expire: 1 s, plus one for mosquitto's clock in whole
		// seconds, plus a margin. This waits for a moment in time, not for
		// an event.
		time.Sleep(time.Until(published.Add(2500 * time.Millisecond)))
		pub.send(publishV5("pe/end", 0, false, 0, nil, "end"))

		got := 0
		for {
			p := sub.next()
			if p[0]&0xF0 != tPUBLISH {
				continue
			}
			if parsePublish(t, p, true).topic == "pe/end" {
				break
			}
			got++
		}
		dropped := waitSysValue(t, s, "$SYS/broker/publish/messages/dropped", int64(n-got))
		t.Logf("%s: %d published, %d received, %d dropped", s.name, n, got, dropped)
		if !s.isMosquitto() && dropped == 0 {
			t.Errorf("nothing expired in the write queue; the test needs more data")
		}
	})
}

// waitSysValue subscribes to a $SYS topic on s and waits up to 3
// sys_interval periods (sys_interval 1) for the value want; it fails with
// the last value seen. mqbroker publishes every period, mosquitto when
// the value changes (its retained copy is current).
func waitSysValue(t *testing.T, s *server, topic string, want int64) int64 {
	t.Helper()
	w := dialWire(t, s)
	w.connect(connectV5("pe-sys", true, 30, nil, nil), false, 0)
	w.send(subscribeV5(1, topic, 0))
	w.expect("SUBACK", []byte{tSUBACK, 4, 0, 1, 0, 0})
	deadline := time.Now().Add(3500 * time.Millisecond)
	last := int64(-1)
	for time.Now().Before(deadline) {
		p, err := w.read(time.Until(deadline))
		if err != nil {
			break
		}
		if p[0]&0xF0 != tPUBLISH {
			continue
		}
		pp := parsePublish(t, p, true)
		if v, err := strconv.ParseInt(pp.payload, 10, 64); err == nil && pp.topic == topic {
			last = v
			if v == want {
				return v
			}
		}
	}
	t.Errorf("%s on %s: %d, want %d (the messages not received)", topic, s.name, last, want)
	return last
}
