package bench

import "math/bits"

// Outcome classifies one received message.
type Outcome int

const (
	New       Outcome = iota // first copy, in order
	Reordered                // first copy, but after a higher sequence number of its publisher
	Duplicate                // a copy of a message already received
	Foreign                  // not ours: another run, unknown publisher, or no stamp
)

// stream is what one receiver has seen of one publisher: a bitset of the
// sequence numbers, grown on demand.
type stream struct {
	seen   []uint64
	unique uint64
	next   uint64 // highest sequence number seen + 1
}

// Tracker accounts for the messages one receiver gets, per publisher. It
// is owned by a single goroutine.
type Tracker struct {
	run     uint32
	maxSeq  uint64 // sequence numbers >= maxSeq are bogus
	streams []stream
	counts  Counts
}

// Counts are a tracker's totals.
type Counts struct {
	Unique     uint64 `json:"unique"`
	Duplicates uint64 `json:"duplicates"`
	Reordered  uint64 `json:"reordered"`
	Foreign    uint64 `json:"foreign"`
}

// Add merges o into c.
func (c *Counts) Add(o Counts) {
	c.Unique += o.Unique
	c.Duplicates += o.Duplicates
	c.Reordered += o.Reordered
	c.Foreign += o.Foreign
}

// NewTracker tracks messages of run from publishers 0..pubs-1 whose
// sequence numbers are below maxSeq.
func NewTracker(run uint32, pubs int, maxSeq uint64) *Tracker {
	return &Tracker{run: run, maxSeq: maxSeq, streams: make([]stream, pubs)}
}

// Add records one received stamp and says what it was.
func (t *Tracker) Add(s Stamp) Outcome {
	if s.Run != t.run || int64(s.Pub) >= int64(len(t.streams)) || s.Seq >= t.maxSeq {
		t.counts.Foreign++
		return Foreign
	}
	st := &t.streams[s.Pub]
	w, bit := s.Seq/64, uint64(1)<<(s.Seq%64)
	if w >= uint64(len(st.seen)) {
		n := max(w+1, uint64(len(st.seen))*2)
		n = min(n, (t.maxSeq+63)/64)
		grown := make([]uint64, n)
		copy(grown, st.seen)
		st.seen = grown
	}
	if st.seen[w]&bit != 0 {
		t.counts.Duplicates++
		return Duplicate
	}
	st.seen[w] |= bit
	st.unique++
	t.counts.Unique++
	if s.Seq+1 < st.next {
		t.counts.Reordered++
		return Reordered
	}
	st.next = s.Seq + 1
	return New
}

// Counts returns the totals so far.
func (t *Tracker) Counts() Counts { return t.counts }

// Received is how many distinct messages of publisher pub arrived.
func (t *Tracker) Received(pub int) uint64 {
	if pub < 0 || pub >= len(t.streams) {
		return 0
	}
	return t.streams[pub].unique
}

// FirstMissing is the lowest sequence number below sent that publisher pub
// has not delivered, or -1 when none is missing. It helps to tell a lost
// tail (a stall) from scattered drops.
func (t *Tracker) FirstMissing(pub int, sent uint64) int64 {
	if pub < 0 || pub >= len(t.streams) {
		return -1
	}
	st := &t.streams[pub]
	for w := uint64(0); w*64 < sent; w++ {
		var word uint64
		if w < uint64(len(st.seen)) {
			word = st.seen[w]
		}
		if word != ^uint64(0) {
			if seq := w*64 + uint64(bits.TrailingZeros64(^word)); seq < sent {
				return int64(seq)
			}
			return -1
		}
	}
	return -1
}

// Loss is the number of expected messages that did not arrive, and its
// percentage of expected (0 when nothing was expected).
func Loss(expected, unique uint64) (uint64, float64) {
	if expected == 0 || unique >= expected {
		return 0, 0
	}
	lost := expected - unique
	return lost, 100 * float64(lost) / float64(expected)
}
