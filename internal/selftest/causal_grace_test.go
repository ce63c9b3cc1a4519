package selftest

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// slowServer is a scripted 3.1.1 broker that handles each PUBLISH late:
// delay after it arrives, it delivers it to the subscribers of its topic
// and only then acknowledges it, as a broker slowed down by its machine
// would. It answers SUBSCRIBE and PINGREQ at once.
type slowServer struct {
	delay time.Duration
	mu    sync.Mutex
	subs  map[string][]*slowConn
}

type slowConn struct {
	mu sync.Mutex
	nc net.Conn
}

func (c *slowConn) send(p mqtt.Packet) {
	b, _ := mqtt.Append(nil, p, mqtt.V311)
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = c.nc.Write(b)
}

func (s *slowServer) serve(nc net.Conn) {
	defer nc.Close()
	c := &slowConn{nc: nc}
	r := mqtt.NewReader(nc, 0)
	r.Version = mqtt.V311
	for {
		p, err := r.ReadPacket()
		if err != nil {
			return
		}
		switch q := p.(type) {
		case *mqtt.Connect:
			c.send(&mqtt.Connack{})
		case *mqtt.Subscribe:
			s.mu.Lock()
			codes := make([]mqtt.ReasonCode, len(q.Subscriptions))
			for i, sub := range q.Subscriptions {
				s.subs[strings.Clone(sub.Filter)] = append(s.subs[sub.Filter], c)
				codes[i] = mqtt.ReasonCode(sub.QoS)
			}
			s.mu.Unlock()
			c.send(&mqtt.Suback{PacketID: q.PacketID, Codes: codes})
		case *mqtt.Pingreq:
			c.send(&mqtt.Pingresp{})
		case *mqtt.Publish:
			// Copied: the reader reuses its memory.
			topic, payload, qos, pid := strings.Clone(q.Topic), bytes.Clone(q.Payload), q.QoS, q.PacketID
			time.AfterFunc(s.delay, func() {
				s.mu.Lock()
				subs := s.subs[topic]
				s.mu.Unlock()
				for _, sc := range subs {
					sc.send(&mqtt.Publish{Topic: topic, Payload: payload})
				}
				if qos == 1 {
					c.send(&mqtt.Ack{Kind: mqtt.PUBACK, PacketID: pid})
				}
			})
		}
	}
}

// TestCausalGraceFromPuback: at QoS 1 the probe counts a message lost
// only when it is missing LateGrace after the publisher's PUBACK, not
// after the subscriber's PINGRESP: a broker that handles the PUBLISH
// late (here 1.5 × LateGrace) but keeps the order is counted late, not
// lost.
func TestCausalGraceFromPuback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := &slowServer{delay: LateGrace * 3 / 2, subs: map[string][]*slowConn{}}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(nc)
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	ep := client.Endpoint{Scheme: "mqtt", Host: "127.0.0.1", Port: port}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := CausalOrder(ctx, CausalConfig{Endpoint: ep, Version: mqtt.V311, QoS: 1, Mode: CausalFresh,
		Tries: 1, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Lost != 0 || res.Late != 1 {
		t.Errorf("%v, want the try late, not lost", res)
	}
}
