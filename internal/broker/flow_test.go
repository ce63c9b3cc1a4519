package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// A publisher pipelining thousands of messages far faster than the
// subscriber's inflight window drains them: every message arrives, exactly
// once at QoS 0 and 2, at least once at QoS 1, in order. The small queue
// and window make the subscriber's queue overflow at once: before flow
// control the overflow was dropped although it had been acknowledged.
func TestPipelinedPublishLossless(t *testing.T) {
	const n, window = 3000, 500
	for _, v := range versions {
		for _, qos := range []mqtt.QoS{0, 1, 2} {
			t.Run(fmt.Sprintf("%s/qos%d", v.name, qos), func(t *testing.T) {
				b, addr := newTestBroker(t, Options{MaxQueued: 50, MaxInflight: 5})
				topic := fmt.Sprintf("pipe/%s/%d", v.name, qos)
				sc := connectClient(t, addr, v.v, "pipe-sub")
				sc.subscribe(topic, qos)
				sub := newFastClient(sc)
				var got []int
				subDone := errAfter(func() (err error) {
					got, err = sub.consume(n)
					return err
				})
				pub := newFastClient(connectClient(t, addr, v.v, "pipe-pub"))
				waitErr(t, "publisher", errAfter(func() error { return pub.publishPipelined(topic, qos, n, window, 64) }))
				waitErr(t, "subscriber", subDone)
				checkSequence(t, got, n, qos)
				if d := b.Stats().PublishDropped; d != 0 {
					t.Errorf("%d messages dropped", d)
				}
			})
		}
	}
}

// A subscriber that stops reading holds its publishers back for
// StallTimeout only: then it is a slow consumer, the other subscribers
// get every message, and the slow one's memory stays bounded (QoS 0
// dropped beyond MaxQueued, QoS 1 closed beyond MaxOutboundBytes) or, with
// no byte cap, it keeps every QoS 1 message.
func TestSlowConsumerDoesNotBlockOthers(t *testing.T) {
	const n, maxQueued, size = 300, 20, 1024
	tests := []struct {
		name     string
		qos      mqtt.QoS
		outBytes int64
	}{
		{"qos0", 0, 32 << 10},
		{"qos1 closed at the byte cap", 1, 32 << 10},
		{"qos1 without byte cap keeps all", 1, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := newLogCapture()
			// A window of 10 keeps the fast subscriber's unsent bytes
			// (at most the window, or MaxQueued QoS 0) below the cap.
			b, addr := newTestBroker(t, Options{MaxQueued: maxQueued, MaxInflight: 10, MaxOutboundBytes: tc.outBytes,
				StallTimeout: 100 * time.Millisecond, ConnectionMessages: true, Logger: logs.logger()})
			pipeClient(t, b, "slow", "slow/t", tc.qos) // never reads again
			fc := connectClient(t, addr, mqtt.V311, "fast")
			fc.subscribe("slow/t", tc.qos)
			fast := newFastClient(fc)
			var got []int
			fastDone := errAfter(func() (err error) {
				got, err = fast.consume(n)
				return err
			})
			pub := newFastClient(connectClient(t, addr, mqtt.V311, "slow-pub"))
			waitErr(t, "publisher", errAfter(func() error { return pub.publishPipelined("slow/t", tc.qos, n, 100, size) }))
			waitErr(t, "fast subscriber", fastDone)
			checkSequence(t, got, n, tc.qos)
			if k := logs.count("Slow consumer: publishers no longer wait"); k != 1 {
				t.Errorf("slow consumer marked %d times, want once", k)
			}
			st := b.Stats()
			switch {
			case tc.qos == 0:
				s := sessionOf(t, b, "slow")
				s.mu.Lock()
				c := s.conn
				s.mu.Unlock()
				c.qmu.Lock()
				queued := 0
				if c.oq != nil {
					queued = c.oq.pubs
				}
				c.qmu.Unlock()
				// The blocked writer holds one batch (at most MaxQueued
				// and one over); at most MaxQueued+1 wait behind it.
				if queued > maxQueued+1 {
					t.Errorf("%d QoS 0 messages queued for the slow consumer, limit %d", queued, maxQueued)
				}
				if min := int64(n - 2*(maxQueued+1)); st.PublishDropped < min {
					t.Errorf("dropped %d, want at least %d", st.PublishDropped, min)
				}
			case tc.outBytes > 0:
				logs.wait(t, "Client slow disconnected: slow consumer.")
			default:
				if k := sessionOf(t, b, "slow").queuedCount(); k != n || st.PublishDropped != 0 {
					t.Errorf("slow consumer holds %d of %d, %d dropped", k, n, st.PublishDropped)
				}
			}
		})
	}
}

