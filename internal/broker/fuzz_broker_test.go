package broker_test

// Stateful fuzzing of the broker: the fuzzer's bytes are decoded into a
// sequence of operations by up to three clients (connect with various
// versions and flags, subscribe, unsubscribe, publish, acknowledge,
// DISCONNECT, abrupt close, invalid packets, raw garbage), played against
// an in-process broker over net.Pipe connections, each operation waiting
// (with a deadline) for the broker's answer. The oracle is a set of
// invariants, not expected bytes:
//
//   - no panic, no hang (every wait is bounded);
//   - a protocol violation closes the connection;
//   - no client receives a message its ACL forbids it to read;
//   - a durable session resumed with clean start 0 is present;
//   - every QoS 1/2 message acknowledged to its publisher reaches every
//     session that had a matching subscription at QoS >= 1 and still
//     exists at the end, or is counted in Stats().PublishDropped;
//   - after Shutdown no goroutine is left behind, and the heap does not
//     grow from input to input (checked every 256 inputs).

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// fuzzWait bounds every wait for the broker inside one input.
const fuzzWait = 2 * time.Second

// Client ids and users: bits 6-7 of a CONNECT's argument pick the user
// relative to the id (0: the id's own user, as the seeds use), so a
// session opened by bob can be taken over by alice, who may not read
// secret/...: nothing queued or in flight for bob on secret/... may reach
// her (issue 12 item 1; mosquitto re-checks the ACL the same way).
var (
	fuzzIDs     = []string{"a", "b", "c"}
	fuzzUsers   = []string{"alice", "bob", ""}
	fuzzFilters = []string{"t/a", "t/+", "t/#", "#", "secret/x", "secret/#", "+/x", "$share/g/t/a", "$share/g/t/#", "t/a/b"}
	fuzzTopics  = []string{"t/a", "t/b", "t/a/b", "secret/x", "x", "u/x"}
)

// fuzzAuthorizer: alice may subscribe to anything but not read secret/...
var fuzzAuthorizer = broker.AuthorizerFunc(func(ci *broker.ClientInfo, topic string, acc broker.Access) bool {
	return !(ci.Username == "alice" && acc == broker.AccessRead && forbidden("alice", topic))
})

func forbidden(user, topic string) bool {
	return user == "alice" && strings.HasPrefix(topic, "secret/")
}

// fconn is one client connection of the fuzz run.
type fconn struct {
	id, user string
	v        mqtt.Version
	nc       net.Conn
	wmu      sync.Mutex
	mu       sync.Mutex
	got      []mqtt.Packet // received, not yet consumed by a wait
	unacked  []*mqtt.Publish
	closed   bool
	ch       chan struct{}
	done     chan struct{} // the reader has ended
	async    chan []byte   // written by the writer goroutine
	wdone    chan struct{} // the writer has ended
	bad      error         // an invariant broken on the reader goroutine
	onPub    func(id string, p *mqtt.Publish)
}

func (c *fconn) send(p mqtt.Packet) error {
	b, err := mqtt.Append(nil, p, c.v)
	if err != nil {
		return err
	}
	return c.sendRaw(b)
}

func (c *fconn) sendRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(fuzzWait))
	_, err := c.nc.Write(b)
	// A net.Pipe deadline is a timer holding the pipe until it fires:
	// clear it, or every connection stays in the heap for fuzzWait.
	_ = c.nc.SetWriteDeadline(time.Time{})
	return err
}

// read runs on the connection's own goroutine: it keeps every packet,
// answers PUBREL with PUBCOMP, and checks the ACL invariant.
func (c *fconn) read() {
	defer close(c.done)
	r := mqtt.NewReader(c.nc, 0)
	r.Version = c.v
	for {
		p, err := r.ReadPacket()
		if err != nil {
			c.mu.Lock()
			c.closed = true
			c.mu.Unlock()
			c.signal()
			return
		}
		switch q := p.(type) {
		case *mqtt.Publish:
			cp := *q
			cp.Payload = append([]byte(nil), q.Payload...)
			cp.Topic = strings.Clone(q.Topic)
			if forbidden(c.user, cp.Topic) {
				c.mu.Lock()
				c.bad = fmt.Errorf("%s (user %s) received %q, which its ACL forbids", c.id, c.user, cp.Topic)
				c.mu.Unlock()
			}
			c.onPub(c.id, &cp)
			c.mu.Lock()
			if cp.QoS > 0 {
				c.unacked = append(c.unacked, &cp)
			}
			c.mu.Unlock()
			p = &cp
		case *mqtt.Ack:
			cp := *q
			p = &cp
			if q.Kind == mqtt.PUBREL {
				// Not written here: with net.Pipe a write waits for the
				// broker to read, and the broker may be waiting for us
				// to read (TCP would buffer). The writer goroutine sends.
				c.async <- mustAppend(&mqtt.Ack{Kind: mqtt.PUBCOMP, PacketID: q.PacketID}, c.v)
				continue
			}
		}
		c.mu.Lock()
		c.got = append(c.got, p)
		c.mu.Unlock()
		c.signal()
	}
}

