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
