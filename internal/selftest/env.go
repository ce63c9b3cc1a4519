package selftest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// quietPeriod is how long a check waits, after its barrier, for something
// that must not happen.
const quietPeriod = 300 * time.Millisecond

// inboxSize bounds the messages a connection buffers for its check; more
// are counted and dropped.
const inboxSize = 256

// env is one check's state: its deadline, connections and what it must
// clean up.
type env struct {
	r     *Runner
	ctx   context.Context
	index int
	topic string // prefix/<check name>

	conns    []*conn
	retained []string     // topics that may hold a retained message
	sessions []sessionRef // persistent sessions to remove
}

type sessionRef struct {
	id string
	v  mqtt.Version
}

// conn is one client connection of a check.
type conn struct {
	*client.Client
	role string
	in   *inbox
	rec  *recorder
}

// inbox buffers the application messages of one connection.
type inbox struct {
	ch chan *mqtt.Publish
	// keep, when set, decides which messages are buffered; the others are
	// only counted (the "#" subscriber sees the whole broker).
	keep    func(*mqtt.Publish) bool
	dropped atomic.Int64
}

func (b *inbox) put(p *mqtt.Publish) bool {
	if b.keep != nil && !b.keep(p) {
		return true
	}
	select {
	case b.ch <- p:
	default:
		b.dropped.Add(1)
	}
	return true
}

// recorder counts the packets of one connection by direction and type.
type recorder struct {
	mu     sync.Mutex
	counts map[recKey]int
	// aliasOnly counts PUBLISH packets sent with an empty topic (a topic
	// alias only).
	aliasOnly int
	changed   chan struct{} // capacity 1: something was recorded
}

type recKey struct {
	sent bool
	kind mqtt.PacketType
}

func newRecorder() *recorder {
	return &recorder{counts: make(map[recKey]int), changed: make(chan struct{}, 1)}
}

func (r *recorder) trace(ev client.TraceEvent) {
	kind := ev.Packet.Type()
	r.mu.Lock()
	r.counts[recKey{ev.Sent, kind}]++
	if p, ok := ev.Packet.(*mqtt.Publish); ok && ev.Sent && p.Topic == "" {
		r.aliasOnly++
	}
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) count(sent bool, kind mqtt.PacketType) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[recKey{sent, kind}]
}

func (r *recorder) aliasOnlySent() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.aliasOnly
}

// option adjusts the client options of one connection.
type option func(*client.Options)

func cleanStart(b bool) option { return func(o *client.Options) { o.Connect.CleanStart = b } }

func sessionExpiry(s uint32) option {
	return func(o *client.Options) { o.Connect.Props.SetSessionExpiry(s) }
}

func receiveMaximum(n uint16) option {
	return func(o *client.Options) { o.Connect.Props.SetReceiveMaximum(n) }
}

func manualAck() option { return func(o *client.Options) { o.ManualAck = true } }

func endpoint(ep client.Endpoint) option { return func(o *client.Options) { o.Endpoint = ep } }

func will(topic, payload string, qos mqtt.QoS) option {
	return func(o *client.Options) {
		o.Connect.Will = &mqtt.Will{Topic: topic, Payload: []byte(payload), QoS: qos}
	}
}

// keepOnly buffers only the messages keep accepts.
func keepOnly(keep func(*mqtt.Publish) bool) func(*inbox) {
	return func(b *inbox) { b.keep = keep }
}

// dial connects a client of the given role ("sub", "pub", ... at most 9
// characters) and protocol version. It is closed by the cleanup.
func (e *env) dial(role string, v mqtt.Version, opts ...option) (*conn, error) {
	return e.dialInbox(role, v, nil, opts...)
}

// dialAll connects one client per role, all with protocol version v.
func (e *env) dialAll(v mqtt.Version, roles ...string) ([]*conn, error) {
	cs := make([]*conn, len(roles))
	for i, r := range roles {
		c, err := e.dial(r, v)
		if err != nil {
			return nil, err
		}
		cs[i] = c
	}
	return cs, nil
}

