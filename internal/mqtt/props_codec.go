package mqtt

// Property encoding, decoding and the table of which packet may carry which
// property (MQTT 5.0 section 2.2.2.2, table 2-4).

// willProps is the pseudo packet type used for the will properties of
// CONNECT, which have their own allowed set (section 3.1.3.2).
const willProps PacketType = 16

type propKind byte

const (
	kByte propKind = iota + 1
	kU16
	kU32
	kVarint
	kStr
	kBin
	kPair
)

type propSpec struct {
	kind    propKind
	allowed uint32 // bit set of PacketType (and willProps)
	name    string
}

func bits(ts ...PacketType) uint32 {
	var m uint32
	for _, t := range ts {
		m |= 1 << t
	}
	return m
}

var acks = []PacketType{PUBACK, PUBREC, PUBREL, PUBCOMP}

var propTable = [PropSharedSubAvailable + 1]propSpec{
	PropPayloadFormat:        {kByte, bits(PUBLISH, willProps), "payload format indicator"},
	PropMessageExpiry:        {kU32, bits(PUBLISH, willProps), "message expiry interval"},
	PropContentType:          {kStr, bits(PUBLISH, willProps), "content type"},
	PropResponseTopic:        {kStr, bits(PUBLISH, willProps), "response topic"},
	PropCorrelationData:      {kBin, bits(PUBLISH, willProps), "correlation data"},
	PropSubscriptionID:       {kVarint, bits(PUBLISH, SUBSCRIBE), "subscription identifier"},
	PropSessionExpiry:        {kU32, bits(CONNECT, CONNACK, DISCONNECT), "session expiry interval"},
	PropAssignedClientID:     {kStr, bits(CONNACK), "assigned client identifier"},
	PropServerKeepAlive:      {kU16, bits(CONNACK), "server keep alive"},
	PropAuthMethod:           {kStr, bits(CONNECT, CONNACK, AUTH), "authentication method"},
	PropAuthData:             {kBin, bits(CONNECT, CONNACK, AUTH), "authentication data"},
	PropRequestProblemInfo:   {kByte, bits(CONNECT), "request problem information"},
	PropWillDelay:            {kU32, bits(willProps), "will delay interval"},
	PropRequestResponseInfo:  {kByte, bits(CONNECT), "request response information"},
	PropResponseInfo:         {kStr, bits(CONNACK), "response information"},
	PropServerReference:      {kStr, bits(CONNACK, DISCONNECT), "server reference"},
	PropReasonString:         {kStr, bits(append([]PacketType{CONNACK, SUBACK, UNSUBACK, DISCONNECT, AUTH}, acks...)...), "reason string"},
	PropReceiveMaximum:       {kU16, bits(CONNECT, CONNACK), "receive maximum"},
	PropTopicAliasMaximum:    {kU16, bits(CONNECT, CONNACK), "topic alias maximum"},
	PropTopicAlias:           {kU16, bits(PUBLISH), "topic alias"},
	PropMaximumQoS:           {kByte, bits(CONNACK), "maximum QoS"},
	PropRetainAvailable:      {kByte, bits(CONNACK), "retain available"},
	PropUserProperty:         {kPair, 0xffff<<1 | 1<<willProps, "user property"},
	PropMaximumPacketSize:    {kU32, bits(CONNECT, CONNACK), "maximum packet size"},
	PropWildcardSubAvailable: {kByte, bits(CONNACK), "wildcard subscription available"},
	PropSubIDAvailable:       {kByte, bits(CONNACK), "subscription identifier available"},
	PropSharedSubAvailable:   {kByte, bits(CONNACK), "shared subscription available"},
}

func specOf(id PropID) *propSpec {
	if int(id) < len(propTable) && propTable[id].kind != 0 {
		return &propTable[id]
	}
	return nil
}

// String returns the spec name of the property.
func (id PropID) String() string {
	if s := specOf(id); s != nil {
		return s.name
	}
	return "unknown property"
}

