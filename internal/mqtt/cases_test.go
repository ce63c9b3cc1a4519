package mqtt

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
)

// This file holds the shared corpus of byte-exact valid packets. The same
// table drives decoding, encoding, the struct round trip, the Reader tests
// and the fuzz seeds. Malformed packets live in cases_bad_test.go.

var (
	v3s  = []Version{V31, V311}
	v5s  = []Version{V5}
	allV = []Version{V31, V311, V5}
)

type packetCase struct {
	name string
	vs   []Version // versions the bytes are valid for
	raw  []byte
	pkt  Packet
	// decodeOnly marks a valid but non-canonical encoding (e.g. a v5 PUBACK
	// that spells out reason code 0): the encoder writes the short form.
	decodeOnly bool
}

// hx builds bytes from parts: hex digits (spaces ignored) or, for a part
// starting with a single quote, the text after the quote.
func hx(parts ...string) []byte {
	var b []byte
	for _, p := range parts {
		if strings.HasPrefix(p, "'") {
			b = append(b, p[1:]...)
			continue
		}
		d, err := hex.DecodeString(strings.ReplaceAll(p, " ", ""))
		if err != nil {
			panic("bad hex " + p)
		}
		b = append(b, d...)
	}
	return b
}

// props builds a Properties value with the Set* helpers, so presence bits
// are set the way a caller (and the decoder) sets them.
func props(set func(p *Properties)) Properties {
	var p Properties
	set(&p)
	return p
}

// norm makes nil and empty slices compare equal in reflect.DeepEqual:
// the decoder may return a non-nil empty slice (aliasing its buffer) where
// a hand-written struct has nil, and both mean "no bytes".
func norm(p Packet) Packet {
	if p != nil {
		normValue(reflect.ValueOf(p))
	}
	return p
}

func normValue(v reflect.Value) {
	// The decoder remembers the wire order of properties (WireOrder),
	// which a hand-written struct does not have.
	if v.Type() == reflect.TypeFor[Properties]() && v.CanAddr() {
		v.Addr().Interface().(*Properties).order = 0
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			normValue(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); f.CanSet() {
				normValue(f)
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			if v.CanSet() {
				v.SetZero()
			}
			return
		}
		for i := 0; i < v.Len(); i++ {
			normValue(v.Index(i))
		}
	}
}

func requireSamePacket(t *testing.T, got, want Packet) {
	t.Helper()
	if !reflect.DeepEqual(norm(got), norm(want)) {
		t.Fatalf("packet mismatch\n got: %#v\nwant: %#v\n got: %s\nwant: %s", got, want, Describe(got), Describe(want))
	}
}

var willV5Props = props(func(p *Properties) {
	p.SetPayloadFormat(1)
	p.SetMessageExpiry(60)
	p.SetContentType("text/plain")
	p.SetResponseTopic("r/t")
	p.SetCorrelationData([]byte{0xab, 0xcd})
	p.SetWillDelay(10)
	p.User = []UserProperty{{"a", "b"}}
})

var connectV5Props = props(func(p *Properties) {
	p.SetSessionExpiry(120)
	p.SetAuthMethod("SCRAM")
	p.SetAuthData([]byte{1, 2})
	p.SetRequestProblemInfo(0)
	p.SetRequestResponseInfo(1)
	p.SetReceiveMaximum(10)
	p.SetTopicAliasMaximum(5)
	p.User = []UserProperty{{"k", "v"}}
	p.SetMaximumPacketSize(4096)
})