// write sends what the reader queued, in order, until the reader ends.
func (c *fconn) write() {
	defer close(c.wdone)
	for {
		select {
		case b := <-c.async:
			_ = c.sendRaw(b)
		case <-c.done:
			return
		}
	}
}

// shut closes the connection and waits for its goroutines.
func (c *fconn) shut() {
	c.nc.Close()
	<-c.done
	<-c.wdone
}

func (c *fconn) signal() {
	select {
	case c.ch <- struct{}{}:
	default:
	}
}

var errClosed = errors.New("connection closed")

// wait returns the first received packet for which match is true
// (removing it), errClosed when the broker closed the connection first,
// or a timeout error.
func (c *fconn) wait(match func(mqtt.Packet) bool) (mqtt.Packet, error) {
	deadline := time.NewTimer(fuzzWait)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		for i, p := range c.got {
			if match(p) {
				c.got = append(c.got[:i:i], c.got[i+1:]...)
				c.mu.Unlock()
				return p, nil
			}
		}
		closed := c.closed
		c.mu.Unlock()
		if closed {
			return nil, errClosed
		}
		select {
		case <-c.ch:
		case <-deadline.C:
			return nil, fmt.Errorf("%s: no answer within %v", c.id, fuzzWait)
		}
	}
}

// waitClosed waits until the broker closed the connection.
func (c *fconn) waitClosed() error {
	select {
	case <-c.done:
		return nil
	case <-time.After(fuzzWait):
		return fmt.Errorf("%s: connection not closed within %v", c.id, fuzzWait)
	}
}

// fsession is the model of one client id's session.
type fsession struct {
	exists, durable bool
	tracked         bool            // false after garbage: state unknown
	subs            map[string]byte // non-shared filters and their QoS
	expect          map[string]bool // payload ids that must arrive
	user            string          // the user of the connection that opened or took it over last
}

// frun is one fuzz input being played.
type frun struct {
	t        *testing.T
	b        *broker.Broker
	slots    [3]*fconn
	sess     map[string]*fsession
	received map[string]map[string]bool // client id -> payload ids
	rmu      sync.Mutex
	pid      uint16
	msgs     int
	topicOf  map[string]string // payload id -> topic
	version  map[string]mqtt.Version
	pair     func() (cli, srv net.Conn) // a connected pair: net.Pipe by default
}

func (r *frun) nextPID() uint16 {
	r.pid++
	if r.pid == 0 {
		r.pid = 1
	}
	return r.pid
}

func (r *frun) onPub(id string, p *mqtt.Publish) {
	r.rmu.Lock()
	defer r.rmu.Unlock()
	if r.received[id] == nil {
		r.received[id] = map[string]bool{}
	}
	r.received[id][string(p.Payload)] = true
}

func (r *frun) session(id string) *fsession {
	s := r.sess[id]
	if s == nil {
		s = &fsession{}
		r.sess[id] = s
	}
	return s
}

func (s *fsession) reset(durable bool) {
	*s = fsession{exists: true, durable: durable, tracked: true, subs: map[string]byte{}, expect: map[string]bool{}}
}

func (s *fsession) end() { *s = fsession{} }

// fuzzBytes hands out the input's bytes.
type fuzzBytes struct {
	b []byte
}

func (f *fuzzBytes) next() (byte, bool) {
	if len(f.b) == 0 {
		return 0, false
	}
	c := f.b[0]
	f.b = f.b[1:]
	return c, true
}

// Operations.
const (
	opConnect = iota
	opSubscribe
	opUnsubscribe
	opPublish
	opAck
	opDisconnect
	opClose
	opGarbage
	opBadPacket
	numOps
)

func FuzzBrokerSessions(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g0 := runtime.NumGoroutine()
		playFuzz(t, data, nil)
		checkGoroutines(t, g0)
	})
}

// checkGoroutines fails when more goroutines run than before (g0) once a
// bounded wait for the last ones to finish is over.
func checkGoroutines(t *testing.T, g0 int) {
	t.Helper()
	deadline := time.Now().Add(fuzzWait)
	for runtime.NumGoroutine() > g0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > g0 {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines left after shutdown (%d before):\n%s", n-g0, g0, buf[:runtime.Stack(buf, true)])
	}
}

