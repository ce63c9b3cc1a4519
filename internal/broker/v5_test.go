package broker

import (
	"bytes"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

func TestTopicAliasInbound(t *testing.T) {
	_, addr := newTestBroker(t, Options{MaxTopicAlias: 5})
	sub := connectClient(t, addr, mqtt.V5, "ta-sub")
	sub.subscribe("ta/#", 0)
	pub := connectClient(t, addr, mqtt.V5, "ta-pub")
	p := &mqtt.Publish{Topic: "ta/long/topic", Payload: []byte("1")}
	p.Props.SetTopicAlias(3)
	pub.send(p)
	p2 := &mqtt.Publish{Payload: []byte("2")} // topic from alias 3
	p2.Props.SetTopicAlias(3)
	pub.send(p2)
	sub.expectPublish("ta/long/topic", "1")
	sub.expectPublish("ta/long/topic", "2")

	tests := []struct {
		name  string
		alias uint16
		topic string
		code  mqtt.ReasonCode
	}{
		{"above maximum", 6, "ta/x", mqtt.TopicAliasInvalid},
		{"unknown alias", 4, "", mqtt.ProtocolError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := connectClient(t, addr, mqtt.V5, "ta-bad")
			p := &mqtt.Publish{Topic: tc.topic, Payload: []byte("x")}
			p.Props.SetTopicAlias(tc.alias)
			c.send(p)
			if d := c.expectClosed(); d == nil || d.Code != tc.code {
				t.Errorf("DISCONNECT %v, want %s", d, tc.code)
			}
		})
	}
}

func TestTopicAliasOutbound(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	p := connectPacket(mqtt.V5, "tao", true)
	p.Props.SetTopicAliasMaximum(1)
	sub, _ := mustConnect(t, addr, p)
	sub.subscribe("tao/#", 0)
	pub := connectClient(t, addr, mqtt.V311, "tao-pub")
	for _, topic := range []string{"tao/a", "tao/a", "tao/b", "tao/a"} {
		pub.publish(topic, "x", 0, false)
	}
	got := sub.sync()
	if len(got) != 4 {
		t.Fatalf("got %d messages", len(got))
	}
	want := []struct {
		topic string
		alias uint16
	}{{"tao/a", 1}, {"", 1}, {"tao/b", 0}, {"", 1}}
	for i, w := range want {
		pp := got[i].(*mqtt.Publish)
		var alias uint16
		if pp.Props.Has(mqtt.PropTopicAlias) {
			alias = pp.Props.TopicAlias
		}
		if pp.Topic != w.topic || alias != w.alias {
			t.Errorf("message %d: topic %q alias %d, want %q %d", i, pp.Topic, alias, w.topic, w.alias)
		}
	}
}

func TestReceiveMaximumOutbound(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	p := connectPacket(mqtt.V5, "rmo", true)
	p.Props.SetReceiveMaximum(1)
	sub, _ := mustConnect(t, addr, p)
	sub.subscribe("rmo", 2)
	pub := connectClient(t, addr, mqtt.V5, "rmo-pub")
	pub.publish("rmo", "1", 1, false)
	pub.publish("rmo", "2", 2, false)
	got := sub.sync()
	if len(got) != 1 { // [MQTT-3.3.4-9]
		t.Fatalf("%d unacknowledged in flight, want 1", len(got))
	}
	sub.ackPublish(got[0].(*mqtt.Publish))
	sub.expectPublish("rmo", "2")
}

func TestReceiveMaximumInbound(t *testing.T) {
	_, addr := newTestBroker(t, Options{ReceiveMaximum: 2})
	c, ack := mustConnect(t, addr, connectPacket(mqtt.V5, "rmi", true))
	if ack.Props.ReceiveMaximum != 2 {
		t.Fatalf("receive maximum %d", ack.Props.ReceiveMaximum)
	}
	for i := uint16(1); i <= 3; i++ {
		c.send(&mqtt.Publish{Topic: "rmi", QoS: 2, PacketID: i}) // never PUBREL
	}
	c.expectAck(mqtt.PUBREC, 1)
	c.expectAck(mqtt.PUBREC, 2)
	if d := c.expectClosed(); d == nil || d.Code != mqtt.ReceiveMaximumExceeded {
		t.Errorf("DISCONNECT %v, want 0x93", d)
	}
}

