package broker

import (
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// handlePublish handles an inbound PUBLISH: topic alias, limits, QoS 2
// duplicate detection, authorization, retain, routing, flow control and
// the ack. Routing (and the store calls it makes) completes before the
// PUBACK/PUBREC is queued, so an acknowledged message is never lost by the
// broker.
func (c *conn) handlePublish(p *mqtt.Publish) error {
	b := c.b
	cfg := b.cfg
	v5 := c.version == mqtt.V5
	if cfg.topicOverLimit(p.Topic) {
		// Before the topic is kept anywhere (alias, trie, retained tree);
		// refused as mosquitto refuses it: v5 DISCONNECT 0x82.
		return protocolErr(mqtt.ProtocolError, "topic of %d bytes beyond the topic limits (%d levels, %d bytes)",
			len(p.Topic), cfg.hierLimit+1, cfg.topicMaxLen)
	}
	topic := p.Topic
	if v5 {
		if err := c.resolveAlias(p, &topic); err != nil {
			return err
		}
		// A PUBLISH from a client MUST NOT contain a Subscription
		// Identifier [MQTT-3.3.4-6].
		if len(p.Props.SubscriptionIDs) > 0 {
			return protocolErr(mqtt.ProtocolError, "subscription identifier in PUBLISH from client")
		}
	}
	if c.mount() != "" {
		// Under the listener's mount point, after alias resolution (the
		// aliases map the client's own topics), before everything that
		// sees the topic (mount.go).
		t, err := c.mountTopic(topic)
		if err != nil {
			return protocolErr(mqtt.TopicNameInvalid, "%v", err)
		}
		topic = t
	}
	b.stats.publishReceived.Add(1)
	b.metrics.notePublishIn(p.QoS, len(p.Payload), c.sess.stripe())
	if b.observe.watched.Load() != nil {
		c.trace(PacketEvent{Packet: "PUBLISH", PacketID: p.PacketID, QoS: byte(p.QoS), Retain: p.Retain, Dup: p.Dup,
			Topic: strings.Clone(topic), Detail: payloadPreview(p.Payload)}) // kept: not the body's (message_ref.go)
	}
	if cfg.Verbose {
		c.logv("Received PUBLISH from %s (d%d, q%d, r%d, m%d, '%s', ... (%d bytes))",
			c.clientID(), b2i(p.Dup), p.QoS, b2i(p.Retain), p.PacketID, topic, len(p.Payload))
	}
	if p.QoS > cfg.maxQoS {
		return protocolErr(mqtt.QoSNotSupported, "QoS %d above maximum %d", p.QoS, cfg.maxQoS) // [MQTT-3.2.2-11]
	}
	if p.Retain && cfg.DisableRetain {
		return protocolErr(mqtt.RetainNotSupported, "retain not available") // [MQTT-3.2.2-14]
	}
	s := c.sess
	if p.QoS == 2 {
		var seen bool
		var n int
		s.mu.Lock()
		if o := s.out; o != nil { // nil: no id held
			_, seen = o.inbound[p.PacketID]
			n = len(o.inbound)
		}
		s.mu.Unlock()
		if seen {
			// Method A (section 4.3.3): the message was already routed when
			// its PUBREC was sent; a re-sent PUBLISH with the same id is not
			// delivered again [MQTT-4.3.3-9], only acknowledged.
			c.sendPublishAck(mqtt.PUBREC, p.PacketID, mqtt.Success)
			return nil
		}
		if v5 && n >= int(cfg.recvMax) {
			return protocolErr(mqtt.ReceiveMaximumExceeded, "more than %d QoS 2 publishes unacknowledged", cfg.recvMax) // [MQTT-3.3.4-9]
		}
	}
	if lim := cfg.MessageSizeLimit; lim > 0 && uint32(len(p.Payload)) > lim {
		// message_size_limit: dropped, the QoS flow still completes
		// (mosquitto.conf(5)). v5 learns it from the ack's reason code:
		// mosquitto 2.0.11 sends 0x95 Packet too large, which is not a
		// PUBACK/PUBREC reason code (MQTT 5.0 sections 3.4.2.1, 3.5.2.1);
		// we send 0x83 Implementation specific error, "the PUBLISH is
		// valid but the receiver is not willing to accept it".
		c.logv("Dropped too large PUBLISH from %s (d%d, q%d, r%d, m%d, '%s', ... (%d bytes))",
			c.clientID(), b2i(p.Dup), p.QoS, b2i(p.Retain), p.PacketID, topic, len(p.Payload))
		b.drop(DropTooLarge)
		code := mqtt.Success
		if v5 {
			code = mqtt.ImplementationSpecificError
		}
		c.ackPublish(p, code)
		return nil
	}
	if (!c.lis.cfg.bridge && reservedDollar(topic)) ||
		(cfg.Authorizer != nil && !cfg.Authorizer.Authorize(c.info, topic, AccessWrite)) {
		c.logc("Denied PUBLISH from %s (d%d, q%d, r%d, m%d, '%s', ... (%d bytes))",
			c.clientID(), b2i(p.Dup), p.QoS, b2i(p.Retain), p.PacketID, topic, len(p.Payload))
		code := mqtt.Success // 3.1.1 has no way to refuse: ack and drop
		if v5 {
			code = mqtt.NotAuthorized
		}
		c.ackPublish(p, code)
		return nil
	}
	m, key := c.newMessage()
	err := c.routePublish(m, key, p, topic)
	m.release() // handlePublish's own reference (newMessage)
	return err
}

// routePublish routes the message m of PUBLISH p, to topic, and
// acknowledges p (or pauses c until a subscriber has room). key chooses
// the messages the latency histogram samples (newMessage).
func (c *conn) routePublish(m *message, key uint64, p *mqtt.Publish, topic string) error {
	b := c.b
	// Every field anew but the reference count newMessage set.
	*m = message{refs: atomic.LoadInt32(&m.refs), topic: topic, payload: p.Payload, qos: p.QoS, retain: p.Retain, from: c.sess, fromID: c.clientID(), src: c.info}
	b.metrics.stampKey(m, key)
	if c.version == mqtt.V5 {
		m.props = forwardedProps(&p.Props)
		m.expiry = expiryFrom(&p.Props, b.now())
	}
	f := newFlow(c)
	n, err := b.publishFlow(m, &f)
	code := mqtt.Success
	switch {
	case err != nil:
		code = mqtt.ImplementationSpecificError
	case n == 0:
		code = mqtt.NoMatchingSubscribers
	}
	// Back-pressure (flow.go): when the message filled a subscriber's
	// queue, wait for room before acknowledging it and reading on. The
	// message itself is already queued: nothing acknowledged is dropped.
	if f.len() > 0 && c.fr != nil {
		// On the event loop nobody waits: c pauses (loop.go).
		return c.pausePublish(&f, p, code)
	}
	if f.len() > 0 {
		c.observeFlush() // before the reader waits
	}
	f.wait()
	c.ackPublish(p, code)
	return nil
}

// ackPublish sends PUBACK (QoS 1) or PUBREC (QoS 2) with code, recording a
// successful QoS 2 id until its PUBREL.
func (c *conn) ackPublish(p *mqtt.Publish, code mqtt.ReasonCode) {
	switch p.QoS {
	case 1:
		c.sendPublishAck(mqtt.PUBACK, p.PacketID, code)
	case 2:
		if !code.IsError() {
			s := c.sess
			s.mu.Lock()
			o := s.outState()
			if o.inbound == nil {
				o.inbound = make(map[uint16]struct{})
			}
			o.inbound[p.PacketID] = struct{}{}
			s.persist("save inbound", func(st Store) error { return st.SaveInbound(s.clientID, p.PacketID) })
			s.mu.Unlock()
		}
		c.sendPublishAck(mqtt.PUBREC, p.PacketID, code)
	}
}

// sendPublishAck queues the PUBACK or PUBREC of an inbound publish. With a
// store that commits asynchronously (DurableStore), the ack waits until
// every store write made so far — this message's queue entries, its
// retained copy, its QoS 2 id — is on disk, so an acknowledged message
// survives a crash. The reader goroutine is not blocked meanwhile, and
// acks keep their order because the store runs callbacks in call order
// (PUBACKs in the order the PUBLISHes arrived, [MQTT-4.6.0-2]).
func (c *conn) sendPublishAck(kind mqtt.PacketType, pid uint16, code mqtt.ReasonCode) {
	c.traceAck(true, kind, pid, code)
	d := c.b.durable
	if d == nil {
		c.enqueueAck(kind, pid, code, c)
		return
	}
	v5 := c.version == mqtt.V5
	d.AfterDurable(func(err error) {
		if err != nil && v5 && !code.IsError() {
			// Not on disk: a v5 publisher learns it (a 3.1.1 one cannot be
			// told; it still gets its ack, see Store).
			code = mqtt.UnspecifiedError
		}
		c.enqueueAck(kind, pid, code, nil) // on the store's goroutine
	})
}

// resolveAlias applies an inbound v5 Topic Alias (section 3.3.2.3.4).
func (c *conn) resolveAlias(p *mqtt.Publish, topic *string) error {
	if !p.Props.Has(mqtt.PropTopicAlias) {
		return nil
	}
	a := p.Props.TopicAlias
	// 0 or above our Topic Alias Maximum: Topic Alias invalid
	// [MQTT-3.3.2-8] [MQTT-3.3.2-9].
	if a == 0 || a > c.b.cfg.topicAliasMax {
		return protocolErr(mqtt.TopicAliasInvalid, "topic alias %d out of range 1-%d", a, c.b.cfg.topicAliasMax)
	}
	if p.Topic == "" {
		t, ok := c.aliasesIn[a]
		if !ok {
			return protocolErr(mqtt.ProtocolError, "topic alias %d not set", a)
		}
		*topic = t
		return nil
	}
	if c.aliasesIn == nil {
		c.aliasesIn = make(map[uint16]string)
	}
	// Kept for the connection's life: a copy, not a string into this
	// PUBLISH (which holds its payload); none when it maps the same topic.
	if old, ok := c.aliasesIn[a]; !ok || old != p.Topic {
		c.aliasesIn[a] = strings.Clone(p.Topic)
	}
	return nil
}

// newMessage allocates the message of the PUBLISH being handled: on the
// event loop it comes with the PUBLISH's body when that was small (one
// allocation for both, reused: message_ref.go). The caller holds it and
// releases it. key is what the latency histogram samples by
// (metricsState.stampKey): the loop's count of messages for a reused
// one, whose address recurs.
func (c *conn) newMessage() (m *message, key uint64) {
	if c.fr != nil { // the loop handles c's input (loopPackets)
		if m, n := c.b.loop.takeMessage(); m != nil {
			m.setPooled()
			return m, n
		}
	}
	m = new(message)
	return m, uint64(uintptr(unsafe.Pointer(m)) >> 4)
}
