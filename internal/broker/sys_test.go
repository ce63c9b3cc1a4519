package broker

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

func TestSysTopics(t *testing.T) {
	_, addr := newTestBroker(t, Options{SysInterval: 50 * time.Millisecond})
	pub := connectClient(t, addr, mqtt.V311, "sys-pub")
	pub.publish("sys/retained", "r", 1, true)

	// '#' does not match $SYS topics [MQTT-4.7.2-1].
	all := connectClient(t, addr, mqtt.V311, "sys-all")
	all.subscribe("#", 0)
	for _, p := range all.sync() {
		if pp := p.(*mqtt.Publish); strings.HasPrefix(pp.Topic, "$") {
			t.Errorf("'#' matched %s", pp.Topic)
		}
	}
	c := connectClient(t, addr, mqtt.V5, "sys-sub")
	c.subscribe("$SYS/broker/#", 0)
	want := map[string]bool{
		"$SYS/broker/version": true, "$SYS/broker/uptime": true,
		"$SYS/broker/clients/connected": true, "$SYS/broker/clients/disconnected": true,
		"$SYS/broker/clients/total": true, "$SYS/broker/clients/maximum": true,
		"$SYS/broker/clients/expired": true, "$SYS/broker/messages/received": true,
		"$SYS/broker/messages/sent": true, "$SYS/broker/publish/messages/received": true,
		"$SYS/broker/publish/messages/sent": true, "$SYS/broker/publish/messages/dropped": true,
		"$SYS/broker/bytes/received": true, "$SYS/broker/bytes/sent": true,
		"$SYS/broker/retained messages/count": true, "$SYS/broker/subscriptions/count": true,
		"$SYS/broker/store/messages/count": true,
	}
	got := map[string]string{}
	for _, p := range c.sync() { // retained copies on subscribe
		pp := p.(*mqtt.Publish)
		if !pp.Retain {
			t.Errorf("%s not retained", pp.Topic)
		}
		got[pp.Topic] = string(pp.Payload)
	}
	for topic := range want {
		if _, ok := got[topic]; !ok {
			t.Errorf("missing %s", topic)
		}
	}
	if !strings.HasPrefix(got["$SYS/broker/version"], "mqkit version ") {
		t.Errorf("version %q", got["$SYS/broker/version"])
	}
	if !strings.HasSuffix(got["$SYS/broker/uptime"], " seconds") {
		t.Errorf("uptime %q", got["$SYS/broker/uptime"])
	}
	// Periodic updates arrive without a new subscription; the connected
	// count includes us.
	deadline := time.After(testTimeout)
	for {
		select {
		case <-deadline:
			t.Fatal("no periodic clients/connected update")
		default:
		}
		p := expect[*mqtt.Publish](c)
		if p.Topic != "$SYS/broker/clients/connected" {
			continue
		}
		if n, _ := strconv.Atoi(string(p.Payload)); n < 3 {
			t.Errorf("clients/connected %q", p.Payload)
		}
		break
	}
}

func TestStatsCounters(t *testing.T) {
	b, addr := newTestBroker(t, Options{})
	sub := connectClient(t, addr, mqtt.V311, "st-sub")
	sub.subscribe("st/#", 1)
	pub := connectClient(t, addr, mqtt.V311, "st-pub")
	pub.publish("st/a", "hello", 1, true)
	sub.expectPublish("st/a", "hello")
	sub.expectNothing()
	st := b.Stats()
	if st.ClientsConnected != 2 || st.ClientsMaximum < 2 || st.PublishReceived != 1 || st.PublishSent != 1 ||
		st.RetainedCount != 1 || st.SubscriptionCount != 1 || st.BytesReceived == 0 || st.BytesSent == 0 {
		t.Errorf("stats %+v", st)
	}
}
