package mqtt

import (
	"strconv"
	"unicode/utf8"
)

// Describe returns a one-line, human-readable trace of p in the style of
// mosquitto's -d output, for example
//
//	PUBLISH (d0, q1, r0, m7, 'a/b', ... (5 bytes))
//	CONNACK (0)
//	SUBSCRIBE (m1, 'a/#' q1)
//	PUBACK (m7, rc0)
//
// Reason codes are decimal numbers (as mosquitto prints them) and the v5
// properties that are present follow briefly ("alias 3", "reason 'quota'",
// "user 'k'='v'"). Passwords, payloads and binary properties are shown
// only by length. Strings are quoted with single quotes and anything not
// printable is escaped, so the trace always stays on one line. A nil
// packet gives "<nil>".
//
// Describe has no version argument, so a CONNACK shows its v5 reason code
// (135 for "not authorized"); DescribeVersion shows the 3.1/3.1.1 return
// code (5) for those versions, as mosquitto does.
func Describe(p Packet) string { return DescribeVersion(p, V5) }

// DescribeVersion is Describe for a packet sent or received on a
// connection of version v. It differs only for CONNACK, whose code is
// shown as it appears on the wire of that version.
func DescribeVersion(p Packet, v Version) string {
	if p == nil {
		return "<nil>"
	}
	b := make([]byte, 0, 64)
	switch p := p.(type) {
	case *Connect:
		b = describeConnect(b, p)
	case *Connack:
		b = append(b, "CONNACK ("...)
		code := byte(p.Code)
		if v != V5 {
			code = ConnackCodeV3(p.Code)
		}
		b = strconv.AppendUint(b, uint64(code), 10)
		if p.SessionPresent {
			b = append(b, ", sp1"...)
		}
		b = appendPropsDesc(b, &p.Props)
		b = append(b, ')')
	case *Publish:
		b = append(b, "PUBLISH (d"...)
		b = appendBool(b, p.Dup)
		b = append(b, ", q"...)
		b = strconv.AppendUint(b, uint64(p.QoS), 10)
		b = append(b, ", r"...)
		b = appendBool(b, p.Retain)
		b = append(b, ", m"...)
		b = strconv.AppendUint(b, uint64(p.PacketID), 10)
		b = append(b, ", "...)
		b = appendQuoted(b, p.Topic)
		b = append(b, ", ... ("...)
		b = strconv.AppendInt(b, int64(len(p.Payload)), 10)
		b = append(b, " bytes)"...)
		b = appendPropsDesc(b, &p.Props)
		b = append(b, ')')
	case *Ack:
		b = append(b, p.Kind.String()...)
		b = append(b, " (m"...)
		b = strconv.AppendUint(b, uint64(p.PacketID), 10)
		b = append(b, ", rc"...)
		b = strconv.AppendUint(b, uint64(p.Code), 10)
		b = appendPropsDesc(b, &p.Props)
		b = append(b, ')')
	case *Subscribe:
		b = append(b, "SUBSCRIBE (m"...)
		b = strconv.AppendUint(b, uint64(p.PacketID), 10)
		for i := range p.Subscriptions {
			s := &p.Subscriptions[i]
			b = append(b, ", "...)
			b = appendQuoted(b, s.Filter)
			b = append(b, " q"...)
			b = strconv.AppendUint(b, uint64(s.QoS), 10)
			if s.NoLocal {
				b = append(b, " nl"...)
			}
			if s.RetainAsPublished {
				b = append(b, " rap"...)
			}
			if s.RetainHandling != 0 {
				b = append(b, " rh"...)
				b = strconv.AppendUint(b, uint64(s.RetainHandling), 10)
			}
		}
		b = appendPropsDesc(b, &p.Props)
		b = append(b, ')')
	case *Suback:
		b = append(b, "SUBACK (m"...)
		b = strconv.AppendUint(b, uint64(p.PacketID), 10)
		b = appendCodes(b, p.Codes)
		b = appendPropsDesc(b, &p.Props)
		b = append(b, ')')
	case *Unsubscribe:
		b = append(b, "UNSUBSCRIBE (m"...)
		b = strconv.AppendUint(b, uint64(p.PacketID), 10)
		for _, f := range p.Filters {
			b = append(b, ", "...)
			b = appendQuoted(b, f)
		}
		b = appendPropsDesc(b, &p.Props)
		b = append(b, ')')
	case *Unsuback:
		b = append(b, "UNSUBACK (m"...)
		b = strconv.AppendUint(b, uint64(p.PacketID), 10)
		if len(p.Codes) > 0 {
			b = appendCodes(b, p.Codes)
		}
		b = appendPropsDesc(b, &p.Props)
		b = append(b, ')')
	case *Pingreq:
		b = append(b, "PINGREQ"...)
	case *Pingresp:
		b = append(b, "PINGRESP"...)
	case *Disconnect:
		b = append(b, "DISCONNECT"...)
		b = appendCodeAndProps(b, p.Code, &p.Props)
	case *Auth:
		b = append(b, "AUTH"...)
		b = appendCodeAndProps(b, p.Code, &p.Props)
	default:
		b = append(b, p.Type().String()...)
	}
	return string(b)
}

