package broker

import (
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// A mosquitto bridge with try_private (protocol level 0x84) is accepted and
// treated as mosquitto does: its own messages are not sent back to it and
// retain flags reach it as published.
func TestBridgeConnectTryPrivate(t *testing.T) {
	logs := newLogCapture()
	_, addr := newTestBroker(t, Options{Logger: logs.logger(), ConnectionMessages: true})
	br := dial(t, addr, mqtt.V311)
	// CONNECT "MQTT" level 0x84, clean session, keep alive 60, id "h.b".
	br.sendRaw([]byte{0x10, 0x0f, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x84, 0x02, 0x00, 0x3c, 0x00, 0x03, 'h', '.', 'b'})
	if ack := expect[*mqtt.Connack](br); ack.Code != mqtt.Success {
		t.Fatalf("bridge CONNACK %s", ack.Code)
	}
	logs.wait(t, "New bridge connected from")
	br.subscribe("x/#", 1)

	// The bridge's own publish is not echoed back (No Local).
	br.publish("x/own", "mine", 1, false)
	br.expectNothing()

	// Another client's retained live message keeps its retain flag.
	other := connectClient(t, addr, mqtt.V311, "other")
	other.publish("x/r", "kept", 1, true)
	if p := br.expectPublish("x/r", "kept"); !p.Retain {
		t.Error("retain flag cleared on delivery to a bridge (want Retain As Published)")
	}
	// A plain 3.1.1 subscriber sees the live message without it [MQTT-3.3.1-9].
	plain := connectClient(t, addr, mqtt.V311, "plain")
	plain.subscribe("x/#", 1)
	if p := plain.expectPublish("x/r", "kept"); !p.Retain {
		t.Error("retained message sent on subscribe without retain flag")
	}
	other.publish("x/r", "again", 1, true)
	if p := plain.expectPublish("x/r", "again"); p.Retain {
		t.Error("live message to a plain 3.1.1 subscriber kept its retain flag")
	}
	if p := br.expectPublish("x/r", "again"); !p.Retain {
		t.Error("live message to the bridge lost its retain flag")
	}
}

// Without the bridge bit the same client gets its own messages back.
func TestBridgeFlagOnlyWithTryPrivate(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	c := connectClient(t, addr, mqtt.V311, "h.b")
	c.subscribe("x/#", 1)
	c.publish("x/own", "mine", 1, false)
	c.expectPublish("x/own", "mine")
}
