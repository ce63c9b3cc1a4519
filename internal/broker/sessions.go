package broker

import (
	"errors"
	"fmt"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Session lifecycle: attach on CONNECT (create, resume or take over),
// detach when the connection ends (end clean sessions, start the expiry
// of durable ones), expire.

// errTooManyClients is attach's refusal of a new session beyond
// Options.MaxClients.
var errTooManyClients = errors.New("broker: too many clients")

// attach binds c to its session under the broker lock. An existing
// connection with the same client id is closed (v5: DISCONNECT 0x8E)
// [MQTT-3.1.4-3]. With clean start the old session is discarded
// [MQTT-3.1.2-4], otherwise it is resumed and Session Present is set
// [MQTT-3.2.2-2] — unless it was a session that lasts only as long as its
// network connection (3.1.1 clean session 1, v5 Session Expiry 0): closing
// that connection ends it, and its state MUST NOT be reused in any
// subsequent session [MQTT-3.1.2-6] (v5: section 3.1.2.11.2), so the new
// connection starts a new one (Session Present 0). A new session beyond Options.MaxClients is refused
// with errTooManyClients. The CONNACK is queued before the session becomes
// reachable, so no delivery can overtake it; inflight messages of a
// resumed session are re-sent right after it.
func (b *Broker) attach(c *conn, clean bool, expiry uint32, ack *mqtt.Connack) error {
	var wills []pendingWill
	var orphans []orphan
	defer func() {
		b.redeliverShared(orphans)
		for _, w := range wills {
			b.publishWill(w)
		}
	}()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.shuttingDown {
		c.enqueuePacket(&mqtt.Connack{Code: mqtt.ServerUnavailable}, c)
		return &closeError{reason: CloseShutdown}
	}
	if max := b.cfg.MaxClients; max > 0 && b.sessions.get(c.clientID()) == nil && b.sessions.len() >= max {
		return errTooManyClients // nothing changed: the caller refuses c
	}
	var s *session
	if old := b.sessions.get(c.clientID()); old != nil {
		old.mu.Lock()
		resume := !clean && old.durable() // [MQTT-3.1.2-6]
		if oc := old.conn; oc != nil {
			old.conn = nil
			old.online.Store(false)
			oc.flags.put(flagResumed, resume)
			oc.close(CloseTakenOver, 0)
			b.logc("Client %s already connected, closing old connection.", c.clientID())
		}
		if !resume {
			w, ok, o := b.endLocked(old)
			if ok {
				wills = append(wills, w)
			}
			orphans = o
		} else {
			s = old
		}
		old.mu.Unlock()
	}
	present := s != nil
	if s == nil {
		s = &session{b: b, clientID: c.clientID()}
		b.sessions.put(s)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopTimers() // a delayed will is not sent after a reconnect [MQTT-3.1.3-9]
	s.off = nil    // online: disconnectedAt 0, no timer
	wasDurable := s.durable()
	s.expiry, s.version, s.info = expiry, c.version, c.info
	switch {
	case s.durable():
		s.persist("save session", func(st Store) error { return st.SaveSession(s.storedSession()) })
		if !wasDurable {
			s.saveAll()
		}
	case wasDurable:
		b.storeDeleteSession(s.clientID)
	}
	ack.SessionPresent = present
	c.enqueuePacket(ack, c)
	if b.observe.watched.Load() != nil {
		c.trace(PacketEvent{Out: true, Packet: "CONNACK", Code: byte(ack.Code), Detail: fmt.Sprintf("session present %d", b2i(present))})
	}
	b.metrics.connects.Add(1)
	s.cleanStart, s.keepAlive = clean, c.keepAlive
	c.info.connectedAt = uint32(time.Now().Unix()) // before s.conn = c: read under s.mu
	c.sess = s
	c.flags.set(flagConnected)
	s.conn = c
	s.online.Store(true)
	b.stats.connected.Add(1)
	b.stats.noteConnected()
	if present {
		s.resend(c)
	}
	return nil
}

// saveAll writes a session that just became durable to the store with
// everything it holds. s.mu held.
func (s *session) saveAll() {
	for key, sub := range s.subs {
		s.persist("save subscription", func(st Store) error { return st.SaveSubscription(s.clientID, storedSub(key, sub)) })
	}
	o := s.out
	if o == nil {
		return
	}
	for _, om := range o.inflight {
		s.persist("save message", func(st Store) error { return st.SaveMessage(s.clientID, om.stored(om.msg.fromID)) })
	}
	for _, om := range o.pending {
		s.persist("save message", func(st Store) error { return st.SaveMessage(s.clientID, om.stored(om.msg.fromID)) })
	}
	for pid := range o.inbound {
		s.persist("save inbound", func(st Store) error { return st.SaveInbound(s.clientID, pid) })
	}
}

func (b *Broker) storeDeleteSession(id string) {
	if err := b.store.DeleteSession(id); err != nil {
		b.cfg.Logger.Error("Store error: delete session", "client", id, "err", err)
	}
}

// endLocked ends session s: it leaves the broker, its subscriptions leave
// the trie, its messages are dropped and it is deleted from the store.
// b.mu and s.mu are held. A will still waiting for its delay is returned:
// the end of the session cuts the delay short.
func (b *Broker) endLocked(s *session) (pendingWill, bool, []orphan) {
	s.ended = true
	orphans := s.sharedOrphans()
	b.sessions.del(s)
	for key, sub := range s.subs {
		b.subs.Unsubscribe(s, sub.Filter, sub.Group)
		delete(s.subs, key)
	}
	s.dropQueues()
	w, ok := s.takeWill()
	s.stopTimers()
	if s.durable() {
		b.storeDeleteSession(s.clientID)
	}
	return w, ok, orphans
}

// stopTimers stops the expiry timer and drops a delayed will. s.mu held.
func (s *session) stopTimers() {
	o := s.off
	if o == nil {
		return
	}
	if o.expireTimer != nil {
		o.expireTimer.Stop()
		o.expireTimer = nil
	}
	o.expireGen++
	if o.willTimer != nil {
		o.willTimer.Stop()
		o.willTimer = nil
	}
	o.will = nil
}

// connGone runs once per connection after both goroutines are done: it
// detaches the session, handles the will and logs.
func (b *Broker) connGone(c *conn) {
	c.releaseObs() // c's reader has ended
	b.mu.Lock()
	b.conns.remove(c)
	b.mu.Unlock()
	if c.lis != nil {
		c.lis.active.Add(-1)
	}
	if !c.flags.has(flagConnected) {
		if c.closeReason() == CloseConnectTimeout {
			b.logc("Client %s disconnected: connect timeout.", c.remote())
		}
		return
	}
	b.stats.connected.Add(-1)
	reason := c.closeReason()
	if b.observe.watched.Load() != nil {
		// The server's v5 DISCONNECT, if close queued one.
		c.traceServerDisconnect()
		c.trace(PacketEvent{Packet: "CLOSED", Detail: reason.String()}) // before its will, if any
	}
	var will *mqtt.Will
	if w := c.will.Swap(nil); w != nil && reason.publishesWill() {
		will = w
	}
	var now []pendingWill
	var orphans []orphan
	s := c.sess
	b.mu.Lock()
	s.mu.Lock()
	switch {
	case s.conn == c:
		s.conn = nil
		s.online.Store(false)
		if !s.durable() || s.ended {
			if will != nil {
				now = append(now, pendingWill{s: s, info: c.info, will: will})
			}
			if !s.ended {
				w, ok, o := b.endLocked(s)
				if ok {
					now = append(now, w)
				}
				orphans = o
			}
			break
		}
		s.offState().disconnectedAt = unixTimeOf(time.Now())
		s.persist("save session", func(st Store) error { return st.SaveSession(s.storedSession()) })
		s.trimOut() // an offline session that holds nothing keeps no QoS state
		b.scheduleExpiry(s)
		if will != nil {
			delay := willDelay(will, c.version)
			if delay == 0 || b.shuttingDown {
				now = append(now, pendingWill{s: s, info: c.info, will: will})
			} else {
				b.scheduleWill(s, pendingWill{s: s, info: c.info, will: will}, delay)
			}
		}
	default:
		// Taken over. A will with a delay is not sent when the session
		// was resumed by the new connection [MQTT-3.1.3-9].
		if will != nil && !(c.flags.has(flagResumed) && willDelay(will, c.version) > 0) {
			now = append(now, pendingWill{s: s, info: c.info, will: will})
		}
	}
	s.mu.Unlock()
	b.mu.Unlock()
	b.redeliverShared(orphans)
	for _, w := range now {
		b.publishWill(w)
	}
	if b.cfg.ConnectionMessages && reason != CloseTakenOver {
		b.logc("%s", reason.logLine(c.clientID()))
	}
}

// scheduleExpiry starts the expiry timer of an offline durable session.
// b.mu and s.mu held.
func (b *Broker) scheduleExpiry(s *session) {
	if s.expiry == expiryNever || b.shuttingDown {
		return
	}
	o := s.offState()
	o.expireGen++
	gen := o.expireGen
	d := time.Duration(s.expiry)*time.Second - time.Since(o.disconnectedAt.Time())
	o.expireTimer = time.AfterFunc(max(d, 0), func() { b.expire(s, o, gen) })
}

// expire ends an offline session whose expiry interval has passed: the
// timer of s.off = o, generation gen (a sessOff dropped on a reconnect is
// never s.off again, so a timer of an earlier offline spell does nothing).
func (b *Broker) expire(s *session, o *sessOff, gen uint64) {
	b.mu.Lock()
	s.mu.Lock()
	if s.ended || s.conn != nil || s.off != o || o.expireGen != gen || b.closedDone {
		s.mu.Unlock()
		b.mu.Unlock()
		return
	}
	w, ok, orphans := b.endLocked(s)
	s.mu.Unlock()
	b.mu.Unlock()
	b.stats.expired.Add(1)
	b.logc("Client %s has expired.", s.clientID)
	b.redeliverShared(orphans)
	if ok {
		b.publishWill(w)
	}
}
