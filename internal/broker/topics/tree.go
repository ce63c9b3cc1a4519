package topics

import (
	"strings"
	"sync"
)

// Tree maps topic names to values (the broker keeps retained messages in
// it) and finds the values whose topic matches a filter, walking only the
// branches the filter can reach. It is path-compressed like the trie (see
// label.go) and keeps its own copies of the topics' levels. It is safe
// for concurrent use.
type Tree[V any] struct {
	mu    sync.RWMutex
	root  tnode[V]
	count int
}

type tnode[V any] struct {
	label    string // the levels leading here from the parent; "" for the root
	children map[string]*tnode[V]
	val      V
	has      bool
}

// NewTree returns an empty tree.
func NewTree[V any]() *Tree[V] { return &Tree[V]{} }

// Len returns the number of stored topics.
func (t *Tree[V]) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.count
}

// Set stores v under topic, replacing any previous value.
func (t *Tree[V]) Set(topic string, v V) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := &t.root
	rest := topic
	for {
		level := firstLevel(rest)
		c := n.children[level]
		if c == nil {
			c = &tnode[V]{label: strings.Clone(rest)}
			if n.children == nil {
				n.children = make(map[string]*tnode[V])
			}
			n.children[firstLevel(c.label)] = c
			n = c
			break
		}
		if k := commonLevels(c.label, rest); k < len(c.label) {
			c = n.split(c, k)
		}
		next, more, _ := consume(c.label, rest)
		n = c
		if !more {
			break
		}
		rest = next
	}
	if !n.has {
		t.count++
	}
	n.val, n.has = v, true
}

// split cuts child c of n after the first k bytes of its label and
// returns the new node holding them, with c below it.
func (n *tnode[V]) split(c *tnode[V], k int) *tnode[V] {
	delete(n.children, firstLevel(c.label))
	mid := &tnode[V]{label: strings.Clone(c.label[:k])}
	c.label = strings.Clone(c.label[k+1:])
	mid.children = map[string]*tnode[V]{firstLevel(c.label): c}
	n.children[firstLevel(mid.label)] = mid
	return mid
}

// find returns the node of topic, or nil.
func (n *tnode[V]) find(topic string) *tnode[V] {
	rest := topic
	for {
		c := n.children[firstLevel(rest)]
		if c == nil {
			return nil
		}
		next, more, ok := consume(c.label, rest)
		if !ok {
			return nil
		}
		if !more {
			return c
		}
		n, rest = c, next
	}
}

// Get returns the value stored under topic.
func (t *Tree[V]) Get(topic string) (v V, ok bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if n := t.root.find(topic); n != nil {
		return n.val, n.has
	}
	return v, false
}

// Delete removes topic and reports whether it was present.
func (t *Tree[V]) Delete(topic string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	ok := t.root.delete(topic)
	if ok {
		t.count--
	}
	return ok
}

// DeleteIf removes topic only when drop(value) is true, atomically (used
// to delete a retained message only if it is still the one expected).
func (t *Tree[V]) DeleteIf(topic string, drop func(V) bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.root.find(topic)
	if n == nil || !n.has || !drop(n.val) {
		return false
	}
	t.root.delete(topic)
	t.count--
	return true
}

// delete removes the value of topic below n, then prunes the nodes left
// empty and merges a node left with one child and no value into it.
func (n *tnode[V]) delete(topic string) bool {
	level := firstLevel(topic)
	c := n.children[level]
	if c == nil {
		return false
	}
	rest, more, ok := consume(c.label, topic)
	switch {
	case !ok:
		return false
	case more:
		if !c.delete(rest) {
			return false
		}
	case !c.has:
		return false
	default:
		var zero V
		c.val, c.has = zero, false
	}
	switch {
	case !c.has && len(c.children) == 0:
		delete(n.children, level)
	case !c.has && len(c.children) == 1:
		var only *tnode[V]
		for _, only = range c.children {
		}
		delete(n.children, level)
		only.label = c.label + "/" + only.label
		n.children[firstLevel(only.label)] = only
	}
	return true
}

