package broker

import (
	"fmt"
	"sync"
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// TestRetainedCrossingOnceGoroutinePath is
// TestRetainedPublishCrossingSubscribeOnce on the goroutine path, where
// the publisher's and the subscriber's packets are handled by two
// goroutines at once and can cross (on the event loop one goroutine
// handles both, in turn): a retained PUBLISH crossing a SUBSCRIBE that
// matches it reaches the subscriber once, live or as the retained copy
// (QoS 0 is at most once, MQTT section 4.3.1).
func TestRetainedCrossingOnceGoroutinePath(t *testing.T) {
	_, addr := newTestBroker(t, Options{noEventLoop: true})
	sub := connectClient(t, addr, mqtt.V311, "cross-sub")
	pub := connectClient(t, addr, mqtt.V311, "cross-pub")
	const rounds = 3000
	var tally CrossTally
	for i := range rounds {
		topic := fmt.Sprintf("cross/%d", i)
		buf, _ := mqtt.Append(nil, &mqtt.Publish{Topic: topic, Payload: []byte("x"), Retain: true}, mqtt.V311)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the publisher's write races the SUBSCRIBE
			defer wg.Done()
			_, _ = pub.nc.Write(buf)
		}()
		sub.send(&mqtt.Subscribe{PacketID: uint16(i + 1), Subscriptions: []mqtt.Subscription{{Filter: topic, QoS: 1}}})
		wg.Wait()
		pub.roundTrip() // the publish has been handled
		n := 0
		for _, p := range sub.sync() {
			if _, ok := p.(*mqtt.Publish); ok {
				n++
			}
		}
		tally.Add(n)
	}
	tally.Check(t, rounds)
}

// CrossTally counts the rounds of a crossing test by the copies of the
// message that arrived (exported for the broker_test package's
// TestRetainedPublishCrossingSubscribeOnce).
type CrossTally struct{ twice, none int }

// Add counts a round in which n copies arrived.
func (c *CrossTally) Add(n int) {
	switch n {
	case 0:
		c.none++
	case 1:
	default:
		c.twice++
	}
}

// Check fails t unless every round had exactly one copy.
func (c *CrossTally) Check(t testing.TB, rounds int) {
	t.Helper()
	if c.twice > 0 || c.none > 0 {
		t.Errorf("of %d retained publishes crossing a SUBSCRIBE: %d delivered twice, %d not at all; want each once", rounds, c.twice, c.none)
	}
}
