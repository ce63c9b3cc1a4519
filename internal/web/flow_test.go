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