func describeConnect(b []byte, p *Connect) []byte {
	b = append(b, "CONNECT (p"...)
	b = strconv.AppendUint(b, uint64(p.Version), 10)
	if p.Bridge {
		b = append(b, " bridge"...)
	}
	b = append(b, ", c"...)
	b = appendBool(b, p.CleanStart)
	b = append(b, ", k"...)
	b = strconv.AppendUint(b, uint64(p.KeepAlive), 10)
	b = append(b, ", id "...)
	b = appendQuoted(b, p.ClientID)
	if p.HasUsername {
		b = append(b, ", u"...)
		b = appendQuoted(b, p.Username)
	}
	if p.HasPassword {
		b = append(b, ", pw "...)
		b = appendLen(b, len(p.Password))
	}
	if w := p.Will; w != nil {
		b = append(b, ", will "...)
		b = appendQuoted(b, w.Topic)
		b = append(b, " q"...)
		b = strconv.AppendUint(b, uint64(w.QoS), 10)
		b = append(b, " r"...)
		b = appendBool(b, w.Retain)
		b = append(b, ' ')
		b = appendLen(b, len(w.Payload))
		if !w.Props.IsEmpty() {
			b = append(b, " {"...)
			b = appendPropsList(b, &w.Props)
			b = append(b, '}')
		}
	}
	b = appendPropsDesc(b, &p.Props)
	return append(b, ')')
}

// appendCodeAndProps writes " (rcN, props)" for DISCONNECT and AUTH, or
// nothing for the short form (code 0, no properties).
func appendCodeAndProps(b []byte, c ReasonCode, p *Properties) []byte {
	if c == Success && p.IsEmpty() {
		return b
	}
	b = append(b, " (rc"...)
	b = strconv.AppendUint(b, uint64(c), 10)
	b = appendPropsDesc(b, p)
	return append(b, ')')
}

func appendCodes(b []byte, codes []ReasonCode) []byte {
	b = append(b, ", ["...)
	for i, c := range codes {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendUint(b, uint64(c), 10)
	}
	return append(b, ']')
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, '1')
	}
	return append(b, '0')
}

func appendLen(b []byte, n int) []byte {
	b = append(b, '(')
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, " bytes)"...)
}

// appendQuoted writes s between single quotes. Printable characters are
// copied; the quote and backslash are escaped with a backslash, invalid
// UTF-8 bytes as \xNN and other non-printable runes as Go escapes (\n,
// \x7f, \u200b).
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '\'')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			if c == '\'' || c == '\\' {
				b = append(b, '\\')
			}
			b = append(b, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			const digits = "0123456789abcdef"
			b = append(b, '\\', 'x', digits[c>>4], digits[c&15])
		case strconv.IsPrint(r):
			b = append(b, s[i:i+n]...)
		default:
			q := strconv.QuoteRuneToASCII(r) // e.g. '\n'
			b = append(b, q[1:len(q)-1]...)
		}
		i += n
	}
	return append(b, '\'')
}

// appendPropsDesc appends ", " and the property list when p is not empty.
func appendPropsDesc(b []byte, p *Properties) []byte {
	if p.IsEmpty() {
		return b
	}
	b = append(b, ", "...)
	return appendPropsList(b, p)
}