func (e *env) dialInbox(role string, v mqtt.Version, setup func(*inbox), opts ...option) (*conn, error) {
	c := &conn{role: role, in: &inbox{ch: make(chan *mqtt.Publish, inboxSize)}, rec: newRecorder()}
	if setup != nil {
		setup(c.in)
	}
	o := e.r.options(e.r.clientID(e.index, role), v)
	o.OnMessage = c.in.put
	o.Trace = c.rec.trace
	if d, ok := e.ctx.Deadline(); ok {
		o.ConnectTimeout = max(time.Until(d), time.Millisecond)
	}
	for _, f := range opts {
		f(&o)
	}
	cl, err := client.Connect(e.ctx, o)
	if err != nil {
		return nil, fmt.Errorf("connect %s (MQTT %s): %w", role, v, e.explain(err, "CONNACK"))
	}
	c.Client = cl
	e.conns = append(e.conns, c)
	return c, nil
}

// explain turns the check's deadline into a readable error.
func (e *env) explain(err error, waitingFor string) error {
	if errors.Is(err, context.DeadlineExceeded) || e.ctx.Err() != nil {
		var te *client.TimeoutError
		if errors.As(err, &te) {
			waitingFor = te.Op
		}
		return fmt.Errorf("no %s within %s", waitingFor, e.timeout())
	}
	return err
}

func (e *env) timeout() time.Duration {
	return e.r.cfg.Timeout
}

// keepSession records a persistent session to remove at cleanup.
func (e *env) keepSession(role string, v mqtt.Version) {
	e.sessions = append(e.sessions, sessionRef{id: e.r.clientID(e.index, role), v: v})
}

// keepRetained records a topic whose retained message the cleanup clears.
func (e *env) keepRetained(topic string) { e.retained = append(e.retained, topic) }

// publishRetained publishes a fresh payload tagged tag as a retained QoS 1
// message on topic (cleared again by the cleanup) and returns the payload.
func (e *env) publishRetained(c *conn, topic, tag string) ([]byte, error) {
	e.keepRetained(topic)
	data := payload(tag)
	return data, e.publish(c, &mqtt.Publish{Topic: topic, Payload: data, QoS: 1, Retain: true})
}

// subscribe sends one SUBSCRIBE and fails on a refused filter. It returns
// the granted QoS of each filter.
func (e *env) subscribe(c *conn, props *mqtt.Properties, subs ...mqtt.Subscription) ([]mqtt.ReasonCode, error) {
	s := &mqtt.Subscribe{Subscriptions: subs}
	if props != nil {
		s.Props = *props
	}
	ack, err := c.Subscribe(e.ctx, s)
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", c.role, e.connErr(c, err, "SUBACK"))
	}
	if err := client.SubackErr(s, ack); err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", c.role, err)
	}
	return ack.Codes, nil
}

// sub subscribes to filter at qos.
func (e *env) sub(c *conn, filter string, qos mqtt.QoS) error {
	_, err := e.subscribe(c, nil, mqtt.Subscription{Filter: filter, QoS: qos})
	return err
}

// publish sends p and waits for the end of its flow (PUBACK, PUBCOMP).
func (e *env) publish(c *conn, p *mqtt.Publish) error {
	tok, err := c.Publish(e.ctx, p)
	if err == nil {
		err = tok.Wait(e.ctx)
	}
	if err != nil {
		what := "PUBACK"
		if p.QoS == 2 {
			what = "PUBCOMP"
		}
		return fmt.Errorf("publish QoS %d by %s: %w", p.QoS, c.role, e.connErr(c, err, what))
	}
	return nil
}

// connErr explains err of an operation on c: the deadline, or why the
// connection ended.
func (e *env) connErr(c *conn, err error, waitingFor string) error {
	select {
	case <-c.Done():
		if cerr := c.Err(); cerr != nil {
			return fmt.Errorf("connection ended: %w", cerr)
		}
	default:
	}
	return e.explain(err, waitingFor)
}

// next returns the next message c received, failing at the deadline or
// when the connection ends.
func (e *env) next(c *conn, what string) (*mqtt.Publish, error) {
	select {
	case p := <-c.in.ch:
		return p, nil
	default:
	}
	select {
	case p := <-c.in.ch:
		return p, nil
	case <-c.Done():
		select {
		case p := <-c.in.ch:
			return p, nil
		default:
		}
		return nil, fmt.Errorf("%s: connection ended before %s: %v", c.role, what, c.Err())
	case <-e.ctx.Done():
		return nil, fmt.Errorf("%s: no %s within %s", c.role, what, e.timeout())
	}
}

