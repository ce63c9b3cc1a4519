package broker_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// Shared subscriptions (MQTT 5.0 section 4.8.2): each message published
// to a topic matching $share/GROUP/FILTER goes to exactly one member of
// the group; both brokers choose members round robin and accept members
// of any protocol version.

// TestPeerSharedDistribution: a paho.golang (5.0) and a paho.mqtt.golang
// (3.1.1) member share $share/g/jobs/#; 10 QoS 1 messages from
// mosquitto_pub are each delivered once, spread over both members.
func TestPeerSharedDistribution(t *testing.T) {
	eachServer(t, anonConf, func(t *testing.T, s *server) {
		m5 := v5connect(t, s, &paho.Connect{ClientID: "share-v5", CleanStart: true, KeepAlive: 30}, nil)
		m5.sub(t, "$share/g/jobs/#", 1)
		m3 := v3connect(t, s, "share-v3", true)
		m3.sub(t, "$share/g/jobs/#", 1)
		// An ordinary subscriber of the same topics gets every message.
		all := v3connect(t, s, "share-all", true)
		all.sub(t, "jobs/#", 1)
		const n = 10
		for i := 0; i < n; i++ {
			runTool(t, s, "mosquitto_pub", "-q", "1", "-t", fmt.Sprintf("jobs/%d", i), "-m", fmt.Sprint(i))
		}
		for i := 0; i < n; i++ {
			all.expect(t, fmt.Sprintf("jobs/%d", i), fmt.Sprint(i))
		}
		// Every message went to one member: collect until n arrived.
		got := map[string]string{}
		deadline := time.After(peerTimeout)
		for len(got) < n {
			select {
			case m := <-m5.msgs:
				if prev, dup := got[string(m.Payload)]; dup {
					t.Fatalf("message %s delivered twice (%s and v5)", m.Payload, prev)
				}
				got[string(m.Payload)] = "v5"
			case m := <-m3.msgs:
				if prev, dup := got[string(m.Payload())]; dup {
					t.Fatalf("message %s delivered twice (%s and v3)", m.Payload(), prev)
				}
				got[string(m.Payload())] = "v3"
			case <-deadline:
				t.Fatalf("only %d of %d messages reached the group: %v", len(got), n, got)
			}
		}
		per := map[string]int{}
		for _, who := range got {
			per[who]++
		}
		if per["v5"] == 0 || per["v3"] == 0 {
			t.Errorf("messages not distributed over the group: %v", per)
		}
		// Nothing more (a duplicate would come now): a round trip on
		// each member's connection.
		m3.sub(t, "jobs-sync/none", 0)
		m5.sub(t, "jobs-sync/none", 0)
		select {
		case m := <-m5.msgs:
			t.Errorf("extra message %s to the v5 member", m.Payload)
		case m := <-m3.msgs:
			t.Errorf("extra message %s to the v3 member", m.Payload())
		default:
		}
	})
}

// TestPeerSharedRedelivery: a member that took QoS 1 messages and never
// acknowledged them goes away and its session ends; "If the Client's
// Session terminates before the Client reconnects, the Server SHOULD send
// the Application Message to another Client that is subscribed to the
// same Shared Subscription" (5.0 section 4.8.2). mqbroker does; mosquitto
// 2.0.11 does not (it drops them with the session), so this runs against
// mqbroker only.
func TestPeerSharedRedelivery(t *testing.T) {
	s := newServer(t, "mqbroker", anonConf)
	lazy := v5connect(t, s, &paho.Connect{ClientID: "share-lazy", CleanStart: true, KeepAlive: 30},
		&v5opts{manualAck: true})
	lazy.sub(t, "$share/pool/work/+", 1)
	pub := v3connect(t, s, "share-pub", true)
	for i := 0; i < 3; i++ {
		pub.pub(t, fmt.Sprintf("work/%d", i), 1, false, fmt.Sprint("job", i)) // acknowledged: the broker owns it
	}
	for i := 0; i < 3; i++ {
		lazy.expect(t, fmt.Sprintf("work/%d", i), fmt.Sprint("job", i)) // taken, not acknowledged
	}
	busy := v3connect(t, s, "share-busy", true)
	busy.sub(t, "$share/pool/work/+", 1)
	// The lazy member's connection dies; its session (expiry 0) ends.
	lazy.c.TerminateConnectionForTest()
	var got []string
	for i := 0; i < 3; i++ {
		m := busy.recv(t)
		got = append(got, string(m.Payload()))
		if m.Qos() != 1 {
			t.Errorf("redelivered at QoS %d, want 1", m.Qos())
		}
	}
	sort.Strings(got)
	if fmt.Sprint(got) != "[job0 job1 job2]" {
		t.Errorf("redelivered %v, want job0..job2", got)
	}
}
