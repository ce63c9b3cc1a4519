package broker

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// BenchmarkP2P is mqbench's p2p scenario in process, with the broker's
// default limits (MaxQueued 1000, MaxInflight 20, flow control on): pairs
// publishers each publish to their own subscriber, pipelining up to 100
// unacknowledged QoS 1/2 messages; subscribers acknowledge as they read.
// ns/op is per message delivered; it fails if one is lost.
//
//	go test -run '^$' -bench P2P -benchtime 200000x ./internal/broker
func BenchmarkP2P(b *testing.B) {
	for _, pairs := range []int{1, 10} {
		for _, qos := range []mqtt.QoS{0, 1, 2} {
			b.Run(fmt.Sprintf("pairs%d/qos%d", pairs, qos), func(b *testing.B) {
				benchP2P(b, Options{}, pairs, qos)
			})
		}
	}
}

func benchP2P(b *testing.B, opts Options, pairs int, qos mqtt.QoS) {
	opts.Listeners = []ListenerConfig{{Name: "tcp", Addr: "127.0.0.1:0"}}
	br, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	if err := br.Start(); err != nil {
		b.Fatal(err)
	}
	defer br.Shutdown(b.Context())
	addr := br.Addr("tcp").String()
	per := max(b.N/pairs, 1)
	var subs, pubs []*fastClient
	for i := 0; i < pairs; i++ {
		topic := fmt.Sprintf("bench/%d", i)
		sc := benchConnect(b, addr, fmt.Sprint("bsub", i))
		buf, _ := mqtt.Append(nil, &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: topic, QoS: qos}}}, mqtt.V311)
		if _, err := sc.nc.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := sc.r.ReadPacket(); err != nil {
			b.Fatal(err)
		}
		subs = append(subs, sc)
		pubs = append(pubs, benchConnect(b, addr, fmt.Sprint("bpub", i)))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*pairs)
	b.SetBytes(64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < pairs; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			got, err := subs[i].consume(per)
			if err == nil && len(got) < per {
				err = fmt.Errorf("subscriber %d: %d of %d", i, len(got), per)
			}
			errs <- err
		}()
		go func() {
			defer wg.Done()
			errs <- pubs[i].publishPipelined(fmt.Sprintf("bench/%d", i), qos, per, 100, 64)
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
}

// benchConnect connects a 3.1.1 client for a benchmark.
func benchConnect(b *testing.B, addr, id string) *fastClient {
	b.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	buf, _ := mqtt.Append(nil, &mqtt.Connect{Version: mqtt.V311, ClientID: id, CleanStart: true, KeepAlive: 60}, mqtt.V311)
	if _, err := nc.Write(buf); err != nil {
		b.Fatal(err)
	}
	r := mqtt.NewReader(nc, 0)
	r.Version = mqtt.V311
	if _, err := r.ReadPacket(); err != nil {
		b.Fatal(err)
	}
	c := newFastClient(&tclient{nc: nc, r: r, v: mqtt.V311})
	_ = nc.SetDeadline(time.Now().Add(5 * time.Minute))
	return c
}