// propShort names the properties in traces, in identifier order.
var propShort = [...]struct {
	id   PropID
	name string
}{
	{PropPayloadFormat, "format"},
	{PropMessageExpiry, "expiry"},
	{PropContentType, "content-type"},
	{PropResponseTopic, "response-topic"},
	{PropCorrelationData, "correlation"},
	{PropSubscriptionID, "subid"},
	{PropSessionExpiry, "session-expiry"},
	{PropAssignedClientID, "assigned-id"},
	{PropServerKeepAlive, "server-keepalive"},
	{PropAuthMethod, "auth-method"},
	{PropAuthData, "auth-data"},
	{PropRequestProblemInfo, "request-problem-info"},
	{PropWillDelay, "will-delay"},
	{PropRequestResponseInfo, "request-response-info"},
	{PropResponseInfo, "response-info"},
	{PropServerReference, "server-reference"},
	{PropReasonString, "reason"},
	{PropReceiveMaximum, "receive-max"},
	{PropTopicAliasMaximum, "alias-max"},
	{PropTopicAlias, "alias"},
	{PropMaximumQoS, "max-qos"},
	{PropRetainAvailable, "retain-available"},
	{PropUserProperty, "user"},
	{PropMaximumPacketSize, "max-packet"},
	{PropWildcardSubAvailable, "wildcard-available"},
	{PropSubIDAvailable, "subid-available"},
	{PropSharedSubAvailable, "shared-available"},
}

// appendPropsList writes the present properties as "name value" items
// separated by ", ".
func appendPropsList(b []byte, p *Properties) []byte {
	first := true
	for _, ps := range propShort {
		if !p.Has(ps.id) {
			continue
		}
		if ps.id == PropUserProperty {
			for _, u := range p.User {
				if !first {
					b = append(b, ", "...)
				}
				first = false
				b = append(b, "user "...)
				b = appendQuoted(b, u.Key)
				b = append(b, '=')
				b = appendQuoted(b, u.Value)
			}
			continue
		}
		if !first {
			b = append(b, ", "...)
		}
		first = false
		b = append(b, ps.name...)
		b = append(b, ' ')
		b = appendPropValue(b, p, ps.id)
	}
	return b
}

func appendPropValue(b []byte, p *Properties, id PropID) []byte {
	num := func(v uint64) []byte { return strconv.AppendUint(b, v, 10) }
	switch id {
	case PropSubscriptionID:
		for i, s := range p.SubscriptionIDs {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(b, uint64(s), 10)
		}
		return b
	case PropPayloadFormat:
		return num(uint64(p.PayloadFormat))
	case PropMessageExpiry:
		return num(uint64(p.MessageExpiry))
	case PropContentType:
		return appendQuoted(b, p.ContentType)
	case PropResponseTopic:
		return appendQuoted(b, p.ResponseTopic)
	case PropCorrelationData:
		return appendLen(b, len(p.CorrelationData))
	case PropSessionExpiry:
		return num(uint64(p.SessionExpiry))
	case PropAssignedClientID:
		return appendQuoted(b, p.AssignedClientID)
	case PropServerKeepAlive:
		return num(uint64(p.ServerKeepAlive))
	case PropAuthMethod:
		return appendQuoted(b, p.AuthMethod)
	case PropAuthData:
		return appendLen(b, len(p.AuthData))
	case PropRequestProblemInfo:
		return num(uint64(p.RequestProblemInfo))
	case PropWillDelay:
		return num(uint64(p.WillDelay))
	case PropRequestResponseInfo:
		return num(uint64(p.RequestResponseInfo))
	case PropResponseInfo:
		return appendQuoted(b, p.ResponseInfo)
	case PropServerReference:
		return appendQuoted(b, p.ServerReference)
	case PropReasonString:
		return appendQuoted(b, p.ReasonString)
	case PropReceiveMaximum:
		return num(uint64(p.ReceiveMaximum))
	case PropTopicAliasMaximum:
		return num(uint64(p.TopicAliasMaximum))
	case PropTopicAlias:
		return num(uint64(p.TopicAlias))
	case PropMaximumQoS:
		return num(uint64(p.MaximumQoS))
	case PropRetainAvailable:
		return num(uint64(p.RetainAvailable))
	case PropMaximumPacketSize:
		return num(uint64(p.MaximumPacketSize))
	case PropWildcardSubAvailable:
		return num(uint64(p.WildcardSubAvailable))
	case PropSubIDAvailable:
		return num(uint64(p.SubIDAvailable))
	case PropSharedSubAvailable:
		return num(uint64(p.SharedSubAvailable))
	}
	return b
}
