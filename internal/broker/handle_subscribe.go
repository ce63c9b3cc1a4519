package broker

import (
	"strings"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// handleSubscribe adds or replaces subscriptions, answers SUBACK with one
// code per filter in order [MQTT-3.8.4-6], then sends matching retained
// messages (after the SUBACK, as mosquitto does).
func (c *conn) handleSubscribe(p *mqtt.Subscribe) error {
	b := c.b
	cfg := b.cfg
	v5 := c.version == mqtt.V5
	if cfg.Verbose {
		c.logv("Received SUBSCRIBE from %s", c.clientID)
	}
	for i := range p.Subscriptions {
		if cfg.topicOverLimit(p.Subscriptions[i].Filter) {
			// Before anything is kept; as mosquitto: close, v5 DISCONNECT
			// 0x81, no SUBACK.
			c.logc("Invalid subscription string from %s, disconnecting.", c.remote())
			return protocolErr(mqtt.MalformedPacket, "filter of %d bytes beyond the topic limits", len(p.Subscriptions[i].Filter))
		}
		if err := malformedFilter(p.Subscriptions[i].Filter); err != nil {
			c.logc("%s subscription string from %s, disconnecting.", emptyOrInvalid(p.Subscriptions[i].Filter), c.clientID)
			return err
		}
	}
	var subID uint32
	if v5 && len(p.Props.SubscriptionIDs) > 0 {
		subID = p.Props.SubscriptionIDs[0]
	}
	type retainJob struct {
		sub *subscription
	}
	var jobs []retainJob
	codes := make([]mqtt.ReasonCode, len(p.Subscriptions))
	s := c.sess
	for i := range p.Subscriptions {
		req := &p.Subscriptions[i]
		// Kept by the session, the trie and the store: a copy (a large
		// SUBSCRIBE is decoded without copying its strings); group and
		// filter are parts of it.
		reqFilter := strings.Clone(req.Filter)
		group, filter, shared, err := mqtt.ParseShared(reqFilter)
		if err == nil && !shared {
			err = mqtt.ValidTopicFilter(reqFilter)
		}
		if err != nil {
			codes[i] = failCode(v5, mqtt.TopicFilterInvalid)
			continue
		}
		if shared && req.NoLocal && v5 {
			// No Local on a shared subscription is a Protocol Error
			// [MQTT-3.8.3-4].
			return protocolErr(mqtt.ProtocolError, "no local on shared subscription %q", req.Filter)
		}
		key := reqFilter // as the session keeps it
		if c.mount() != "" {
			// Under the listener's mount point (mount.go); the Authorizer
			// sees the mounted filter, as mosquitto's ACLs do.
			if key, filter, err = c.mountFilter(reqFilter); err != nil {
				codes[i] = failCode(v5, mqtt.TopicFilterInvalid)
				continue
			}
		}
		if cfg.Authorizer != nil && !cfg.Authorizer.Authorize(c.info, filter, AccessSubscribe) {
			codes[i] = failCode(v5, mqtt.NotAuthorized)
			if cfg.Verbose {
				c.logv("\t%s (QoS %d) denied", key, req.QoS)
			}
			continue
		}
		qos := min(req.QoS, cfg.maxQoS) // granted QoS may be lower [MQTT-3.9.3-?]
		sub := &subscription{
			Owner: s, Filter: filter, Group: group, QoS: byte(qos),
			NoLocal: req.NoLocal, RetainAsPublished: req.RetainAsPublished,
			RetainHandling: req.RetainHandling, ID: subID,
		}
		if c.bridge && !shared {
			// As mosquitto does for a 3.1/3.1.1 bridge (try_private):
			// what it publishes is not sent back to it, and it sees
			// retain flags as published, as a v5 bridge asks with No Local
			// and Retain As Published. Set once here, off the publish path.
			sub.NoLocal, sub.RetainAsPublished = true, true
		}
		existed := s.subscribe(key, sub)
		codes[i] = mqtt.ReasonCode(qos)
		if cfg.Verbose {
			c.logv("\t%s (QoS %d)", key, req.QoS)
			c.logv("%s %d %s", c.clientID, qos, key)
		}
		// Retained messages: not for shared subscriptions (section
		// 4.8.2); Retain Handling 0 always, 1 only for a new
		// subscription, 2 never [MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11].
		if !shared && (req.RetainHandling == 0 || (req.RetainHandling == 1 && !existed)) {
			jobs = append(jobs, retainJob{sub})
		}
	}
	ack := &mqtt.Suback{PacketID: p.PacketID, Codes: codes}
	if b.observe.watched.Load() != nil {
		c.traceSubscribe(p, codes)
	}
	c.enqueuePacket(ack, c) // [MQTT-3.8.4-1]
	for _, j := range jobs {
		var ids []uint32
		if j.sub.ID != 0 {
			ids = []uint32{j.sub.ID}
		}
		for _, m := range b.retainedFor(j.sub.Filter) {
			if !b.retainSourceAllowed(m) {
				continue // check_retain_source
			}
			if m.routedTo(j.sub) {
				// Published while this SUBSCRIBE was handled: its live
				// delivery reaches the new subscription, so the retained
				// copy would be a second one (mosquitto, one thread,
				// sends one; QoS 0 is "at most once", section 4.3.1).
				continue
			}
			// Sent with RETAIN set because of a new subscription
			// [MQTT-3.3.1-8] (3.1.1) / [MQTT-3.3.1-9] (5.0).
			if err := b.deliver(s, m, mqtt.QoS(j.sub.QoS), true, ids); err != nil {
				break
			}
		}
	}
	return nil
}

func failCode(v5 bool, code mqtt.ReasonCode) mqtt.ReasonCode {
	if v5 {
		return code
	}
	return mqtt.UnspecifiedError // 0x80: the only 3.1.1 failure code
}

// subscribe records sub under key (the filter as subscribed) in the
// session, the trie and the store. It reports whether the session already
// had a subscription with that filter (which is replaced [MQTT-3.8.4-3]).
func (s *session) subscribe(key string, sub *subscription) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subs == nil {
		s.subs = make(map[string]*subscription)
	}
	_, existed := s.subs[key]
	s.subs[key] = sub
	s.b.subs.Subscribe(sub)
	s.persist("save subscription", func(st Store) error { return st.SaveSubscription(s.clientID, storedSub(key, sub)) })
	return existed
}

