package web

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The topic tree of the web view (like MQTT Explorer's): every topic a
// message was routed to since the broker started (and every retained
// one), with message counts, the last value and the retained marker.
//
// Routing a message costs one read-locked map lookup in one of 64 shards,
// two atomic adds and one small allocation (the last value). Only a topic
// seen for the first time takes the tree's write lock. Counts per branch
// are summed when a branch is listed, not when messages arrive.

const (
	numShards = 64
	// maxKept is the longest payload kept as a topic's last value; the
	// rest is cut (the view says so).
	maxKept = 16 << 10
	// maxTopics bounds the topics the view tracks (memory); messages to
	// new topics beyond it are counted in overflow only.
	maxTopics = 1_000_000
)

type lastMsg struct {
	payload []byte // at most maxKept bytes
	size    int    // the payload's real size
	qos     byte
	retain  bool
	at      int64 // Unix ns
}

type topicStat struct {
	count    atomic.Int64
	bytes    atomic.Int64
	retained atomic.Bool // the broker holds a retained message for it
	last     atomic.Pointer[lastMsg]
}

type shard struct {
	mu sync.RWMutex
	m  map[string]*topicStat
}

type node struct {
	name     string
	children map[string]*node
	stat     *topicStat // nil: no message on this exact topic
	topics   int        // topics at or below this node
}

type tree struct {
	shards   [numShards]shard
	mu       sync.RWMutex // guards the nodes
	root     node
	ntopics  atomic.Int64
	overflow atomic.Int64
	changed  atomic.Bool // a message arrived since the last tick
	// clock is a coarse clock (Unix ns, updated every 50 ms by the
	// server): reading the time for every message would cost more.
	clock atomic.Int64
}

func newTree() *tree {
	t := &tree{}
	for i := range t.shards {
		t.shards[i].m = map[string]*topicStat{}
	}
	return t
}

func fnv(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// add records a message on topic.
func (t *tree) add(topic string, payload []byte, qos byte, retain bool) {
	sh := &t.shards[fnv(topic)%numShards]
	sh.mu.RLock()
	st := sh.m[topic]
	sh.mu.RUnlock()
	if st == nil {
		st = t.create(sh, topic)
		if st == nil {
			t.overflow.Add(1)
			return
		}
	}
	st.count.Add(1)
	st.bytes.Add(int64(len(payload)))
	at := t.clock.Load()
	if at == 0 {
		at = time.Now().UnixNano()
	}
	lm := &lastMsg{payload: payload, size: len(payload), qos: qos, retain: retain, at: at}
	if len(payload) > maxKept {
		lm.payload = append([]byte(nil), payload[:maxKept]...)
	}
	st.last.Store(lm)
	if retain {
		// A retained message with an empty payload deletes the retained
		// one [MQTT-3.3.1-10].
		st.retained.Store(len(payload) > 0)
	}
	if !t.changed.Load() {
		t.changed.Store(true)
	}
}

// setRetained seeds a retained message (at start).
func (t *tree) setRetained(topic string, payload []byte, qos byte) {
	sh := &t.shards[fnv(topic)%numShards]
	st := t.create(sh, topic)
	if st == nil {
		return
	}
	p := payload
	if len(p) > maxKept {
		p = append([]byte(nil), p[:maxKept]...)
	}
	st.last.Store(&lastMsg{payload: p, size: len(payload), qos: qos, retain: true})
	st.retained.Store(true)
}

// create returns the stat of topic, adding it to the shard and the tree.
func (t *tree) create(sh *shard, topic string) *topicStat {
	sh.mu.Lock()
	st := sh.m[topic]
	if st == nil {
		if t.ntopics.Load() >= maxTopics {
			sh.mu.Unlock()
			return nil
		}
		st = &topicStat{}
		sh.m[topic] = st
		t.ntopics.Add(1)
	}
	sh.mu.Unlock()
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
	return st
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
	Bytes    int64  `json:"bytes"`
	Retained bool   `json:"retained"`
	QoS      byte   `json:"qos"`
	Retain   bool   `json:"retain"` // the last message had the retain flag
	At       int64  `json:"at"`     // last message, Unix ms (0: restored)
	Size     int    `json:"size"`
	Preview  string `json:"preview,omitempty"` // start of the last value (listings)
	Payload  []byte `json:"payload,omitempty"` // base64 in JSON
	Cut      bool   `json:"cut,omitempty"`
}

func (st *topicStat) view(topic string, withPayload bool) *topicV {
	v := &topicV{Topic: topic, Count: st.count.Load(), Bytes: st.bytes.Load(), Retained: st.retained.Load()}
	if lm := st.last.Load(); lm != nil {
		v.QoS, v.Retain, v.Size = lm.qos, lm.retain, lm.size
		if lm.at != 0 {
			v.At = lm.at / 1e6
		}
		if withPayload {
			v.Payload = lm.payload
			v.Cut = len(lm.payload) < lm.size
		} else {
			v.Preview = preview(lm.payload)
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
	sh := &t.shards[fnv(topic)%numShards]
	sh.mu.RLock()
	st := sh.m[topic]
	sh.mu.RUnlock()
	if st == nil {
		return nil
	}
	return st.view(topic, true)
}

// preview is the start of a payload as text (invalid UTF-8 replaced).
func preview(p []byte) string {
	const n = 80
	if len(p) > n {
		p = p[:n]
	}
	return strings.ToValidUTF8(string(p), "\uFFFD")
}
