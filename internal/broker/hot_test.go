package broker

import (
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// setHot sets the sweeper period and the cap on hot connections for one
// test; brokers started afterwards use them.
func setHot(t *testing.T, tick time.Duration, max int) {
	oldTick, oldMax := hotTick, maxHot
	hotTick, maxHot = tick, max
	t.Cleanup(func() { hotTick, maxHot = oldTick, oldMax })
}

func hotCount(b *Broker) int {
	b.hot.mu.Lock()
	defer b.hot.mu.Unlock()
	return len(b.hot.conns)
}

// waitCount waits until *n reaches want.
func waitCount(t *testing.T, what string, n interface{ Load() uint64 }, want uint64) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for n.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d, want %d", what, n.Load(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitHot waits until n connections are hot.
func waitHot(t *testing.T, b *Broker, n int) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for hotCount(b) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d hot connections, want %d", hotCount(b), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A connection that sends after CONNECT keeps its worker (hot); the
// sweeper hands it back to its own goroutine once it is quiet, and the
// connection works on as before, hot again when it sends again.
func TestHotReaderDetachesAndWorksOn(t *testing.T) {
	setHot(t, 20*time.Millisecond, 1024)
	b, addr := newTestBroker(t, Options{})
	sub := connectClient(t, addr, mqtt.V311, "sub")
	pub := connectClient(t, addr, mqtt.V311, "pub")
	if n := hotCount(b); n != 0 {
		t.Fatalf("%d connections hot after CONNECT only, want 0", n)
	}
	sub.send(&mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "hot/t"}}})
	expect[*mqtt.Suback](sub)
	for round := range 3 {
		pub.send(&mqtt.Publish{Topic: "hot/t", Payload: []byte{byte(round)}})
		if p := expect[*mqtt.Publish](sub); p.Payload[0] != byte(round) {
			t.Fatalf("round %d: got payload %v", round, p.Payload)
		}
		// Both have sent since CONNECT: hot. Then quiet: both are
		// detached, with their deadlines restored (a deadline left in the
		// past would close them right away).
		waitCount(t, "made hot", &b.hot.entered, uint64(2*round+2))
		waitCount(t, "detached", &b.hot.detached, uint64(2*round+2))
		sub.roundTrip()
		pub.roundTrip()
	}
}

// The keep alive is enforced whether the connection is hot (its worker
// waits with the keep alive deadline) or was detached by the sweeper (the
// deadline it cut short is restored), and never before 1.5 times the
// keep alive [MQTT-3.1.2-24].
func TestHotReaderKeepAlive(t *testing.T) {
	for _, tc := range []struct {
		name string
		tick time.Duration
	}{
		{"stays hot", time.Hour},
		{"detached", 20 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setHot(t, tc.tick, 1024)
			b, addr := newTestBroker(t, Options{})
			c := dial(t, addr, mqtt.V311)
			p := connectPacket(mqtt.V311, "ka", true)
			p.KeepAlive = 1
			c.connect(p)
			c.roundTrip() // sent after CONNECT: hot
			start := time.Now()
			waitCount(t, "made hot", &b.hot.entered, 1)
			if tc.tick < time.Second {
				waitCount(t, "detached", &b.hot.detached, 1)
			}
			c.expectClosed()
			if d := time.Since(start); d < 1400*time.Millisecond {
				t.Fatalf("closed %v after the last packet, before 1.5 x keep alive", d)
			}
		})
	}
}

// At most maxHot connections are hot; the others work as usual.
func TestHotReaderCap(t *testing.T) {
	setHot(t, time.Hour, 2)
	b, addr := newTestBroker(t, Options{})
	var cs []*tclient
	for i := range 4 {
		c := connectClient(t, addr, mqtt.V311, "c"+string(rune('0'+i)))
		c.roundTrip()
		cs = append(cs, c)
	}
	waitHot(t, b, 2)
	for _, c := range cs {
		c.roundTrip()
	}
	if n := hotCount(b); n != 2 {
		t.Fatalf("%d hot connections, want the cap of 2", n)
	}
}
