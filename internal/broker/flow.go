package broker

import (
	"time"
)

// Flow control: back-pressure instead of drops.
//
// A connected subscriber has two backlogs beyond its inflight window: the
// session queue of QoS 1/2 messages (session.out.pending) and the QoS 0
// publishes waiting in its connection's write queue (conn.oq.pubs). Each is
// bounded softly by MaxQueued / MaxQueuedBytes. A message for a connected
// session is always queued (a QoS 1/2 message is never dropped once it is
// accepted); when it leaves a backlog at or above the soft limit, the
// publishing connection's reader waits, after routing and outside every
// lock, until that session has room again, and only then acknowledges the
// publish and reads the next packet. TCP (and, for v5 publishers, our
// Receive Maximum) then slows the publisher to what its subscribers
// consume, so nothing is lost and memory stays bounded.
//
// The wait is bounded by StallTimeout per publish. A session still full
// when it expires is marked slow: publishers no longer wait for it until
// its backlogs are down to half the soft limit. Meanwhile QoS 0 messages
// for it are dropped (counted) when its write queue is full, and QoS 1/2
// messages keep queueing up to MaxOutboundBytes, beyond which the
// connection is closed as a slow consumer (v5: DISCONNECT 0x97).
//
// Probation (issue 12 item 6): a session marked slow is also put on
// probation, and so is one whose stalls add up to StallTimeout: waits for
// it of at least StallTimeout/4 that ended with room (a subscriber that
// pauses for less than StallTimeout each time) count, with no gap of a
// probation period between two of them (waitEnded); shorter waits are
// back-pressure at work and do not count. While on probation publishers
// never wait for it: the next time its backlog fills it is treated as
// slow at once, without another stall. It leaves probation once it has kept up for
// probationFactor x StallTimeout (20 s by default): no delivery found a
// backlog of it above half the soft limit for that long (deliveries to a
// session on probation look at its backlogs and note when they last found
// one above half; recoverSlow). So one subscriber can hold its
// publishers for about StallTimeout (under 2 x, plus waits shorter
// than StallTimeout/4) in every (1+probationFactor) x StallTimeout,
// however it alternates reading and not reading.
//
// Deadlock freedom: a session's room can depend on its own reader (QoS
// 1/2 room comes from acknowledgements the reader processes, and a
// single-threaded client may not read while its own writes are blocked).
// So a reader never waits for a session whose reader is itself waiting
// (session.stalled). The waiter raises its own stalled count before it
// looks at the target's (both sequentially consistent atomics), so of two
// or more readers that start waiting for each other in a cycle at least
// one sees the other waiting and does not wait: the wait-for graph stays
// acyclic. A reader never waits for its own session, and messages the
// broker originates (wills, $SYS, retained messages sent on subscribe)
// never wait: beyond the soft limit their QoS 0 copies are dropped, except
// retained messages sent on SUBSCRIBE, which the client asked for and
// which are queued (up to MaxOutboundBytes). StallTimeout bounds whatever
// remains (a client that does not read at all).
//
// Offline durable sessions keep mosquitto's policy: QoS 1/2 messages
// beyond MaxQueued / MaxQueuedBytes are dropped and counted, QoS 0 is not
// queued.

// flow collects, during one publish, the connected sessions the message
// left at or above their soft limit, for the publisher to wait on. It
// lives on the publishing reader's stack.
type flow struct {
	c      *conn    // publishing connection; nil: nobody waits
	sess   *session // its session
	exceed bool     // QoS 0 may exceed the soft limit without waiting (retained on SUBSCRIBE)
	n      int
	arr    [8]*session
	more   []*session
}

// newFlow starts the flow of one publish from c.
func newFlow(c *conn) flow { return flow{c: c, sess: c.sess} }

// mayWait reports whether the publisher may wait for s (s.mu held): not
// when publishers never wait (StallTimeout < 0), not for its own
// session, not for a slow consumer, not for a session whose reader is
// waiting itself.
func (f *flow) mayWait(s *session) bool {
	return f != nil && f.c != nil && f.c.b.cfg.stallTimeout > 0 && s != f.sess && !s.slow && !s.probation &&
		s.stalled.Load() == 0
}

