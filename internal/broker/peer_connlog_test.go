package broker_test

import (
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The connection log lines that carry the client's address are
// mosquitto's, byte for byte (timestamps aside): scripts grep them. The
// address comes from accept (the bare socket's address, kept in the
// connection's ClientInfo since issue 17's cuts): a client that closes
// abruptly, one that disconnects, and a 5.0 client with a user name.
func TestPeerConnectionLog(t *testing.T) {
	eachServer(t, anonConf, func(t *testing.T, s *server) {
		type step struct {
			id      string
			connect []byte
			end     func(w *wire)
			want    []string // {c}: the client's port, {p}: the broker's
		}
		// 5.0, clean start, user name flag (0x80) [MQTT-3.1.2-17], keep alive 30.
		v5user := pkt(tCONNECT, str("MQTT"), []byte{5, 0x82}, u16(30), props(), str("log-v5"), str("alice"))
		for _, st := range []step{
			{"log-polite", connectV311("log-polite", true, 60), func(w *wire) { w.send([]byte{tDISCONNECT, 0}) }, []string{
				"New connection from 127.0.0.1:{c} on port {p}.",
				"New client connected from 127.0.0.1:{c} as log-polite (p2, c1, k60).",
				"Client log-polite disconnected.",
			}},
			{"log-abrupt", connectV311("log-abrupt", true, 60), func(w *wire) { w.nc.Close() }, []string{
				"New connection from 127.0.0.1:{c} on port {p}.",
				"New client connected from 127.0.0.1:{c} as log-abrupt (p2, c1, k60).",
				"Client log-abrupt closed its connection.",
			}},
			{"log-v5", v5user, func(w *wire) { w.send([]byte{tDISCONNECT, 0}) }, []string{
				"New connection from 127.0.0.1:{c} on port {p}.",
				"New client connected from 127.0.0.1:{c} as log-v5 (p5, c1, k30, u'alice').",
				"Client log-v5 disconnected.",
			}},
		} {
			t.Run(st.id, func(t *testing.T) {
				w := dialWire(t, s)
				_, cport, _ := net.SplitHostPort(w.nc.LocalAddr().String())
				w.connect(st.connect, false, 0)
				st.end(w)
				r := strings.NewReplacer("{c}", cport, "{p}", strconv.Itoa(s.port))
				last := r.Replace(st.want[len(st.want)-1])
				deadline := time.Now().Add(peerTimeout)
				for !strings.Contains(s.log(), last) {
					if time.Now().After(deadline) {
						t.Fatalf("no %q in the log:\n%s", last, s.log())
					}
					time.Sleep(10 * time.Millisecond)
				}
				var got []string
				for _, l := range strings.Split(s.log(), "\n") {
					l = logStamp.ReplaceAllString(l, "")
					if strings.Contains(l, "127.0.0.1:"+cport) || strings.HasPrefix(l, "Client "+st.id+" ") {
						got = append(got, l)
					}
				}
				for i, want := range st.want {
					want = r.Replace(want)
					if i >= len(got) || got[i] != want {
						t.Fatalf("log lines of this client:\n%s\nwant:\n%s", strings.Join(got, "\n"), r.Replace(strings.Join(st.want, "\n")))
					}
				}
			})
		}
	})
}

// logStamp is the time stamp both brokers put before a log line.
var logStamp = regexp.MustCompile(`^\d+: `)
