// Package topics holds the broker's topic indexes: a subscription trie
// (Trie) matched against topic names on every PUBLISH, and a retained
// message tree (Tree) matched against topic filters on every SUBSCRIBE.
//
// Topic semantics (MQTT 3.1.1 section 4.7, MQTT 5.0 section 4.7):
//   - levels are separated by '/', and a level may be empty;
//   - '+' matches exactly one level, including an empty one;
//   - '#' matches any number of levels including the parent, so "a/#"
//     matches "a" [MQTT-4.7.1-2];
//   - a filter starting with a wildcard does not match topic names that
//     start with '$' [MQTT-4.7.2-1].
//
// Both are path-compressed (label.go): a chain of levels without
// branches is one node, so memory follows the bytes of the topics and
// filters, not their number of levels, and both keep copies of the levels
// they store, never the caller's strings.
//
// Both structures assume their inputs were validated by the caller
// (mqtt topic name / filter rules); they do not re-check them.
package topics

import (
	"strings"
	"sync"
	"sync/atomic"
)

// Subscription is one entry of the trie. Entries are immutable once
// inserted: re-subscribing replaces the pointer, so a *Subscription
// returned by Match may be read without the trie lock.
type Subscription[O comparable] struct {
	Owner  O      // the subscriber (the broker uses its session)
	Filter string // the topic filter, without any "$share/group/" prefix
	Group  string // shared subscription group name, "" when not shared

	QoS               byte
	NoLocal           bool
	RetainAsPublished bool
	RetainHandling    byte
	ID                uint32 // v5 subscription identifier, 0 = none

	// Epoch is set by Subscribe: the trie's subscribe count once s was
	// in it. A match that saw an epoch below it ran before s was there
	// (see MatchMark).
	Epoch uint64
}

type node[O comparable] struct {
	// label is the literal levels leading here from the parent (see
	// label.go); "+" or "#" for a wildcard node, "" for the root.
	label    string
	children map[string]*node[O] // literal children by first level
	plus     *node[O]            // '+' child
	hash     *node[O]            // '#' child

	subs   []*Subscription[O] // non-shared subscriptions ending here
	index  map[O]int          // owner -> position in subs, once subs is long
	groups []*group[O]        // shared subscriptions ending here
}

// indexFrom is the number of subscriptions from which a node indexes them
// by owner; below it a linear search is as fast and a map costs hundreds
// of bytes per node.
const indexFrom = 8

type group[O comparable] struct {
	name    string
	members []*Subscription[O]
	next    atomic.Uint32 // round-robin cursor
}

// Trie indexes subscriptions by filter. It is safe for concurrent use; one
// RWMutex covers the whole trie.
type Trie[O comparable] struct {
	mu     sync.RWMutex
	root   node[O]
	count  int
	shared int
	epoch  uint64       // Subscribe calls so far (Subscription.Epoch)
	prefer func(O) bool // shared groups: members to try first (nil = none)
}

// SetPrefer makes Match pick, within each shared group, the next member
// (round robin) for which prefer returns true, falling back to plain
// round robin when there is none. prefer runs under the trie's read lock:
// it must be fast and must not lock anything the trie's callers hold.
// Call it before the trie is used.
func (t *Trie[O]) SetPrefer(prefer func(O) bool) { t.prefer = prefer }

// New returns an empty trie.
func New[O comparable]() *Trie[O] { return &Trie[O]{} }

// Len returns the number of subscriptions, shared ones included.
func (t *Trie[O]) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.count
}

// SharedLen returns the number of shared subscriptions.
func (t *Trie[O]) SharedLen() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.shared
}

// Subscribe adds s, replacing the owner's existing subscription with the
// same filter and group. It reports whether one was replaced. The trie
// keeps its own copy of the filter's levels; s.Filter and s.Group are kept
// as given (the caller copies them if they share a packet's memory).
func (t *Trie[O]) Subscribe(s *Subscription[O]) (replaced bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.epoch++
	s.Epoch = t.epoch
	n := t.root.descend(s.Filter)
	if s.Group != "" {
		g := n.group(s.Group)
		if g == nil {
			g = &group[O]{name: strings.Clone(s.Group)}
			n.groups = append(n.groups, g)
		}
		for i, m := range g.members {
			if m.Owner == s.Owner {
				// Copy on write: readers may hold the old slice.
				members := append([]*Subscription[O](nil), g.members...)
				members[i] = s
				g.members = members
				return true
			}
		}
		g.members = append(g.members[:len(g.members):len(g.members)], s)
		t.count++
		t.shared++
		return false
	}
	if i := n.find(s.Owner); i >= 0 {
		n.subs[i] = s
		return true
	}
	n.subs = append(n.subs, s)
	if n.index != nil {
		n.index[s.Owner] = len(n.subs) - 1
	} else if len(n.subs) >= indexFrom {
		n.index = make(map[O]int, len(n.subs))
		for i, m := range n.subs {
			n.index[m.Owner] = i
		}
	}
	t.count++
	return false
}

