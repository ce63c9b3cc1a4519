package brokercmd

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// The client's Maximum Packet Size: "The Server MUST NOT send packets
// exceeding Maximum Packet Size to the Client" [MQTT-3.1.2-24]; a PUBLISH
// too large is discarded as if sent [MQTT-3.1.2-25]. Run against mqbroker
// and mosquitto 2.0.11 (twin_test.go). The topic alias cases are in
// internal/broker (mosquitto 2.0.11 sends no topic aliases to clients).

// connectMPS connects a v5 client announcing Maximum Packet Size mps and
// returns the connection and the CONNACK (nil when the broker closed the
// connection without one).
func connectMPS(t *testing.T, b *twinBroker, id string, mps uint32, alias uint16) (*wire, []byte) {
	t.Helper()
	w := dialWire(t, b.addr(), mqtt.V5)
	p := &mqtt.Connect{Version: mqtt.V5, ClientID: id, CleanStart: true, KeepAlive: 60}
	p.Props.SetMaximumPacketSize(mps)
	if alias > 0 {
		p.Props.SetTopicAliasMaximum(alias)
	}
	w.send(p)
	ack, err := w.frame(twinTimeout)
	var ne net.Error
	switch {
	case err == nil:
		return w, ack
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("mps %d: neither CONNACK nor close", mps)
	}
	return w, nil
}

// TestTwinMaximumPacketSizeConnack: CONNACK included. A broker that
// cannot make its CONNACK fit closes the connection without one (both
// brokers do for a maximum of 2 or 5); a client allowing 20 bytes gets
// one. mosquitto 2.0.11 sends its 11-byte CONNACK to a client whose
// maximum is 10 (it compares the remaining length, not the packet size):
// a mosquitto bug, the case is skipped for it. We drop what the client
// can do without (Reason String, User Properties, capability properties
// equal to their default) and send what is left if it fits.
func TestTwinMaximumPacketSizeConnack(t *testing.T) {
	twin(t, anonConf, func(t *testing.T, b *twinBroker) {
		for _, mps := range []uint32{2, 5, 10, 11, 12, 19, 20} {
			if b.mosquitto() && mps == 10 {
				t.Logf("mps 10: skipped for mosquitto 2.0.11, which sends an 11-byte CONNACK (violates [MQTT-3.1.2-24])")
				continue
			}
			w, ack := connectMPS(t, b, fmt.Sprintf("mpsc%d", mps), mps, 0)
			if ack == nil {
				if mps >= 20 {
					t.Errorf("mps %d: closed without CONNACK", mps)
				}
				continue
			}
			if len(ack) > int(mps) {
				t.Errorf("mps %d: CONNACK of %d bytes % x [MQTT-3.1.2-24]", mps, len(ack), ack)
				continue
			}
			if c := w.decode(ack).(*mqtt.Connack); c.Code != mqtt.Success {
				t.Errorf("mps %d: CONNACK %v", mps, c.Code)
			}
			w.sync() // the connection works
		}
		// A DISCONNECT carries no Reason String that would not fit.
		w, _ := connectMPS(t, b, "mpsd", 20, 0)
		w.send(&mqtt.Connect{Version: mqtt.V5, ClientID: "mpsd", KeepAlive: 60}) // a second CONNECT [MQTT-3.1.0-2]
		for _, f := range w.closed() {
			if len(f) > 20 {
				t.Errorf("packet of %d bytes % x to a client allowing 20", len(f), f)
			}
		}
		// A SUBACK for 8 filters needs 13 bytes: it may not be sent to a
		// client allowing 12. We close with DISCONNECT 0x95 Packet too
		// large; mosquitto 2.0.11 sends the 13 bytes (a bug, skipped).
		if !b.mosquitto() {
			w, _ = connectMPS(t, b, "mpss", 12, 0)
			s := &mqtt.Subscribe{PacketID: 1}
			for i := 0; i < 8; i++ {
				s.Subscriptions = append(s.Subscriptions, mqtt.Subscription{Filter: fmt.Sprintf("f%d", i)})
			}
			w.send(s)
			got := w.closed()
			for _, f := range got {
				if len(f) > 12 {
					t.Errorf("packet of %d bytes % x to a client allowing 12", len(f), f)
				}
			}
			if len(got) != 1 || got[0][0] != 0xe0 || w.decode(got[0]).(*mqtt.Disconnect).Code != mqtt.PacketTooLarge {
				t.Errorf("SUBACK too large: got %s, want DISCONNECT 0x95", hexs(got))
			}
		}
	})
}