var packetCases = []packetCase{
	// CONNECT
	{
		name: "connect 3.1.1 capture (clean, keepalive 5, empty id)",
		vs:   allV,
		raw:  hx("10 0c 00 04 4d 51 54 54 04 02 00 05 00 00"),
		pkt:  &Connect{ProtocolName: "MQTT", Version: V311, CleanStart: true, KeepAlive: 5},
	},
	{
		name: "connect 3.1 MQIsdp",
		vs:   allV,
		raw:  hx("10 12 00 06", "'MQIsdp", "03 02 00 3c 00 04", "'test"),
		pkt:  &Connect{ProtocolName: "MQIsdp", Version: V31, CleanStart: true, KeepAlive: 60, ClientID: "test"},
	},
	{
		name: "connect 3.1 long client id (server decides)",
		vs:   allV,
		raw:  hx("10 26 00 06", "'MQIsdp", "03 00 00 00 00 18", "'abcdefghijklmnopqrstuvwx"),
		pkt:  &Connect{ProtocolName: "MQIsdp", Version: V31, ClientID: "abcdefghijklmnopqrstuvwx"},
	},
	{
		name: "connect 3.1.1 user, password, will q1 retained",
		vs:   allV,
		raw: hx("10 23 00 04", "'MQTT", "04 ee 00 3c", "00 03", "'cid", "00 03", "'w/t", "00 03", "'bye",
			"00 04", "'user", "00 02", "'pw"),
		pkt: &Connect{ProtocolName: "MQTT", Version: V311, CleanStart: true, KeepAlive: 60, ClientID: "cid",
			HasUsername: true, Username: "user", HasPassword: true, Password: []byte("pw"),
			Will: &Will{Topic: "w/t", Payload: []byte("bye"), QoS: 1, Retain: true}},
	},
	{
		name: "connect 3.1.1 empty password",
		vs:   allV,
		raw:  hx("10 12 00 04", "'MQTT", "04 c0 00 00 00 01", "'c", "00 01", "'u", "00 00"),
		pkt: &Connect{ProtocolName: "MQTT", Version: V311, ClientID: "c", HasUsername: true, Username: "u",
			HasPassword: true},
	},
	{
		name: "connect 5.0 with properties and will properties",
		vs:   allV,
		raw: hx("10 72 00 04", "'MQTT", "05 96 00 1e",
			"28 11 00 00 00 78 15 00 05", "'SCRAM", "16 00 02 01 02 17 00 19 01 21 00 0a 22 00 05",
			"26 00 01", "'k", "00 01", "'v", "27 00 00 10 00",
			"00 02", "'c5",
			"2b 01 01 02 00 00 00 3c 03 00 0a", "'text/plain", "08 00 03", "'r/t", "09 00 02 ab cd",
			"18 00 00 00 0a 26 00 01", "'a", "00 01", "'b",
			"00 03", "'w/5", "00 04", "'gone", "00 02", "'me"),
		pkt: &Connect{ProtocolName: "MQTT", Version: V5, CleanStart: true, KeepAlive: 30, ClientID: "c5",
			HasUsername: true, Username: "me", Props: connectV5Props,
			Will: &Will{Topic: "w/5", Payload: []byte("gone"), QoS: 2, Props: willV5Props}},
	},
	{
		name: "connect 3.1.1 bridge (mosquitto try_private, level 0x84)",
		vs:   allV,
		raw:  hx("10 0f 00 04", "'MQTT", "84 00 00 3c 00 03", "'b.n"),
		pkt:  &Connect{ProtocolName: "MQTT", Version: V311, Bridge: true, KeepAlive: 60, ClientID: "b.n"},
	},
	{
		name: "connect 3.1 bridge (level 0x83)",
		vs:   allV,
		raw:  hx("10 11 00 06", "'MQIsdp", "83 02 00 3c 00 03", "'b.n"),
		pkt:  &Connect{ProtocolName: "MQIsdp", Version: V31, Bridge: true, CleanStart: true, KeepAlive: 60, ClientID: "b.n"},
	},
	{
		name: "connect 5.0 password without user name",
		vs:   allV,
		raw:  hx("10 12 00 04", "'MQTT", "05 42 00 00 00 00 01", "'x", "00 02", "'pw"),
		pkt: &Connect{ProtocolName: "MQTT", Version: V5, CleanStart: true, ClientID: "x",
			HasPassword: true, Password: []byte("pw")},
	},

	// CONNACK
	{name: "connack accepted", vs: v3s, raw: hx("20 02 00 00"), pkt: &Connack{}},
	{name: "connack session present", vs: []Version{V311}, raw: hx("20 02 01 00"), pkt: &Connack{SessionPresent: true}},
	{name: "connack refused not authorized", vs: v3s, raw: hx("20 02 00 05"),
		pkt: &Connack{Code: NotAuthorized, ReturnCodeV3: 5}},
	{name: "connack refused bad protocol version", vs: v3s, raw: hx("20 02 00 01"),
		pkt: &Connack{Code: UnsupportedProtocolVersion, ReturnCodeV3: 1}},
	{name: "connack v5 success", vs: v5s, raw: hx("20 03 00 00 00"), pkt: &Connack{}},
	{name: "connack v5 not authorized", vs: v5s, raw: hx("20 03 00 87 00"),
		pkt: &Connack{Code: NotAuthorized, ReturnCodeV3: 5}},
	{
		name: "connack v5 with server properties",
		vs:   v5s,
		raw: hx("20 22 01 00 1f 12 00 04", "'auto", "13 00 3c 21 00 14 22 00 0a 24 01 25 00",
			"27 00 01 00 00 28 01 29 00 2a 01"),
		pkt: &Connack{SessionPresent: true, Props: props(func(p *Properties) {
			p.SetAssignedClientID("auto")
			p.SetServerKeepAlive(60)
			p.SetReceiveMaximum(20)
			p.SetTopicAliasMaximum(10)
			p.SetMaximumQoS(1)
			p.SetRetainAvailable(0)
			p.SetMaximumPacketSize(65536)
			p.SetWildcardSubAvailable(1)
			p.SetSubIDAvailable(0)
			p.SetSharedSubAvailable(1)
		})},
	},
	{
		name: "connack v5 use another server",
		vs:   v5s,
		raw:  hx("20 11 00 9c 0e 1c 00 05", "'host2", "1f 00 03", "'moo"),
		pkt: &Connack{Code: UseAnotherServer, ReturnCodeV3: ConnRefusedServerUnavailable,
			Props: props(func(p *Properties) { p.SetServerReference("host2"); p.SetReasonString("moo") })},
	},

	// PUBLISH
	{name: "publish q0", vs: v3s, raw: hx("30 0a 00 03", "'a/b", "'hello"),
		pkt: &Publish{Topic: "a/b", Payload: []byte("hello")}},
	{name: "publish q1 dup retain", vs: v3s, raw: hx("3b 09 00 03", "'a/b", "00 07", "'hi"),
		pkt: &Publish{Topic: "a/b", Payload: []byte("hi"), QoS: 1, Dup: true, Retain: true, PacketID: 7}},
	{name: "publish q2", vs: v3s, raw: hx("34 0a 00 03", "'a/b", "12 34", "'abc"),
		pkt: &Publish{Topic: "a/b", Payload: []byte("abc"), QoS: 2, PacketID: 0x1234}},
	{name: "publish empty payload", vs: v3s, raw: hx("30 05 00 03", "'a/b"), pkt: &Publish{Topic: "a/b"}},
	{name: "publish utf8 topic", vs: v3s, raw: hx("30 07 00 05 c3 a9 2f c3 bc"), pkt: &Publish{Topic: "é/ü"}},
	// A BOM inside a string MUST NOT be skipped or stripped [MQTT-1.5.3-3].
	{name: "publish topic with BOM kept", vs: v3s, raw: hx("30 05 00 03 ef bb bf"), pkt: &Publish{Topic: "\ufeff"}},
	{name: "publish $SYS topic", vs: v3s, raw: hx("30 08 00 06", "'$SYS/x"), pkt: &Publish{Topic: "$SYS/x"}},
	{name: "publish v5 no properties", vs: v5s, raw: hx("30 08 00 03", "'a/b", "00", "'hi"),
		pkt: &Publish{Topic: "a/b", Payload: []byte("hi")}},
	{
		name: "publish v5 every publish property",
		vs:   v5s,
		raw: hx("32 3c 00 03", "'a/b", "00 01 32 01 01 02 00 00 00 3c 03 00 04", "'json", "08 00 05", "'reply",
			"09 00 03 01 02 03 0b 05 0b 80 01 23 00 07 26 00 01", "'x", "00 01", "'y",
			"26 00 01", "'x", "00 01", "'z", "'{}"),
		pkt: &Publish{Topic: "a/b", Payload: []byte("{}"), QoS: 1, PacketID: 1, Props: props(func(p *Properties) {
			p.SetPayloadFormat(1)
			p.SetMessageExpiry(60)
			p.SetContentType("json")
			p.SetResponseTopic("reply")
			p.SetCorrelationData([]byte{1, 2, 3})
			p.SubscriptionIDs = []uint32{5, 128}
			p.SetTopicAlias(7)
			p.User = []UserProperty{{"x", "y"}, {"x", "z"}}
		})},
	},
	{name: "publish v5 topic alias, empty topic", vs: v5s, raw: hx("30 07 00 00 03 23 00 01", "'x"),
		pkt: &Publish{Payload: []byte("x"), Props: props(func(p *Properties) { p.SetTopicAlias(1) })}},

	// PUBACK, PUBREC, PUBREL, PUBCOMP
	{name: "puback", vs: allV, raw: hx("40 02 00 07"), pkt: &Ack{Kind: PUBACK, PacketID: 7}},
	{name: "pubrec", vs: allV, raw: hx("50 02 ff ff"), pkt: &Ack{Kind: PUBREC, PacketID: 0xffff}},
	{name: "pubrel", vs: allV, raw: hx("62 02 00 07"), pkt: &Ack{Kind: PUBREL, PacketID: 7}},
	{name: "pubcomp", vs: allV, raw: hx("70 02 00 07"), pkt: &Ack{Kind: PUBCOMP, PacketID: 7}},
	{name: "puback v5 no matching subscribers", vs: v5s, raw: hx("40 03 00 07 10"),
		pkt: &Ack{Kind: PUBACK, PacketID: 7, Code: NoMatchingSubscribers}},
	{name: "puback v5 quota with reason", vs: v5s, raw: hx("40 0c 00 07 97 08 1f 00 05", "'quota"),
		pkt: &Ack{Kind: PUBACK, PacketID: 7, Code: QuotaExceeded,
			Props: props(func(p *Properties) { p.SetReasonString("quota") })}},
	{name: "pubrel v5 packet id not found", vs: v5s, raw: hx("62 03 00 07 92"),
		pkt: &Ack{Kind: PUBREL, PacketID: 7, Code: PacketIdentifierNotFound}},
	{name: "pubcomp v5 user property", vs: v5s, raw: hx("70 0b 00 07 00 07 26 00 01", "'k", "00 01", "'v"),
		pkt: &Ack{Kind: PUBCOMP, PacketID: 7, Props: Properties{User: []UserProperty{{"k", "v"}}}}},
	{name: "puback v5 explicit success", vs: v5s, raw: hx("40 03 00 07 00"), decodeOnly: true,
		pkt: &Ack{Kind: PUBACK, PacketID: 7}},
	{name: "puback v5 explicit empty properties", vs: v5s, raw: hx("40 04 00 07 00 00"), decodeOnly: true,
		pkt: &Ack{Kind: PUBACK, PacketID: 7}},

	// SUBSCRIBE
	{name: "subscribe one filter", vs: v3s, raw: hx("82 08 00 01 00 03", "'a/#", "01"),
		pkt: &Subscribe{PacketID: 1, Subscriptions: []Subscription{{Filter: "a/#", QoS: 1}}}},
	{name: "subscribe two filters", vs: v3s, raw: hx("82 0c 00 02 00 03", "'a/+", "02 00 01", "'b", "00"),
		pkt: &Subscribe{PacketID: 2, Subscriptions: []Subscription{{Filter: "a/+", QoS: 2}, {Filter: "b"}}}},
	{
		name: "subscribe v5 options and subscription id",
		vs:   v5s,
		raw:  hx("82 16 00 01 09 0b 05 26 00 01", "'k", "00 01", "'v", "00 03", "'a/#", "2d 00 01", "'b", "00"),
		pkt: &Subscribe{PacketID: 1,
			Subscriptions: []Subscription{
				{Filter: "a/#", QoS: 1, NoLocal: true, RetainAsPublished: true, RetainHandling: 2},
				{Filter: "b"},
			},
			Props: Properties{SubscriptionIDs: []uint32{5}, User: []UserProperty{{"k", "v"}}}},
	},
	{name: "subscribe v5 shared", vs: v5s, raw: hx("82 10 00 03 00 00 0a", "'$share/g/x", "11"),
		pkt: &Subscribe{PacketID: 3, Subscriptions: []Subscription{{Filter: "$share/g/x", QoS: 1, RetainHandling: 1}}}},

	// SUBACK
	{name: "suback", vs: v3s, raw: hx("90 03 00 01 01"), pkt: &Suback{PacketID: 1, Codes: []ReasonCode{GrantedQoS1}}},
	{name: "suback with failure", vs: v3s, raw: hx("90 05 00 01 00 02 80"),
		pkt: &Suback{PacketID: 1, Codes: []ReasonCode{Success, GrantedQoS2, UnspecifiedError}}},
	{name: "suback v5 codes and reason", vs: v5s, raw: hx("90 0d 00 01 05 1f 00 02", "'no", "00 01 02 87 8f"),
		pkt: &Suback{PacketID: 1, Codes: []ReasonCode{Success, GrantedQoS1, GrantedQoS2, NotAuthorized, TopicFilterInvalid},
			Props: props(func(p *Properties) { p.SetReasonString("no") })}},

	// UNSUBSCRIBE
	{name: "unsubscribe", vs: v3s, raw: hx("a2 0a 00 02 00 03", "'a/#", "00 01", "'b"),
		pkt: &Unsubscribe{PacketID: 2, Filters: []string{"a/#", "b"}}},
	{name: "unsubscribe v5", vs: v5s, raw: hx("a2 0d 00 02 07 26 00 01", "'k", "00 01", "'v", "00 01", "'a"),
		pkt: &Unsubscribe{PacketID: 2, Filters: []string{"a"}, Props: Properties{User: []UserProperty{{"k", "v"}}}}},

	// UNSUBACK
	{name: "unsuback", vs: v3s, raw: hx("b0 02 00 02"), pkt: &Unsuback{PacketID: 2}},
	{name: "unsuback v5 codes", vs: v5s, raw: hx("b0 0a 00 02 04 1f 00 01", "'x", "00 11 87"),
		pkt: &Unsuback{PacketID: 2, Codes: []ReasonCode{Success, NoSubscriptionExisted, NotAuthorized},
			Props: props(func(p *Properties) { p.SetReasonString("x") })}},

	// PINGREQ, PINGRESP
	{name: "pingreq capture", vs: allV, raw: hx("c0 00"), pkt: &Pingreq{}},
	{name: "pingresp capture", vs: allV, raw: hx("d0 00"), pkt: &Pingresp{}},

	// DISCONNECT
	{name: "disconnect", vs: allV, raw: hx("e0 00"), pkt: &Disconnect{}},
	{name: "disconnect v5 with will", vs: v5s, raw: hx("e0 01 04"), pkt: &Disconnect{Code: DisconnectWithWill}},
	{name: "disconnect v5 use another server", vs: v5s,
		raw: hx("e0 16 9c 14 11 00 00 00 00 1c 00 05", "'host2", "1f 00 04", "'gone"),
		pkt: &Disconnect{Code: UseAnotherServer, Props: props(func(p *Properties) {
			p.SetSessionExpiry(0)
			p.SetServerReference("host2")
			p.SetReasonString("gone")
		})}},
	{name: "disconnect v5 explicit empty properties", vs: v5s, raw: hx("e0 02 00 00"), decodeOnly: true,
		pkt: &Disconnect{}},

	// AUTH
	{name: "auth success short form", vs: v5s, raw: hx("f0 00"), pkt: &Auth{}},
	{name: "auth continue", vs: v5s, raw: hx("f0 10 18 0e 15 00 05", "'SCRAM", "16 00 03 01 02 03"),
		pkt: &Auth{Code: ContinueAuthentication, Props: props(func(p *Properties) {
			p.SetAuthMethod("SCRAM")
			p.SetAuthData([]byte{1, 2, 3})
		})}},
	{name: "auth re-authenticate with reason", vs: v5s, raw: hx("f0 09 19 07 1f 00 04", "'more"),
		pkt: &Auth{Code: ReAuthenticate, Props: props(func(p *Properties) { p.SetReasonString("more") })}},
}

