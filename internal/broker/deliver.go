package broker

import (
	"slices"
	"sync/atomic"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// publish stores or deletes the retained copy of m when it carries the
// retain flag, then routes it. It returns the number of subscriptions it
// was delivered (or queued) to, and the first store error. Store calls are
// complete when it returns, so the caller may acknowledge.
func (b *Broker) publish(m *message) (int, error) { return b.publishFlow(m, nil) }

// publishFlow is publish for a client's PUBLISH: sessions it fills to
// their soft limit are collected in f for the publisher to wait on
// (flow.go). f is nil for messages the broker originates.
func (b *Broker) publishFlow(m *message, f *flow) (int, error) {
	var err error
	if m.retain {
		// Before the retained copy is visible: a subscriber that finds
		// it can tell whether the live delivery below will reach it.
		m.routed = new(atomic.Uint64)
		err = b.setRetained(m)
	}
	var c *conn
	if f != nil {
		c = f.c
	}
	b.observeMessage(m, c)
	n, rerr := b.route(m, f)
	if err == nil {
		err = rerr
	}
	return n, err
}

// route delivers m to every matching subscription.
func (b *Broker) route(m *message, f *flow) (int, error) {
	bufp := b.matchPool.Get().(*[]*subscription)
	var subs []*subscription
	if m.routed != nil {
		subs = b.subs.MatchMark(m.topic, (*bufp)[:0], m.routed)
	} else {
		subs = b.subs.Match(m.topic, (*bufp)[:0])
	}
	n, err := b.fanout(m, subs, f)
	clear(subs)
	if cap(subs) <= 4096 {
		*bufp = subs[:0]
		b.matchPool.Put(bufp)
	}
	return n, err
}

// fanout delivers m once per session. Overlapping non-shared
// subscriptions of one session are merged into one delivery at the
// highest QoS, carrying every subscription identifier [MQTT-3.3.4-2]
// [MQTT-3.3.4-4]; each shared subscription match is delivered on its own
// (MQTT 5.0 section 4.8.2).
func (b *Broker) fanout(m *message, subs []*subscription, f *flow) (int, error) {
	// Partition: non-shared first, shared at the end.
	plain := 0
	for i, s := range subs {
		if s.Group == "" {
			subs[plain], subs[i] = subs[i], subs[plain]
			plain++
		}
	}
	shared := subs[plain:]
	subs = subs[:plain]
	if len(subs) > 1 {
		slices.SortFunc(subs, func(a, b *subscription) int { return a.Owner.compare(b.Owner) })
	}
	var firstErr error
	delivered := 0
	note := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	for i := 0; i < len(subs); {
		j := i + 1
		for j < len(subs) && subs[j].Owner == subs[i].Owner {
			j++
		}
		owner := subs[i].Owner
		var qos mqtt.QoS
		var rap, any bool
		var ids []uint32
		for _, s := range subs[i:j] {
			// No Local: not to the connection that published it
			// [MQTT-3.8.3-3].
			if s.NoLocal && owner == m.from {
				continue
			}
			any = true
			qos = max(qos, mqtt.QoS(s.QoS))
			rap = rap || s.RetainAsPublished
			if s.ID != 0 {
				ids = append(ids, s.ID)
			}
		}
		i = j
		if !any {
			continue
		}
		delivered++
		note(b.deliverFlow(owner, m, qos, rap && m.retain, ids, f, nil))
	}
	for _, s := range shared {
		delivered++
		var ids []uint32
		if s.ID != 0 {
			ids = []uint32{s.ID}
		}
		note(b.deliverFlow(s.Owner, m, mqtt.QoS(s.QoS), s.RetainAsPublished && m.retain, ids, f, s))
	}
	return delivered, firstErr
}

// deliver hands m to session s at subscription QoS subQoS. The delivered
// QoS is the lower of the message's and the subscription's [MQTT-3.8.4-8].
// The RETAIN flag is set only under Retain As Published [MQTT-3.3.1-12]
// [MQTT-3.3.1-13] (3.1.1: always 0 [MQTT-3.3.1-9]).
//
// It serves retained messages sent on SUBSCRIBE: the client asked for
// them, so QoS 0 ones are queued beyond MaxQueued (up to MaxOutboundBytes)
// rather than dropped.
func (b *Broker) deliver(s *session, m *message, subQoS mqtt.QoS, retain bool, ids []uint32) error {
	f := flow{exceed: true}
	return b.deliverFlow(s, m, subQoS, retain, ids, &f, nil)
}

// deliverFlow is deliver on behalf of the publish flow f (nil: the broker
// itself), which collects the sessions to wait for (flow.go). share is
// the shared subscription the delivery is for (nil if none): should the
// session end before the message is acknowledged, it goes to another
// member (redeliverShared).
func (b *Broker) deliverFlow(s *session, m *message, subQoS mqtt.QoS, retain bool, ids []uint32, f *flow, share *subscription) error {
	qos := min(m.qos, subQoS)
	if b.cfg.UpgradeOutgoingQoS {
		qos = subQoS // upgrade_outgoing_qos: non-standard, see Options
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return nil
	}
	if b.cfg.Authorizer != nil && !b.cfg.Authorizer.Authorize(s.info, m.topic, AccessRead) {
		// Filtered by the ACL: not for this client (counted, and logged
		// at debug level: with a broad subscription it is routine).
		b.stats.readDenied.Add(1)
		if b.cfg.Verbose {
			b.cfg.Logger.Debug("Denied PUBLISH to " + s.clientID + " on '" + m.topic + "': not authorised to read it.")
		}
		return nil
	}
	c := s.conn
	if c != nil && (s.slow || s.probation) {
		s.recoverSlow(c)
	}
	if qos == 0 {
		// QoS 0 is not queued for offline sessions (mosquitto's
		// queue_qos0_messages false). Over the soft limit it is dropped
		// unless the publisher waits for room.
		if c == nil {
			return nil
		}
		wait := f.mayWait(s)
		switch c.enqueueQoS0(m, retain, ids, wait || f.mayExceed(), f.reader()) {
		case pushFull:
			if wait {
				f.add(s)
			}
		case pushDropped:
			b.drop(DropSlowConsumer)
			return nil
		case pushUnfit:
			// Larger than the client's Maximum Packet Size: discarded
			// as if sent [MQTT-3.1.2-25], counted as too large.
			b.drop(c.unfitReason(m))
			return nil
		}
		// Counted as sent (and its latency measured) when it is handed
		// to the connection's write queue; a message that can expire
		// there [MQTT-3.3.2-5] is measured and shown in the flow view
		// when it is written (writePublish), and its count taken back if
		// it expires.
		b.metrics.notePublishOut(0, m, s.stripe())
		if m.expiry.IsZero() {
			b.metrics.noteDelivered(0, m)
			c.tracePublish(true, m, 0, retain, false, 0)
		}
		return nil
	}
	om := newOutMsg(m, qos, retain, ids)
	om.share = share
	full, err := s.push(om, f.reader())
	if full && f.mayWait(s) {
		f.add(s)
	}
	return err
}

// orphan is a QoS 1/2 message that a session received through a shared
// subscription and had not acknowledged when the session ended.
type orphan struct {
	m     *message
	share *subscription
}

// sharedOrphans lists the messages of s that came through a shared
// subscription and were not delivered: queued, or sent without an
// acknowledgement (a QoS 2 message whose PUBREC arrived was delivered; one
// refused with a v5 error code was discarded when its ack arrived
// [MQTT-4.8.2-6]). s.mu held.
func (s *session) sharedOrphans() []orphan {
	var out []orphan
	if s.out == nil {
		return nil
	}
	for _, q := range [][]*outMsg{s.out.inflight, s.out.pending} {
		for _, om := range q {
			if om.share != nil && om.state != StateReleased {
				// om's reference stays: an ended session's outMsgs
				// are never released (message_ref.go).
				out = append(out, orphan{om.msg, om.share})
			}
		}
	}
	return out
}

// redeliverShared sends each orphan to another member of its shared
// subscription, chosen as for a new message: "If the Client's Session
// terminates before the Client reconnects, the Server SHOULD send the
// Application Message to another Client that is subscribed to the same
// Shared Subscription" (MQTT 5.0 section 4.8.2). With no member left the
// message is dropped and counted. Called with no lock held.
func (b *Broker) redeliverShared(orphans []orphan) {
	var buf []*subscription
	for _, o := range orphans {
		buf = b.subs.Match(o.m.topic, buf[:0])
		sent := false
		for _, sub := range buf {
			if sub.Group != o.share.Group || sub.Filter != o.share.Filter {
				continue
			}
			var ids []uint32
			if sub.ID != 0 {
				ids = []uint32{sub.ID}
			}
			b.stats.sharedRedelivered.Add(1)
			_ = b.deliverFlow(sub.Owner, o.m, mqtt.QoS(sub.QoS), sub.RetainAsPublished && o.m.retain, ids, nil, sub)
			sent = true
			break
		}
		if !sent {
			b.drop(DropNoSubscriber)
			b.cfg.Logger.Info("Dropped message on '" + o.m.topic + "': no member of shared subscription " +
				mqtt.SharePrefix + o.share.Group + "/" + o.share.Filter + " left.")
		}
	}
}
