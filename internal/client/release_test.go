package client

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// events records, in order, what the client traced and handed to the
// callbacks, from whichever goroutine.
type events struct {
	mu   sync.Mutex
	list []string
	done chan struct{}
	want int
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, s)
	if len(e.list) == e.want {
		close(e.done)
	}
}

func (e *events) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.list, "\n")
}

// OnRelease gets a message after its acknowledgement is queued: QoS 1
// after the PUBACK, QoS 2 after the server's PUBREL and our PUBCOMP,
// which is where libmosquitto hands it to mosquitto_sub; OnMessage still
// decides first, and what it refuses is neither acknowledged nor released.
// Outgoing packets are traced when queued, so the PUBACK line comes
// before the release, as in mosquitto_sub -d.
func TestOnReleaseAfterAcknowledgement(t *testing.T) {
	ev := &events{done: make(chan struct{}), want: 10}
	ep, done := startFake(t, func(f *fakeConn) {
		f.accept(nil)
		f.write(&mqtt.Publish{Topic: "t", Payload: []byte("q1"), QoS: 1, PacketID: 7})
		f.expect(mqtt.PUBACK)
		f.write(&mqtt.Publish{Topic: "t", Payload: []byte("q2"), QoS: 2, PacketID: 8})
		f.expect(mqtt.PUBREC)
		f.write(&mqtt.Publish{Topic: "t", Payload: []byte("q0")})
		f.write(&mqtt.Publish{Topic: "t", Payload: []byte("refused"), QoS: 1, PacketID: 9})
		f.write(&mqtt.Ack{Kind: mqtt.PUBREL, PacketID: 8})
		f.expect(mqtt.PUBCOMP)
		f.expect(mqtt.DISCONNECT)
	})
	c := testConnect(t, ep, mqtt.V311, func(o *Options) {
		o.OnMessage = func(p *mqtt.Publish) bool {
			ev.add("accept? " + string(p.Payload))
			return string(p.Payload) != "refused"
		}
		o.OnRelease = func(p *mqtt.Publish) { ev.add("release " + string(p.Payload)) }
		o.Trace = func(te TraceEvent) {
			if te.Sent {
				if a, ok := te.Packet.(*mqtt.Ack); ok {
					ev.add(fmt.Sprintf("sent %s %d", a.Kind, a.PacketID))
				}
			}
		}
	})
	waitDone(t, ev.done, "10 events")
	if err := c.Disconnect(ctxT(t), nil); err != nil {
		t.Fatal(err)
	}
	waitDone(t, done, "fake server")
	want := strings.Join([]string{
		"accept? q1", "sent PUBACK 7", "release q1",
		"accept? q2", "sent PUBREC 8",
		"accept? q0", "release q0",
		"accept? refused",
		"sent PUBCOMP 8", "release q2",
	}, "\n")
	if got := ev.String(); got != want {
		t.Errorf("events:\n%s\nwant:\n%s", got, want)
	}
}

// A QoS 2 message accepted (PUBREC sent) whose PUBREL never came is
// released when the connection ends: the server will not send it again.
func TestOnReleaseWhenConnectionEnds(t *testing.T) {
	released := make(chan string, 2)
	ep, done := startFake(t, func(f *fakeConn) {
		f.accept(nil)
		f.write(&mqtt.Publish{Topic: "t", Payload: []byte("first"), QoS: 2, PacketID: 2})
		f.write(&mqtt.Publish{Topic: "t", Payload: []byte("second"), QoS: 2, PacketID: 3})
		f.expect(mqtt.PUBREC)
		f.expect(mqtt.PUBREC)
		f.conn.Close()
	})
	c := testConnect(t, ep, mqtt.V311, func(o *Options) {
		o.OnMessage = func(*mqtt.Publish) bool { return true }
		o.OnRelease = func(p *mqtt.Publish) { released <- string(p.Payload) }
	})
	waitDone(t, done, "fake server")
	waitDone(t, c.Done(), "the connection to end")
	for _, want := range []string{"first", "second"} {
		select {
		case got := <-released:
			if got != want {
				t.Errorf("released %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%q was not released", want)
		}
	}
}

// What OnConnect queues goes out before anything that follows the CONNACK
// is handled, as from libmosquitto's on_connect: a durable session's
// queued message, sent right after CONNACK, is traced after our
// SUBSCRIBE. StartSubscribe returns before the SUBACK.
func TestOnConnectQueuesFirst(t *testing.T) {
	ev := &events{done: make(chan struct{}), want: 3}
	ep, done := startFake(t, func(f *fakeConn) {
		f.read() // CONNECT
		f.write(&mqtt.Connack{SessionPresent: true})
		f.write(&mqtt.Publish{Topic: "kept", Payload: []byte("x")})
		f.expect(mqtt.SUBSCRIBE)
		f.write(&mqtt.Suback{PacketID: 1, Codes: []mqtt.ReasonCode{0}})
		f.expect(mqtt.DISCONNECT)
	})
	var tok *Token
	c := testConnect(t, ep, mqtt.V311, func(o *Options) {
		o.OnConnect = func(c *Client) {
			var err error
			if tok, err = c.StartSubscribe(&mqtt.Subscribe{Subscriptions: []mqtt.Subscription{{Filter: "kept"}}}); err != nil {
				t.Error(err)
			}
		}
		o.Trace = func(te TraceEvent) {
			if _, ack := te.Packet.(*mqtt.Connack); !ack {
				ev.add(fmt.Sprintf("%v %s", te.Sent, te.Packet.Type()))
			}
		}
	})
	if err := tok.Wait(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if a, ok := tok.Result().(*mqtt.Suback); !ok || a.PacketID != 1 {
		t.Errorf("Result = %v", tok.Result())
	}
	waitDone(t, ev.done, "3 events")
	if got, want := ev.String(), "true CONNECT\ntrue SUBSCRIBE\nfalse PUBLISH"; !strings.HasPrefix(got, want) {
		t.Errorf("events:\n%s\nwant them to start with:\n%s", got, want)
	}
	if err := c.Disconnect(ctxT(t), nil); err != nil {
		t.Fatal(err)
	}
	waitDone(t, done, "fake server")
}

// Once Disconnect has begun, an acknowledgement whose operation was given
// up (an UNSUBSCRIBE not waited for, as mosquitto_sub -E leaves it) is
// not a protocol error; before, an UNSUBACK nobody waits for is one.
func TestLateUnsubackWhileDisconnecting(t *testing.T) {
	c := &Client{pending: map[uint16]*Token{}}
	var pe *ProtocolError
	if err := c.handleSubAck(7, mqtt.UNSUBACK, &mqtt.Unsuback{PacketID: 7}); !errors.As(err, &pe) {
		t.Fatalf("unknown UNSUBACK: %v, want a protocol error", err)
	}
	c.disconnecting.Store(true)
	if err := c.handleSubAck(7, mqtt.UNSUBACK, &mqtt.Unsuback{PacketID: 7}); err != nil {
		t.Fatalf("unknown UNSUBACK while disconnecting: %v", err)
	}
}
