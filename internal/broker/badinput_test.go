package broker

import (
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// TestMalformedInput sends each malformed packet on a connected client:
// that connection is closed (v5: DISCONNECT with the codec's reason code,
// mqtt.CodeOf) while another client keeps working.
func TestMalformedInput(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	bystander := connectClient(t, addr, mqtt.V5, "bystander")
	bystander.subscribe("alive", 0)

	tests := []struct {
		name string
		raw  []byte
		v5   bool            // only for v5 connections
		v3   bool            // only for 3.1.1 connections
		code mqtt.ReasonCode // expected when the codec accepts the bytes
	}{
		{name: "varint of five bytes", raw: []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{name: "reserved flags on SUBSCRIBE", raw: []byte{0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x00}},
		{name: "reserved flags on PUBREL", raw: []byte{0x60, 0x02, 0x00, 0x01}},
		{name: "QoS 3", raw: []byte{0x36, 0x03, 0x00, 0x01, 'a'}},
		{name: "DUP on QoS 0", raw: []byte{0x38, 0x03, 0x00, 0x01, 'a'}},
		{name: "packet id 0", raw: []byte{0x32, 0x05, 0x00, 0x01, 'a', 0x00, 0x00}},
		{name: "invalid UTF-8 topic", raw: []byte{0x30, 0x04, 0x00, 0x02, 0xc3, 0x28}},
		{name: "U+0000 in topic", raw: []byte{0x30, 0x03, 0x00, 0x01, 0x00}},
		{name: "wildcard in topic name v3", raw: []byte{0x30, 0x03, 0x00, 0x01, '#'}, v3: true},
		{name: "wildcard in topic name v5", raw: []byte{0x30, 0x04, 0x00, 0x01, '#', 0x00}, v5: true},
		{name: "packet type 0", raw: []byte{0x00, 0x00}},
		{name: "PINGREQ with a body", raw: []byte{0xc0, 0x01, 0x00}},
		{name: "PUBACK too short", raw: []byte{0x40, 0x01, 0x00}},
		{name: "SUBSCRIBE without filters v3", raw: []byte{0x82, 0x02, 0x00, 0x01}, v3: true},
		{name: "SUBSCRIBE without filters v5", raw: []byte{0x82, 0x03, 0x00, 0x01, 0x00}, v5: true},
		{name: "subscription option bits v3", raw: []byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x04}, v3: true},
		{name: "retain handling 3", raw: []byte{0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x30}, v5: true},
		{name: "property not allowed", raw: []byte{0x30, 0x09, 0x00, 0x01, 'a', 0x05, 0x11, 0x00, 0x00, 0x00, 0x01}, v5: true},
		{name: "duplicate property", raw: []byte{0x30, 0x08, 0x00, 0x01, 'a', 0x04, 0x01, 0x01, 0x01, 0x01}, v5: true},
		{name: "properties longer than packet", raw: []byte{0x30, 0x05, 0x00, 0x01, 'a', 0x09, 0x01}, v5: true},
		{name: "topic alias 0", raw: []byte{0x30, 0x07, 0x00, 0x01, 'a', 0x03, 0x23, 0x00, 0x00}, v5: true},
		{name: "AUTH without method", raw: []byte{0xf0, 0x00}, v5: true, code: mqtt.ProtocolError},
		{name: "AUTH in 3.1.1", raw: []byte{0xf0, 0x00}, v3: true},
		{name: "CONNACK from client v3", raw: []byte{0x20, 0x02, 0x00, 0x00}, v3: true, code: mqtt.ProtocolError},
		{name: "CONNACK from client v5", raw: []byte{0x20, 0x03, 0x00, 0x00, 0x00}, v5: true, code: mqtt.ProtocolError},
		{name: "SUBACK from client", raw: []byte{0x90, 0x03, 0x00, 0x01, 0x00}, code: mqtt.ProtocolError},
	}
	for _, tc := range tests {
		for _, vc := range versions {
			if (tc.v5 && vc.v != mqtt.V5) || (tc.v3 && vc.v == mqtt.V5) {
				continue
			}
			t.Run(tc.name+"/"+vc.name, func(t *testing.T) {
				want := tc.code
				if _, err := mqtt.Decode(tc.raw, vc.v); err != nil {
					want = mqtt.CodeOf(err)
				} else if want == 0 {
					t.Fatalf("test case decodes fine: %x", tc.raw)
				}
				c := connectClient(t, addr, vc.v, "bad")
				c.sendRaw(tc.raw)
				d := c.expectClosed()
				if vc.v == mqtt.V5 {
					if d == nil || d.Code != want {
						t.Errorf("DISCONNECT %v, want %s", d, want)
					}
				} else if d != nil {
					t.Errorf("3.1.1 client got DISCONNECT")
				}
				// Another client keeps working.
				pub := connectClient(t, addr, mqtt.V311, "alive-pub")
				pub.publish("alive", tc.name, 0, false)
				bystander.expectPublish("alive", tc.name)
			})
		}
	}
}