func TestDecodeCases(t *testing.T) {
	for _, c := range packetCases {
		for _, v := range c.vs {
			t.Run(c.name+"/"+v.String(), func(t *testing.T) {
				got, err := Decode(c.raw, v)
				if err != nil {
					t.Fatalf("Decode(% x): %v", c.raw, err)
				}
				requireSamePacket(t, got, c.pkt)
			})
		}
	}
}

func TestEncodeCases(t *testing.T) {
	prefix := []byte{0xde, 0xad}
	for _, c := range packetCases {
		if c.decodeOnly {
			continue
		}
		for _, v := range c.vs {
			t.Run(c.name+"/"+v.String(), func(t *testing.T) {
				got, err := Append(append([]byte(nil), prefix...), c.pkt, v)
				if err != nil {
					t.Fatalf("Append: %v", err)
				}
				if !bytes.Equal(got[:2], prefix) {
					t.Fatalf("Append overwrote dst: % x", got)
				}
				if !bytes.Equal(got[2:], c.raw) {
					t.Fatalf("Append\n got % x\nwant % x", got[2:], c.raw)
				}
				if n := Size(c.pkt, v); n != len(c.raw) {
					t.Fatalf("Size = %d, want %d", n, len(c.raw))
				}
			})
		}
	}
}