// TestFuzzSeedsNoHeapGrowth plays the seed inputs many times: the live
// heap after the last round may not exceed the one after the first by
// more than a bound. (The fuzzer itself allocates as it runs, so this is
// checked here, outside fuzzing.)
func TestFuzzSeedsNoHeapGrowth(t *testing.T) {
	rounds := 150
	if testing.Short() {
		rounds = 20
	}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	// Loopback TCP, not net.Pipe: a pipe's deadlines are timers that keep
	// a closed pipe in memory until they fire (the broker's write timeout
	// is 30 s), which this check would take for a leak.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pair := func() (net.Conn, net.Conn) {
		cli, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		srv, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		return cli, srv
	}
	var h0 uint64
	g0 := runtime.NumGoroutine()
	for i := 0; i < rounds; i++ {
		for _, seed := range fuzzSeeds() {
			playFuzz(t, seed, pair)
		}
		if i == 4 { // after warm-up: pools and caches filled
			h0 = heap()
		}
	}
	checkGoroutines(t, g0)
	if h1 := heap(); h1 > h0+1<<20 {
		t.Errorf("live heap grew from %d to %d bytes over %d rounds of the seeds", h0, h1, rounds-5)
	} else {
		t.Logf("live heap %d -> %d bytes over %d rounds", h0, h1, rounds-5)
	}
}

// playFuzz plays one input and checks the invariants. pair makes the
// client/server connections (nil: net.Pipe).
func playFuzz(t *testing.T, data []byte, pair func() (net.Conn, net.Conn)) {
	if pair == nil {
		pair = net.Pipe
	}
	b, err := broker.New(broker.Options{Authorizer: fuzzAuthorizer, MaxQueued: 200})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	r := &frun{t: t, b: b, sess: map[string]*fsession{}, received: map[string]map[string]bool{}, version: map[string]mqtt.Version{}, topicOf: map[string]string{}, pair: pair}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), fuzzWait)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		for _, c := range r.slots {
			if c != nil {
				c.shut()
			}
		}
	}()
	in := &fuzzBytes{b: data}
	for ops := 0; ops < 48; ops++ {
		op, ok := in.next()
		if !ok {
			break
		}
		if err := r.step(op, in); err != nil {
			t.Fatalf("op %d: %v", ops, err)
		}
	}
	r.finish()
}

// step plays one operation.
func (r *frun) step(op byte, in *fuzzBytes) error {
	slot := int(op/numOps) % len(r.slots)
	c := r.slots[slot]
	live := c != nil && !c.isClosed()
	arg, _ := in.next()
	switch op % numOps {
	case opConnect:
		if live {
			if err := r.drop(slot, false); err != nil {
				return err
			}
		}
		return r.connect(slot, arg)
	case opSubscribe, opUnsubscribe, opPublish, opAck:
		if !live {
			return nil
		}
		switch op % numOps {
		case opSubscribe:
			return r.subscribe(c, fuzzFilters[int(arg&0x0f)%len(fuzzFilters)], byte(arg>>4&3)%3)
		case opUnsubscribe:
			return r.unsubscribe(c, fuzzFilters[int(arg&0x0f)%len(fuzzFilters)])
		case opPublish:
			return r.publish(c, fuzzTopics[int(arg&7)%len(fuzzTopics)], mqtt.QoS(arg>>3&3)%3, arg&0x80 != 0)
		default:
			return r.ack(c)
		}
	case opDisconnect, opClose:
		if !live {
			return nil
		}
		return r.drop(slot, op%numOps == opDisconnect)
	case opGarbage:
		if !live {
			return nil
		}
		n := int(arg%16) + 1
		var junk []byte
		for i := 0; i < n; i++ {
			x, _ := in.next()
			junk = append(junk, x)
		}
		_ = c.sendRaw(junk)
		// Whatever the bytes meant, the session's state is unknown now.
		s := r.session(c.id)
		s.tracked = false
		s.expect = map[string]bool{}
		return r.drop(slot, false)
	case opBadPacket:
		if !live {
			return nil
		}
		return r.badPacket(slot, arg)
	}
	return nil
}