// TestTwinMaximumPacketSizePublish: the forward size check is exact. For
// QoS 0, 1 and 2, with no properties, with a subscription identifier and
// with a user property, a PUBLISH of exactly the client's Maximum Packet
// Size is delivered and one byte more is discarded [MQTT-3.1.2-25]
// (issue 11 item 9: QoS 0 was 2 bytes too strict).
func TestTwinMaximumPacketSizePublish(t *testing.T) {
	const mps = 64
	twin(t, anonConf, func(t *testing.T, b *twinBroker) {
		pub := twinLogin(t, b, mqtt.V5, "mpspub", true)
		for qos := mqtt.QoS(0); qos <= 2; qos++ {
			for _, variant := range []string{"plain", "subid", "userprop"} {
				name := fmt.Sprintf("q%d-%s", qos, variant)
				t.Run(name, func(t *testing.T) {
					topic := "mps/" + name
					sub, _ := connectMPS(t, b, "mps"+name, mps, 0)
					s := &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: topic, QoS: qos}}}
					if variant == "subid" {
						s.Props.SubscriptionIDs = []uint32{7}
					}
					sub.send(s)
					sub.next() // SUBACK
					// The PUBLISH as the broker sends it, without payload.
					want := &mqtt.Publish{Topic: topic, QoS: qos}
					if qos > 0 {
						want.PacketID = 1
					}
					send := &mqtt.Publish{Topic: topic, QoS: qos}
					switch variant {
					case "subid":
						want.Props.SubscriptionIDs = []uint32{7}
					case "userprop":
						want.Props.User = []mqtt.UserProperty{{Key: "k", Value: "v"}}
						send.Props.User = want.Props.User
					}
					base := mqtt.Size(want, mqtt.V5)
					for _, extra := range []int{0, 1} {
						if extra == 1 && b.mosquitto() {
							// mosquitto 2.0.11 compares the remaining length
							// with the maximum, so it sends packets of up to
							// the maximum + 2 (+4 for large ones): the Maximum
							// Packet Size is "the total number of bytes in an
							// MQTT Control Packet" (MQTT 5.0 3.1.2.11.4). A
							// mosquitto bug: not checked for it.
							continue
						}
						n := mps - base + extra // payload bytes: the packet is mps+extra bytes
						send.Payload = []byte(strings.Repeat("x", n))
						if qos > 0 {
							send.PacketID = 20
						}
						pub.send(send)
						if qos > 0 {
							pub.next() // PUBACK / PUBREC
						}
						if qos == 2 {
							pub.write([]byte{0x62, 2, 0, 20})
							pub.next() // PUBCOMP
						}
						pub.sync()
						got := sub.sync()
						switch {
						case extra == 0 && len(got) != 1:
							t.Fatalf("a PUBLISH of exactly %d bytes was not delivered once: %s", mps, hexs(got))
						case extra == 0 && len(got[0]) != mps:
							t.Fatalf("delivered %d bytes, want %d: % x", len(got[0]), mps, got[0])
						case extra == 1 && len(got) != 0:
							t.Fatalf("a PUBLISH of %d bytes was sent to a client allowing %d: %s", mps+1, mps, hexs(got))
						}
						if extra == 0 {
							sub.ackBack(sub.decode(got[0]).(*mqtt.Publish))
						}
					}
				})
			}
		}
	})
}
