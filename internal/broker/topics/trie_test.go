package topics

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// refMatch is a naive reference matcher written straight from the spec
// (section 4.7), used as the oracle for the trie and the tree.
func refMatch(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false // [MQTT-4.7.2-1]
	}
	f := strings.Split(filter, "/")
	tp := strings.Split(topic, "/")
	for i, lv := range f {
		if lv == "#" {
			return true
		}
		if i >= len(tp) {
			return false
		}
		if lv != "+" && lv != tp[i] {
			return false
		}
	}
	return len(f) == len(tp)
}

func TestRefMatch(t *testing.T) {
	tests := []struct {
		filter, topic string
		want          bool
	}{
		{"sport/#", "sport", true},
		{"sport/#", "sport/tennis/player1", true},
		{"#", "a/b", true},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true},
		{"+", "", true},
		{"+/+", "/", true},
		{"/+", "/finance", true},
		{"+", "/finance", false},
		{"a/+", "a", false},
		{"a/+/c", "a//c", true},
		{"a/b", "a/b/c", false},
	}
	for _, tc := range tests {
		if got := refMatch(tc.filter, tc.topic); got != tc.want {
			t.Errorf("refMatch(%q, %q) = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
	}
}

func owners(subs []*Subscription[int]) []int {
	var out []int
	for _, s := range subs {
		out = append(out, s.Owner)
	}
	slices.Sort(out)
	return out
}

func TestTrieMatch(t *testing.T) {
	filters := []string{"sport/#", "sport/+", "sport/tennis", "#", "+", "+/+", "/+", "$SYS/#",
		"$SYS/broker/+", "a/+/c", "a/b/c", "a/#", "+/b/#", "a//c", "+/+/+"}
	tr := New[int]()
	for i, f := range filters {
		tr.Subscribe(&Subscription[int]{Owner: i, Filter: f})
	}
	topics := []string{"sport", "sport/tennis", "sport/tennis/x", "$SYS", "$SYS/broker/uptime",
		"a/b/c", "a//c", "a", "/", "/finance", "x", "a/b", "$share"}
	for _, topic := range topics {
		var want []int
		for i, f := range filters {
			if refMatch(f, topic) {
				want = append(want, i)
			}
		}
		got := owners(tr.Match(topic, nil))
		if !slices.Equal(got, want) {
			t.Errorf("Match(%q) = %v, want %v", topic, got, want)
		}
	}
	if tr.Len() != len(filters) {
		t.Errorf("Len = %d, want %d", tr.Len(), len(filters))
	}
}

func TestTrieReplaceAndUnsubscribe(t *testing.T) {
	tr := New[int]()
	if tr.Subscribe(&Subscription[int]{Owner: 1, Filter: "a/b", QoS: 0}) {
		t.Fatal("first subscribe reported a replacement")
	}
	if !tr.Subscribe(&Subscription[int]{Owner: 1, Filter: "a/b", QoS: 2}) {
		t.Fatal("second subscribe did not report a replacement")
	}
	got := tr.Match("a/b", nil)
	if len(got) != 1 || got[0].QoS != 2 {
		t.Fatalf("after replace: %+v", got)
	}
	tr.Subscribe(&Subscription[int]{Owner: 2, Filter: "a/b"})
	tr.Subscribe(&Subscription[int]{Owner: 3, Filter: "a/b"})
	if !tr.Unsubscribe(1, "a/b", "") {
		t.Fatal("unsubscribe of existing failed")
	}
	if tr.Unsubscribe(1, "a/b", "") {
		t.Fatal("double unsubscribe succeeded")
	}
	if tr.Unsubscribe(9, "x/y", "") || tr.Unsubscribe(2, "a/+", "") || tr.Unsubscribe(2, "a/b", "g") {
		t.Fatal("unsubscribe of missing succeeded")
	}
	if got := owners(tr.Match("a/b", nil)); !slices.Equal(got, []int{2, 3}) {
		t.Fatalf("owners = %v", got)
	}
	tr.Unsubscribe(2, "a/b", "")
	tr.Unsubscribe(3, "a/b", "")
	if tr.Len() != 0 || !tr.root.empty() {
		t.Fatalf("trie not pruned: len %d, root %+v", tr.Len(), tr.root)
	}
}

func TestTrieShared(t *testing.T) {
	tr := New[int]()
	for i := 0; i < 3; i++ {
		tr.Subscribe(&Subscription[int]{Owner: i, Filter: "s/+", Group: "g"})
	}
	tr.Subscribe(&Subscription[int]{Owner: 10, Filter: "s/#", Group: "h"})
	tr.Subscribe(&Subscription[int]{Owner: 0, Filter: "s/x"}) // non-shared, same owner
	counts := map[int]int{}
	for i := 0; i < 30; i++ {
		got := tr.Match("s/x", nil)
		if len(got) != 3 {
			t.Fatalf("want one per group plus the plain sub, got %d", len(got))
		}
		for _, s := range got {
			if s.Group == "g" {
				counts[s.Owner]++
			}
		}
	}
	for i := 0; i < 3; i++ {
		if counts[i] != 10 {
			t.Errorf("round robin uneven: %v", counts)
		}
	}
	if tr.SharedLen() != 4 || tr.Len() != 5 {
		t.Errorf("SharedLen %d Len %d", tr.SharedLen(), tr.Len())
	}
	if !tr.Unsubscribe(1, "s/+", "g") || tr.Unsubscribe(1, "s/+", "g") {
		t.Error("shared unsubscribe")
	}
	tr.Unsubscribe(0, "s/+", "g")
	tr.Unsubscribe(2, "s/+", "g")
	if got := tr.Match("s/x", nil); len(got) != 2 {
		t.Errorf("after removing group g: %d matches", len(got))
	}
}

func TestTrieSharedPrefer(t *testing.T) {
	tr := New[int]()
	online := map[int]bool{1: true, 3: true}
	tr.SetPrefer(func(o int) bool { return online[o] })
	for i := 0; i < 4; i++ {
		tr.Subscribe(&Subscription[int]{Owner: i, Filter: "s", Group: "g"})
	}
	counts := map[int]int{}
	for i := 0; i < 10; i++ {
		counts[tr.Match("s", nil)[0].Owner]++
	}
	if counts[1] != 5 || counts[3] != 5 {
		t.Errorf("preferred members not used evenly: %v", counts)
	}
	online = map[int]bool{} // nobody preferred: plain round robin
	counts = map[int]int{}
	for i := 0; i < 8; i++ {
		counts[tr.Match("s", nil)[0].Owner]++
	}
	for i := 0; i < 4; i++ {
		if counts[i] != 2 {
			t.Errorf("fallback round robin uneven: %v", counts)
		}
	}
}

// randomLevel draws from a small alphabet so that filters and topics
// collide often.
func randomLevel(r *rand.Rand, filter bool) string {
	choices := []string{"a", "b", "", "$x", "ab"}
	if filter {
		choices = append(choices, "+", "+", "#")
	}
	return choices[r.Intn(len(choices))]
}

func randomName(r *rand.Rand, filter bool) string {
	n := 1 + r.Intn(4)
	levels := make([]string, 0, n)
	for i := 0; i < n; i++ {
		lv := randomLevel(r, filter)
		levels = append(levels, lv)
		if lv == "#" {
			break
		}
	}
	return strings.Join(levels, "/")
}

func TestTrieRandomAgainstReference(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	tr := New[int]()
	var filters []string
	for i := 0; i < 300; i++ {
		f := randomName(r, true)
		filters = append(filters, f)
		tr.Subscribe(&Subscription[int]{Owner: i, Filter: f})
	}
	for i := 0; i < 2000; i++ {
		topic := randomName(r, false)
		var want []int
		for j, f := range filters {
			if mqtt.MatchTopic(f, topic) {
				want = append(want, j)
			}
		}
		if got := owners(tr.Match(topic, nil)); !slices.Equal(got, want) {
			t.Fatalf("Match(%q) = %v, want %v", topic, got, want)
		}
	}
	// Remove half and check again.
	for i := 0; i < 300; i += 2 {
		if !tr.Unsubscribe(i, filters[i], "") {
			t.Fatalf("unsubscribe %d %q failed", i, filters[i])
		}
	}
	for i := 0; i < 500; i++ {
		topic := randomName(r, false)
		var want []int
		for j := 1; j < 300; j += 2 {
			if refMatch(filters[j], topic) {
				want = append(want, j)
			}
		}
		if got := owners(tr.Match(topic, nil)); !slices.Equal(got, want) {
			t.Fatalf("after removal Match(%q) = %v, want %v", topic, got, want)
		}
	}
}

func FuzzTrieMatch(f *testing.F) {
	f.Add("sport/#", "sport")
	f.Add("+/+", "/")
	f.Add("#", "$SYS/a")
	f.Add("a/+/c", "a//c")
	f.Fuzz(func(t *testing.T, filter, topic string) {
		if !validFilter(filter) || !validTopic(topic) {
			return
		}
		// Both oracles: the local one and the codec's mqtt.MatchTopic.
		if mqtt.ValidTopicFilter(filter) != nil || mqtt.ValidTopicName(topic) != nil {
			return
		}
		if a, b := refMatch(filter, topic), mqtt.MatchTopic(filter, topic); a != b {
			t.Fatalf("oracles disagree on (%q, %q): local %v, mqtt.MatchTopic %v", filter, topic, a, b)
		}
		tr := New[int]()
		tr.Subscribe(&Subscription[int]{Owner: 1, Filter: filter})
		got := len(tr.Match(topic, nil)) == 1
		if want := mqtt.MatchTopic(filter, topic); got != want {
			t.Fatalf("trie(%q, %q) = %v, reference %v", filter, topic, got, want)
		}
		tree := NewTree[int]()
		tree.Set(topic, 1)
		found := false
		tree.Match(filter, func(tp string, _ int) bool {
			if tp != topic {
				t.Fatalf("tree reported topic %q, stored %q", tp, topic)
			}
			found = true
			return true
		})
		if found != refMatch(filter, topic) {
			t.Fatalf("tree(%q, %q) = %v, reference %v", filter, topic, found, !found)
		}
		if !tr.Unsubscribe(1, filter, "") || !tr.root.empty() {
			t.Fatalf("unsubscribe %q left the trie non-empty", filter)
		}
	})
}

// validTopic and validFilter are the structural rules the trie relies on
// (the mqtt package enforces them, with UTF-8 checks, before the broker).
func validTopic(s string) bool {
	return s != "" && !strings.ContainsAny(s, "+#\x00")
}

func validFilter(s string) bool {
	if s == "" || strings.ContainsRune(s, 0) {
		return false
	}
	levels := strings.Split(s, "/")
	for i, lv := range levels {
		if strings.Contains(lv, "#") && (lv != "#" || i != len(levels)-1) {
			return false
		}
		if strings.Contains(lv, "+") && lv != "+" {
			return false
		}
	}
	return true
}

func BenchmarkTrieMatch10k(b *testing.B) {
	tr := New[int]()
	// 10,000 subscriptions: devices/<n>/<metric>, a few wildcards.
	n := 0
	for d := 0; d < 1000; d++ {
		for m := 0; m < 9; m++ {
			tr.Subscribe(&Subscription[int]{Owner: n, Filter: fmt.Sprintf("devices/%d/metric%d", d, m)})
			n++
		}
		tr.Subscribe(&Subscription[int]{Owner: n, Filter: fmt.Sprintf("devices/%d/#", d)})
		n++
	}
	tr.Subscribe(&Subscription[int]{Owner: n, Filter: "devices/+/metric3"})
	tr.Subscribe(&Subscription[int]{Owner: n + 1, Filter: "#"})
	dst := make([]*Subscription[int], 0, 16)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		dst = tr.Match("devices/517/metric3", dst[:0])
	}
	if len(dst) != 4 {
		b.Fatalf("matched %d, want 4", len(dst))
	}
}

// TestMatchMarkEpochs: a subscription made after a match has an epoch the
// match's mark is not above; one made before, an epoch below the mark.
func TestMatchMarkEpochs(t *testing.T) {
	tr := New[int]()
	before := &Subscription[int]{Owner: 1, Filter: "a/#"}
	tr.Subscribe(before)
	var mark atomic.Uint64
	if got := tr.MatchMark("a/b", nil, &mark); len(got) != 1 {
		t.Fatalf("MatchMark found %d subscriptions, want 1", len(got))
	}
	after := &Subscription[int]{Owner: 2, Filter: "a/b"}
	tr.Subscribe(after)
	if m := mark.Load(); m == 0 || m <= before.Epoch || m > after.Epoch {
		t.Errorf("mark %d, epochs before %d after %d: want before < mark <= after", m, before.Epoch, after.Epoch)
	}
}
