package broker

import (
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// TestStallTimeoutNegativeNeverWaits: with a negative StallTimeout
// publishers never wait for a full subscriber (Options.StallTimeout):
// QoS 0 messages beyond MaxQueued are dropped at once, counted as
// slow_consumer, instead of being queued beyond it.
func TestStallTimeoutNegativeNeverWaits(t *testing.T) {
	b, addr := newTestBroker(t, Options{MaxQueued: 2, StallTimeout: -1})
	sub := dialSmallWindow(t, addr, mqtt.V5) // connects, subscribes, then does not read
	sub.connect(connectPacket(mqtt.V5, "never", true))
	sub.subscribe("never/#", 0)
	pub := connectClient(t, addr, mqtt.V5, "never-pub")
	payload := make([]byte, 32<<10)
	for range 300 {
		pub.send(&mqtt.Publish{Topic: "never/data", Payload: payload})
	}
	pub.roundTrip()
	m := b.Metrics()
	if d := m.Dropped[DropSlowConsumer]; d == 0 {
		t.Errorf("no QoS 0 message dropped as slow_consumer (dropped %v): publishers waited or queued beyond MaxQueued", m.Dropped)
	}
}
