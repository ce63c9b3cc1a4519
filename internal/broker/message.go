package broker

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// message is an application message as routed by the broker. It is
// immutable once routed and shared by every subscriber it is delivered to
// (topic, payload and property slices are never copied per subscriber).
type message struct {
	topic   string
	payload []byte
	qos     mqtt.QoS // as published
	retain  bool     // as published
	refs    int32    // holders of a reusable message, and flags (message_ref.go); atomic
	// props are the properties forwarded unchanged to v5 subscribers
	// [MQTT-3.3.2-17] [MQTT-3.3.2-18]: payload format, content type,
	// response topic, correlation data, user properties. Topic alias,
	// subscription identifiers and message expiry are per delivery.
	// nil when there are none: most messages have none, and a message
	// is allocated per PUBLISH (the struct stays in a small size class).
	props  *mqtt.Properties
	expiry time.Time // zero = never expires
	from   *session  // publisher, for No Local; nil for broker messages
	fromID string
	src    *ClientInfo // publisher's identity (for check_retain_source); nil if unknown
	// routed is set for a retained PUBLISH being routed (shared with its
	// copy in the retained tree): see Trie.MatchMark and sendRetained.
	routed *atomic.Uint64
	at     int64 // when received, Unix ns, for the publish-to-deliver latency (0: not measured)
}

// forwardedProps copies the properties of an inbound PUBLISH that are
// forwarded to subscribers; nil when it has none.
func forwardedProps(in *mqtt.Properties) *mqtt.Properties {
	if !in.Has(mqtt.PropPayloadFormat) && !in.Has(mqtt.PropContentType) && !in.Has(mqtt.PropResponseTopic) &&
		!in.Has(mqtt.PropCorrelationData) && len(in.User) == 0 {
		return nil
	}
	p := new(mqtt.Properties)
	if in.Has(mqtt.PropPayloadFormat) {
		p.SetPayloadFormat(in.PayloadFormat)
	}
	if in.Has(mqtt.PropContentType) {
		p.SetContentType(in.ContentType)
	}
	if in.Has(mqtt.PropResponseTopic) {
		p.SetResponseTopic(in.ResponseTopic)
	}
	if in.Has(mqtt.PropCorrelationData) {
		p.SetCorrelationData(in.CorrelationData)
	}
	p.User = in.User
	return p
}

// expiryFrom turns a v5 Message Expiry Interval into an absolute time.
func expiryFrom(p *mqtt.Properties, now time.Time) time.Time {
	if !p.Has(mqtt.PropMessageExpiry) {
		return time.Time{}
	}
	return now.Add(time.Duration(p.MessageExpiry) * time.Second)
}

// propsValue is a copy of the forwarded properties (zero when none).
func (m *message) propsValue() mqtt.Properties {
	if m.props == nil {
		return mqtt.Properties{}
	}
	return *m.props
}

// expired reports whether m has expired at now.
func (m *message) expired(now time.Time) bool {
	return !m.expiry.IsZero() && !now.Before(m.expiry)
}

// remainingExpiry is the Message Expiry Interval to forward: the received
// value minus the time the message has waited [MQTT-3.3.2-6], at least 1.
func (m *message) remainingExpiry(now time.Time) uint32 {
	d := m.expiry.Sub(now)
	if d <= 0 {
		return 1
	}
	s := math.Ceil(d.Seconds())
	if s > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(s)
}

// outMsg is one QoS 1/2 message owned by a session: queued, or inflight
// (sent and not completely acknowledged).
type outMsg struct {
	seq    uint64
	msg    *message
	qos    mqtt.QoS
	retain bool // RETAIN flag to send
	dup    bool // sent before: the next send has DUP set [MQTT-3.3.1-1]
	subIDs []uint32
	pid    uint16
	state  MessageState
	share  *subscription // the shared subscription it came through, nil if none
}

// outMsgPool recycles outMsgs: one is allocated per QoS 1/2 delivery and
// is garbage once acknowledged (complete).
var outMsgPool = sync.Pool{New: func() any { return new(outMsg) }}

func newOutMsg(m *message, qos mqtt.QoS, retain bool, subIDs []uint32) *outMsg {
	m.hold() // released by putOutMsg
	om := outMsgPool.Get().(*outMsg)
	*om = outMsg{msg: m, qos: qos, retain: retain, subIDs: subIDs}
	return om
}

// putOutMsg recycles om, which nothing references any more, and
// releases its message.
func putOutMsg(om *outMsg) {
	om.msg.release()
	*om = outMsg{}
	outMsgPool.Put(om)
}

func (o *outMsg) stored(publisher string) *StoredMessage {
	m := o.msg
	return &StoredMessage{
		Seq: o.seq, PacketID: o.pid, State: o.state, QoS: o.qos, Retain: o.retain, Dup: o.dup,
		SubIDs: o.subIDs, Topic: m.topic, Payload: m.payload, Props: m.propsValue(), Expiry: m.expiry,
		Publisher: publisher,
	}
}

func storedRetained(m *message) *StoredMessage {
	sm := &StoredMessage{QoS: m.qos, Retain: true, Topic: m.topic, Payload: m.payload,
		Props: m.propsValue(), Expiry: m.expiry, Publisher: m.fromID}
	if ci := m.src; ci != nil {
		// For check_retain_source after a restart (retained.go).
		sm.Source = &StoredSource{Username: ci.Username, HasUsername: ci.HasUsername, Listener: ci.Listener(),
			CertCommonName: ci.CertCommonName, MountPoint: ci.MountPoint(), Version: ci.Version}
	}
	return sm
}

func messageFromStored(sm *StoredMessage) *message {
	m := &message{topic: sm.Topic, payload: sm.Payload, qos: sm.QoS, retain: sm.Retain,
		props: forwardedProps(&sm.Props), expiry: sm.Expiry, fromID: sm.Publisher}
	if so := sm.Source; so != nil {
		m.src = &ClientInfo{ClientID: sm.Publisher, Username: so.Username, HasUsername: so.HasUsername,
			CertCommonName: so.CertCommonName, Version: so.Version}
		m.src.SetListener(so.Listener, so.MountPoint)
	}
	return m
}

// payloadSize is what a queued message counts against byte limits.
func (m *message) payloadSize() int64 { return int64(len(m.payload) + len(m.topic)) }

// routedTo reports whether the live delivery of retained message m
// reaches sub, or will: m is still being routed and its trie match had not
// run (mark 0) or ran after sub was added (mark > sub.Epoch). Messages
// not published through publishFlow (restored from the store) never are.
func (m *message) routedTo(sub *subscription) bool {
	if m.routed == nil {
		return false
	}
	v := m.routed.Load()
	return v == 0 || v > sub.Epoch
}
