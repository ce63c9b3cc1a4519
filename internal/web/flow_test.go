package web

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// sseReader reads server-sent events.
type sseReader struct {
	t *testing.T
	r *bufio.Reader
}

func (s *sseReader) next() (event, data string) {
	s.t.Helper()
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			s.t.Fatalf("event stream: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			event = line[7:]
		case strings.HasPrefix(line, "data: "):
			data = line[6:]
		case line == "" && event != "":
			return event, data
		}
	}
}

// nextOf reads events up to the next one named event and decodes its
// data into v.
func (s *sseReader) nextOf(event string, v any) {
	s.t.Helper()
	for {
		if ev, data := s.next(); ev == event {
			if err := json.Unmarshal([]byte(data), v); err != nil {
				s.t.Fatalf("%s event %s: %v", event, data, err)
			}
			return
		}
	}
}

func openStream(t *testing.T, url string) *sseReader {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	r := mustReq(t, "GET", url, nil).WithContext(ctx)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return &sseReader{t: t, r: bufio.NewReader(resp.Body)}
}

// TestFlowStream: /api/flow reports a watched client's packets in order:
// CONNECT/CONNACK, SUBSCRIBE/SUBACK, a QoS 2 publish with
// PUBREC/PUBREL/PUBCOMP, PINGREQ/PINGRESP, and, on an abrupt close, the
// end of the connection and its will being published.
func TestFlowStream(t *testing.T) {
	e := newEnv(t, broker.Options{}, Options{})
	s := openStream(t, e.base+"/api/flow?client=flowc")
	if ev, _ := s.next(); ev != "ready" {
		t.Fatalf("first event %q", ev)
	}
	c, _ := connect(t, e.mqtt, &mqtt.Connect{ClientID: "flowc", CleanStart: true, KeepAlive: 60,
		Will: &mqtt.Will{Topic: "status/flowc", Payload: []byte("offline"), QoS: 1}})
	c.subscribe("cmd/#", 1)
	c.publish("data/x", "42", 2, false, 7)
	c.send(&mqtt.Pingreq{})
	expectPacket[*mqtt.Pingresp](c)
	c.nc.Close() // no DISCONNECT: the will is published

	want := []string{"in CONNECT", "out CONNACK", "in SUBSCRIBE", "out SUBACK", "in PUBLISH data/x q2 id7",
		"out PUBREC id7", "in PUBREL id7", "out PUBCOMP id7", "in PINGREQ", "out PINGRESP", "in CLOSED", "in WILL status/flowc q1"}
	for i, w := range want {
		ev, data := s.next()
		if ev != "packet" {
			t.Fatalf("event %q %s", ev, data)
		}
		var fe flowEvent
		if err := json.Unmarshal([]byte(data), &fe); err != nil {
			t.Fatal(err)
		}
		dir := "in"
		if fe.Out {
			dir = "out"
		}
		got := dir + " " + fe.Packet
		if fe.Topic != "" {
			got += " " + fe.Topic
		}
		if fe.Packet == "PUBLISH" || fe.Packet == "WILL" {
			got += " q" + string(rune('0'+fe.QoS))
		}
		if fe.PacketID != 0 && fe.Packet != "SUBSCRIBE" && fe.Packet != "SUBACK" {
			got += " id" + itoa(int(fe.PacketID))
		}
		if got != w {
			t.Fatalf("packet %d: %q, want %q (%s)", i, got, w, data)
		}
		if fe.Packet == "CONNECT" && !strings.Contains(fe.Detail, "will 'status/flowc' QoS 1") {
			t.Errorf("CONNECT detail %q", fe.Detail)
		}
		if fe.Packet == "CLOSED" && fe.Detail != "connection closed by peer" {
			t.Errorf("CLOSED detail %q", fe.Detail)
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// TestFlowServerDisconnect: a v5 client taken over by another connection
// with its client id gets the server's DISCONNECT 0x8E, shown in its flow.
func TestFlowServerDisconnect(t *testing.T) {
	e := newEnv(t, broker.Options{}, Options{})
	s := openStream(t, e.base+"/api/flow?client=tk")
	if ev, _ := s.next(); ev != "ready" {
		t.Fatalf("first event %q", ev)
	}
	connect(t, e.mqtt, &mqtt.Connect{ClientID: "tk", CleanStart: true})
	connect(t, e.mqtt, &mqtt.Connect{ClientID: "tk", CleanStart: true})
	var sawDisconnect, sawClosed bool
	for !sawDisconnect || !sawClosed {
		_, data := s.next()
		var fe flowEvent
		if err := json.Unmarshal([]byte(data), &fe); err != nil {
			t.Fatal(err)
		}
		switch {
		case fe.Packet == "DISCONNECT" && fe.Out:
			if fe.Code != byte(mqtt.SessionTakenOver) {
				t.Errorf("DISCONNECT code 0x%02x, want 0x8e", fe.Code)
			}
			sawDisconnect = true
		case fe.Packet == "CLOSED":
			if fe.Detail != "session taken over" {
				t.Errorf("CLOSED %q", fe.Detail)
			}
			if !sawDisconnect {
				t.Error("CLOSED before the DISCONNECT")
			}
			sawClosed = true
		}
	}
}

// flowUntilClosed reads a flow stream's packet events up to the
// connection's CLOSED and returns them.
func flowUntilClosed(t *testing.T, s *sseReader) []flowEvent {
	t.Helper()
	var evs []flowEvent
	for {
		var fe flowEvent
		s.nextOf("packet", &fe)
		evs = append(evs, fe)
		if fe.Packet == "CLOSED" {
			return evs
		}
	}
}

// findFlow returns the first event of packet in direction out, or nil.
func findFlow(evs []flowEvent, packet string, out bool) *flowEvent {
	for i := range evs {
		if evs[i].Packet == packet && evs[i].Out == out {
			return &evs[i]
		}
	}
	return nil
}

// TestFlowClientDisconnect: the client's DISCONNECT shows in its flow
// with its reason code: v5 0x00 and 0x04 (with will), 3.1.1 as 0.
func TestFlowClientDisconnect(t *testing.T) {
	e := newEnv(t, broker.Options{}, Options{})
	for _, tc := range []struct {
		name   string
		v      mqtt.Version
		code   mqtt.ReasonCode
		detail string
		will   bool
	}{
		{"v5-normal", mqtt.V5, mqtt.Success, "normal disconnection", false},
		{"v5-will", mqtt.V5, mqtt.DisconnectWithWill, "disconnect with will message", true},
		{"v311", mqtt.V311, 0, "no reason code", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "dc-" + tc.name
			s := openStream(t, e.base+"/api/flow?client="+id)
			if ev, _ := s.next(); ev != "ready" {
				t.Fatalf("first event %q", ev)
			}
			c, _ := connect(t, e.mqtt, &mqtt.Connect{ClientID: id, CleanStart: true, Version: tc.v,
				Will: &mqtt.Will{Topic: "status/" + id, Payload: []byte("gone")}})
			c.send(&mqtt.Disconnect{Code: tc.code})
			evs := flowUntilClosed(t, s)
			d := findFlow(evs, "DISCONNECT", false)
			if d == nil {
				t.Fatalf("no DISCONNECT from the client in %+v", evs)
			}
			if d.Code != byte(tc.code) || !strings.Contains(d.Detail, tc.detail) {
				t.Errorf("DISCONNECT code 0x%02x %q, want 0x%02x %q", d.Code, d.Detail, byte(tc.code), tc.detail)
			}
			if findFlow(evs, "DISCONNECT", true) != nil {
				t.Error("a server DISCONNECT after the client's")
			}
			if tc.will {
				// The will follows the close.
				ev, data := s.next()
				if ev != "packet" || !strings.Contains(data, `"WILL"`) {
					t.Errorf("after CLOSED: %s %s, want the will", ev, data)
				}
			}
		})
	}
}

// TestFlowServerProtocolErrorDisconnect: the DISCONNECT the server sends
// before closing a v5 connection for a protocol error keeps its reason
// code in the flow: 0x81 for a malformed filter [MQTT-4.7.1-1], 0x82 for
// a second CONNECT [MQTT-3.1.0-2].
func TestFlowServerProtocolErrorDisconnect(t *testing.T) {
	e := newEnv(t, broker.Options{}, Options{})
	for _, tc := range []struct {
		name string
		pkt  mqtt.Packet
		code mqtt.ReasonCode
	}{
		{"malformed-filter", &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "a/#/b"}}}, mqtt.MalformedPacket},
		{"second-connect", &mqtt.Connect{ProtocolName: "MQTT", Version: mqtt.V5, ClientID: "x"}, mqtt.ProtocolError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "pe-" + tc.name
			s := openStream(t, e.base+"/api/flow?client="+id)
			if ev, _ := s.next(); ev != "ready" {
				t.Fatalf("first event %q", ev)
			}
			c, _ := connect(t, e.mqtt, &mqtt.Connect{ClientID: id, CleanStart: true})
			c.send(tc.pkt)
			d := expectPacket[*mqtt.Disconnect](c)
			if d.Code != tc.code {
				t.Fatalf("client got DISCONNECT 0x%02x, want 0x%02x", byte(d.Code), byte(tc.code))
			}
			evs := flowUntilClosed(t, s)
			fd := findFlow(evs, "DISCONNECT", true)
			if fd == nil {
				t.Fatalf("no server DISCONNECT in the flow: %+v", evs)
			}
			if fd.Code != byte(tc.code) {
				t.Errorf("flow DISCONNECT code 0x%02x, want 0x%02x", fd.Code, byte(tc.code))
			}
			if evs[len(evs)-1].Detail != "protocol error" {
				t.Errorf("CLOSED %q", evs[len(evs)-1].Detail)
			}
		})
	}
}
