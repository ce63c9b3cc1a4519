package broker

import (
	"fmt"
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// TestLatencySampleOneIn: EnableLatency(16) stamps about one message in
// 16 for the publish-to-deliver histogram (by address, metricsState.stamp),
// none when off, every one with 1.
func TestLatencySampleOneIn(t *testing.T) {
	count := func(every int) int {
		var m metricsState
		m.every.Store(uint32(every))
		n := 0
		keep := make([]*message, 0, 1600)
		for range 1600 {
			msg := &message{topic: "t"}
			keep = append(keep, msg) // no slot reused while counting
			m.stamp(msg)
			if msg.at != 0 {
				n++
			}
		}
		return n
	}
	if n := count(16); n < 50 || n > 200 {
		t.Errorf("every 16: %d of 1600 stamped, want about 100", n)
	}
	// Messages that live in a larger allocation (loop_linux.go pubAlloc:
	// 240 bytes apart) are sampled at the same rate.
	type withBody struct {
		m   message
		buf [112]byte
	}
	var m metricsState
	m.every.Store(16)
	n := 0
	keep := make([]*withBody, 0, 1600)
	for range 1600 {
		w := &withBody{}
		keep = append(keep, w)
		m.stamp(&w.m)
		if w.m.at != 0 {
			n++
		}
	}
	if n < 50 || n > 200 {
		t.Errorf("every 16, 240-byte slots: %d of 1600 stamped, want about 100", n)
	}
	if n := count(0); n != 0 {
		t.Errorf("off: %d stamped", n)
	}
	if n := count(1); n != 1600 {
		t.Errorf("every 1: %d of 1600 stamped", n)
	}
}

// TestLatencySampledOnTheLoop: messages routed through the event loop
// are sampled one in 16 too, by the loop's count of them: their memory is
// reused (the same few addresses come back: message_ref.go), so sampling
// by address would leave the histogram empty, or full.
func TestLatencySampledOnTheLoop(t *testing.T) {
	b, addr := newTestBroker(t, Options{})
	b.EnableLatency(16)
	sub := connectClient(t, addr, mqtt.V311, "sub")
	sub.subscribe("lat/#", 0)
	pub := connectClient(t, addr, mqtt.V311, "pub")
	const n = 1600
	for i := range n {
		pub.send(&mqtt.Publish{Topic: "lat/t", Payload: []byte(fmt.Sprint(i))})
	}
	for range n {
		expect[*mqtt.Publish](sub)
	}
	_, count, _ := b.Metrics().Deliver[0].Snapshot()
	// The loop numbers the messages it takes from 1 (a fresh broker,
	// nothing else published): exactly these are sampled. By address
	// (the same few come back) the count is anything from none to all.
	var want uint64
	for k := uint64(1); k <= n; k++ {
		if uint32(k*0x9E3779B97F4A7C15>>32)%16 == 0 {
			want++
		}
	}
	if count != want {
		t.Errorf("every 16: %d of %d deliveries measured, want %d (one in 16 by the loop's count)", count, n, want)
	}
}