// Clients that publish to each other (or to themselves) without reading
// until they have written everything: each broker reader would wait for
// the other's queue to drain, and that queue drains only once the other
// reader reads on. The stall timeout is longer than the test: only the
// rule that a reader never waits for a waiting reader (or for itself)
// resolves it. At QoS 1 nothing is lost; at QoS 0 every message is
// delivered or counted as dropped.
func TestCircularPublishResolves(t *testing.T) {
	const n = 400
	tests := []struct {
		name string
		qos  mqtt.QoS
		ids  []string // each publishes to "circ/<id>" and subscribes to the next one's topic
	}{
		{"two clients qos0", 0, []string{"a", "b"}},
		{"two clients qos1", 1, []string{"a", "b"}},
		{"three clients qos1", 1, []string{"a", "b", "c"}},
		{"self qos0", 0, []string{"a"}},
		{"self qos1", 1, []string{"a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := newTestBroker(t, Options{MaxQueued: 10, StallTimeout: time.Minute})
			var clients []*fastClient
			for i, id := range tc.ids {
				from := tc.ids[(i+1)%len(tc.ids)]
				clients = append(clients, newFastClient(pipeClient(t, b, id, "circ/"+from, tc.qos)))
			}
			type result struct {
				got []int
				err error
			}
			results := make([]chan result, len(clients))
			published := make([]chan struct{}, len(clients))
			for i, c := range clients {
				results[i] = make(chan result, 1)
				published[i] = make(chan struct{})
				go func() {
					got, err := c.blast("circ/"+tc.ids[i], tc.qos, n, published[i])
					results[i] <- result{got, err}
				}()
			}
			for i := range clients {
				select {
				case <-published[i]:
				case <-time.After(flowDeadline):
					t.Fatalf("%s could not publish: deadlock", tc.ids[i])
				}
			}
			if tc.qos == 0 {
				// Everything is routed; a PINGRESP now comes after every
				// QoS 0 message queued for the client.
				for _, c := range clients {
					if err := c.write(&mqtt.Pingreq{}, true); err != nil {
						t.Fatal(err)
					}
				}
			}
			delivered := 0
			for i := range clients {
				r := <-results[i]
				if r.err != nil {
					t.Fatalf("%s: %v", tc.ids[i], r.err)
				}
				delivered += len(r.got)
				if tc.qos == 1 {
					checkSequence(t, r.got, n, 1)
				} else {
					checkInOrder(t, r.got)
				}
			}
			dropped := b.Stats().PublishDropped
			if tc.qos == 1 && dropped != 0 {
				t.Errorf("%d QoS 1 messages dropped", dropped)
			}
			if want := n * len(clients); delivered+int(dropped) != want {
				t.Errorf("%d delivered + %d dropped, want %d", delivered, dropped, want)
			}
		})
	}
}

