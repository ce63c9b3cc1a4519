package broker

import (
	"hash/maphash"
	"iter"
)

// sessTable is the broker's sessions by client id (under Broker.mu): an
// open-addressing table of session pointers keyed by their clientID,
// with linear probing and backward-shift deletion. A slot is 8 bytes,
// where a map[string]*session took about 40 per entry (key, value,
// control byte, load factor): issue 17, an idle connection's memory.
//
// Its load stays between 1/8 and 3/4 (shrinking stops at minSlots), so
// a lookup probes a few slots at most. The zero value is empty and
// ready to use.
type sessTable struct {
	slots []*session // len is 0 or a power of two
	n     int
	seed  maphash.Seed
}

const sessTableMinSlots = 16

func (t *sessTable) len() int { return t.n }

// find is the slot of id, or of the empty slot where it would go.
func (t *sessTable) find(id string) int {
	mask := len(t.slots) - 1
	i := int(maphash.String(t.seed, id)) & mask
	for {
		s := t.slots[i]
		if s == nil || s.clientID == id {
			return i
		}
		i = (i + 1) & mask
	}
}

// get is the session of id, or nil.
func (t *sessTable) get(id string) *session {
	if t.n == 0 {
		return nil
	}
	return t.slots[t.find(id)]
}

// put adds s, replacing the session with the same client id.
func (t *sessTable) put(s *session) {
	if len(t.slots) == 0 {
		t.seed = maphash.MakeSeed()
		t.slots = make([]*session, sessTableMinSlots)
	} else if (t.n+1)*4 > len(t.slots)*3 {
		t.resize(len(t.slots) * 2)
	}
	i := t.find(s.clientID)
	if t.slots[i] == nil {
		t.n++
	}
	t.slots[i] = s
}

// del removes s if the table holds s itself (not a newer session with
// the same client id), and reports whether it did.
func (t *sessTable) del(s *session) bool {
	if t.n == 0 {
		return false
	}
	i := t.find(s.clientID)
	if t.slots[i] != s {
		return false
	}
	// Backward shift: move each later slot of the run into the hole when
	// its home slot does not lie (cyclically) after the hole.
	mask := len(t.slots) - 1
	for j := (i + 1) & mask; t.slots[j] != nil; j = (j + 1) & mask {
		home := int(maphash.String(t.seed, t.slots[j].clientID)) & mask
		if (j-home)&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = nil
	t.n--
	if len(t.slots) > sessTableMinSlots && t.n*8 < len(t.slots) {
		t.resize(len(t.slots) / 2)
	}
	return true
}

func (t *sessTable) resize(size int) {
	old := t.slots
	t.slots = make([]*session, size)
	for _, s := range old {
		if s != nil {
			t.slots[t.find(s.clientID)] = s
		}
	}
}

// all yields every session, in no particular order. The table must not
// change during the loop.
func (t *sessTable) all() iter.Seq[*session] {
	return func(yield func(*session) bool) {
		for _, s := range t.slots {
			if s != nil && !yield(s) {
				return
			}
		}
	}
}

// list is every session, in no particular order.
func (t *sessTable) list() []*session {
	out := make([]*session, 0, t.n)
	for s := range t.all() {
		out = append(out, s)
	}
	return out
}
