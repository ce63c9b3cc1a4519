package topics

import "sync"

// Tree maps topic names to values (the broker keeps retained messages in
// it) and finds the values whose topic matches a filter, walking only the
// branches the filter can reach. It is safe for concurrent use.
type Tree[V any] struct {
	mu    sync.RWMutex
	root  tnode[V]
	count int
}

type tnode[V any] struct {
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
		level, tail, more := cut(rest)
		c := n.children[level]
		if c == nil {
			if n.children == nil {
				n.children = make(map[string]*tnode[V])
			}
			c = &tnode[V]{}
			n.children[level] = c
		}
		n = c
		if !more {
			break
		}
		rest = tail
	}
	if !n.has {
		t.count++
	}
	n.val, n.has = v, true
}

// Get returns the value stored under topic.
func (t *Tree[V]) Get(topic string) (v V, ok bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := &t.root
	rest := topic
	for {
		level, tail, more := cut(rest)
		n = n.children[level]
		if n == nil {
			return v, false
		}
		if !more {
			return n.val, n.has
		}
		rest = tail
	}
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
	n := &t.root
	rest := topic
	for {
		level, tail, more := cut(rest)
		n = n.children[level]
		if n == nil {
			return false
		}
		if !more {
			break
		}
		rest = tail
	}
	if !n.has || !drop(n.val) {
		return false
	}
	t.root.delete(topic)
	t.count--
	return true
}

func (n *tnode[V]) delete(topic string) bool {
	level, rest, more := cut(topic)
	c := n.children[level]
	if c == nil {
		return false
	}
	if more {
		if !c.delete(rest) {
			return false
		}
	} else {
		if !c.has {
			return false
		}
		var zero V
		c.val, c.has = zero, false
	}
	if !c.has && len(c.children) == 0 {
		delete(n.children, level)
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
	t.root.match(filter, true, buf[:0], fn)
}

// Range calls fn for every stored topic until fn returns false. Same
// locking rule as Match.
func (t *Tree[V]) Range(fn func(topic string, v V) bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var buf [256]byte
	for level, c := range t.root.children {
		if !c.walk(append(buf[:0], level...), fn) {
			return
		}
	}
}

// match matches the remaining filter levels (at least one) below n; path
// is the topic of n followed by '/' unless n is the root.
func (n *tnode[V]) match(filter string, first bool, path []byte, fn func(string, V) bool) bool {
	level, rest, more := cut(filter)
	switch level {
	case "#":
		// "a/#" matches "a" itself [MQTT-4.7.1-2].
		if !first && n.has && !fn(string(path[:len(path)-1]), n.val) {
			return false
		}
		for name, c := range n.children {
			if first && isDollar(name) { // [MQTT-4.7.2-1]
				continue
			}
			if !c.walk(append(path, name...), fn) {
				return false
			}
		}
		return true
	case "+":
		for name, c := range n.children {
			if first && isDollar(name) { // [MQTT-4.7.2-1]
				continue
			}
			if !c.stepMatch(rest, more, append(path, name...), fn) {
				return false
			}
		}
		return true
	}
	if c := n.children[level]; c != nil {
		return c.stepMatch(rest, more, append(path, level...), fn)
	}
	return true
}

func (n *tnode[V]) stepMatch(rest string, more bool, path []byte, fn func(string, V) bool) bool {
	if more {
		return n.match(rest, false, append(path, '/'), fn)
	}
	if n.has {
		return fn(string(path), n.val)
	}
	return true
}

// walk visits n (whose topic is path) and all its descendants.
func (n *tnode[V]) walk(path []byte, fn func(string, V) bool) bool {
	if n.has && !fn(string(path), n.val) {
		return false
	}
	for name, c := range n.children {
		p := append(path, '/')
		if !c.walk(append(p, name...), fn) {
			return false
		}
	}
	return true
}

func isDollar(level string) bool { return len(level) > 0 && level[0] == '$' }
