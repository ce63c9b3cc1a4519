package broker_test

import (
	"fmt"
	"testing"
)

// Retained messages and durable sessions across a restart of the broker
// process with an on-disk store (mosquitto.conf "persistence true"): the
// retained message is still there [MQTT-3.3.1-5], and a durable session
// keeps its subscriptions and the QoS 1 and 2 messages queued for it
// while it was offline (3.1.1 section 3.1.2.4: the session state is kept
// after the network connection closes, and "Messages which are QoS 1 or
// QoS 2 and which have been published to the Server by other Clients"
// are part of it).

const persistConf = anonConf + "persistence true\npersistence_location {dir}/\n"

// persistBody prepares state, restarts the broker (SIGKILL with kill) and
// checks what survived.
func persistBody(t *testing.T, s *server, kill bool) {
	sub := v3connect(t, s, "dur-sub", false)
	sub.sub(t, "per/q1", 1)
	sub.sub(t, "per/q2", 2)
	sub.c.Disconnect(250)

	runTool(t, s, "mosquitto_pub", "-t", "per/ret", "-r", "-q", "1", "-m", "kept")
	pub := v3connect(t, s, "dur-pub", true)
	for i := 0; i < 3; i++ {
		pub.pub(t, "per/q1", 1, false, fmt.Sprint("one-", i))
	}
	pub.pub(t, "per/q2", 2, false, "two")
	pub.c.Disconnect(250)

	s.restart(t, kill)

	if got := runTool(t, s, "mosquitto_sub", "-t", "per/ret", "-q", "1", "-C", "1", "-F", "%t %r %q %p"); got != "per/ret 1 1 kept\n" {
		t.Errorf("retained after restart: %q, want %q", got, "per/ret 1 1 kept\n")
	}
	again := v3connect(t, s, "dur-sub", false)
	if !again.present {
		t.Errorf("durable session not present after the restart [MQTT-3.2.2-2]")
	}
	for i := 0; i < 3; i++ {
		m := again.expect(t, "per/q1", fmt.Sprint("one-", i))
		if m.Qos() != 1 {
			t.Errorf("queued QoS 1 message delivered at QoS %d", m.Qos())
		}
	}
	if m := again.expect(t, "per/q2", "two"); m.Qos() != 2 {
		t.Errorf("queued QoS 2 message delivered at QoS %d", m.Qos())
	}
	// The subscriptions survived too.
	pub = v3connect(t, s, "dur-pub", true)
	pub.pub(t, "per/q2", 2, false, "after")
	again.expect(t, "per/q2", "after")
}

// TestPeerPersistenceAcrossRestart: SIGTERM, then start again: the same
// configuration, data directory and port, for mqbroker and mosquitto.
func TestPeerPersistenceAcrossRestart(t *testing.T) {
	eachServer(t, persistConf, func(t *testing.T, s *server) {
		persistBody(t, s, false)
	})
}

// TestPeerPersistenceAcrossKill: SIGKILL instead. mqbroker writes its
// store before it acknowledges (doc.go), so nothing acknowledged is lost;
// mosquitto saves its database only periodically (autosave_interval) and
// at exit, so it is not expected to keep this and is not run.
func TestPeerPersistenceAcrossKill(t *testing.T) {
	persistBody(t, newServer(t, "mqbroker", persistConf), true)
}
