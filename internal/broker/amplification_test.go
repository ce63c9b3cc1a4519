package broker

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Issue 12 item 2: no packet may make the broker keep much more memory
// than the packet's own size. Each case sends packets that the broker
// keeps something of (subscriptions, retained messages), measures the
// live heap they leave behind (after GC, the clients still connected, so
// nothing is freed by a disconnect) and divides by the bytes sent.
//
// Deep topics must cost about their size: a trie with a node and a map
// per level cost over 150 times it (113 MB for 320 KB of filters in the
// issue). Short ones cost the fixed price of a subscription or a retained
// message (its structures in the session, the trie or tree and their
// maps), about a hundred bytes, for packets of a few bytes per filter:
// that ratio has a generous bound, it is what any broker pays per
// subscription (mosquitto as well).

// amplification sends the packets made by next (i = 0, 1, ...) until
// about total bytes have gone out, and returns the live heap growth per
// byte sent.
func amplification(t *testing.T, opts Options, v mqtt.Version, total int, next func(i int) mqtt.Packet) float64 {
	t.Helper()
	_, addr := newTestBroker(t, opts)
	c := connectClient(t, addr, v, "amp")
	before := liveHeap()
	sent := 0
	for i := 0; sent < total; i++ {
		p := next(i)
		n := mqtt.Size(p, v)
		c.send(p)
		switch p := p.(type) {
		case *mqtt.Subscribe:
			expect[*mqtt.Suback](c)
		case *mqtt.Publish:
			c.expectAck(mqtt.PUBACK, p.PacketID)
		}
		sent += n
	}
	grown := liveHeap() - before
	return float64(grown) / float64(sent)
}

func TestAmplification(t *testing.T) {
	deep := func(prefix string, i int) string {
		return fmt.Sprintf("%s/%d/", prefix, i) + strings.Repeat("a/", 196) + "z" // 200 separators
	}
	manyFilters := func(n int, filter func(k int) string) func(i int) mqtt.Packet {
		return func(i int) mqtt.Packet {
			p := &mqtt.Subscribe{PacketID: uint16(i%60000 + 1)}
			for k := 0; k < n; k++ {
				p.Subscriptions = append(p.Subscriptions, mqtt.Subscription{Filter: filter(i*n + k), QoS: 1})
			}
			return p
		}
	}
	retained := func(topic func(i int) string, payload string) func(i int) mqtt.Packet {
		return func(i int) mqtt.Packet {
			return &mqtt.Publish{Topic: topic(i), Payload: []byte(payload), QoS: 1, Retain: true, PacketID: uint16(i%60000 + 1)}
		}
	}
	for _, tc := range []struct {
		name  string
		opts  Options
		next  func(i int) mqtt.Packet
		total int
		max   float64
	}{
		// The cases: deep filters and deep retained topics.
		{"deep filters", Options{}, manyFilters(20, func(k int) string { return deep("d", k) }), 2 << 20, 6},
		{"deep retained topics", Options{}, retained(func(i int) string { return deep("r", i) }, "x"), 2 << 20, 6},
		// Without the hierarchy limit: the 65535-level filters.
		{"65535-level filters, no limit", Options{TopicHierarchyLimit: -1},
			manyFilters(1, func(k int) string { return fmt.Sprintf("%d", k) + strings.Repeat("/", 65530) }), 1 << 20, 6},
		// The fixed price of short ones.
		{"short filters", Options{}, manyFilters(500, func(k int) string { return fmt.Sprintf("s/%d", k) }), 1 << 20, 128},
		{"short retained topics", Options{}, retained(func(i int) string { return fmt.Sprintf("t/%d", i) }, "x"), 256 << 10, 128},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range []mqtt.Version{mqtt.V311, mqtt.V5} {
				got := amplification(t, tc.opts, v, tc.total, tc.next)
				t.Logf("v%d: %.1f bytes kept per byte received", v, got)
				if got > tc.max {
					t.Errorf("v%d: the broker keeps %.1f bytes per byte received, more than %.0f", v, got, tc.max)
				}
			}
		})
	}
}
