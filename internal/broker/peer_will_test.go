package broker_test

import (
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// Will Delay Interval (MQTT 5.0 section 3.1.3.2.2): "The Server delays
// publishing the Client's Will Message until the Will Delay Interval has
// passed or the Session ends, whichever happens first. If a new Network
// Connection to this Session is made before the Will Delay Interval has
// passed, the Server MUST NOT send the Will Message" [MQTT-3.1.3-9].
//
// The wills are sent by wire clients closed abruptly (no DISCONNECT) and
// watched by a paho.golang subscriber. mosquitto 2.0.11 keeps its will
// delay clock in whole seconds (mosquitto_time()), so a will may leave it
// up to one second early; the lower bound is the exact delay for
// mqbroker and one second less for mosquitto.

// willSlack is how late a delayed will may arrive on a busy machine.
const willSlack = 1500 * time.Millisecond

func willEarly(s *server) time.Duration {
	if s.isMosquitto() {
		return time.Second
	}
	return 50 * time.Millisecond
}

// TestPeerWillDelayExpiresWhileSessionLives: two clients with a 2 s will
// delay and a 60 s session close abruptly at the same moment; one of them
// reconnects to its session after about half a second. The other one's
// will arrives 2 s after its close (not before, not much later); the
// reconnected one's never does.
func TestPeerWillDelayExpiresWhileSessionLives(t *testing.T) {
	const delay = 2 * time.Second
	eachServer(t, anonConf, func(t *testing.T, s *server) {
		t.Parallel()
		watch := v5connect(t, s, &paho.Connect{ClientID: "will-watch", CleanStart: true, KeepAlive: 30}, nil)
		watch.sub(t, "will/#", 1)
		wp := props(propU32(pWillDelay, uint32(delay/time.Second)))
		cp := props(propU32(pSessionExpiry, 60))
		gone := dialWire(t, s)
		gone.connect(connectV5("will-gone", true, 30, cp, &willV5{topic: "will/gone", payload: "bye", qos: 1, props: wp}), false, 0)
		back := dialWire(t, s)
		back.connect(connectV5("will-back", true, 30, cp, &willV5{topic: "will/back", payload: "bye", qos: 1, props: wp}), false, 0)
		gone.ping() // both CONNECTs handled
		back.ping()
		closed := time.Now()
		gone.nc.Close()
		back.nc.Close()

		// Reconnect "will-back" to its session before its delay passes.
		time.Sleep(delay / 4) // a point well inside the delay, not a wait for an event
		again := dialWire(t, s)
		again.connect(connectV5("will-back", false, 30, cp, nil), true, 0)

		m := watch.recv(t)
		got := time.Since(closed)
		if m.Topic != "will/gone" {
			t.Fatalf("got will %s, want will/gone: a reconnect before the Will Delay Interval must cancel the will [MQTT-3.1.3-9]", m.Topic)
		}
		within(t, "delayed will", got, delay-willEarly(s), delay+willSlack)
		// The reconnected session's will would be due now; it never comes.
		select {
		case m := <-watch.msgs:
			t.Fatalf("will %s sent although its session was resumed within the delay [MQTT-3.1.3-9]", m.Topic)
		case <-time.After(time.Until(closed.Add(delay + willSlack))):
		}
	})
}

// TestPeerWillDelayCutShortBySessionEnd: the will delay (30 s) is longer
// than the session (1 s): the will is published when the session ends,
// about 1 s after the close (MQTT 5.0 section 3.1.3.2.2; mosquitto
// sends it at session expiry too).
func TestPeerWillDelayCutShortBySessionEnd(t *testing.T) {
	const expiry = time.Second
	eachServer(t, anonConf, func(t *testing.T, s *server) {
		t.Parallel()
		watch := v5connect(t, s, &paho.Connect{ClientID: "will-watch", CleanStart: true, KeepAlive: 30}, nil)
		watch.sub(t, "will/#", 1)
		w := dialWire(t, s)
		w.connect(connectV5("will-short", true, 30, props(propU32(pSessionExpiry, uint32(expiry/time.Second))),
			&willV5{topic: "will/short", payload: "session over", qos: 1, props: props(propU32(pWillDelay, 30))}), false, 0)
		w.ping()
		closed := time.Now()
		w.nc.Close()
		m := watch.expect(t, "will/short", "session over")
		_ = m
		within(t, "will at session end", time.Since(closed), expiry-willEarly(s), expiry+willSlack)
	})
}

// TestPeerWillWithoutDelay: with no delay the will is published at once
// on an abrupt close, not at all after a normal DISCONNECT
// [MQTT-3.1.2-8] [MQTT-3.1.2-10] (5.0: [MQTT-3.1.2-8], [MQTT-3.14.4-3]),
// and after a v5 DISCONNECT 0x04 Disconnect with Will Message.
func TestPeerWillWithoutDelay(t *testing.T) {
	eachServer(t, anonConf, func(t *testing.T, s *server) {
		watch := v3connect(t, s, "will-watch3", true)
		watch.sub(t, "will3/#", 1)
		polite := dialWire(t, s)
		polite.connect(cat(connectWithWillV311("will-polite", "will3/polite", "bye")), false, 0)
		polite.send([]byte{tDISCONNECT, 0})
		polite.closed(peerTimeout)
		rude := dialWire(t, s)
		rude.connect(connectWithWillV311("will-rude", "will3/rude", "gone"), false, 0)
		rude.nc.Close()
		watch.expect(t, "will3/rude", "gone") // and not will3/polite before it

		// 5.0: DISCONNECT with reason 0x04 Disconnect with Will Message
		// keeps the will and it is published (section 3.14.2.1).
		v5 := dialWire(t, s)
		v5.connect(connectV5("will-v5", true, 30, nil, &willV5{topic: "will3/v5", payload: "asked for", qos: 1}), false, 0)
		v5.send([]byte{tDISCONNECT, 1, 0x04})
		v5.closed(peerTimeout)
		watch.expect(t, "will3/v5", "asked for")
	})
}

// connectWithWillV311 is a 3.1.1 CONNECT (clean session) with a QoS 1 will.
func connectWithWillV311(id, topic, payload string) []byte {
	return pkt(tCONNECT, str("MQTT"), []byte{4, 0x02 | 0x04 | 1<<3}, u16(30), str(id), str(topic), str(payload))
}
