package broker

import (
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// deferredStore is a DurableStore whose "commits" happen when the test
// says so: AfterDurable callbacks wait in a queue until release.
type deferredStore struct {
	*MemoryStore
	mu      sync.Mutex
	waiting []func(error)
	queued  chan struct{}
}

func newDeferredStore() *deferredStore {
	return &deferredStore{MemoryStore: NewMemoryStore(), queued: make(chan struct{}, 100)}
}

func (s *deferredStore) AfterDurable(fn func(error)) {
	s.mu.Lock()
	s.waiting = append(s.waiting, fn)
	s.mu.Unlock()
	s.queued <- struct{}{}
}

// release runs the waiting callbacks in order with err.
func (s *deferredStore) release(err error) {
	s.mu.Lock()
	w := s.waiting
	s.waiting = nil
	s.mu.Unlock()
	for _, fn := range w {
		fn(err)
	}
}

func expectSilence(t *testing.T, c *tclient) {
	t.Helper()
	if p, err := c.read(150 * time.Millisecond); err == nil {
		t.Fatalf("%s arrived before the store was durable", mqtt.Describe(p))
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("read: %v", err)
	}
}

// TestAckAfterDurable: with a DurableStore, PUBACK/PUBREC are sent only
// after AfterDurable fires, in the order the PUBLISHes arrived, and a
// failed commit turns a v5 ack into 0x80.
func TestAckAfterDurable(t *testing.T) {
	for _, tc := range versions {
		t.Run(tc.name, func(t *testing.T) {
			st := newDeferredStore()
			_, addr := newTestBroker(t, Options{Store: st})
			pub := connectClient(t, addr, tc.v, "dur-pub")
			pub.send(&mqtt.Publish{Topic: "dur/a", Payload: []byte("1"), QoS: 1, PacketID: 1, Retain: true})
			pub.send(&mqtt.Publish{Topic: "dur/a", Payload: []byte("2"), QoS: 2, PacketID: 2})
			pub.send(&mqtt.Publish{Topic: "dur/a", Payload: []byte("3"), QoS: 1, PacketID: 3})
			for i := 0; i < 3; i++ {
				select {
				case <-st.queued:
				case <-time.After(testTimeout):
					t.Fatal("AfterDurable not called")
				}
			}
			expectSilence(t, pub)
			st.release(nil)
			want := []struct {
				kind mqtt.PacketType
				id   uint16
			}{{mqtt.PUBACK, 1}, {mqtt.PUBREC, 2}, {mqtt.PUBACK, 3}}
			for _, w := range want {
				a := expect[*mqtt.Ack](pub)
				if a.Kind != w.kind || a.PacketID != w.id || a.Code.IsError() {
					t.Fatalf("got %s, want %s m%d", mqtt.Describe(a), w.kind, w.id)
				}
			}
			// A failed commit.
			pub.send(&mqtt.Publish{Topic: "dur/b", Payload: []byte("4"), QoS: 1, PacketID: 4})
			<-st.queued
			expectSilence(t, pub)
			st.release(errors.New("disk full"))
			a := expect[*mqtt.Ack](pub)
			wantCode := mqtt.Success
			if tc.v == mqtt.V5 {
				wantCode = mqtt.UnspecifiedError
			}
			if a.PacketID != 4 || a.Code != wantCode {
				t.Fatalf("after failed commit got %s, want code %v", mqtt.Describe(a), wantCode)
			}
		})
	}
}
