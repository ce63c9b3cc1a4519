package broker

import (
	"cmp"
	"math"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/mqkit/mqkit/internal/broker/topics"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// expiryNever is the Session Expiry Interval meaning "never expires".
const expiryNever = math.MaxUint32

type subscription = topics.Subscription[*session]

// session is the state the spec keeps per client id (MQTT 5.0 section
// 4.1): subscriptions, outgoing QoS 1/2 messages (inflight and queued),
// inbound QoS 2 packet ids awaiting PUBREL, expiry and a delayed will. It
// outlives connections when durable (expiry > 0).
//
// Everything below mu is guarded by it, and so is everything out and off
// point to. Lock order: Broker.mu, then session.mu, then trie/tree locks,
// then conn.qmu (see doc.go).
//
// Issue 17: the session of a connected idle client is 128 bytes (a Go size
// class; it was 288). What only a busy session needs (the QoS state and
// the flow-control instants) is in out, what only an offline one needs
// (expiry and will timers) in off: each is allocated when first needed
// and released when the session no longer needs it (out: trimIdle, never
// per message; off: when a client resumes the session).
type session struct {
	b        *Broker
	clientID string

	online  atomic.Bool  // conn != nil; read under the trie lock (shared groups)
	stalled atomic.Int32 // readers of this session waiting for room elsewhere (flow.go)
	// obsLast holds the TopicCacher's value for this client's last
	// message (obsCell, observe.go): nil until it observed one.
	obsLast atomic.Pointer[obsCell]

	mu      sync.Mutex
	conn    *conn // current connection; nil while offline
	info    *ClientInfo
	version mqtt.Version
	ended   bool
	nextPID uint16
	expiry  uint32 // seconds; 0 = ends with the connection; expiryNever

	subs map[string]*subscription // key: filter as subscribed (with $share prefix)
	// out is the QoS and flow-control state: nil = empty (nothing
	// inflight, queued or awaiting PUBREL, flow control at rest). Readers
	// take nil as empty; writers get it from outState.
	out *sessOut
	// off is what an offline session needs (expiry, delayed will): nil
	// while connected and for a session that never went offline.
	off *sessOff
	seq uint64 // last outMsg.seq (store key); not in out: numbering goes on after a trim

	// Small fields together. cleanStart and keepAlive are shown by
	// Broker.Clients: the CONNECT of the current (or last) connection
	// (the time it connected is in its ClientInfo).
	keepAlive  uint16
	cleanStart bool
	dropping   bool // offline queue full: its drops were logged (push)
	// Flow control (flow.go).
	slow bool // publishers gave up waiting for this consumer
	// probation: it was slow; publishers do not wait for it until no
	// delivery found its backlog above half the soft limit since
	// out.highAt for probationFactor x StallTimeout (flow.go).
	probation bool
	waitedOn  bool // a publisher waits for room in pending
}

// sessOut is a session's outbound QoS state and its flow-control
// instants (session.out), guarded by session.mu.
type sessOut struct {
	inflight     []*outMsg          // sent, not completely acknowledged, in send order
	inflightSize int64              // payload bytes of inflight (Options.MaxInflightBytes)
	byPID        map[uint16]*outMsg // inflight by packet id
	pending      []*outMsg          // waiting for room in the inflight window
	// pendingBytes is the payload bytes of pending: what MaxQueuedBytes
	// limits (mosquitto's max_queued_bytes counts payloads only, its
	// msgs_out.queued_bytes += payloadlen); pendingTopicBytes is their
	// topics, which count with it against MaxOutboundBytes (memory).
	pendingBytes      int64
	pendingTopicBytes int64
	inbound           map[uint16]struct{} // QoS 2 ids we sent PUBREC for [MQTT-4.3.3-9]

	// Flow control (flow.go), Unix nanoseconds. highAt: a delivery found
	// a backlog above half the soft limit (probation). Stalls that did not
	// reach StallTimeout add up (waitEnded): when publishers began
	// waiting, and the stall time since stallAt.
	highAt     int64
	waitFrom   int64 // 0: none
	stallAt    int64
	stalledFor time.Duration
}

// Nil-safe readers: a nil sessOut is empty.

func (o *sessOut) inflightLen() int {
	if o == nil {
		return 0
	}
	return len(o.inflight)
}

func (o *sessOut) pendingLen() int {
	if o == nil {
		return 0
	}
	return len(o.pending)
}

func (o *sessOut) pendingSize() int64 {
	if o == nil {
		return 0
	}
	return o.pendingBytes
}

// outState returns s.out, allocating it if the session has none. s.mu
// held.
func (s *session) outState() *sessOut {
	if s.out == nil {
		s.out = new(sessOut)
	}
	return s.out
}

// trimIdle releases the outbound state of an idle session (the event
// loop's sweep calls it for a connection silent for trimAfter, loop.go):
// only when it holds nothing — no message inflight or queued, no inbound
// QoS 2 id awaiting its PUBREL, no publisher waiting for room, flow control
// at rest (not slow, not on probation, no stall adding up). The next
// message allocates it again. Issue 17.
func (s *session) trimIdle() {
	s.mu.Lock()
	s.trimOut()
	s.mu.Unlock()
}

// trimOut is trimIdle with s.mu held.
func (s *session) trimOut() {
	o := s.out
	if o == nil || len(o.inflight) > 0 || len(o.pending) > 0 || len(o.inbound) > 0 ||
		s.waitedOn || s.slow || s.probation || o.waitFrom != 0 {
		return
	}
	if o.stalledFor != 0 && time.Duration(s.b.now().UnixNano()-o.stallAt) <= probationFactor*s.b.cfg.stallTimeout {
		return // stalls still add up (waitEnded)
	}
	s.out = nil
}

// sessOff is what an offline durable session needs (session.off),
// guarded by session.mu.
type sessOff struct {
	disconnectedAt unixTime // 0 while connected
	expireTimer    *time.Timer
	expireGen      uint64      // with the sessOff itself, identifies the expiry timer (expire)
	will           *mqtt.Will  // delayed will (Will Delay Interval)
	willInfo       *ClientInfo // client that set it
	willTimer      *time.Timer
}

// offState returns s.off, allocating it if needed. s.mu held.
func (s *session) offState() *sessOff {
	if s.off == nil {
		s.off = new(sessOff)
	}
	return s.off
}

// disconnectedAt is when the session went offline, 0 while connected.
// s.mu held.
func (s *session) disconnectedAt() unixTime {
	if s.off == nil {
		return 0
	}
	return s.off.disconnectedAt
}

func (s *session) durable() bool { return s.expiry > 0 }

// compare orders sessions (merging a message's matches, fanout): by
// address, which Go's collector never moves. A session counter would
// take 8 bytes a session (issue 17).
func (s *session) compare(o *session) int {
	return cmp.Compare(uintptr(unsafe.Pointer(s)), uintptr(unsafe.Pointer(o)))
}

// stripe spreads the sessions over the metrics' counter stripes
// (metrics.go): a hash of the address.
func (s *session) stripe() uint64 {
	return uint64(uintptr(unsafe.Pointer(s))) * 0x9E3779B97F4A7C15 >> 60
}

// unixTime is an instant in Unix nanoseconds, 0 = none: 8 bytes where a
// time.Time takes 24 (the session of an idle client, issue 17).
type unixTime int64

func unixTimeOf(t time.Time) unixTime {
	if t.IsZero() {
		return 0
	}
	return unixTime(t.UnixNano())
}

// Time is t as a time.Time, the zero Time for 0.
func (t unixTime) Time() time.Time {
	if t == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(t))
}

