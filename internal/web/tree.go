package web

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
)

// The topic tree of the web view (like MQTT Explorer's): every topic a
// message was routed to since the broker started (and every retained
// one), with message counts, the last value and the retained marker.
//
// A client's messages are batched (broker.TopicCacher): each is counted
// and its payload copied into the client's own cell (pubCell), memory
// only the reader of the client's connection touches, so a message costs
// no shared write, no lock and no atomic add (each a full memory barrier,
// dear in the broker's store-heavy routing path). Once the reader has
// handled the input it had, the cell is flushed into the topic's entry:
// one atomic add and the topic's lock per batch, the last value's buffer
// swapped with the entry's (no allocation). The cell keeps the entry of
// the client's topic, so a client publishing to one topic costs no map
// lookup either. A long last value (beyond copyMax) is the broker's own
// message, kept by pointer and held (broker.Message.Hold: the broker
// reuses a message's memory once nobody holds it) until the next one
// replaces it; it and the messages the broker makes (wills, $SYS) are
// recorded at once (addTo). A topic's entry is found by a lock-free map
// lookup; only a topic seen for the first time takes the tree's lock.
// Counts per branch are summed when a branch is listed, not when
// messages arrive.

const (
	// maxKept is the longest payload kept as a topic's last value; a
	// longer one is copied, cut (the view says so).
	maxKept = 16 << 10
	// copyMax is the longest last value copied into the topic's own
	// buffer (setLast); a longer one is held. Copying a short payload
	// costs the routing path less than holding its message: holding
	// touches the message's reference count, which another goroutine has
	// just written, and the tree then gives the message back to the pool
	// on the event loop when the next one replaces it. Every message the
	// broker reuses is this short (its body fits pubInline).
	copyMax = 256
	// maxTopics bounds the topics the view tracks (memory); messages to
	// new topics beyond it are counted in overflow only.
	maxTopics = 1_000_000
)

type topicStat struct {
	topic    string // its key in tree.stats
	count    atomic.Int64
	retained atomic.Bool     // the broker holds a retained message for it
	mu       sync.Mutex      // guards last, value, qos, retain, has
	last     *broker.Message // a long last value: held until replaced (setLast)
	value    []byte          // a short last value: copied, in memory of its own
	qos      byte            // the last value's
	retain   bool
	has      bool         // a value has been set
	lastAt   atomic.Int64 // Unix ns (coarse); 0 = restored at start
	size     atomic.Int64 // the last payload's real size when it was cut, else 0
}

type node struct {
	name     string
	children map[string]*node
	stat     *topicStat // nil: no message on this exact topic
	topics   int        // topics at or below this node
}

type tree struct {
	stats    sync.Map     // topic -> *topicStat
	mu       sync.RWMutex // guards the nodes
	root     node
	ntopics  atomic.Int64
	overflow atomic.Int64
	changed  atomic.Bool // a message arrived since the last tick
	// clock is a coarse clock (Unix ns, updated every 50 ms by the
	// server): reading the time for every message would cost more.
	clock atomic.Int64
}

func newTree() *tree { return &tree{} }

// add records a routed message that no connection's reader batches (a
// will, $SYS, the publish form).
func (t *tree) add(m *broker.Message) {
	if st := t.stat(m.Topic()); st != nil {
		t.addTo(st, m)
	}
}

// stat returns the topic's entry, made when new; nil (and the message
// counted in overflow) beyond maxTopics.
func (t *tree) stat(topic string) *topicStat {
	v, ok := t.stats.Load(topic)
	if !ok {
		if v = t.create(topic); v == nil {
			t.overflow.Add(1)
			return nil
		}
	}
	return v.(*topicStat)
}

// addTo records m in its topic's entry st at once.
func (t *tree) addTo(st *topicStat, m *broker.Message) {
	p := m.Payload()
	st.count.Add(1)
	if len(p) > maxKept {
		st.size.Store(int64(len(p)))
		m = m.Trimmed(maxKept)
	} else if st.size.Load() != 0 {
		st.size.Store(0)
	}
	st.setLast(m)
	t.touched(st, m.Retain(), len(p) > 0)
}

