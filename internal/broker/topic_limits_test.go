package broker

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// deepTopic returns a topic of n '/' separators (n+1 levels).
func deepTopic(n int) string { return strings.Repeat("a/", n) + "a" }

// topicLimitOutcome sends one packet carrying topic (kind: publish,
// subscribe, unsubscribe or will) on a fresh connection and describes
// what the broker answers: "ok" when it accepts it, else what it sent
// before closing ("closed", "disconnect 0x81", ...). The brokercmd tests
// run the same cases against mosquitto 2.0.11.
func topicLimitOutcome(t *testing.T, addr string, v mqtt.Version, kind, topic string) string {
	t.Helper()
	c := dial(t, addr, v)
	if kind == "will" {
		p := connectPacket(v, "lim-will", true)
		p.Will = &mqtt.Will{Topic: topic, Payload: []byte("w")}
		c.send(p)
		if pk, err := c.read(testTimeout); err != nil {
			return "closed"
		} else if ack, ok := pk.(*mqtt.Connack); !ok || ack.Code != mqtt.Success {
			return "refused " + mqtt.Describe(pk)
		}
		return "ok"
	}
	c.connect(connectPacket(v, "lim-"+kind, true))
	switch kind {
	case "publish":
		c.send(&mqtt.Publish{Topic: topic, Payload: []byte("x"), QoS: 1, PacketID: 1})
	case "subscribe":
		c.send(&mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "ok/first"}, {Filter: topic}}})
	case "unsubscribe":
		c.send(&mqtt.Unsubscribe{PacketID: 1, Filters: []string{topic}})
	}
	p, err := c.read(testTimeout)
	if err != nil {
		return "closed"
	}
	switch p := p.(type) {
	case *mqtt.Disconnect:
		c.expectClosed()
		return fmt.Sprintf("disconnect %#x", byte(p.Code))
	case *mqtt.Ack, *mqtt.Suback, *mqtt.Unsuback:
		return "ok"
	default:
		return "unexpected " + mqtt.Describe(p)
	}
}

// TestTopicHierarchyLimit: mosquitto's limit of 200 '/' (201 levels) for
// topic names and filters of PUBLISH, SUBSCRIBE, UNSUBSCRIBE and wills,
// at the edge (200 accepted, 201 refused), refused the way mosquitto
// 2.0.11 refuses them (checked against it in brokercmd).
func TestTopicHierarchyLimit(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	refused := map[mqtt.Version]map[string]string{
		mqtt.V311: {"publish": "closed", "subscribe": "closed", "unsubscribe": "closed", "will": "closed"},
		mqtt.V5:   {"publish": "disconnect 0x82", "subscribe": "disconnect 0x81", "unsubscribe": "disconnect 0x81", "will": "closed"},
	}
	for _, v := range []mqtt.Version{mqtt.V311, mqtt.V5} {
		for _, kind := range []string{"publish", "subscribe", "unsubscribe", "will"} {
			if got := topicLimitOutcome(t, addr, v, kind, deepTopic(200)); got != "ok" {
				t.Errorf("v%d %s with 200 separators: %s, want ok", v, kind, got)
			}
			if got, want := topicLimitOutcome(t, addr, v, kind, deepTopic(201)), refused[v][kind]; got != want {
				t.Errorf("v%d %s with 201 separators: %s, want %s", v, kind, got, want)
			}
		}
		// The $share/GROUP/ prefix counts, as in mosquitto.
		if got := topicLimitOutcome(t, addr, v, "subscribe", "$share/g/"+deepTopic(199)); got == "ok" {
			t.Errorf("v%d shared subscription with 201 separators in all accepted", v)
		}
	}
}

// TestTopicLimitOptions: both limits are options, checked at the exact
// edge, on the topic as sent (before the listener's mount point).
func TestTopicLimitOptions(t *testing.T) {
	_, addr := newTestBroker(t, Options{TopicHierarchyLimit: 3, MaxTopicLength: 12,
		Listeners: []ListenerConfig{{Name: "tcp", Addr: "127.0.0.1:0", MountPoint: "tenant/x/y/z/"}}})
	for _, tc := range []struct {
		topic string
		ok    bool
	}{
		{"a/b/c/d", true}, {"a/b/c/d/e", false}, // 3 separators, 4
		{"abcdefghijkl", true}, {"abcdefghijklm", false}, // 12 bytes, 13
	} {
		for _, kind := range []string{"publish", "subscribe", "unsubscribe", "will"} {
			got := topicLimitOutcome(t, addr, mqtt.V5, kind, tc.topic)
			if (got == "ok") != tc.ok {
				t.Errorf("%s %q: %s, want ok=%v", kind, tc.topic, got, tc.ok)
			}
		}
	}
	for _, bad := range []int{-1, 65536} {
		if _, err := New(Options{MaxTopicLength: bad}); err == nil {
			t.Errorf("MaxTopicLength %d accepted", bad)
		}
	}
	// Negative: no hierarchy limit.
	_, addr = newTestBroker(t, Options{TopicHierarchyLimit: -1})
	if got := topicLimitOutcome(t, addr, mqtt.V5, "publish", deepTopic(5000)); got != "ok" {
		t.Errorf("5000 separators without a hierarchy limit: %s", got)
	}
}
