package broker

import (
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// trimIdle drops the Framer and the queue's arrays of an idle connection,
// and nothing of one with input held.
func TestTrimIdle(t *testing.T) {
	b := &Broker{}
	c := &conn{b: b, fr: mqtt.NewFramer(0), oq: &outQueue{items: make([]outItem, 0, 1), spare: make([]outItem, 0, 1)}}
	if !c.trimIdle() || c.fr != nil || c.oq != nil {
		t.Errorf("idle conn not trimmed: fr %v, queue %v", c.fr != nil, c.oq != nil)
	}

	c = &conn{b: b, fr: mqtt.NewFramer(0)}
	sp := c.fr.Space()
	sp[0] = 0xc0 // PINGREQ, half received
	c.fr.Commit(1)
	if c.trimIdle() || c.fr == nil {
		t.Error("conn with buffered input trimmed")
	}

	c = &conn{b: b, fr: mqtt.NewFramer(0), oq: &outQueue{items: make([]outItem, 1)}}
	if !c.trimIdle() || c.oq == nil || len(c.oq.items) != 1 {
		t.Error("conn with queued output lost its queue")
	}

	// Someone waits for room or for the close: the channels stay.
	for _, q := range []*outQueue{{room: make(chan struct{})}, {closed: make(chan struct{})}} {
		c = &conn{b: b, oq: q}
		if !c.trimIdle() || c.oq != q {
			t.Error("conn with a waiter lost its queue's channels")
		}
	}
}

// Connections silent for trimAfter are trimmed by the loop, and work as
// before afterwards: the next input gets a new Framer.
func TestLoopTrimsIdleConnections(t *testing.T) {
	b, addr := newTestBroker(t, Options{})
	sub := connectClient(t, addr, mqtt.V311, "trim-sub")
	sub.subscribe("trim/t", 1)
	pub := connectClient(t, addr, mqtt.V5, "trim-pub")
	if b.loop == nil {
		t.Skip("no event loop")
	}
	deadline := time.Now().Add(trimAfter + testTimeout)
	for b.loop.trims.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections trimmed %v after they fell silent, want 2", b.loop.trims.Load(), trimAfter+testTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if rc := pub.publish("trim/t", "after", 1, false); rc != mqtt.Success {
		t.Fatalf("PUBACK %v", rc)
	}
	sub.expectPublish("trim/t", "after")
	sub.roundTrip()
	pub.roundTrip()
}
