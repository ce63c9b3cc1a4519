package broker

import (
	"fmt"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// durableConnect is a CONNECT that keeps the session: clean session 0
// for 3.1.1, Clean Start 0 + Session Expiry for v5.
func durableConnect(v mqtt.Version, id string, expiry uint32) *mqtt.Connect {
	p := connectPacket(v, id, false)
	if v == mqtt.V5 {
		p.Props.SetSessionExpiry(expiry)
	}
	return p
}

func TestDurableSession(t *testing.T) {
	logs := newLogCapture()
	_, addr := newTestBroker(t, Options{ConnectionMessages: true, Logger: logs.logger()})
	for _, tc := range versions {
		t.Run(tc.name, func(t *testing.T) {
			id := "durable-" + tc.name
			topic := "dur/" + tc.name
			c, ack := mustConnect(t, addr, durableConnect(tc.v, id, 300))
			if ack.SessionPresent {
				t.Fatal("session present on first connect")
			}
			c.subscribe(topic, 2)
			c.disconnect()
			logs.wait(t, "Client "+id+" disconnected.")

			pub := connectClient(t, addr, tc.v, "dur-pub-"+tc.name)
			for i := 0; i < 5; i++ {
				pub.publish(topic, fmt.Sprint("m", i), mqtt.QoS(1+i%2), false)
			}
			pub.publish(topic, "qos0 not queued", 0, false)

			c, ack = mustConnect(t, addr, durableConnect(tc.v, id, 300))
			if !ack.SessionPresent { // [MQTT-3.2.2-2]
				t.Fatal("session not present on reconnect")
			}
			for i := 0; i < 5; i++ {
				p := c.expectPublish(topic, fmt.Sprint("m", i))
				if p.QoS != mqtt.QoS(1+i%2) {
					t.Errorf("m%d QoS %d", i, p.QoS)
				}
			}
			c.expectNothing()
			// Live delivery still works on the resumed subscription.
			pub.publish(topic, "live", 1, false)
			c.expectPublish(topic, "live")
			c.disconnect()

			// Clean start discards the session [MQTT-3.1.2-4].
			c, ack = mustConnect(t, addr, connectPacket(tc.v, id, true))
			if ack.SessionPresent {
				t.Error("session present with clean start")
			}
			pub.publish(topic, "after clean", 1, false)
			c.expectNothing()
		})
	}
}

func TestRedeliveryWithDup(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	for _, tc := range versions {
		t.Run(tc.name, func(t *testing.T) {
			id := "dup-" + tc.name
			topic := "dup/" + tc.name
			c, _ := mustConnect(t, addr, durableConnect(tc.v, id, 300))
			c.subscribe(topic, 2)
			pub := connectClient(t, addr, tc.v, "dup-pub-"+tc.name)
			pub.publish(topic, "q1", 1, false)
			pub.publish(topic, "q2", 2, false)
			pub.publish(topic, "q2b", 2, false)
			p1 := c.expectPublishNoAck(topic, "q1")
			p2 := c.expectPublishNoAck(topic, "q2")
			p3 := c.expectPublishNoAck(topic, "q2b")
			// Receive q2b fully up to PUBREL, then vanish before PUBCOMP.
			c.send(&mqtt.Ack{Kind: mqtt.PUBREC, PacketID: p3.PacketID})
			c.expectAck(mqtt.PUBREL, p3.PacketID)
			c.nc.Close()

			c, ack := mustConnect(t, addr, durableConnect(tc.v, id, 300))
			if !ack.SessionPresent {
				t.Fatal("session not present")
			}
			// Re-sent in order with the original ids and DUP [MQTT-4.4.0-1].
			r1 := c.expectPublishNoAck(topic, "q1")
			r2 := c.expectPublishNoAck(topic, "q2")
			if !r1.Dup || !r2.Dup || r1.PacketID != p1.PacketID || r2.PacketID != p2.PacketID {
				t.Errorf("redelivery: %s / %s", mqtt.Describe(r1), mqtt.Describe(r2))
			}
			rel := c.expectAck(mqtt.PUBREL, p3.PacketID) // PUBREL re-sent, not the PUBLISH
			_ = rel
			c.ackPublish(r1)
			c.ackPublish(r2)
			c.send(&mqtt.Ack{Kind: mqtt.PUBCOMP, PacketID: p3.PacketID})
			c.expectNothing()
		})
	}
}

func TestSessionExpiry(t *testing.T) {
	logs := newLogCapture()
	b, addr := newTestBroker(t, Options{ConnectionMessages: true, Logger: logs.logger()})
	c, _ := mustConnect(t, addr, durableConnect(mqtt.V5, "exp", 1))
	c.subscribe("exp/t", 1)
	c.disconnect()
	logs.wait(t, "Client exp has expired.")
	c, ack := mustConnect(t, addr, durableConnect(mqtt.V5, "exp", 1))
	if ack.SessionPresent {
		t.Error("session present after expiry")
	}
	if st := b.Stats(); st.ClientsExpired != 1 {
		t.Errorf("expired count %d", st.ClientsExpired)
	}
	// Session Expiry 0 on DISCONNECT ends the session at close.
	c.send(&mqtt.Disconnect{Props: func() mqtt.Properties {
		var p mqtt.Properties
		p.SetSessionExpiry(0)
		return p
	}()})
	c.expectClosed()
	_, ack = mustConnect(t, addr, durableConnect(mqtt.V5, "exp", 1))
	if ack.SessionPresent {
		t.Error("session present after DISCONNECT with expiry 0")
	}
	// 0 at CONNECT, non-zero at DISCONNECT: protocol error [MQTT-3.14.2-2].
	c2 := connectClient(t, addr, mqtt.V5, "exp0")
	c2.send(&mqtt.Disconnect{Props: func() mqtt.Properties {
		var p mqtt.Properties
		p.SetSessionExpiry(10)
		return p
	}()})
	if d := c2.expectClosed(); d == nil || d.Code != mqtt.ProtocolError {
		t.Errorf("DISCONNECT %v, want 0x82", d)
	}
}

func TestMaxSessionExpiryCap(t *testing.T) {
	_, addr := newTestBroker(t, Options{MaxSessionExpiry: 100})
	_, ack := mustConnect(t, addr, durableConnect(mqtt.V5, "cap", 5000))
	if !ack.Props.Has(mqtt.PropSessionExpiry) || ack.Props.SessionExpiry != 100 {
		t.Errorf("CONNACK session expiry %v %d", ack.Props.Has(mqtt.PropSessionExpiry), ack.Props.SessionExpiry)
	}
}

func TestOfflineQueueLimit(t *testing.T) {
	b, addr := newTestBroker(t, Options{MaxQueued: 3})
	c, _ := mustConnect(t, addr, durableConnect(mqtt.V311, "ql", 0))
	c.subscribe("ql/t", 1)
	c.disconnect()
	pub := connectClient(t, addr, mqtt.V311, "ql-pub")
	for i := 0; i < 5; i++ {
		pub.publish("ql/t", fmt.Sprint(i), 1, false)
	}
	c, _ = mustConnect(t, addr, durableConnect(mqtt.V311, "ql", 0))
	for i := 0; i < 3; i++ {
		c.expectPublish("ql/t", fmt.Sprint(i))
	}
	c.expectNothing()
	if d := b.Stats().PublishDropped; d != 2 {
		t.Errorf("dropped %d, want 2", d)
	}
}

func TestInflightWindow(t *testing.T) {
	_, addr := newTestBroker(t, Options{MaxInflight: 2})
	c := connectClient(t, addr, mqtt.V311, "win")
	c.subscribe("win/t", 1)
	pub := connectClient(t, addr, mqtt.V311, "win-pub")
	for i := 0; i < 4; i++ {
		pub.publish("win/t", fmt.Sprint(i), 1, false)
	}
	// Only two are sent until acknowledged.
	got := c.sync()
	if len(got) != 2 {
		t.Fatalf("%d messages in flight, want 2", len(got))
	}
	c.ackPublish(got[0].(*mqtt.Publish))
	c.expectPublish("win/t", "2")
	c.ackPublish(got[1].(*mqtt.Publish))
	c.expectPublish("win/t", "3")
	c.expectNothing()
}

func TestPersistentClientExpiration(t *testing.T) {
	logs := newLogCapture()
	_, addr := newTestBroker(t, Options{PersistentClientExpiration: time.Second,
		ConnectionMessages: true, Logger: logs.logger()})
	c, _ := mustConnect(t, addr, durableConnect(mqtt.V311, "pce", 0))
	c.subscribe("pce", 1)
	c.disconnect()
	logs.wait(t, "Client pce has expired.")
	_, ack := mustConnect(t, addr, durableConnect(mqtt.V311, "pce", 0))
	if ack.SessionPresent {
		t.Error("3.1.1 durable session did not expire")
	}
}