// persist runs a store call for a durable session and logs failures.
func (s *session) persist(what string, fn func(Store) error) error {
	if !s.durable() {
		return nil
	}
	err := fn(s.b.store)
	if err != nil {
		s.b.cfg.Logger.Error("Store error: "+what, "client", s.clientID, "err", err)
	}
	return err
}

func (s *session) storedSession() *StoredSession {
	ss := &StoredSession{ClientID: s.clientID, Version: s.version, ExpiryInterval: s.expiry,
		DisconnectedAt: s.disconnectedAt().Time()}
	if ci := s.info; ci != nil {
		ss.Username, ss.HasUsername, ss.Listener = ci.Username, ci.HasUsername, ci.Listener()
		ss.CertCommonName, ss.MountPoint = ci.CertCommonName, ci.MountPoint()
	}
	ss.LastPacketID = s.nextPID // numbering goes on after a restart (mosquitto's last_mid)
	return ss
}

// queuedOverhead is what a queued message costs besides its payload and
// topic (the outMsg and its queue slot), counted against MaxOutboundBytes.
const queuedOverhead = 80

// countPending adds (n = 1) or removes (n = -1) om's bytes to the pending
// queue's counters. s.mu held.
func (o *sessOut) countPending(om *outMsg, n int64) {
	o.pendingBytes += n * int64(len(om.msg.payload))
	o.pendingTopicBytes += n * int64(len(om.msg.topic))
}

