package broker_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
	"github.com/mqkit/mqkit/internal/selftest"
)

// causalTries is the number of tries per combination (version, QoS,
// mode); MQKIT_CAUSAL_TRIES overrides it (e.g. 5000 for a long run:
// MQKIT_CAUSAL_TRIES=5000 go test -v -run TestCausalOrder ./internal/broker/).
func causalTries(def int) int {
	if n, err := strconv.Atoi(os.Getenv("MQKIT_CAUSAL_TRIES")); err == nil && n > 0 {
		return n
	}
	return def
}

// TestCausalOrder (issue 11 item 1): client B writes SUBSCRIBE t, then,
// once that write has returned, client A writes PUBLISH t; B must get the
// message (see selftest.CausalOrder), for 3.1.1 and 5.0, QoS 0/1/2, with
// B freshly connected, B busy acknowledging a message when it subscribes
// (hot), and with two more pairs flooding the broker (busy).
//
// mosquitto keeps this order for fresh connections because it handles
// ready sockets in one loop in readiness order; mqbroker does more
// (internal/broker/doc.go, "Order"). mosquitto 2.0.11 loses messages in
// the hot mode (B acknowledges a message right before its SUBSCRIBE) and
// under load (busy): its loop handles one packet per socket per pass, so
// B's earlier packet is handled in one pass, A's PUBLISH and B's
// SUBSCRIBE in the next, A first when A's socket comes first. That is a
// mosquitto limitation (no specification clause requires this order; the
// conformance issue does, from what users' test suites assume), so for
// mosquitto those modes are run a few times and logged, not failed.
//
// It runs in parallel with the other long causal test, and its two
// servers' runs at the same time (test time, issue 14).
func TestCausalOrder(t *testing.T) {
	t.Parallel()
	eachServerParallel(t, anonConf, func(t *testing.T, s *server) {
		for _, v := range []mqtt.Version{mqtt.V311, mqtt.V5} {
			for _, qos := range []mqtt.QoS{0, 1, 2} {
				for _, mode := range []selftest.CausalMode{selftest.CausalFresh, selftest.CausalHot, selftest.CausalBusy} {
					// 500 tries per combination, 9000 in all, for mqbroker (a
					// try takes well under a millisecond unless it loses its
					// message, which costs LateGrace); mosquitto, the
					// reference, answers slower and loses in the hot and busy
					// modes: fewer tries there.
					tries := causalTries(500)
					if s.isMosquitto() {
						tries = causalTries(20)
						if mode != selftest.CausalFresh {
							tries = min(tries, 5)
						}
					}
					name := fmt.Sprintf("%s/qos%d/%s", v, qos, mode)
					t.Run(name, func(t *testing.T) {
						runCausal(t, s, selftest.CausalConfig{
							Endpoint: client.Endpoint{Host: "127.0.0.1", Port: s.port},
							Version:  v, QoS: qos, Mode: mode, Tries: tries, Topic: "causal/" + name,
						})
					})
				}
			}
		}
	})
}

// TestCausalOrderTransports is TestCausalOrder at QoS 1 over TLS
// (mqtts), WebSocket (ws) and secure WebSocket (wss): a TLS connection
// joins the event loop after its handshake (loop_tls.go), a WebSocket
// after its upgrade (loop_ws.go).
func TestCausalOrderTransports(t *testing.T) {
	t.Parallel()
	files := clienttest.NewTLSFiles(t)
	pem, err := os.ReadFile(files.CACert)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	tlsConf := "certfile " + files.ServerCert + "\nkeyfile " + files.ServerKey + "\n"
	for _, tr := range []struct{ scheme, conf string }{
		{"mqtts", tlsConf},
		{"ws", "protocol websockets\n"},
		{"wss", "protocol websockets\n" + tlsConf},
	} {
		t.Run(tr.scheme, func(t *testing.T) {
			// mosquitto 2.0.11 starts a websockets listener only after a
			// plain one ("Unable to start any listening sockets" otherwise).
			conf := "listener {freeport} 127.0.0.1\nlistener {port} 127.0.0.1\n" +
				tr.conf + "allow_anonymous true\nsys_interval 0\n"
			eachServerParallel(t, conf, func(t *testing.T, s *server) {
				for _, v := range []mqtt.Version{mqtt.V311, mqtt.V5} {
					for _, mode := range []selftest.CausalMode{selftest.CausalFresh, selftest.CausalHot, selftest.CausalBusy} {
						tries := causalTries(100)
						if s.isMosquitto() {
							if mode != selftest.CausalFresh {
								continue // see TestCausalOrder
							}
							tries = causalTries(20)
						}
						name := fmt.Sprintf("%s/%s", v, mode)
						t.Run(name, func(t *testing.T) {
							ep := client.Endpoint{Scheme: tr.scheme, Host: "127.0.0.1", Port: s.port, Path: "/mqtt"}
							if tr.scheme != "ws" {
								ep.TLS = &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
							}
							runCausal(t, s, selftest.CausalConfig{Endpoint: ep, Version: v, QoS: 1, Mode: mode,
								Tries: tries, Topic: "causal-" + tr.scheme + "/" + name})
						})
					}
				}
			})
		})
	}
}

// runCausal runs the probe against s and fails on a lost message, except
// for mosquitto's documented losses outside the fresh mode (see
// TestCausalOrder). mqbroker's run stops at its first loss.
func runCausal(t *testing.T, s *server, cfg selftest.CausalConfig) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg.Timeout = peerTimeout
	cfg.StopAtLoss = !s.isMosquitto()
	res, err := selftest.CausalOrder(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s", s.name, res)
	if res.Lost == 0 {
		return
	}
	if s.isMosquitto() && cfg.Mode != selftest.CausalFresh {
		t.Logf("mosquitto limitation (see TestCausalOrder): %d of %d lost", res.Lost, res.Tries)
		return
	}
	t.Errorf("%s lost %d of %d messages published after the subscriber's SUBSCRIBE was written", s.name, res.Lost, res.Tries)
}
