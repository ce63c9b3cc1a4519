package clicmd

import (
	"strings"
	"testing"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// Every line -d prints, in libmosquitto 2.0.11's format strings (strings
// in libmosquitto.so.1: "Client %s sending PUBLISH (d%d, q%d, r%d, m%d,
// '%s', ... (%ld bytes))", "Client %s received %s (Mid: %d, RC:%d)", ...).
// The differential test compares the same lines with the real tools; this
// one also covers packets it cannot provoke (PUBREC codes, AUTH).
func TestMosquittoTraceLines(t *testing.T) {
	sub := &mqtt.Subscribe{PacketID: 3, Subscriptions: []mqtt.Subscription{
		{Filter: "a/#", QoS: 1}, {Filter: "b", QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 2}}}
	tests := []struct {
		v      mqtt.Version
		events []client.TraceEvent
		want   string
	}{
		{mqtt.V311, []client.TraceEvent{
			{Sent: true, Packet: &mqtt.Connect{}},
			{Packet: &mqtt.Connack{Code: mqtt.NotAuthorized}},
			{Sent: true, ClientID: "me", Packet: &mqtt.Publish{Topic: "t", Payload: []byte("abc")}},
			{Sent: true, ClientID: "me", Packet: &mqtt.Publish{Topic: "t", QoS: 1, Retain: true, PacketID: 7}},
			{Sent: true, ClientID: "me", Packet: &mqtt.Publish{Topic: "t", Dup: true, QoS: 2, PacketID: 8, Payload: []byte("x")}},
			{Sent: true, ClientID: "me", Packet: &mqtt.Publish{Topic: "t"}},
			{ClientID: "me", Packet: &mqtt.Ack{Kind: mqtt.PUBACK, PacketID: 7}},
			{ClientID: "me", Packet: &mqtt.Ack{Kind: mqtt.PUBREC, PacketID: 8}},
			{Sent: true, ClientID: "me", Packet: &mqtt.Ack{Kind: mqtt.PUBREL, PacketID: 8}},
			{ClientID: "me", Packet: &mqtt.Ack{Kind: mqtt.PUBCOMP, PacketID: 8}},
			{Sent: true, ClientID: "me", Packet: sub},
			{ClientID: "me", Packet: &mqtt.Suback{PacketID: 3, Codes: []mqtt.ReasonCode{1, 0x80}}},
			{Sent: true, ClientID: "me", Packet: &mqtt.Unsubscribe{PacketID: 4, Filters: []string{"a/#"}}},
			{ClientID: "me", Packet: &mqtt.Unsuback{PacketID: 4}},
			{ClientID: "me", Packet: &mqtt.Publish{Topic: "in", QoS: 2, PacketID: 9, Payload: []byte("12")}},
			{Sent: true, ClientID: "me", Packet: &mqtt.Ack{Kind: mqtt.PUBREC, PacketID: 9}},
			{ClientID: "me", Packet: &mqtt.Ack{Kind: mqtt.PUBREL, PacketID: 9}},
			{Sent: true, ClientID: "me", Packet: &mqtt.Ack{Kind: mqtt.PUBCOMP, PacketID: 9}},
			{ClientID: "me", Packet: &mqtt.Publish{Topic: "in", QoS: 1, PacketID: 10}},
			{Sent: true, ClientID: "me", Packet: &mqtt.Ack{Kind: mqtt.PUBACK, PacketID: 10}},
			{Sent: true, ClientID: "me", Packet: &mqtt.Pingreq{}},
			{ClientID: "me", Packet: &mqtt.Pingresp{}},
			{ClientID: "me", Packet: &mqtt.Disconnect{}}, // not logged by libmosquitto 2.0.11
			{Sent: true, ClientID: "me", Packet: &mqtt.Disconnect{}},
		}, `Client (null) sending CONNECT
Client (null) received CONNACK (5)
Client me sending PUBLISH (d0, q0, r0, m1, 't', ... (3 bytes))
Client me sending PUBLISH (d0, q1, r1, m7, 't', ... (0 bytes))
Client me sending PUBLISH (d1, q2, r0, m8, 't', ... (1 bytes))
Client me sending PUBLISH (d0, q0, r0, m9, 't', ... (0 bytes))
Client me received PUBACK (Mid: 7, RC:0)
Client me received PUBREC (Mid: 8)
Client me sending PUBREL (m8)
Client me received PUBCOMP (Mid: 8, RC:0)
Client me sending SUBSCRIBE (Mid: 3, Topic: a/#, QoS: 1, Options: 0x00)
Client me sending SUBSCRIBE (Mid: 3, Topic: b, QoS: 2, Options: 0x00)
Client me received SUBACK
Client me sending UNSUBSCRIBE (Mid: 4, Topic: a/#)
Client me received UNSUBACK
Client me received PUBLISH (d0, q2, r0, m9, 'in', ... (2 bytes))
Client me sending PUBREC (m9, rc0)
Client me received PUBREL (Mid: 9)
Client me sending PUBCOMP (m9)
Client me received PUBLISH (d0, q1, r0, m10, 'in', ... (0 bytes))
Client me sending PUBACK (m10, rc0)
Client me sending PINGREQ
Client me received PINGRESP
Client me sending DISCONNECT
`},
		// MQTT 5: reason codes as they are, the subscription options byte
		// without the QoS bits, the assigned client identifier after
		// CONNACK.
		{mqtt.V5, []client.TraceEvent{
			{Sent: true, Packet: &mqtt.Connect{}},
			{ClientID: "auto-1", Packet: &mqtt.Connack{}},
			{Sent: true, ClientID: "auto-1", Packet: sub},
			{ClientID: "auto-1", Packet: &mqtt.Ack{Kind: mqtt.PUBACK, PacketID: 1, Code: 0x10}},
			{ClientID: "auto-1", Packet: &mqtt.Ack{Kind: mqtt.PUBCOMP, PacketID: 2, Code: 0x92}},
			{Sent: true, ClientID: "auto-1", Packet: &mqtt.Ack{Kind: mqtt.PUBREC, PacketID: 3, Code: 0x80}},
			{ClientID: "auto-1", Packet: &mqtt.Auth{}},
			{Sent: true, ClientID: "auto-1", Packet: &mqtt.Disconnect{Code: 4}},
		}, `Client (null) sending CONNECT
Client auto-1 received CONNACK (0)
Client auto-1 sending SUBSCRIBE (Mid: 3, Topic: a/#, QoS: 1, Options: 0x00)
Client auto-1 sending SUBSCRIBE (Mid: 3, Topic: b, QoS: 2, Options: 0x2c)
Client auto-1 received PUBACK (Mid: 1, RC:16)
Client auto-1 received PUBCOMP (Mid: 2, RC:146)
Client auto-1 sending PUBREC (m3, rc128)
Client auto-1 received AUTH
Client auto-1 sending DISCONNECT
`},
	}
	for _, tc := range tests {
		var b strings.Builder
		tr := newMosqTracer(&b, tc.v)
		for _, ev := range tc.events {
			tr.trace(ev)
		}
		if got := b.String(); got != tc.want {
			t.Errorf("MQTT %v:\n got:\n%s\nwant:\n%s", tc.v, got, tc.want)
		}
	}
	if got, want := subscribedLine(&mqtt.Suback{PacketID: 1, Codes: []mqtt.ReasonCode{1, 0x80, 2}}), "Subscribed (mid: 1): 1, 128, 2\n"; got != want {
		t.Errorf("subscribedLine = %q, want %q", got, want)
	}
}

// Unknown options are shown as typed, with the closest option (issue 13).
func TestUnknownOptionSuggestion(t *testing.T) {
	tests := []struct {
		tool string
		args []string
		want string
	}{
		{"mqpub", []string{"-t", "a", "-m", "x", "--bogus"}, "Error: Unknown option '--bogus'.\n\nUse 'mqpub --help'"},
		{"mqsub", []string{"-t", "a", "--retained"}, "Error: Unknown option '--retained'.\nDid you mean '--retained-only'?\n\n"},
		{"mqsub", []string{"-t", "a", "--qoss", "1"}, "Error: Unknown option '--qoss'.\nDid you mean '--qos'?\n"},
		{"mqsub", []string{"-t", "a", "--verbos"}, "Error: Unknown option '--verbos'.\nDid you mean '--verbose'?\n"},
		{"mqpub", []string{"-t", "a", "-m", "x", "--prot", "1883"}, "Error: Unknown option '--prot'.\nDid you mean '--port'?\n"},
		{"mqsub", []string{"--tpoic", "a"}, "Error: Unknown option '--tpoic'.\nDid you mean '--topic'?\n"},
		{"mqpub", []string{"-t", "a", "-m", "x", "-Z"}, "Error: Unknown option '-Z'.\n\n"},
		{"mqpub", []string{"-t", "a", "-m", "x", "--unknown-thing=5"}, "Error: Unknown option '--unknown-thing=5'."},
		// A value that looks like the option is not taken for it.
		{"mqpub", []string{"-m", "--zap", "-t", "a", "--zap"}, "Error: Unknown option '--zap'."},
		{"mqsub", []string{"-t", "a", "-C"}, "Error: -C argument given but no value specified."},
	}
	for _, tc := range tests {
		r := (&tool{name: tc.tool}).run(testCtx(t), tc.args...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s %q: exit %d, stderr %q; want 1 and %q", tc.tool, tc.args, r.code, r.stderr, tc.want)
		}
	}
}
