package broker

import (
	"bufio"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// BenchmarkPublishDeliver measures publish→deliver through an in-process
// broker over loopback TCP: one publisher, fan-out subscribers, 64-byte
// payloads. Subscribers acknowledge QoS 1 and 2 (the publisher answers
// PUBREC with PUBREL); ns/op is per published message.
func BenchmarkPublishDeliver(b *testing.B) {
	for _, qos := range []mqtt.QoS{0, 1, 2} {
		for _, fan := range []int{1, 10} {
			b.Run(fmt.Sprintf("qos%d/fanout%d", qos, fan), func(b *testing.B) {
				benchPublishDeliver(b, qos, fan)
			})
		}
	}
}

func benchPublishDeliver(b *testing.B, qos mqtt.QoS, fan int) {
	br, err := New(Options{Listeners: []ListenerConfig{{Name: "tcp", Addr: "127.0.0.1:0"}},
		MaxQueued: -1, MaxInflight: 1000})
	if err != nil {
		b.Fatal(err)
	}
	if err := br.Start(); err != nil {
		b.Fatal(err)
	}
	defer br.Shutdown(b.Context())
	addr := br.Addr("tcp").String()
	connect := func(id string) (net.Conn, *mqtt.Reader) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		buf, _ := mqtt.Append(nil, &mqtt.Connect{Version: mqtt.V311, ClientID: id, CleanStart: true}, mqtt.V311)
		nc.Write(buf)
		r := mqtt.NewReader(nc, 0)
		r.Version = mqtt.V311
		if _, err := r.ReadPacket(); err != nil {
			b.Fatal(err)
		}
		return nc, r
	}
	var wg sync.WaitGroup
	for i := 0; i < fan; i++ {
		nc, r := connect(fmt.Sprint("bsub", i))
		defer nc.Close()
		buf, _ := mqtt.Append(nil, &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "bench/t", QoS: qos}}}, mqtt.V311)
		nc.Write(buf)
		if _, err := r.ReadPacket(); err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := bufio.NewWriter(nc)
			var ack []byte
			var a mqtt.Ack // escapes (Append): one allocation, not one per packet
			for n := 0; n < b.N; {
				nc.SetReadDeadline(time.Now().Add(30 * time.Second))
				p, err := r.ReadPacket()
				if err != nil {
					b.Error(err)
					return
				}
				// PUBACK a QoS 1 message, PUBREC a QoS 2 one, PUBCOMP a
				// PUBREL; each PUBLISH counts.
				switch pp := p.(type) {
				case *mqtt.Publish:
					n++
					a = mqtt.Ack{Kind: mqtt.PUBACK, PacketID: pp.PacketID}
					if pp.QoS == 2 {
						a.Kind = mqtt.PUBREC
					}
					if pp.QoS == 0 {
						continue
					}
				case *mqtt.Ack:
					if pp.Kind != mqtt.PUBREL {
						continue
					}
					a = mqtt.Ack{Kind: mqtt.PUBCOMP, PacketID: pp.PacketID}
				default:
					continue
				}
				ack, _ = mqtt.Append(ack[:0], &a, mqtt.V311)
				w.Write(ack)
				if r.Buffered() == 0 {
					w.Flush()
				}
			}
			w.Flush()
		}()
	}
	pc, pr := connect("bpub")
	defer pc.Close()
	// QoS 2: at most window publishes between PUBLISH and PUBCOMP, so
	// that a packet id is free again before it is reused.
	const window = 1000
	free := make(chan struct{}, window)
	for range window {
		free <- struct{}{}
	}
	var wmu sync.Mutex // w: the publishes and the PUBRELs
	w := bufio.NewWriter(pc)
	go func() { // drain PUBACKs; answer PUBREC with PUBREL
		var rel []byte
		rp := &mqtt.Ack{Kind: mqtt.PUBREL} // one allocation, not one per PUBREC
		for {
			p, err := pr.ReadPacket()
			if err != nil {
				return
			}
			a, ok := p.(*mqtt.Ack)
			switch {
			case ok && a.Kind == mqtt.PUBREC:
				rp.PacketID = a.PacketID
				rel, _ = mqtt.Append(rel[:0], rp, mqtt.V311)
				wmu.Lock()
				w.Write(rel)
				if pr.Buffered() == 0 {
					w.Flush()
				}
				wmu.Unlock()
			case ok && a.Kind == mqtt.PUBCOMP:
				free <- struct{}{}
			}
		}
	}()
	payload := make([]byte, 64)
	var buf []byte
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		if qos == 2 {
			select {
			case <-free:
			default:
				wmu.Lock()
				w.Flush()
				wmu.Unlock()
				<-free
			}
		}
		p := mqtt.Publish{Topic: "bench/t", Payload: payload, QoS: qos, PacketID: uint16(n%65535 + 1)}
		buf, _ = mqtt.Append(buf[:0], &p, mqtt.V311)
		wmu.Lock()
		w.Write(buf)
		wmu.Unlock()
	}
	wmu.Lock()
	w.Flush()
	wmu.Unlock()
	wg.Wait()
	b.StopTimer()
}

// BenchmarkFanout measures routing alone (match, merge, queue) without
// sockets: subscribers are sessions whose connections never write.
func BenchmarkFanout(b *testing.B) {
	for _, fan := range []int{1, 100, 1000} {
		b.Run(fmt.Sprint("fanout", fan), func(b *testing.B) {
			br, err := New(Options{MaxQueued: -1, MaxOutboundBytes: -1})
			if err != nil {
				b.Fatal(err)
			}
			var conns []*conn
			for i := 0; i < fan; i++ {
				s := &session{b: br, clientID: fmt.Sprint("s", i)}
				c := &conn{b: br, oq: &outQueue{closed: make(chan struct{})}, sendWindow: 20}
				c.flags.set(flagWriting) // as if a write job were running: none starts
				s.conn = c
				conns = append(conns, c)
				s.subscribe("bench/+", &subscription{Owner: s, Filter: "bench/+", QoS: 0})
			}
			m := &message{topic: "bench/t", payload: make([]byte, 64)}
			b.ReportAllocs()
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				br.route(m, nil)
				if n%256 == 0 {
					for _, c := range conns {
						c.qmu.Lock()
						c.oq.items, c.oq.bytes, c.oq.pubs = c.oq.items[:0], 0, 0
						c.qmu.Unlock()
					}
				}
			}
		})
	}
}
