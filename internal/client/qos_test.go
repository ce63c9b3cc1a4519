package client

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

func TestOutboundQoS(t *testing.T) {
	for _, v := range []mqtt.Version{mqtt.V31, mqtt.V311, mqtt.V5} {
		for _, qos := range []mqtt.QoS{0, 1, 2} {
			t.Run(v.String()+"/q"+string('0'+byte(qos)), func(t *testing.T) {
				ep, done := startFake(t, func(f *fakeConn) {
					f.accept(nil)
					p, _ := f.expect(mqtt.PUBLISH).(*mqtt.Publish)
					if p == nil {
						return
					}
					if p.QoS != qos || p.Topic != "a/b" || string(p.Payload) != "hi" || p.Dup {
						t.Errorf("PUBLISH = %s", mqtt.Describe(p))
					}
					switch qos {
					case 1:
						f.write(&mqtt.Ack{Kind: mqtt.PUBACK, PacketID: p.PacketID})
					case 2:
						f.write(&mqtt.Ack{Kind: mqtt.PUBREC, PacketID: p.PacketID})
						if rel, ok := f.expect(mqtt.PUBREL).(*mqtt.Ack); ok && rel.PacketID != p.PacketID {
							t.Errorf("PUBREL id %d, want %d", rel.PacketID, p.PacketID)
						}
						f.write(&mqtt.Ack{Kind: mqtt.PUBCOMP, PacketID: p.PacketID})
					}
					f.expect(mqtt.DISCONNECT)
				})
				c := testConnect(t, ep, v, nil)
				tok, err := c.Publish(ctxT(t), &mqtt.Publish{Topic: "a/b", Payload: []byte("hi"), QoS: qos})
				if err != nil {
					t.Fatal(err)
				}
				if err := tok.Wait(ctxT(t)); err != nil {
					t.Fatalf("token: %v", err)
				}
				if (qos == 0) != (tok.PacketID() == 0) {
					t.Errorf("packet id %d for QoS %d", tok.PacketID(), qos)
				}
				if err := c.Disconnect(ctxT(t), nil); err != nil {
					t.Fatal(err)
				}
				waitDone(t, done, "fake server")
			})
		}
	}
}

func TestOutboundAckFailures(t *testing.T) {
	tests := []struct {
		name string
		qos  mqtt.QoS
		kind mqtt.PacketType
		code mqtt.ReasonCode
	}{
		{"puback not authorized", 1, mqtt.PUBACK, mqtt.NotAuthorized},
		{"pubrec quota exceeded", 2, mqtt.PUBREC, mqtt.QuotaExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ep, done := startFake(t, func(f *fakeConn) {
				f.accept(nil)
				p, _ := f.expect(mqtt.PUBLISH).(*mqtt.Publish)
				if p == nil {
					return
				}
				a := &mqtt.Ack{Kind: tc.kind, PacketID: p.PacketID, Code: tc.code}
				a.Props.SetReasonString("denied")
				f.write(a)
				// No PUBREL may follow a failing PUBREC [MQTT-4.3.3-4].
				f.expect(mqtt.DISCONNECT)
			})
			c := testConnect(t, ep, mqtt.V5, nil)
			tok, err := c.Publish(ctxT(t), &mqtt.Publish{Topic: "a", QoS: tc.qos})
			if err != nil {
				t.Fatal(err)
			}
			var ae *AckError
			if err := tok.Wait(ctxT(t)); !errors.As(err, &ae) || ae.Code != tc.code || ae.Kind != tc.kind || ae.ReasonString != "denied" {
				t.Fatalf("token err = %v, want AckError %s %v", err, tc.kind, tc.code)
			}
			c.Disconnect(ctxT(t), nil)
			waitDone(t, done, "fake server")
		})
	}
}

