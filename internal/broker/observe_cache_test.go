package broker

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// cacheObserver is a TopicCacher that records what reaches it: payloads
// given to Message, and those given to MessageCached as they are flushed.
// Its cells are written without a lock: the race detector checks that
// the broker gives each to one reader at a time.
type cacheObserver struct {
	mu      sync.Mutex
	direct  []string
	flushed []string
	cells   int
}

type cacheCell struct{ pending []string }

func (o *cacheObserver) Message(m *Message) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.direct = append(o.direct, string(m.Payload()))
}

func (o *cacheObserver) MessageCached(m *Message, last any) any {
	c, _ := last.(*cacheCell)
	if c == nil {
		c = &cacheCell{}
		o.mu.Lock()
		o.cells++
		o.mu.Unlock()
	}
	c.pending = append(c.pending, string(m.Payload()))
	return c
}

func (o *cacheObserver) FlushCached(last any) {
	c := last.(*cacheCell)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.flushed = append(o.flushed, c.pending...)
	c.pending = c.pending[:0]
}

func (o *cacheObserver) Packet(PacketEvent) {}

func (o *cacheObserver) seen() (flushed, direct []string, cells int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.flushed), slices.Clone(o.direct), o.cells
}

// TestTopicCacherFlushedPerBatch: a client's messages reach a TopicCacher
// through one cell per client, flushed once the reader has handled its
// input, before the publisher is acknowledged (a PUBACK means the
// Observer has the message); a client's next connection takes the cell
// over once the old one is gone; messages the broker makes (a will) go to
// Message; a new Observer starts with no cell of the old one's. On the
// event loop and on the goroutine path.
func TestTopicCacherFlushedPerBatch(t *testing.T) {
	eachReadPath(t, func(t *testing.T, noLoop bool) {
		b, addr := newTestBroker(t, Options{noEventLoop: noLoop})
		o := &cacheObserver{}
		b.SetObserver(o)
		conn := func(id string, clean bool, will *mqtt.Will) *tclient {
			p := connectPacket(mqtt.V5, id, clean)
			p.Props.SetSessionExpiry(60)
			p.Will = will
			c, _ := mustConnect(t, addr, p)
			return c
		}
		want := func(what string, flushed []string, cells int, direct ...string) {
			t.Helper()
			f, d, n := o.seen()
			if !slices.Equal(f, flushed) || n != cells || !slices.Equal(d, direct) {
				t.Fatalf("%s: flushed %q (%d cells), direct %q; want %q (%d), %q", what, f, n, d, flushed, cells, direct)
			}
		}
		pub := conn("cp", true, nil)
		var all []string
		for i := range 3 {
			all = append(all, fmt.Sprint(i))
			pub.publish("cache/a", all[i], 1, false)
			want(fmt.Sprintf("after PUBACK %d", i), all, 1)
		}
		// A batch: 100 QoS 0 messages on two topics and a QoS 1, in
		// one write.
		var buf []byte
		for i := range 100 {
			all = append(all, fmt.Sprint("q0-", i))
			buf, _ = mqtt.Append(buf, &mqtt.Publish{Topic: fmt.Sprint("cache/", i%2), Payload: []byte(all[len(all)-1])}, mqtt.V5)
		}
		all = append(all, "last")
		buf, _ = mqtt.Append(buf, &mqtt.Publish{Topic: "cache/a", Payload: []byte("last"), QoS: 1, PacketID: 77}, mqtt.V5)
		pub.sendRaw(buf)
		pub.expectAck(mqtt.PUBACK, 77)
		want("after a batch's PUBACK", all, 1)

		// A takeover: once the old connection is closed, the new one
		// has the client's cell.
		pub2 := conn("cp", false, nil)
		pub.expectClosed()
		all = append(all, "resumed")
		pub2.publish("cache/a", "resumed", 1, false)
		want("after the takeover", all, 1)

		// A will is the broker's message: Message (observed before it
		// is routed).
		sub := conn("cs", true, nil)
		sub.subscribe("cache/will", 1)
		wp := conn("cw", true, &mqtt.Will{Topic: "cache/will", Payload: []byte("will"), QoS: 1})
		all = append(all, "w")
		wp.publish("cache/w", "w", 1, false)
		wp.nc.Close()
		sub.expectPublish("cache/will", "will")
		want("after the will", all, 2, "will")

		// A new Observer: the client's cell starts anew.
		o2 := &cacheObserver{}
		b.SetObserver(o2)
		pub2.publish("cache/a", "new", 1, false)
		if f, d, n := o2.seen(); !slices.Equal(f, []string{"new"}) || n != 1 || len(d) != 0 {
			t.Fatalf("new observer: flushed %q (%d cells), direct %q", f, n, d)
		}
	})
}
