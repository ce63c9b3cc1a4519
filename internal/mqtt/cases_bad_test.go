package mqtt

import (
	"errors"
	"strings"
	"testing"
)

// Malformed and invalid packets. Each case names the sentinel the error
// must wrap (errors.Is) and the reason code CodeOf must return, which is
// what the broker sends in a v5 CONNACK or DISCONNECT.
type badCase struct {
	name string
	vs   []Version
	raw  []byte
	err  *Error     // sentinel; nil to check the code only
	code ReasonCode // 0 means err.Code
}

func (c badCase) wantCode() ReasonCode {
	if c.code == 0 && c.err != nil {
		return c.err.Code
	}
	return c.code
}

var badCases = []badCase{
	// Fixed header and framing.
	{"varint five bytes", allV, hx("30 ff ff ff ff 7f"), ErrMalformedVarInt, 0},
	{"varint truncated", allV, hx("30 ff"), ErrShortBuffer, 0},
	{"varint not minimal", allV, hx("c0 80 00"), ErrMalformedVarInt, 0},              // [MQTT-1.5.5-1]
	{"varint not minimal (3 bytes)", allV, hx("c0 80 80 00"), ErrMalformedVarInt, 0}, // [MQTT-1.5.5-1]
	{"no remaining length", allV, hx("40"), ErrShortBuffer, 0},
	{"remaining length past data", allV, hx("40 03 00 07"), ErrShortBuffer, 0},
	{"trailing byte after packet", allV, hx("c0 00 00"), ErrTrailingBytes, 0},
	{"pingreq with body", allV, hx("c0 01 00"), ErrTrailingBytes, 0},
	{"v3 puback with reason code", v3s, hx("40 03 00 07 00"), ErrTrailingBytes, 0},
	{"v3 unsuback with codes", v3s, hx("b0 03 00 02 00"), ErrTrailingBytes, 0},
	{"v3 disconnect with body", v3s, hx("e0 01 00"), ErrTrailingBytes, 0},
	{"connect trailing byte", allV, hx("10 0d 00 04", "'MQTT", "04 02 00 05 00 00 ff"), ErrTrailingBytes, 0},
	{"connect truncated", allV, hx("10 0a 00 04", "'MQTT", "04 02 00 05"), ErrShortBuffer, 0},
	{"publish topic length past data", allV, hx("30 03 00 05 61"), ErrShortBuffer, 0},
	{"puback packet id truncated", allV, hx("40 01 00"), ErrShortBuffer, 0},
	{"property length past data", v5s, hx("40 05 00 07 00 09 1f"), ErrShortBuffer, 0},
	{"property overruns property length", v5s, hx("90 08 00 01 02 1f 00 02", "'no"), nil, MalformedPacket},

	// Packet types [MQTT-2.2.1]: 0 is reserved, AUTH is v5 only.
	{"type 0", allV, hx("00 00"), ErrInvalidPacketType, 0},
	{"auth before v5", v3s, hx("f0 00"), ErrInvalidPacketType, 0},

	// Reserved fixed header flags [MQTT-2.2.2-1] [MQTT-2.2.2-2] / [MQTT-2.1.3-1].
	{"connect flags", allV, hx("11 0c 00 04", "'MQTT", "04 02 00 05 00 00"), ErrReservedFlags, 0},
	{"connack flags", allV, hx("21 02 00 00"), ErrReservedFlags, 0},
	{"puback flags", allV, hx("42 02 00 07"), ErrReservedFlags, 0},
	{"pubrec flags", allV, hx("51 02 00 07"), ErrReservedFlags, 0},
	{"pubrel flags 0000", allV, hx("60 02 00 07"), ErrReservedFlags, 0}, // [MQTT-3.6.1-1]
	{"pubcomp flags", allV, hx("78 02 00 07"), ErrReservedFlags, 0},
	{"subscribe flags 0000", allV, hx("80 08 00 01 00 03", "'a/#", "01"), ErrReservedFlags, 0}, // [MQTT-3.8.1-1]
	{"suback flags", allV, hx("92 03 00 01 01"), ErrReservedFlags, 0},
	{"unsubscribe flags 0000", allV, hx("a0 05 00 01 00 01", "'a"), ErrReservedFlags, 0}, // [MQTT-3.10.1-1]
	{"unsuback flags", allV, hx("b1 02 00 02"), ErrReservedFlags, 0},
	{"pingreq flags", allV, hx("c1 00"), ErrReservedFlags, 0},
	{"pingresp flags", allV, hx("d2 00"), ErrReservedFlags, 0},
	{"disconnect flags", allV, hx("e4 00"), ErrReservedFlags, 0},
	{"auth flags", v5s, hx("f1 00"), ErrReservedFlags, 0},

	// PUBLISH.
	{"publish qos 3", allV, hx("36 07 00 03", "'a/b", "00 01"), ErrInvalidQoS, 0},                     // [MQTT-3.3.1-4]
	{"publish dup on qos 0", v3s, hx("38 0a 00 03", "'a/b", "'hello"), nil, MalformedPacket},          // [MQTT-3.3.1-2]
	{"publish packet id 0", v3s, hx("32 07 00 03", "'a/b", "00 00"), ErrZeroPacketID, 0},              // [MQTT-2.3.1-1]
	{"publish wildcard +", v3s, hx("30 05 00 03", "'a/+"), ErrInvalidTopicName, 0},                    // [MQTT-3.3.2-2]
	{"publish wildcard #", v3s, hx("30 05 00 03", "'a/#"), ErrInvalidTopicName, 0},                    // [MQTT-3.3.2-2]
	{"publish v5 wildcard", v5s, hx("30 06 00 03", "'a/#", "00"), ErrInvalidTopicName, 0},             // [MQTT-3.3.2-2]
	{"publish empty topic", v3s, hx("30 02 00 00"), ErrInvalidTopicName, 0},                           // [MQTT-4.7.3-1]
	{"publish v5 empty topic without alias", v5s, hx("30 03 00 00 00"), nil, ProtocolError},           // 5.0 section 3.3.2.1
	{"publish topic U+0000", v3s, hx("30 05 00 03 61 00 62"), ErrMalformedUTF8, 0},                    // [MQTT-1.5.3-2]
	{"publish topic surrogate", v3s, hx("30 06 00 04 61 ed a0 80"), ErrMalformedUTF8, 0},              // [MQTT-1.5.3-1]
	{"publish topic overlong", v3s, hx("30 04 00 02 c0 af"), ErrMalformedUTF8, 0},                     // [MQTT-1.5.3-1]
	{"publish topic invalid byte", v3s, hx("30 03 00 01 ff"), ErrMalformedUTF8, 0},                    // [MQTT-1.5.3-1]
	{"publish topic above U+10FFFF", v3s, hx("30 06 00 04 f4 90 80 80"), ErrMalformedUTF8, 0},         // [MQTT-1.5.3-1]
	{"publish topic alias 0", v5s, hx("30 09 00 03", "'a/b", "03 23 00 00"), ErrTopicAliasInvalid, 0}, // [MQTT-3.3.2-8]
	{"publish payload format 2", v5s, hx("30 08 00 03", "'a/b", "02 01 02"), nil, ProtocolError},
	{"publish session expiry not allowed", v5s, hx("30 0b 00 03", "'a/b", "05 11 00 00 00 01"), ErrInvalidProperty, 0},
	{"publish will delay not allowed", v5s, hx("30 0b 00 03", "'a/b", "05 18 00 00 00 01"), ErrInvalidProperty, 0},
	{"publish duplicate content type", v5s, hx("30 10 00 03", "'a/b", "0a 03 00 02", "'ab", "03 00 02", "'cd"), ErrDuplicateProperty, 0},
	{"publish duplicate topic alias", v5s, hx("30 0c 00 03", "'a/b", "06 23 00 01 23 00 02"), ErrDuplicateProperty, 0},
	{"publish subscription id 0", v5s, hx("30 08 00 03", "'a/b", "02 0b 00"), nil, ProtocolError},
	{"publish unknown property", v5s, hx("30 08 00 03", "'a/b", "02 05 00"), nil, MalformedPacket},
	{"publish user property bad utf8", v5s, hx("30 0d 00 03", "'a/b", "07 26 00 01 ff 00 01", "'v"), ErrMalformedUTF8, 0}, // [MQTT-1.5.7-1]

	// CONNECT.
	{"connect protocol name MQTX", allV, hx("10 0c 00 04", "'MQTX", "04 02 00 05 00 00"), ErrInvalidProtocolName, 0}, // [MQTT-3.1.2-1]
	{"connect level 6", allV, hx("10 0c 00 04", "'MQTT", "06 02 00 05 00 00"), ErrUnsupportedVersion, 0},             // [MQTT-3.1.2-2]
	{"connect MQTT level 0x85 (no bridge flag in 5.0)", allV, hx("10 0c 00 04", "'MQTT", "85 02 00 05 00 00"), ErrUnsupportedVersion, 0},
	{"connect MQTT level 0x86", allV, hx("10 0c 00 04", "'MQTT", "86 02 00 05 00 00"), ErrUnsupportedVersion, 0},
	{"connect MQTT level 3", allV, hx("10 0c 00 04", "'MQTT", "03 02 00 05 00 00"), ErrUnsupportedVersion, 0},
	{"connect MQIsdp level 4", allV, hx("10 0e 00 06", "'MQIsdp", "04 02 00 05 00 00"), ErrUnsupportedVersion, 0},
	{"connect reserved flag", allV, hx("10 0c 00 04", "'MQTT", "04 03 00 05 00 00"), nil, MalformedPacket},                           // [MQTT-3.1.2-3]
	{"connect will qos without will", allV, hx("10 0c 00 04", "'MQTT", "04 0a 00 05 00 00"), nil, MalformedPacket},                   // [MQTT-3.1.2-13]
	{"connect will retain without will", allV, hx("10 0c 00 04", "'MQTT", "04 22 00 05 00 00"), nil, MalformedPacket},                // [MQTT-3.1.2-15]
	{"connect v5 will qos without will", allV, hx("10 0d 00 04", "'MQTT", "05 12 00 05 00 00 00"), nil, MalformedPacket},             // [MQTT-3.1.2-11]
	{"connect will qos 3", allV, hx("10 11 00 04", "'MQTT", "04 1e 00 05 00 00 00 01", "'w", "00 00"), ErrInvalidQoS, 0},             // [MQTT-3.1.2-14]
	{"connect password without user name", allV, hx("10 10 00 04", "'MQTT", "04 42 00 05 00 00 00 02", "'pw"), nil, MalformedPacket}, // [MQTT-3.1.2-22]
	{"connect 3.1 password without user name", allV, hx("10 12 00 06", "'MQIsdp", "03 42 00 05 00 00 00 02", "'pw"), nil, MalformedPacket},
	{"connect client id bad utf8", allV, hx("10 0d 00 04", "'MQTT", "04 02 00 05 00 01 ff"), ErrMalformedUTF8, 0},
	{"connect client id U+0000", allV, hx("10 0d 00 04", "'MQTT", "04 02 00 05 00 01 00"), ErrMalformedUTF8, 0},
	{"connect user name bad utf8", allV, hx("10 10 00 04", "'MQTT", "04 82 00 05 00 00 00 02 c3 28"), ErrMalformedUTF8, 0},
	{"connect will topic wildcard", allV, hx("10 13 00 04", "'MQTT", "04 06 00 05 00 00 00 03", "'a/#", "00 00"), ErrInvalidTopicName, 0},
	{"connect v5 receive maximum 0", allV, hx("10 10 00 04", "'MQTT", "05 02 00 05 03 21 00 00 00 00"), nil, ProtocolError},
	{"connect v5 maximum packet size 0", allV, hx("10 12 00 04", "'MQTT", "05 02 00 05 05 27 00 00 00 00 00 00"), nil, ProtocolError},
	{"connect v5 request problem info 2", allV, hx("10 0f 00 04", "'MQTT", "05 02 00 05 02 17 02 00 00"), nil, ProtocolError},
	{"connect v5 duplicate session expiry", allV, hx("10 17 00 04", "'MQTT", "05 02 00 05 0a 11 00 00 00 01 11 00 00 00 02 00 00"), ErrDuplicateProperty, 0},
	{"connect v5 will delay not allowed", allV, hx("10 12 00 04", "'MQTT", "05 02 00 05 05 18 00 00 00 01 00 00"), ErrInvalidProperty, 0},
	{"connect v5 will props session expiry", allV, hx("10 18 00 04", "'MQTT", "05 06 00 05 00 00 00 05 11 00 00 00 01 00 01", "'w", "00 00"), ErrInvalidProperty, 0},

	// CONNACK.
	{"connack reserved flags", allV, hx("20 02 02 00"), nil, MalformedPacket},       // [MQTT-3.2.2-1]
	{"connack v3 reserved return code", v3s, hx("20 02 00 06"), nil, ProtocolError}, // [MQTT-3.2.2-6]
	// [MQTT-3.2.2-4] is 3.1.1's: in 3.1 the flag byte is "not used" (bit 0
	// ignored: TestConnackV31NoSessionPresent).
	{"connack v3 refusal with session present", []Version{V311}, hx("20 02 01 05"), nil, ProtocolError}, // [MQTT-3.2.2-4]
	// v5 reason codes outside each packet's list are Protocol Errors.
	{"v5 puback with a disconnect code", v5s, hx("40 03 00 01 04"), nil, ProtocolError},
	{"v5 pubrel with 0x80", v5s, hx("62 03 00 01 80"), nil, ProtocolError},
	{"v5 disconnect with 0x10", v5s, hx("e0 01 10"), nil, ProtocolError}, // [MQTT-3.14.2-1]
	{"v5 suback with 0x04", v5s, hx("90 04 00 01 00 04"), nil, ProtocolError},
	{"v5 unsuback with 0x10", v5s, hx("b0 04 00 01 00 10"), nil, ProtocolError},
	{"v5 connack with 0x04", v5s, hx("20 03 00 04 00"), nil, ProtocolError},
	{"connack v5 refusal with session present", v5s, hx("20 03 01 87 00"), nil, ProtocolError}, // [MQTT-3.2.2-6] (v5)
	{"connack v5 maximum qos 2", v5s, hx("20 05 00 00 02 24 02"), nil, ProtocolError},
	{"connack v5 topic alias not allowed", v5s, hx("20 06 00 00 03 23 00 01"), ErrInvalidProperty, 0},
	{"connack v5 truncated", v5s, hx("20 01 00"), ErrShortBuffer, 0},

	// PUBACK, PUBREC, PUBREL, PUBCOMP.
	{"puback packet id 0", allV, hx("40 02 00 00"), ErrZeroPacketID, 0},
	{"pubrel packet id 0", allV, hx("62 02 00 00"), ErrZeroPacketID, 0},
	{"puback v5 topic alias not allowed", v5s, hx("40 07 00 07 00 03 23 00 01"), ErrInvalidProperty, 0},
	{"puback v5 duplicate reason string", v5s, hx("40 0e 00 07 80 0a 1f 00 02", "'ab", "1f 00 02", "'cd"), ErrDuplicateProperty, 0},

	// SUBSCRIBE.
	{"subscribe no filters", v3s, hx("82 02 00 01"), ErrNoTopicFilters, 0},       // [MQTT-3.8.3-3]
	{"subscribe v5 no filters", v5s, hx("82 03 00 01 00"), ErrNoTopicFilters, 0}, // [MQTT-3.8.3-3]
	{"subscribe packet id 0", v3s, hx("82 08 00 00 00 03", "'a/#", "01"), ErrZeroPacketID, 0},
	{"subscribe qos 3", allV, hx("82 08 00 01 00 03", "'a/#", "03"), nil, MalformedPacket},                     // [MQTT-3-8.3-4]
	{"subscribe v3 reserved option bit", v3s, hx("82 08 00 01 00 03", "'a/#", "04"), nil, MalformedPacket},     // [MQTT-3-8.3-4]
	{"subscribe v5 reserved option bits", v5s, hx("82 09 00 01 00 00 03", "'a/#", "40"), nil, MalformedPacket}, // [MQTT-3.8.3-5]
	{"subscribe v5 retain handling 3", v5s, hx("82 09 00 01 00 00 03", "'a/#", "30"), nil, ProtocolError},
	{"subscribe v5 two subscription ids", v5s, hx("82 0d 00 01 04 0b 01 0b 02 00 03", "'a/#", "00"), ErrDuplicateProperty, 0},
	{"subscribe v5 subscription id 0", v5s, hx("82 0b 00 01 02 0b 00 00 03", "'a/#", "00"), nil, ProtocolError},
	{"subscribe v5 reason string not allowed", v5s, hx("82 0d 00 01 04 1f 00 01", "'x", "00 03", "'a/#", "00"), ErrInvalidProperty, 0},
	{"subscribe filter bad utf8", v3s, hx("82 06 00 01 00 01 ff 00"), ErrMalformedUTF8, 0},
	{"subscribe missing options", v3s, hx("82 07 00 01 00 03", "'a/#"), ErrShortBuffer, 0},

	// SUBACK.
	{"suback v3 return code 3", v3s, hx("90 03 00 01 03"), nil, MalformedPacket}, // [MQTT-3.9.3-2]
	{"suback packet id 0", allV, hx("90 03 00 00 01"), ErrZeroPacketID, 0},       // [MQTT-2.3.1-1]

	// UNSUBSCRIBE and UNSUBACK.
	{"unsubscribe no filters", v3s, hx("a2 02 00 01"), ErrNoTopicFilters, 0}, // [MQTT-3.10.3-2]
	{"unsubscribe packet id 0", v3s, hx("a2 05 00 00 00 01", "'a"), ErrZeroPacketID, 0},
	{"unsubscribe filter U+0000", v3s, hx("a2 05 00 01 00 01 00"), ErrMalformedUTF8, 0},
	{"unsuback packet id 0", allV, hx("b0 02 00 00"), ErrZeroPacketID, 0},

	// DISCONNECT and AUTH.
	{"disconnect v5 will delay not allowed", v5s, hx("e0 07 00 05 18 00 00 00 01"), ErrInvalidProperty, 0},
	{"auth v5 bad reason code", v5s, hx("f0 02 87 00"), nil, ProtocolError}, // [MQTT-3.15.2-1]
	{"auth v5 session expiry not allowed", v5s, hx("f0 07 18 05 11 00 00 00 01"), ErrInvalidProperty, 0},
}