func (c *fconn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// connect opens slot with the CONNECT described by arg: bits 0-1 the
// client id, bit 2 v5, bit 3 clean start, bit 4 session expiry 60 (v5),
// bit 5 a will, bits 6-7 the user (fuzzUsers[id + bits], another user's
// takeover when not 0).
func (r *frun) connect(slot int, arg byte) error {
	idx := int(arg&3) % len(fuzzIDs)
	id := fuzzIDs[idx]
	v := []mqtt.Version{mqtt.V311, mqtt.V5}[arg>>2&1]
	clean := arg&8 != 0
	var expiry uint32
	if arg&16 != 0 {
		expiry = 60
	}
	// Keep alive 0: the broker's read deadline on a net.Pipe would be a
	// 90 s timer holding each closed connection in memory (the heap
	// check would see it); keep alive is tested on TCP (boundary tests).
	cp := &mqtt.Connect{Version: v, ClientID: id, CleanStart: clean}
	user := fuzzUsers[(idx+int(arg>>6))%len(fuzzUsers)]
	if user != "" {
		cp.HasUsername, cp.Username = true, user
	}
	if v == mqtt.V5 && expiry > 0 {
		cp.Props.SetSessionExpiry(expiry)
	}
	if arg&32 != 0 {
		cp.Will = &mqtt.Will{Topic: "will/" + id, Payload: []byte("w"), QoS: 1}
	}
	durable := (v == mqtt.V311 && !clean) || (v == mqtt.V5 && expiry > 0)
	// A takeover closes the slot holding the id; wait for that first.
	var old *fconn
	for _, o := range r.slots {
		if o != nil && o.id == id && !o.isClosed() {
			old = o
		}
	}
	s := r.session(id)
	mustBePresent := !clean && s.exists && s.durable && s.tracked
	c := r.dial(slot, id, user, v)
	if err := c.send(cp); err != nil {
		return fmt.Errorf("CONNECT %s: %v", id, err)
	}
	p, err := c.wait(func(p mqtt.Packet) bool { _, ok := p.(*mqtt.Connack); return ok })
	if err != nil {
		return fmt.Errorf("CONNACK for %s: %v", id, err)
	}
	ca := p.(*mqtt.Connack)
	if ca.Code != mqtt.Success {
		return fmt.Errorf("CONNACK %s for %s", ca.Code, id)
	}
	if old != nil {
		if err := old.waitClosed(); err != nil {
			return fmt.Errorf("takeover: %v", err)
		}
		r.checkBad(old)
		if err := r.settle(); err != nil {
			return err
		}
	}
	if mustBePresent && !ca.SessionPresent {
		return fmt.Errorf("durable session %s resumed with clean start 0: session present 0 [MQTT-3.2.2-2]", id)
	}
	r.version[id] = v
	switch {
	case clean || !ca.SessionPresent:
		s.reset(durable)
	case !s.exists:
		// Present, though the model had no session: a clean session
		// resumed by a takeover (issue 11 item 4). Track it from here.
		s.reset(durable)
	default:
		s.durable = durable
		// Resumed, perhaps by another user: what it may not read is
		// dropped at hand-off (counted), not delivered.
		for payload := range s.expect {
			if forbidden(user, r.topicOf[payload]) {
				delete(s.expect, payload)
			}
		}
	}
	s.user = user
	return nil
}

// dial connects a pipe to the broker in slot.
func (r *frun) dial(slot int, id, user string, v mqtt.Version) *fconn {
	cli, srv := r.pair()
	if err := r.b.ServeConn(srv, "fuzz"); err != nil {
		r.t.Fatalf("ServeConn: %v", err)
	}
	c := &fconn{id: id, user: user, v: v, nc: cli, ch: make(chan struct{}, 1), done: make(chan struct{}),
		async: make(chan []byte, 1024), wdone: make(chan struct{}), onPub: r.onPub}
	go c.read()
	go c.write()
	if old := r.slots[slot]; old != nil {
		old.shut()
		r.checkBad(old)
	}
	r.slots[slot] = c
	return c
}

func (r *frun) checkBad(c *fconn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bad != nil {
		r.t.Fatal(c.bad)
	}
}

func (r *frun) subscribe(c *fconn, filter string, qos byte) error {
	pid := r.nextPID()
	if err := c.send(&mqtt.Subscribe{PacketID: pid, Subscriptions: []mqtt.Subscription{{Filter: filter, QoS: mqtt.QoS(qos)}}}); err != nil {
		return nil // closed under us (e.g. taken over): nothing changed
	}
	p, err := c.wait(func(p mqtt.Packet) bool { a, ok := p.(*mqtt.Suback); return ok && a.PacketID == pid })
	if err != nil {
		return r.lost(c, err, "SUBACK")
	}
	code := p.(*mqtt.Suback).Codes[0]
	if code.IsError() || code > 2 {
		return fmt.Errorf("SUBSCRIBE %q QoS %d refused: %s", filter, qos, code)
	}
	if s := r.session(c.id); s.tracked && !strings.HasPrefix(filter, "$share/") {
		s.subs[filter] = byte(code)
	}
	return nil
}

func (r *frun) unsubscribe(c *fconn, filter string) error {
	pid := r.nextPID()
	if err := c.send(&mqtt.Unsubscribe{PacketID: pid, Filters: []string{filter}}); err != nil {
		return nil
	}
	if _, err := c.wait(func(p mqtt.Packet) bool { a, ok := p.(*mqtt.Unsuback); return ok && a.PacketID == pid }); err != nil {
		return r.lost(c, err, "UNSUBACK")
	}
	delete(r.session(c.id).subs, filter)
	return nil
}

// publish sends a message with a unique payload and, for QoS 1/2, waits
// for the acknowledgement; an acknowledged message becomes an expectation
// of every tracked session with a matching subscription.
func (r *frun) publish(c *fconn, topic string, qos mqtt.QoS, retain bool) error {
	r.msgs++
	payload := fmt.Sprintf("m%d", r.msgs)
	r.topicOf[payload] = topic
	p := &mqtt.Publish{Topic: topic, Payload: []byte(payload), QoS: qos, Retain: retain}
	if qos > 0 {
		p.PacketID = r.nextPID()
	}
	if err := c.send(p); err != nil {
		return nil
	}
	switch qos {
	case 0:
		if err := c.send(&mqtt.Pingreq{}); err != nil {
			return nil
		}
		_, err := c.wait(func(p mqtt.Packet) bool { _, ok := p.(*mqtt.Pingresp); return ok })
		return r.lost(c, err, "PINGRESP")
	case 1:
		a, err := c.wait(func(x mqtt.Packet) bool {
			a, ok := x.(*mqtt.Ack)
			return ok && a.Kind == mqtt.PUBACK && a.PacketID == p.PacketID
		})
		if err != nil {
			return r.lost(c, err, "PUBACK")
		}
		if a.(*mqtt.Ack).Code.IsError() {
			return nil
		}
	case 2:
		a, err := c.wait(func(x mqtt.Packet) bool {
			a, ok := x.(*mqtt.Ack)
			return ok && a.Kind == mqtt.PUBREC && a.PacketID == p.PacketID
		})
		if err != nil {
			return r.lost(c, err, "PUBREC")
		}
		if a.(*mqtt.Ack).Code.IsError() {
			return nil
		}
		// The PUBREC acknowledged it (the broker owns it now).
		if err := c.send(&mqtt.Ack{Kind: mqtt.PUBREL, PacketID: p.PacketID}); err == nil {
			if _, err := c.wait(func(x mqtt.Packet) bool {
				a, ok := x.(*mqtt.Ack)
				return ok && a.Kind == mqtt.PUBCOMP && a.PacketID == p.PacketID
			}); err != nil {
				if lerr := r.lost(c, err, "PUBCOMP"); lerr != nil {
					return lerr
				}
			}
		}
	}
	if qos == 0 {
		return nil
	}
	for _, s := range r.sess {
		if !s.exists || !s.tracked {
			continue
		}
		best := -1
		for f, q := range s.subs {
			if matchFilter(f, topic) && int(q) > best {
				best = int(q)
			}
		}
		if best >= 1 && !forbidden(s.user, topic) {
			s.expect[payload] = true
		}
	}
	return nil
}

// ack acknowledges every QoS 1/2 PUBLISH received on c so far.
func (r *frun) ack(c *fconn) error {
	c.mu.Lock()
	todo := c.unacked
	c.unacked = nil
	c.mu.Unlock()
	for _, p := range todo {
		kind := mqtt.PUBACK
		if p.QoS == 2 {
			kind = mqtt.PUBREC
		}
		if err := c.send(&mqtt.Ack{Kind: kind, PacketID: p.PacketID}); err != nil {
			return nil
		}
	}
	return nil
}

// drop ends slot's connection: with DISCONNECT or abruptly. It waits
// until the broker is done with it, and ends a non-durable session in
// the model.
func (r *frun) drop(slot int, polite bool) error {
	c := r.slots[slot]
	if polite {
		_ = c.send(&mqtt.Disconnect{})
		if err := c.waitClosed(); err != nil {
			return fmt.Errorf("after DISCONNECT: %v", err)
		}
	}
	c.shut()
	r.checkBad(c)
	r.gone(c)
	return r.settle()
}

// gone updates the model for a connection that ended.
func (r *frun) gone(c *fconn) {
	for _, o := range r.slots {
		if o != nil && o != c && o.id == c.id && !o.isClosed() {
			return // taken over: the session lives on with the other one
		}
	}
	if s := r.session(c.id); s.exists && !s.durable {
		s.end()
	}
}

// settle waits until the broker has handled every connection that ended:
// as many clients connected as the model has live connections.
func (r *frun) settle() error {
	live := 0
	for _, c := range r.slots {
		if c != nil && !c.isClosed() {
			live++
		}
	}
	deadline := time.Now().Add(fuzzWait)
	for r.b.Stats().ClientsConnected != int64(live) {
		if time.Now().After(deadline) {
			return fmt.Errorf("broker still counts %d connected clients, want %d", r.b.Stats().ClientsConnected, live)
		}
		time.Sleep(50 * time.Microsecond)
	}
	return nil
}

// lost handles a wait that failed: a closed connection is not an error
// for the operations where the broker may close (it then ended for
// reasons of its own: the model treats it as an abrupt close); a timeout
// is.
func (r *frun) lost(c *fconn, err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, errClosed) {
		<-c.done
		r.gone(c)
		return r.settle()
	}
	return fmt.Errorf("waiting for %s: %v", what, err)
}