// reader is the publishing connection, whose read job runs the publish
// (nil: the broker itself); see conn.kick.
func (f *flow) reader() *conn {
	if f == nil {
		return nil
	}
	return f.c
}

// mayExceed reports whether QoS 0 messages are queued beyond the soft
// limit although nobody waits.
func (f *flow) mayExceed() bool { return f != nil && f.exceed }

func (f *flow) add(s *session) {
	for i := 0; i < f.len(); i++ {
		if f.at(i) == s {
			return
		}
	}
	if f.n < len(f.arr) {
		f.arr[f.n] = s
		f.n++
		return
	}
	f.more = append(f.more, s)
}

func (f *flow) len() int { return f.n + len(f.more) }

func (f *flow) at(i int) *session {
	if i < f.n {
		return f.arr[i]
	}
	return f.more[i-f.n]
}

// wait blocks the publishing reader until every collected session has
// room, its connection closes, the publisher's connection closes, or
// StallTimeout passes (the sessions still full are then marked slow).
func (f *flow) wait() {
	if f.len() == 0 {
		return
	}
	c := f.c
	// Write what this read job deferred first: the sessions waited for
	// may be among them.
	c.flushDeferred()
	limit := c.b.cfg.stallTimeout
	if limit <= 0 {
		return
	}
	// Raised before looking at any target's count (see above).
	f.sess.stalled.Add(1)
	defer f.sess.stalled.Add(-1)
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	closing := c.closingChan()
	for i := 0; i < f.len(); i++ {
		s := f.at(i)
		for {
			room, tc := s.roomSignal()
			if room == nil {
				break
			}
			if timer == nil {
				timer = time.NewTimer(limit)
			}
			select {
			case <-room:
			case <-tc.closingChan():
			case <-closing:
				return
			case <-timer.C:
				for j := i; j < f.len(); j++ {
					f.at(j).markSlow()
				}
				return
			}
		}
	}
}

// roomSignal returns a channel closed when s may have room again, and
// its connection, or nil when there is nothing to wait for.
func (s *session) roomSignal() (<-chan struct{}, *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conn
	if c == nil || s.ended || s.slow || s.stalled.Load() > 0 {
		s.waitEnded()
		return nil, nil
	}
	c.qmu.Lock()
	if c.closed || !s.congested(c) {
		c.qmu.Unlock()
		s.waitEnded()
		return nil, nil
	}
	q := c.queue()
	if q.room == nil {
		q.room = make(chan struct{})
	}
	s.waitedOn = true
	room := q.room
	c.qmu.Unlock()
	s.waitBegins()
	return room, c
}

// waitBegins notes when publishers started waiting for s (the first of
// them; a start older than any wait can last was left by a wait that
// ended without asking again, on a close). s.mu held.
func (s *session) waitBegins() {
	o := s.outState()
	now := s.b.now().UnixNano()
	if st := s.b.cfg.stallTimeout; o.waitFrom == 0 || time.Duration(now-o.waitFrom) > st+st/2 {
		o.waitFrom = now
	}
}

// waitEnded ends the wait waitBegins noted, if any: a wait of at least
// StallTimeout/4 is a stall, not back-pressure at work (those last
// milliseconds), and stalls add up: once they total StallTimeout, with no
// gap of a probation period between two of them, s is on probation as if
// one wait had timed out (the rule "stalled once" also covers a
// subscriber that pauses for less than StallTimeout each time). s.mu held.
func (s *session) waitEnded() {
	o := s.out
	if o == nil || o.waitFrom == 0 {
		return
	}
	now := s.b.now().UnixNano()
	d := time.Duration(now - o.waitFrom)
	o.waitFrom = 0
	st := s.b.cfg.stallTimeout
	if d < st/4 || d > st+st/2 {
		return
	}
	if time.Duration(now-o.stallAt) > probationFactor*st {
		o.stalledFor = 0
	}
	o.stalledFor += d
	o.stallAt = now
	if o.stalledFor >= st && !s.probation && s.conn != nil {
		s.probation, o.highAt = true, now
		s.b.cfg.Logger.Warn("Slow consumer: publishers no longer wait for it", "client", s.clientID,
			"stalled", o.stalledFor, "probation", probationFactor*st)
		o.stalledFor = 0
	}
}