func storedSub(key string, sub *subscription) *StoredSubscription {
	return &StoredSubscription{Filter: key, QoS: mqtt.QoS(sub.QoS), NoLocal: sub.NoLocal,
		RetainAsPublished: sub.RetainAsPublished, RetainHandling: sub.RetainHandling, ID: sub.ID}
}

// handleUnsubscribe removes subscriptions; v5 gets one code per filter:
// Success or No subscription existed (0x11).
func (c *conn) handleUnsubscribe(p *mqtt.Unsubscribe) error {
	if c.b.cfg.Verbose {
		c.logv("Received UNSUBSCRIBE from %s", c.clientID)
	}
	for _, f := range p.Filters {
		if c.b.cfg.topicOverLimit(f) {
			// As for SUBSCRIBE (mosquitto logs the client id here).
			c.logc("Invalid unsubscription string from %s, disconnecting.", c.clientID)
			return protocolErr(mqtt.MalformedPacket, "filter of %d bytes beyond the topic limits", len(f))
		}
		if err := malformedFilter(f); err != nil {
			c.logc("%s unsubscription string from %s, disconnecting.", emptyOrInvalid(f), c.clientID)
			return err
		}
	}
	s := c.sess
	codes := make([]mqtt.ReasonCode, len(p.Filters))
	s.mu.Lock()
	for i, key := range p.Filters {
		if c.mount() != "" {
			// As subscribed, under the mount point (mount.go). An invalid
			// filter matches no subscription.
			key, _, _ = c.mountFilter(key)
		}
		if c.b.cfg.Verbose {
			c.logv("\t%s", key)
		}
		sub, ok := s.subs[key]
		if !ok {
			codes[i] = mqtt.NoSubscriptionExisted
			continue
		}
		delete(s.subs, key)
		c.b.subs.Unsubscribe(s, sub.Filter, sub.Group)
		s.persist("delete subscription", func(st Store) error { return st.DeleteSubscription(s.clientID, key) })
	}
	s.mu.Unlock()
	ack := &mqtt.Unsuback{PacketID: p.PacketID}
	if c.version == mqtt.V5 {
		ack.Codes = codes
	}
	if c.b.observe.watched.Load() != nil {
		c.traceUnsubscribe(p)
	}
	c.enqueuePacket(ack, c) // [MQTT-3.10.4-4]
	return nil
}

// malformedFilter returns a protocol error for a filter that breaks the
// wildcard rules: '#' alone and last, '+' alone in its level (3.1.1
// [MQTT-4.7.1-2] [MQTT-4.7.1-3], 5.0 [MQTT-4.7.1-1] [MQTT-4.7.1-2]), as in
// "a/#/b", "a+" or "#x". The packet breaks a MUST of the protocol, so
// the connection is closed (3.1.1 [MQTT-4.8.0-1]); v5 clients get
// DISCONNECT 0x81 Malformed Packet first (section 4.13). 0x8F Topic
// Filter invalid is for a filter that "is correctly formed" but not
// allowed. mosquitto 2.0.11 closes too ("Invalid subscription string").
// Shared subscriptions ($share/...) are checked later, with the share
// name, and answered in the SUBACK (0x8F) when wrong.
//
// An empty filter is one too: "All Topic Names and Topic Filters MUST be
// at least one character long" [MQTT-4.7.3-1]; mosquitto 2.0.11 closes
// (v5: DISCONNECT 0x81) and logs "Empty subscription string".
func malformedFilter(f string) error {
	if f == "" {
		return protocolErr(mqtt.MalformedPacket, "empty topic filter [MQTT-4.7.3-1]")
	}
	if strings.HasPrefix(f, mqtt.SharePrefix) {
		return nil
	}
	if err := mqtt.ValidTopicFilter(f); err != nil {
		return protocolErr(mqtt.MalformedPacket, "%v", err)
	}
	return nil
}

// emptyOrInvalid words mosquitto's log line for a filter malformedFilter
// refused.
func emptyOrInvalid(f string) string {
	if f == "" {
		return "Empty"
	}
	return "Invalid"
}
