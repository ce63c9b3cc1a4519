package broker

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Observation: what monitoring (internal/web: the live view, /metrics)
// sees of the broker. Nothing here runs on the hot paths unless someone
// asked for it: an Observer costs one atomic load per routed message when
// none is set, and packet tracing one atomic load per packet when no
// client is watched.

// Message is an application message the broker routed: a client's
// PUBLISH, a will, or one of the broker's own ($SYS). It is immutable
// and must not be modified. The broker passes the message it routes (no
// copy, no allocation), whose memory it reuses once routed, written and
// acknowledged (message_ref.go): an Observer may use it, its topic and
// its payload during the call only, unless it holds it (Hold, then
// Release once done with it).
type Message message

// Hold keeps m (its topic and payload too) valid until Release.
func (m *Message) Hold() { (*message)(m).hold() }

// Release ends a Hold: m may be reused from then on.
func (m *Message) Release() { (*message)(m).release() }

func (m *Message) Topic() string   { return m.topic }
func (m *Message) Payload() []byte { return m.payload }
func (m *Message) QoS() byte       { return byte(m.qos) }
func (m *Message) Retain() bool    { return m.retain }

// From is the publisher's client id, "" for the broker's own messages.
func (m *Message) From() string { return m.fromID }

// Trimmed returns a copy of m whose payload is cut to at most n bytes
// (m itself when it is not longer).
func (m *Message) Trimmed(n int) *Message {
	if len(m.payload) <= n {
		return m
	}
	c := &Message{topic: m.topic, payload: append([]byte(nil), m.payload[:n]...), qos: m.qos, retain: m.retain, fromID: m.fromID}
	return c
}

// PacketEvent is one step of a watched client's conversation with the
// broker (see WatchClient). Packet is the control packet type
// ("CONNECT", "PUBLISH", "PUBACK", ...) or one of the pseudo events
// "WILL" (its will was published, Out false) and "CLOSED" (the network
// connection ended; Detail says why).
type PacketEvent struct {
	Time     time.Time
	ClientID string
	Out      bool // broker to client
	Packet   string
	PacketID uint16
	QoS      byte
	Retain   bool
	Dup      bool
	Code     byte // reason code (v5), CONNACK return code (3.1.1)
	Topic    string
	Detail   string
}

// Observer receives the broker's events. Its methods are called on the
// broker's goroutines, with broker locks held: they must be fast and must
// not call back into the broker.
type Observer interface {
	Message(*Message)
	Packet(PacketEvent)
}

// TopicCacher is an Observer that keeps something per topic (the web
// view's topic tree) and would otherwise look it up, and write memory
// other goroutines read, for every message. The broker calls
// MessageCached instead of Message for each PUBLISH a client's
// connection handles, with what MessageCached returned for that
// client's previous one (nil at first; a client may have changed topics
// since), and FlushCached with that value once the connection's reader
// has handled the input it had (before it waits for more, or for room
// for a paused publish). Between the two, MessageCached may keep what it
// learns in that value alone, which only this reader touches: a client
// publishing to one topic costs no lookup and no shared write per
// message, and what it published is published to the Observer's own
// readers once per batch. The value returned must always be of one
// concrete type (or nil: keep nothing new).
type TopicCacher interface {
	MessageCached(m *Message, last any) any
	FlushCached(last any)
}

// obsBox boxes an Observer for atomic.Pointer.
type obsBox struct {
	o Observer
	c TopicCacher // o, when it is one
}

// observeState is the Broker's observation state.
type observeState struct {
	obs     atomic.Pointer[obsBox]
	mu      sync.Mutex     // guards watch
	watch   map[string]int // client id -> watchers
	watched atomic.Pointer[map[string]int]
}

// SetObserver installs o (nil removes it).
func (b *Broker) SetObserver(o Observer) {
	if o == nil {
		b.observe.obs.Store(nil)
		return
	}
	c, _ := o.(TopicCacher)
	b.observe.obs.Store(&obsBox{o: o, c: c})
}

func (b *Broker) observer() Observer {
	if x := b.observe.obs.Load(); x != nil {
		return x.o
	}
	return nil
}

// WatchClient makes the broker report the packets of the client with
// this id to the Observer (PacketEvent) until stop is called. Several
// watchers of one client are counted.
func (b *Broker) WatchClient(id string) (stop func()) {
	o := &b.observe
	change := func(d int) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.watch == nil {
			o.watch = map[string]int{}
		}
		o.watch[id] += d
		if o.watch[id] <= 0 {
			delete(o.watch, id)
		}
		if len(o.watch) == 0 {
			o.watched.Store(nil)
			return
		}
		m := make(map[string]int, len(o.watch))
		for k, v := range o.watch {
			m[k] = v
		}
		o.watched.Store(&m)
	}
	change(1)
	var once sync.Once
	return func() { once.Do(func() { change(-1) }) }
}

