package web

import (
	"strconv"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
	"github.com/mqkit/mqkit/internal/testnet"
)

// dialSmallWindow connects to addr (v5, keep alive 0) with a 4 KiB
// receive buffer, so that what the broker writes to it piles up on the
// broker's side while the client does not read.
func dialSmallWindow(t *testing.T, addr, id string) *mclient {
	t.Helper()
	nc := testnet.DialSmallWindow(t, addr, testTimeout)
	r := mqtt.NewReader(nc, 0)
	r.Version = mqtt.V5
	c := &mclient{t: t, nc: nc, r: r, v: mqtt.V5}
	c.send(&mqtt.Connect{Version: mqtt.V5, ProtocolName: "MQTT", ClientID: id, CleanStart: true})
	expectPacket[*mqtt.Connack](c)
	return c
}

// TestMetricsSysDroppedAgree: v5 QoS 0 messages that expire while they
// wait in a subscriber's write queue [MQTT-3.3.2-5] are counted the same
// in /metrics (messages_dropped_total{reason="expired"}) and in
// $SYS/broker/publish/messages/dropped, and are not counted in
// messages_sent_total: every message published is received or dropped.
func TestMetricsSysDroppedAgree(t *testing.T) {
	e := newEnv(t, broker.Options{SysInterval: 50 * time.Millisecond}, Options{})
	sub := dialSmallWindow(t, e.mqtt, "ex-sub")
	sub.subscribe("ex/#", 0)
	pub, _ := connect(t, e.mqtt, &mqtt.Connect{ClientID: "ex-pub", CleanStart: true})
	const n = 300
	payload := make([]byte, 32<<10)
	published := time.Now()
	for range n {
		p := &mqtt.Publish{Topic: "ex/data", Payload: payload}
		p.Props.SetMessageExpiry(1)
		pub.send(p)
	}
	pub.send(&mqtt.Pingreq{})
	expectPacket[*mqtt.Pingresp](pub) // all routed: written, or queued for ex-sub
	// Let the queued ones expire (1 s and a margin). This waits for a
	// moment in time, not for an event.
	time.Sleep(time.Until(published.Add(1300 * time.Millisecond)))
	pub.publish("ex/end", "end", 0, false, 0)
	got := 0
	for {
		p := expectPacket[*mqtt.Publish](sub)
		if p.Topic == "ex/end" {
			break
		}
		got++
	}

	fams := scrape(t, e)
	expired := int64(value(fams, "mqbroker_messages_dropped_total", "reason=expired"))
	var all int64
	for _, r := range broker.DropReasons {
		all += int64(value(fams, "mqbroker_messages_dropped_total", "reason="+r))
	}
	sent := int64(value(fams, "mqbroker_messages_sent_total", "qos=0"))
	t.Logf("%d published, %d received, /metrics: %d expired, %d sent", n, got, expired, sent)
	if expired <= 0 || int64(got)+expired != n || all != expired {
		t.Fatalf("%d received, /metrics dropped %d (expired %d); want > 0 expired, %d in all", got, all, expired, n)
	}
	if sent != int64(got+1) { // and the end marker
		t.Errorf("messages_sent_total{qos=0} %d, want %d: the expired ones were not sent", sent, got+1)
	}

	// $SYS: the retained value on subscribing, then an update every 50 ms.
	sys, _ := connect(t, e.mqtt, &mqtt.Connect{ClientID: "sys", CleanStart: true})
	sys.subscribe("$SYS/broker/publish/messages/dropped", 0)
	last := ""
	deadline := time.Now().Add(testTimeout)
	for last != strconv.FormatInt(expired, 10) {
		if time.Now().After(deadline) {
			t.Fatalf("$SYS/broker/publish/messages/dropped %s, want %d as /metrics", last, expired)
		}
		last = string(expectPacket[*mqtt.Publish](sys).Payload)
	}
}
