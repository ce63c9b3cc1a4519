package broker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 5 * time.Second

// newTestBroker starts a broker with a TCP listener "tcp" on 127.0.0.1:0
// (unless opts has listeners) and shuts it down at the end of the test.
func newTestBroker(t *testing.T, opts Options) (*Broker, string) {
	t.Helper()
	if len(opts.Listeners) == 0 {
		opts.Listeners = []ListenerConfig{{Name: "tcp", Addr: "127.0.0.1:0"}}
	}
	b, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := b.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return b, b.Addr(opts.Listeners[0].Name).String()
}

// logCapture is a slog handler that keeps every message and lets tests
// wait for one.
type logCapture struct {
	mu    sync.Mutex
	lines []string
	ch    chan struct{}
}

func newLogCapture() *logCapture { return &logCapture{ch: make(chan struct{}, 1)} }

func (l *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCapture) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logCapture) WithGroup(string) slog.Handler            { return l }
func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.lines = append(l.lines, r.Message)
	l.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
	default:
	}
	return nil
}

func (l *logCapture) logger() *slog.Logger { return slog.New(l) }

func (l *logCapture) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

func (l *logCapture) has(sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// waitLine blocks until exactly line was logged.
func (l *logCapture) waitLine(t *testing.T, line string) {
	t.Helper()
	l.waitFor(t, line, func(s string) bool { return s == line })
}

// wait blocks until a logged line contains sub.
func (l *logCapture) wait(t *testing.T, sub string) {
	t.Helper()
	l.waitFor(t, sub, func(s string) bool { return strings.Contains(s, sub) })
}

func (l *logCapture) match(f func(string) bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if f(s) {
			return true
		}
	}
	return false
}

func (l *logCapture) waitFor(t *testing.T, sub string, f func(string) bool) {
	t.Helper()
	l.waitForWithin(t, sub, f, testTimeout)
}

// waitWithin is wait with its own deadline, for a line that comes after
// work that grows with the machine's load (a flood).
func (l *logCapture) waitWithin(t *testing.T, sub string, d time.Duration) {
	t.Helper()
	l.waitForWithin(t, sub, func(s string) bool { return strings.Contains(s, sub) }, d)
}

func (l *logCapture) waitForWithin(t *testing.T, sub string, f func(string) bool, d time.Duration) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for !l.match(f) {
		select {
		case <-l.ch:
		case <-deadline.C:
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Fatalf("no log line containing %q; got:\n%s", sub, strings.Join(l.lines, "\n"))
		}
	}
}

// tclient is a raw MQTT client built on the codec.
type tclient struct {
	t       *testing.T
	nc      net.Conn
	r       *mqtt.Reader
	v       mqtt.Version
	pending []mqtt.Packet // received while waiting for an ack
}

func dial(t *testing.T, addr string, v mqtt.Version) *tclient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return newTClient(t, nc, v)
}

func newTClient(t *testing.T, nc net.Conn, v mqtt.Version) *tclient {
	r := mqtt.NewReader(nc, 0)
	r.Version = v
	return &tclient{t: t, nc: nc, r: r, v: v}
}

func (c *tclient) send(p mqtt.Packet) {
	c.t.Helper()
	buf, err := mqtt.Append(nil, p, c.v)
	if err != nil {
		c.t.Fatalf("encode %s: %v", p.Type(), err)
	}
	c.sendRaw(buf)
}

func (c *tclient) sendRaw(b []byte) {
	c.t.Helper()
	_ = c.nc.SetWriteDeadline(time.Now().Add(testTimeout))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read returns the next packet or an error (copying reader-owned packets).
func (c *tclient) read(d time.Duration) (mqtt.Packet, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	p, err := c.r.ReadPacket()
	if err != nil {
		return nil, err
	}
	switch p := p.(type) {
	case *mqtt.Publish:
		cp := *p
		return &cp, nil
	case *mqtt.Ack:
		cp := *p
		return &cp, nil
	}
	return p, nil
}

func (c *tclient) recv() mqtt.Packet {
	c.t.Helper()
	if len(c.pending) > 0 {
		p := c.pending[0]
		c.pending = c.pending[1:]
		return p
	}
	p, err := c.read(testTimeout)
	if err != nil {
		c.t.Fatalf("recv: %v", err)
	}
	return p
}

// expect receives the next packet and checks its type.
func expect[T mqtt.Packet](c *tclient) T {
	c.t.Helper()
	p := c.recv()
	v, ok := p.(T)
	if !ok {
		c.t.Fatalf("got %s, want %T", mqtt.Describe(p), *new(T))
	}
	return v
}

// expectClosed waits for the broker to close the connection. For v5 it
// returns the DISCONNECT received first, if any.
func (c *tclient) expectClosed() *mqtt.Disconnect {
	c.t.Helper()
	var d *mqtt.Disconnect
	for _, p := range c.pending {
		if dp, ok := p.(*mqtt.Disconnect); ok {
			d = dp
		}
	}
	c.pending = nil
	for {
		p, err := c.read(testTimeout)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatalf("connection not closed")
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !isReset(err) {
				c.t.Fatalf("unexpected error waiting for close: %v", err)
			}
			return d
		}
		if dp, ok := p.(*mqtt.Disconnect); ok {
			d = dp
			continue
		}
		c.t.Fatalf("got %s while waiting for close", mqtt.Describe(p))
	}
}