// tracing reports whether the packets of client id are watched.
func (b *Broker) tracing(id string) bool {
	m := b.observe.watched.Load()
	if m == nil {
		return false
	}
	_, ok := (*m)[id]
	return ok
}

// trace reports a packet of c's client when it is watched.
func (c *conn) trace(ev PacketEvent) {
	if c.b.observe.watched.Load() == nil || !c.b.tracing(c.clientID()) {
		return
	}
	o := c.b.observer()
	if o == nil {
		return
	}
	ev.Time = time.Now()
	ev.ClientID = c.clientID()
	o.Packet(ev)
}

// traceAck reports an acknowledgement packet.
func (c *conn) traceAck(out bool, kind mqtt.PacketType, pid uint16, code mqtt.ReasonCode) {
	if c.b.observe.watched.Load() == nil {
		return
	}
	c.trace(PacketEvent{Out: out, Packet: kind.String(), PacketID: pid, Code: byte(code)})
}

// tracePublish reports a PUBLISH.
func (c *conn) tracePublish(out bool, m *message, qos mqtt.QoS, retain, dup bool, pid uint16) {
	if c.b.observe.watched.Load() == nil {
		return
	}
	c.trace(PacketEvent{Out: out, Packet: "PUBLISH", PacketID: pid, QoS: byte(qos), Retain: retain, Dup: dup,
		Topic: strings.Clone(m.topic), Detail: payloadPreview(m.payload)}) // kept: not the body's (message_ref.go)
}

// traceLog turns the -v log lines of packets that are handled in the
// connection's I/O core (PINGREQ) into packet events.
func (c *conn) traceLog(format string) {
	switch format {
	case "Received PINGREQ from %s":
		c.trace(PacketEvent{Packet: "PINGREQ"})
		// The PINGRESP is queued right after [MQTT-3.12.4-1].
		c.trace(PacketEvent{Out: true, Packet: "PINGRESP"})
	}
}

// traceDisconnect reports the client's DISCONNECT with its reason code:
// v5's [MQTT-3.14.2-1], 0 for 3.1/3.1.1, whose DISCONNECT has none.
func (c *conn) traceDisconnect(p *mqtt.Disconnect) {
	if c.b.observe.watched.Load() == nil {
		return
	}
	var d string
	switch {
	case c.version != mqtt.V5:
		d = "MQTT " + c.version.String() + ": no reason code"
	case p.Code == mqtt.Success:
		d = "normal disconnection"
	default:
		d = p.Code.String()
	}
	if c.version == mqtt.V5 && p.Props.Has(mqtt.PropSessionExpiry) {
		d += fmt.Sprintf(", session expiry %d s", p.Props.SessionExpiry)
	}
	c.trace(PacketEvent{Packet: "DISCONNECT", Code: byte(p.Code), Detail: d})
}

// traceServerDisconnect reports the DISCONNECT the server sent before
// closing (close queued it), with its reason code.
func (c *conn) traceServerDisconnect() {
	if code := c.closeCode; code != 0 {
		c.trace(PacketEvent{Out: true, Packet: "DISCONNECT", Code: byte(code), Detail: code.String()})
	}
}

func payloadPreview(p []byte) string {
	const max = 64
	if len(p) > max {
		p = p[:max]
	}
	return string(p)
}

// observeMessage reports a routed message to the Observer. c is the
// connection whose reader handles the client's PUBLISH (nil for the
// messages the broker makes: wills, $SYS, the http publish form): its
// messages go to the TopicCacher with the value kept for its client
// (obsCell), flushed by observeFlush.
func (b *Broker) observeMessage(m *message, c *conn) {
	x := b.observe.obs.Load()
	if x == nil {
		return
	}
	if c == nil || x.c == nil {
		x.o.Message((*Message)(m))
		return
	}
	cell := c.sess.obsLast.Load()
	if cell == nil || cell.owner.Load() != c {
		if cell = c.claimObs(cell); cell == nil {
			x.o.Message((*Message)(m)) // another connection's reader has it
			return
		}
	}
	if cell.box != x { // a new Observer: the old one's value is of no use to it
		cell.flush()
		cell.box, cell.v = x, nil
	}
	if v := x.c.MessageCached((*Message)(m), cell.v); v != nil {
		cell.v = v
	}
	cell.pending = true
}

