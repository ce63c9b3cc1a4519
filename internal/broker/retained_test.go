package broker

import (
	"slices"
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

func TestRetained(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	for _, tc := range versions {
		t.Run(tc.name, func(t *testing.T) {
			base := "ret/" + tc.name
			pub := connectClient(t, addr, tc.v, "ret-pub-"+tc.name)
			pub.publish(base+"/a", "first", 1, true)
			pub.publish(base+"/a", "second", 1, true) // replaces [MQTT-3.3.1-5]
			pub.publish(base+"/b", "bee", 0, true)
			pub.publish(base+"/c", "gone", 1, true)
			pub.publish(base+"/c", "", 0, true) // deletes [MQTT-3.3.1-6]

			sub := connectClient(t, addr, tc.v, "ret-sub-"+tc.name)
			sub.subscribe(base+"/a", 1)
			p := sub.expectPublish(base+"/a", "second")
			if !p.Retain || p.QoS != 1 { // retain set for a new subscription [MQTT-3.3.1-8]
				t.Errorf("retain %v qos %d", p.Retain, p.QoS)
			}
			sub.expectNothing()

			// Wildcard subscription gets every matching retained message.
			sub.subscribe(base+"/#", 2)
			var got []string
			for _, p := range sub.sync() {
				pp := p.(*mqtt.Publish)
				if !pp.Retain {
					t.Errorf("%s without retain", pp.Topic)
				}
				sub.ackPublish(pp)
				got = append(got, pp.Topic+"="+string(pp.Payload))
			}
			slices.Sort(got)
			if want := []string{base + "/a=second", base + "/b=bee"}; !slices.Equal(got, want) {
				t.Errorf("retained on wildcard: %v, want %v", got, want)
			}
			// A live message with retain set arrives with retain 0 on an
			// established subscription ([MQTT-3.3.1-9] 3.1.1; v5 without RAP).
			pub.publish(base+"/a", "live", 0, true)
			for _, p := range sub.sync() {
				if pp := p.(*mqtt.Publish); pp.Retain {
					t.Errorf("live message %q delivered with retain set", pp.Payload)
				}
			}
		})
	}
}

func TestRetainDisabled(t *testing.T) {
	_, addr := newTestBroker(t, Options{DisableRetain: true})
	c, ack := mustConnect(t, addr, connectPacket(mqtt.V5, "noret", true))
	if !ack.Props.Has(mqtt.PropRetainAvailable) || ack.Props.RetainAvailable != 0 {
		t.Errorf("retain available %d", ack.Props.RetainAvailable)
	}
	c.send(&mqtt.Publish{Topic: "x", Payload: []byte("y"), Retain: true})
	if d := c.expectClosed(); d == nil || d.Code != mqtt.RetainNotSupported { // [MQTT-3.2.2-14]
		t.Errorf("DISCONNECT %v, want 0x9A", d)
	}
}

func TestRetainHandlingAndRAP(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	pub := connectClient(t, addr, mqtt.V5, "rh-pub")
	pub.publish("rh/t", "kept", 0, true)
	sub := connectClient(t, addr, mqtt.V5, "rh-sub")

	// Retain Handling 2: never send retained messages.
	sub.subscribeOpts(mqtt.Subscription{Filter: "rh/t", RetainHandling: 2}, 0)
	sub.expectNothing()
	// Retain Handling 1: only if the subscription is new; it exists now.
	sub.subscribeOpts(mqtt.Subscription{Filter: "rh/t", RetainHandling: 1}, 0)
	sub.expectNothing()
	// ...and on a new subscription it is sent.
	sub.subscribeOpts(mqtt.Subscription{Filter: "rh/+", RetainHandling: 1}, 0)
	sub.expectPublish("rh/t", "kept")
	// Retain Handling 0: always.
	sub.subscribeOpts(mqtt.Subscription{Filter: "rh/t", RetainHandling: 0}, 0)
	sub.expectPublish("rh/t", "kept")

	// Retain As Published keeps the flag on live messages [MQTT-3.3.1-12].
	rap := connectClient(t, addr, mqtt.V5, "rh-rap")
	rap.subscribeOpts(mqtt.Subscription{Filter: "rap/t", RetainAsPublished: true}, 0)
	pub.publish("rap/t", "r", 0, true)
	pub.publish("rap/t", "n", 0, false)
	if p := rap.expectPublish("rap/t", "r"); !p.Retain {
		t.Error("RAP: retain flag cleared")
	}
	if p := rap.expectPublish("rap/t", "n"); p.Retain {
		t.Error("RAP: retain flag set on a non-retained message")
	}
}
