package web

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// BenchmarkRouteWithView measures what the web view costs message
// routing, in one process so that both cases share the heap and the
// machine's state: 10 publishers each send QoS 0 messages (64 bytes) to
// their own subscriber through a broker whose web server runs (a browser
// following /api/live is simulated by one open stream). "view" is the
// broker as it runs with an http listener (Observer installed, latency
// sampled 1 in 16); "none" the same broker with both switched off, as
// without an http listener. ns/op is per message delivered;
// cpu-ns/op is the process's CPU time (broker and the test clients) per
// message: the difference between the two cases is the view's cost.
// MQKIT_ROUTE_SHAPE=fanout has one publisher send to 100 subscribers
// instead (costs per delivery).
// MQKIT_ROUTE_PART splits it: "obs" switches only the Observer on in the
// view case, "lat" only the latency sample, "aa" neither (an A/A run:
// the difference is this host's noise).
//
//	go test -run '^$' -bench RouteWithView -benchtime 300000x ./internal/web/
//
// Paired medians of many interleaved rounds (MQKIT_ROUTE_ROUNDS=30, a
// built test binary run several times) are what to compare; one run of a
// few rounds moves by several per cent.
func BenchmarkRouteWithView(b *testing.B) {
	bo := broker.Options{Listeners: []broker.ListenerConfig{{Name: "tcp", Addr: "127.0.0.1:0"}}}
	br, err := broker.New(bo)
	if err != nil {
		b.Fatal(err)
	}
	ws, err := New(Options{Broker: br, Listeners: []Listener{{Name: "http", Addr: "127.0.0.1:0"}}})
	if err != nil {
		b.Fatal(err)
	}
	if err := br.Start(); err != nil {
		b.Fatal(err)
	}
	if err := ws.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		ws.Close()
		_ = br.Shutdown(b.Context())
	}()
	// A browser's live stream, read and thrown away.
	resp, err := (&http.Client{}).Get("http://" + ws.Addr("http").String() + "/api/live")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	go func() { _, _ = io.Copy(io.Discard, resp.Body) }()

	addr := br.Addr("tcp").String()
	// MQKIT_ROUTE_SHAPE: p2p (10 publishers, each to a subscriber of its
	// own; the default) or fanout (one publisher to 100 subscribers).
	topics, subs := 10, 1
	if os.Getenv("MQKIT_ROUTE_SHAPE") == "fanout" {
		topics, subs = 1, 100
	}
	// Interleaved rounds (MQKIT_ROUTE_ROUNDS, default 6): none, view,
	// view, none, ... (-count would run all the rounds of one case first).
	rounds := 6
	if n, err := strconv.Atoi(os.Getenv("MQKIT_ROUTE_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	part := os.Getenv("MQKIT_ROUTE_PART")
	var cost [2][]routeCost // none, view: one per round
	for round := range rounds {
		cost[0], cost[1] = append(cost[0], routeCost{}), append(cost[1], routeCost{})
		for k := range 2 {
			view := (k == 1) != (round%2 == 1)
			name := "none"
			if view {
				name = "view"
			}
			b.Run(name, func(b *testing.B) {
				if view {
					br.SetObserver(observer{ws})
					br.EnableLatency(16)
					switch part {
					case "obs":
						br.EnableLatency(0)
					case "lat":
						br.SetObserver(nil)
					case "aa":
						br.SetObserver(nil)
						br.EnableLatency(0)
					}
				} else {
					br.SetObserver(nil)
					br.EnableLatency(0)
				}
				defer func() { // as New left it
					br.SetObserver(observer{ws})
					br.EnableLatency(16)
				}()
				c := routeTopics(b, addr, topics, subs)
				cost[b2i(view)][round] = c // the last run of the round's case (b.N=1 comes first)
			})
		}
	}
	// Printed, not logged: a parent benchmark's log is not shown.
	fmt.Printf("BenchmarkRouteWithView: view - none over %d rounds, paired medians: %s\n", rounds, pairedCost(cost[0], cost[1]))
}

// routeCost is one case's cost per message delivered.
type routeCost struct{ wall, cpu float64 } // ns

// pairedCost compares view with none round by round: the median of the
// differences, and of the ratios as a percentage.
func pairedCost(none, view []routeCost) string {
	med := func(f func(n, v routeCost) float64) float64 {
		x := make([]float64, len(none))
		for i := range none {
			x[i] = f(none[i], view[i])
		}
		slices.Sort(x)
		if len(x)%2 == 1 {
			return x[len(x)/2]
		}
		return (x[len(x)/2-1] + x[len(x)/2]) / 2
	}
	return fmt.Sprintf("wall %+.1f ns (%+.1f%%), CPU %+.1f ns (%+.1f%%)",
		med(func(n, v routeCost) float64 { return v.wall - n.wall }),
		med(func(n, v routeCost) float64 { return (v.wall/n.wall - 1) * 100 }),
		med(func(n, v routeCost) float64 { return v.cpu - n.cpu }),
		med(func(n, v routeCost) float64 { return (v.cpu/n.cpu - 1) * 100 }))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// routeTopics sends QoS 0 messages on topics topics, each from one
// publisher to subs subscribers, b.N deliveries in all, and waits for
// every one to arrive. It returns the wall and CPU time per delivery.
func routeTopics(b *testing.B, addr string, topics, subs int) routeCost {
	per := max(b.N/(topics*subs), 1) // messages per publisher
	type topic struct {
		pub  net.Conn
		subs []net.Conn
	}
	ts := make([]topic, topics)
	for i := range ts {
		id := fmt.Sprintf("rb%d-%d", i, time.Now().UnixNano())
		for k := range subs {
			sc := rawConnect(b, addr, fmt.Sprintf("%ss%d", id, k))
			buf, _ := mqtt.Append(nil, &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: fmt.Sprintf("rb/%d", i)}}}, mqtt.V311)
			if _, err := sc.Write(buf); err != nil {
				b.Fatal(err)
			}
			r := mqtt.NewReader(sc, 0)
			r.Version = mqtt.V311
			if _, err := r.ReadPacket(); err != nil { // SUBACK
				b.Fatal(err)
			}
			ts[i].subs = append(ts[i].subs, sc)
		}
		ts[i].pub = rawConnect(b, addr, id+"p")
	}
	defer func() {
		for _, t := range ts {
			t.pub.Close()
			for _, sc := range t.subs {
				sc.Close()
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, topics*(subs+1))
	b.SetBytes(64)
	b.ResetTimer()
	cpu0 := cpuNow()
	for i := range ts {
		for k, sc := range ts[i].subs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := mqtt.NewReader(bufio.NewReaderSize(sc, 64<<10), 0)
				r.Version = mqtt.V311
				_ = sc.SetReadDeadline(time.Now().Add(time.Minute))
				for n := 0; n < per; {
					p, err := r.ReadPacket()
					if err != nil {
						errs <- fmt.Errorf("subscriber %d/%d after %d: %w", i, k, n, err)
						return
					}
					if _, ok := p.(*mqtt.Publish); ok {
						n++
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			one, _ := mqtt.Append(nil, &mqtt.Publish{Topic: fmt.Sprintf("rb/%d", i), Payload: make([]byte, 64)}, mqtt.V311)
			const batch = 64
			var buf []byte
			for range batch {
				buf = append(buf, one...)
			}
			for sent := 0; sent < per; sent += batch {
				k := min(batch, per-sent)
				if _, err := ts[i].pub.Write(buf[:k*len(one)]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	n := float64(per * topics * subs)
	c := routeCost{wall: float64(b.Elapsed()) / n, cpu: float64(cpuNow()-cpu0) / n}
	b.ReportMetric(c.cpu, "cpu-ns/op")
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return c
}

// rawConnect dials addr and connects as a 3.1.1 client with this id.
func rawConnect(b *testing.B, addr, id string) net.Conn {
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		b.Fatal(err)
	}
	buf, _ := mqtt.Append(nil, &mqtt.Connect{ProtocolName: "MQTT", Version: mqtt.V311, ClientID: id, CleanStart: true}, mqtt.V311)
	if _, err := nc.Write(buf); err != nil {
		b.Fatal(err)
	}
	r := mqtt.NewReader(nc, 0)
	r.Version = mqtt.V311
	if _, err := r.ReadPacket(); err != nil { // CONNACK
		b.Fatal(err)
	}
	return nc
}
