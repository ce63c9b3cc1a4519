package broker

import (
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// A message a shared-subscription member received but had not
// acknowledged when its session ended goes to another member of the
// group (MQTT 5.0 section 4.8.2: the Server SHOULD send it to another
// Client subscribed to the same Shared Subscription). Acknowledged
// publishers must not lose messages because one worker of a pool died.
func TestSharedRedeliveryWhenSessionEnds(t *testing.T) {
	for _, v := range []mqtt.Version{mqtt.V311, mqtt.V5} {
		t.Run(v.String(), func(t *testing.T) {
			b, addr := newTestBroker(t, Options{})
			a := connectClient(t, addr, v, "worker-a")
			a.subscribe("$share/pool/jobs/+", 1)
			pub := connectClient(t, addr, v, "producer")
			pub.publish("jobs/1", "job one", 1, false) // PUBACK: the broker owns it
			a.expectPublishNoAck("jobs/1", "job one")  // taken, never acknowledged
			other := connectClient(t, addr, v, "worker-b")
			other.subscribe("$share/pool/jobs/+", 1)
			a.nc.Close() // worker A dies; its clean session ends
			p := other.expectPublish("jobs/1", "job one")
			if p.QoS != 1 {
				t.Errorf("redelivered at QoS %d, want 1", p.QoS)
			}
			if n := b.stats.sharedRedelivered.Load(); n != 1 {
				t.Errorf("sharedRedelivered = %d, want 1", n)
			}
		})
	}
}

// A message the member refused with a v5 error code is discarded, not
// sent to another member [MQTT-4.8.2-6]; neither is a message the member
// acknowledged.
func TestSharedNoRedeliveryOfRefusedOrAcknowledged(t *testing.T) {
	b, addr := newTestBroker(t, Options{})
	a := dial(t, addr, mqtt.V5)
	cp := connectPacket(mqtt.V5, "worker-a", true)
	cp.Will = &mqtt.Will{Topic: "workers/a", Payload: []byte("gone")}
	a.connect(cp)
	a.subscribe("$share/pool/jobs/+", 1)
	pub := connectClient(t, addr, mqtt.V5, "producer")
	pub.publish("jobs/1", "refused", 1, false)
	p := a.expectPublishNoAck("jobs/1", "refused")
	a.send(&mqtt.Ack{Kind: mqtt.PUBACK, PacketID: p.PacketID, Code: mqtt.UnspecifiedError})
	pub.publish("jobs/2", "acknowledged", 1, false)
	a.expectPublish("jobs/2", "acknowledged") // acked by the helper
	a.roundTrip()                             // both acks handled
	other := connectClient(t, addr, mqtt.V5, "worker-b")
	other.subscribe("$share/pool/jobs/+", 1)
	other.subscribe("workers/+", 0)
	a.nc.Close()
	// The will is published after any redelivery (connGone): the first
	// packet B sees must be the will.
	other.expectPublish("workers/a", "gone")
	if n := b.stats.sharedRedelivered.Load(); n != 0 {
		t.Errorf("sharedRedelivered = %d, want 0", n)
	}
}
