package bench

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// startMosquitto runs mosquitto on a free loopback port with extra
// configuration lines and returns its address and pid (skipping without
// mosquitto outside CI, failing in CI). It is stopped when the test ends.
func startMosquitto(t *testing.T, extra string) (addr string, pid int) {
	t.Helper()
	m := clienttest.StartMosquitto(t, "listener {port} 127.0.0.1\nallow_anonymous true\n"+extra)
	return m.Addr(), m.PID
}

// fakeMode is how the fake broker misbehaves.
type fakeMode int

const (
	fakeSwallow   fakeMode = iota // acknowledges publishes, delivers nothing
	fakeNoAck                     // neither acknowledges nor delivers
	fakeDouble                    // delivers every publish twice
	fakeCloseOnce                 // like fakeSwallow, and closes the first connection to publish 100 messages on .../with
)

// fakeBroker is a minimal MQTT server for failure cases mosquitto will
// not produce. It routes by exact topic only.
type fakeBroker struct {
	t    *testing.T
	l    net.Listener
	mode fakeMode
	mu   sync.Mutex
	subs map[string][]*fakeConn
	wg   sync.WaitGroup

	closedOne bool // fakeCloseOnce: done (under mu)
}

type fakeConn struct {
	nc  net.Conn
	mu  sync.Mutex
	w   *bufio.Writer
	ver mqtt.Version
	id  uint16
}

func (c *fakeConn) send(p mqtt.Packet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, err := mqtt.Append(nil, p, c.ver)
	if err != nil {
		panic(err)
	}
	c.w.Write(b)
	c.w.Flush()
}

func startFake(t *testing.T, mode fakeMode) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeBroker{t: t, l: l, mode: mode, subs: map[string][]*fakeConn{}}
	var conns []net.Conn
	var cmu sync.Mutex
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			cmu.Lock()
			conns = append(conns, nc)
			cmu.Unlock()
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.serve(nc)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		cmu.Lock()
		for _, c := range conns {
			c.Close()
		}
		cmu.Unlock()
		f.wg.Wait()
	})
	return l.Addr().String()
}

func (f *fakeBroker) serve(nc net.Conn) {
	defer nc.Close()
	c := &fakeConn{nc: nc, w: bufio.NewWriter(nc)}
	r := mqtt.NewReader(nc, 0)
	published := 0
	for {
		p, err := r.ReadPacket()
		if err != nil {
			return
		}
		switch p := p.(type) {
		case *mqtt.Connect:
			c.ver, r.Version = p.Version, p.Version
			c.send(&mqtt.Connack{})
		case *mqtt.Subscribe:
			f.mu.Lock()
			f.subs[p.Subscriptions[0].Filter] = append(f.subs[p.Subscriptions[0].Filter], c)
			f.mu.Unlock()
			c.send(&mqtt.Suback{PacketID: p.PacketID, Codes: []mqtt.ReasonCode{mqtt.ReasonCode(p.Subscriptions[0].QoS)}})
		case *mqtt.Publish:
			f.onPublish(c, p)
			if f.mode == fakeCloseOnce && strings.HasSuffix(p.Topic, "/with") {
				if published++; published == 100 {
					f.mu.Lock()
					first := !f.closedOne
					f.closedOne = true
					f.mu.Unlock()
					if first {
						return
					}
				}
			}
		case *mqtt.Ack:
			switch p.Kind {
			case mqtt.PUBREL:
				c.send(&mqtt.Ack{Kind: mqtt.PUBCOMP, PacketID: p.PacketID})
			case mqtt.PUBREC:
				c.send(&mqtt.Ack{Kind: mqtt.PUBREL, PacketID: p.PacketID})
			}
		case *mqtt.Disconnect:
			return
		}
	}
}

func (f *fakeBroker) onPublish(c *fakeConn, p *mqtt.Publish) {
	if f.mode == fakeNoAck {
		return
	}
	switch p.QoS {
	case 1:
		c.send(&mqtt.Ack{Kind: mqtt.PUBACK, PacketID: p.PacketID})
	case 2:
		c.send(&mqtt.Ack{Kind: mqtt.PUBREC, PacketID: p.PacketID})
	}
	if f.mode != fakeDouble {
		return
	}
	f.mu.Lock()
	subs := f.subs[p.Topic]
	f.mu.Unlock()
	for _, s := range subs {
		for range 2 {
			s.mu.Lock()
			s.id = s.id%65535 + 1
			id := s.id
			s.mu.Unlock()
			out := &mqtt.Publish{Topic: p.Topic, Payload: p.Payload, QoS: p.QoS}
			if p.QoS > 0 {
				out.PacketID = id
			}
			s.send(out)
		}
	}
}