// Match calls fn for every stored topic matching filter, in no particular
// order, until fn returns false. fn runs under the read lock: it must not
// call back into the tree.
func (t *Tree[V]) Match(filter string, fn func(topic string, v V) bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var buf [256]byte
	pos[V]{n: &t.root, off: -1}.match(filter, true, buf[:0], fn)
}

// Range calls fn for every stored topic until fn returns false. Same
// locking rule as Match.
func (t *Tree[V]) Range(fn func(topic string, v V) bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var buf [256]byte
	for _, c := range t.root.children {
		if !c.walk(append(buf[:0], c.label...), fn) {
			return
		}
	}
}

// pos is a place in the tree as if it were not compressed: a node (off <
// 0), or the point after some levels of a node's label, where off is the
// byte offset of the next level. Filters are matched level by level over
// positions, so wildcards work across compressed labels.
type pos[V any] struct {
	n   *tnode[V]
	off int
}

// enter is the position after the first level of c's label.
func enter[V any](c *tnode[V]) pos[V] {
	if i := strings.IndexByte(c.label, '/'); i >= 0 {
		return pos[V]{c, i + 1}
	}
	return pos[V]{c, -1}
}

// next returns the level that follows p inside its node's label (p.off >=
// 0) and the position after it.
func (p pos[V]) next() (string, pos[V]) {
	s := p.n.label[p.off:]
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], pos[V]{p.n, p.off + i + 1}
	}
	return s, pos[V]{p.n, -1}
}

// each calls fn for each level that follows p and the position after it.
func (p pos[V]) each(fn func(level string, to pos[V]) bool) bool {
	if p.off >= 0 {
		return fn(p.next())
	}
	for level, c := range p.n.children {
		if !fn(level, enter(c)) {
			return false
		}
	}
	return true
}

// child returns the position after level below p.
func (p pos[V]) child(level string) (pos[V], bool) {
	if p.off >= 0 {
		lv, to := p.next()
		return to, lv == level
	}
	c := p.n.children[level]
	if c == nil {
		return pos[V]{}, false
	}
	return enter(c), true
}

// match matches the remaining filter levels (at least one) below p; path
// is the topic of p followed by '/' unless p is the root.
func (p pos[V]) match(filter string, first bool, path []byte, fn func(string, V) bool) bool {
	level, rest, more := cut(filter)
	switch level {
	case "#":
		// "a/#" matches "a" itself [MQTT-4.7.1-2].
		if !first && p.off < 0 && p.n.has && !fn(string(path[:len(path)-1]), p.n.val) {
			return false
		}
		return p.each(func(name string, to pos[V]) bool {
			if first && isDollar(name) { // [MQTT-4.7.2-1]
				return true
			}
			return to.walk(append(path, name...), fn)
		})
	case "+":
		return p.each(func(name string, to pos[V]) bool {
			if first && isDollar(name) { // [MQTT-4.7.2-1]
				return true
			}
			return to.stepMatch(rest, more, append(path, name...), fn)
		})
	}
	if to, ok := p.child(level); ok {
		return to.stepMatch(rest, more, append(path, level...), fn)
	}
	return true
}

func (p pos[V]) stepMatch(rest string, more bool, path []byte, fn func(string, V) bool) bool {
	if more {
		return p.match(rest, false, append(path, '/'), fn)
	}
	if p.off < 0 && p.n.has {
		return fn(string(path), p.n.val)
	}
	return true
}

// walk visits p (whose topic is path) and everything below it.
func (p pos[V]) walk(path []byte, fn func(string, V) bool) bool {
	if p.off >= 0 {
		path = append(append(path, '/'), p.n.label[p.off:]...)
	}
	return p.n.walk(path, fn)
}

// walk visits n (whose topic is path) and all its descendants.
func (n *tnode[V]) walk(path []byte, fn func(string, V) bool) bool {
	if n.has && !fn(string(path), n.val) {
		return false
	}
	for _, c := range n.children {
		p := append(path, '/')
		if !c.walk(append(p, c.label...), fn) {
			return false
		}
	}
	return true
}

func isDollar(level string) bool { return len(level) > 0 && level[0] == '$' }