// decodeProps reads a property length and the properties into p, checking
// each is allowed in packet type t, is not duplicated (except User Property,
// and Subscription Identifier on PUBLISH), and has a legal value.
func decodeProps(c *cursor, p *Properties, t PacketType) error {
	n, err := c.varint("property length")
	if err != nil {
		return err
	}
	if int(n) > c.remaining() {
		return Errorf(ErrShortBuffer, "properties")
	}
	end := c.pos + int(n)
	for c.pos < end {
		idv, err := c.varint("property identifier")
		if err != nil {
			return err
		}
		id := PropID(idv)
		spec := specOf(id)
		if idv > 0xff || spec == nil {
			return Errorf(ErrMalformedPacket, "unknown property 0x%02X", idv)
		}
		if spec.allowed&(1<<t) == 0 {
			return Errorf(ErrInvalidProperty, "%s in %s", spec.name, t)
		}
		repeatable := id == PropUserProperty || (id == PropSubscriptionID && t == PUBLISH)
		if !repeatable && p.Has(id) {
			// It is a Protocol Error to include a property more than once
			// unless the spec says otherwise (section 2.2.2.2).
			return Errorf(ErrDuplicateProperty, "%s", spec.name)
		}
		p.noteDecoded(id)
		if err := decodeProp(c, p, id, spec); err != nil {
			return err
		}
	}
	if c.pos != end {
		return Errorf(ErrMalformedPacket, "properties overrun their length")
	}
	return nil
}

func decodeProp(c *cursor, p *Properties, id PropID, spec *propSpec) error {
	var (
		b   byte
		u16 uint16
		u32 uint32
		s   string
		bin []byte
		err error
	)
	switch spec.kind {
	case kByte:
		b, err = c.u8(spec.name)
	case kU16:
		u16, err = c.u16(spec.name)
	case kU32:
		u32, err = c.u32(spec.name)
	case kVarint:
		u32, err = c.varint(spec.name)
	case kStr:
		s, err = c.str(spec.name)
	case kBin:
		bin, err = c.bin(spec.name)
	case kPair:
		var k, v string
		if k, err = c.str("user property name"); err == nil {
			if v, err = c.str("user property value"); err == nil {
				p.User = append(p.User, UserProperty{k, v})
			}
		}
		return err
	}
	if err != nil {
		return err
	}
	switch id {
	case PropPayloadFormat:
		p.PayloadFormat = b
	case PropMessageExpiry:
		p.MessageExpiry = u32
	case PropContentType:
		p.ContentType = s
	case PropResponseTopic:
		p.ResponseTopic = s
	case PropCorrelationData:
		p.CorrelationData = bin
	case PropSubscriptionID:
		// It is a Protocol Error if the Subscription Identifier has a value
		// of 0 (section 3.8.2.1.2).
		if u32 == 0 {
			return Errorf(ErrProtocolError, "subscription identifier 0")
		}
		p.SubscriptionIDs = append(p.SubscriptionIDs, u32)
		return nil
	case PropSessionExpiry:
		p.SessionExpiry = u32
	case PropAssignedClientID:
		p.AssignedClientID = s
	case PropServerKeepAlive:
		p.ServerKeepAlive = u16
	case PropAuthMethod:
		p.AuthMethod = s
	case PropAuthData:
		p.AuthData = bin
	case PropRequestProblemInfo:
		p.RequestProblemInfo = b
	case PropWillDelay:
		p.WillDelay = u32
	case PropRequestResponseInfo:
		p.RequestResponseInfo = b
	case PropResponseInfo:
		p.ResponseInfo = s
	case PropServerReference:
		p.ServerReference = s
	case PropReasonString:
		p.ReasonString = s
	case PropReceiveMaximum:
		// It is a Protocol Error to include the value 0 (3.1.2.11.3, 3.2.2.3.3).
		if u16 == 0 {
			return Errorf(ErrProtocolError, "receive maximum 0")
		}
		p.ReceiveMaximum = u16
	case PropTopicAliasMaximum:
		p.TopicAliasMaximum = u16
	case PropTopicAlias:
		// A Topic Alias of 0 is not permitted [MQTT-3.3.2-8].
		if u16 == 0 {
			return Errorf(ErrTopicAliasInvalid, "topic alias 0")
		}
		p.TopicAlias = u16
	case PropMaximumQoS:
		p.MaximumQoS = b
	case PropRetainAvailable:
		p.RetainAvailable = b
	case PropMaximumPacketSize:
		// It is a Protocol Error to include the value 0 (3.1.2.11.4).
		if u32 == 0 {
			return Errorf(ErrProtocolError, "maximum packet size 0")
		}
		p.MaximumPacketSize = u32
	case PropWildcardSubAvailable:
		p.WildcardSubAvailable = b
	case PropSubIDAvailable:
		p.SubIDAvailable = b
	case PropSharedSubAvailable:
		p.SharedSubAvailable = b
	}
	// Byte properties that are booleans (or QoS 0/1 for Maximum QoS): any
	// other value is a Protocol Error.
	if spec.kind == kByte && b > 1 {
		return Errorf(ErrProtocolError, "%s value %d", spec.name, b)
	}
	p.Mark(id)
	return nil
}

