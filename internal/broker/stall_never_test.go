package broker

import "testing"

// TestStallTimeoutNegativeNeverWaits: with a negative StallTimeout
// publishers never wait for a full subscriber (Options.StallTimeout):
// QoS 0 messages beyond MaxQueued are dropped at once, counted as
// slow_consumer, instead of being queued beyond it.
func TestStallTimeoutNegativeNeverWaits(t *testing.T) {
	b, addr := newTestBroker(t, Options{MaxQueued: 2, StallTimeout: -1})
	floodFullSubscriber(t, addr, "never")
	m := b.Metrics()
	if d := m.Dropped[DropSlowConsumer]; d == 0 {
		t.Errorf("no QoS 0 message dropped as slow_consumer (dropped %v): publishers waited or queued beyond MaxQueued", m.Dropped)
	}
}
