package broker

import (
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// A message whose topic is not below the mount point of its subscriber's
// listener (a session that subscribed through another listener) is not
// sent (mount.go) and is counted as dropped, reason other, in /metrics
// and in $SYS/broker/publish/messages/dropped: not as too large.

// mountedQoS0Outside makes a durable session (id) subscribe to "#" on the
// plain listener and resume on the mounted one, then publishes a QoS 0
// message outside the mount point and one inside: only the one inside
// arrives.
func mountedQoS0Outside(t *testing.T, plainAddr, mountAddr, id string) {
	t.Helper()
	c, _ := mustConnect(t, plainAddr, durableConnect(mqtt.V5, id, 300))
	c.subscribe("#", 0)
	c.disconnect()
	c, ack := mustConnect(t, mountAddr, durableConnect(mqtt.V5, id, 300))
	if !ack.SessionPresent {
		t.Fatal("session not present")
	}
	pub := connectClient(t, plainAddr, mqtt.V5, id+"-pub")
	pub.publish("other/"+id, "outside", 0, false)
	pub.publish(testMount+id, "inside", 0, false)
	c.expectPublish(id, "inside")
	c.expectNothing()
	// Taken over with a clean start: the subscription made on the plain
	// listener goes.
	connectClient(t, plainAddr, mqtt.V5, id)
}

// dropDelta returns the /metrics drop counts and the $SYS dropped count
// since before (a snapshot of b.Metrics()).
func dropDelta(b *Broker, before Metrics) (by [numDrops]int64, sys int64) {
	m := b.Metrics()
	for i := range by {
		by[i] = m.Dropped[i] - before.Dropped[i]
	}
	return by, m.PublishDropped - before.PublishDropped
}

// TestMountPointDropReason: every way a message outside the mount point
// is dropped is counted as reason other: a live QoS 0 delivery (refused
// by fits, deliverFlow), a QoS 1 message in the inflight window on resume
// (dropUnsendable), one queued while the session was offline (fill) and a
// live QoS 1 delivery (session.push). Each QoS 1 one is logged with the
// reason.
func TestMountPointDropReason(t *testing.T) {
	logs := newLogCapture()
	b, plainAddr, mountAddr := newMountBroker(t, Options{Logger: logs.logger(), MaxInflight: 1})
	check := func(step string, before Metrics, want int64) {
		t.Helper()
		by, sys := dropDelta(b, before)
		var others int64
		for i, n := range by {
			if i != DropOther {
				others += n
			}
		}
		if by[DropOther] != want || others != 0 || sys != want {
			t.Errorf("%s: /metrics dropped %v (%v), $SYS dropped %d; want %d as %s only, in both",
				step, by, DropReasons, sys, want, DropReasons[DropOther])
		}
	}

	before := b.Metrics()
	mountedQoS0Outside(t, plainAddr, mountAddr, "m0")
	check("live QoS 0", before, 1)

	const id = "m1"
	c, _ := mustConnect(t, plainAddr, durableConnect(mqtt.V5, id, 300))
	c.subscribe("#", 1)
	pub := connectClient(t, plainAddr, mqtt.V5, "m1-pub")
	pub.publish("other/1", "inflight outside", 1, false)
	c.expectPublishNoAck("other/1", "inflight outside")
	c.nc.Close()
	waitOffline(t, b, id)
	pub.publish("other/2", "queued outside", 1, false)
	before = b.Metrics()
	c, ack := mustConnect(t, mountAddr, durableConnect(mqtt.V5, id, 300))
	if !ack.SessionPresent {
		t.Fatal("session not present")
	}
	pub.publish(testMount+"k", "inside", 1, false)
	c.expectPublish("k", "inside")
	check("QoS 1 inflight and queued on resume", before, 2)

	before = b.Metrics()
	pub.publish("other/3", "live outside", 1, false)
	pub.publish(testMount+"l", "live inside", 1, false)
	c.expectPublish("l", "live inside")
	c.expectNothing()
	check("live QoS 1", before, 1)

	for _, n := range []string{"1", "2", "3"} {
		line := "Dropped message for client " + id + " on 'other/" + n + "': " + whyOutsideMount + "."
		if !logs.has(line) {
			t.Errorf("not logged: %q", line)
		}
	}
}
