package cliutil

import (
	"strconv"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// appendTST appends the "tst" timestamp of %j/%J and JSONLine in the
// layout of mosquitto >= 2.0.12: local time with microseconds and a numeric
// offset, "2020-05-06T22:12:00.000000+0100".
func appendTST(dst []byte, t time.Time) []byte {
	dst = appendSeq(dst, t, "%Y-%m-%dT%H:%M:%S")
	dst = append(dst, '.')
	dst = appendPadded(dst, int64(t.Nanosecond()/1000), 6, '0')
	return appendZone(dst, t)
}

// publishPropsPresent reports whether any property a PUBLISH can carry is
// present; mosquitto adds a "properties" member only for v5 messages that
// carry properties.
func publishPropsPresent(p *mqtt.Properties) bool {
	return len(p.User) > 0 || len(p.SubscriptionIDs) > 0 ||
		p.Has(mqtt.PropContentType) || p.Has(mqtt.PropCorrelationData) ||
		p.Has(mqtt.PropResponseTopic) || p.Has(mqtt.PropPayloadFormat) ||
		p.Has(mqtt.PropTopicAlias) || p.Has(mqtt.PropMessageExpiry)
}

// mosquittoProps builds the "properties" object of %j the way
// json_print_properties does: one member per property in the order the
// properties arrived on the wire (mqtt.Properties.WireOrder), named as
// mosquitto_property_identifier_to_string names them, with all user
// properties collected in one "user-properties" object where the first
// one arrived (duplicate names are kept as duplicate members).
func mosquittoProps(p *mqtt.Properties) cjValue {
	obj := cjValue{kind: cjObject, key: "properties"}
	var ids [16]mqtt.PropID
	for _, id := range p.WireOrder(ids[:0]) {
		switch id {
		case mqtt.PropSubscriptionID:
			for _, sid := range p.SubscriptionIDs {
				obj.kids = append(obj.kids, cjNum("subscription-identifier", float64(sid)))
			}
		case mqtt.PropUserProperty:
			up := cjValue{kind: cjObject, key: "user-properties"}
			for _, u := range p.User {
				up.kids = append(up.kids, cjStr(u.Key, u.Value))
			}
			obj.kids = append(obj.kids, up)
		case mqtt.PropContentType:
			obj.kids = append(obj.kids, cjStr("content-type", p.ContentType))
		case mqtt.PropCorrelationData:
			// mosquitto prints the binary value as a C string.
			obj.kids = append(obj.kids, cjStr("correlation-data", string(p.CorrelationData)))
		case mqtt.PropResponseTopic:
			obj.kids = append(obj.kids, cjStr("response-topic", p.ResponseTopic))
		case mqtt.PropPayloadFormat:
			obj.kids = append(obj.kids, cjNum("payload-format-indicator", float64(p.PayloadFormat)))
		case mqtt.PropTopicAlias:
			obj.kids = append(obj.kids, cjNum("topic-alias", float64(p.TopicAlias)))
		case mqtt.PropMessageExpiry:
			obj.kids = append(obj.kids, cjNum("message-expiry-interval", float64(p.MessageExpiry)))
		}
	}
	return obj
}

// appendMosquittoJSON renders %j (escaped true) or %J (escaped false) as
// mosquitto 2.0.11 does with cJSON: members tst, topic, qos, retain,
// payloadlen, mid (QoS > 0 only), properties (v5 only, when present) and
// payload. For %j the payload is a JSON string of the bytes up to the first
// NUL, other bytes copied raw (so binary payloads can yield invalid JSON,
// eclipse/mosquitto#2213); for %J it is the payload parsed and re-printed
// by cJSON. An empty payload is null in both. ok is false, and nothing is
// appended, when %J meets a payload that is not JSON.
func appendMosquittoJSON(dst []byte, m *Message, escaped, pretty bool) ([]byte, bool) {
	root := cjValue{kind: cjObject, kids: make([]cjValue, 0, 8)}
	tst := appendTST(make([]byte, 0, 32), m.now())
	root.kids = append(root.kids,
		cjStr("tst", string(tst)),
		cjStr("topic", m.Topic),
		cjNum("qos", float64(m.QoS)),
		cjNum("retain", b2f(m.Retain)),
		cjNum("payloadlen", float64(len(m.Payload))),
	)
	if m.QoS > 0 {
		root.kids = append(root.kids, cjNum("mid", float64(m.MID)))
	}
	if publishPropsPresent(&m.Props) {
		root.kids = append(root.kids, mosquittoProps(&m.Props))
	}
	var payload cjValue
	switch {
	case len(m.Payload) == 0:
		payload = cjValue{kind: cjNull}
	case escaped:
		payload = cjValue{kind: cjString, str: string(m.Payload)}
	default:
		v, ok := parseCJSON(m.Payload)
		if !ok {
			return dst, false
		}
		payload = v
	}
	payload.key = "payload"
	root.kids = append(root.kids, payload)
	return appendCJSON(dst, &root, pretty, 0), true
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// appendUint is a small helper for JSON numbers that are never negative.
func appendUint(dst []byte, v uint64) []byte { return strconv.AppendUint(dst, v, 10) }