// blast writes n publishes without reading, then reads: it acknowledges
// deliveries and counts its PUBACKs, closes published once its publishes
// are handled (PINGRESP), and returns the deliveries once it has all n
// PUBACKs and n deliveries (QoS 1) or a second PINGRESP (QoS 0).
func (c *fastClient) blast(topic string, qos mqtt.QoS, n int, published chan<- struct{}) ([]int, error) {
	for i := 0; i < n; i++ {
		p := &mqtt.Publish{Topic: topic, QoS: qos, Payload: payloadFor(i, 64)}
		if qos > 0 {
			p.PacketID = uint16(i + 1)
		}
		if err := c.write(p, false); err != nil {
			return nil, err
		}
	}
	if err := c.write(&mqtt.Pingreq{}, true); err != nil {
		return nil, err
	}
	var got []int
	acks, pings := 0, 0
	for qos == 0 || acks < n || len(got) < n {
		p, err := c.r.ReadPacket()
		if err != nil {
			return got, fmt.Errorf("after %d deliveries, %d acks: %w", len(got), acks, err)
		}
		switch p := p.(type) {
		case *mqtt.Publish:
			i, err := seqOf(p.Payload)
			if err != nil {
				return got, err
			}
			got = append(got, i)
			if p.QoS == 1 {
				if err := c.write(&mqtt.Ack{Kind: mqtt.PUBACK, PacketID: p.PacketID}, false); err != nil {
					return got, err
				}
			}
		case *mqtt.Ack:
			if p.Kind != mqtt.PUBACK {
				return got, fmt.Errorf("unexpected %s", mqtt.Describe(p))
			}
			acks++
		case *mqtt.Pingresp:
			pings++
			if pings == 1 {
				close(published)
			} else {
				return got, nil
			}
		default:
			return got, fmt.Errorf("unexpected %s", mqtt.Describe(p))
		}
		if c.r.Buffered() == 0 {
			if err := c.flush(); err != nil {
				return got, err
			}
		}
	}
	return got, nil
}

// checkInOrder checks that sequence numbers only increase (QoS 0 may
// drop, never duplicate or reorder).
func checkInOrder(t *testing.T, got []int) {
	t.Helper()
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("message %d after %d", got[i], got[i-1])
		}
	}
}

// Offline durable sessions keep mosquitto's max_queued_messages policy
// (TestOfflineQueueLimit); a connected one holding more than MaxQueued
// when it goes away keeps them all.
func TestQueueKeptWhenClientLeaves(t *testing.T) {
	logs := newLogCapture()
	b, addr := newTestBroker(t, Options{MaxQueued: 5, MaxInflight: 2, StallTimeout: 50 * time.Millisecond,
		ConnectionMessages: true, Logger: logs.logger()})
	c, _ := mustConnect(t, addr, durableConnect(mqtt.V311, "keep", 0))
	c.subscribe("keep/t", 1)
	// Read nothing: the window fills, the queue passes MaxQueued (the
	// publisher waits StallTimeout once, then the client is slow).
	pub := connectClient(t, addr, mqtt.V311, "keep-pub")
	const n = 30
	for i := 0; i < n; i++ {
		pub.publish("keep/t", fmt.Sprint(i), 1, false)
	}
	c.nc.Close()
	logs.waitLine(t, "Client keep closed its connection.") // logged once detached
	pub.publish("keep/t", "offline", 1, false)             // beyond MaxQueued while offline: dropped
	c, _ = mustConnect(t, addr, durableConnect(mqtt.V311, "keep", 0))
	for i := 0; i < n; i++ {
		p := expect[*mqtt.Publish](c)
		if want := fmt.Sprint(i); string(p.Payload) != want {
			t.Fatalf("got %q, want %q", p.Payload, want)
		}
		c.ackPublish(p)
	}
	c.expectNothing()
	if d := b.Stats().PublishDropped; d != 1 {
		t.Errorf("dropped %d, want 1", d)
	}
}

