package broker

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

func TestConnectAccepted(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	for _, v := range []mqtt.Version{mqtt.V31, mqtt.V311, mqtt.V5} {
		t.Run(v.String(), func(t *testing.T) {
			c, ack := mustConnect(t, addr, connectPacket(v, "acc-"+v.String(), true))
			if ack.SessionPresent {
				t.Error("session present on a clean connect")
			}
			if v == mqtt.V5 {
				pr := &ack.Props
				if !pr.Has(mqtt.PropReceiveMaximum) || pr.ReceiveMaximum != 1024 {
					t.Errorf("receive maximum %v %d", pr.Has(mqtt.PropReceiveMaximum), pr.ReceiveMaximum)
				}
				if !pr.Has(mqtt.PropTopicAliasMaximum) || pr.TopicAliasMaximum != 10 {
					t.Errorf("topic alias maximum %d", pr.TopicAliasMaximum)
				}
				if pr.Has(mqtt.PropMaximumQoS) {
					t.Error("maximum QoS advertised although QoS 2 is supported")
				}
				for _, id := range []mqtt.PropID{mqtt.PropRetainAvailable, mqtt.PropWildcardSubAvailable,
					mqtt.PropSubIDAvailable, mqtt.PropSharedSubAvailable} {
					if !pr.Has(id) {
						t.Errorf("CONNACK lacks property 0x%02X", byte(id))
					}
				}
				if pr.RetainAvailable != 1 || pr.SharedSubAvailable != 1 {
					t.Error("retain/shared not advertised as available")
				}
			}
			c.disconnect()
		})
	}
}

func TestConnectRefused(t *testing.T) {
	deny := AuthenticatorFunc(func(ci *ClientInfo, password []byte) mqtt.ReasonCode {
		switch ci.Username {
		case "bad":
			return mqtt.BadUserNameOrPassword
		case "nope":
			return mqtt.NotAuthorized
		}
		return mqtt.Success
	})
	tests := []struct {
		name   string
		opts   Options
		p      *mqtt.Connect
		v5     mqtt.ReasonCode // expected code (v5 connect)
		v3code byte            // expected 3.1.1 return code
	}{
		{name: "empty id without clean session", p: &mqtt.Connect{Version: mqtt.V311}, v3code: 2},
		{name: "empty id 3.1", p: &mqtt.Connect{Version: mqtt.V31, CleanStart: true}, v3code: 2},
		{name: "empty id denied", opts: Options{DenyZeroLengthClientID: true},
			p: &mqtt.Connect{Version: mqtt.V5, CleanStart: true}, v5: mqtt.ClientIdentifierNotValid},
		{name: "empty id denied v3", opts: Options{DenyZeroLengthClientID: true},
			p: &mqtt.Connect{Version: mqtt.V311, CleanStart: true}, v3code: 2},
		{name: "bad password v5", opts: Options{Authenticator: deny},
			p: &mqtt.Connect{Version: mqtt.V5, ClientID: "x", HasUsername: true, Username: "bad"}, v5: mqtt.BadUserNameOrPassword},
		{name: "bad password v3", opts: Options{Authenticator: deny},
			p: &mqtt.Connect{Version: mqtt.V311, ClientID: "x", HasUsername: true, Username: "bad"}, v3code: 4},
		{name: "not authorized v3", opts: Options{Authenticator: deny},
			p: &mqtt.Connect{Version: mqtt.V311, ClientID: "x", HasUsername: true, Username: "nope"}, v3code: 5},
		{name: "not authorized v5", opts: Options{Authenticator: deny},
			p: &mqtt.Connect{Version: mqtt.V5, ClientID: "x", HasUsername: true, Username: "nope"}, v5: mqtt.NotAuthorized},
		{name: "auth method", p: func() *mqtt.Connect {
			p := &mqtt.Connect{Version: mqtt.V5, ClientID: "x"}
			p.Props.SetAuthMethod("SCRAM-SHA-1")
			return p
		}(), v5: mqtt.BadAuthenticationMethod},
		{name: "will qos above max", opts: Options{MaxQoS: qosPtr(1)},
			p: &mqtt.Connect{Version: mqtt.V5, ClientID: "x", Will: &mqtt.Will{Topic: "w", QoS: 2}}, v5: mqtt.QoSNotSupported},
		{name: "will retain unavailable", opts: Options{DisableRetain: true},
			p: &mqtt.Connect{Version: mqtt.V5, ClientID: "x", Will: &mqtt.Will{Topic: "w", Retain: true}}, v5: mqtt.RetainNotSupported},
		{name: "keepalive above max v3", opts: Options{MaxKeepAlive: 30},
			p: &mqtt.Connect{Version: mqtt.V311, ClientID: "x", KeepAlive: 60}, v3code: 2},
		{name: "keepalive zero with max v3", opts: Options{MaxKeepAlive: 30},
			p: &mqtt.Connect{Version: mqtt.V311, ClientID: "x", KeepAlive: 0}, v3code: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := newTestBroker(t, tc.opts)
			c := dial(t, addr, tc.p.Version)
			ack := c.connect(tc.p)
			if tc.p.Version == mqtt.V5 {
				if ack.Code != tc.v5 {
					t.Errorf("CONNACK %s, want %s", ack.Code, tc.v5)
				}
				if !ack.Props.Has(mqtt.PropReasonString) {
					t.Error("v5 refusal without a reason string")
				}
			} else if ack.ReturnCodeV3 != tc.v3code {
				t.Errorf("CONNACK return code %d, want %d", ack.ReturnCodeV3, tc.v3code)
			}
			if ack.SessionPresent {
				t.Error("session present set on a refused CONNACK") // [MQTT-3.2.2-4]
			}
			c.expectClosed()
		})
	}
}

