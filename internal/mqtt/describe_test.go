package mqtt

import "testing"

func TestDescribe(t *testing.T) {
	tests := []struct {
		p    Packet
		v    Version
		want string
	}{
		{nil, V5, "<nil>"},
		{&Publish{Topic: "a/b", Payload: []byte("hello"), QoS: 1, PacketID: 7}, V311,
			"PUBLISH (d0, q1, r0, m7, 'a/b', ... (5 bytes))"},
		{&Publish{Topic: "a/b", QoS: 2, Dup: true, Retain: true, PacketID: 9}, V311,
			"PUBLISH (d1, q2, r1, m9, 'a/b', ... (0 bytes))"},
		{&Publish{Topic: "x", Payload: []byte("1"), Props: props(func(p *Properties) {
			p.SetTopicAlias(3)
			p.SubscriptionIDs = []uint32{1, 2}
			p.User = []UserProperty{{"k", "v"}}
		})}, V5, "PUBLISH (d0, q0, r0, m0, 'x', ... (1 bytes), subid 1,2, alias 3, user 'k'='v')"},
		{&Publish{Topic: "a\nb'c\x7f\u00e9"}, V311, `PUBLISH (d0, q0, r0, m0, 'a\nb\'c\x7fé', ... (0 bytes))`},
		{&Connack{}, V311, "CONNACK (0)"},
		{&Connack{SessionPresent: true}, V5, "CONNACK (0, sp1)"},
		{&Connack{Code: NotAuthorized, ReturnCodeV3: 5}, V311, "CONNACK (5)"},
		{&Connack{Code: NotAuthorized, ReturnCodeV3: 5}, V5, "CONNACK (135)"},
		{&Connack{Props: props(func(p *Properties) { p.SetAssignedClientID("auto-1"); p.SetReceiveMaximum(20) })}, V5,
			"CONNACK (0, assigned-id 'auto-1', receive-max 20)"},
		{&Ack{Kind: PUBACK, PacketID: 7}, V311, "PUBACK (m7, rc0)"},
		{&Ack{Kind: PUBREC, PacketID: 7, Code: QuotaExceeded, Props: props(func(p *Properties) { p.SetReasonString("full") })}, V5,
			"PUBREC (m7, rc151, reason 'full')"},
		{&Ack{Kind: PUBREL, PacketID: 1}, V311, "PUBREL (m1, rc0)"},
		{&Ack{Kind: PUBCOMP, PacketID: 1}, V311, "PUBCOMP (m1, rc0)"},
		{&Subscribe{PacketID: 1, Subscriptions: []Subscription{{Filter: "a/#", QoS: 1}}}, V311, "SUBSCRIBE (m1, 'a/#' q1)"},
		{&Subscribe{PacketID: 2, Subscriptions: []Subscription{{Filter: "a", QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 2}, {Filter: "b"}},
			Props: Properties{SubscriptionIDs: []uint32{5}}}, V5,
			"SUBSCRIBE (m2, 'a' q2 nl rap rh2, 'b' q0, subid 5)"},
		{&Suback{PacketID: 1, Codes: []ReasonCode{1, 0x80}}, V311, "SUBACK (m1, [1, 128])"},
		{&Unsubscribe{PacketID: 3, Filters: []string{"a/#", "b"}}, V311, "UNSUBSCRIBE (m3, 'a/#', 'b')"},
		{&Unsuback{PacketID: 3}, V311, "UNSUBACK (m3)"},
		{&Unsuback{PacketID: 3, Codes: []ReasonCode{0, 17}}, V5, "UNSUBACK (m3, [0, 17])"},
		{&Pingreq{}, V311, "PINGREQ"},
		{&Pingresp{}, V311, "PINGRESP"},
		{&Disconnect{}, V311, "DISCONNECT"},
		{&Disconnect{Code: SessionTakenOver}, V5, "DISCONNECT (rc142)"},
		{&Disconnect{Props: props(func(p *Properties) { p.SetSessionExpiry(30) })}, V5, "DISCONNECT (rc0, session-expiry 30)"},
		{&Auth{Code: ContinueAuthentication, Props: props(func(p *Properties) { p.SetAuthMethod("SCRAM"); p.SetAuthData([]byte{1, 2}) })}, V5,
			"AUTH (rc24, auth-method 'SCRAM', auth-data (2 bytes))"},
		{&Connect{ProtocolName: "MQTT", Version: V311, CleanStart: true, KeepAlive: 5}, V311, "CONNECT (p4, c1, k5, id '')"},
		{&Connect{Version: V311, KeepAlive: 60, ClientID: "cid", HasUsername: true, Username: "user", HasPassword: true,
			Password: []byte("secret"), Will: &Will{Topic: "w/t", Payload: []byte("bye"), QoS: 1, Retain: true}}, V311,
			"CONNECT (p4, c0, k60, id 'cid', u'user', pw (6 bytes), will 'w/t' q1 r1 (3 bytes))"},
		{&Connect{Version: V5, ClientID: "c", Props: props(func(p *Properties) { p.SetSessionExpiry(60) }),
			Will: &Will{Topic: "w", Props: props(func(p *Properties) { p.SetWillDelay(5) })}}, V5,
			"CONNECT (p5, c0, k0, id 'c', will 'w' q0 r0 (0 bytes) {will-delay 5}, session-expiry 60)"},
	}
	for _, tt := range tests {
		got := DescribeVersion(tt.p, tt.v)
		if got != tt.want {
			t.Errorf("DescribeVersion(%T, %v)\n got %s\nwant %s", tt.p, tt.v, got, tt.want)
		}
		if tt.v == V5 {
			if d := Describe(tt.p); d != got {
				t.Errorf("Describe = %s, DescribeVersion(V5) = %s", d, got)
			}
		}
	}
}

// TestDescribeNeverLeaksSecrets: passwords and authentication data are
// shown only by length.
func TestDescribeNeverLeaksSecrets(t *testing.T) {
	p := &Connect{Version: V5, ClientID: "c", HasUsername: true, Username: "u", HasPassword: true,
		Password: []byte("hunter2"), Props: props(func(p *Properties) { p.SetAuthData([]byte("tok3n")) })}
	s := Describe(p)
	for _, secret := range []string{"hunter2", "tok3n"} {
		if contains(s, secret) {
			t.Fatalf("Describe leaks %q: %s", secret, s)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// Every case of the corpus describes to one line.
func TestDescribeCorpusOneLine(t *testing.T) {
	for _, c := range packetCases {
		s := Describe(c.pkt)
		for i := 0; i < len(s); i++ {
			if s[i] == '\n' || s[i] == '\r' {
				t.Fatalf("%s: Describe has a line break: %q", c.name, s)
			}
		}
		if s == "" || s[0] < 'A' || s[0] > 'Z' {
			t.Fatalf("%s: Describe = %q", c.name, s)
		}
	}
}