// until returns the messages c receives up to and including the first
// one match accepts.
func (e *env) until(c *conn, what string, match func(*mqtt.Publish) bool) ([]*mqtt.Publish, error) {
	var got []*mqtt.Publish
	for {
		p, err := e.next(c, what)
		if err != nil {
			return got, err
		}
		got = append(got, p)
		if match(p) {
			return got, nil
		}
	}
}

// expect returns the next message and checks its topic and payload.
func (e *env) expect(c *conn, topic string, payload []byte) (*mqtt.Publish, error) {
	p, err := e.next(c, "message on "+topic)
	if err != nil {
		return nil, err
	}
	if p.Topic != topic || !bytes.Equal(p.Payload, payload) {
		return nil, fmt.Errorf("%s: expected %q on %s, received %s", c.role, payload, topic, describe(p))
	}
	return p, nil
}

// waitPacket waits until c has sent (or received) n packets of kind.
func (e *env) waitPacket(c *conn, sent bool, kind mqtt.PacketType, n int) error {
	for c.rec.count(sent, kind) < n {
		select {
		case <-c.rec.changed:
		case <-e.ctx.Done():
			dir := "received"
			if sent {
				dir = "sent"
			}
			return fmt.Errorf("%s %s no %s within %s", c.role, dir, kind, e.timeout())
		}
	}
	return nil
}

// quiet waits quietPeriod (bounded by the deadline) for something that
// must not happen; the caller then looks whether it did.
func (e *env) quiet() {
	t := time.NewTimer(quietPeriod)
	defer t.Stop()
	select {
	case <-t.C:
	case <-e.ctx.Done():
	}
}

// sleep waits d, or fails at the deadline.
func (e *env) sleep(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-e.ctx.Done():
		return fmt.Errorf("deadline reached while waiting %s", d)
	}
}

// cleanup closes the check's connections and removes the retained
// messages and sessions it created, within its own deadline.
func (e *env) cleanup(parent context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), e.r.cfg.Timeout)
	defer cancel()
	var errs []error
	for _, c := range e.conns {
		dctx, dcancel := context.WithTimeout(ctx, time.Second)
		_ = c.Disconnect(dctx, nil) // already closed is fine
		dcancel()
	}
	if len(e.retained) > 0 {
		o := e.r.options(e.r.clientID(e.index, "clean"), mqtt.V311)
		o.ConnectTimeout = e.r.cfg.Timeout
		c, err := client.Connect(ctx, o)
		if err != nil {
			errs = append(errs, fmt.Errorf("retained messages not removed: %w", err))
		} else {
			for _, t := range e.retained {
				tok, err := c.Publish(ctx, &mqtt.Publish{Topic: t, QoS: 1, Retain: true})
				if err == nil {
					err = tok.Wait(ctx)
				}
				if err != nil {
					if ctx.Err() != nil {
						err = fmt.Errorf("no PUBACK within %s", e.timeout())
					}
					errs = append(errs, fmt.Errorf("retained message on %s not removed: %w", t, err))
					break
				}
			}
			_ = c.Disconnect(ctx, nil)
		}
	}
	for _, s := range e.sessions {
		o := e.r.options(s.id, s.v) // clean start, v5 session expiry 0
		o.ConnectTimeout = e.r.cfg.Timeout
		c, err := client.Connect(ctx, o)
		if err != nil {
			errs = append(errs, fmt.Errorf("session %s not removed: %w", s.id, err))
			continue
		}
		_ = c.Disconnect(ctx, nil)
	}
	return errors.Join(errs...)
}

// payload returns a fresh random payload naming what it is.
func payload(what string) []byte {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return []byte(what + "-" + hex.EncodeToString(b[:]))
}

// describe shows a received message in an error.
func describe(p *mqtt.Publish) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q on %s (QoS %d", p.Payload, p.Topic, p.QoS)
	if p.Retain {
		b.WriteString(", retained")
	}
	b.WriteString(")")
	return b.String()
}
