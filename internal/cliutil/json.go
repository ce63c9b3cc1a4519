package cliutil

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"unicode/utf8"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// JSONLine appends m as one line of mqsub --json output (NDJSON; the
// newline is not included). It keeps the member names and order of
// mosquitto's %j — tst, topic, qos, retain, payloadlen, mid (QoS > 0 only),
// properties (only when v5 properties are present), payload — but, unlike
// %j, always produces valid JSON whatever the payload:
//
//   - a payload that is valid JSON is embedded as JSON (compacted, so the
//     record stays on one line): {"payload":{"temp":21.5}};
//   - otherwise a payload that is valid UTF-8 is a JSON string (so is an
//     empty payload: "payload":"");
//   - otherwise the member is "payload_b64" holding standard base64.
//
// Properties use mosquitto's names (subscription-identifier, user-properties,
// content-type, correlation-data, response-topic, payload-format-indicator,
// topic-alias, message-expiry-interval) in that order. user-properties is an
// object; repeated names are kept as repeated members, as mosquitto does.
// Correlation data that is not valid UTF-8 is given as
// "correlation-data_b64". A message with several subscription identifiers
// has one "subscription-identifier" member per identifier, as in %j.
//
// Colour is never applied. tst is local time as in %j (mosquitto >= 2.0.12
// layout).
func JSONLine(dst []byte, m *Message) []byte {
	dst = append(dst, `{"tst":"`...)
	dst = appendTST(dst, m.now())
	dst = append(dst, `","topic":`...)
	dst = appendJSONString(dst, m.Topic)
	dst = append(dst, `,"qos":`...)
	dst = appendUint(dst, uint64(m.QoS))
	dst = append(dst, `,"retain":`...)
	if m.Retain {
		dst = append(dst, '1')
	} else {
		dst = append(dst, '0')
	}
	dst = append(dst, `,"payloadlen":`...)
	dst = appendUint(dst, uint64(len(m.Payload)))
	if m.QoS > 0 {
		dst = append(dst, `,"mid":`...)
		dst = appendUint(dst, uint64(m.MID))
	}
	if publishPropsPresent(&m.Props) {
		dst = append(dst, `,"properties":`...)
		dst = appendJSONProps(dst, &m.Props)
	}
	switch {
	case len(m.Payload) > 0 && json.Valid(m.Payload):
		dst = append(dst, `,"payload":`...)
		var buf bytes.Buffer
		if err := json.Compact(&buf, m.Payload); err == nil {
			dst = append(dst, buf.Bytes()...)
		} else { // unreachable: Valid succeeded
			dst = appendJSONString(dst, string(m.Payload))
		}
	case utf8.Valid(m.Payload):
		dst = append(dst, `,"payload":`...)
		dst = appendJSONString(dst, string(m.Payload))
	default:
		dst = append(dst, `,"payload_b64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, m.Payload)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

func appendJSONProps(dst []byte, p *mqtt.Properties) []byte {
	dst = append(dst, '{')
	first := true
	member := func(name string) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendJSONString(dst, name)
		dst = append(dst, ':')
	}
	for _, id := range p.SubscriptionIDs {
		member("subscription-identifier")
		dst = appendUint(dst, uint64(id))
	}
	if len(p.User) > 0 {
		member("user-properties")
		dst = append(dst, '{')
		for i, u := range p.User {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, u.Key)
			dst = append(dst, ':')
			dst = appendJSONString(dst, u.Value)
		}
		dst = append(dst, '}')
	}
	if p.Has(mqtt.PropContentType) {
		member("content-type")
		dst = appendJSONString(dst, p.ContentType)
	}
	if p.Has(mqtt.PropCorrelationData) {
		if utf8.Valid(p.CorrelationData) {
			member("correlation-data")
			dst = appendJSONString(dst, string(p.CorrelationData))
		} else {
			member("correlation-data_b64")
			dst = append(dst, '"')
			dst = base64.StdEncoding.AppendEncode(dst, p.CorrelationData)
			dst = append(dst, '"')
		}
	}
	if p.Has(mqtt.PropResponseTopic) {
		member("response-topic")
		dst = appendJSONString(dst, p.ResponseTopic)
	}
	if p.Has(mqtt.PropPayloadFormat) {
		member("payload-format-indicator")
		dst = appendUint(dst, uint64(p.PayloadFormat))
	}
	if p.Has(mqtt.PropTopicAlias) {
		member("topic-alias")
		dst = appendUint(dst, uint64(p.TopicAlias))
	}
	if p.Has(mqtt.PropMessageExpiry) {
		member("message-expiry-interval")
		dst = appendUint(dst, uint64(p.MessageExpiry))
	}
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string (RFC 8259): '"' and '\' and
// control characters escaped (\b \f \n \r \t by name), U+2028 and U+2029
// escaped so the line is also valid JavaScript, and invalid UTF-8 replaced
// by U+FFFD. Unlike encoding/json, '<', '>' and '&' are left as they are.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\b':
				dst = append(dst, '\\', 'b')
			case c == '\f':
				dst = append(dst, '\\', 'f')
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028':
			dst = append(dst, `\u2028`...)
		case r == '\u2029':
			dst = append(dst, `\u2029`...)
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