// obsCell is what a client's session keeps for the TopicCacher
// (session.obsLast): its value for the client's last message, owned by
// the reader of one connection at a time, the one in owner. A new
// connection of the client (a takeover) takes it only once the old one's
// reader has ended (releaseObs); until then it reports its messages
// uncached. One allocation per publishing client, once.
type obsCell struct {
	owner   atomic.Pointer[conn]
	box     *obsBox // the Observer v belongs to
	v       any
	pending bool // messages given to MessageCached since the last FlushCached
}

// flush hands the pending messages to the Observer (cell's owner only).
func (cell *obsCell) flush() {
	if cell.pending {
		cell.pending = false
		cell.box.c.FlushCached(cell.v)
	}
}

// claimObs makes c's reader the owner of its session's cell (cell, the
// one there now, or a new one), and returns it; nil when the reader of
// another connection of the client still owns it.
func (c *conn) claimObs(cell *obsCell) *obsCell {
	if cell == nil {
		cell = new(obsCell)
		cell.owner.Store(c)
		if c.sess.obsLast.CompareAndSwap(nil, cell) {
			return cell
		}
		cell = c.sess.obsLast.Load()
	}
	if cell.owner.CompareAndSwap(nil, c) {
		return cell
	}
	return nil
}

// observeFlush hands what c's reader gave the TopicCacher since the last
// call to it (reader only; at the end of a batch of input, and before the
// reader waits).
func (c *conn) observeFlush() {
	if c.sess == nil {
		return
	}
	if cell := c.sess.obsLast.Load(); cell != nil && cell.owner.Load() == c {
		cell.flush()
	}
}

// releaseObs flushes c's cell and gives it up, for the client's next
// connection (once c's reader has ended).
func (c *conn) releaseObs() {
	if c.sess == nil {
		return
	}
	if cell := c.sess.obsLast.Load(); cell != nil && cell.owner.Load() == c {
		cell.flush()
		cell.owner.Store(nil)
	}
}

// Ready reports whether the broker serves: Start has loaded the store and
// opened every listener, and Shutdown has not begun.
func (b *Broker) Ready() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.started && !b.shuttingDown && len(b.listeners) == len(b.cfg.Listeners)
}

// Live reports whether the broker is not shut down.
func (b *Broker) Live() bool {
	select {
	case <-b.done:
		return false
	default:
		return true
	}
}

// Subscription is one subscription of a client (ClientSnapshot).
type Subscription struct {
	Filter string // as subscribed, with any $share/GROUP/ prefix
	QoS    byte
}

// WillInfo describes a client's will message.
type WillInfo struct {
	Topic  string
	QoS    byte
	Retain bool
	Delay  uint32 // v5 Will Delay Interval, seconds
	// Pending reports a delayed will waiting for its delay (the client is
	// offline).
	Pending bool
}

// ClientSnapshot describes a client session: a connected client, or the
// durable session of a disconnected one.
type ClientSnapshot struct {
	ClientID       string
	Username       string
	RemoteAddr     string
	Listener       string
	Version        int // MQTT protocol level: 3 (3.1), 4 (3.1.1), 5
	Connected      bool
	KeepAlive      uint16
	CleanStart     bool
	SessionExpiry  uint32 // seconds; 4294967295 = never
	Will           *WillInfo
	Subscriptions  []Subscription
	Inflight       int
	Queued         int
	ConnectedSince time.Time // zero when offline; whole seconds (ClientInfo.connectedAt)
	DisconnectedAt time.Time // zero when connected
}

// Clients returns every session, sorted by client id.
func (b *Broker) Clients() []ClientSnapshot {
	b.mu.Lock()
	sessions := b.sessions.list()
	b.mu.Unlock()
	out := make([]ClientSnapshot, 0, len(sessions))
	for _, s := range sessions {
		s.mu.Lock()
		cs := ClientSnapshot{ClientID: s.clientID, Version: int(s.version), SessionExpiry: s.expiry,
			Inflight: s.out.inflightLen(), Queued: s.out.pendingLen(), KeepAlive: s.keepAlive,
			CleanStart: s.cleanStart, DisconnectedAt: s.disconnectedAt().Time()}
		if ci := s.info; ci != nil {
			cs.Username, cs.Listener = ci.Username, ci.Listener()
		}
		if c := s.conn; c != nil {
			cs.Connected = true
			cs.RemoteAddr = c.remote()
			cs.ConnectedSince = time.Unix(int64(c.info.connectedAt), 0)
			if w := c.will.Load(); w != nil {
				cs.Will = willInfo(w, false)
			}
		} else if s.off != nil && s.off.will != nil {
			cs.Will = willInfo(s.off.will, true)
		}
		for key, sub := range s.subs {
			cs.Subscriptions = append(cs.Subscriptions, Subscription{Filter: key, QoS: sub.QoS})
		}
		s.mu.Unlock()
		slices.SortFunc(cs.Subscriptions, func(a, b Subscription) int {
			if a.Filter < b.Filter {
				return -1
			}
			if a.Filter > b.Filter {
				return 1
			}
			return 0
		})
		out = append(out, cs)
	}
	slices.SortFunc(out, func(a, b ClientSnapshot) int {
		if a.ClientID < b.ClientID {
			return -1
		}
		if a.ClientID > b.ClientID {
			return 1
		}
		return 0
	})
	return out
}