// push hands a QoS 1/2 message to the session. Called with s.mu held.
// The message is stored before push returns.
//
// Connected: straight into the inflight window when it has room and
// nothing is queued, else to the queue. It is never dropped (it may have
// been acknowledged to its publisher already); full reports that the
// queue is now at its soft limit, so that the publisher waits for room
// (flow.go). Beyond MaxOutboundBytes of queued messages (payload, topic
// and queuedOverhead each) the client is closed as a slow consumer: its
// session keeps the queue if durable.
//
// Offline: queued up to MaxQueued / MaxQueuedBytes, beyond which it is
// dropped and counted (mosquitto's max_queued_messages policy).
func (s *session) push(om *outMsg, by *conn) (full bool, err error) {
	c := s.conn
	cfg := s.b.cfg
	size := int64(len(om.msg.payload)) // max_queued_bytes: payload bytes, as mosquitto
	if c == nil && (s.out.pendingLen() >= cfg.maxQueued ||
		(cfg.MaxQueuedBytes > 0 && s.out.pendingSize()+size > cfg.MaxQueuedBytes)) {
		s.b.drop(DropQueueFull)
		if !s.dropping {
			// Once per run of drops, as mosquitto logs it (a notice).
			s.dropping = true
			cfg.Logger.Info("Outgoing messages are being dropped for client " + s.clientID + ".")
		}
		return false, nil
	}
	s.dropping = false
	s.seq++
	om.seq = s.seq
	o := s.outState() // allocated once; released only by trimIdle
	if c != nil && len(o.pending) == 0 && o.windowOpen(s.b, c, om) {
		if !c.fits(om.msg, om.qos, om.subIDs) {
			s.dropped(om, c.unfitWhy(om.msg)) // [MQTT-3.1.2-25] discard as if sent (or outside the mount point)
			return false, nil
		}
		s.startSend(o, om)
		err := s.persist("save message", func(st Store) error { return st.SaveMessage(s.clientID, om.stored(om.msg.fromID)) })
		s.sending(c, om, false)
		c.enqueuePublish(om.msg, om.qos, om.retain, false, om.pid, om.subIDs, by)
		return false, err
	}
	o.pending = append(o.pending, om)
	o.countPending(om, 1)
	err = s.persist("save message", func(st Store) error { return st.SaveMessage(s.clientID, om.stored(om.msg.fromID)) })
	if c == nil {
		return false, err
	}
	if o.pendingBytes+o.pendingTopicBytes+int64(len(o.pending))*queuedOverhead > cfg.maxOutbound && !c.isClosing() {
		cfg.Logger.Warn("Slow consumer: queue above the outbound byte limit", "client", s.clientID,
			"queued", len(o.pending), "bytes", o.pendingBytes)
		c.close(CloseSlowConsumer, 0)
		return false, err
	}
	return len(o.pending) >= cfg.maxQueued || (cfg.MaxQueuedBytes > 0 && o.pendingBytes >= cfg.MaxQueuedBytes), err
}

// windowOpen reports whether om may enter c's inflight window: fewer
// messages in flight than the window, and, with MaxInflightBytes, room
// for its payload (or nothing in flight: a larger message goes alone, as
// mosquitto documents max_inflight_bytes).
func (o *sessOut) windowOpen(b *Broker, c *conn, om *outMsg) bool {
	if len(o.inflight) >= int(c.sendWindow) {
		return false
	}
	max := b.cfg.MaxInflightBytes
	return max <= 0 || len(o.inflight) == 0 || o.inflightSize+int64(len(om.msg.payload)) <= max
}

// startSend assigns a packet id and moves om into the inflight window of
// o = s.out.
func (s *session) startSend(o *sessOut, om *outMsg) {
	o.inflightSize += int64(len(om.msg.payload))
	om.pid = s.allocPID(o)
	om.state = StateSent
	if o.byPID == nil {
		o.byPID = make(map[uint16]*outMsg)
	}
	o.byPID[om.pid] = om
	o.inflight = append(o.inflight, om)
}