// badPacket sends a packet that violates the protocol; the broker must
// close the connection (and keeps a durable session as it was).
func (r *frun) badPacket(slot int, arg byte) error {
	c := r.slots[slot]
	bad := [][]byte{
		mustAppend(&mqtt.Connect{Version: c.v, ClientID: c.id}, c.v), // a second CONNECT [MQTT-3.1.0-2]
		{0x36, 0x05, 0x00, 0x01, 't', 0x00, 0x01},                    // PUBLISH QoS 3 [MQTT-3.3.1-4]
		{0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 't', 0x00},              // SUBSCRIBE with flags 0000 [MQTT-3.8.1-1]
		{0x60, 0x02, 0x00, 0x01},                                     // PUBREL with flags 0000 [MQTT-3.6.1-1]
		{0x30, 0x04, 0x00, 0x02, 't', '+'},                           // PUBLISH to a wildcard topic [MQTT-3.3.2-2]
		{0xF0, 0x00},                                                 // reserved packet type 15 (3.1.1)
	}
	pkt := bad[int(arg)%len(bad)]
	if c.v == mqtt.V5 && pkt[0] == 0xF0 {
		pkt = []byte{0x00, 0x00} // reserved packet type 0
	}
	if c.v == mqtt.V5 && pkt[0] == 0x80 {
		pkt = []byte{0x80, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 't', 0x00}
	}
	if c.v == mqtt.V5 && (pkt[0] == 0x30 || pkt[0] == 0x36) {
		pkt = append([]byte{pkt[0], pkt[1] + 1}, pkt[2:]...)
		if pkt[0] == 0x36 {
			pkt = append(pkt[:6:6], append([]byte{0}, pkt[6:]...)...) // props after the packet id
		} else {
			pkt = append(pkt, 0) // empty property block (position is irrelevant to the error)
		}
	}
	if err := c.sendRaw(pkt); err != nil {
		return nil // closed already
	}
	if err := c.waitClosed(); err != nil {
		return fmt.Errorf("invalid packet % x: %v (a protocol violation must close the connection)", pkt, err)
	}
	r.checkBad(c)
	r.gone(c)
	return r.settle()
}