func willInfo(w *mqtt.Will, pending bool) *WillInfo {
	wi := &WillInfo{Topic: w.Topic, QoS: byte(w.QoS), Retain: w.Retain, Pending: pending}
	if w.Props.Has(mqtt.PropWillDelay) {
		wi.Delay = w.Props.WillDelay
	}
	return wi
}

// RetainedMessages calls fn for every retained message (topic order is
// unspecified) until fn returns false.
func (b *Broker) RetainedMessages(fn func(*Message) bool) {
	b.retained.Range(func(_ string, m *message) bool {
		return fn((*Message)(m))
	})
}

// Publish routes a message from the broker itself (the web view's
// publish form), as a client's PUBLISH would be, without authorization
// (the caller checks it): retained messages are stored, subscribers get
// it at min(qos, their subscription's QoS). It returns the number of
// subscriptions it went to.
func (b *Broker) Publish(topic string, payload []byte, qos byte, retain bool) (int, error) {
	if err := mqtt.ValidTopicName(topic); err != nil {
		return 0, err
	}
	if b.cfg.topicOverLimit(topic) {
		return 0, errTopicLimits
	}
	if reservedDollar(topic) {
		return 0, errReservedTopic
	}
	if qos > byte(b.cfg.maxQoS) {
		qos = byte(b.cfg.maxQoS)
	}
	if retain && b.cfg.DisableRetain {
		return 0, errRetainDisabled
	}
	p := append([]byte(nil), payload...)
	b.stats.publishReceived.Add(1)
	b.metrics.notePublishIn(mqtt.QoS(qos), len(p), 0)
	m := &message{topic: topic, payload: p, qos: mqtt.QoS(qos), retain: retain}
	b.metrics.stamp(m)
	return b.publish(m)
}

type observeError string

func (e observeError) Error() string { return string(e) }

const (
	errTopicLimits    = observeError("broker: topic beyond the topic limits")
	errReservedTopic  = observeError("broker: $SYS and $share topics are the broker's")
	errRetainDisabled = observeError("broker: retained messages are not available")
)

// traceSubscribe reports a SUBSCRIBE and its SUBACK.
func (c *conn) traceSubscribe(p *mqtt.Subscribe, codes []mqtt.ReasonCode) {
	var d []byte
	for i, s := range p.Subscriptions {
		if i > 0 {
			d = append(d, ", "...)
		}
		d = fmt.Appendf(d, "%s QoS %d", s.Filter, s.QoS)
	}
	c.trace(PacketEvent{Packet: "SUBSCRIBE", PacketID: p.PacketID, Detail: string(d)})
	d = d[:0]
	for i, code := range codes {
		if i > 0 {
			d = append(d, ", "...)
		}
		d = fmt.Appendf(d, "0x%02x", byte(code))
	}
	c.trace(PacketEvent{Out: true, Packet: "SUBACK", PacketID: p.PacketID, Detail: string(d)})
}

// traceUnsubscribe reports an UNSUBSCRIBE and its UNSUBACK.
func (c *conn) traceUnsubscribe(p *mqtt.Unsubscribe) {
	c.trace(PacketEvent{Packet: "UNSUBSCRIBE", PacketID: p.PacketID, Detail: strings.Join(p.Filters, ", ")})
	c.trace(PacketEvent{Out: true, Packet: "UNSUBACK", PacketID: p.PacketID})
}

// Rates returns the counters the web view samples every second: PUBLISH
// received (and wills), PUBLISH sent, clients connected. It takes no lock.
func (b *Broker) Rates() (publishIn, publishOut, connected int64) {
	return b.stats.publishReceived.Load(), b.stats.publishSent.Load(), b.stats.connected.Load()
}

// NewMessage returns a message as the broker would route it, for
// Observers' tests.
func NewMessage(topic string, payload []byte, qos byte, retain bool) *Message {
	return &Message{topic: topic, payload: payload, qos: mqtt.QoS(qos), retain: retain}
}
