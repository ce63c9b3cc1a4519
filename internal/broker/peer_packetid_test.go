package broker_test

import (
	"fmt"
	"testing"
)

// Packet identifiers of the messages a broker sends to a durable session
// go on from where the session left them, across reconnects and across a
// restart of the broker with an on-disk store: mosquitto 2.0 keeps a
// client's last_mid with its session (copied on resume, saved in
// mosquitto.db), and packet traces and test suites written against it
// expect 1, 2, 3, then 4 after a reconnect, not 1 again (issue 11,
// "prefer mosquitto's"). The spec allows either: an identifier is free
// once its flow completed [MQTT-2.2.1-3]. A clean session starts again
// at 1 (its state is not reused [MQTT-3.1.2-6]).
func TestPeerPacketIDsContinuePerSession(t *testing.T) {
	for _, v := range wireVersions {
		t.Run(v.name, func(t *testing.T) {
			// One broker per version: restart belongs to the test that
			// started it.
			eachServer(t, persistConf, func(t *testing.T, s *server) {
				id := "pid-sub-" + v.name
				topic := "pid/" + v.name
				// recv publishes one QoS 1 message and checks the id the
				// subscriber gets it with; it acknowledges it.
				n := 0
				recv := func(sub *wire, want int) {
					t.Helper()
					n++
					pub := dialWire(t, s)
					pub.connect(v.connect(fmt.Sprintf("pid-pub-%s-%d", v.name, n), true), false, 0)
					pub.send(v.publish(topic, 1, 7, fmt.Sprint("m", n)))
					pub.expectAck("PUBACK", tPUBACK, 7)
					pub.send([]byte{tDISCONNECT, 0})
					m := parsePublish(t, sub.expectType("PUBLISH", tPUBLISH), v.v5)
					if m.pid != want {
						t.Errorf("message %d: packet id %d, want %d", n, m.pid, want)
					}
					sub.send(ack(tPUBACK, m.pid))
				}
				bye := func(w *wire) {
					t.Helper()
					w.send([]byte{tDISCONNECT, 0})
					w.closed(peerTimeout)
				}
				sub := subscribed(t, s, v, id, false, topic, 1)
				for i := 1; i <= 3; i++ {
					recv(sub, i)
				}
				sub.ping() // the last PUBACK is handled
				bye(sub)

				sub = dialWire(t, s)
				sub.connect(v.connect(id, false), true, 0)
				recv(sub, 4) // not 1: the session's numbering goes on
				sub.ping()
				bye(sub)

				s.restart(t, false)
				sub = dialWire(t, s)
				sub.connect(v.connect(id, false), true, 0)
				recv(sub, 5) // after a restart too
				sub.ping()
				bye(sub)

				// A new session (clean start) begins at 1.
				sub = dialWire(t, s)
				sub.connect(v.connect(id, true), false, 0)
				sub.send(v.sub(1, topic, 1))
				sub.expectType("SUBACK", tSUBACK)
				recv(sub, 1)
			})
		})
	}
}
