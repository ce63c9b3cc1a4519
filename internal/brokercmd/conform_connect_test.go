package brokercmd

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Issue 11 conformance cases about CONNECT, run against mqbroker and
// mosquitto 2.0.11 (twin_test.go).

const anonConf = "listener {port} 127.0.0.1\nallow_anonymous true\n"

// TestTwinTakeover: client id "dup" connected with CleanSession=1 and
// subscribed to t/x; a second connection "dup" with CleanSession=0 takes
// it over. The first session lasted as long as its network connection, so
// its state MUST NOT be reused [MQTT-3.1.2-6]: CONNACK 20 02 00 00 (v5:
// Session Present 0) and no message for the old subscription.
func TestTwinTakeover(t *testing.T) {
	twin(t, anonConf, func(t *testing.T, b *twinBroker) {
		for _, v := range []mqtt.Version{mqtt.V311, mqtt.V5} {
			t.Run(v.String(), func(t *testing.T) {
				id := "dup-" + v.String()
				old := twinLogin(t, b, v, id, true)
				old.subscribe("t/x/"+id, 1)
				nw := dialWire(t, b.addr(), v)
				p := &mqtt.Connect{Version: v, ClientID: id, KeepAlive: 60}
				if v == mqtt.V5 {
					p.Props.SetSessionExpiry(60)
				}
				ack := nw.connect(p)
				if v == mqtt.V311 && !bytes.Equal(ack, []byte{0x20, 2, 0, 0}) {
					t.Errorf("CONNACK % x, want 20 02 00 00", ack)
				}
				if ca := nw.decode(ack).(*mqtt.Connack); ca.SessionPresent || ca.Code != mqtt.Success {
					t.Errorf("CONNACK % x: want success without session present", ack)
				}
				old.closed()
				pub := twinLogin(t, b, v, "pub-"+id, true)
				pub.send(&mqtt.Publish{Topic: "t/x/" + id, Payload: []byte("m"), QoS: 1, PacketID: 5})
				pub.next() // PUBACK: routed
				if got := nw.sync(); len(got) != 0 {
					t.Errorf("the old clean session's subscription delivered % x", got)
				}
			})
		}
	})
}

// TestTwinV31ConnackFlags: MQTT 3.1 has no Session Present flag; the
// first byte of its CONNACK's variable header is reserved and 0 (MQTT 3.1
// CONNACK: "Reserved values. Not used."), even when a durable session is
// resumed. mosquitto 2.0.11 sends 20 02 00 00.
func TestTwinV31ConnackFlags(t *testing.T) {
	twin(t, anonConf, func(t *testing.T, b *twinBroker) {
		for i := 0; i < 2; i++ {
			w := dialWire(t, b.addr(), mqtt.V31)
			ack := w.connect(&mqtt.Connect{Version: mqtt.V31, ClientID: "durable31", KeepAlive: 60})
			if !bytes.Equal(ack, []byte{0x20, 2, 0, 0}) {
				t.Errorf("connect %d: CONNACK % x, want 20 02 00 00", i+1, ack)
			}
			w.write([]byte{0xe0, 0})
			w.closed()
		}
		// 3.1.1 does set it [MQTT-3.2.2-2].
		for i := 0; i < 2; i++ {
			w := dialWire(t, b.addr(), mqtt.V311)
			ack := w.connect(&mqtt.Connect{Version: mqtt.V311, ClientID: "durable311", KeepAlive: 60})
			if want := []byte{0x20, 2, byte(i), 0}; !bytes.Equal(ack, want) {
				t.Errorf("3.1.1 connect %d: CONNACK % x, want % x", i+1, ack, want)
			}
			w.write([]byte{0xe0, 0})
			w.closed()
		}
	})
}

// TestTwinZeroLengthClientIDPerListener: with per_listener_settings true,
// allow_zero_length_clientid and auto_id_prefix after a listener line
// belong to that listener (mosquitto.conf(5)). An empty client id is then
// refused: 3.1.1 return code 2 (identifier rejected), v5 a failure code
// (mosquitto sends 0x80, we send the more precise 0x85 Client Identifier
// not valid; both are allowed by [MQTT-3.1.3-8]). On the second listener,
// which allows it, the assigned id has that listener's prefix.
func TestTwinZeroLengthClientIDPerListener(t *testing.T) {
	conf := "per_listener_settings true\n" +
		"listener {port} 127.0.0.1\nallow_anonymous true\nallow_zero_length_clientid false\n" +
		"listener {port2} 127.0.0.1\nallow_anonymous true\nauto_id_prefix second-\n"
	twin(t, conf, func(t *testing.T, b *twinBroker) {
		w := dialWire(t, b.addr(), mqtt.V311)
		if ack := w.connect(&mqtt.Connect{Version: mqtt.V311, CleanStart: true, KeepAlive: 60}); !bytes.Equal(ack, []byte{0x20, 2, 0, 2}) {
			t.Errorf("3.1.1: CONNACK % x, want 20 02 00 02", ack)
		}
		w.closed()
		w = dialWire(t, b.addr(), mqtt.V5)
		ack := w.decode(w.connect(&mqtt.Connect{Version: mqtt.V5, CleanStart: true, KeepAlive: 60})).(*mqtt.Connack)
		if ack.Code != mqtt.ClientIdentifierNotValid && ack.Code != mqtt.UnspecifiedError {
			t.Errorf("v5: CONNACK code %v, want a refusal (0x85 or 0x80)", ack.Code)
		}
		w.closed()

		w = dialWire(t, b.addrN(1), mqtt.V5)
		ack = w.decode(w.connect(&mqtt.Connect{Version: mqtt.V5, CleanStart: true, KeepAlive: 60})).(*mqtt.Connack)
		if ack.Code != mqtt.Success || !strings.HasPrefix(ack.Props.AssignedClientID, "second-") {
			t.Errorf("second listener: CONNACK %v, assigned id %q, want success and prefix second-", ack.Code, ack.Props.AssignedClientID)
		}
	})
}
