package broker_test

import (
	"testing"
)

// QoS 2 across reconnects, with a wire client (3.1.1 and 5.0): "When a
// Client reconnects with CleanSession set to 0, both the Client and
// Server MUST re-send any unacknowledged PUBLISH Packets (where QoS > 0)
// and PUBREL Packets using their original Packet Identifiers"
// [MQTT-4.4.0-1] (5.0: [MQTT-4.4.0-1] with Clean Start 0), the DUP flag
// set on a re-sent PUBLISH [MQTT-3.3.1-1]; and the receiver of a QoS 2
// PUBLISH must not deliver it twice [MQTT-4.3.3-10]/(5.0 [MQTT-4.3.3-12]).

// wv holds the packet builders of one protocol version.
type wv struct {
	name    string
	v5      bool
	connect func(id string, clean bool) []byte
	sub     func(pid int, filter string, qos byte) []byte
	publish func(topic string, qos byte, pid int, payload string) []byte
}

var wireVersions = []wv{
	{
		name:    "v3.1.1",
		connect: func(id string, clean bool) []byte { return connectV311(id, clean, 60) },
		sub:     subscribeV311,
		publish: func(topic string, qos byte, pid int, payload string) []byte {
			return publishV311(topic, qos, false, pid, payload)
		},
	},
	{
		name: "v5",
		v5:   true,
		connect: func(id string, clean bool) []byte {
			return connectV5(id, clean, 60, props(propU32(pSessionExpiry, 300)), nil)
		},
		sub: func(pid int, filter string, qos byte) []byte { return subscribeV5(pid, filter, qos) },
		publish: func(topic string, qos byte, pid int, payload string) []byte {
			return publishV5(topic, qos, false, pid, nil, payload)
		},
	},
}

// expectAck receives an acknowledgement of type first for pid with
// reason Success, in either form 5.0 allows (section 3.4.2.1: the reason
// code and properties may be omitted when 0), or, for PUBACK and PUBREC,
// 0x10 No matching subscribers (also a success, section 3.4.2.1).
func (w *wire) expectAck(what string, first byte, pid int) {
	w.t.Helper()
	got := w.next()
	short := ack(first, pid)
	ok := string(got) == string(short)
	for _, rc := range []byte{0, 0x10} {
		if rc == 0x10 && first != tPUBACK && first != tPUBREC {
			continue
		}
		ok = ok || string(got) == string(cat([]byte{first, 3}, u16(pid), []byte{rc})) ||
			string(got) == string(cat([]byte{first, 4}, u16(pid), []byte{rc, 0}))
	}
	if !ok {
		w.t.Fatalf("%s: got % x, want % x", what, got, short)
	}
}

// subscribed connects a subscriber and subscribes to filter at qos.
func subscribed(t *testing.T, s *server, v wv, id string, clean bool, filter string, qos byte) *wire {
	w := dialWire(t, s)
	w.connect(v.connect(id, clean), false, 0)
	w.send(v.sub(1, filter, qos))
	sa := w.expectType("SUBACK", tSUBACK)
	if sa[len(sa)-1] != qos {
		t.Fatalf("SUBACK % x, want QoS %d granted", sa, qos)
	}
	return w
}

// publishQoS2 completes a QoS 2 publish from a fresh clean client.
func publishQoS2(t *testing.T, s *server, v wv, topic, payload string) {
	p := dialWire(t, s)
	p.connect(v.connect("q2-src", true), false, 0)
	p.send(v.publish(topic, 2, 10, payload))
	p.expectAck("PUBREC", tPUBREC, 10)
	p.send(ack(tPUBREL, 10))
	p.expectAck("PUBCOMP", tPUBCOMP, 10)
	p.send([]byte{tDISCONNECT, 0})
}

