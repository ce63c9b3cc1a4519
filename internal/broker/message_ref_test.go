package broker

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// testPooled is a pooled message whose payload is its body's first n
// bytes, all 'x' (not taken from pubPool: nothing else can reuse it while
// the test looks at it after its release).
func testPooled(n int) (*message, []byte) {
	pa := new(pubAlloc)
	body := pa.buf[:n:n]
	for i := range body {
		body[i] = 'x'
	}
	m := &pa.m
	m.payload = body
	m.setPooled()
	return m, body
}

func poisoned(b []byte) bool {
	return len(b) > 0 && bytes.Count(b, []byte{poisonByte}) == len(b)
}

// TestMessageRefCounts: a pooled message goes back to the pool (its
// body poisoned under test) when its last holder releases it, not
// before; a pinned one never; an unpooled one (a will, a large PUBLISH,
// the retained tree's copy) is left to the collector whatever its holders
// do.
func TestMessageRefCounts(t *testing.T) {
	if !poisonReleased {
		t.Fatal("released messages are not poisoned under test")
	}
	m, body := testPooled(8)
	m.hold() // a queue
	m.hold() // an outMsg
	m.release()
	m.release()
	if poisoned(body) || !m.pooled() {
		t.Fatalf("released with a holder left (the creator's): body %q, refs %#x", body, m.refs)
	}
	m.release() // the creator's
	if !poisoned(body) {
		t.Fatalf("last release did not recycle: body %q", body)
	}
	if m.refs != 0 || m.payload != nil {
		t.Fatalf("recycled message not cleared: refs %#x, payload %q", m.refs, m.payload)
	}

	m, body = testPooled(8)
	m.hold()
	m.pin()
	m.pin() // twice: the retained tree, then an orphan
	m.release()
	m.release()
	if poisoned(body) || string(body) != "xxxxxxxx" {
		t.Fatalf("pinned message recycled: body %q", body)
	}
	r := m.unpooled()
	r.hold()
	r.release()
	if r.pooled() || r.refs != 0 {
		t.Fatalf("the retained tree's copy is counted: refs %#x", r.refs)
	}

	u := &message{payload: []byte("will")}
	u.hold()
	u.release()
	u.release()
	if u.refs != 0 || string(u.payload) != "will" {
		t.Fatalf("unpooled message touched: refs %d, payload %q", u.refs, u.payload)
	}
}

// TestMessagesReused: on the event loop, every small message routed at
// QoS 0 and at QoS 1 goes back to the pool once written (and, at QoS 1,
// acknowledged), and every subscriber still gets its own bytes: the
// poison of a message released too early would show in them.
func TestMessagesReused(t *testing.T) {
	for _, qos := range []mqtt.QoS{0, 1} {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
			b, addr := newTestBroker(t, Options{})
			subs := []*tclient{connectClient(t, addr, mqtt.V5, "s1"), connectClient(t, addr, mqtt.V311, "s2")}
			if b.loop == nil {
				if runtime.GOOS == "linux" {
					t.Fatal("no event loop")
				}
				t.Skip("no event loop on this platform: every message is allocated")
			}
			for _, s := range subs {
				s.subscribe("reuse/#", qos)
			}
			pub := connectClient(t, addr, mqtt.V5, "p")
			const n = 300
			before := recycledForTest.Load()
			for i := range n {
				pid := uint16(0)
				if qos > 0 {
					pid = uint16(i + 1)
				}
				// Not waiting for each PUBACK: the broker reads them in
				// batches and reuses the same memory at once.
				pub.send(&mqtt.Publish{Topic: fmt.Sprintf("reuse/%d", i%7), Payload: []byte(fmt.Sprintf("payload-%04d", i)),
					QoS: qos, PacketID: pid})
			}
			for _, s := range subs {
				for i := range n {
					p := expect[*mqtt.Publish](s)
					want := fmt.Sprintf("payload-%04d", i)
					if string(p.Payload) != want || p.Topic != fmt.Sprintf("reuse/%d", i%7) {
						t.Fatalf("message %d: %q on %q, want %q", i, p.Payload, p.Topic, want)
					}
					if qos > 0 {
						s.send(&mqtt.Ack{Kind: mqtt.PUBACK, PacketID: p.PacketID})
					}
				}
			}
			// Recycled once the last holder let go: at once at QoS 0, at
			// the subscribers' PUBACKs at QoS 1.
			deadline := time.Now().Add(testTimeout)
			for recycledForTest.Load()-before < n && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if got := recycledForTest.Load() - before; got < n {
				t.Fatalf("%d of %d messages went back to the pool", got, n)
			}
		})
	}
}

