package topics

import (
	"math/rand"
	"slices"
	"testing"
)

func treeMatch(tr *Tree[int], filter string) []string {
	var out []string
	tr.Match(filter, func(topic string, _ int) bool {
		out = append(out, topic)
		return true
	})
	slices.Sort(out)
	return out
}

func TestTreeSetGetDelete(t *testing.T) {
	tr := NewTree[int]()
	tr.Set("a/b", 1)
	tr.Set("a/b", 2)
	tr.Set("a", 3)
	if v, ok := tr.Get("a/b"); !ok || v != 2 {
		t.Fatalf("Get a/b = %v %v", v, ok)
	}
	if _, ok := tr.Get("a/b/c"); ok {
		t.Fatal("Get of missing topic succeeded")
	}
	if tr.Len() != 2 {
		t.Fatalf("Len = %d", tr.Len())
	}
	if tr.DeleteIf("a/b", func(v int) bool { return v == 1 }) {
		t.Fatal("DeleteIf deleted a non-matching value")
	}
	if !tr.DeleteIf("a/b", func(v int) bool { return v == 2 }) {
		t.Fatal("DeleteIf did not delete")
	}
	if tr.Delete("a/b") {
		t.Fatal("double delete")
	}
	if !tr.Delete("a") || tr.Len() != 0 || len(tr.root.children) != 0 {
		t.Fatalf("tree not empty: %d %v", tr.Len(), tr.root.children)
	}
}

func TestTreeMatch(t *testing.T) {
	topicsList := []string{"sport", "sport/tennis", "sport/tennis/p1", "$SYS/broker/uptime",
		"/", "/finance", "a//c", "a/b/c", "x"}
	tr := NewTree[int]()
	for i, tp := range topicsList {
		tr.Set(tp, i)
	}
	filters := []string{"#", "sport/#", "sport/+", "+", "+/+", "$SYS/#", "+/broker/#", "a/+/c",
		"/+", "a/#", "sport/tennis/p1", "nothing/#"}
	for _, f := range filters {
		var want []string
		for _, tp := range topicsList {
			if refMatch(f, tp) {
				want = append(want, tp)
			}
		}
		slices.Sort(want)
		if got := treeMatch(tr, f); !slices.Equal(got, want) {
			t.Errorf("Match(%q) = %q, want %q", f, got, want)
		}
	}
	var all []string
	tr.Range(func(topic string, _ int) bool { all = append(all, topic); return true })
	if len(all) != len(topicsList) {
		t.Errorf("Range visited %d of %d", len(all), len(topicsList))
	}
	n := 0
	tr.Match("#", func(string, int) bool { n++; return false })
	if n != 1 {
		t.Errorf("stopping early visited %d", n)
	}
}

func TestTreeRandomAgainstReference(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	tr := NewTree[int]()
	stored := map[string]bool{}
	for i := 0; i < 200; i++ {
		tp := randomName(r, false)
		tr.Set(tp, i)
		stored[tp] = true
	}
	for i := 0; i < 1000; i++ {
		f := randomName(r, true)
		var want []string
		for tp := range stored {
			if refMatch(f, tp) {
				want = append(want, tp)
			}
		}
		slices.Sort(want)
		if got := treeMatch(tr, f); !slices.Equal(got, want) {
			t.Fatalf("Match(%q) = %q, want %q", f, got, want)
		}
	}
}
