package broker

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

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
// Everything below mu is guarded by it. Lock order: Broker.mu, then
// session.mu, then trie/tree locks, then conn.qmu (see doc.go).
type session struct {
	b        *Broker
	id       uint64 // unique per session, orders sessions when merging matches
	clientID string

	online  atomic.Bool  // conn != nil; read under the trie lock (shared groups)
	stalled atomic.Int32 // readers of this session waiting for room elsewhere (flow.go)
	// obsLast is the Observer's TopicCacher value for this client's last
	// message (observe.go).
	obsLast atomic.Value

	mu      sync.Mutex
	conn    *conn // current connection; nil while offline
	info    *ClientInfo
	version mqtt.Version
	ended   bool
	nextPID uint16
	expiry  uint32 // seconds; 0 = ends with the connection; expiryNever

	subs map[string]*subscription // key: filter as subscribed (with $share prefix)

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
	seq               uint64

	// Small fields together (issue 17: the session of an idle client
	// is 288 bytes, a size class below the 320 of a looser order; the two
	// instants below are Unix nanoseconds, not time.Time).
	keepAlive  uint16 // shown by Broker.Clients, with cleanStart below
	cleanStart bool
	dropping   bool // offline queue full: its drops were logged (push)
	// Flow control (flow.go).
	slow bool // publishers gave up waiting for this consumer
	// probation: it was slow; publishers do not wait for it until no
	// delivery found its backlog above half the soft limit since highAt
	// for probationFactor x StallTimeout (flow.go).
	probation bool
	waitedOn  bool  // a publisher waits for room in pending
	highAt    int64 // Unix ns
	// Stalls that did not reach StallTimeout add up (flow.go waitEnded):
	// when publishers began waiting, and the stall time since stallAt.
	waitFrom   int64 // Unix ns (0: none)
	stallAt    int64 // Unix ns
	stalledFor time.Duration

	disconnectedAt unixTime // 0 while connected
	// Shown by Broker.Clients: the CONNECT of the current (or last)
	// connection (and cleanStart, keepAlive above).
	connectedAt unixTime
	expireTimer *time.Timer
	expireGen   uint64
	will        *mqtt.Will  // delayed will (Will Delay Interval)
	willInfo    *ClientInfo // client that set it
	willTimer   *time.Timer
}