// checkProps validates p before it is encoded into packet type t.
func checkProps(p *Properties, t PacketType) error {
	if p.IsEmpty() {
		return nil // nothing is encoded, nothing to check (keeps v5 acks cheap)
	}
	for id := PropID(1); int(id) < len(propTable); id++ {
		spec := &propTable[id]
		if spec.kind == 0 || !p.Has(id) {
			continue
		}
		if spec.allowed&(1<<t) == 0 {
			return Errorf(ErrInvalidProperty, "%s in %s", spec.name, t)
		}
		// Same rule as decodeProp: byte properties are 0 or 1.
		if spec.kind == kByte && propByte(p, id) > 1 {
			return Errorf(ErrProtocolError, "%s value %d", spec.name, propByte(p, id))
		}
	}
	if t == SUBSCRIBE && len(p.SubscriptionIDs) > 1 {
		return Errorf(ErrDuplicateProperty, "subscription identifier")
	}
	for _, id := range p.SubscriptionIDs {
		if id == 0 || id > MaxRemainingLength {
			return Errorf(ErrProtocolError, "subscription identifier %d", id)
		}
	}
	for _, s := range []string{p.ContentType, p.ResponseTopic, p.AssignedClientID, p.AuthMethod,
		p.ResponseInfo, p.ServerReference, p.ReasonString} {
		if err := checkStr("property", s); err != nil {
			return err
		}
	}
	for _, u := range p.User {
		if err := checkStr("user property", u.Key); err != nil {
			return err
		}
		if err := checkStr("user property", u.Value); err != nil {
			return err
		}
	}
	if err := checkBin("correlation data", p.CorrelationData); err != nil {
		return err
	}
	if err := checkBin("authentication data", p.AuthData); err != nil {
		return err
	}
	if p.Has(PropTopicAlias) && p.TopicAlias == 0 {
		return Errorf(ErrTopicAliasInvalid, "topic alias 0") // [MQTT-3.3.2-8]
	}
	if p.Has(PropReceiveMaximum) && p.ReceiveMaximum == 0 {
		return Errorf(ErrProtocolError, "receive maximum 0")
	}
	if p.Has(PropMaximumPacketSize) && p.MaximumPacketSize == 0 {
		return Errorf(ErrProtocolError, "maximum packet size 0")
	}
	return nil
}

