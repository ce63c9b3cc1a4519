package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// blockingStore wraps MemoryStore: SaveMessage and SaveRetained block
// until released, and every call is recorded.
type blockingStore struct {
	*MemoryStore
	mu      sync.Mutex
	calls   []string
	block   chan struct{} // nil = do not block
	entered chan string
}

func (s *blockingStore) record(call string) {
	s.mu.Lock()
	s.calls = append(s.calls, call)
	block := s.block
	s.mu.Unlock()
	if block != nil {
		s.entered <- call
		<-block
	}
}

func (s *blockingStore) SaveMessage(id string, m *StoredMessage) error {
	s.record(fmt.Sprintf("SaveMessage %s %s state %d", id, m.Topic, m.State))
	return s.MemoryStore.SaveMessage(id, m)
}

func (s *blockingStore) SaveRetained(m *StoredMessage) error {
	s.record("SaveRetained " + m.Topic)
	return s.MemoryStore.SaveRetained(m)
}

// TestStoreBeforeAck proves that a QoS 1/2 message is handed to the store
// for a durable offline session and for retain before the publisher's
// PUBACK/PUBREC is sent.
func TestStoreBeforeAck(t *testing.T) {
	st := &blockingStore{MemoryStore: NewMemoryStore(), entered: make(chan string, 4)}
	_, addr := newTestBroker(t, Options{Store: st})
	for _, tc := range versions {
		t.Run(tc.name, func(t *testing.T) {
			id := "sba-" + tc.name
			topic := "sba/" + tc.name
			c, _ := mustConnect(t, addr, durableConnect(tc.v, id, 300))
			c.subscribe(topic, 2)
			c.disconnect()

			pub := connectClient(t, addr, tc.v, "sba-pub-"+tc.name)
			for _, qos := range []mqtt.QoS{1, 2} {
				st.mu.Lock()
				st.block = make(chan struct{})
				st.mu.Unlock()
				p := &mqtt.Publish{Topic: topic, Payload: []byte("x"), QoS: qos, Retain: true, PacketID: uint16(qos)}
				pub.send(p)
				// Two blocking calls: retained, then the session message.
				for i := 0; i < 2; i++ {
					select {
					case call := <-st.entered:
						t.Logf("store call: %s", call)
					case <-time.After(testTimeout):
						t.Fatal("store not called")
					}
					// While the store call is in progress, no ack may arrive.
					if p, err := pub.read(100 * time.Millisecond); err == nil {
						t.Fatalf("%s arrived before the store call returned", mqtt.Describe(p))
					} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
						t.Fatalf("read: %v", err)
					}
					pub.r = mqtt.NewReader(pub.nc, 0) // a timed-out read may leave partial state
					pub.r.Version = tc.v
					if i == 0 {
						st.block <- struct{}{}
					}
				}
				st.mu.Lock()
				close(st.block)
				st.block = nil
				st.mu.Unlock()
				kind := mqtt.PUBACK
				if qos == 2 {
					kind = mqtt.PUBREC
				}
				pub.expectAck(kind, p.PacketID)
				if qos == 2 {
					pub.send(&mqtt.Ack{Kind: mqtt.PUBREL, PacketID: p.PacketID})
					pub.expectAck(mqtt.PUBCOMP, p.PacketID)
				}
			}
		})
	}
}

func TestStoreRestart(t *testing.T) {
	st := NewMemoryStore()
	start := func() (*Broker, string) {
		b, err := New(Options{Listeners: []ListenerConfig{{Name: "tcp", Addr: "127.0.0.1:0"}}, Store: st})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(); err != nil {
			t.Fatal(err)
		}
		return b, b.Addr("tcp").String()
	}
	stop := func(b *Broker) {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}
	b1, addr := start()
	for _, tc := range versions {
		c, _ := mustConnect(t, addr, durableConnect(tc.v, "rs-"+tc.name, 300))
		c.subscribe("rs/#", 2)
		c.subscribe("$share/g/rs/shared", 1)
		c.disconnect()
	}
	pub := connectClient(t, addr, mqtt.V5, "rs-pub")
	pub.publish("rs/ret", "kept", 1, true)
	for i := 0; i < 3; i++ {
		p := &mqtt.Publish{Topic: "rs/q", Payload: []byte(fmt.Sprint(i)), QoS: mqtt.QoS(1 + i%2)}
		p.Props.SetContentType("text/plain")
		pub.publishPacket(p)
	}
	// A v5 client in the middle of a QoS 2 inbound flow (PUBREC sent).
	q2, _ := mustConnect(t, addr, durableConnect(mqtt.V5, "rs-q2", 300))
	q2.send(&mqtt.Publish{Topic: "other/x", Payload: []byte("y"), QoS: 2, PacketID: 7})
	q2.expectAck(mqtt.PUBREC, 7)
	stop(b1)

	b2, addr := start()
	defer stop(b2)
	for _, tc := range versions {
		c, ack := mustConnect(t, addr, durableConnect(tc.v, "rs-"+tc.name, 300))
		if !ack.SessionPresent {
			t.Fatalf("%s: session lost across restart", tc.name)
		}
		// The retained message was queued too (it matched rs/#).
		c.expectPublish("rs/ret", "kept")
		for i := 0; i < 3; i++ {
			p := c.expectPublish("rs/q", fmt.Sprint(i))
			if tc.v == mqtt.V5 && p.Props.ContentType != "text/plain" {
				t.Errorf("properties lost: %s", mqtt.Describe(p))
			}
		}
		c.expectNothing()
		c.disconnect()
	}
	late := connectClient(t, addr, mqtt.V311, "rs-late")
	late.subscribe("rs/ret", 0)
	late.expectPublish("rs/ret", "kept")
	// The QoS 2 id is still known: a re-sent PUBLISH is not delivered again.
	q2, _ = mustConnect(t, addr, durableConnect(mqtt.V5, "rs-q2", 300))
	q2.send(&mqtt.Publish{Topic: "other/x", Payload: []byte("y"), QoS: 2, PacketID: 7, Dup: true})
	q2.expectAck(mqtt.PUBREC, 7)
	q2.send(&mqtt.Ack{Kind: mqtt.PUBREL, PacketID: 7})
	if a := q2.expectAck(mqtt.PUBCOMP, 7); a.Code != mqtt.Success {
		t.Errorf("PUBCOMP %s", a.Code)
	}
	// Shared subscription restored: one message to the group.
	pub2 := connectClient(t, addr, mqtt.V311, "rs-pub2")
	pub2.publish("rs/shared", "s", 1, false)
	if b2.subs.SharedLen() != 2 {
		t.Errorf("shared subscriptions after restart: %d", b2.subs.SharedLen())
	}
}

