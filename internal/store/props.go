package store

import (
	"encoding/binary"
	"fmt"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Properties are stored as a count followed by (property id, value)
// entries, in the order of the tables below, then one entry per
// subscription identifier and one per user property (order and duplicates
// preserved [MQTT-3.3.2-17/18]). Only present properties are written, and
// decoding marks exactly those present again through the Mark API (what
// the Set* helpers use), so the presence bits round-trip. Values are
// varints; strings and binary data are length-prefixed. Every property of
// the protocol is covered, although a stored message normally carries only
// the application ones (payload format, content type, response topic,
// correlation data, user properties, subscription identifiers).

type byteProp struct {
	id mqtt.PropID
	f  func(*mqtt.Properties) *byte
}

type u16Prop struct {
	id mqtt.PropID
	f  func(*mqtt.Properties) *uint16
}

type u32Prop struct {
	id mqtt.PropID
	f  func(*mqtt.Properties) *uint32
}

type stringProp struct {
	id mqtt.PropID
	f  func(*mqtt.Properties) *string
}

type binaryProp struct {
	id mqtt.PropID
	f  func(*mqtt.Properties) *[]byte
}

var byteProps = [...]byteProp{
	{mqtt.PropPayloadFormat, func(p *mqtt.Properties) *byte { return &p.PayloadFormat }},
	{mqtt.PropRequestProblemInfo, func(p *mqtt.Properties) *byte { return &p.RequestProblemInfo }},
	{mqtt.PropRequestResponseInfo, func(p *mqtt.Properties) *byte { return &p.RequestResponseInfo }},
	{mqtt.PropMaximumQoS, func(p *mqtt.Properties) *byte { return &p.MaximumQoS }},
	{mqtt.PropRetainAvailable, func(p *mqtt.Properties) *byte { return &p.RetainAvailable }},
	{mqtt.PropWildcardSubAvailable, func(p *mqtt.Properties) *byte { return &p.WildcardSubAvailable }},
	{mqtt.PropSubIDAvailable, func(p *mqtt.Properties) *byte { return &p.SubIDAvailable }},
	{mqtt.PropSharedSubAvailable, func(p *mqtt.Properties) *byte { return &p.SharedSubAvailable }},
}

var u16Props = [...]u16Prop{
	{mqtt.PropServerKeepAlive, func(p *mqtt.Properties) *uint16 { return &p.ServerKeepAlive }},
	{mqtt.PropReceiveMaximum, func(p *mqtt.Properties) *uint16 { return &p.ReceiveMaximum }},
	{mqtt.PropTopicAliasMaximum, func(p *mqtt.Properties) *uint16 { return &p.TopicAliasMaximum }},
	{mqtt.PropTopicAlias, func(p *mqtt.Properties) *uint16 { return &p.TopicAlias }},
}

var u32Props = [...]u32Prop{
	{mqtt.PropMessageExpiry, func(p *mqtt.Properties) *uint32 { return &p.MessageExpiry }},
	{mqtt.PropSessionExpiry, func(p *mqtt.Properties) *uint32 { return &p.SessionExpiry }},
	{mqtt.PropWillDelay, func(p *mqtt.Properties) *uint32 { return &p.WillDelay }},
	{mqtt.PropMaximumPacketSize, func(p *mqtt.Properties) *uint32 { return &p.MaximumPacketSize }},
}

var stringProps = [...]stringProp{
	{mqtt.PropContentType, func(p *mqtt.Properties) *string { return &p.ContentType }},
	{mqtt.PropResponseTopic, func(p *mqtt.Properties) *string { return &p.ResponseTopic }},
	{mqtt.PropAssignedClientID, func(p *mqtt.Properties) *string { return &p.AssignedClientID }},
	{mqtt.PropAuthMethod, func(p *mqtt.Properties) *string { return &p.AuthMethod }},
	{mqtt.PropResponseInfo, func(p *mqtt.Properties) *string { return &p.ResponseInfo }},
	{mqtt.PropServerReference, func(p *mqtt.Properties) *string { return &p.ServerReference }},
	{mqtt.PropReasonString, func(p *mqtt.Properties) *string { return &p.ReasonString }},
}

var binaryProps = [...]binaryProp{
	{mqtt.PropCorrelationData, func(p *mqtt.Properties) *[]byte { return &p.CorrelationData }},
	{mqtt.PropAuthData, func(p *mqtt.Properties) *[]byte { return &p.AuthData }},
}

// propsSize is an upper bound of the encoded size of p.
func propsSize(p *mqtt.Properties) int {
	if p.IsEmpty() {
		return 1
	}
	n := binary.MaxVarintLen64 // count
	n += 6 * (len(byteProps) + len(u16Props) + len(u32Props))
	for _, sp := range stringProps {
		n += 1 + binary.MaxVarintLen64 + len(*sp.f(p))
	}
	for _, bp := range binaryProps {
		n += 1 + binary.MaxVarintLen64 + len(*bp.f(p))
	}
	n += len(p.SubscriptionIDs) * (1 + binary.MaxVarintLen32)
	for _, u := range p.User {
		n += 1 + 2*binary.MaxVarintLen64 + len(u.Key) + len(u.Value)
	}
	return n
}

// appendProps appends the encoding of the present properties of p.
func appendProps(b []byte, p *mqtt.Properties) []byte {
	if p.IsEmpty() {
		return append(b, 0)
	}
	n := len(p.SubscriptionIDs) + len(p.User)
	for _, x := range byteProps {
		if p.Has(x.id) {
			n++
		}
	}
	for _, x := range u16Props {
		if p.Has(x.id) {
			n++
		}
	}
	for _, x := range u32Props {
		if p.Has(x.id) {
			n++
		}
	}
	for _, x := range stringProps {
		if p.Has(x.id) {
			n++
		}
	}
	for _, x := range binaryProps {
		if p.Has(x.id) {
			n++
		}
	}
	b = binary.AppendUvarint(b, uint64(n))
	for _, x := range byteProps {
		if p.Has(x.id) {
			b = append(b, byte(x.id), *x.f(p))
		}
	}
	for _, x := range u16Props {
		if p.Has(x.id) {
			b = binary.AppendUvarint(append(b, byte(x.id)), uint64(*x.f(p)))
		}
	}
	for _, x := range u32Props {
		if p.Has(x.id) {
			b = binary.AppendUvarint(append(b, byte(x.id)), uint64(*x.f(p)))
		}
	}
	for _, x := range stringProps {
		if p.Has(x.id) {
			b = appendString(append(b, byte(x.id)), *x.f(p))
		}
	}
	for _, x := range binaryProps {
		if p.Has(x.id) {
			b = appendBytes(append(b, byte(x.id)), *x.f(p))
		}
	}
	for _, id := range p.SubscriptionIDs {
		b = binary.AppendUvarint(append(b, byte(mqtt.PropSubscriptionID)), uint64(id))
	}
	for _, u := range p.User {
		b = appendString(append(b, byte(mqtt.PropUserProperty)), u.Key)
		b = appendString(b, u.Value)
	}
	return b
}

// decodeProps reads what appendProps wrote into p.
func decodeProps(d *decoder, p *mqtt.Properties) {
	n := d.count(2)
	for i := 0; i < n && d.err == nil; i++ {
		id := mqtt.PropID(d.byte())
		if !decodeProp(d, p, id) {
			d.fail(fmt.Errorf("unknown property id 0x%02X", byte(id)))
		}
	}
}

func decodeProp(d *decoder, p *mqtt.Properties, id mqtt.PropID) bool {
	switch id {
	case mqtt.PropSubscriptionID:
		p.SubscriptionIDs = append(p.SubscriptionIDs, d.u32())
		return true
	case mqtt.PropUserProperty:
		k := d.string()
		p.User = append(p.User, mqtt.UserProperty{Key: k, Value: d.string()})
		return true
	}
	for _, x := range byteProps {
		if x.id == id {
			*x.f(p) = d.byte()
			p.Mark(id)
			return true
		}
	}
	for _, x := range u16Props {
		if x.id == id {
			*x.f(p) = d.u16()
			p.Mark(id)
			return true
		}
	}
	for _, x := range u32Props {
		if x.id == id {
			*x.f(p) = d.u32()
			p.Mark(id)
			return true
		}
	}
	for _, x := range stringProps {
		if x.id == id {
			*x.f(p) = d.string()
			p.Mark(id)
			return true
		}
	}
	for _, x := range binaryProps {
		if x.id == id {
			v := d.raw()
			*x.f(p) = append(make([]byte, 0, len(v)), v...)
			p.Mark(id)
			return true
		}
	}
	return false
}
