package broker

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// A publisher that flow control held for StallTimeout (its subscriber
// does not read) must stay connected: it did nothing wrong. Found with
// mqbench slow (PERFORMANCE.md, issue 12 item 6): mqbroker closed such a
// publisher as "has exceeded timeout" although it connected with keep
// alive 0. The cause was the hot-reader path (since replaced by the event
// loop): the sweeper detached a connection whose read job had been
// waiting in flow.wait longer than a second (read deadline in the past),
// and the read that completed a partly buffered packet then failed with
// that timeout, which classify reported as a keep-alive timeout. On the
// event loop a held publisher is paused with its input kept (loop.go);
// on the goroutine path nobody cuts its read deadline short. Both run.
func TestStalledPublisherStaysConnected(t *testing.T) {
	eachReadPath(t, func(t *testing.T, noLoop bool) {
		logs := newLogCapture()
		_, addr := newTestBroker(t, Options{MaxQueued: 50, StallTimeout: 500 * time.Millisecond,
			ConnectionMessages: true, Logger: logs.logger(), noEventLoop: noLoop})
		sub := connectClient(t, addr, mqtt.V311, "stall-sub") // never reads
		// A small receive window: the broker's queue fills after
		// kilobytes, not the megabytes the kernel's buffers would
		// take first (CI, under the race detector on a busy machine,
		// saw 5 s pass before the subscriber was marked slow).
		if tc, ok := sub.nc.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4096)
		}
		sub.subscribe("stall/t", 0)
		cp := connectPacket(mqtt.V311, "stall-pub", true)
		cp.KeepAlive = 0
		pub, _ := mustConnect(t, addr, cp)
		// Publish flat out (a partly written packet is always in the
		// broker's buffer) until the subscriber is marked slow.
		stop := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			w := bufio.NewWriter(pub.nc)
			raw, _ := mqtt.Append(nil, &mqtt.Publish{Topic: "stall/t", Payload: make([]byte, 61)}, mqtt.V311)
			for {
				select {
				case <-stop:
					done <- w.Flush()
					return
				default:
				}
				// No write may block for testTimeout (the broker
				// stopped reading); the whole flood may take longer
				// on a loaded machine under the race detector (CI
				// saw 5 s pass with the flood still going).
				_ = pub.nc.SetWriteDeadline(time.Now().Add(testTimeout))
				if _, err := w.Write(raw); err != nil {
					done <- err
					return
				}
			}
		}()
		// The flood's length depends on the machine's load: a
		// deadline of its own (the per-write deadline above still
		// fails a broker that stopped reading).
		logs.waitWithin(t, "Slow consumer: publishers no longer wait", 4*testTimeout)
		close(stop)
		if err := <-done; err != nil {
			t.Fatalf("publisher: %v", err)
		}
		pub.roundTrip() // still served
		if logs.has("stall-pub has exceeded timeout") {
			t.Error("the publisher was closed as a keep-alive timeout")
		}
	})
}
