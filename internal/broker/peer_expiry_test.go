package broker_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// Message Expiry Interval (MQTT 5.0 section 3.3.2.3.3): "If the Message
// Expiry Interval has passed and the Server has not managed to start
// onward delivery to a matching subscriber, then it MUST delete the copy
// of the message for that subscriber" [MQTT-3.3.2-5]; a message sent on
// carries the interval minus the time it waited [MQTT-3.3.2-6]. Retained
// messages expire too (section 3.3.1.3).
func TestPeerMessageExpiry(t *testing.T) {
	eachServer(t, anonConf, func(t *testing.T, s *server) {
		t.Parallel()
		cp := &paho.Connect{ClientID: "exp-sub", CleanStart: true, KeepAlive: 30,
			Properties: &paho.ConnectProperties{SessionExpiryInterval: u32p(300)}}
		sub := v5connect(t, s, cp, nil)
		sub.sub(t, "exp/#", 1)
		if err := sub.c.Disconnect(&paho.Disconnect{}); err != nil {
			t.Fatal(err)
		}

		published := time.Now()
		for _, m := range []struct{ topic, expiry string }{
			{"exp/short", "1"}, {"exp/long", "60"},
		} {
			runTool(t, s, "mosquitto_pub", "-V", "5", "-q", "1", "-t", m.topic, "-m", m.expiry,
				"-D", "publish", "message-expiry-interval", m.expiry)
			runTool(t, s, "mosquitto_pub", "-V", "5", "-q", "1", "-r", "-t", "ret/"+m.topic, "-m", m.expiry,
				"-D", "publish", "message-expiry-interval", m.expiry)
		}
		// Let the short ones expire: 1 s, plus one for mosquitto's clock
		// in whole seconds, plus a margin. This waits for a moment in
		// time, not for an event.
		time.Sleep(time.Until(published.Add(2500 * time.Millisecond)))

		cp.CleanStart = false
		again := v5connect(t, s, cp, nil)
		if !again.ack.SessionPresent {
			t.Fatal("session not present")
		}
		m := again.expect(t, "exp/long", "60")
		if m.Properties == nil || m.Properties.MessageExpiry == nil {
			t.Fatalf("queued message without its Message Expiry Interval [MQTT-3.3.2-6]")
		}
		if e := *m.Properties.MessageExpiry; e < 55 || e > 58 {
			t.Errorf("Message Expiry Interval %d after waiting 2.5 s, want 60 minus the wait [MQTT-3.3.2-6]", e)
		}
		// Nothing else was queued: a marker comes next, not exp/short.
		p := v5connect(t, s, &paho.Connect{ClientID: "exp-pub", CleanStart: true, KeepAlive: 30}, nil)
		p.pub(t, &paho.Publish{Topic: "exp/marker", QoS: 1, Payload: []byte("m")})
		again.expect(t, "exp/marker", "m")

		// Retained: the expired one is gone, the other one carries the
		// remaining interval.
		w := dialWire(t, s)
		w.connect(connectV5("exp-ret", true, 30, nil, nil), false, 0)
		w.send(subscribeV5(1, "ret/#", 1))
		w.expect("SUBACK", []byte{tSUBACK, 4, 0, 1, 0, 1})
		got := w.ping()
		if len(got) != 1 {
			t.Fatalf("retained messages after expiry: % x, want only ret/exp/long", got)
		}
		rp := parsePublish(t, got[0], true)
		e, ok := prop(t, rp.props, pMessageExpiry)
		if rp.topic != "ret/exp/long" || !rp.retain || !ok {
			t.Fatalf("retained %s", rp)
		}
		if n := binary.BigEndian.Uint32(e); n < 55 || n > 58 {
			t.Errorf("retained message expiry %d, want 60 minus the wait", n)
		}
	})
}