func mustAppend(p mqtt.Packet, v mqtt.Version) []byte {
	b, err := mqtt.Append(nil, p, v)
	if err != nil {
		panic(err)
	}
	return b
}

// finish drains every session that must still hold messages and checks
// that every expected message arrived or was counted as dropped.
func (r *frun) finish() {
	t := r.t
	for _, c := range r.slots {
		if c != nil && !c.isClosed() {
			r.drain(c)
		}
		if c != nil {
			r.checkBad(c)
		}
	}
	for id, s := range r.sess {
		if !s.exists || !s.durable || !s.tracked || len(s.expect) == 0 || r.connected(id) {
			continue
		}
		slot := r.freeSlot()
		v := r.version[id]
		cp := &mqtt.Connect{Version: v, ClientID: id, CleanStart: false}
		if s.user != "" { // the last user: nothing of the session is dropped for the ACL now
			cp.HasUsername, cp.Username = true, s.user
		}
		if v == mqtt.V5 {
			cp.Props.SetSessionExpiry(60)
		}
		c := r.dial(slot, id, s.user, v)
		if err := c.send(cp); err != nil {
			t.Fatalf("drain CONNECT %s: %v", id, err)
		}
		p, err := c.wait(func(p mqtt.Packet) bool { _, ok := p.(*mqtt.Connack); return ok })
		if err != nil {
			t.Fatalf("drain CONNACK %s: %v", id, err)
		}
		if !p.(*mqtt.Connack).SessionPresent {
			t.Fatalf("durable session %s not present at the end [MQTT-3.2.2-2]", id)
		}
		r.drain(c)
		r.checkBad(c)
	}
	missing := 0
	var lost []string
	r.rmu.Lock()
	for id, s := range r.sess {
		if !s.exists || !s.tracked {
			continue
		}
		for payload := range s.expect {
			if !r.received[id][payload] {
				missing++
				lost = append(lost, id+":"+payload)
			}
		}
	}
	r.rmu.Unlock()
	if os.Getenv("MQKIT_FUZZ_DEBUG") != "" {
		exp := 0
		for id, s := range r.sess {
			exp += len(s.expect)
			t.Logf("session %s: %+v received %v", id, *s, r.received[id])
		}
		t.Logf("expected %d, missing %d", exp, missing)
	}
	if dropped := r.b.Stats().PublishDropped; int64(missing) > dropped {
		t.Fatalf("acknowledged QoS 1/2 messages neither delivered nor counted as dropped: %v (dropped counter %d)", lost, dropped)
	}
}

