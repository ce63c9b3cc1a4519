package bridge

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// TestBridgeBadRemotes: a bridge whose only address refuses connections,
// accepts TCP but never answers, hangs in the TLS handshake, answers
// garbage, or closes right after CONNACK keeps retrying with a bounded
// backoff, logs one line per state change, exposes its state, and never
// holds up the local broker's clients.
func TestBridgeBadRemotes(t *testing.T) {
	const (
		base, cap   = 100 * time.Millisecond, 400 * time.Millisecond
		connTimeout = 300 * time.Millisecond
		attempts    = 4
	)
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) (addr string, open *atomic.Int32)
		tls   bool
	}{
		{"refuses", func(t *testing.T) (string, *atomic.Int32) {
			return "127.0.0.1:" + strconv.Itoa(clienttest.FreePort(t)), nil
		}, false},
		{"hangs in TCP", func(t *testing.T) (string, *atomic.Int32) {
			// Listening but never accepting: the kernel completes the
			// handshake, nothing ever reads the CONNECT.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			return ln.Addr().String(), nil
		}, false},
		{"hangs in TLS", func(t *testing.T) (string, *atomic.Int32) {
			return serveCounting(t, func(c net.Conn) { io.Copy(io.Discard, c) })
		}, true},
		{"garbage", func(t *testing.T) (string, *atomic.Int32) {
			return serveCounting(t, func(c net.Conn) {
				c.Read(make([]byte, 512))
				c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
				io.Copy(io.Discard, c)
			})
		}, false},
		{"closes after CONNACK", func(t *testing.T) (string, *atomic.Int32) {
			return serveCounting(t, func(c net.Conn) {
				c.Read(make([]byte, 512))
				c.Write([]byte{0x20, 0x02, 0x00, 0x00})
			})
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			local := clienttest.StartBroker(t, broker.Options{})
			la := local.Addr("tcp").String()
			addr, open := tc.start(t)
			ep := endpointOf(t, addr)
			if tc.tls {
				ep.Scheme, ep.TLS = "mqtts", &tls.Config{ServerName: "localhost"}
			}
			logs := newLogLines()
			br := startBridge(t, local, Options{
				Name: "bad", Addresses: []client.Endpoint{ep}, Version: mqtt.V311, KeepAlive: 30,
				RestartBase: base, RestartCap: cap, ConnectTimeout: connTimeout,
				Topics: []Topic{{Pattern: "up/#", Out: true, QoS: 1}}, Logger: slog.New(logs),
			})

			// Local clients are served while the bridge struggles: a QoS 1
			// round trip on a bridged topic, well within a second each.
			lsub := subscriber(t, la, "lsub", "up/#", 1)
			lpub := connectTo(t, la, "lpub", nil)
			for i := range 5 {
				start := time.Now()
				publish(t, lpub, "up/x", strconv.Itoa(i), 1, false)
				lsub.expect("up/x", strconv.Itoa(i))
				if d := time.Since(start); d > time.Second {
					t.Errorf("local round trip %d took %s", i, d)
				}
			}

			logs.waitCount(t, "Connecting bridge bad", attempts, 10*time.Second)
			lines, at := logs.snapshot()
			var starts []time.Time
			for i, l := range lines {
				if strings.HasPrefix(l, "Connecting bridge bad") {
					starts = append(starts, at[i])
				}
			}
			for i := 1; i < len(starts); i++ {
				gap := starts[i].Sub(starts[i-1])
				// At least the base delay; at most the cap plus the time
				// the attempt itself may take, plus scheduling slack.
				if gap < base || gap > cap+connTimeout+time.Second {
					t.Errorf("attempt %d came %s after the previous one, want [%s, %s]\n%s", i, gap, base, cap+connTimeout, logs)
				}
			}
			// One line per state change: per attempt, "Connecting", one
			// error, one "next attempt"; nothing else repeats.
			n := len(starts)
			errs, waits := logs.count("Error: bridge bad"), logs.count("next attempt in")
			if errs < n-1 || errs > n || waits < n-1 || waits > n || len(lines) > 3*n+1 {
				t.Errorf("%d attempts, %d error lines, %d backoff lines, %d lines in all:\n%s", n, errs, waits, len(lines), logs)
			}
			s := br.Status()
			if (s.State != Connecting && s.State != Backoff) || s.LastErr == "" || s.Attempts < attempts || s.Address != addr {
				t.Errorf("status %+v", s)
			}
			if open != nil && open.Load() > 1 {
				t.Errorf("%d connections to the bad remote still open: attempts are not cleaned up", open.Load())
			}
		})
	}
}

// serveCounting is clienttest.ServeTCP counting the open connections.
func serveCounting(t *testing.T, handle func(net.Conn)) (string, *atomic.Int32) {
	var open atomic.Int32
	addr := clienttest.ServeTCP(t, func(c net.Conn) {
		open.Add(1)
		defer open.Add(-1)
		handle(c)
	})
	return addr.String(), &open
}

// TestNextDelay: restart_timeout BASE CAP gives delays within [base, cap]
// that vary (jitter); one value gives a constant delay.
func TestNextDelay(t *testing.T) {
	b := &Bridge{opts: Options{RestartBase: time.Second, RestartCap: 30 * time.Second}}
	seen := map[time.Duration]bool{}
	prev := b.opts.RestartBase
	for range 1000 {
		d := b.nextDelay(prev)
		if d < time.Second || d > 30*time.Second {
			t.Fatalf("delay %s outside [1s, 30s]", d)
		}
		seen[d] = true
		prev = d
	}
	if len(seen) < 100 {
		t.Errorf("only %d distinct delays in 1000: no jitter", len(seen))
	}
	b.opts.RestartCap = 0
	if d := b.nextDelay(7 * time.Second); d != time.Second {
		t.Errorf("constant restart_timeout: %s", d)
	}
}
