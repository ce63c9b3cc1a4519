package client

import (
	"errors"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

func TestKeepAlive(t *testing.T) {
	tests := []struct {
		name       string
		clientKA   uint16
		serverKA   uint16 // v5 Server Keep Alive, 0 = absent
		answer     bool   // server answers PINGREQ
		wantExpiry bool
	}{
		{"ping answered", 1, 0, true, false},
		{"server keep alive overrides", 60, 1, true, false},
		{"no PINGRESP", 1, 0, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pinged := make(chan time.Duration, 1)
			ep, done := startFake(t, func(f *fakeConn) {
				ack := &mqtt.Connack{}
				if tc.serverKA != 0 {
					ack.Props.SetServerKeepAlive(tc.serverKA)
				}
				f.accept(ack)
				start := time.Now()
				f.expect(mqtt.PINGREQ)
				pinged <- time.Since(start)
				if tc.answer {
					f.write(&mqtt.Pingresp{})
					f.expect(mqtt.PINGREQ)
					f.write(&mqtt.Pingresp{})
				} else {
					f.expectClose()
				}
			})
			c := testConnect(t, ep, mqtt.V5, func(o *Options) { o.Connect.KeepAlive = tc.clientKA })
			select {
			case d := <-pinged:
				if d > 1500*time.Millisecond {
					t.Errorf("first PINGREQ after %v, want about 1s", d)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no PINGREQ")
			}
			if !tc.wantExpiry {
				waitDone(t, done, "second PINGREQ")
				return
			}
			waitDone(t, c.Done(), "client end")
			var te *TimeoutError
			if !errors.As(c.Err(), &te) || te.Op != "PINGRESP" {
				t.Errorf("Err = %v, want TimeoutError PINGRESP", c.Err())
			}
		})
	}
}

// More unacknowledged inbound QoS 1/2 messages than our Receive Maximum is a
// protocol error told with 0x93 [MQTT-3.3.4-7].
func TestReceiveMaximumInbound(t *testing.T) {
	code := make(chan mqtt.ReasonCode, 1)
	ep, done := startFake(t, func(f *fakeConn) {
		f.accept(nil)
		for id := uint16(1); id <= 2; id++ {
			f.write(&mqtt.Publish{Topic: "a", QoS: 2, PacketID: id})
		}
		f.expect(mqtt.PUBREC)
		if d, ok := f.expect(mqtt.DISCONNECT).(*mqtt.Disconnect); ok {
			code <- d.Code
		}
	})
	c := testConnect(t, ep, mqtt.V5, func(o *Options) { o.Connect.Props.SetReceiveMaximum(1) })
	waitDone(t, done, "fake server")
	waitDone(t, c.Done(), "client end")
	if got := <-code; got != mqtt.ReceiveMaximumExceeded {
		t.Errorf("DISCONNECT code %v, want 0x93", got)
	}
}