func (r *frun) connected(id string) bool {
	for _, c := range r.slots {
		if c != nil && c.id == id && !c.isClosed() {
			return true
		}
	}
	return false
}

func (r *frun) freeSlot() int {
	for i, c := range r.slots {
		if c == nil || c.isClosed() {
			return i
		}
	}
	return 0
}

// drain acknowledges and syncs until the broker has nothing more for c.
func (r *frun) drain(c *fconn) {
	for round := 0; round < 50; round++ {
		c.mu.Lock()
		before := len(c.unacked)
		c.mu.Unlock()
		_ = r.ack(c)
		if err := c.send(&mqtt.Pingreq{}); err != nil {
			return
		}
		if _, err := c.wait(func(p mqtt.Packet) bool { _, ok := p.(*mqtt.Pingresp); return ok }); err != nil {
			if errors.Is(err, errClosed) {
				return
			}
			r.t.Fatalf("drain %s: %v", c.id, err)
		}
		c.mu.Lock()
		after := len(c.unacked)
		c.mu.Unlock()
		if before == 0 && after == 0 {
			return
		}
	}
}

// matchFilter is the test's own topic matcher (MQTT 5.0 section 4.7), so
// the oracle does not use the broker's trie.
func matchFilter(filter, topic string) bool {
	fl, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	if strings.HasPrefix(topic, "$") && (fl[0] == "#" || fl[0] == "+") {
		return false // [MQTT-4.7.2-1]
	}
	for i, f := range fl {
		if f == "#" {
			return true
		}
		if i >= len(tl) || (f != "+" && f != tl[i]) {
			return false
		}
	}
	return len(fl) == len(tl)
}