// Retained messages sent on SUBSCRIBE are all delivered, also beyond
// MaxQueued at QoS 0: the client asked for them.
func TestRetainedBeyondMaxQueued(t *testing.T) {
	b, addr := newTestBroker(t, Options{MaxQueued: 10})
	pub := connectClient(t, addr, mqtt.V311, "ret-pub")
	const n = 50
	for i := 0; i < n; i++ {
		pub.publish(fmt.Sprintf("ret/%02d", i), "r", 0, true)
	}
	c := pipeClient(t, b, "ret-sub", "", 0) // the broker writes only when the client reads
	c.send(&mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "ret/+"}}})
	expect[*mqtt.Suback](c)
	seen := map[string]bool{}
	for len(seen) < n {
		p := expect[*mqtt.Publish](c)
		seen[p.Topic] = true
	}
	if d := b.Stats().PublishDropped; d != 0 {
		t.Errorf("%d retained messages dropped", d)
	}
}

// Issue 12 item 6: one slow subscriber must not slow every publisher
// again and again. A subscriber that stalled a publisher for StallTimeout
// once is on probation: the next time its backlog fills it is treated as
// slow at once (QoS 0 beyond the soft limit dropped, QoS 1 queued: nothing
// acknowledged is lost), without a second stall; once it has kept up for
// probationFactor x StallTimeout (a fake clock here), publishers wait for
// it again. Round 1 stalls, round 2 must not (the subscriber read
// everything in between, so its backlog fills again from empty), round 3
// (after the probation) stalls again.
func TestSlowConsumerProbation(t *testing.T) {
	const maxQueued = 10
	const stall = time.Second
	const marked = "Slow consumer: publishers no longer wait"
	for _, qos := range []mqtt.QoS{0, 1} {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
			// QoS 0: the subscriber's write job takes what is queued when it
			// starts (then blocks on the pipe), so a burst must be much
			// longer than the soft limit for the rest to fill the queue
			// whatever the timing (30 was flaky: 1 run in 20 with -race).
			n := 30
			if qos == 0 {
				n = 300
			}
			logs := newLogCapture()
			clock := &fakeClock{}
			clock.ns.Store(time.Now().UnixNano())
			b, err := New(Options{Listeners: []ListenerConfig{{Name: "tcp", Addr: "127.0.0.1:0"}},
				MaxQueued: maxQueued, MaxInflight: 2, StallTimeout: stall, Logger: logs.logger()})
			if err != nil {
				t.Fatal(err)
			}
			b.now = clock.now // before Start: no goroutine reads it yet
			if err := b.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Shutdown(context.Background()) })
			sub := pipeClient(t, b, "probation", "prob/t", qos) // the broker writes only when it reads
			pub := connectClient(t, b.Addr("tcp").String(), mqtt.V311, "prob-pub")
			// burst publishes n messages without reading and returns how
			// long the broker took to handle them all (PINGRESP).
			burst := func(round int) time.Duration {
				start := time.Now()
				for i := 0; i < n; i++ {
					p := &mqtt.Publish{Topic: "prob/t", QoS: qos, Payload: []byte(fmt.Sprint(round*1000 + i))}
					if qos > 0 {
						p.PacketID = uint16(i + 1)
					}
					pub.send(p)
				}
				pub.roundTrip()
				pub.pending = nil // PUBACKs
				return time.Since(start)
			}
			// drain reads what was queued for the subscriber: at QoS 1
			// every message of the round, in order.
			drain := func(round int) {
				if qos == 0 {
					sub.sync()
					return
				}
				for i := 0; i < n; i++ {
					p := expect[*mqtt.Publish](sub)
					if want := fmt.Sprint(round*1000 + i); string(p.Payload) != want {
						t.Fatalf("round %d: got %q, want %q", round, p.Payload, want)
					}
					sub.ackPublish(p)
				}
				sub.expectNothing()
			}

			took := burst(1)
			if k := logs.count(marked); k != 1 {
				t.Fatalf("round 1 (%v): marked slow %d times, want once", took, k)
			}
			drain(1)
			dropped := b.Stats().PublishDropped

			took = burst(2)
			t.Logf("round 2, on probation: the publisher's %d messages handled in %v (StallTimeout %v)", n, took, stall)
			if k := logs.count(marked); k != 1 {
				t.Errorf("round 2: the publisher waited StallTimeout again (marked slow %d times)", k)
			}
			if took >= stall {
				t.Errorf("round 2: the publisher was held %v, StallTimeout %v", took, stall)
			}
			if d := b.Stats().PublishDropped - dropped; qos == 0 && d == 0 {
				t.Errorf("round 2: no QoS 0 message dropped beyond the soft limit: the subscriber was not treated as slow")
			} else if qos > 0 && d != 0 {
				t.Errorf("round 2: %d QoS 1 messages dropped", d)
			}
			drain(2)
			if logs.has("kept up") {
				t.Fatal("probation ended early")
			}

			// It kept up (nothing queued) for the whole probation.
			clock.advance(probationFactor * stall)
			took = burst(3)
			if !logs.has("Slow consumer kept up: publishers wait for it again") {
				t.Error("probation did not end")
			}
			if k := logs.count(marked); k != 2 {
				t.Errorf("round 3 (%v), after the probation: marked slow %d times in all, want 2", took, k)
			}
			drain(3)
		})
	}
}