// TestRoundTripCases checks Decode(Append(p)) == p field by field, for the
// case's own versions and, for packets that mean the same in every version
// (no properties, no v5-only fields), across all versions.
func TestRoundTripCases(t *testing.T) {
	for _, c := range packetCases {
		vs := c.vs
		if portable(c.pkt) {
			vs = allV
		}
		for _, v := range vs {
			t.Run(c.name+"/"+v.String(), func(t *testing.T) {
				enc, err := Append(nil, c.pkt, v)
				if err != nil {
					t.Fatalf("Append: %v", err)
				}
				dec, err := Decode(enc, v)
				if err != nil {
					t.Fatalf("Decode(% x): %v", enc, err)
				}
				requireSamePacket(t, dec, c.pkt)
			})
		}
	}
}

// portable reports whether p encodes to the same struct in every version.
func portable(p Packet) bool {
	switch p := p.(type) {
	case *Connect:
		return true // carries its own version
	case *Connack:
		return p.Props.IsEmpty() && !p.SessionPresent && (p.Code == Success || ConnackCodeFromV3(ConnackCodeV3(p.Code)) == p.Code)
	case *Publish:
		return p.Props.IsEmpty() && p.Topic != ""
	case *Ack:
		return p.Props.IsEmpty() && p.Code == Success
	case *Subscribe:
		for _, s := range p.Subscriptions {
			if s.NoLocal || s.RetainAsPublished || s.RetainHandling != 0 {
				return false
			}
		}
		return p.Props.IsEmpty()
	case *Suback:
		return p.Props.IsEmpty()
	case *Unsubscribe:
		return p.Props.IsEmpty()
	case *Unsuback:
		return p.Props.IsEmpty() && len(p.Codes) == 0
	case *Pingreq, *Pingresp:
		return true
	case *Disconnect:
		return p.Props.IsEmpty() && p.Code == Success
	}
	return false
}