func TestConnectUnsupportedVersion(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	c := dial(t, addr, mqtt.V311)
	// CONNECT "MQTT" level 6.
	c.sendRaw([]byte{0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x06, 0x02, 0x00, 0x3c, 0x00, 0x00})
	ack := expect[*mqtt.Connack](c)
	if ack.ReturnCodeV3 != 1 {
		t.Errorf("return code %d, want 1", ack.ReturnCodeV3) // [MQTT-3.1.2-2]
	}
	c.expectClosed()
}

func TestConnectAssignedClientID(t *testing.T) {
	b, addr := newTestBroker(t, Options{AutoIDPrefix: "gen-"})
	c, ack := mustConnect(t, addr, &mqtt.Connect{Version: mqtt.V5, CleanStart: true})
	id := ack.Props.AssignedClientID
	if !ack.Props.Has(mqtt.PropAssignedClientID) || !strings.HasPrefix(id, "gen-") || len(id) != 4+36 {
		t.Fatalf("assigned client id %q", id)
	}
	c3, ack3 := mustConnect(t, addr, &mqtt.Connect{Version: mqtt.V311, CleanStart: true})
	if ack3.Props.Has(mqtt.PropAssignedClientID) {
		t.Error("3.1.1 CONNACK carries properties")
	}
	c.sync()
	c3.sync()
	b.mu.Lock()
	n := b.sessions.len()
	ok := b.sessions.get(id) != nil
	b.mu.Unlock()
	if n != 2 || !ok {
		t.Errorf("sessions: %d, assigned id present %v", n, ok)
	}
}

func TestFirstPacketMustBeConnect(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	c := dial(t, addr, mqtt.V311)
	c.send(&mqtt.Pingreq{})
	c.expectClosed() // [MQTT-3.1.0-1]
}

func TestSecondConnect(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	for _, tc := range versions {
		t.Run(tc.name, func(t *testing.T) {
			c := connectClient(t, addr, tc.v, "twice-"+tc.name)
			c.send(connectPacket(tc.v, "twice-"+tc.name, true))
			d := c.expectClosed() // [MQTT-3.1.0-2]
			if tc.v == mqtt.V5 && (d == nil || d.Code != mqtt.ProtocolError) {
				t.Errorf("DISCONNECT %v, want protocol error", d)
			}
		})
	}
}

// TestConnectTimeout: a connection that sends nothing is closed after
// ConnectTimeout (300 ms here), well before 2 s, on the event loop (its
// sweep) and on the goroutine path (readLoop's read deadline).
func TestConnectTimeout(t *testing.T) {
	eachReadPath(t, func(t *testing.T, noLoop bool) {
		logs := newLogCapture()
		_, addr := newTestBroker(t, Options{ConnectTimeout: 300 * time.Millisecond, ConnectionMessages: true,
			Logger: logs.logger(), noEventLoop: noLoop})
		c := dial(t, addr, mqtt.V311)
		start := time.Now()
		c.expectClosed()
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("closed after %v", d)
		}
		logs.wait(t, "connect timeout")
	})
}

