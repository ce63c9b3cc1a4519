package broker

import (
	"fmt"
	"slices"
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

func TestQoSMatrix(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	for _, tc := range versions {
		for pq := mqtt.QoS(0); pq <= 2; pq++ {
			for sq := mqtt.QoS(0); sq <= 2; sq++ {
				name := fmt.Sprintf("%s/pub%d/sub%d", tc.name, pq, sq)
				t.Run(name, func(t *testing.T) {
					topic := "qos/" + name
					sub := connectClient(t, addr, tc.v, "sub-"+name)
					sub.subscribe(topic, sq)
					pub := connectClient(t, addr, tc.v, "pub-"+name)
					if code := pub.publish(topic, "hello", pq, false); code != mqtt.Success {
						t.Fatalf("publish code %s", code)
					}
					p := sub.expectPublish(topic, "hello")
					if want := min(pq, sq); p.QoS != want { // [MQTT-3.8.4-8]
						t.Errorf("delivered at QoS %d, want %d", p.QoS, want)
					}
					if p.Retain || p.Dup {
						t.Errorf("retain %v dup %v on a live delivery", p.Retain, p.Dup)
					}
					if p.QoS > 0 && p.PacketID == 0 {
						t.Error("no packet id")
					}
					sub.expectNothing()
				})
			}
		}
	}
}

func TestQoS2ExactlyOnce(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	for _, tc := range versions {
		t.Run(tc.name, func(t *testing.T) {
			topic := "eo/" + tc.name
			sub := connectClient(t, addr, tc.v, "eo-sub-"+tc.name)
			sub.subscribe(topic, 2)
			pub := connectClient(t, addr, tc.v, "eo-pub-"+tc.name)
			p := &mqtt.Publish{Topic: topic, Payload: []byte("once"), QoS: 2, PacketID: 77}
			pub.send(p)
			if a := expect[*mqtt.Ack](pub); a.Kind != mqtt.PUBREC || a.PacketID != 77 {
				t.Fatalf("got %s", mqtt.Describe(a))
			}
			// Re-send with DUP before PUBREL: acknowledged, not re-delivered.
			dup := *p
			dup.Dup = true
			pub.send(&dup)
			if a := expect[*mqtt.Ack](pub); a.Kind != mqtt.PUBREC || a.PacketID != 77 {
				t.Fatalf("got %s", mqtt.Describe(a))
			}
			pub.send(&mqtt.Ack{Kind: mqtt.PUBREL, PacketID: 77})
			if a := expect[*mqtt.Ack](pub); a.Kind != mqtt.PUBCOMP {
				t.Fatalf("got %s", mqtt.Describe(a))
			}
			sub.expectPublish(topic, "once")
			sub.expectNothing()
			// After PUBCOMP the id is free: the same id is a new message.
			pub.publishPacket(&mqtt.Publish{Topic: topic, Payload: []byte("again"), QoS: 2, PacketID: 77})
			sub.expectPublish(topic, "again")
			// PUBREL for an unknown id still gets PUBCOMP (v5: 0x92).
			pub.send(&mqtt.Ack{Kind: mqtt.PUBREL, PacketID: 999})
			a := expect[*mqtt.Ack](pub)
			if a.Kind != mqtt.PUBCOMP || (tc.v == mqtt.V5 && a.Code != mqtt.PacketIdentifierNotFound) {
				t.Errorf("got %s", mqtt.Describe(a))
			}
		})
	}
}

func TestInOrderDelivery(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	for _, qos := range []mqtt.QoS{0, 1, 2} {
		t.Run(fmt.Sprint("qos", qos), func(t *testing.T) {
			topic := fmt.Sprint("order/", qos)
			sub := connectClient(t, addr, mqtt.V5, topic+"sub")
			sub.subscribe(topic, qos)
			pub := connectClient(t, addr, mqtt.V311, topic+"pub")
			const n = 100
			for i := 0; i < n; i++ {
				p := &mqtt.Publish{Topic: topic, Payload: []byte(fmt.Sprint(i)), QoS: qos}
				if qos > 0 {
					p.PacketID = uint16(i + 1)
				}
				pub.send(p) // no waiting for acks: many in flight
			}
			for i := 0; i < n; i++ {
				p := expect[*mqtt.Publish](sub)
				if string(p.Payload) != fmt.Sprint(i) {
					t.Fatalf("message %d: got %q", i, p.Payload)
				}
				sub.ackPublish(p)
			}
		})
	}
}

func TestOverlappingSubscriptions(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	for _, tc := range versions {
		t.Run(tc.name, func(t *testing.T) {
			base := "ov/" + tc.name
			sub := connectClient(t, addr, tc.v, "ov-sub-"+tc.name)
			ids := map[string]uint32{base + "/+": 0, base + "/#": 0, base + "/a": 0}
			q := mqtt.QoS(0)
			n := uint32(0)
			for _, f := range []string{base + "/+", base + "/#", base + "/a"} {
				var id uint32
				if tc.v == mqtt.V5 {
					n++
					id = n * 10
				}
				ids[f] = id
				sub.subscribeOpts(mqtt.Subscription{Filter: f, QoS: q}, id)
				q++
				if q > 2 {
					q = 1
				}
			}
			pub := connectClient(t, addr, tc.v, "ov-pub-"+tc.name)
			pub.publish(base+"/a", "m", 2, false)
			p := sub.expectPublish(base+"/a", "m")
			if p.QoS != 2 { // max of the matching subscriptions [MQTT-3.3.4-2]
				t.Errorf("QoS %d, want 2", p.QoS)
			}
			if tc.v == mqtt.V5 {
				got := slices.Clone(p.Props.SubscriptionIDs)
				slices.Sort(got)
				if !slices.Equal(got, []uint32{10, 20, 30}) { // [MQTT-3.3.4-4]
					t.Errorf("subscription ids %v", got)
				}
			}
			sub.expectNothing() // exactly one copy
		})
	}
}

func TestMixedVersions(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	clients := map[mqtt.Version]*tclient{}
	for _, v := range []mqtt.Version{mqtt.V31, mqtt.V311, mqtt.V5} {
		c := connectClient(t, addr, v, "mix-"+v.String())
		c.subscribe("mix/#", 2)
		clients[v] = c
	}
	for _, from := range []mqtt.Version{mqtt.V31, mqtt.V311, mqtt.V5} {
		p := &mqtt.Publish{Topic: "mix/" + from.String(), Payload: []byte("hi"), QoS: 1}
		if from == mqtt.V5 {
			p.Props.SetContentType("text/plain")
			p.Props.User = []mqtt.UserProperty{{Key: "k", Value: "v"}}
		}
		clients[from].publishPacket(p)
		for _, to := range []mqtt.Version{mqtt.V31, mqtt.V311, mqtt.V5} {
			got := clients[to].expectPublish("mix/"+from.String(), "hi")
			if to == mqtt.V5 && from == mqtt.V5 && (got.Props.ContentType != "text/plain" || len(got.Props.User) != 1) {
				t.Errorf("v5→v5 properties lost: %s", mqtt.Describe(got))
			}
		}
	}
}

func TestUnsubscribe(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	for _, tc := range versions {
		t.Run(tc.name, func(t *testing.T) {
			topic := "unsub/" + tc.name
			c := connectClient(t, addr, tc.v, "unsub-"+tc.name)
			c.subscribe(topic, 1)
			c.send(&mqtt.Unsubscribe{PacketID: 5, Filters: []string{topic, "never/subscribed"}})
			ack := expect[*mqtt.Unsuback](c)
			if ack.PacketID != 5 {
				t.Errorf("UNSUBACK id %d", ack.PacketID)
			}
			if tc.v == mqtt.V5 && !slices.Equal(ack.Codes, []mqtt.ReasonCode{mqtt.Success, mqtt.NoSubscriptionExisted}) {
				t.Errorf("UNSUBACK codes %v", ack.Codes)
			}
			c.publish(topic, "x", 1, false)
			c.expectNothing()
		})
	}
}

func TestSubscribeInvalidFilter(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	for _, tc := range versions {
		t.Run(tc.name, func(t *testing.T) {
			c := connectClient(t, addr, tc.v, "badf-"+tc.name)
			// A shared subscription without a filter is refused in the
			// SUBACK; a filter that breaks the wildcard rules closes the
			// connection (peer_filter_test.go, [MQTT-4.7.1-2]).
			c.send(&mqtt.Subscribe{PacketID: 3, Subscriptions: []mqtt.Subscription{
				{Filter: "$share/g", QoS: 0}, {Filter: "ok/+", QoS: 1}}})
			ack := expect[*mqtt.Suback](c)
			fail := mqtt.UnspecifiedError
			if tc.v == mqtt.V5 {
				fail = mqtt.TopicFilterInvalid
			}
			if !slices.Equal(ack.Codes, []mqtt.ReasonCode{fail, mqtt.GrantedQoS1}) {
				t.Errorf("SUBACK codes %v", ack.Codes)
			}
			c.send(&mqtt.Subscribe{PacketID: 4, Subscriptions: []mqtt.Subscription{{Filter: "a/#/b", QoS: 1}}})
			d := c.expectClosed()
			if tc.v == mqtt.V5 && (d == nil || d.Code != mqtt.MalformedPacket) {
				t.Errorf("DISCONNECT %v, want 0x81 Malformed Packet", d)
			}
		})
	}
}

func TestMaxQoSDowngradesSubscription(t *testing.T) {
	_, addr := newTestBroker(t, Options{MaxQoS: qosPtr(1)})
	c := connectClient(t, addr, mqtt.V5, "maxqos")
	c.send(&mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "a", QoS: 2}}})
	if ack := expect[*mqtt.Suback](c); ack.Codes[0] != mqtt.GrantedQoS1 {
		t.Errorf("granted %v", ack.Codes)
	}
	c.send(&mqtt.Publish{Topic: "a", QoS: 2, PacketID: 1})
	if d := c.expectClosed(); d == nil || d.Code != mqtt.QoSNotSupported { // [MQTT-3.2.2-11]
		t.Errorf("DISCONNECT %v, want 0x9B", d)
	}
}