func TestStoreCleanup(t *testing.T) {
	st := NewMemoryStore()
	logs := newLogCapture()
	_, addr := newTestBroker(t, Options{Store: st, ConnectionMessages: true, Logger: logs.logger()})
	c, _ := mustConnect(t, addr, durableConnect(mqtt.V5, "sc", 1))
	c.subscribe("sc/t", 1)
	pub := connectClient(t, addr, mqtt.V5, "sc-pub")
	pub.publish("sc/t", "x", 1, false)
	c.expectPublish("sc/t", "x")
	c.expectNothing() // the PUBACK has been handled
	if s, m, _ := st.counts(); s != 1 || m != 0 {
		t.Errorf("after delivery: %d sessions, %d messages; want 1, 0", s, m)
	}
	c.disconnect()
	pub.publish("sc/t", "queued", 1, false)
	if _, m, _ := st.counts(); m != 1 {
		t.Errorf("offline: %d messages stored, want 1", m)
	}
	logs.wait(t, "Client sc has expired.")
	if s, m, _ := st.counts(); s != 0 || m != 0 {
		t.Errorf("after expiry: %d sessions, %d messages", s, m)
	}
	// Clean sessions never reach the store.
	cl := connectClient(t, addr, mqtt.V311, "clean")
	cl.subscribe("x", 1)
	if s, _, _ := st.counts(); s != 0 {
		t.Errorf("clean session stored")
	}
}

type failingStore struct{ *MemoryStore }

func (failingStore) SaveMessage(string, *StoredMessage) error { return errors.New("disk full") }

func TestStoreErrorReported(t *testing.T) {
	_, addr := newTestBroker(t, Options{Store: failingStore{NewMemoryStore()}})
	c, _ := mustConnect(t, addr, durableConnect(mqtt.V5, "fe", 300))
	c.subscribe("fe", 1)
	c.disconnect()
	pub := connectClient(t, addr, mqtt.V5, "fe-pub")
	if code := pub.publish("fe", "x", 1, false); code != mqtt.ImplementationSpecificError {
		t.Errorf("PUBACK %s, want 0x83 when the store fails", code)
	}
}

func TestStoredMessageCodec(t *testing.T) {
	var props mqtt.Properties
	props.SetContentType("text/plain")
	props.SetCorrelationData([]byte{9, 8})
	props.User = []mqtt.UserProperty{{Key: "k", Value: "v"}}
	msgs := []*StoredMessage{
		{Seq: 1<<40 + 3, PacketID: 513, State: StateReleased, QoS: 2, Retain: true, Dup: true,
			SubIDs: []uint32{1, 268435455}, Topic: "a/b", Payload: []byte("payload"), Props: props,
			Expiry: time.Unix(1700000000, 123), Publisher: "pub-1"},
		{Topic: "$SYS/x", QoS: 0},
	}
	for _, m := range msgs {
		b, err := MarshalStoredMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := UnmarshalStoredMessage(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.Seq != m.Seq || got.PacketID != m.PacketID || got.State != m.State || got.QoS != m.QoS ||
			got.Retain != m.Retain || got.Dup != m.Dup || got.Topic != m.Topic || string(got.Payload) != string(m.Payload) ||
			!got.Expiry.Equal(m.Expiry) || got.Publisher != m.Publisher || fmt.Sprint(got.SubIDs) != fmt.Sprint(m.SubIDs) ||
			got.Props.ContentType != m.Props.ContentType || string(got.Props.CorrelationData) != string(m.Props.CorrelationData) ||
			fmt.Sprint(got.Props.User) != fmt.Sprint(m.Props.User) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, m)
		}
		for i := range b { // every truncation is an error, never a panic
			if _, err := UnmarshalStoredMessage(b[:i]); err == nil {
				t.Fatalf("truncated to %d bytes: no error", i)
			}
		}
	}
}