func isReset(err error) bool {
	var ce *websocket.CloseError
	return errors.As(err, &ce) || strings.Contains(err.Error(), "connection reset")
}

// roundTrip sends PINGREQ and waits for PINGRESP, keeping other packets
// for later: when it returns, the broker has handled everything this
// client sent before (for a QoS 0 publish: routed it).
func (c *tclient) roundTrip() {
	c.t.Helper()
	c.send(&mqtt.Pingreq{})
	for {
		p, err := c.read(testTimeout)
		if err != nil {
			c.t.Fatalf("waiting for PINGRESP: %v", err)
		}
		if _, ok := p.(*mqtt.Pingresp); ok {
			return
		}
		c.pending = append(c.pending, p)
	}
}

// sync sends PINGREQ and returns the packets received before PINGRESP:
// everything the broker queued for this client before it handled the
// PINGREQ.
func (c *tclient) sync() []mqtt.Packet {
	c.t.Helper()
	c.send(&mqtt.Pingreq{})
	var got []mqtt.Packet
	for {
		p := c.recv()
		if _, ok := p.(*mqtt.Pingresp); ok {
			return got
		}
		got = append(got, p)
	}
}

// expectNothing checks that nothing was queued for the client.
func (c *tclient) expectNothing() {
	c.t.Helper()
	if got := c.sync(); len(got) > 0 {
		c.t.Fatalf("unexpected %s", mqtt.Describe(got[0]))
	}
}

func connectPacket(v mqtt.Version, id string, clean bool) *mqtt.Connect {
	return &mqtt.Connect{Version: v, ClientID: id, CleanStart: clean, KeepAlive: 60}
}

// connect sends p and returns the CONNACK.
func (c *tclient) connect(p *mqtt.Connect) *mqtt.Connack {
	c.t.Helper()
	c.send(p)
	return expect[*mqtt.Connack](c)
}

// mustConnect dials and connects; CONNACK must be a success.
func mustConnect(t *testing.T, addr string, p *mqtt.Connect) (*tclient, *mqtt.Connack) {
	t.Helper()
	c := dial(t, addr, p.Version)
	ack := c.connect(p)
	if ack.Code != mqtt.Success {
		t.Fatalf("CONNACK %s for %q", ack.Code, p.ClientID)
	}
	return c, ack
}

func connectClient(t *testing.T, addr string, v mqtt.Version, id string) *tclient {
	t.Helper()
	c, _ := mustConnect(t, addr, connectPacket(v, id, true))
	return c
}

var pidCounter struct {
	sync.Mutex
	n uint16
}

func nextPID() uint16 {
	pidCounter.Lock()
	defer pidCounter.Unlock()
	pidCounter.n++
	if pidCounter.n == 0 {
		pidCounter.n = 1
	}
	return pidCounter.n
}

func (c *tclient) subscribe(filter string, qos mqtt.QoS) {
	c.t.Helper()
	c.subscribeOpts(mqtt.Subscription{Filter: filter, QoS: qos}, 0)
}

// subscribeOpts subscribes with options and an optional subscription id
// and checks the SUBACK grants the QoS.
func (c *tclient) subscribeOpts(s mqtt.Subscription, subID uint32) *mqtt.Suback {
	c.t.Helper()
	p := &mqtt.Subscribe{PacketID: nextPID(), Subscriptions: []mqtt.Subscription{s}}
	if subID != 0 {
		p.Props.SubscriptionIDs = []uint32{subID}
	}
	c.send(p)
	ack := expect[*mqtt.Suback](c)
	if ack.PacketID != p.PacketID || len(ack.Codes) != 1 || ack.Codes[0] != mqtt.ReasonCode(s.QoS) {
		c.t.Fatalf("SUBACK %s for %q QoS %d", mqtt.Describe(ack), s.Filter, s.QoS)
	}
	return ack
}