// touched marks st as just written (its time, its retained marker when
// a retained message set or deleted it) and the tree as changed.
func (t *tree) touched(st *topicStat, retain, nonEmpty bool) {
	at := t.clock.Load()
	if at == 0 {
		at = time.Now().UnixNano()
	}
	if st.lastAt.Load() != at { // the coarse clock moves every 50 ms
		st.lastAt.Store(at)
	}
	// A retained message with an empty payload deletes the retained one
	// [MQTT-3.3.1-10].
	if retain && st.retained.Load() != nonEmpty {
		st.retained.Store(nonEmpty)
	}
	if !t.changed.Load() {
		t.changed.Store(true)
	}
}

// pubCell is what the tree keeps per publishing client
// (broker.TopicCacher), used by one connection's reader at a time: the
// entry of the client's topic, and the messages routed to it since the
// last flush, counted and the last one copied here, in memory no other
// goroutine reads, so that a message costs no shared write (no lock, no
// atomic add: each is a full memory barrier). flushCell publishes them
// to the entry once per batch of the reader's input.
type pubCell struct {
	st       *topicStat
	n        int64  // messages since the last flush
	value    []byte // the last one's payload (short: copyMax)
	qos      byte
	retain   bool
	retained int8 // the last retained message set (1) or deleted (-1) the retained one
}

// addCached records a routed message of the client whose cell is last
// (nil at first) and returns the cell.
func (t *tree) addCached(m *broker.Message, last any) any {
	c, _ := last.(*pubCell)
	if c == nil {
		c = new(pubCell)
	}
	topic, p := m.Topic(), m.Payload()
	if c.st == nil || c.st.topic != topic || len(p) > copyMax {
		t.flushCell(c)
		c.st = t.stat(topic)
		if c.st == nil || len(p) > copyMax {
			if c.st != nil {
				t.addTo(c.st, m) // held, not copied (setLast)
			}
			return c
		}
	}
	c.n++
	c.value = append(c.value[:0], p...) // grows once, then reused
	c.qos, c.retain = m.QoS(), m.Retain()
	if c.retain {
		c.retained = 1
		if len(p) == 0 {
			c.retained = -1
		}
	}
	return c
}

// flushCell publishes c's messages to its topic's entry: the count, and
// the last value, whose buffer is swapped with the entry's.
func (t *tree) flushCell(c *pubCell) {
	if c.n == 0 {
		return
	}
	st := c.st
	st.count.Add(c.n)
	if st.size.Load() != 0 {
		st.size.Store(0)
	}
	st.mu.Lock()
	old := st.last
	st.last, st.value, c.value = nil, c.value, st.value
	st.qos, st.retain, st.has = c.qos, c.retain, true
	st.mu.Unlock()
	if old != nil {
		old.Release()
	}
	t.touched(st, c.retained != 0, c.retained > 0)
	c.n, c.retained = 0, 0
}

// setRetained seeds a retained message (at start).
func (t *tree) setRetained(m *broker.Message) {
	v := t.create(m.Topic())
	if v == nil {
		return
	}
	st := v.(*topicStat)
	if n := len(m.Payload()); n > maxKept {
		st.size.Store(int64(n))
		m = m.Trimmed(maxKept)
	}
	st.setLast(m)
	st.retained.Store(true)
}

// create returns the stat of topic (a *topicStat), adding it to the map
// and the tree; nil beyond maxTopics.
func (t *tree) create(topic string) any {
	if v, ok := t.stats.Load(topic); ok {
		return v
	}
	if t.ntopics.Load() >= maxTopics {
		return nil
	}
	// Kept: a copy, not the routed message's topic, whose memory the
	// broker reuses (broker.Message).
	topic = strings.Clone(topic)
	v, loaded := t.stats.LoadOrStore(topic, &topicStat{topic: topic})
	if loaded {
		return v
	}
	t.ntopics.Add(1)
	st := v.(*topicStat)
	t.mu.Lock()
	defer t.mu.Unlock()
	n := &t.root
	path := []*node{n}
	for level := range strings.SplitSeq(topic, "/") {
		c := n.children[level]
		if c == nil {
			if n.children == nil {
				n.children = map[string]*node{}
			}
			c = &node{name: level}
			n.children[level] = c
		}
		n = c
		path = append(path, n)
	}
	if n.stat == nil {
		n.stat = st
		for _, p := range path {
			p.topics++
		}
	}
	return v
}

