package broker

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestSessTableAgainstMap runs random puts, replacements and deletions
// against a map and checks every lookup, the count and the iteration
// after each step, through growth and shrinking.
func TestSessTableAgainstMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 17))
	var tab sessTable
	ref := map[string]*session{}
	check := func(step int) {
		t.Helper()
		if tab.len() != len(ref) {
			t.Fatalf("step %d: len %d, want %d", step, tab.len(), len(ref))
		}
		seen := 0
		for s := range tab.all() {
			if ref[s.clientID] != s {
				t.Fatalf("step %d: all yields %q that the map does not hold", step, s.clientID)
			}
			seen++
		}
		if seen != len(ref) {
			t.Fatalf("step %d: all yields %d sessions, want %d", step, seen, len(ref))
		}
		if n := len(tab.slots); n > sessTableMinSlots && (tab.n*8 < n || tab.n*4 > n*3) {
			t.Fatalf("step %d: %d sessions in %d slots", step, tab.n, n)
		}
	}
	// Phases: grow to ~3,000 ids, churn, then drain to nothing.
	for step := 0; step < 30000; step++ {
		id := fmt.Sprintf("c%d", r.IntN(4000))
		var del bool
		switch {
		case step < 10000:
			del = r.IntN(4) == 0
		case step < 20000:
			del = r.IntN(2) == 0
		default:
			del = true
		}
		if del {
			s := ref[id]
			stale := &session{clientID: id}
			if tab.del(stale) {
				t.Fatalf("step %d: del of a session the table does not hold removed %q", step, id)
			}
			if s != nil && !tab.del(s) {
				t.Fatalf("step %d: del(%q) found nothing", step, id)
			}
			delete(ref, id)
		} else {
			s := &session{clientID: id}
			tab.put(s)
			ref[id] = s
		}
		if got := tab.get(id); got != ref[id] {
			t.Fatalf("step %d: get(%q) = %p, want %p", step, id, got, ref[id])
		}
		if step%500 == 0 {
			for k, v := range ref {
				if tab.get(k) != v {
					t.Fatalf("step %d: get(%q) lost after deletions", step, k)
				}
			}
			check(step)
		}
	}
	for id, s := range ref {
		if !tab.del(s) {
			t.Fatalf("del(%q) at the end found nothing", id)
		}
		delete(ref, id)
	}
	check(-1)
	if len(tab.slots) != sessTableMinSlots {
		t.Fatalf("empty table kept %d slots, want %d", len(tab.slots), sessTableMinSlots)
	}
	if tab.get("c1") != nil {
		t.Fatal("get on an empty table found a session")
	}
}

// TestSessTableCollisions fills the smallest table to its load limit,
// where the probe runs are long (and may wrap past the last slot), then
// deletes one session at a time, checking that every later one is still
// found after each backward shift.
func TestSessTableCollisions(t *testing.T) {
	var tab sessTable
	var all []*session
	for i := range 12 { // 12 of 16 slots: no growth
		s := &session{clientID: fmt.Sprintf("x%d", i)}
		tab.put(s)
		all = append(all, s)
	}
	if len(tab.slots) != sessTableMinSlots {
		t.Fatalf("%d slots, want %d", len(tab.slots), sessTableMinSlots)
	}
	for k, s := range all {
		if !tab.del(s) {
			t.Fatalf("del %q failed", s.clientID)
		}
		for _, o := range all[k+1:] {
			if tab.get(o.clientID) != o {
				t.Fatalf("after deleting %q, %q is lost", s.clientID, o.clientID)
			}
		}
	}
}
