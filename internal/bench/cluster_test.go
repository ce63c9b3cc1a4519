package bench

import (
	"strconv"
	"strings"
	"testing"

	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// TestAddrFor: connections rotate over the addresses; publisher i sits
// one node after subscriber i.
func TestAddrFor(t *testing.T) {
	c := Config{Addr: "a:1,b:2,c:3"}
	var subs, pubs []string
	for i := range 4 {
		subs = append(subs, c.addrFor(i, 0))
		pubs = append(pubs, c.addrFor(i, 1))
	}
	if got := strings.Join(subs, " "); got != "a:1 b:2 c:3 a:1" {
		t.Errorf("subscribers on %s", got)
	}
	if got := strings.Join(pubs, " "); got != "b:2 c:3 a:1 b:2" {
		t.Errorf("publishers on %s", got)
	}
}

// TestEndToEndSpread: with two addresses (two listeners of one mosquitto)
// a p2p run spreads its connections over both and loses nothing.
func TestEndToEndSpread(t *testing.T) {
	m := clienttest.StartMosquitto(t, "listener {port} 127.0.0.1\nlistener {port2} 127.0.0.1\nallow_anonymous true\n")
	c := smallConfig(P2P, m.Addr()+","+m.Addr2())
	c.Version, c.QoS, c.Inflight = mqtt.V311, 1, 20
	c.Pubs, c.Subs, c.Count = 4, 4, 400
	r, err := Run(runCtx(t), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	requireClean(t, r)
	for _, port := range []int{m.Port, m.Port2} {
		if n := strings.Count(m.Log(), "on port "+strconv.Itoa(port)+"."); n < 4 {
			t.Errorf("%d connections on port %d, want 4 (half of 8)", n, port)
		}
	}
}