func TestMaxKeepAliveV5(t *testing.T) {
	_, addr := newTestBroker(t, Options{MaxKeepAlive: 30})
	for _, ka := range []uint16{0, 60} {
		p := connectPacket(mqtt.V5, "ka", true)
		p.KeepAlive = ka
		c, ack := mustConnect(t, addr, p)
		if !ack.Props.Has(mqtt.PropServerKeepAlive) || ack.Props.ServerKeepAlive != 30 {
			t.Errorf("keepalive %d: server keep alive %v %d", ka, ack.Props.Has(mqtt.PropServerKeepAlive), ack.Props.ServerKeepAlive)
		}
		c.disconnect()
	}
	p := connectPacket(mqtt.V5, "ka", true)
	p.KeepAlive = 10
	c, ack := mustConnect(t, addr, p)
	if ack.Props.Has(mqtt.PropServerKeepAlive) {
		t.Error("server keep alive sent for an acceptable keep alive")
	}
	c.disconnect()
}

// TestTakeover: a second connection with the same client id closes the
// first [MQTT-3.1.4-3] (v5: DISCONNECT 0x8E). Without clean start it
// resumes the first one's session only when that session outlives its
// connection (3.1.1 clean session 0, v5 Session Expiry > 0): a session
// that lasts as long as its network connection ends with it and its state
// MUST NOT be reused [MQTT-3.1.2-6], so the takeover gets Session Present
// 0 and none of its subscriptions (mosquitto 2.0.11 answers 20 02 00 00).
// The same cases run against mosquitto in brokercmd's TestTwinTakeover.
func TestTakeover(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	for _, tc := range versions {
		for _, durable := range []bool{false, true} {
			name := fmt.Sprintf("%s/durable=%v", tc.name, durable)
			t.Run(name, func(t *testing.T) {
				id := fmt.Sprintf("take-%s-%v", tc.name, durable)
				topic := "take/" + id
				first := connectPacket(tc.v, id, !durable)
				if durable && tc.v == mqtt.V5 {
					first.CleanStart = true
					first.Props.SetSessionExpiry(60)
				}
				old, _ := mustConnect(t, addr, first)
				old.subscribe(topic, 1)
				p := connectPacket(tc.v, id, false)
				if tc.v == mqtt.V5 {
					p.Props.SetSessionExpiry(60)
				}
				nc, ack := mustConnect(t, addr, p)
				d := old.expectClosed()
				if tc.v == mqtt.V5 && (d == nil || d.Code != mqtt.SessionTakenOver) {
					t.Errorf("old connection got DISCONNECT %v, want 0x8E", d) // [MQTT-3.1.4-3]
				}
				if ack.SessionPresent != durable {
					t.Errorf("session present %v after taking over a durable=%v session", ack.SessionPresent, durable)
				}
				pub := connectClient(t, addr, tc.v, "take-pub-"+id)
				pub.publish(topic, "x", 1, false)
				if durable {
					nc.expectPublish(topic, "x") // the subscription survived the takeover
				} else {
					nc.expectNothing() // [MQTT-3.1.2-6] no state of the clean session reused
				}
			})
		}
	}
}

func TestPingAndKeepAlive(t *testing.T) {
	logs := newLogCapture()
	_, addr := newTestBroker(t, Options{ConnectionMessages: true, Logger: logs.logger()})
	for _, tc := range versions {
		t.Run(tc.name, func(t *testing.T) {
			p := connectPacket(tc.v, "ka-"+tc.name, true)
			p.KeepAlive = 1
			c, _ := mustConnect(t, addr, p)
			c.expectNothing() // PINGREQ answered by PINGRESP [MQTT-3.12.4-1]
			start := time.Now()
			d := c.expectClosed() // silent for 1.5 s [MQTT-3.1.2-24]
			el := time.Since(start)
			if el < time.Second || el > 3*time.Second {
				t.Errorf("closed after %v, want about 1.5s", el)
			}
			if tc.v == mqtt.V5 && (d == nil || d.Code != mqtt.KeepAliveTimeout) {
				t.Errorf("DISCONNECT %v, want 0x8D", d)
			}
			logs.wait(t, "Client ka-"+tc.name+" has exceeded timeout")
		})
	}
}
