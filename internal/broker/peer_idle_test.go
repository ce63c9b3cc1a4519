package broker_test

import (
	"testing"
	"time"
)

// idleSpell is longer than mqbroker's trimAfter (1 s): the event loop's
// sweep has released what idle connections and sessions do not need
// (issue 17), and must have kept what they hold.
const idleSpell = 1500 * time.Millisecond

// QoS state held across an idle spell, on both brokers: a QoS 2 packet id
// awaiting its PUBREL (a re-sent PUBLISH is acknowledged, not delivered
// again [MQTT-4.3.3-9]; the PUBREL gets PUBCOMP with Success
// [MQTT-4.3.3-11]) and a message sent to a subscriber and not
// acknowledged (re-sent with its packet id and DUP when the session
// resumes [MQTT-4.4.0-1] [MQTT-3.3.1-1]).
func TestPeerQoSStateAcrossIdle(t *testing.T) {
	eachServer(t, anonConf, func(t *testing.T, s *server) {
		for _, v := range wireVersions {
			t.Run(v.name, func(t *testing.T) {
				id, topic := "idle-sub-"+v.name, "idle/"+v.name
				sub := subscribed(t, s, v, id, false, topic, 2)
				p := dialWire(t, s)
				p.connect(v.connect("idle-pub-"+v.name, true), false, 0)
				p.send(v.publish(topic, 2, 21, "held"))
				p.expectAck("PUBREC", tPUBREC, 21)
				p.nothing("idle spell", idleSpell) // both clients silent

				dup := v.publish(topic, 2, 21, "held")
				dup[0] |= 0x08 // DUP [MQTT-3.3.1-1]
				p.send(dup)
				p.expectAck("PUBREC for the re-sent PUBLISH", tPUBREC, 21)
				p.send(ack(tPUBREL, 21))
				p.expectAck("PUBCOMP after the idle spell", tPUBCOMP, 21)

				got := sub.ping()
				if len(got) != 1 {
					t.Fatalf("subscriber received %d packets, want the message once [MQTT-4.3.3-9]: % x", len(got), got)
				}
				first := parsePublish(t, got[0], v.v5)
				if first.payload != "held" || first.qos != 2 {
					t.Fatalf("delivered %s", first)
				}
				sub.nc.Close() // not acknowledged

				sub = dialWire(t, s)
				sub.connect(v.connect(id, false), true, 0)
				again := parsePublish(t, sub.expectType("re-sent PUBLISH", tPUBLISH), v.v5)
				if again.pid != first.pid || !again.dup || again.payload != "held" {
					t.Fatalf("re-sent %s, want packet id %d with DUP=1 [MQTT-4.4.0-1]", again, first.pid)
				}
				sub.send(ack(tPUBREC, again.pid))
				sub.expectAck("PUBREL", tPUBREL, again.pid)
				sub.send(ack(tPUBCOMP, again.pid))
				if extra := sub.ping(); len(extra) > 0 {
					t.Fatalf("after PUBCOMP: % x", extra)
				}
			})
		}
	})
}
