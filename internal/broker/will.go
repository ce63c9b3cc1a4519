package broker

import (
	"bytes"
	"strings"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Will messages (MQTT 5.0 section 3.1.2.5, 3.1.1 section 3.1.2.5). The
// will is published when the connection ends for any reason other than a
// normal DISCONNECT (CloseReason.publishesWill), immediately or after the
// v5 Will Delay Interval, which a reconnect to the session cancels and the
// end of the session cuts short [MQTT-3.1.3-9].

type pendingWill struct {
	s    *session
	info *ClientInfo
	will *mqtt.Will
}

// cloneWill copies a will decoded from CONNECT, whose strings and bytes
// share the packet's memory (with the password): a will is kept for the
// connection's life, or longer with a delay, and must not keep the packet.
func cloneWill(w *mqtt.Will) *mqtt.Will {
	c := *w
	c.Topic = strings.Clone(w.Topic)
	c.Payload = bytes.Clone(w.Payload)
	pr := &c.Props
	pr.ContentType = strings.Clone(pr.ContentType)
	pr.ResponseTopic = strings.Clone(pr.ResponseTopic)
	pr.CorrelationData = bytes.Clone(pr.CorrelationData)
	if len(pr.User) > 0 {
		u := make([]mqtt.UserProperty, len(pr.User))
		for i, kv := range pr.User {
			u[i] = mqtt.UserProperty{Key: strings.Clone(kv.Key), Value: strings.Clone(kv.Value)}
		}
		pr.User = u
	}
	return &c
}

// willDelay returns the Will Delay Interval in seconds (v5 only).
func willDelay(w *mqtt.Will, v mqtt.Version) uint32 {
	if v != mqtt.V5 || !w.Props.Has(mqtt.PropWillDelay) {
		return 0
	}
	return w.Props.WillDelay
}

// scheduleWill keeps w on the session and publishes it after delay
// seconds, or when the session ends first. b.mu and s.mu held.
func (b *Broker) scheduleWill(s *session, w pendingWill, delay uint32) {
	if s.expiry != expiryNever && delay > s.expiry {
		delay = s.expiry // the session ends first; its expiry publishes it
	}
	o := s.offState()
	o.will = w.will
	wi := w
	o.willTimer = time.AfterFunc(time.Duration(delay)*time.Second, func() {
		s.mu.Lock()
		if s.off != o || o.will != wi.will {
			s.mu.Unlock()
			return
		}
		o.will, o.willTimer = nil, nil
		s.mu.Unlock()
		b.publishWill(wi)
	})
	o.willInfo = w.info
}

// takeWill removes a delayed will from the session. s.mu held.
func (s *session) takeWill() (pendingWill, bool) {
	o := s.off
	if o == nil || o.will == nil {
		return pendingWill{}, false
	}
	w := pendingWill{s: s, info: o.willInfo, will: o.will}
	o.will = nil
	if o.willTimer != nil {
		o.willTimer.Stop()
		o.willTimer = nil
	}
	return w, true
}

// publishWill publishes a will message on behalf of its client. Its
// Message Expiry Interval starts now (section 3.1.3.2).
func (b *Broker) publishWill(w pendingWill) {
	if b.cfg.Authorizer != nil && w.info != nil && !b.cfg.Authorizer.Authorize(w.info, w.will.Topic, AccessWrite) {
		b.logc("Denied will of %s on '%s'.", w.info.ClientID, w.will.Topic)
		return
	}
	m := &message{
		topic: w.will.Topic, payload: w.will.Payload, qos: w.will.QoS, retain: w.will.Retain,
		props:  forwardedProps(&w.will.Props),
		expiry: expiryFrom(&w.will.Props, b.now()),
		from:   w.s,
		src:    w.info,
	}
	if w.info != nil {
		m.fromID = w.info.ClientID
	}
	if m.qos > b.cfg.maxQoS {
		m.qos = b.cfg.maxQoS
	}
	b.stats.publishReceived.Add(1)
	var stripe uint64
	if w.s != nil {
		stripe = w.s.stripe()
	}
	b.metrics.notePublishIn(m.qos, len(m.payload), stripe)
	b.metrics.stamp(m)
	if m.fromID != "" && b.tracing(m.fromID) {
		if o := b.observer(); o != nil {
			o.Packet(PacketEvent{Time: time.Now(), ClientID: m.fromID, Packet: "WILL", QoS: byte(m.qos),
				Retain: m.retain, Topic: m.topic, Detail: payloadPreview(m.payload)})
		}
	}
	b.publish(m)
}