func TestMaximumPacketSize(t *testing.T) {
	_, addr := newTestBroker(t, Options{MaxPacketSize: 100})
	// Inbound: too large → DISCONNECT 0x95.
	c, ack := mustConnect(t, addr, connectPacket(mqtt.V5, "mps", true))
	if ack.Props.MaximumPacketSize != 100 {
		t.Errorf("advertised maximum packet size %d", ack.Props.MaximumPacketSize)
	}
	c.send(&mqtt.Publish{Topic: "big", Payload: bytes.Repeat([]byte("x"), 200)})
	if d := c.expectClosed(); d == nil || d.Code != mqtt.PacketTooLarge {
		t.Errorf("DISCONNECT %v, want 0x95", d)
	}
	// Outbound: a client with Maximum Packet Size 30 does not get bigger
	// packets [MQTT-3.1.2-24].
	p := connectPacket(mqtt.V5, "mps-small", true)
	p.Props.SetMaximumPacketSize(30)
	small, _ := mustConnect(t, addr, p)
	small.subscribe("mps/#", 1)
	pub := connectClient(t, addr, mqtt.V5, "mps-pub")
	pub.publish("mps/a", string(bytes.Repeat([]byte("y"), 40)), 1, false)
	pub.publish("mps/a", "fits", 1, false)
	small.expectPublish("mps/a", "fits")
	small.expectNothing()
}

func TestNoLocal(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	c := connectClient(t, addr, mqtt.V5, "nl")
	c.subscribeOpts(mqtt.Subscription{Filter: "nl/t", QoS: 1, NoLocal: true}, 0)
	c.publish("nl/t", "mine", 1, false)
	c.expectNothing() // [MQTT-3.8.3-3]
	other := connectClient(t, addr, mqtt.V5, "nl-other")
	other.publish("nl/t", "theirs", 1, false)
	c.expectPublish("nl/t", "theirs")
	// No Local on a shared subscription is a protocol error.
	c.send(&mqtt.Subscribe{PacketID: 9, Subscriptions: []mqtt.Subscription{{Filter: "$share/g/nl", NoLocal: true}}})
	if d := c.expectClosed(); d == nil || d.Code != mqtt.ProtocolError {
		t.Errorf("DISCONNECT %v, want 0x82", d)
	}
}

func TestSharedSubscriptions(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	pub := connectClient(t, addr, mqtt.V5, "sh-pub")
	pub.publish("sh/t", "retained", 0, true)
	var members []*tclient
	for i := 0; i < 3; i++ {
		v := mqtt.V5
		if i == 2 {
			v = mqtt.V311 // shared subscriptions work for 3.1.1 clients too
		}
		m := connectClient(t, addr, v, fmt.Sprint("sh-", i))
		m.subscribe("$share/grp/sh/+", 1)
		m.expectNothing() // no retained messages on a shared subscription
		members = append(members, m)
	}
	plain := connectClient(t, addr, mqtt.V5, "sh-plain")
	plain.subscribe("sh/#", 0)
	plain.expectPublish("sh/t", "retained")
	const n = 9
	for i := 0; i < n; i++ {
		pub.publish("sh/t", fmt.Sprint(i), 1, false)
	}
	total := 0
	for i, m := range members {
		got := m.sync()
		for _, p := range got {
			m.ackPublish(p.(*mqtt.Publish))
		}
		if len(got) != n/3 { // round robin within the group
			t.Errorf("member %d got %d messages, want %d", i, len(got), n/3)
		}
		total += len(got)
	}
	if total != n {
		t.Errorf("group got %d messages, want exactly %d", total, n)
	}
	if got := plain.sync(); len(got) != n {
		t.Errorf("non-shared subscriber got %d, want %d", len(got), n)
	}
}

