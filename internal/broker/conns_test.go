package broker

import "testing"

// connSet keeps every connection added and not removed, whatever the
// order of removal, and gives back a burst's array.
func TestConnSet(t *testing.T) {
	var s connSet
	cs := make([]*conn, 200)
	for i := range cs {
		cs[i] = &conn{}
		s.add(cs[i])
	}
	in := func(c *conn) bool {
		for _, x := range s.list {
			if x == c {
				return true
			}
		}
		return false
	}
	// Remove every other one, from the middle and the ends.
	for i := 0; i < len(cs); i += 2 {
		s.remove(cs[i])
	}
	s.remove(cs[0])   // twice: nothing
	s.remove(&conn{}) // never added: nothing
	if s.len() != 100 {
		t.Fatalf("len %d after removing 100 of 200, want 100", s.len())
	}
	for i, c := range cs {
		if in(c) != (i%2 == 1) {
			t.Fatalf("conn %d in set: %v", i, in(c))
		}
	}
	for i, c := range s.list {
		if int(c.lp.reg) != i {
			t.Fatalf("conn at %d knows position %d", i, c.lp.reg)
		}
	}
	for i := 1; i < len(cs); i += 2 {
		s.remove(cs[i])
	}
	if s.len() != 0 || cap(s.list) > 64 {
		t.Errorf("empty set: len %d, cap %d (want 0, at most 64)", s.len(), cap(s.list))
	}
}