// allocPID returns a packet identifier not used by an inflight message
// [MQTT-2.2.1-4]. The window is smaller than 65535 so one is always free.
// nextPID is the session's, not out's: numbering goes on after a trim.
func (s *session) allocPID(o *sessOut) uint16 {
	for {
		s.nextPID++
		if s.nextPID == 0 {
			s.nextPID = 1
		}
		if _, used := o.byPID[s.nextPID]; !used {
			return s.nextPID
		}
	}
}

// fill moves queued messages into the inflight window while there is
// room. Called with s.mu held.
func (s *session) fill(by *conn) {
	c := s.conn
	if c == nil {
		return
	}
	o := s.out
	if o == nil {
		s.roomFreed(c)
		return
	}
	now := s.b.now()
	for len(o.pending) > 0 && o.windowOpen(s.b, c, o.pending[0]) {
		om := o.pending[0]
		o.pending[0] = nil
		o.pending = o.pending[1:]
		o.countPending(om, -1)
		// A message that expired before onward delivery started is
		// deleted [MQTT-3.3.2-5]; one too big for the client is discarded
		// [MQTT-3.1.2-25], as one outside the mount point of its
		// listener; one the client may not read now is dropped (drop.go).
		drop := true
		switch {
		case om.msg.expired(now):
			s.b.drop(DropExpired) // [MQTT-3.3.2-5]
		case !c.fits(om.msg, om.qos, om.subIDs):
			s.dropped(om, c.unfitWhy(om.msg))
		case !s.mayRead(om.msg.topic):
			s.dropped(om, whyNotAuthorised)
		default:
			drop = false
		}
		if drop {
			s.persist("delete message", func(st Store) error { return st.DeleteMessage(s.clientID, om.seq) })
			continue
		}
		dup := om.dup
		s.startSend(o, om)
		s.persist("save message", func(st Store) error { return st.SaveMessage(s.clientID, om.stored(om.msg.fromID)) })
		s.sending(c, om, dup)
		c.enqueuePublish(om.msg, om.qos, om.retain, dup, om.pid, om.subIDs, by)
	}
	if len(o.pending) == 0 {
		o.pending = nil // release the backing array
	}
	s.roomFreed(c)
}

// ackResult is what session.ack made of an acknowledgement.
type ackResult uint8

const (
	ackDone      ackResult = iota // the flow advanced or completed
	ackUnknown                    // no inflight message has this packet id
	ackWrongKind                  // the id is inflight, but this ack does not fit its flow
)

// ack handles PUBACK, PUBREC and PUBCOMP from the client. Called with
// s.mu held.
//
// An ack of the wrong type for an inflight packet id (PUBREC or PUBCOMP
// for a QoS 1 message; PUBACK or PUBCOMP for a QoS 2 message waiting for
// its PUBREC; PUBACK for one waiting for its PUBCOMP) breaks the QoS
// flows of 3.1.1 section 4.3 / 5.0 section 4.3: the caller closes the
// connection as a protocol violation (3.1.1 [MQTT-4.8.0-1]; 5.0 section
// 4.13, DISCONNECT 0x82), as mosquitto 2.0.11 does. A PUBREC repeated
// after the PUBREL was sent gets the PUBREL again (as mosquitto).
func (s *session) ack(kind mqtt.PacketType, pid uint16, code mqtt.ReasonCode, by *conn) ackResult {
	if s.out == nil {
		return ackUnknown
	}
	om := s.out.byPID[pid]
	if om == nil {
		return ackUnknown
	}
	switch kind {
	case mqtt.PUBACK:
		if om.qos != 1 {
			return ackWrongKind
		}
		s.b.metrics.noteDelivered(1, om.msg)
	case mqtt.PUBREC:
		if om.qos != 2 {
			return ackWrongKind
		}
		if om.state == StateReleased {
			if s.conn != nil {
				s.conn.traceAck(true, mqtt.PUBREL, pid, mqtt.Success)
				s.conn.enqueueAck(mqtt.PUBREL, pid, mqtt.Success, by)
			}
			return ackDone
		}
		if !code.IsError() {
			// [MQTT-4.3.3-4] answer PUBREC with PUBREL; the message is now
			// delivered, only the release remains.
			s.b.metrics.noteDelivered(2, om.msg)
			om.state = StateReleased
			s.persist("save message", func(st Store) error { return st.SaveMessage(s.clientID, om.stored(om.msg.fromID)) })
			if s.conn != nil {
				s.conn.traceAck(true, mqtt.PUBREL, pid, mqtt.Success)
				s.conn.enqueueAck(mqtt.PUBREL, pid, mqtt.Success, by)
			}
			return ackDone
		}
		// A v5 PUBREC with an error code ends the flow [MQTT-4.3.3-?]:
		// the packet id is free again.
	case mqtt.PUBCOMP:
		if om.qos != 2 || om.state != StateReleased {
			return ackWrongKind
		}
	}
	s.complete(om)
	s.fill(by)
	return ackDone
}