// descend returns the node of filter (at least one level) below n,
// creating and splitting nodes as needed.
func (n *node[O]) descend(filter string) *node[O] {
	rest := filter
	for {
		level, tail, more := cut(rest)
		switch level {
		case "+", "#":
			c := n.plus
			if level == "#" {
				c = n.hash
			}
			if c == nil {
				c = &node[O]{label: level}
				if level == "+" {
					n.plus = c
				} else {
					n.hash = c
				}
			}
			if !more {
				return c
			}
			n, rest = c, tail
			continue
		}
		c := n.children[level]
		if c == nil {
			// A new branch: one node for the literal levels up to the
			// next wildcard or the end.
			run, next, more := literalRun(rest)
			c = &node[O]{label: strings.Clone(run)}
			if n.children == nil {
				n.children = make(map[string]*node[O])
			}
			n.children[firstLevel(c.label)] = c
			if !more {
				return c
			}
			n, rest = c, next
			continue
		}
		if k := commonLevels(c.label, rest); k < len(c.label) {
			c = n.split(c, k)
		}
		next, more, _ := consume(c.label, rest)
		if !more {
			return c
		}
		n, rest = c, next
	}
}

// split cuts child c of n after the first k bytes of its label (a run of
// whole levels) and returns the new node holding them, with c below it.
func (n *node[O]) split(c *node[O], k int) *node[O] {
	delete(n.children, firstLevel(c.label))
	mid := &node[O]{label: strings.Clone(c.label[:k])}
	c.label = strings.Clone(c.label[k+1:])
	mid.children = map[string]*node[O]{firstLevel(c.label): c}
	n.children[firstLevel(mid.label)] = mid
	return mid
}

// find returns the position of owner's subscription in n.subs, or -1.
func (n *node[O]) find(owner O) int {
	if n.index != nil {
		if i, ok := n.index[owner]; ok {
			return i
		}
		return -1
	}
	for i, m := range n.subs {
		if m.Owner == owner {
			return i
		}
	}
	return -1
}

// Unsubscribe removes owner's subscription to filter (in group, "" for a
// non-shared one) and reports whether it existed.
func (t *Trie[O]) Unsubscribe(owner O, filter, group string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.remove(&t.root, owner, filter, group)
}

// remove walks down filter (at least one level) and, on the way back,
// prunes the nodes left empty and merges a node left with nothing but one
// literal child into that child (so that the trie stays as compressed as
// if the subscription had never been made).
func (t *Trie[O]) remove(n *node[O], owner O, filter, group string) bool {
	level, rest, more := cut(filter)
	var c *node[O]
	switch level {
	case "+":
		c = n.plus
	case "#":
		c = n.hash
	default:
		if c = n.children[level]; c != nil {
			var ok bool
			if rest, more, ok = consume(c.label, filter); !ok {
				return false
			}
		}
	}
	if c == nil {
		return false
	}
	var ok bool
	if more {
		ok = t.remove(c, owner, rest, group)
	} else {
		ok = t.removeHere(c, owner, group)
	}
	if !ok {
		return false
	}
	switch {
	case !c.empty():
		if level != "+" && level != "#" {
			n.mergeChild(c)
		}
	case level == "+":
		n.plus = nil
	case level == "#":
		n.hash = nil
	default:
		delete(n.children, level)
	}
	return true
}

// mergeChild merges n's literal child c with c's only child when c holds
// nothing else (no subscriptions, no wildcard child).
func (n *node[O]) mergeChild(c *node[O]) {
	if len(c.children) != 1 || c.plus != nil || c.hash != nil || len(c.subs) > 0 || len(c.groups) > 0 {
		return
	}
	var only *node[O]
	for _, only = range c.children {
	}
	delete(n.children, firstLevel(c.label))
	only.label = c.label + "/" + only.label
	n.children[firstLevel(only.label)] = only
}