// Stalls shorter than StallTimeout add up (issue 12 item 6): a subscriber
// that pauses 600 ms each time never makes a wait time out (StallTimeout
// 1 s), but once its stalls total StallTimeout it is on probation as if
// one had: the third time its queue fills, the publisher does not wait.
// QoS 1 with an inflight window of 1 makes the burst's last message the
// one that fills the queue (11 = 1 in flight + MaxQueued 10 pending), and
// nothing is lost.
func TestSlowConsumerShortStallsAddUp(t *testing.T) {
	const n, stall, pause = 11, time.Second, 600 * time.Millisecond
	const marked = "Slow consumer: publishers no longer wait"
	logs := newLogCapture()
	b, addr := newTestBroker(t, Options{MaxQueued: 10, MaxInflight: 1, StallTimeout: stall, Logger: logs.logger()})
	sub := pipeClient(t, b, "pauser", "pause/t", 1) // the broker writes only when it reads
	pub := connectClient(t, addr, mqtt.V311, "pause-pub")
	burst := func(round int) time.Time {
		for i := 0; i < n; i++ {
			pub.send(&mqtt.Publish{Topic: "pause/t", QoS: 1, PacketID: uint16(i + 1), Payload: []byte(fmt.Sprint(round*100 + i))})
		}
		pub.send(&mqtt.Pingreq{})
		return time.Now()
	}
	pong := func() {
		for {
			if _, ok := pub.recv().(*mqtt.Pingresp); ok {
				return
			}
		}
	}
	drain := func(round int) {
		for i := 0; i < n; i++ {
			p := expect[*mqtt.Publish](sub)
			if want := fmt.Sprint(round*100 + i); string(p.Payload) != want {
				t.Fatalf("round %d: got %q, want %q", round, p.Payload, want)
			}
			sub.ackPublish(p)
		}
	}
	for round := 1; round <= 2; round++ {
		start := burst(round)
		time.Sleep(pause) // the subscriber's pause (the behaviour under test, not a synchronisation)
		drain(round)
		pong()
		t.Logf("round %d: the publisher was held %v", round, time.Since(start))
		if k, want := logs.count(marked), round-1; k != want {
			t.Fatalf("round %d: marked slow %d times, want %d", round, k, want)
		}
	}
	// On probation: the publisher does not wait although nobody reads.
	start := burst(3)
	pong()
	took := time.Since(start)
	t.Logf("round 3, on probation: the publisher was held %v", took)
	if k := logs.count(marked); k != 1 || took >= stall {
		t.Errorf("round 3: marked slow %d times in all (want 1), the publisher held %v (StallTimeout %v)", k, took, stall)
	}
	drain(3)
	if d := b.Stats().PublishDropped; d != 0 {
		t.Errorf("%d QoS 1 messages dropped", d)
	}
}
