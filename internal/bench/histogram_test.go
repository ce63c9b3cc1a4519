package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// exactPercentile is the nearest-rank definition on sorted data.
func exactPercentile(sorted []int64, p float64) int64 {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func TestPercentileExactSmallValues(t *testing.T) {
	// Values below 256 ns have buckets of width 1: percentiles are exact.
	tests := []struct {
		name   string
		values []int64
		p      float64
		want   int64
	}{
		{"single", []int64{42}, 50, 42},
		{"single p100", []int64{42}, 100, 42},
		{"1..10 p50", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 50, 5},
		{"1..10 p90", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 90, 9},
		{"1..10 p91", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 91, 10},
		{"1..10 p99.9", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 99.9, 10},
		{"unsorted p50", []int64{9, 1, 8, 2, 7, 3}, 50, 3},
		{"ties", []int64{5, 5, 5, 5, 200}, 80, 5},
		{"ties p81", []int64{5, 5, 5, 5, 200}, 81, 200},
		{"tiny p", []int64{3, 1, 2}, 0.001, 1},
		{"zero and negative", []int64{-5, 0, 0, 7}, 50, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			for _, v := range tt.values {
				h.Record(time.Duration(v))
			}
			if got := h.Percentile(tt.p); got != time.Duration(tt.want) {
				t.Errorf("Percentile(%v) = %d, want %d", tt.p, got, tt.want)
			}
		})
	}
}

func TestPercentileRelativeError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	var vals []int64
	for range 100_000 {
		// Log-uniform from 1 µs to 1 s, like real latencies.
		v := int64(math.Exp(rng.Float64()*math.Log(1e6)) * 1e3)
		vals = append(vals, v)
		h.Record(time.Duration(v))
	}
	slices.Sort(vals)
	for _, p := range []float64{1, 50, 90, 99, 99.9, 99.99, 100} {
		want := exactPercentile(vals, p)
		got := int64(h.Percentile(p))
		if rel := math.Abs(float64(got-want)) / float64(want); rel > 1.0/128 {
			t.Errorf("p%v = %d, exact %d: relative error %.4f > 1/128", p, got, want, rel)
		}
	}
	if got := h.Percentile(100); int64(got) != vals[len(vals)-1] {
		t.Errorf("p100 = %d, want the maximum %d", got, vals[len(vals)-1])
	}
}

func TestHistogramBucketsContiguous(t *testing.T) {
	prevHi := int64(-1)
	for i := range histBuckets {
		lo, hi := histBounds(i)
		if lo != prevHi+1 || hi < lo {
			t.Fatalf("bucket %d = [%d, %d], previous ended at %d", i, lo, hi, prevHi)
		}
		if hi == math.MaxInt64 {
			break
		}
		for _, v := range []int64{lo, hi, lo + (hi-lo)/2} {
			if got := histIndex(v); got != i {
				t.Fatalf("histIndex(%d) = %d, want %d", v, got, i)
			}
		}
		prevHi = hi
	}
}

func TestHistogramMergeAndSummary(t *testing.T) {
	var a, b, all Histogram
	for i := 1; i <= 1000; i++ {
		d := time.Duration(i) * time.Microsecond
		all.Record(d)
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	var m Histogram
	m.Merge(&a)
	m.Merge(&b)
	m.Merge(&Histogram{}) // empty: no effect
	if m != all {
		t.Fatal("merging the halves differs from recording everything")
	}
	s := m.Summary()
	if s.Samples != 1000 || s.Min != 1 || s.Max != 1000 || math.Abs(s.Mean-500.5) > 1e-9 {
		t.Errorf("summary = %+v", s)
	}
	for _, c := range []struct{ got, want float64 }{{s.P50, 500}, {s.P90, 900}, {s.P99, 990}, {s.P999, 999}} {
		if math.Abs(c.got-c.want)/c.want > 1.0/128 {
			t.Errorf("percentile %.1f µs, want %.0f within 1/128", c.got, c.want)
		}
	}
	var empty Histogram
	if empty.Summary() != (LatencySummary{}) || empty.Percentile(50) != 0 {
		t.Error("empty histogram must summarise to zeros")
	}
}
