package bench

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records durations in log-linear buckets (HdrHistogram's
// layout): values below 2^histSubBits nanoseconds are exact, larger ones
// fall into buckets whose width is at most 1/2^(histSubBits-1) of their
// value, so a percentile is within 0.8% of the true sample. It uses a fixed
// 58 KiB however many samples it records. Not safe for concurrent use:
// each receiver keeps its own and they are merged at the end.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    float64
	min    int64
	max    int64
}

const (
	histSubBits = 8
	histHalf    = 1 << (histSubBits - 1)
	// Shifts run from 0 (exact) to 64-histSubBits.
	histBuckets = (64-histSubBits+1)*histHalf + histHalf
)

// histIndex maps a non-negative value to its bucket.
func histIndex(v int64) int {
	u := uint64(v)
	l := bits.Len64(u)
	if l <= histSubBits {
		return int(u)
	}
	shift := l - histSubBits
	return shift*histHalf + int(u>>uint(shift))
}

// histBounds is the inclusive value range of bucket i.
func histBounds(i int) (lo, hi int64) {
	if i < 1<<histSubBits {
		return int64(i), int64(i)
	}
	shift := i/histHalf - 1
	top := uint64(i - shift*histHalf)
	lo64 := top << uint(shift)
	hi64 := (top+1)<<uint(shift) - 1
	if hi64 > math.MaxInt64 {
		hi64 = math.MaxInt64
	}
	return int64(lo64), int64(hi64)
}

// Record adds one duration; negative values count as 0.
func (h *Histogram) Record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[histIndex(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n }

// Merge adds all of o's values to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100): the
// smallest recorded value such that at least p% of the values are less
// than or equal to it, up to the bucket resolution (the bucket's upper
// bound, clamped to the observed minimum and maximum). It is 0 when
// nothing was recorded.
func (h *Histogram) Percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(p / 100 * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			_, hi := histBounds(i)
			return time.Duration(min(max(hi, h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

// LatencySummary is what reports print about a histogram, in microseconds.
type LatencySummary struct {
	Samples uint64  `json:"samples"`
	Min     float64 `json:"min_us"`
	Mean    float64 `json:"mean_us"`
	P50     float64 `json:"p50_us"`
	P90     float64 `json:"p90_us"`
	P99     float64 `json:"p99_us"`
	P999    float64 `json:"p999_us"`
	Max     float64 `json:"max_us"`
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// Summary computes the latency summary.
func (h *Histogram) Summary() LatencySummary {
	if h.n == 0 {
		return LatencySummary{}
	}
	return LatencySummary{
		Samples: h.n,
		Min:     micros(time.Duration(h.min)),
		Mean:    h.sum / float64(h.n) / float64(time.Microsecond),
		P50:     micros(h.Percentile(50)),
		P90:     micros(h.Percentile(90)),
		P99:     micros(h.Percentile(99)),
		P999:    micros(h.Percentile(99.9)),
		Max:     micros(time.Duration(h.max)),
	}
}
