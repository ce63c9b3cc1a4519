package broker

import (
	"strings"
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// TestMaximumPacketSizeTopicAlias: outbound topic aliases never take a
// PUBLISH over the client's Maximum Packet Size [MQTT-3.1.2-24], and one
// that fits only with an alias is sent with it. mosquitto 2.0.11 sends no
// topic aliases to clients, so there is no reference to compare with (the
// cases without aliases run against it in brokercmd's
// TestTwinMaximumPacketSizePublish).
func TestMaximumPacketSizeTopicAlias(t *testing.T) {
	const mps = 40
	_, addr := newTestBroker(t, Options{})
	p := connectPacket(mqtt.V5, "mpsa-sub", true)
	p.Props.SetMaximumPacketSize(mps)
	p.Props.SetTopicAliasMaximum(10)
	sub, _ := mustConnect(t, addr, p)
	sub.subscribe("#", 0)
	pub := connectClient(t, addr, mqtt.V5, "mpsa-pub")

	// payloadFor returns a payload making the PUBLISH on topic, sent in
	// full without an alias, size bytes long.
	payloadFor := func(topic string, size int) string {
		return strings.Repeat("x", size-mqtt.Size(&mqtt.Publish{Topic: topic}, mqtt.V5))
	}
	// deliver publishes and returns what sub received (at most one).
	deliver := func(topic, payload string) *mqtt.Publish {
		t.Helper()
		pub.publish(topic, payload, 0, false)
		got := sub.sync()
		for _, g := range got {
			if n := mqtt.Size(g, mqtt.V5); n > mps {
				t.Fatalf("%d-byte packet to a client allowing %d: %s", n, mps, mqtt.Describe(g))
			}
		}
		switch len(got) {
		case 0:
			return nil
		case 1:
			return got[0].(*mqtt.Publish)
		}
		t.Fatalf("%d packets for one message", len(got))
		return nil
	}
	alias := func(p *mqtt.Publish) bool { return p.Props.Has(mqtt.PropTopicAlias) }

	long := "alias/long/topic"
	if got := deliver(long, "x"); got == nil || !alias(got) || got.Topic != long {
		t.Fatalf("first message on %q: %v, want the topic with a new alias", long, got)
	}
	// Too large in full, fits with the alias: sent with it.
	if got := deliver(long, payloadFor(long, mps+1)); got == nil || got.Topic != "" || !alias(got) {
		t.Fatalf("a message fitting only with its alias: %v", got)
	}
	// Exactly the maximum with its alias (over it in full): sent with it
	// [MQTT-3.1.2-24] allows up to the maximum.
	withAlias := &mqtt.Publish{}
	withAlias.Props.SetTopicAlias(1)
	exact := strings.Repeat("y", mps-mqtt.Size(withAlias, mqtt.V5))
	if got := deliver(long, exact); got == nil || got.Topic != "" || !alias(got) || string(got.Payload) != exact {
		t.Fatalf("a message of exactly the maximum with its alias: %v", got)
	}
	// A new topic whose full packet has exactly the maximum size: setting
	// an alias would add 3 bytes, so it goes without one.
	fresh := "alias/new/topicb"
	if got := deliver(fresh, payloadFor(fresh, mps)); got == nil || alias(got) || got.Topic != fresh {
		t.Fatalf("a new topic at the maximum: %v, want the full topic without an alias", got)
	}
	if got := deliver(fresh, "x"); got == nil || !alias(got) || got.Topic != fresh {
		t.Fatalf("next message on %q: %v, want its alias set now", fresh, got)
	}
	// A one-byte topic is shorter than its alias (3 bytes): at the
	// maximum it goes in full.
	if got := deliver("z", "x"); got == nil || !alias(got) {
		t.Fatalf("first message on z: %v, want an alias", got)
	}
	if got := deliver("z", payloadFor("z", mps)); got == nil || alias(got) || got.Topic != "z" {
		t.Fatalf("z at the maximum: %v, want the full topic without the alias", got)
	}
	// One byte more does not fit in any form: discarded [MQTT-3.1.2-25].
	if got := deliver("z", payloadFor("z", mps+1)); got != nil {
		t.Fatalf("z above the maximum was sent: %v", got)
	}
	if got := deliver(long, payloadFor(long, mps+14)); got != nil {
		t.Fatalf("%q above the maximum even with its alias was sent: %v", long, got)
	}
}

// TestMaximumPacketSizeControlPackets: the Reason String of a DISCONNECT
// is left out when it would not fit ([MQTT-3.14.2-3]); our CONNACK
// leaves out the capability properties equal to their default when they
// do not fit, and is not sent at all below its smallest form.
func TestMaximumPacketSizeControlPackets(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	for _, tc := range []struct {
		mps  uint32
		want int // CONNACK size, 0: closed without one
	}{{100, 19}, {17, 17}, {16, 15}, {12, 11}, {11, 11}, {10, 0}} {
		p := connectPacket(mqtt.V5, "mpsc", true)
		p.Props.SetMaximumPacketSize(tc.mps)
		c := dial(t, addr, mqtt.V5)
		c.send(p)
		if tc.want == 0 {
			c.expectClosed()
			continue
		}
		ack := expect[*mqtt.Connack](c)
		if n := mqtt.Size(ack, mqtt.V5); n != tc.want || ack.Props.ReceiveMaximum != 1024 || ack.Props.TopicAliasMaximum != 10 {
			t.Errorf("mps %d: CONNACK of %d bytes (%s), want %d with Receive Maximum and Topic Alias Maximum",
				tc.mps, n, mqtt.Describe(ack), tc.want)
		}
		c.send(p) // second CONNECT: DISCONNECT 0x82 with a Reason String when it fits
		d := c.expectClosed()
		if d == nil || d.Code != mqtt.ProtocolError || (d.Props.Has(mqtt.PropReasonString) != (tc.mps >= 100)) {
			t.Errorf("mps %d: DISCONNECT %v", tc.mps, d)
		}
	}
}
