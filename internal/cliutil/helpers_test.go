package cliutil

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// t0 is the fixed receive time used by the tests: 2020-05-06 22:12:00
// and 123456789 ns, at UTC+1 named BST.
var t0 = time.Date(2020, 5, 6, 22, 12, 0, 123456789, time.FixedZone("BST", 3600))

// fullProps is a v5 property set with every PUBLISH property but the topic
// alias (which mosquitto's broker does not forward), as a subscriber of a
// mosquitto broker decodes it: in the wire order the broker writes when
// the publisher gave the properties in this order (subscription
// identifier first, message expiry last).
func fullProps() mqtt.Properties {
	var p mqtt.Properties
	p.User = []mqtt.UserProperty{{Key: "k", Value: "v"}, {Key: "k2", Value: "v2"}}
	p.SetContentType("ct")
	p.SetCorrelationData([]byte("cd"))
	p.SetResponseTopic("rt")
	p.SetPayloadFormat(1)
	p.SetMessageExpiry(60)
	p.SubscriptionIDs = []uint32{7}
	return decodedProps(p, mqtt.PropSubscriptionID, mqtt.PropUserProperty, mqtt.PropContentType,
		mqtt.PropCorrelationData, mqtt.PropResponseTopic, mqtt.PropPayloadFormat, mqtt.PropMessageExpiry)
}

// decodedProps returns p as a client decodes it from a PUBLISH whose
// properties came in the given order (mqtt.Properties remembers it).
func decodedProps(p mqtt.Properties, order ...mqtt.PropID) mqtt.Properties {
	var props []byte
	str := func(b []byte, s string) []byte { return append(append(b, byte(len(s)>>8), byte(len(s))), s...) }
	for _, id := range order {
		switch id {
		case mqtt.PropSubscriptionID:
			for _, sid := range p.SubscriptionIDs {
				props = appendVarint(append(props, byte(id)), sid)
			}
		case mqtt.PropUserProperty:
			for _, u := range p.User {
				props = str(str(append(props, byte(id)), u.Key), u.Value)
			}
		case mqtt.PropContentType:
			props = str(append(props, byte(id)), p.ContentType)
		case mqtt.PropResponseTopic:
			props = str(append(props, byte(id)), p.ResponseTopic)
		case mqtt.PropCorrelationData:
			props = str(append(props, byte(id)), string(p.CorrelationData))
		case mqtt.PropPayloadFormat:
			props = append(props, byte(id), p.PayloadFormat)
		case mqtt.PropMessageExpiry:
			e := p.MessageExpiry
			props = append(props, byte(id), byte(e>>24), byte(e>>16), byte(e>>8), byte(e))
		case mqtt.PropTopicAlias:
			props = append(props, byte(id), byte(p.TopicAlias>>8), byte(p.TopicAlias))
		default:
			panic("decodedProps: unsupported property " + id.String())
		}
	}
	body := appendVarint([]byte{0, 1, 'x'}, uint32(len(props)))
	body = append(body, props...)
	frame := append(appendVarint([]byte{0x30}, uint32(len(body))), body...)
	pk, err := mqtt.Decode(frame, mqtt.V5)
	if err != nil {
		panic("decodedProps: " + err.Error())
	}
	return pk.(*mqtt.Publish).Props
}

func appendVarint(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v > 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

func requireEqualBytes(t *testing.T, name string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", name, strconv.Quote(string(got)), strconv.Quote(string(want)))
	}
}

func requireNoError(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func requireErrorText(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	if err.Error() != want {
		t.Fatalf("error %q, want %q", err.Error(), want)
	}
}