// complete removes a finished message from the inflight window and
// recycles it. Acknowledgements usually arrive in send order, so the
// first entry is dropped by re-slicing; others are cut out. om is
// inflight (so s.out is not nil).
func (s *session) complete(om *outMsg) {
	o := s.out
	delete(o.byPID, om.pid)
	o.inflightSize -= int64(len(om.msg.payload))
	for i, m := range o.inflight {
		if m != om {
			continue
		}
		if i == 0 {
			o.inflight[0] = nil
			o.inflight = o.inflight[1:]
		} else {
			copy(o.inflight[i:], o.inflight[i+1:])
			o.inflight[len(o.inflight)-1] = nil
			o.inflight = o.inflight[:len(o.inflight)-1]
		}
		break
	}
	if len(o.inflight) == 0 {
		o.inflight = nil
	}
	// Out of the store before its message is released: a Store may keep
	// the payload it was given (message_ref.go).
	s.persist("delete message", func(st Store) error { return st.DeleteMessage(s.clientID, om.seq) })
	putOutMsg(om)
}

// resend re-sends the inflight window on a resumed session, in the
// original order and with the original packet ids: PUBLISH with DUP set,
// PUBREL for released QoS 2 messages [MQTT-4.4.0-1]. Messages beyond the
// new connection's window go back to the head of the queue. Then the queue
// is drained into the window. Inflight messages the connection may not
// receive (outside its mount point, mount.go; larger than its Maximum
// Packet Size [MQTT-3.1.2-25]; or that its client may not read, drop.go)
// are dropped first. Called with s.mu held, s.conn set.
func (s *session) resend(by *conn) {
	c := s.conn
	o := s.out
	if o == nil {
		s.fill(by)
		return
	}
	if c.mount() != "" || c.maxOut > 0 {
		s.dropUnsendable(c)
	}
	s.dropUnreadable()
	if len(o.inflight) > int(c.sendWindow) {
		var keep, back []*outMsg
		for i, om := range o.inflight {
			if i < int(c.sendWindow) || om.state == StateReleased {
				keep = append(keep, om)
				continue
			}
			delete(o.byPID, om.pid)
			o.inflightSize -= int64(len(om.msg.payload))
			om.pid, om.state, om.dup = 0, StateQueued, true
			o.countPending(om, 1)
			s.persist("save message", func(st Store) error { return st.SaveMessage(s.clientID, om.stored(om.msg.fromID)) })
			back = append(back, om)
		}
		o.inflight = keep
		o.pending = append(back, o.pending...)
	}
	for _, om := range o.inflight {
		if om.state == StateReleased {
			c.traceAck(true, mqtt.PUBREL, om.pid, mqtt.Success)
			c.enqueueAck(mqtt.PUBREL, om.pid, mqtt.Success, by)
			continue
		}
		s.sending(c, om, true)
		c.enqueuePublish(om.msg, om.qos, om.retain, true, om.pid, om.subIDs, by)
	}
	s.fill(by)
}

// dropQueues forgets all outgoing state and the flow-control instants
// (session end).
func (s *session) dropQueues() { s.out = nil }

// queuedCount is the number of QoS 1/2 messages held for the session.
func (s *session) queuedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.inflightLen() + s.out.pendingLen()
}

// sending counts a QoS 1/2 PUBLISH handed to c (sent, or re-sent with
// DUP) and reports it to a watcher of the client. s.mu held.
func (s *session) sending(c *conn, om *outMsg, dup bool) {
	if !dup {
		s.b.metrics.notePublishOut(om.qos, om.msg, s.stripe())
	}
	c.tracePublish(true, om.msg, om.qos, om.retain, dup, om.pid)
}