// heldObserver keeps the messages it is shown on kept/ topics, holding
// them (the others it does not keep: they are reused), and the packet
// events of watched clients.
type heldObserver struct {
	mu     sync.Mutex
	msgs   []*Message
	events []PacketEvent
}

func (o *heldObserver) Message(m *Message) {
	if !strings.HasPrefix(m.Topic(), "kept/") {
		return
	}
	m.Hold()
	o.mu.Lock()
	o.msgs = append(o.msgs, m)
	o.mu.Unlock()
}

func (o *heldObserver) Packet(e PacketEvent) {
	o.mu.Lock()
	o.events = append(o.events, e)
	o.mu.Unlock()
}

// TestReusedMessagesKeptWhereHeld: what keeps a message for longer than
// its routing still has its bytes after a stream of other messages has
// reused memory (and, under test, poisoned every released message): a
// retained message, a QoS 1 message queued for an offline session, an
// Observer's held message, and the topics of watched clients' packet
// events (the publisher's and a subscriber's).
func TestReusedMessagesKeptWhereHeld(t *testing.T) {
	b, addr := newTestBroker(t, Options{})
	obs := &heldObserver{}
	b.SetObserver(obs)
	defer b.WatchClient("p")()
	defer b.WatchClient("sink")()

	durable := &mqtt.Connect{Version: mqtt.V5, ClientID: "off", KeepAlive: 60}
	durable.Props.SetSessionExpiry(300)
	off, _ := mustConnect(t, addr, durable)
	off.subscribe("queued/#", 1)
	off.send(&mqtt.Disconnect{})
	off.expectClosed()

	pub := connectClient(t, addr, mqtt.V5, "p")
	pub.publish("kept/retained", "retained-1", 1, true)
	pub.publish("kept/held", "held-1", 0, false)
	for i := range 5 {
		pub.publish(fmt.Sprintf("queued/%d", i), fmt.Sprintf("queued-%d", i), 1, false)
	}
	// The churn: 500 QoS 0 messages nobody keeps.
	sink := connectClient(t, addr, mqtt.V311, "sink")
	sink.subscribe("churn/#", 0)
	for i := range 500 {
		pub.send(&mqtt.Publish{Topic: "churn/" + strings.Repeat("c", i%20), Payload: []byte("zzzzzzzzzzzzzzzz")})
	}
	for range 500 {
		expect[*mqtt.Publish](sink)
	}

	late := connectClient(t, addr, mqtt.V311, "late")
	late.subscribe("kept/#", 0)
	late.expectPublish("kept/retained", "retained-1")

	back, _ := mustConnect(t, addr, durable)
	for i := range 5 {
		p := back.expectPublish(fmt.Sprintf("queued/%d", i), fmt.Sprintf("queued-%d", i))
		back.send(&mqtt.Ack{Kind: mqtt.PUBACK, PacketID: p.PacketID})
	}

	obs.mu.Lock()
	defer obs.mu.Unlock()
	var kept int
	for _, m := range obs.msgs {
		if m.Topic() == "kept/retained" {
			kept++
			if string(m.Payload()) != "retained-1" {
				t.Errorf("observer's held message: %q", m.Payload())
			}
		}
	}
	if kept != 1 || len(obs.msgs) != 2 || string(obs.msgs[1].Payload()) != "held-1" {
		t.Errorf("observer kept %d messages on kept/retained (want 1), %d in all (want 2), the last %q (want held-1)",
			kept, len(obs.msgs), obs.msgs[len(obs.msgs)-1].Payload())
	}
	var in, out int
	for _, e := range obs.events {
		if e.Packet != "PUBLISH" {
			continue
		}
		switch {
		case e.ClientID == "p" && !e.Out:
			in++
			if !strings.HasPrefix(e.Topic, "kept/") && !strings.HasPrefix(e.Topic, "queued/") && !strings.HasPrefix(e.Topic, "churn/") {
				t.Fatalf("the watched publisher's PUBLISH event: topic %q", e.Topic)
			}
		case e.ClientID == "sink" && e.Out:
			out++
			if !strings.HasPrefix(e.Topic, "churn/") || e.Detail != "zzzzzzzzzzzzzzzz" {
				t.Fatalf("the watched subscriber's PUBLISH event: %q on %q", e.Detail, e.Topic)
			}
		}
	}
	if in != 507 || out != 500 {
		t.Errorf("PUBLISH events: %d from the watched publisher, %d to the watched subscriber; want 507 and 500", in, out)
	}
}