// fuzzSeeds are sequences worth starting from; the same sequences are
// the seed corpus in testdata/fuzz/FuzzBrokerSessions.
func fuzzSeeds() [][]byte {
	o := func(op, slot int) byte { return byte(slot*numOps + op) }
	// Operation arguments, as step decodes them.
	conn := func(id int, v5, clean, expiry, will bool) byte {
		b := byte(id)
		for i, f := range []bool{v5, clean, expiry, will} {
			if f {
				b |= 4 << i
			}
		}
		return b
	}
	sub := func(filter string, qos byte) byte {
		for i, f := range fuzzFilters {
			if f == filter {
				return byte(i) | qos<<4
			}
		}
		panic(filter)
	}
	pub := func(topic string, qos byte, retain bool) byte {
		for i, tp := range fuzzTopics {
			if tp == topic {
				b := byte(i) | qos<<3
				if retain {
					b |= 0x80
				}
				return b
			}
		}
		panic(topic)
	}
	const a, b, c = 0, 1, 2
	const alice = 2 << 6 // with id b (bob's): fuzzUsers[(1+2)%3] = alice
	return [][]byte{
		// alice (v3.1.1, durable) subscribes to #; bob publishes QoS 1 and
		// 2 to t/a and secret/x; alice goes away abruptly, bob publishes
		// more; alice comes back and acknowledges.
		{o(opConnect, 0), conn(a, false, false, false, false), o(opSubscribe, 0), sub("#", 1),
			o(opConnect, 1), conn(b, false, true, false, false),
			o(opPublish, 1), pub("t/a", 1, false), o(opPublish, 1), pub("secret/x", 1, false),
			o(opClose, 0), 0, o(opPublish, 1), pub("t/b", 2, false), o(opPublish, 1), pub("t/a/b", 1, false),
			o(opConnect, 0), conn(a, false, false, false, false), o(opAck, 0), 0},
		// v5 durable c with a will, shared and plain subscriptions, taken
		// over by another slot with clean start 0.
		{o(opConnect, 0), conn(c, true, true, true, true), o(opSubscribe, 0), sub("$share/g/t/#", 2),
			o(opSubscribe, 0), sub("t/#", 2), o(opConnect, 1), conn(b, true, true, false, false),
			o(opPublish, 1), pub("t/a", 2, false), o(opConnect, 2), conn(c, true, false, true, false),
			o(opPublish, 1), pub("t/b", 1, true), o(opAck, 2), 0, o(opDisconnect, 2), 0},
		// Invalid packets and garbage.
		{o(opConnect, 0), conn(b, false, false, false, false), o(opSubscribe, 0), sub("t/+", 1),
			o(opConnect, 1), conn(a, true, false, true, false), o(opBadPacket, 1), 1,
			o(opConnect, 1), conn(a, true, false, false, false),
			o(opGarbage, 1), 3, 0x30, 0xff, 0xff, 0xff, o(opConnect, 2), conn(c, false, true, false, false),
			o(opBadPacket, 2), 0, o(opPublish, 0), pub("t/a", 1, false)},
		// Retained messages, unsubscribe, clean start over a durable session.
		{o(opConnect, 0), conn(b, false, true, false, false), o(opPublish, 0), pub("t/a", 1, true),
			o(opPublish, 0), pub("secret/x", 2, true), o(opConnect, 1), conn(a, false, false, false, false),
			o(opSubscribe, 1), sub("#", 1), o(opUnsubscribe, 1), sub("#", 0),
			o(opConnect, 1), conn(a, false, true, false, false), o(opSubscribe, 1), sub("t/+", 2),
			o(opPublish, 0), pub("t/a", 2, false), o(opAck, 1), 0},
		// Durable v5 subscriber offline while QoS 2 messages queue up.
		{o(opConnect, 2), conn(c, true, true, true, false), o(opSubscribe, 2), sub("t/#", 2), o(opDisconnect, 2), 0,
			o(opConnect, 0), conn(a, false, true, false, false), o(opPublish, 0), pub("t/a", 2, false),
			o(opPublish, 0), pub("t/a/b", 1, false), o(opPublish, 0), pub("t/b", 2, true),
			o(opConnect, 1), conn(c, true, false, true, false), o(opClose, 1), 0},
		// Another user takes a durable session over (conn(...)|alice: bits
		// 6-7 = 2 make id b's user alice): bob's queued messages on
		// secret/x must not reach her, t/a must.
		{o(opConnect, 0), conn(b, false, false, false, false), o(opSubscribe, 0), sub("secret/#", 1),
			o(opSubscribe, 0), sub("t/#", 1), o(opDisconnect, 0), 0,
			o(opConnect, 1), conn(c, false, true, false, false), o(opPublish, 1), pub("secret/x", 1, false),
			o(opPublish, 1), pub("t/a", 2, false), o(opPublish, 1), pub("secret/x", 2, true),
			o(opConnect, 0), conn(b, false, false, false, false) | alice, o(opAck, 0), 0},
		// The same with bob's messages in flight (not acknowledged) when
		// alice takes over while he is connected, v5.
		{o(opConnect, 0), conn(b, true, false, true, false), o(opSubscribe, 0), sub("#", 2),
			o(opConnect, 1), conn(c, true, true, false, false), o(opPublish, 1), pub("secret/x", 1, false),
			o(opPublish, 1), pub("secret/x", 2, false), o(opPublish, 1), pub("t/b", 1, false),
			o(opConnect, 2), conn(b, true, false, true, false) | alice, o(opAck, 2), 0,
			o(opPublish, 1), pub("secret/x", 1, false), o(opPublish, 1), pub("t/a", 1, false)},
	}
}

// TestFuzzSeedCorpusFiles keeps testdata/fuzz/FuzzBrokerSessions in step
// with fuzzSeeds (MQKIT_WRITE_SEEDS=1 rewrites the files).
func TestFuzzSeedCorpusFiles(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzBrokerSessions")
	for i, seed := range fuzzSeeds() {
		path := filepath.Join(dir, fmt.Sprintf("seed-%d", i))
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seed)
		if os.Getenv("MQKIT_WRITE_SEEDS") == "1" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s is not fuzzSeeds()[%d] (run with MQKIT_WRITE_SEEDS=1): %v", path, i, err)
		}
	}
}
