package broker

import (
	"bufio"
	"os"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// A publisher that flow control held for StallTimeout (its subscriber
// does not read) must stay connected: it did nothing wrong. Found with
// mqbench slow (PERFORMANCE.md, issue 12 item 6): mqbroker closed such a
// publisher as "has exceeded timeout" although it connected with keep
// alive 0. The cause is in the hot-reader path (hot.go, the lead's I/O
// core): the sweeper detaches a connection whose read job has been
// waiting in flow.wait longer than hotTick (read deadline in the past),
// and the read that completes a partly buffered packet inside
// handleBuffered then fails with that timeout, which classify reports as
// a keep-alive timeout (with keep alive > 0, armDeadline resets the
// deadline after each packet, which hides it). With hot readers off the
// publisher stays connected (the cold case, always run); the hot case is
// opt-in (MQKIT_HOTSTALL=1) until the I/O core is fixed.
func TestStalledPublisherStaysConnected(t *testing.T) {
	for _, tc := range []struct {
		name   string
		maxHot int
	}{{"cold", 0}, {"hot", 1024}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.maxHot > 0 && os.Getenv("MQKIT_HOTSTALL") == "" {
				t.Skip("hot reader held in flow.wait is closed (hot.go, the lead's I/O core): set MQKIT_HOTSTALL=1 to run it")
			}
			setHot(t, 100*time.Millisecond, tc.maxHot)
			logs := newLogCapture()
			_, addr := newTestBroker(t, Options{MaxQueued: 50, StallTimeout: 500 * time.Millisecond,
				ConnectionMessages: true, Logger: logs.logger()})
			sub := connectClient(t, addr, mqtt.V311, "stall-sub") // never reads
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
				_ = pub.nc.SetWriteDeadline(time.Now().Add(testTimeout))
				for {
					select {
					case <-stop:
						done <- w.Flush()
						return
					default:
					}
					if _, err := w.Write(raw); err != nil {
						done <- err
						return
					}
				}
			}()
			logs.wait(t, "Slow consumer: publishers no longer wait")
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
}
