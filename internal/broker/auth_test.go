package broker

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// aclAuthorizer allows read and subscribe on "open/#" and "ro/#", and
// write only on "open/#".
var aclAuthorizer = AuthorizerFunc(func(ci *ClientInfo, topic string, acc Access) bool {
	switch {
	case strings.HasPrefix(topic, "open/"):
		return true
	case strings.HasPrefix(topic, "ro/"):
		return acc != AccessWrite
	}
	return false
})

func TestAuthorizer(t *testing.T) {
	_, addr := newTestBroker(t, Options{Authorizer: aclAuthorizer})
	for _, tc := range versions {
		t.Run(tc.name, func(t *testing.T) {
			c := connectClient(t, addr, tc.v, "acl-"+tc.name)
			c.send(&mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{
				{Filter: "open/#", QoS: 1}, {Filter: "secret/#", QoS: 1}, {Filter: "ro/+", QoS: 1}}})
			ack := expect[*mqtt.Suback](c)
			deny := mqtt.UnspecifiedError
			if tc.v == mqtt.V5 {
				deny = mqtt.NotAuthorized
			}
			if !slices.Equal(ack.Codes, []mqtt.ReasonCode{mqtt.GrantedQoS1, deny, mqtt.GrantedQoS1}) {
				t.Errorf("SUBACK %v", ack.Codes)
			}
			wantCode := mqtt.Success // 3.1.1 cannot refuse a publish
			if tc.v == mqtt.V5 {
				wantCode = mqtt.NotAuthorized
			}
			if code := c.publish("ro/x", "no", 1, false); code != wantCode {
				t.Errorf("PUBACK on denied topic %s, want %s", code, wantCode)
			}
			if code := c.publish("ro/x", "no", 2, false); code != wantCode {
				t.Errorf("PUBREC on denied topic %s, want %s", code, wantCode)
			}
			c.publish("open/x", "yes", 1, false)
			c.expectPublish("open/x", "yes")
			c.expectNothing() // the denied publishes were not delivered
		})
	}
}

func TestAuthenticatorSeesClientInfo(t *testing.T) {
	var mu sync.Mutex
	var seen ClientInfo
	auth := AuthenticatorFunc(func(ci *ClientInfo, password []byte) mqtt.ReasonCode {
		mu.Lock()
		defer mu.Unlock()
		seen = *ci
		if string(password) != "secret" {
			return mqtt.BadUserNameOrPassword
		}
		return mqtt.Success
	})
	logs := newLogCapture()
	_, addr := newTestBroker(t, Options{Authenticator: auth, Verbose: true, Logger: logs.logger()})
	p := connectPacket(mqtt.V311, "who", true)
	p.HasUsername, p.Username, p.HasPassword, p.Password = true, "alice", true, []byte("secret")
	c, _ := mustConnect(t, addr, p)
	mu.Lock()
	if seen.ClientID != "who" || seen.Username != "alice" || !seen.HasUsername || seen.Listener() != "tcp" ||
		seen.Version != mqtt.V311 || !strings.HasPrefix(seen.RemoteAddr(), "127.0.0.1:") {
		t.Errorf("ClientInfo %+v", seen)
	}
	mu.Unlock()
	c.sync()
	if logs.has("secret") {
		t.Error("password logged")
	}
}

func TestVerboseLog(t *testing.T) {
	logs := newLogCapture()
	_, addr := newTestBroker(t, Options{Verbose: true, Logger: logs.logger()})
	sub := connectClient(t, addr, mqtt.V311, "vsub")
	sub.subscribe("v/t", 1)
	pub := connectClient(t, addr, mqtt.V5, "vpub")
	pub.publish("v/t", "hello", 1, false)
	sub.expectPublish("v/t", "hello")
	sub.expectNothing()
	pub.disconnect()
	for _, want := range []string{
		"New client connected from 127.0.0.1:",
		" as vsub (p2, c1, k60).",
		" as vpub (p5, c1, k60).",
		"Sending CONNACK to vsub (0, 0)",
		"Received SUBSCRIBE from vsub",
		"\tv/t (QoS 1)",
		"vsub 1 v/t",
		"Sending SUBACK to vsub",
		"Received PUBLISH from vpub (d0, q1, r0, m",
		"'v/t', ... (5 bytes))",
		"Sending PUBLISH to vsub (d0, q1, r0, m1, 'v/t', ... (5 bytes))",
		"Sending PUBACK to vpub (m",
		"Received PUBACK from vsub (Mid: 1, RC:0)",
		"Received PINGREQ from vsub",
		"Sending PINGRESP to vsub",
		"Received DISCONNECT from vpub",
		"Client vpub disconnected.",
		"No will message specified.",
	} {
		if !logs.has(want) {
			t.Errorf("no log line with %q", want)
		}
	}
}