// congested reports whether a backlog of s is at its soft limit. s.mu and
// c.qmu held.
func (s *session) congested(c *conn) bool {
	cfg := s.b.cfg
	mb := cfg.MaxQueuedBytes
	pubs, bytes := c.oq.qos0()
	return s.out.pendingLen() >= cfg.maxQueued || (mb > 0 && s.out.pendingSize() >= mb) ||
		pubs >= cfg.maxQueued || (mb > 0 && bytes >= mb)
}

// pendingLow reports whether the session queue is down to half its soft
// limit. s.mu held.
func (s *session) pendingLow() bool {
	cfg := s.b.cfg
	return s.out.pendingLen() <= cfg.maxQueued/2 && (cfg.MaxQueuedBytes <= 0 || s.out.pendingSize() <= cfg.MaxQueuedBytes/2)
}

// roomFreed wakes publishers waiting for s once its queue is down to half
// the soft limit. s.mu held (called after acknowledgements).
func (s *session) roomFreed(c *conn) {
	if !s.waitedOn || !s.pendingLow() {
		return
	}
	s.waitedOn = false
	c.qmu.Lock()
	c.signalRoom()
	c.qmu.Unlock()
}

// signalRoom wakes the publishers waiting for c. c.qmu held.
func (c *conn) signalRoom() {
	if c.oq != nil && c.oq.room != nil {
		close(c.oq.room)
		c.oq.room = nil
	}
}

// probationFactor times StallTimeout is how long a slow consumer must
// keep up before publishers wait for it again (see above).
const probationFactor = 10

// markSlow makes s a slow consumer after a publisher waited StallTimeout
// for it in vain, and puts it on probation.
func (s *session) markSlow() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out != nil {
		s.out.waitFrom = 0 // the wait timed out
	}
	c := s.conn
	if c == nil || s.slow || s.ended {
		return
	}
	c.qmu.Lock()
	full := s.congested(c)
	c.qmu.Unlock()
	if !full {
		return
	}
	s.slow = true
	s.probation = true
	o := s.outState()
	o.highAt = s.b.now().UnixNano()
	o.stalledFor = 0
	s.b.cfg.Logger.Warn("Slow consumer: publishers no longer wait for it", "client", s.clientID,
		"queued", len(o.pending), "stall", s.b.cfg.stallTimeout,
		"probation", probationFactor*s.b.cfg.stallTimeout)
}

// recoverSlow clears the slow mark once both backlogs are down to half
// the soft limit, and ends the probation once no delivery found them
// above half for probationFactor x StallTimeout. Called on each delivery
// to a slow session or one on probation; s.mu held, c = s.conn.
func (s *session) recoverSlow(c *conn) {
	low := s.pendingLow()
	if low {
		cfg := s.b.cfg
		c.qmu.Lock()
		pubs, bytes := c.oq.qos0()
		low = pubs <= cfg.maxQueued/2 && (cfg.MaxQueuedBytes <= 0 || bytes <= cfg.MaxQueuedBytes/2)
		c.qmu.Unlock()
	}
	if !s.probation {
		if low {
			s.slow = false
		}
		return
	}
	now := s.b.now().UnixNano()
	o := s.outState() // on probation: trimIdle kept it
	if !low {
		o.highAt = now
		return
	}
	s.slow = false
	if p := probationFactor * s.b.cfg.stallTimeout; time.Duration(now-o.highAt) >= p {
		s.probation = false
		s.b.cfg.Logger.Info("Slow consumer kept up: publishers wait for it again", "client", s.clientID,
			"probation", p)
	}
}
