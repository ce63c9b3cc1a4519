package broker

import (
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
	"github.com/mqkit/mqkit/internal/testnet"
)

// Drop and refusal counters of /metrics (Metrics) for the cases that are
// decided in the connection's I/O core.

// dialSmallWindow dials addr with a small receive buffer, so that what
// the broker writes to it piles up on the broker's side while the client
// does not read.
func dialSmallWindow(t *testing.T, addr string, v mqtt.Version) *tclient {
	t.Helper()
	nc := testnet.DialSmallWindow(t, addr, testTimeout)
	return newTClient(t, nc, v)
}

// floodFullSubscriber subscribes a v5 client with a 4 KiB receive window
// to id/# that never reads, and publishes 300 QoS 0 messages of 32 KiB to
// id/data from another client: far more than the socket and MaxQueued
// hold. It returns once the broker has handled every PUBLISH.
func floodFullSubscriber(t *testing.T, addr, id string) {
	t.Helper()
	sub := dialSmallWindow(t, addr, mqtt.V5)
	sub.connect(connectPacket(mqtt.V5, id, true))
	sub.subscribe(id+"/#", 0)
	pub := connectClient(t, addr, mqtt.V5, id+"-pub")
	payload := make([]byte, 32<<10)
	for range 300 {
		pub.send(&mqtt.Publish{Topic: id + "/data", Payload: payload})
	}
	pub.roundTrip()
}

// TestMetricsQoS0ExpiredBeforeWrite: QoS 0 messages whose Message Expiry
// Interval passes while they wait in a connection's write queue are not
// sent [MQTT-3.3.2-5] and are counted as dropped, reason expired: every
// message published is either received or counted.
func TestMetricsQoS0ExpiredBeforeWrite(t *testing.T) {
	b, addr, clock := newClockBroker(t, Options{})
	n, queued, got := expireInWriteQueue(t, b, addr, clock, "ex")
	expired := b.Metrics().Dropped[DropExpired]
	t.Logf("%d queued, %d received, %d expired", queued, got, expired)
	if expired == 0 || int64(got)+expired != int64(n) {
		t.Errorf("%d received + %d counted expired, want > 0 expired and %d in all", got, expired, n)
	}
}

// TestMetricsTooLargeForClient: a message larger than a v5 client's
// Maximum Packet Size is not sent [MQTT-3.1.2-24] [MQTT-3.1.2-25] and is
// counted as dropped, reason too_large (not slow_consumer), at QoS 0 as
// at QoS 1.
func TestMetricsTooLargeForClient(t *testing.T) {
	b, addr := newTestBroker(t, Options{})
	cp := connectPacket(mqtt.V5, "tl-sub", true)
	cp.Props.SetMaximumPacketSize(100)
	sub, _ := mustConnect(t, addr, cp)
	sub.subscribe("tl/#", 1)
	pub := connectClient(t, addr, mqtt.V5, "tl-pub")
	big := string(make([]byte, 200))
	pub.publish("tl/0", big, 0, false)
	pub.publish("tl/1", big, 1, false)
	pub.publish("tl/small", "ok", 0, false)
	sub.expectPublish("tl/small", "ok") // the big ones were skipped
	m := b.Metrics()
	if m.Dropped[DropTooLarge] != 2 || m.Dropped[DropSlowConsumer] != 0 {
		t.Errorf("dropped too_large %d, slow_consumer %d; want 2, 0", m.Dropped[DropTooLarge], m.Dropped[DropSlowConsumer])
	}
}

// TestMetricsRefusedUnsupportedVersion: a CONNECT with a protocol level
// the broker does not speak gets CONNACK 0x01 [MQTT-3.1.2-2] and counts
// as refused, reason unsupported_protocol_version.
func TestMetricsRefusedUnsupportedVersion(t *testing.T) {
	b, addr := newTestBroker(t, Options{})
	for _, level := range []byte{6, 2} {
		c := dial(t, addr, mqtt.V311)
		// CONNECT "MQTT" level, clean session, keep alive 0, empty client id.
		c.sendRaw([]byte{0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', level, 0x02, 0, 0, 0, 0})
		ack := expect[*mqtt.Connack](c)
		if ack.Code != mqtt.UnsupportedProtocolVersion {
			t.Fatalf("level %d: CONNACK %v, want 0x01", level, ack.Code)
		}
	}
	if n := b.Metrics().Refused["unsupported_protocol_version"]; n != 2 {
		t.Errorf("refused unsupported_protocol_version %d, want 2", n)
	}
}