// propsSize returns the encoded size of p's properties, without the
// property length prefix.
func propsSize(p *Properties) int {
	if p.IsEmpty() {
		return 0
	}
	n := 0
	for id := PropID(1); int(id) < len(propTable); id++ {
		spec := &propTable[id]
		if spec.kind == 0 || !p.Has(id) {
			continue
		}
		switch spec.kind {
		case kByte:
			n += 2
		case kU16:
			n += 3
		case kU32:
			n += 5
		case kVarint:
			for _, v := range p.SubscriptionIDs {
				n += 1 + varintSize(v)
			}
		case kBin:
			if id == PropAuthData {
				n += 3 + len(p.AuthData)
			} else {
				n += 3 + len(p.CorrelationData)
			}
		case kStr:
			n += 3 + len(propBytes(p, id))
		case kPair:
			for _, u := range p.User {
				n += 5 + len(u.Key) + len(u.Value)
			}
		}
	}
	return n
}

// propBytes returns the value of a string or binary property.
func propBytes(p *Properties, id PropID) string {
	switch id {
	case PropContentType:
		return p.ContentType
	case PropResponseTopic:
		return p.ResponseTopic
	case PropAssignedClientID:
		return p.AssignedClientID
	case PropAuthMethod:
		return p.AuthMethod
	case PropResponseInfo:
		return p.ResponseInfo
	case PropServerReference:
		return p.ServerReference
	case PropReasonString:
		return p.ReasonString
	}
	return ""
}

// appendProps appends the property length and the properties of p.
func appendProps(dst []byte, p *Properties) []byte {
	dst = appendVarint(dst, uint32(propsSize(p)))
	if p.IsEmpty() {
		return dst
	}
	for id := PropID(1); int(id) < len(propTable); id++ {
		spec := &propTable[id]
		if spec.kind == 0 || !p.Has(id) {
			continue
		}
		switch id {
		case PropCorrelationData:
			dst = appendBin(append(dst, byte(id)), p.CorrelationData)
			continue
		case PropAuthData:
			dst = appendBin(append(dst, byte(id)), p.AuthData)
			continue
		case PropSubscriptionID:
			for _, v := range p.SubscriptionIDs {
				dst = appendVarint(append(dst, byte(id)), v)
			}
			continue
		case PropUserProperty:
			for _, u := range p.User {
				dst = append(dst, byte(id))
				dst = appendStr(appendStr(dst, u.Key), u.Value)
			}
			continue
		}
		dst = append(dst, byte(id))
		switch spec.kind {
		case kByte:
			dst = append(dst, propByte(p, id))
		case kU16:
			dst = appendU16(dst, propU16(p, id))
		case kU32:
			dst = appendU32(dst, propU32(p, id))
		case kStr:
			dst = appendStr(dst, propBytes(p, id))
		}
	}
	return dst
}

func propByte(p *Properties, id PropID) byte {
	switch id {
	case PropPayloadFormat:
		return p.PayloadFormat
	case PropRequestProblemInfo:
		return p.RequestProblemInfo
	case PropRequestResponseInfo:
		return p.RequestResponseInfo
	case PropMaximumQoS:
		return p.MaximumQoS
	case PropRetainAvailable:
		return p.RetainAvailable
	case PropWildcardSubAvailable:
		return p.WildcardSubAvailable
	case PropSubIDAvailable:
		return p.SubIDAvailable
	case PropSharedSubAvailable:
		return p.SharedSubAvailable
	}
	return 0
}

func propU16(p *Properties, id PropID) uint16 {
	switch id {
	case PropServerKeepAlive:
		return p.ServerKeepAlive
	case PropReceiveMaximum:
		return p.ReceiveMaximum
	case PropTopicAliasMaximum:
		return p.TopicAliasMaximum
	case PropTopicAlias:
		return p.TopicAlias
	}
	return 0
}

func propU32(p *Properties, id PropID) uint32 {
	switch id {
	case PropMessageExpiry:
		return p.MessageExpiry
	case PropSessionExpiry:
		return p.SessionExpiry
	case PropWillDelay:
		return p.WillDelay
	case PropMaximumPacketSize:
		return p.MaximumPacketSize
	}
	return 0
}

// propsLen is the size of the properties including their length prefix.
func propsLen(p *Properties) int {
	n := propsSize(p)
	return varintSize(uint32(n)) + n
}
