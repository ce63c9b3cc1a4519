package broker

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	pahov3 "github.com/eclipse/paho.mqtt.golang"
)

// Interop with the Eclipse Paho clients, in process: paho.mqtt.golang
// speaks 3.1.1, paho.golang speaks 5.0.

func pahoV3(t *testing.T, addr, id string, clean bool, onMsg pahov3.MessageHandler) pahov3.Client {
	t.Helper()
	opts := pahov3.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).
		SetCleanSession(clean).SetAutoReconnect(false).SetConnectRetry(false).
		SetProtocolVersion(4).SetConnectTimeout(testTimeout).SetKeepAlive(30 * time.Second).
		SetDefaultPublishHandler(onMsg)
	c := pahov3.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(testTimeout) || tok.Error() != nil {
		t.Fatalf("paho v3 connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func waitToken(t *testing.T, what string, tok pahov3.Token) {
	t.Helper()
	if !tok.WaitTimeout(testTimeout) {
		t.Fatalf("%s: timeout", what)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func pahoV5(t *testing.T, addr string, cp *paho.Connect, got chan<- *paho.Publish) (*paho.Client, *paho.Connack) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{
		Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			got <- pr.Packet
			return true, nil
		}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	ack, err := c.Connect(ctx, cp)
	if err != nil {
		t.Fatalf("paho v5 connect: %v", err)
	}
	t.Cleanup(func() {
		c.Disconnect(&paho.Disconnect{})
		<-c.Done()
	})
	return c, ack
}

func TestInteropPaho(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	defer cancel()

	v3got := make(chan pahov3.Message, 100)
	v3 := pahoV3(t, addr, "paho3", true, func(_ pahov3.Client, m pahov3.Message) { v3got <- m })
	waitToken(t, "v3 subscribe", v3.Subscribe("interop/#", 2, nil))

	v5got := make(chan *paho.Publish, 100)
	v5, ack := pahoV5(t, addr, &paho.Connect{ClientID: "paho5", CleanStart: true, KeepAlive: 30}, v5got)
	if ack.Properties == nil || !ack.Properties.SharedSubAvailable || !ack.Properties.RetainAvailable {
		t.Errorf("paho v5 CONNACK properties: %+v", ack.Properties)
	}
	id := 7
	if _, err := v5.Subscribe(ctx, &paho.Subscribe{
		Properties:    &paho.SubscribeProperties{SubscriptionIdentifier: &id},
		Subscriptions: []paho.SubscribeOptions{{Topic: "interop/#", QoS: 2}}}); err != nil {
		t.Fatalf("v5 subscribe: %v", err)
	}

	for qos := byte(0); qos <= 2; qos++ {
		// 3.1.1 → both.
		topic := fmt.Sprintf("interop/v3/q%d", qos)
		waitToken(t, "v3 publish", v3.Publish(topic, qos, false, "from v3"))
		m3 := recvV3(t, v3got)
		m5 := recvV5(t, v5got)
		if m3.Topic() != topic || string(m3.Payload()) != "from v3" || m3.Qos() != qos {
			t.Errorf("v3 got %s %q q%d", m3.Topic(), m3.Payload(), m3.Qos())
		}
		if m5.Topic != topic || string(m5.Payload) != "from v3" || m5.QoS != qos {
			t.Errorf("v5 got %s %q q%d", m5.Topic, m5.Payload, m5.QoS)
		}
		if m5.Properties == nil || m5.Properties.SubscriptionIdentifier == nil || *m5.Properties.SubscriptionIdentifier != 7 {
			t.Errorf("v5 subscription identifier missing")
		}
		// 5.0 → both, with properties.
		topic = fmt.Sprintf("interop/v5/q%d", qos)
		resp, err := v5.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Payload: []byte("from v5"),
			Properties: &paho.PublishProperties{ContentType: "text/plain", ResponseTopic: "interop/reply",
				User: paho.UserProperties{{Key: "k", Value: "v"}}}})
		if err != nil {
			t.Fatalf("v5 publish q%d: %v", qos, err)
		}
		if qos > 0 && resp.ReasonCode != 0 {
			t.Errorf("v5 publish reason 0x%02X", resp.ReasonCode)
		}
		m3 = recvV3(t, v3got)
		m5 = recvV5(t, v5got)
		if m3.Topic() != topic || string(m3.Payload()) != "from v5" {
			t.Errorf("v3 got %s %q", m3.Topic(), m3.Payload())
		}
		if m5.Properties == nil || m5.Properties.ContentType != "text/plain" || m5.Properties.ResponseTopic != "interop/reply" ||
			m5.Properties.User.Get("k") != "v" {
			t.Errorf("v5 properties not forwarded: %+v", m5.Properties)
		}
	}
	// Retained, delivered to a late paho v3 subscriber.
	waitToken(t, "retain", v3.Publish("interop/retained", 1, true, "kept"))
	recvV3(t, v3got)
	recvV5(t, v5got)
	late := make(chan pahov3.Message, 10)
	lc := pahoV3(t, addr, "paho3-late", true, func(_ pahov3.Client, m pahov3.Message) { late <- m })
	waitToken(t, "late subscribe", lc.Subscribe("interop/retained", 1, nil))
	if m := recvV3(t, late); !m.Retained() || string(m.Payload()) != "kept" {
		t.Errorf("late subscriber got %q retained=%v", m.Payload(), m.Retained())
	}
}

func TestInteropPahoDurableSession(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	got := make(chan pahov3.Message, 10)
	c := pahoV3(t, addr, "paho-durable", false, func(_ pahov3.Client, m pahov3.Message) { got <- m })
	waitToken(t, "subscribe", c.Subscribe("dur/paho", 1, nil))
	c.Disconnect(100)
	pub := pahoV3(t, addr, "paho-durable-pub", true, nil)
	for i := 0; i < 3; i++ {
		waitToken(t, "publish", pub.Publish("dur/paho", 1, false, fmt.Sprint(i)))
	}
	pahoV3(t, addr, "paho-durable", false, func(_ pahov3.Client, m pahov3.Message) { got <- m })
	for i := 0; i < 3; i++ {
		if m := recvV3(t, got); string(m.Payload()) != fmt.Sprint(i) {
			t.Errorf("message %d: %q", i, m.Payload())
		}
	}
}

func recvV3(t *testing.T, ch <-chan pahov3.Message) pahov3.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(testTimeout):
		t.Fatal("paho v3: no message")
	}
	return nil
}

func recvV5(t *testing.T, ch <-chan *paho.Publish) *paho.Publish {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(testTimeout):
		t.Fatal("paho v5: no message")
	}
	return nil
}