func (s *session) durable() bool { return s.expiry > 0 }

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
		DisconnectedAt: s.disconnectedAt.Time()}
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
func (s *session) countPending(om *outMsg, n int64) {
	s.pendingBytes += n * int64(len(om.msg.payload))
	s.pendingTopicBytes += n * int64(len(om.msg.topic))
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
	if c == nil && (len(s.pending) >= cfg.maxQueued ||
		(cfg.MaxQueuedBytes > 0 && s.pendingBytes+size > cfg.MaxQueuedBytes)) {
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
	if c != nil && len(s.pending) == 0 && s.windowOpen(c, om) {
		if !c.fits(om.msg, om.qos, om.subIDs) {
			s.dropped(om, c.unfitWhy(om.msg)) // [MQTT-3.1.2-25] discard as if sent (or outside the mount point)
			return false, nil
		}
		s.startSend(om)
		err := s.persist("save message", func(st Store) error { return st.SaveMessage(s.clientID, om.stored(om.msg.fromID)) })
		s.sending(c, om, false)
		c.enqueuePublish(om.msg, om.qos, om.retain, false, om.pid, om.subIDs, by)
		return false, err
	}
	s.pending = append(s.pending, om)
	s.countPending(om, 1)
	err = s.persist("save message", func(st Store) error { return st.SaveMessage(s.clientID, om.stored(om.msg.fromID)) })
	if c == nil {
		return false, err
	}
	if s.pendingBytes+s.pendingTopicBytes+int64(len(s.pending))*queuedOverhead > cfg.maxOutbound && !c.isClosing() {
		cfg.Logger.Warn("Slow consumer: queue above the outbound byte limit", "client", s.clientID,
			"queued", len(s.pending), "bytes", s.pendingBytes)
		c.close(CloseSlowConsumer, 0)
		return false, err
	}
	return len(s.pending) >= cfg.maxQueued || (cfg.MaxQueuedBytes > 0 && s.pendingBytes >= cfg.MaxQueuedBytes), err
}

// windowOpen reports whether om may enter c's inflight window: fewer
// messages in flight than the window, and, with MaxInflightBytes, room
// for its payload (or nothing in flight: a larger message goes alone, as
// mosquitto documents max_inflight_bytes).
func (s *session) windowOpen(c *conn, om *outMsg) bool {
	if len(s.inflight) >= int(c.sendWindow) {
		return false
	}
	max := s.b.cfg.MaxInflightBytes
	return max <= 0 || len(s.inflight) == 0 || s.inflightSize+int64(len(om.msg.payload)) <= max
}

// startSend assigns a packet id and moves om into the inflight window.
func (s *session) startSend(om *outMsg) {
	s.inflightSize += int64(len(om.msg.payload))
	om.pid = s.allocPID()
	om.state = StateSent
	if s.byPID == nil {
		s.byPID = make(map[uint16]*outMsg)
	}
	s.byPID[om.pid] = om
	s.inflight = append(s.inflight, om)
}

// allocPID returns a packet identifier not used by an inflight message
// [MQTT-2.2.1-4]. The window is smaller than 65535 so one is always free.
func (s *session) allocPID() uint16 {
	for {
		s.nextPID++
		if s.nextPID == 0 {
			s.nextPID = 1
		}
		if _, used := s.byPID[s.nextPID]; !used {
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
	now := s.b.now()
	for len(s.pending) > 0 && s.windowOpen(c, s.pending[0]) {
		om := s.pending[0]
		s.pending[0] = nil
		s.pending = s.pending[1:]
		s.countPending(om, -1)
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
		s.startSend(om)
		s.persist("save message", func(st Store) error { return st.SaveMessage(s.clientID, om.stored(om.msg.fromID)) })
		s.sending(c, om, dup)
		c.enqueuePublish(om.msg, om.qos, om.retain, dup, om.pid, om.subIDs, by)
	}
	if len(s.pending) == 0 {
		s.pending = nil // release the backing array
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
	om := s.byPID[pid]
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
// first entry is dropped by re-slicing; others are cut out.
func (s *session) complete(om *outMsg) {
	delete(s.byPID, om.pid)
	s.inflightSize -= int64(len(om.msg.payload))
	for i, m := range s.inflight {
		if m != om {
			continue
		}
		if i == 0 {
			s.inflight[0] = nil
			s.inflight = s.inflight[1:]
		} else {
			copy(s.inflight[i:], s.inflight[i+1:])
			s.inflight[len(s.inflight)-1] = nil
			s.inflight = s.inflight[:len(s.inflight)-1]
		}
		break
	}
	if len(s.inflight) == 0 {
		s.inflight = nil
	}
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
	if c.mount() != "" || c.maxOut > 0 {
		s.dropUnsendable(c)
	}
	s.dropUnreadable()
	if len(s.inflight) > int(c.sendWindow) {
		var keep, back []*outMsg
		for i, om := range s.inflight {
			if i < int(c.sendWindow) || om.state == StateReleased {
				keep = append(keep, om)
				continue
			}
			delete(s.byPID, om.pid)
			s.inflightSize -= int64(len(om.msg.payload))
			om.pid, om.state, om.dup = 0, StateQueued, true
			s.countPending(om, 1)
			s.persist("save message", func(st Store) error { return st.SaveMessage(s.clientID, om.stored(om.msg.fromID)) })
			back = append(back, om)
		}
		s.inflight = keep
		s.pending = append(back, s.pending...)
	}
	for _, om := range s.inflight {
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

// dropQueues forgets all outgoing state (session end or clean start).
func (s *session) dropQueues() {
	s.inflight, s.byPID, s.pending, s.pendingBytes, s.pendingTopicBytes, s.inbound = nil, nil, nil, 0, 0, nil
	s.inflightSize = 0
}

// queuedCount is the number of QoS 1/2 messages held for the session.
func (s *session) queuedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.inflight) + len(s.pending)
}

// sending counts a QoS 1/2 PUBLISH handed to c (sent, or re-sent with
// DUP) and reports it to a watcher of the client. s.mu held.
func (s *session) sending(c *conn, om *outMsg, dup bool) {
	if !dup {
		s.b.metrics.notePublishOut(om.qos, om.msg, s.id)
	}
	c.tracePublish(true, om.msg, om.qos, om.retain, dup, om.pid)
}
