package web

import (
	"testing"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// TestLatencyEvery: the latency sampling interval is LatencySample until
// more than LatencyPerSecond messages a second go in or out, then as
// many times more as needed to measure about LatencyPerSecond a second.
func TestLatencyEvery(t *testing.T) {
	for _, c := range []struct {
		base, perSec int
		in, out      float64
		want         int
	}{
		{16, 1000, 0, 0, 16},
		{16, 1000, 10_000, 10_000, 16},
		{16, 1000, 16_000, 0, 16},
		{16, 1000, 16_001, 0, 17},
		{16, 1000, 1_000_000, 1_000_000, 1000},
		{16, 1000, 33_000, 3_300_000, 3300}, // fan-out: every delivery is measured
		{1, 1000, 500, 500, 1},
		{1, -1, 1e6, 1e6, 1}, // no cap
	} {
		if got := latencyEvery(c.base, c.perSec, c.in, c.out); got != c.want {
			t.Errorf("latencyEvery(%d, %d, %g, %g) = %d, want %d", c.base, c.perSec, c.in, c.out, got, c.want)
		}
	}
}

// TestLatencySampleAdapts: under load the sampler raises the broker's
// latency sampling interval, and lowers it back to LatencySample when the
// load stops.
func TestLatencySampleAdapts(t *testing.T) {
	e := newEnv(t, broker.Options{}, Options{LatencySample: 4, LatencyPerSecond: 50})
	if got := e.b.LatencyEvery(); got != 4 {
		t.Fatalf("interval at start %d, want 4", got)
	}
	sub, _ := connect(t, e.mqtt, &mqtt.Connect{ClientID: "sub", CleanStart: true})
	sub.subscribe("load", 0)
	pub, _ := connect(t, e.mqtt, &mqtt.Connect{ClientID: "pub", CleanStart: true})
	const n = 3000
	for range n { // about 27 KB: the subscriber's socket buffers hold them
		pub.publish("load", "x", 0, false, 0)
	}
	sub.receiveN(n)
	// 3,000 messages: unless sending them took over 15 s, some 200 ms
	// window saw more than 50 × 4 a second.
	waitFor(t, "a larger sampling interval", func() bool { return e.b.LatencyEvery() > 4 })
	waitFor(t, "the interval back to LatencySample", func() bool { return e.b.LatencyEvery() == 4 })
}
