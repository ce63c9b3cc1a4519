package topics

import (
	"fmt"
	"math/rand"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// checkTrie verifies the trie's structure (label.go): every literal child
// is keyed by the first level of its label, labels hold no wildcard
// level, wildcard nodes are labelled "+" and "#", no node is empty, and
// no literal node could be merged with its only child.
func checkTrie[O comparable](t *testing.T, n *node[O], root bool) {
	t.Helper()
	if !root && n.empty() {
		t.Fatalf("empty node %q left in the trie", n.label)
	}
	for key, c := range n.children {
		if key != firstLevel(c.label) {
			t.Fatalf("child %q keyed %q", c.label, key)
		}
		for _, lv := range strings.Split(c.label, "/") {
			if lv == "+" || lv == "#" {
				t.Fatalf("wildcard level in label %q", c.label)
			}
		}
		if len(c.children) == 1 && c.plus == nil && c.hash == nil && len(c.subs) == 0 && len(c.groups) == 0 {
			t.Fatalf("node %q could be merged with its only child", c.label)
		}
		checkTrie(t, c, false)
	}
	if n.plus != nil {
		if n.plus.label != "+" {
			t.Fatalf("'+' node labelled %q", n.plus.label)
		}
		checkTrie(t, n.plus, false)
	}
	if n.hash != nil {
		if n.hash.label != "#" || len(n.hash.children) > 0 || n.hash.plus != nil || n.hash.hash != nil {
			t.Fatalf("bad '#' node %q", n.hash.label)
		}
		checkTrie(t, n.hash, false)
	}
}

func checkTree[V any](t *testing.T, n *tnode[V], root bool) {
	t.Helper()
	if !root && !n.has && len(n.children) < 2 {
		t.Fatalf("node %q without value has %d children", n.label, len(n.children))
	}
	for key, c := range n.children {
		if key != firstLevel(c.label) {
			t.Fatalf("child %q keyed %q", c.label, key)
		}
		checkTree(t, c, false)
	}
}

// deepName draws names of up to 8 levels from a tiny alphabet, so that
// labels are split and merged often.
func deepName(r *rand.Rand, filter bool) string {
	n := 1 + r.Intn(8)
	levels := make([]string, 0, n)
	for i := 0; i < n; i++ {
		choices := []string{"a", "b", "", "a", "a"}
		if i == 0 {
			choices = append(choices, "$x")
		}
		if filter && r.Intn(6) == 0 {
			choices = []string{"+", "#"}
		}
		lv := choices[r.Intn(len(choices))]
		levels = append(levels, lv)
		if lv == "#" {
			break
		}
	}
	return strings.Join(levels, "/")
}

// TestTrieCompressedRandom subscribes and unsubscribes random deep
// filters in random order, checking the structure after every change and
// the matches against mqtt.MatchTopic.
func TestTrieCompressedRandom(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	tr := New[int]()
	live := map[int]string{}
	for step := 0; step < 3000; step++ {
		owner := r.Intn(60)
		if f, ok := live[owner]; ok && r.Intn(2) == 0 {
			if !tr.Unsubscribe(owner, f, "") {
				t.Fatalf("unsubscribe %d %q failed", owner, f)
			}
			delete(live, owner)
		} else {
			if ok {
				tr.Unsubscribe(owner, live[owner], "")
			}
			f := deepName(r, true)
			tr.Subscribe(&Subscription[int]{Owner: owner, Filter: f})
			live[owner] = f
		}
		checkTrie(t, &tr.root, true)
		if tr.Len() != len(live) {
			t.Fatalf("Len %d, want %d", tr.Len(), len(live))
		}
		topic := deepName(r, false)
		var want []int
		for o, f := range live {
			if mqtt.MatchTopic(f, topic) {
				want = append(want, o)
			}
		}
		slices.Sort(want)
		if got := owners(tr.Match(topic, nil)); !slices.Equal(got, want) {
			t.Fatalf("step %d: Match(%q) = %v, want %v (filters %v)", step, topic, got, want, live)
		}
	}
	for o, f := range live {
		tr.Unsubscribe(o, f, "")
	}
	if !tr.root.empty() {
		t.Fatal("trie not empty after removing everything")
	}
}

func TestTreeCompressedRandom(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	tr := NewTree[int]()
	stored := map[string]int{}
	for step := 0; step < 3000; step++ {
		tp := deepName(r, false)
		if _, ok := stored[tp]; ok && r.Intn(2) == 0 {
			if !tr.Delete(tp) {
				t.Fatalf("delete %q failed", tp)
			}
			delete(stored, tp)
		} else {
			tr.Set(tp, step)
			stored[tp] = step
		}
		checkTree(t, &tr.root, true)
		if tr.Len() != len(stored) {
			t.Fatalf("Len %d, want %d", tr.Len(), len(stored))
		}
		probe := deepName(r, false)
		v, ok := tr.Get(probe)
		if w, wok := stored[probe]; ok != wok || v != w {
			t.Fatalf("Get(%q) = %d %v, want %d %v", probe, v, ok, w, wok)
		}
		f := deepName(r, true)
		var want []string
		for tp := range stored {
			if mqtt.MatchTopic(f, tp) {
				want = append(want, tp)
			}
		}
		slices.Sort(want)
		got := treeMatch(tr, f)
		if !slices.Equal(got, want) {
			t.Fatalf("step %d: Match(%q) = %q, want %q", step, f, got, want)
		}
		var all []string
		tr.Range(func(tp string, v int) bool {
			if stored[tp] != v {
				t.Fatalf("Range: %q = %d, want %d", tp, v, stored[tp])
			}
			all = append(all, tp)
			return true
		})
		if len(all) != len(stored) {
			t.Fatalf("Range visited %d, want %d", len(all), len(stored))
		}
	}
	for tp := range stored {
		tr.Delete(tp)
	}
	if len(tr.root.children) != 0 {
		t.Fatal("tree not empty after removing everything")
	}
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMemoryPerLevel: deep filters and topics cost about their own size,
// not a node per level. 500 distinct 200-level filters (and topics) of
// about 400 bytes each must take less than 4 times their bytes (a node
// and a map per level took about 150 times).
func TestMemoryPerLevel(t *testing.T) {
	const n, depth = 500, 200
	names := make([]string, n)
	total := 0
	for i := range names {
		names[i] = fmt.Sprintf("%d/%s", i, strings.Repeat("a/", depth-1)) + "z"
		total += len(names[i])
	}
	tr := New[int]()
	tree := NewTree[int]()
	subs := make([]*Subscription[int], n)
	for i := range subs {
		subs[i] = &Subscription[int]{Owner: i, Filter: names[i]}
	}
	before := heapInUse()
	for i, s := range subs {
		tr.Subscribe(s)
		tree.Set(names[i], i)
	}
	grown := int64(heapInUse()) - int64(before)
	t.Logf("%d filters and topics of %d levels (%d bytes each way): heap +%d bytes (%.1f x)",
		n, depth, total, grown, float64(grown)/float64(2*total))
	if grown > int64(2*total)*4 {
		t.Errorf("heap grew by %d bytes for %d bytes of filters and topics", grown, 2*total)
	}
	runtime.KeepAlive(tr)
	runtime.KeepAlive(tree)
}

// TestLabelsDoNotPinInput: the trie and the tree copy the levels they
// keep (and the share name), so a filter or topic that points into a
// large buffer (the codec decodes strings in place) does not keep that
// buffer alive. (A Subscription is the caller's: the broker gives it a
// copied filter.)
func TestLabelsDoNotPinInput(t *testing.T) {
	tr := New[int]()
	tree := NewTree[int]()
	before := heapInUse()
	for i := 0; i < 20; i++ {
		buf := make([]byte, 1<<20) // a 1 MiB "packet"
		name := fmt.Sprintf("pin/%d/x", i)
		n := copy(buf, name)
		copy(buf[n:], "group")
		s := unsafe.String(&buf[0], n)
		g := unsafe.String(&buf[n], len("group"))
		plain := &Subscription[int]{Owner: i, Filter: s}
		shared := &Subscription[int]{Owner: i, Filter: s, Group: g}
		tr.Subscribe(plain)
		tr.Subscribe(shared)
		plain.Filter, shared.Filter, shared.Group = strings.Clone(s), strings.Clone(s), strings.Clone(g)
		tree.Set(s, i)
	}
	grown := int64(heapInUse()) - int64(before)
	if grown > 2<<20 {
		t.Errorf("live heap +%d bytes after keeping 20 names from 1 MiB buffers", grown)
	}
	runtime.KeepAlive(tr)
	runtime.KeepAlive(tree)
}
