package mqtt

import "slices"

// PropID is an MQTT 5.0 property identifier (section 2.2.2.2).
type PropID byte

const (
	PropPayloadFormat        PropID = 0x01
	PropMessageExpiry        PropID = 0x02
	PropContentType          PropID = 0x03
	PropResponseTopic        PropID = 0x08
	PropCorrelationData      PropID = 0x09
	PropSubscriptionID       PropID = 0x0B
	PropSessionExpiry        PropID = 0x11
	PropAssignedClientID     PropID = 0x12
	PropServerKeepAlive      PropID = 0x13
	PropAuthMethod           PropID = 0x15
	PropAuthData             PropID = 0x16
	PropRequestProblemInfo   PropID = 0x17
	PropWillDelay            PropID = 0x18
	PropRequestResponseInfo  PropID = 0x19
	PropResponseInfo         PropID = 0x1A
	PropServerReference      PropID = 0x1C
	PropReasonString         PropID = 0x1F
	PropReceiveMaximum       PropID = 0x21
	PropTopicAliasMaximum    PropID = 0x22
	PropTopicAlias           PropID = 0x23
	PropMaximumQoS           PropID = 0x24
	PropRetainAvailable      PropID = 0x25
	PropUserProperty         PropID = 0x26
	PropMaximumPacketSize    PropID = 0x27
	PropWildcardSubAvailable PropID = 0x28
	PropSubIDAvailable       PropID = 0x29
	PropSharedSubAvailable   PropID = 0x2A
)

// UserProperty is a v5 User Property name/value pair. Order and
// duplicates are significant and preserved [MQTT-3.3.2-17/18].
type UserProperty struct {
	Key, Value string
}

// Properties holds the v5 properties of a packet (or will). Scalar and
// string properties are value fields whose presence is recorded in a bit
// set indexed by PropID; use Has and the Set* helpers. User properties and
// subscription identifiers are present when their slices are non-empty.
type Properties struct {
	present uint64
	// order holds the identifiers of the first ten properties in the
	// order they were decoded, 6 bits each from the low end (0 = none);
	// see WireOrder. It stays 0 for properties built by code.
	order uint64

	PayloadFormat        byte
	MessageExpiry        uint32
	ContentType          string
	ResponseTopic        string
	CorrelationData      []byte
	SubscriptionIDs      []uint32 // PUBLISH may carry several; SUBSCRIBE at most one
	SessionExpiry        uint32
	AssignedClientID     string
	ServerKeepAlive      uint16
	AuthMethod           string
	AuthData             []byte
	RequestProblemInfo   byte
	WillDelay            uint32
	RequestResponseInfo  byte
	ResponseInfo         string
	ServerReference      string
	ReasonString         string
	ReceiveMaximum       uint16
	TopicAliasMaximum    uint16
	TopicAlias           uint16
	MaximumQoS           byte
	RetainAvailable      byte
	User                 []UserProperty
	MaximumPacketSize    uint32
	WildcardSubAvailable byte
	SubIDAvailable       byte
	SharedSubAvailable   byte
}

// Has reports whether property id is present.
func (p *Properties) Has(id PropID) bool {
	switch id {
	case PropUserProperty:
		return len(p.User) > 0
	case PropSubscriptionID:
		return len(p.SubscriptionIDs) > 0
	}
	return p.present&(1<<uint(id)) != 0
}

// orderSlots is how many identifiers order holds.
const orderSlots = 10

// noteDecoded records that id was decoded (first occurrence only).
func (p *Properties) noteDecoded(id PropID) {
	for shift := uint(0); shift < 6*orderSlots; shift += 6 {
		switch PropID(p.order >> shift & 63) {
		case id:
			return
		case 0:
			p.order |= uint64(id) << shift
			return
		}
	}
}

// WireOrder appends to dst the identifiers of the properties present, in
// the order their first occurrence was decoded from the wire (a PUBLISH
// has at most eight kinds, all remembered); properties set by code, or
// beyond the tenth decoded kind, follow in identifier order. Repeated
// properties (User Property, Subscription Identifier) appear once. It
// lets a client print a message's properties as they arrived, as
// mosquitto_sub's %j does; nothing on the broker's path uses it.
func (p *Properties) WireOrder(dst []PropID) []PropID {
	start := len(dst)
	for shift := uint(0); shift < 6*orderSlots; shift += 6 {
		id := PropID(p.order >> shift & 63)
		if id == 0 {
			break
		}
		if p.Has(id) {
			dst = append(dst, id)
		}
	}
	for id := PropID(1); int(id) < len(propTable); id++ {
		if p.Has(id) && !slices.Contains(dst[start:], id) {
			dst = append(dst, id)
		}
	}
	return dst
}

