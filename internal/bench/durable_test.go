package bench

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Durable subscribers connect with clean session 0 (v5: Clean Start 0
// and a Session Expiry Interval); others with a clean session.
func TestDialDurableConnect(t *testing.T) {
	for _, tc := range []struct {
		v       mqtt.Version
		durable bool
	}{{mqtt.V311, false}, {mqtt.V311, true}, {mqtt.V5, false}, {mqtt.V5, true}} {
		t.Run(fmt.Sprintf("%s durable=%v", tc.v, tc.durable), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			got := make(chan *mqtt.Connect, 1)
			go func() {
				nc, err := ln.Accept()
				if err != nil {
					got <- nil
					return
				}
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(5 * time.Second))
				p, err := mqtt.NewReader(nc, 0).ReadPacket()
				cp, _ := p.(*mqtt.Connect)
				if err != nil || cp == nil {
					got <- nil
					return
				}
				got <- cp
				buf, _ := mqtt.Append(nil, &mqtt.Connack{}, tc.v)
				nc.Write(buf)
			}()
			c, err := Dial(runCtx(t), DialOptions{Addr: ln.Addr().String(), Version: tc.v,
				Timeout: 5 * time.Second, Durable: tc.durable}, "id")
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			cp := <-got
			if cp == nil {
				t.Fatal("no CONNECT received")
			}
			if cp.CleanStart == tc.durable {
				t.Errorf("clean start %v", cp.CleanStart)
			}
			hasExpiry := cp.Props.Has(mqtt.PropSessionExpiry)
			if want := tc.durable && tc.v == mqtt.V5; hasExpiry != want || (want && cp.Props.SessionExpiry != durableExpiry) {
				t.Errorf("session expiry set %v (%d), want %v", hasExpiry, cp.Props.SessionExpiry, want)
			}
		})
	}
}

// A durable run against mosquitto delivers everything, and leaves no
// session behind: reconnecting a subscriber's client id with clean
// session 0 finds no session present.
func TestDurableRunMosquitto(t *testing.T) {
	addr, _ := startMosquitto(t, "")
	for _, v := range []mqtt.Version{mqtt.V311, mqtt.V5} {
		t.Run(v.String(), func(t *testing.T) {
			c := smallConfig(P2P, addr)
			c.Version, c.QoS, c.Inflight, c.Durable = v, 1, 20, true
			c.Pubs, c.Subs, c.Count = 2, 2, 200
			r, err := Run(runCtx(t), c, nil)
			if err != nil {
				t.Fatal(err)
			}
			requireClean(t, r)
			if !r.Durable || r.Received != 200 || r.RunID == "" {
				t.Fatalf("durable %v, received %d, run id %q", r.Durable, r.Received, r.RunID)
			}
			for i := range c.Subs {
				id := fmt.Sprintf("mqbench-%s-s%d", r.RunID, i)
				if sessionPresent(t, addr, v, id) {
					t.Errorf("%s: session still present after the run", id)
				}
			}
		})
	}
}

// sessionPresent connects with clean session 0 and reports the CONNACK's
// Session Present flag, then removes the session again.
func sessionPresent(t *testing.T, addr string, v mqtt.Version, id string) bool {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	buf, _ := mqtt.Append(nil, &mqtt.Connect{Version: v, ClientID: id}, v)
	buf, _ = mqtt.Append(buf, &mqtt.Disconnect{}, v)
	if _, err := nc.Write(buf); err != nil {
		t.Fatal(err)
	}
	r := mqtt.NewReader(nc, 0)
	r.Version = v
	p, err := r.ReadPacket()
	if err != nil {
		t.Fatal(err)
	}
	ack, ok := p.(*mqtt.Connack)
	if !ok || ack.Code.IsError() {
		t.Fatalf("CONNACK: %v", p)
	}
	return ack.SessionPresent
}