// publish sends a PUBLISH and completes its QoS flow; it returns the
// PUBACK/PUBREC reason code (Success for QoS 0).
func (c *tclient) publish(topic string, payload string, qos mqtt.QoS, retain bool) mqtt.ReasonCode {
	c.t.Helper()
	p := &mqtt.Publish{Topic: topic, Payload: []byte(payload), QoS: qos, Retain: retain}
	return c.publishPacket(p)
}

// expectAck waits for an ack of kind for pid, keeping other packets for
// later recv calls.
func (c *tclient) expectAck(kind mqtt.PacketType, pid uint16) *mqtt.Ack {
	c.t.Helper()
	for i, p := range c.pending {
		if a, ok := p.(*mqtt.Ack); ok && a.Kind == kind && a.PacketID == pid {
			c.pending = append(c.pending[:i:i], c.pending[i+1:]...)
			return a
		}
	}
	for {
		p, err := c.read(testTimeout)
		if err != nil {
			c.t.Fatalf("waiting for %s %d: %v", kind, pid, err)
		}
		if a, ok := p.(*mqtt.Ack); ok && a.Kind == kind && a.PacketID == pid {
			return a
		}
		c.pending = append(c.pending, p)
	}
}

func (c *tclient) publishPacket(p *mqtt.Publish) mqtt.ReasonCode {
	c.t.Helper()
	if p.QoS > 0 && p.PacketID == 0 {
		p.PacketID = nextPID()
	}
	c.send(p)
	switch p.QoS {
	case 1:
		return c.expectAck(mqtt.PUBACK, p.PacketID).Code
	case 2:
		a := c.expectAck(mqtt.PUBREC, p.PacketID)
		if a.Code.IsError() {
			return a.Code
		}
		c.send(&mqtt.Ack{Kind: mqtt.PUBREL, PacketID: p.PacketID})
		c.expectAck(mqtt.PUBCOMP, p.PacketID)
		return a.Code
	}
	c.roundTrip()
	return mqtt.Success
}

// expectPublish receives a PUBLISH, checks topic and payload, and
// acknowledges it (QoS 1: PUBACK; QoS 2: PUBREC, PUBREL, PUBCOMP).
func (c *tclient) expectPublish(topic, payload string) *mqtt.Publish {
	c.t.Helper()
	p := c.expectPublishNoAck(topic, payload)
	c.ackPublish(p)
	return p
}

func (c *tclient) expectPublishNoAck(topic, payload string) *mqtt.Publish {
	c.t.Helper()
	p := expect[*mqtt.Publish](c)
	if p.Topic != topic || string(p.Payload) != payload {
		c.t.Fatalf("got PUBLISH %q %q, want %q %q", p.Topic, p.Payload, topic, payload)
	}
	return p
}

func (c *tclient) ackPublish(p *mqtt.Publish) {
	c.t.Helper()
	switch p.QoS {
	case 1:
		c.send(&mqtt.Ack{Kind: mqtt.PUBACK, PacketID: p.PacketID})
	case 2:
		c.send(&mqtt.Ack{Kind: mqtt.PUBREC, PacketID: p.PacketID})
		c.expectAck(mqtt.PUBREL, p.PacketID)
		c.send(&mqtt.Ack{Kind: mqtt.PUBCOMP, PacketID: p.PacketID})
	}
}

func (c *tclient) disconnect() {
	c.t.Helper()
	c.send(&mqtt.Disconnect{})
	c.expectClosed()
}

var versions = []struct {
	name string
	v    mqtt.Version
}{{"v3.1.1", mqtt.V311}, {"v5", mqtt.V5}}

func qosPtr(q mqtt.QoS) *mqtt.QoS { return &q }

// eachReadPath runs body as two subtests: with connections read by the
// event loop ("loop"), and by a goroutine each ("goroutine", body's
// noLoop true: Options.noEventLoop).
func eachReadPath(t *testing.T, body func(t *testing.T, noLoop bool)) {
	t.Helper()
	t.Run("loop", func(t *testing.T) { body(t, false) })
	t.Run("goroutine", func(t *testing.T) { body(t, true) })
}