// AppendHeader followed by the payload is the same packet as Append.
func TestAppendHeaderCases(t *testing.T) {
	for _, c := range packetCases {
		p, ok := c.pkt.(*Publish)
		if !ok || c.decodeOnly {
			continue
		}
		for _, v := range c.vs {
			hdr, err := AppendHeader(nil, p, v)
			if err != nil {
				t.Fatalf("%s/%s: AppendHeader: %v", c.name, v, err)
			}
			if got := append(hdr, p.Payload...); !bytes.Equal(got, c.raw) {
				t.Fatalf("%s/%s: header+payload\n got % x\nwant % x", c.name, v, got, c.raw)
			}
		}
	}
	if _, err := AppendHeader(nil, &Publish{Topic: "a/#"}, V311); CodeOf(err) != TopicNameInvalid {
		t.Fatalf("AppendHeader with a wildcard topic: %v", err)
	}
}

// TestConnackV31NoSessionPresent: MQTT 3.1 has no Session Present flag
// (the CONNACK's first variable header byte is reserved, "Not used"): it
// is encoded as 0 whatever SessionPresent says, and a 3.1 CONNACK with
// bit 0 set is accepted (lenient) without reporting a session present, so
// that it re-encodes to the same packet (FuzzDecode found the mismatch:
// testdata/fuzz/FuzzDecode/5cd047b7f85eb7a0). 3.1.1 reports the flag.
func TestConnackV31NoSessionPresent(t *testing.T) {
	got, err := Append(nil, &Connack{SessionPresent: true}, V31)
	if err != nil || !bytes.Equal(got, hx("20 02 00 00")) {
		t.Fatalf("Append(3.1, session present) = % x, %v; want 20 02 00 00", got, err)
	}
	for _, tc := range []struct {
		v    Version
		want bool
	}{{V31, false}, {V311, true}} {
		p, err := Decode(hx("20 02 01 00"), tc.v)
		if err != nil {
			t.Fatalf("Decode(%v, 20 02 01 00): %v", tc.v, err)
		}
		if sp := p.(*Connack).SessionPresent; sp != tc.want {
			t.Errorf("Decode(%v, 20 02 01 00): session present %v, want %v", tc.v, sp, tc.want)
		}
	}
}