func (t *Trie[O]) removeHere(n *node[O], owner O, group string) bool {
	if group != "" {
		for gi, g := range n.groups {
			if g.name != group {
				continue
			}
			for i, m := range g.members {
				if m.Owner != owner {
					continue
				}
				members := make([]*Subscription[O], 0, len(g.members)-1)
				members = append(members, g.members[:i]...)
				g.members = append(members, g.members[i+1:]...)
				if len(g.members) == 0 {
					n.groups = append(n.groups[:gi:gi], n.groups[gi+1:]...)
				}
				t.count--
				t.shared--
				return true
			}
			return false
		}
		return false
	}
	i := n.find(owner)
	if i < 0 {
		return false
	}
	last := len(n.subs) - 1
	if i != last {
		n.subs[i] = n.subs[last]
		if n.index != nil {
			n.index[n.subs[i].Owner] = i
		}
	}
	n.subs[last] = nil
	n.subs = n.subs[:last]
	if n.index != nil {
		delete(n.index, owner)
	}
	if len(n.subs) == 0 {
		n.subs, n.index = nil, nil
	}
	t.count--
	return true
}

// Match appends to dst every subscription whose filter matches topic and
// returns the extended slice. For each matching shared group exactly one
// member is appended, chosen round robin. A subscriber may appear more
// than once (overlapping filters); the caller merges. Match does not
// allocate beyond growing dst.
func (t *Trie[O]) Match(topic string, dst []*Subscription[O]) []*Subscription[O] {
	t.mu.RLock()
	dst = t.root.match(topic, true, dst, t.prefer)
	t.mu.RUnlock()
	return dst
}

// MatchMark is Match that also records in mark which subscriptions the
// match could see: the trie's epoch plus one, stored before the lock is
// released. A subscription s was visible to it exactly when mark >
// s.Epoch; mark == 0 means the match has not run yet, so it will see
// every subscription made so far.
func (t *Trie[O]) MatchMark(topic string, dst []*Subscription[O], mark *atomic.Uint64) []*Subscription[O] {
	t.mu.RLock()
	dst = t.root.match(topic, true, dst, t.prefer)
	mark.Store(t.epoch + 1)
	t.mu.RUnlock()
	return dst
}

// match matches the remaining levels of topic (at least one) below n.
func (n *node[O]) match(topic string, first bool, dst []*Subscription[O], prefer func(O) bool) []*Subscription[O] {
	level, rest, more := cut(topic)
	// [MQTT-4.7.2-1] wildcards at the first level never match '$' topics.
	wild := !first || len(level) == 0 || level[0] != '$'
	if wild && n.hash != nil {
		dst = n.hash.appendSubs(dst, prefer)
	}
	if wild && n.plus != nil {
		dst = n.plus.step(rest, more, dst, prefer)
	}
	if c := n.children[level]; c != nil {
		if len(c.label) == len(level) {
			dst = c.step(rest, more, dst, prefer)
		} else if next, more, ok := consume(c.label, topic); ok {
			dst = c.step(next, more, dst, prefer)
		}
	}
	return dst
}

func (n *node[O]) step(rest string, more bool, dst []*Subscription[O], prefer func(O) bool) []*Subscription[O] {
	if more {
		return n.match(rest, false, dst, prefer)
	}
	dst = n.appendSubs(dst, prefer)
	if n.hash != nil { // "a/#" matches "a" [MQTT-4.7.1-2]
		dst = n.hash.appendSubs(dst, prefer)
	}
	return dst
}

func (n *node[O]) appendSubs(dst []*Subscription[O], prefer func(O) bool) []*Subscription[O] {
	dst = append(dst, n.subs...)
	for _, g := range n.groups {
		if m := g.pick(prefer); m != nil {
			dst = append(dst, m)
		}
	}
	return dst
}

// pick chooses the group member for one message: round robin, skipping
// members prefer rejects unless all are rejected.
func (g *group[O]) pick(prefer func(O) bool) *Subscription[O] {
	k := uint32(len(g.members))
	if k == 0 {
		return nil
	}
	start := g.next.Add(1) - 1
	if prefer != nil {
		for i := uint32(0); i < k; i++ {
			if m := g.members[(start+i)%k]; prefer(m.Owner) {
				if i > 0 {
					g.next.Add(i) // continue after the chosen member
				}
				return m
			}
		}
	}
	return g.members[start%k]
}

func (n *node[O]) group(name string) *group[O] {
	for _, g := range n.groups {
		if g.name == name {
			return g
		}
	}
	return nil
}

func (n *node[O]) empty() bool {
	return len(n.subs) == 0 && len(n.groups) == 0 && len(n.children) == 0 &&
		n.plus == nil && n.hash == nil
}