// Mark records property id as present (its field must already be set).
func (p *Properties) Mark(id PropID) { p.present |= 1 << uint(id) }

// Unmark removes property id (the field keeps its value but is not encoded).
func (p *Properties) Unmark(id PropID) {
	p.present &^= 1 << uint(id)
	switch id {
	case PropUserProperty:
		p.User = nil
	case PropSubscriptionID:
		p.SubscriptionIDs = nil
	}
}

// IsEmpty reports whether no property is present.
func (p *Properties) IsEmpty() bool {
	return p.present == 0 && len(p.User) == 0 && len(p.SubscriptionIDs) == 0
}

func (p *Properties) SetPayloadFormat(v byte)     { p.PayloadFormat = v; p.Mark(PropPayloadFormat) }
func (p *Properties) SetMessageExpiry(v uint32)   { p.MessageExpiry = v; p.Mark(PropMessageExpiry) }
func (p *Properties) SetContentType(v string)     { p.ContentType = v; p.Mark(PropContentType) }
func (p *Properties) SetResponseTopic(v string)   { p.ResponseTopic = v; p.Mark(PropResponseTopic) }
func (p *Properties) SetCorrelationData(v []byte) { p.CorrelationData = v; p.Mark(PropCorrelationData) }
func (p *Properties) SetSessionExpiry(v uint32)   { p.SessionExpiry = v; p.Mark(PropSessionExpiry) }
func (p *Properties) SetAssignedClientID(v string) {
	p.AssignedClientID = v
	p.Mark(PropAssignedClientID)
}
func (p *Properties) SetServerKeepAlive(v uint16) { p.ServerKeepAlive = v; p.Mark(PropServerKeepAlive) }
func (p *Properties) SetAuthMethod(v string)      { p.AuthMethod = v; p.Mark(PropAuthMethod) }
func (p *Properties) SetAuthData(v []byte)        { p.AuthData = v; p.Mark(PropAuthData) }
func (p *Properties) SetRequestProblemInfo(v byte) {
	p.RequestProblemInfo = v
	p.Mark(PropRequestProblemInfo)
}
func (p *Properties) SetWillDelay(v uint32) { p.WillDelay = v; p.Mark(PropWillDelay) }
func (p *Properties) SetRequestResponseInfo(v byte) {
	p.RequestResponseInfo = v
	p.Mark(PropRequestResponseInfo)
}
func (p *Properties) SetResponseInfo(v string)    { p.ResponseInfo = v; p.Mark(PropResponseInfo) }
func (p *Properties) SetServerReference(v string) { p.ServerReference = v; p.Mark(PropServerReference) }
func (p *Properties) SetReasonString(v string)    { p.ReasonString = v; p.Mark(PropReasonString) }
func (p *Properties) SetReceiveMaximum(v uint16)  { p.ReceiveMaximum = v; p.Mark(PropReceiveMaximum) }
func (p *Properties) SetTopicAliasMaximum(v uint16) {
	p.TopicAliasMaximum = v
	p.Mark(PropTopicAliasMaximum)
}
func (p *Properties) SetTopicAlias(v uint16)    { p.TopicAlias = v; p.Mark(PropTopicAlias) }
func (p *Properties) SetMaximumQoS(v byte)      { p.MaximumQoS = v; p.Mark(PropMaximumQoS) }
func (p *Properties) SetRetainAvailable(v byte) { p.RetainAvailable = v; p.Mark(PropRetainAvailable) }
func (p *Properties) SetMaximumPacketSize(v uint32) {
	p.MaximumPacketSize = v
	p.Mark(PropMaximumPacketSize)
}
func (p *Properties) SetWildcardSubAvailable(v byte) {
	p.WildcardSubAvailable = v
	p.Mark(PropWildcardSubAvailable)
}
func (p *Properties) SetSubIDAvailable(v byte) { p.SubIDAvailable = v; p.Mark(PropSubIDAvailable) }
func (p *Properties) SetSharedSubAvailable(v byte) {
	p.SharedSubAvailable = v
	p.Mark(PropSharedSubAvailable)
}
