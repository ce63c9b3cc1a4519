package bridge

import (
	"sync"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// source is the client a message came from, which acknowledges it once
// it was forwarded. c is set once the client's Connect returned (messages
// can arrive before that); ready is closed then, with c nil if the
// connection failed.
type source struct {
	c     *client.Client
	ready chan struct{}
}

func newSource() *source { return &source{ready: make(chan struct{})} }

func (s *source) set(c *client.Client) {
	s.c = c
	close(s.ready)
}

// ack acknowledges m to its sender; a no-op once that connection ended.
func (s *source) ack(m *mqtt.Publish) {
	<-s.ready
	if s.c != nil {
		s.c.Ack(m)
	}
}

// item is one message waiting to be forwarded.
type item struct {
	m   *mqtt.Publish
	src *source
	// pid and rel describe a QoS 1/2 message whose forwarding was cut
	// short after it was sent: its packet identifier on the connection
	// that ended, and whether its PUBREC had been received (QoS 2). A
	// connection resuming that session sends it again under pid.
	pid uint16
	rel bool
}

// maxQueuedQoS0 bounds the QoS 0 messages waiting in one queue; beyond it
// they are dropped, as a broker drops QoS 0 for a slow subscriber. QoS 1/2
// messages are bounded by the sender's inflight window, as they are not
// acknowledged before being forwarded.
const maxQueuedQoS0 = 1000

// fifo is an unbounded queue of messages: pushing never blocks, so a
// client's reader (which calls OnMessage) never waits for the other side.
type fifo struct {
	mu      sync.Mutex
	items   []item
	qos0    int
	dropped int
	wake    chan struct{} // for pop
	grew    chan struct{} // for waitLen (lazy bridges)
}

func newFIFO() *fifo { return &fifo{wake: make(chan struct{}, 1), grew: make(chan struct{}, 1)} }

func (q *fifo) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// waitLen waits until the queue holds at least n messages; false when
// done is closed first.
func (q *fifo) waitLen(n int, done <-chan struct{}) bool {
	for q.len() < n {
		select {
		case <-q.grew:
		case <-done:
			return false
		}
	}
	return true
}

func (q *fifo) push(it item) {
	q.mu.Lock()
	if it.m.QoS == 0 {
		if q.qos0 >= maxQueuedQoS0 {
			q.dropped++
			q.mu.Unlock()
			return
		}
		q.qos0++
	}
	q.items = append(q.items, it)
	q.mu.Unlock()
	q.signal()
}

// pushFront puts back messages whose forwarding was cut short, ahead of
// the others, keeping their order.
func (q *fifo) pushFront(its []item) {
	if len(its) == 0 {
		return
	}
	q.mu.Lock()
	for _, it := range its {
		if it.m.QoS == 0 {
			q.qos0++
		}
	}
	q.items = append(append(make([]item, 0, len(its)+len(q.items)), its...), q.items...)
	q.mu.Unlock()
	q.signal()
}

func (q *fifo) signal() {
	for _, ch := range []chan struct{}{q.wake, q.grew} {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// pop waits for the next message; false when stop is closed first.
func (q *fifo) pop(stop <-chan struct{}) (item, bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			it := q.items[0]
			q.items[0] = item{}
			q.items = q.items[1:]
			if it.m.QoS == 0 {
				q.qos0--
			}
			q.mu.Unlock()
			return it, true
		}
		q.mu.Unlock()
		select {
		case <-q.wake:
		case <-stop:
			return item{}, false
		}
	}
}

// takeResumable removes and returns, in order, the messages that were
// sent on a connection that ended (pid set; pushFront put them at the
// head, possibly between QoS 0 ones).
func (q *fifo) takeResumable() []item {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []item
	kept := q.items[:0]
	for _, it := range q.items {
		if it.pid != 0 {
			out = append(out, it)
		} else {
			kept = append(kept, it)
		}
	}
	clear(q.items[len(kept):])
	q.items = kept
	return out
}

// dropQoS0 removes the QoS 0 messages (the remote side is down).
func (q *fifo) dropQoS0() {
	q.mu.Lock()
	kept := q.items[:0]
	for _, it := range q.items {
		if it.m.QoS > 0 {
			kept = append(kept, it)
		}
	}
	clear(q.items[len(kept):])
	q.items, q.qos0 = kept, 0
	q.mu.Unlock()
}