func TestPropertiesForwarded(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	sub := connectClient(t, addr, mqtt.V5, "props-sub")
	sub.subscribeOpts(mqtt.Subscription{Filter: "req/#", QoS: 1}, 42)
	pub := connectClient(t, addr, mqtt.V5, "props-pub")
	p := &mqtt.Publish{Topic: "req/x", Payload: []byte("{}"), QoS: 1}
	p.Props.SetContentType("application/json")
	p.Props.SetResponseTopic("resp/x")
	p.Props.SetCorrelationData([]byte{1, 2, 3})
	p.Props.SetPayloadFormat(1)
	p.Props.User = []mqtt.UserProperty{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}, {Key: "b", Value: ""}}
	pub.publishPacket(p)
	got := sub.expectPublish("req/x", "{}")
	g := &got.Props
	if g.ContentType != "application/json" || g.ResponseTopic != "resp/x" ||
		!bytes.Equal(g.CorrelationData, []byte{1, 2, 3}) || g.PayloadFormat != 1 || !g.Has(mqtt.PropPayloadFormat) {
		t.Errorf("properties not forwarded: %s", mqtt.Describe(got))
	}
	if !slices.Equal(g.User, p.Props.User) { // order kept [MQTT-3.3.2-18]
		t.Errorf("user properties %v", g.User)
	}
	if !slices.Equal(g.SubscriptionIDs, []uint32{42}) {
		t.Errorf("subscription ids %v", g.SubscriptionIDs)
	}
	// Nobody subscribed: PUBACK 0x10.
	if code := pub.publish("nobody/here", "x", 1, false); code != mqtt.NoMatchingSubscribers {
		t.Errorf("PUBACK %s, want 0x10", code)
	}
	if code := pub.publish("nobody/here", "x", 2, false); code != mqtt.NoMatchingSubscribers {
		t.Errorf("PUBREC %s, want 0x10", code)
	}
	// A client must not send a Subscription Identifier [MQTT-3.3.4-6].
	bad := &mqtt.Publish{Topic: "req/y"}
	bad.Props.SubscriptionIDs = []uint32{1}
	pub.send(bad)
	if d := pub.expectClosed(); d == nil || d.Code != mqtt.ProtocolError {
		t.Errorf("DISCONNECT %v, want 0x82", d)
	}
}

// fakeClock is a controllable clock for message expiry.
type fakeClock struct{ ns atomic.Int64 }

func (f *fakeClock) now() time.Time          { return time.Unix(0, f.ns.Load()) }
func (f *fakeClock) advance(d time.Duration) { f.ns.Add(int64(d)) }

func TestMessageExpiry(t *testing.T) {
	clock := &fakeClock{}
	clock.ns.Store(time.Now().UnixNano())
	b, err := New(Options{Listeners: []ListenerConfig{{Name: "tcp", Addr: "127.0.0.1:0"}}})
	if err != nil {
		t.Fatal(err)
	}
	b.now = clock.now
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Shutdown(t.Context()) })
	addr := b.Addr("tcp").String()

	c, _ := mustConnect(t, addr, durableConnect(mqtt.V5, "mx", 300))
	c.subscribe("mx/#", 1)
	c.disconnect()
	pub := connectClient(t, addr, mqtt.V5, "mx-pub")
	for _, m := range []struct {
		topic  string
		expiry uint32
		retain bool
	}{{"mx/short", 10, false}, {"mx/long", 100, false}, {"mx/ret", 10, true}} {
		p := &mqtt.Publish{Topic: m.topic, Payload: []byte("x"), QoS: 1, Retain: m.retain}
		p.Props.SetMessageExpiry(m.expiry)
		pub.publishPacket(p)
	}
	clock.advance(30 * time.Second)
	c, _ = mustConnect(t, addr, durableConnect(mqtt.V5, "mx", 300))
	got := c.expectPublish("mx/long", "x")                                       // the 10 s messages expired [MQTT-3.3.2-5]
	if !got.Props.Has(mqtt.PropMessageExpiry) || got.Props.MessageExpiry != 70 { // [MQTT-3.3.2-6]
		t.Errorf("forwarded expiry %d, want 70", got.Props.MessageExpiry)
	}
	c.expectNothing()
	late := connectClient(t, addr, mqtt.V5, "mx-late")
	late.subscribe("mx/ret", 1)
	late.expectNothing() // the expired retained message is gone
}

func TestSharedSubscriptionPrefersConnected(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	off, _ := mustConnect(t, addr, durableConnect(mqtt.V5, "sh-off", 300))
	off.subscribe("$share/g/shp", 1)
	off.disconnect() // durable member, now offline
	on := connectClient(t, addr, mqtt.V5, "sh-on")
	on.subscribe("$share/g/shp", 1)
	pub := connectClient(t, addr, mqtt.V5, "shp-pub")
	for i := 0; i < 4; i++ {
		pub.publish("shp", fmt.Sprint(i), 1, false)
	}
	for i := 0; i < 4; i++ {
		on.expectPublish("shp", fmt.Sprint(i))
	}
	off, ack := mustConnect(t, addr, durableConnect(mqtt.V5, "sh-off", 300))
	if !ack.SessionPresent {
		t.Fatal("session lost")
	}
	off.expectNothing() // nothing was parked on the offline member
}