// The server's Receive Maximum bounds outbound QoS 1/2 [MQTT-3.3.4-9].
func TestInflightWindow(t *testing.T) {
	const window = 2
	const total = 6
	ep, done := startFake(t, func(f *fakeConn) {
		ack := &mqtt.Connack{}
		ack.Props.SetReceiveMaximum(window)
		f.accept(ack)
		var outstanding []uint16
		for got := 0; got < total; {
			p := f.read()
			pub, ok := p.(*mqtt.Publish)
			if !ok {
				t.Errorf("got %v, want PUBLISH", p)
				return
			}
			got++
			outstanding = append(outstanding, pub.PacketID)
			if len(outstanding) > window {
				t.Errorf("%d publishes outstanding, window %d", len(outstanding), window)
			}
			if len(outstanding) == window || got == total {
				f.write(&mqtt.Ack{Kind: mqtt.PUBACK, PacketID: outstanding[0]})
				outstanding = outstanding[1:]
			}
		}
		for _, id := range outstanding {
			f.write(&mqtt.Ack{Kind: mqtt.PUBACK, PacketID: id})
		}
		f.expect(mqtt.DISCONNECT)
	})
	c := testConnect(t, ep, mqtt.V5, func(o *Options) { o.MaxInflight = 10 })
	var toks []*Token
	for i := 0; i < total; i++ {
		tok, err := c.Publish(ctxT(t), &mqtt.Publish{Topic: "a", QoS: 1})
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	for _, tok := range toks {
		if err := tok.Wait(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	c.Disconnect(ctxT(t), nil)
	waitDone(t, done, "fake server")
}

// With the window full, Publish blocks until ctx ends.
func TestInflightBlocks(t *testing.T) {
	release := make(chan struct{})
	ep, _ := startFake(t, func(f *fakeConn) {
		f.accept(nil)
		f.expect(mqtt.PUBLISH)
		<-release
	})
	defer close(release)
	c := testConnect(t, ep, mqtt.V311, func(o *Options) { o.MaxInflight = 1 })
	if _, err := c.Publish(ctxT(t), &mqtt.Publish{Topic: "a", QoS: 2}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Publish(ctx, &mqtt.Publish{Topic: "a", QoS: 1}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Publish: %v, want deadline exceeded", err)
	}
	// QoS 0 is not limited by the window.
	tok, err := c.Publish(ctxT(t), &mqtt.Publish{Topic: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Wait(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

// Inbound QoS 2: a duplicate PUBLISH before PUBREL is acknowledged but not
// delivered again [MQTT-4.3.3-10]; PUBREL gets PUBCOMP [MQTT-4.3.3-11].
func TestInboundQoS2ExactlyOnce(t *testing.T) {
	msgs := make(chan string, 10)
	scripted := make(chan struct{})
	ep, done := startFake(t, func(f *fakeConn) {
		f.accept(nil)
		pub := &mqtt.Publish{Topic: "x/y", Payload: []byte("once"), QoS: 2, PacketID: 7}
		f.write(pub)
		if a, ok := f.expect(mqtt.PUBREC).(*mqtt.Ack); ok && a.PacketID != 7 {
			t.Errorf("PUBREC id %d", a.PacketID)
		}
		dup := *pub
		dup.Dup = true
		f.write(&dup)
		f.expect(mqtt.PUBREC)
		f.write(&mqtt.Ack{Kind: mqtt.PUBREL, PacketID: 7})
		f.expect(mqtt.PUBCOMP)
		// After PUBCOMP the same id is a new message [MQTT-4.3.3-12].
		f.write(&mqtt.Publish{Topic: "x/y", Payload: []byte("twice"), QoS: 1, PacketID: 7})
		f.expect(mqtt.PUBACK)
		// An unknown PUBREL still gets a PUBCOMP.
		f.write(&mqtt.Ack{Kind: mqtt.PUBREL, PacketID: 99})
		f.expect(mqtt.PUBCOMP)
		close(scripted)
		f.expect(mqtt.DISCONNECT)
	})
	c := testConnect(t, ep, mqtt.V311, func(o *Options) {
		o.OnMessage = func(p *mqtt.Publish) bool {
			msgs <- p.Topic + "=" + string(p.Payload)
			return true
		}
	})
	waitDone(t, scripted, "server script")
	if err := c.Disconnect(ctxT(t), nil); err != nil {
		t.Fatal(err)
	}
	waitDone(t, done, "fake server")
	close(msgs)
	var got []string
	for m := range msgs {
		got = append(got, m)
	}
	if len(got) != 2 || got[0] != "x/y=once" || got[1] != "x/y=twice" {
		t.Errorf("delivered %q, want [x/y=once x/y=twice]", got)
	}
}

// Inbound topic aliases are resolved; an alias above our maximum ends the
// connection with DISCONNECT 0x94 [MQTT-3.3.2-11].
func TestInboundTopicAlias(t *testing.T) {
	msgs := make(chan string, 10)
	discCode := make(chan mqtt.ReasonCode, 1)
	ep, done := startFake(t, func(f *fakeConn) {
		c := f.accept(nil)
		if c != nil && c.Props.TopicAliasMaximum != 3 {
			t.Errorf("CONNECT Topic Alias Maximum = %d", c.Props.TopicAliasMaximum)
		}
		p := &mqtt.Publish{Topic: "long/topic/name", Payload: []byte("1")}
		p.Props.SetTopicAlias(2)
		f.write(p)
		p2 := &mqtt.Publish{Payload: []byte("2")}
		p2.Props.SetTopicAlias(2)
		f.write(p2)
		p3 := &mqtt.Publish{Topic: "x", Payload: []byte("3")}
		p3.Props.SetTopicAlias(4)
		f.write(p3)
		if d, ok := f.expect(mqtt.DISCONNECT).(*mqtt.Disconnect); ok {
			discCode <- d.Code
		}
	})
	c := testConnect(t, ep, mqtt.V5, func(o *Options) {
		o.Connect.Props.SetTopicAliasMaximum(3)
		o.OnMessage = func(p *mqtt.Publish) bool {
			msgs <- p.Topic + "=" + string(p.Payload)
			return true
		}
	})
	waitDone(t, done, "fake server")
	waitDone(t, c.Done(), "client end")
	if got := <-discCode; got != mqtt.TopicAliasInvalid {
		t.Errorf("DISCONNECT code %v, want 0x94", got)
	}
	var pe *ProtocolError
	if !errors.As(c.Err(), &pe) || pe.Code != mqtt.TopicAliasInvalid {
		t.Errorf("Err = %v, want ProtocolError 0x94", c.Err())
	}
	close(msgs)
	var got []string
	for m := range msgs {
		got = append(got, m)
	}
	if len(got) != 2 || got[0] != "long/topic/name=1" || got[1] != "long/topic/name=2" {
		t.Errorf("delivered %q", got)
	}
}

// Outbound topic aliases: the topic is sent once, then only the alias.
func TestOutboundTopicAlias(t *testing.T) {
	topics := make(chan string, 4)
	ep, done := startFake(t, func(f *fakeConn) {
		ack := &mqtt.Connack{}
		ack.Props.SetTopicAliasMaximum(5)
		f.accept(ack)
		for range 3 {
			if p, ok := f.expect(mqtt.PUBLISH).(*mqtt.Publish); ok {
				topics <- p.Topic
			}
		}
		f.expect(mqtt.DISCONNECT)
	})
	c := testConnect(t, ep, mqtt.V5, nil)
	for _, topic := range []string{"a/b", "a/b", "c"} {
		p := &mqtt.Publish{Topic: topic}
		p.Props.SetTopicAlias(1)
		if _, err := c.Publish(ctxT(t), p); err != nil {
			t.Fatal(err)
		}
	}
	bad := &mqtt.Publish{Topic: "a"}
	bad.Props.SetTopicAlias(6)
	if _, err := c.Publish(ctxT(t), bad); !errors.Is(err, mqtt.ErrTopicAliasInvalid) {
		t.Errorf("alias above the server maximum: %v", err)
	}
	c.Disconnect(ctxT(t), nil)
	waitDone(t, done, "fake server")
	close(topics)
	var got []string
	for tp := range topics {
		got = append(got, tp)
	}
	if len(got) != 3 || got[0] != "a/b" || got[1] != "" || got[2] != "c" {
		t.Errorf("topics on the wire %q, want [a/b \"\" c]", got)
	}
}

// A message the handler declines stays unacknowledged.
func TestDeclinedMessageNotAcked(t *testing.T) {
	acked := make(chan struct{})
	ep, done := startFake(t, func(f *fakeConn) {
		f.accept(nil)
		f.write(&mqtt.Publish{Topic: "a", QoS: 1, PacketID: 1})
		f.write(&mqtt.Publish{Topic: "b", QoS: 1, PacketID: 2})
		// Only b is acknowledged.
		if a, ok := f.expect(mqtt.PUBACK).(*mqtt.Ack); ok && a.PacketID != 2 {
			t.Errorf("PUBACK for %d, want 2", a.PacketID)
		}
		close(acked)
		f.expect(mqtt.DISCONNECT)
	})
	c := testConnect(t, ep, mqtt.V311, func(o *Options) {
		o.OnMessage = func(p *mqtt.Publish) bool { return p.Topic == "b" }
	})
	waitDone(t, acked, "PUBACK")
	c.Disconnect(ctxT(t), nil)
	waitDone(t, done, "fake server")
}

// A v5 server's Maximum QoS and Retain Available are respected
// [MQTT-3.2.2-11], [MQTT-3.2.2-14].
func TestServerCapabilities(t *testing.T) {
	retained := make(chan bool, 1)
	ep, done := startFake(t, func(f *fakeConn) {
		ack := &mqtt.Connack{}
		ack.Props.SetMaximumQoS(1)
		ack.Props.SetRetainAvailable(0)
		f.accept(ack)
		if p, ok := f.expect(mqtt.PUBLISH).(*mqtt.Publish); ok {
			retained <- p.Retain
		}
		f.expect(mqtt.DISCONNECT)
	})
	c := testConnect(t, ep, mqtt.V5, nil)
	if _, err := c.Publish(ctxT(t), &mqtt.Publish{Topic: "a", QoS: 2}); err == nil {
		t.Error("QoS 2 publish to a QoS 1 server accepted")
	}
	if _, err := c.Publish(ctxT(t), &mqtt.Publish{Topic: "a", Retain: true}); err != nil {
		t.Fatal(err)
	}
	c.Disconnect(ctxT(t), nil)
	waitDone(t, done, "fake server")
	if <-retained {
		t.Error("retain flag sent to a server without Retain Available")
	}
}

// Disconnect while a delivered QoS 2 message awaits PUBREL waits for the
// PUBREL and sends PUBCOMP before DISCONNECT (as libmosquitto). Repeated:
// the order once depended on which goroutine ran first.
func TestDisconnectCompletesInboundQoS2First(t *testing.T) {
	for i := 0; i < 30; i++ {
		delivered := make(chan struct{})
		ep, done := startFake(t, func(f *fakeConn) {
			f.accept(nil)
			f.write(&mqtt.Publish{Topic: "q", Payload: []byte("2"), QoS: 2, PacketID: 1})
			f.expect(mqtt.PUBREC)
			<-delivered
			f.write(&mqtt.Ack{Kind: mqtt.PUBREL, PacketID: 1})
			if got := f.read(); got == nil || got.Type() != mqtt.PUBCOMP {
				t.Errorf("run %d: after PUBREL got %v, want PUBCOMP", i, got)
				return
			}
			f.expect(mqtt.DISCONNECT)
		})
		c := testConnect(t, ep, mqtt.V311, func(o *Options) {
			o.OnMessage = func(*mqtt.Publish) bool { close(delivered); return true }
		})
		waitDone(t, delivered, "delivery")
		if err := c.Disconnect(ctxT(t), nil); err != nil {
			t.Fatal(err)
		}
		waitDone(t, done, "fake server")
		if t.Failed() {
			return
		}
	}
}