func TestPeerQoS2RedeliveryToSubscriber(t *testing.T) {
	eachServer(t, anonConf, func(t *testing.T, s *server) {
		for _, v := range wireVersions {
			t.Run(v.name, func(t *testing.T) {
				id, topic := "q2-sub-"+v.name, "q2/out/"+v.name
				sub := subscribed(t, s, v, id, false, topic, 2)
				publishQoS2(t, s, v, topic, "exactly once")
				first := parsePublish(t, sub.expectType("PUBLISH", tPUBLISH), v.v5)
				if first.qos != 2 || first.dup || first.topic != topic || first.payload != "exactly once" {
					t.Fatalf("first delivery: %s", first)
				}
				sub.nc.Close() // no PUBREC: unacknowledged

				// Reconnect: the PUBLISH again, same id, DUP set.
				sub = dialWire(t, s)
				sub.connect(v.connect(id, false), true, 0)
				again := parsePublish(t, sub.expectType("re-sent PUBLISH", tPUBLISH), v.v5)
				if again.pid != first.pid || !again.dup || again.qos != 2 || again.payload != first.payload || again.topic != topic {
					t.Fatalf("re-sent %s, want the same packet id %d with DUP=1 [MQTT-4.4.0-1] [MQTT-3.3.1-1]", again, first.pid)
				}
				sub.send(ack(tPUBREC, first.pid))
				sub.expectAck("PUBREL", tPUBREL, first.pid)
				sub.nc.Close() // no PUBCOMP

				// Reconnect: the PUBREL again, not the PUBLISH.
				sub = dialWire(t, s)
				sub.connect(v.connect(id, false), true, 0)
				sub.expectAck("re-sent PUBREL", tPUBREL, first.pid)
				sub.send(ack(tPUBCOMP, first.pid))
				if extra := sub.ping(); len(extra) > 0 {
					t.Fatalf("after PUBCOMP: % x", extra)
				}
				// The flow is over: the next message is a new one.
				publishQoS2(t, s, v, topic, "next")
				next := parsePublish(t, sub.expectType("PUBLISH", tPUBLISH), v.v5)
				if next.dup || next.payload != "next" {
					t.Errorf("next delivery %s", next)
				}
			})
		}
	})
}

func TestPeerQoS2RedeliveryFromPublisher(t *testing.T) {
	eachServer(t, anonConf, func(t *testing.T, s *server) {
		for _, v := range wireVersions {
			t.Run(v.name, func(t *testing.T) {
				id, topic := "q2-pub-"+v.name, "q2/in/"+v.name
				sub := subscribed(t, s, v, "q2-watch-"+v.name, true, topic, 2)

				// 1. PUBLISH, connection lost before the PUBREC was read.
				p := dialWire(t, s)
				p.connect(v.connect(id, false), false, 0)
				p.send(v.publish(topic, 2, 7, "once"))
				p.nc.Close()
				p = dialWire(t, s)
				p.connect(v.connect(id, false), true, 0)
				dup := v.publish(topic, 2, 7, "once")
				dup[0] |= 0x08 // DUP [MQTT-3.3.1-1]
				p.send(dup)
				p.expectAck("PUBREC for the re-sent PUBLISH", tPUBREC, 7)
				p.send(ack(tPUBREL, 7))
				p.expectAck("PUBCOMP", tPUBCOMP, 7)

				// 2. PUBLISH, PUBREC, PUBREL, lost before the PUBCOMP.
				p.send(v.publish(topic, 2, 8, "twice?"))
				p.expectAck("PUBREC", tPUBREC, 8)
				p.send(ack(tPUBREL, 8))
				p.nc.Close()
				p = dialWire(t, s)
				p.connect(v.connect(id, false), true, 0)
				p.send(ack(tPUBREL, 8))
				// 5.0 allows 0x92 Packet Identifier not found here: "This
				// is not an error during recovery" (section 3.7.2.1);
				// mqbroker, which released the id on the first PUBREL,
				// says so, mosquitto answers Success.
				if pc := p.next(); !v.v5 || string(pc) != string([]byte{tPUBCOMP, 3, 0, 8, 0x92}) {
					if string(pc) != string(ack(tPUBCOMP, 8)) && string(pc) != string([]byte{tPUBCOMP, 3, 0, 8, 0}) {
						t.Fatalf("PUBCOMP for the re-sent PUBREL: % x", pc)
					}
				}

				// The subscriber got each message exactly once.
				var got []string
				for _, b := range sub.ping() {
					m := parsePublish(t, b, v.v5)
					got = append(got, m.payload)
					if m.qos == 2 {
						sub.send(ack(tPUBREC, m.pid))
						sub.expectAck("PUBREL", tPUBREL, m.pid)
						sub.send(ack(tPUBCOMP, m.pid))
					}
				}
				if len(got) != 2 || got[0] != "once" || got[1] != "twice?" {
					t.Errorf("subscriber received %q, want [once twice?] [MQTT-4.3.3-10]", got)
				}
			})
		}
	})
}