// entry is one child in a branch listing.
type entry struct {
	Name     string  `json:"name"`
	Topics   int     `json:"topics"`   // topics at or below
	Messages int64   `json:"messages"` // messages at or below
	Children int     `json:"children"` // direct children
	Own      *topicV `json:"own,omitempty"`
}

// topicV is one topic's figures.
type topicV struct {
	Topic    string `json:"topic"`
	Count    int64  `json:"count"`
	Retained bool   `json:"retained"`
	QoS      byte   `json:"qos"`
	Retain   bool   `json:"retain"` // the last message had the retain flag
	At       int64  `json:"at"`     // last message, Unix ms (0: restored)
	Size     int    `json:"size"`
	Preview  string `json:"preview,omitempty"` // start of the last value (listings)
	Payload  []byte `json:"payload,omitempty"` // base64 in JSON
	Cut      bool   `json:"cut,omitempty"`
}

// setLast makes m the topic's last value: a short one copied, a long
// one held, until the next one.
func (st *topicStat) setLast(m *broker.Message) {
	p := m.Payload()
	short := len(p) <= copyMax
	if !short {
		m.Hold()
	}
	st.mu.Lock()
	old := st.last
	if short {
		st.last, st.value = nil, append(st.value[:0], p...) // grows once per topic, then reused
	} else {
		st.last, st.value = m, nil
	}
	st.qos, st.retain, st.has = m.QoS(), m.Retain(), true
	st.mu.Unlock()
	if old != nil {
		old.Release()
	}
}

func (st *topicStat) view(topic string, withPayload bool) *topicV {
	v := &topicV{Topic: topic, Count: st.count.Load(), Retained: st.retained.Load()}
	// Copied under the lock: once replaced, the message may be reused.
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.has {
		p := st.value
		if st.last != nil {
			p = st.last.Payload()
		}
		v.QoS, v.Retain, v.Size = st.qos, st.retain, len(p)
		if n := st.size.Load(); n > 0 {
			v.Size = int(n)
		}
		v.At = st.lastAt.Load() / 1e6
		if withPayload {
			v.Payload = slices.Clone(p)
			v.Cut = len(p) < v.Size
		} else {
			v.Preview = preview(p)
		}
	}
	return v
}

func (n *node) messages() int64 {
	var sum int64
	if n.stat != nil {
		sum = n.stat.count.Load()
	}
	for _, c := range n.children {
		sum += c.messages()
	}
	return sum
}

// list returns the children of the branch at levels (nil: the root),
// sorted by name, from offset, at most limit, and how many there are.
func (t *tree) list(levels []string, offset, limit int) ([]entry, int, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := &t.root
	for _, l := range levels {
		n = n.children[l]
		if n == nil {
			return nil, 0, false
		}
	}
	names := make([]string, 0, len(n.children))
	for k := range n.children {
		names = append(names, k)
	}
	slices.Sort(names)
	total := len(names)
	if offset > total {
		offset = total
	}
	names = names[offset:min(total, offset+limit)]
	out := make([]entry, 0, len(names))
	for _, k := range names {
		c := n.children[k]
		e := entry{Name: k, Topics: c.topics, Messages: c.messages(), Children: len(c.children)}
		if c.stat != nil {
			e.Own = c.stat.view(strings.Join(append(slices.Clone(levels), k), "/"), false)
		}
		out = append(out, e)
	}
	return out, total, true
}

// get returns the figures and last value of topic.
func (t *tree) get(topic string) *topicV {
	v, ok := t.stats.Load(topic)
	if !ok {
		return nil
	}
	return v.(*topicStat).view(topic, true)
}

// preview is the start of a payload as text (invalid UTF-8 replaced).
func preview(p []byte) string {
	const n = 80
	if len(p) > n {
		p = p[:n]
	}
	return strings.ToValidUTF8(string(p), "\uFFFD")
}
