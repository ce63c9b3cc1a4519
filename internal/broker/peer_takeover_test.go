package broker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// Session takeover with the Paho clients, against mqbroker and mosquitto.
//
// [MQTT-3.1.4-3] a second connection with the same client id closes the
// first (v5: DISCONNECT 0x8E Session taken over first, section 3.14.2.1).
// [MQTT-3.1.2-4]/[MQTT-3.1.2-5] (3.1.1 [MQTT-3.1.2-6]): with clean start
// the old session is discarded, otherwise resumed; [MQTT-3.2.2-2]/
// [MQTT-3.2.2-3] Session Present says which. A session that was opened
// with clean session 1 (v5: expiry 0) ends with its connection
// [MQTT-3.1.2-6], so a takeover cannot resume it.

func TestPeerTakeoverV311(t *testing.T) {
	cases := []struct {
		name         string
		first, clean bool // clean session of the first and second connection
		present      bool
	}{
		{name: "durable-then-durable", first: false, clean: false, present: true},
		{name: "durable-then-clean", first: false, clean: true, present: false},
		{name: "clean-then-durable", first: true, clean: false, present: false}, // issue 11 item 4
		{name: "clean-then-clean", first: true, clean: true, present: false},
	}
	eachServer(t, anonConf, func(t *testing.T, s *server) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				id := "take-" + tc.name
				topic := "take/" + tc.name
				a := v3connect(t, s, id, tc.first)
				a.sub(t, topic, 1)
				b := v3connect(t, s, id, tc.clean)
				select {
				case <-a.lost:
				case <-time.After(peerTimeout):
					t.Fatal("the first connection was not closed by the takeover [MQTT-3.1.4-3]")
				}
				if b.present != tc.present {
					t.Errorf("session present %v, want %v", b.present, tc.present)
				}
				// Whether the subscription survived: publish to it, then
				// to a marker topic; the first message b gets tells.
				b.sub(t, topic+"/marker", 1)
				p := v3connect(t, s, id+"-pub", true)
				p.pub(t, topic, 1, false, "to the old subscription")
				p.pub(t, topic+"/marker", 1, false, "marker")
				m := b.recv(t)
				got := m.Topic() == topic
				if got != tc.present {
					t.Errorf("after takeover the old subscription delivered=%v, want %v (first message %s)",
						got, tc.present, m.Topic())
				}
			})
		}
	})
}

func TestPeerTakeoverV5(t *testing.T) {
	cases := []struct {
		name          string
		first, second uint32 // session expiry of each connection
		clean         bool   // clean start of the second
		present       bool
	}{
		{name: "resume", first: 60, second: 60, clean: false, present: true},
		{name: "clean-start", first: 60, second: 60, clean: true, present: false},
		{name: "expiry-0-then-resume", first: 0, second: 60, clean: false, present: false}, // issue 11 item 4
	}
	eachServer(t, anonConf, func(t *testing.T, s *server) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				id := "take5-" + tc.name
				topic := "take5/" + tc.name
				a := v5connect(t, s, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30,
					Properties: &paho.ConnectProperties{SessionExpiryInterval: u32p(tc.first)}}, nil)
				a.sub(t, topic, 1)
				b := v5connect(t, s, &paho.Connect{ClientID: id, CleanStart: tc.clean, KeepAlive: 30,
					Properties: &paho.ConnectProperties{SessionExpiryInterval: u32p(tc.second)}}, nil)
				// The close is the MUST; mqbroker sends DISCONNECT 0x8E
				// before it (section 4.13), mosquitto 2.0.11 only closes.
				select {
				case d := <-a.disc:
					if d.ReasonCode != 0x8E {
						t.Errorf("DISCONNECT reason 0x%02X, want 0x8E Session taken over", d.ReasonCode)
					}
				case err := <-a.errs:
					if !s.isMosquitto() {
						t.Errorf("connection closed (%v) without DISCONNECT 0x8E Session taken over", err)
					}
				case <-time.After(peerTimeout):
					t.Fatal("the first connection was not closed by the takeover [MQTT-3.1.4-3]")
				}
				if b.ack.SessionPresent != tc.present {
					t.Errorf("session present %v, want %v", b.ack.SessionPresent, tc.present)
				}
				b.sub(t, topic+"/marker", 1)
				p := v5connect(t, s, &paho.Connect{ClientID: id + "-pub", CleanStart: true, KeepAlive: 30}, nil)
				p.pub(t, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("old")})
				p.pub(t, &paho.Publish{Topic: topic + "/marker", QoS: 1, Payload: []byte("marker")})
				m := b.recv(t)
				if got := m.Topic == topic; got != tc.present {
					t.Errorf("old subscription delivered=%v, want %v (%s)", got, tc.present, fmt.Sprint(m.Topic))
				}
			})
		}
	})
}
