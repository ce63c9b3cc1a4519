package bench

import (
	"math"
	"testing"
)

func TestTracker(t *testing.T) {
	const run = 77
	st := func(pub uint32, seq uint64) Stamp { return Stamp{Run: run, Pub: pub, Seq: seq} }
	tests := []struct {
		name     string
		stamps   []Stamp
		outcomes []Outcome
		want     Counts
	}{
		{"in order", []Stamp{st(0, 0), st(0, 1), st(0, 2)}, []Outcome{New, New, New},
			Counts{Unique: 3}},
		{"gap then late arrival", []Stamp{st(0, 0), st(0, 2), st(0, 1)}, []Outcome{New, New, Reordered},
			Counts{Unique: 3, Reordered: 1}},
		{"duplicate", []Stamp{st(0, 0), st(0, 1), st(0, 1), st(0, 0)}, []Outcome{New, New, Duplicate, Duplicate},
			Counts{Unique: 2, Duplicates: 2}},
		{"publishers are separate streams", []Stamp{st(0, 5), st(1, 0), st(1, 5), st(0, 0)},
			[]Outcome{New, New, New, Reordered}, Counts{Unique: 4, Reordered: 1}},
		{"other run", []Stamp{{Run: run + 1, Pub: 0, Seq: 0}}, []Outcome{Foreign}, Counts{Foreign: 1}},
		{"unknown publisher", []Stamp{st(2, 0)}, []Outcome{Foreign}, Counts{Foreign: 1}},
		{"sequence beyond the cap", []Stamp{st(0, 1000)}, []Outcome{Foreign}, Counts{Foreign: 1}},
		{"bitset growth across words", []Stamp{st(0, 999), st(0, 63), st(0, 64), st(0, 999)},
			[]Outcome{New, Reordered, Reordered, Duplicate}, Counts{Unique: 3, Reordered: 2, Duplicates: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(run, 2, 1000)
			for i, s := range tt.stamps {
				if got := tr.Add(s); got != tt.outcomes[i] {
					t.Errorf("Add(%+v) = %d, want %d", s, got, tt.outcomes[i])
				}
			}
			if got := tr.Counts(); got != tt.want {
				t.Errorf("Counts = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTrackerLossAccounting(t *testing.T) {
	// Publisher 0 sent 200; every 10th message and the last 5 are lost,
	// and 3 arrive twice.
	tr := NewTracker(1, 1, 200)
	const sent = 200
	for seq := uint64(0); seq < sent; seq++ {
		if seq%10 == 3 || seq >= sent-5 {
			continue
		}
		tr.Add(Stamp{Run: 1, Seq: seq})
	}
	for _, seq := range []uint64{0, 1, 2} {
		tr.Add(Stamp{Run: 1, Seq: seq})
	}
	c := tr.Counts()
	wantUnique := uint64(sent - 20 - 5) // 3, 13, ..., 193 and 195..199
	if c.Unique != wantUnique || c.Duplicates != 3 {
		t.Fatalf("counts = %+v, want %d unique and 3 duplicates", c, wantUnique)
	}
	if got := tr.Received(0); got != wantUnique {
		t.Errorf("Received(0) = %d, want %d", got, wantUnique)
	}
	lost, pct := Loss(sent, c.Unique)
	if lost != sent-wantUnique || math.Abs(pct-100*float64(lost)/sent) > 1e-9 {
		t.Errorf("Loss = %d, %.3f%%", lost, pct)
	}
	if got := tr.FirstMissing(0, sent); got != 3 {
		t.Errorf("FirstMissing = %d, want 3", got)
	}
	if got := tr.FirstMissing(0, 3); got != -1 {
		t.Errorf("FirstMissing of the first 3 = %d, want -1", got)
	}
}

func TestFirstMissing(t *testing.T) {
	tests := []struct {
		name string
		got  []uint64
		sent uint64
		want int64
	}{
		{"nothing received", nil, 10, 0},
		{"nothing sent", nil, 0, -1},
		{"all of one word", seqs(0, 64), 64, -1},
		{"tail lost after a full word", seqs(0, 64), 100, 64},
		{"hole in second word", append(seqs(0, 70), seqs(71, 130)...), 130, 70},
		{"complete across words", seqs(0, 130), 130, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(0, 1, 1000)
			for _, s := range tt.got {
				tr.Add(Stamp{Seq: s})
			}
			if got := tr.FirstMissing(0, tt.sent); got != tt.want {
				t.Errorf("FirstMissing = %d, want %d", got, tt.want)
			}
		})
	}
}

func seqs(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func TestLoss(t *testing.T) {
	tests := []struct {
		expected, unique, lost uint64
		pct                    float64
	}{
		{0, 0, 0, 0},
		{100, 100, 0, 0},
		{100, 93, 7, 7},
		{200, 0, 200, 100},
		{100, 120, 0, 0}, // more than expected (foreign excluded elsewhere): no negative loss
	}
	for _, tt := range tests {
		lost, pct := Loss(tt.expected, tt.unique)
		if lost != tt.lost || math.Abs(pct-tt.pct) > 1e-9 {
			t.Errorf("Loss(%d, %d) = %d, %.2f; want %d, %.2f", tt.expected, tt.unique, lost, pct, tt.lost, tt.pct)
		}
	}
}