func TestDecodeMalformed(t *testing.T) {
	for _, c := range badCases {
		for _, v := range c.vs {
			t.Run(c.name+"/"+v.String(), func(t *testing.T) {
				p, err := Decode(c.raw, v)
				requireCodecError(t, err, c.err, c.wantCode())
				if p != nil {
					t.Fatalf("Decode returned a packet with the error: %s", Describe(p))
				}
			})
		}
	}
}

func requireCodecError(t *testing.T, err error, sentinel *Error, code ReasonCode) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v (code 0x%02X)", sentinel, byte(code))
	}
	if sentinel != nil && !errors.Is(err, sentinel) {
		t.Fatalf("error %q does not wrap %q", err, sentinel.Msg)
	}
	if got := CodeOf(err); got != code {
		t.Fatalf("CodeOf(%q) = 0x%02X (%v), want 0x%02X (%v)", err, byte(got), got, byte(code), code)
	}
}

// badPacket is a struct Append must refuse to encode.
type badPacket struct {
	name string
	v    Version
	pkt  Packet
	err  *Error
	code ReasonCode
}

type foreignPacket struct{}

func (foreignPacket) Type() PacketType { return PINGREQ }

func TestAppendInvalid(t *testing.T) {
	long := strings.Repeat("x", 65536)
	pub := func(f func(p *Publish)) *Publish {
		p := &Publish{Topic: "a/b", Payload: []byte("x")}
		f(p)
		return p
	}
	conn := func(f func(p *Connect)) *Connect {
		p := &Connect{Version: V311, ClientID: "c"}
		f(p)
		return p
	}
	tests := []badPacket{
		{"publish qos 3", V311, pub(func(p *Publish) { p.QoS = 3; p.PacketID = 1 }), ErrInvalidQoS, 0},
		{"publish dup qos 0", V311, pub(func(p *Publish) { p.Dup = true }), nil, MalformedPacket},
		{"publish packet id 0", V311, pub(func(p *Publish) { p.QoS = 1 }), ErrZeroPacketID, 0},
		{"publish wildcard", V311, pub(func(p *Publish) { p.Topic = "a/+" }), ErrInvalidTopicName, 0},
		{"publish empty topic", V311, pub(func(p *Publish) { p.Topic = "" }), ErrInvalidTopicName, 0},
		{"publish alias without v5", V311, pub(func(p *Publish) { p.Topic = ""; p.Props.SetTopicAlias(1) }), ErrInvalidTopicName, 0},
		{"publish v5 empty topic no alias", V5, pub(func(p *Publish) { p.Topic = "" }), nil, ProtocolError},
		{"publish topic too long", V311, pub(func(p *Publish) { p.Topic = long }), nil, 0},
		{"publish topic alias 0", V5, pub(func(p *Publish) { p.Props.SetTopicAlias(0) }), ErrTopicAliasInvalid, 0},
		{"publish payload format 2", V5, pub(func(p *Publish) { p.Props.SetPayloadFormat(2) }), nil, ProtocolError},
		{"publish session expiry", V5, pub(func(p *Publish) { p.Props.SetSessionExpiry(1) }), ErrInvalidProperty, 0},
		{"publish subscription id 0", V5, pub(func(p *Publish) { p.Props.SubscriptionIDs = []uint32{0} }), nil, ProtocolError},
		{"publish user property U+0000", V5, pub(func(p *Publish) { p.Props.User = []UserProperty{{"k\x00", "v"}} }), ErrMalformedUTF8, 0},
		{"ack packet id 0", V311, &Ack{Kind: PUBACK}, ErrZeroPacketID, 0},
		{"ack of kind CONNECT", V311, &Ack{Kind: CONNECT, PacketID: 1}, ErrInvalidPacketType, 0},
		{"ack v5 topic alias", V5, &Ack{Kind: PUBACK, PacketID: 1, Props: props(func(p *Properties) { p.SetTopicAlias(1) })}, ErrInvalidProperty, 0},
		{"subscribe no filters", V311, &Subscribe{PacketID: 1}, ErrNoTopicFilters, 0},
		{"subscribe packet id 0", V311, &Subscribe{Subscriptions: []Subscription{{Filter: "a"}}}, ErrZeroPacketID, 0},
		{"subscribe qos 3", V311, &Subscribe{PacketID: 1, Subscriptions: []Subscription{{Filter: "a", QoS: 3}}}, nil, MalformedPacket},
		{"subscribe retain handling 3", V5, &Subscribe{PacketID: 1, Subscriptions: []Subscription{{Filter: "a", RetainHandling: 3}}}, nil, ProtocolError},
		{"subscribe two subscription ids", V5, &Subscribe{PacketID: 1, Subscriptions: []Subscription{{Filter: "a"}},
			Props: Properties{SubscriptionIDs: []uint32{1, 2}}}, ErrDuplicateProperty, 0},
		{"suback packet id 0", V311, &Suback{Codes: []ReasonCode{0}}, ErrZeroPacketID, 0},
		{"unsubscribe no filters", V311, &Unsubscribe{PacketID: 1}, ErrNoTopicFilters, 0},
		{"unsuback packet id 0", V5, &Unsuback{}, ErrZeroPacketID, 0},
		{"connect version 7", V311, conn(func(p *Connect) { p.Version = 7 }), ErrUnsupportedVersion, 0},
		{"connect wrong protocol name", V311, conn(func(p *Connect) { p.ProtocolName = "MQIsdp" }), ErrInvalidProtocolName, 0},
		{"connect password without user", V311, conn(func(p *Connect) { p.HasPassword = true }), nil, 0},
		{"connect will qos 3", V311, conn(func(p *Connect) { p.Will = &Will{Topic: "w", QoS: 3} }), ErrInvalidQoS, 0},
		{"connect will topic wildcard", V311, conn(func(p *Connect) { p.Will = &Will{Topic: "w/#"} }), ErrInvalidTopicName, 0},
		{"connect client id bad utf8", V311, conn(func(p *Connect) { p.ClientID = "\xff" }), ErrMalformedUTF8, 0},
		{"connect user name too long", V311, conn(func(p *Connect) { p.HasUsername = true; p.Username = long }), nil, 0},
		{"connect v5 receive maximum 0", V311, conn(func(p *Connect) { p.Version = V5; p.Props.SetReceiveMaximum(0) }), nil, ProtocolError},
		{"connect v5 will props session expiry", V311, conn(func(p *Connect) {
			p.Version = V5
			p.Will = &Will{Topic: "w", Props: props(func(p *Properties) { p.SetSessionExpiry(1) })}
		}), ErrInvalidProperty, 0},
		{"connack v5 topic alias", V5, &Connack{Props: props(func(p *Properties) { p.SetTopicAlias(1) })}, ErrInvalidProperty, 0},
		{"connack v5 maximum qos 2", V5, &Connack{Props: props(func(p *Properties) { p.SetMaximumQoS(2) })}, nil, ProtocolError},
		{"disconnect v5 will delay", V5, &Disconnect{Props: props(func(p *Properties) { p.SetWillDelay(1) })}, ErrInvalidProperty, 0},
		{"auth in 3.1.1", V311, &Auth{}, ErrInvalidPacketType, 0},
		{"auth bad reason code", V5, &Auth{Code: NotAuthorized}, nil, ProtocolError},
		{"foreign packet type", V311, foreignPacket{}, ErrInvalidPacketType, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte{1, 2, 3}
			out, err := Append(dst, tt.pkt, tt.v)
			if err == nil {
				t.Fatalf("Append succeeded: % x", out)
			}
			if len(out) != 3 {
				t.Fatalf("Append wrote %d bytes on error", len(out)-3)
			}
			code := tt.code
			if code == 0 && tt.err != nil {
				code = tt.err.Code
			}
			if code == 0 {
				// Only require a protocol error that carries some code.
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("error %q carries no *Error", err)
				}
				return
			}
			requireCodecError(t, err, tt.err, code)
		})
	}
}
