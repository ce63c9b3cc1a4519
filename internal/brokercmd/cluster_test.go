package brokercmd

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/clicmd"
	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// natsBridgeConf is the bridge section the README's "Scaling out" shows
// for a NATS cluster (with the test's addresses): MQTT 3.1.1 without the
// try_private bit (nats-server accepts protocol level 4 only), QoS at
// most 1 (nats-server 2.9 has no QoS 2), a state topic outside $SYS.
const natsBridgeConf = `listener 0 127.0.0.1
allow_anonymous true

connection nats
addresses %s
topic fleet/# out 1
topic cmd/# in 1
bridge_protocol_version mqttv311
try_private false
cleansession true
remote_clientid edge-1
notification_topic bridges/edge-1/state
keepalive_interval 5
restart_timeout %d
`

// TestBridgeFailoverNATSCluster runs a real three-node nats-server cluster
// (routes, JetStream, MQTT on every node), bridges mqbroker to all three
// addresses, publishes QoS 1 messages through mqbroker and reads them
// with mqsub from another node. Halfway, the node the bridge uses is
// killed (SIGKILL). Every message mqbroker acknowledged must reach mqsub
// (at least once), and the bridge must be connected to a surviving node
// within restart_timeout plus 10 s after the rest of the cluster accepts
// MQTT sessions again (nats-server refuses them while JetStream elects
// new leaders; the test measures that time with its own probe).
func TestBridgeFailoverNATSCluster(t *testing.T) {
	const (
		restart = 2 // restart_timeout, seconds
		total   = 200
	)
	start := time.Now()
	cluster := clienttest.StartNATSCluster(t, 3)
	t.Logf("3-node cluster ready in %s", time.Since(start).Round(time.Millisecond))
	addrs := cluster.MQTTAddrs()
	port, logs := startMqbroker(t, fmt.Sprintf(natsBridgeConf, strings.Join(addrs, " "), restart))

	// mqsub on node 3, which the bridge does not use.
	reader := cluster.Nodes[2]
	var subOut, subErr syncBuffer
	subCtx, stopSub := context.WithCancel(context.Background())
	subDone := make(chan int, 1)
	go func() {
		subDone <- clicmd.Run(subCtx, clicmd.NewSubApp(nil, &subOut, &subErr),
			[]string{"mqsub", "-h", "127.0.0.1", "-p", strconv.Itoa(reader.MQTTPort), "-t", "fleet/#", "-q", "1", "-i", "reader", "-v", "-d"})
	}()
	t.Cleanup(func() {
		stopSub()
		select {
		case <-subDone:
		case <-time.After(10 * time.Second):
			t.Error("mqsub did not stop")
		}
		if t.Failed() {
			t.Logf("mqsub stderr:\n%s\nmqbroker log:\n%s", subErr.String(), logs.String())
		}
	})

	pub, err := client.Connect(bctx(t), client.Options{
		Endpoint: client.Endpoint{Host: "127.0.0.1", Port: port},
		Connect:  mqtt.Connect{Version: mqtt.V311, ClientID: "publisher", CleanStart: true, KeepAlive: 30},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	send := func(topic, payload string) {
		t.Helper()
		tok, err := pub.Publish(bctx(t), &mqtt.Publish{Topic: topic, Payload: []byte(payload), QoS: 1})
		if err == nil {
			err = tok.Wait(bctx(t)) // acknowledged by mqbroker
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	if !waitFor(func() bool { return strings.Contains(subOut.String(), "Subscribed (mid:") }, 15*time.Second) {
		t.Fatalf("mqsub did not subscribe:\n%s", subOut.String())
	}
	// The path is up once a probe crosses: bridge connected, mqsub
	// subscribed.
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; !strings.Contains(subOut.String(), "fleet/probe "); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no probe reached mqsub:\n%s", subOut.String())
		}
		send("fleet/probe", strconv.Itoa(i))
		waitFor(func() bool { return strings.Contains(subOut.String(), "fleet/probe ") }, 300*time.Millisecond)
	}
	connected := regexp.MustCompile(`Bridge nats connected to (127\.0\.0\.1:\d+)`)
	m := connected.FindAllStringSubmatch(logs.String(), -1)
	if len(m) != 1 || m[0][1] != addrs[0] {
		t.Fatalf("bridge connections %v, want one, to the primary %s", m, addrs[0])
	}

	for i := range total {
		if i == total/2 {
			cluster.Nodes[0].Kill()
			killed := time.Now()
			// When does the rest of the cluster accept a new MQTT session
			// with a QoS 1 subscription again (JetStream elects new
			// leaders for what the killed node led)? The bridge cannot
			// do better than that.
			avail := make(chan time.Time, 1)
			go func() {
				for i := 0; time.Since(killed) < 40*time.Second; i++ {
					if clienttest.MQTTProbe(addrs[1+i%2], "avail-probe", true) == nil {
						avail <- time.Now()
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
				avail <- time.Time{}
			}()
			ok := waitFor(func() bool { return len(connected.FindAllString(logs.String(), -1)) >= 2 }, 40*time.Second)
			reconnected := time.Now()
			if !ok {
				t.Fatalf("the bridge did not reconnect within 40s")
			}
			m = connected.FindAllStringSubmatch(logs.String(), -1)
			if m[1][1] == addrs[0] {
				t.Fatalf("reconnected to the killed node %s", addrs[0])
			}
			up := <-avail
			if up.IsZero() {
				t.Fatal("the cluster did not accept MQTT sessions again within 40s")
			}
			t.Logf("reconnected to %s %s after the kill; the cluster took %s to accept sessions again",
				m[1][1], reconnected.Sub(killed).Round(time.Millisecond), up.Sub(killed).Round(time.Millisecond))
			// Bound: restart_timeout after the cluster is back, plus one
			// attempt nats-server fails after its 4 s JetStream request
			// timeout for each surviving node, plus slack.
			if late := reconnected.Sub(up); late > restart*time.Second+2*4*time.Second+2*time.Second {
				t.Errorf("the bridge reconnected %s after the cluster was available again", late.Round(time.Millisecond))
			}
		}
		send("fleet/m", strconv.Itoa(i))
	}

	missing := func() []int {
		got := map[string]bool{}
		for _, l := range strings.Split(subOut.String(), "\n") {
			if p, ok := strings.CutPrefix(l, "fleet/m "); ok {
				got[p] = true
			}
		}
		var miss []int
		for i := range total {
			if !got[strconv.Itoa(i)] {
				miss = append(miss, i)
			}
		}
		return miss
	}
	if !waitFor(func() bool { return len(missing()) == 0 }, 20*time.Second) {
		t.Fatalf("%d acknowledged messages never reached mqsub: %v", len(missing()), missing())
	}
	dups := strings.Count(subOut.String(), "fleet/m ") - total
	t.Logf("all %d messages arrived (%d duplicates) in %s", total, dups, time.Since(start).Round(time.Millisecond))
}

// waitFor polls cond (every 20 ms) until it holds or within passes.
func waitFor(cond func() bool, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
