package web

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
	"github.com/mqkit/mqkit/internal/version"
)

const testTimeout = 10 * time.Second

// env is a broker with one MQTT listener ("tcp") and a web server with
// one HTTP listener ("http"), both on 127.0.0.1 and a free port.
type env struct {
	b    *broker.Broker
	ws   *Server
	mqtt string // host:port
	base string // http://host:port
}

func newEnv(t *testing.T, bo broker.Options, wo Options) *env {
	t.Helper()
	bo.Listeners = []broker.ListenerConfig{{Name: "tcp", Addr: "127.0.0.1:0"}}
	b, err := broker.New(bo)
	if err != nil {
		t.Fatal(err)
	}
	wo.Broker = b
	if wo.Listeners == nil {
		wo.Listeners = []Listener{{Name: "http", Addr: "127.0.0.1:0"}}
	}
	ws, err := New(wo)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	if err := ws.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ws.Close()
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		_ = b.Shutdown(ctx)
	})
	return &env{b: b, ws: ws, mqtt: b.Addr("tcp").String(), base: "http://" + ws.Addr(wo.Listeners[0].Name).String()}
}

// get fetches path and returns the status and body.
func (e *env) get(t *testing.T, path string) (int, string) {
	t.Helper()
	return do(t, mustReq(t, "GET", e.base+path, nil))
}

func mustReq(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func do(t *testing.T, r *http.Request) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: testTimeout}
	resp, err := c.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// mclient is a raw MQTT client on the codec.
type mclient struct {
	t  *testing.T
	nc net.Conn
	r  *mqtt.Reader
	v  mqtt.Version
}

// connect dials addr and sends CONNECT p (Version defaults to 5); it
// returns the client and the CONNACK.
func connect(t *testing.T, addr string, p *mqtt.Connect) (*mclient, *mqtt.Connack) {
	t.Helper()
	if p.Version == 0 {
		p.Version = mqtt.V5
	}
	if p.ProtocolName == "" {
		p.ProtocolName = "MQTT"
	}
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	r := mqtt.NewReader(nc, 0)
	r.Version = p.Version
	c := &mclient{t: t, nc: nc, r: r, v: p.Version}
	c.send(p)
	ack, ok := c.recv().(*mqtt.Connack)
	if !ok {
		t.Fatal("no CONNACK")
	}
	cp := *ack
	return c, &cp
}

func (c *mclient) send(p mqtt.Packet) {
	c.t.Helper()
	buf, err := mqtt.Append(nil, p, c.v)
	if err != nil {
		c.t.Fatal(err)
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(testTimeout))
	if _, err := c.nc.Write(buf); err != nil {
		c.t.Fatal(err)
	}
}

func (c *mclient) recv() mqtt.Packet {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(testTimeout))
	p, err := c.r.ReadPacket()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	switch p := p.(type) {
	case *mqtt.Publish:
		cp := *p
		cp.Payload = append([]byte(nil), p.Payload...)
		return &cp
	case *mqtt.Ack:
		cp := *p
		return &cp
	}
	return p
}

// expectPacket reads the next packet and checks its type.
func expectPacket[T mqtt.Packet](c *mclient) T {
	c.t.Helper()
	p := c.recv()
	v, ok := p.(T)
	if !ok {
		c.t.Fatalf("got %s, want %T", mqtt.Describe(p), *new(T))
	}
	return v
}

// subscribe subscribes to filter at qos and waits for the SUBACK.
func (c *mclient) subscribe(filter string, qos mqtt.QoS) {
	c.t.Helper()
	c.send(&mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: filter, QoS: qos}}})
	expectPacket[*mqtt.Suback](c)
}

// publish publishes and completes the QoS flow (pid 0 for QoS 0).
func (c *mclient) publish(topic, payload string, qos mqtt.QoS, retain bool, pid uint16) {
	c.t.Helper()
	c.send(&mqtt.Publish{Topic: topic, Payload: []byte(payload), QoS: qos, Retain: retain, PacketID: pid})
	switch qos {
	case 1:
		expectPacket[*mqtt.Ack](c)
	case 2:
		expectPacket[*mqtt.Ack](c) // PUBREC
		c.send(&mqtt.Ack{Kind: mqtt.PUBREL, PacketID: pid})
		expectPacket[*mqtt.Ack](c) // PUBCOMP
	}
}

// receiveN reads n PUBLISHes, completing their QoS flows as a subscriber
// (a PUBREL may come after later PUBLISHes), and returns them.
func (c *mclient) receiveN(n int) []*mqtt.Publish {
	c.t.Helper()
	var out []*mqtt.Publish
	released := 0
	qos2 := 0
	for len(out) < n || released < qos2 {
		switch p := c.recv().(type) {
		case *mqtt.Publish:
			out = append(out, p)
			switch p.QoS {
			case 1:
				c.send(&mqtt.Ack{Kind: mqtt.PUBACK, PacketID: p.PacketID})
			case 2:
				qos2++
				c.send(&mqtt.Ack{Kind: mqtt.PUBREC, PacketID: p.PacketID})
			}
		case *mqtt.Ack:
			if p.Kind != mqtt.PUBREL {
				c.t.Fatalf("unexpected %s", p.Kind)
			}
			released++
			c.send(&mqtt.Ack{Kind: mqtt.PUBCOMP, PacketID: p.PacketID})
		default:
			c.t.Fatalf("unexpected %s", mqtt.Describe(p))
		}
	}
	return out
}

// waitFor polls cond until it holds or the test times out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func versionForTest() string { return version.Version }
