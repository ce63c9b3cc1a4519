package bridge

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// TestLocalCleanSession: local_cleansession sets the clean session flag
// of the bridge's local connection apart from cleansession (mosquitto.
// conf(5)). A message published locally while the remote broker is down
// waits, unacknowledged, in the bridge's local session; the local broker
// restarts on a persistent store; then the remote broker comes up. With
// local_cleansession false the local session survived and the message
// reaches the remote broker; with true it was dropped with the session.
// cleansession is true in both cases (the remote session is irrelevant).
func TestLocalCleanSession(t *testing.T) {
	for _, localClean := range []bool{false, true} {
		t.Run(fmt.Sprintf("local_cleansession=%v", localClean), func(t *testing.T) {
			store := broker.NewMemoryStore()
			start := func() *broker.Broker {
				b, err := broker.New(broker.Options{Store: store,
					Listeners: []broker.ListenerConfig{{Name: "tcp", Addr: "127.0.0.1:0"}}})
				if err != nil {
					t.Fatal(err)
				}
				if err := b.Start(); err != nil {
					t.Fatal(err)
				}
				return b
			}
			down := client.Endpoint{Host: "127.0.0.1", Port: clienttest.FreePort(t)} // nothing listens
			opts := Options{Name: "lc", ClientID: "host.lc", CleanSession: true, LocalCleanSession: &localClean,
				Topics: []Topic{{Pattern: "lc/#", Out: true, QoS: 1}}}

			local := start()
			o := opts
			o.Addresses = []client.Endpoint{down}
			stop := runBridge(t, local, o)
			pub := connectTo(t, local.Addr("tcp").String(), "lc-pub", nil)
			waitMatched(t, pub, "lc/probe") // the bridge's local subscription is in place
			publish(t, pub, "lc/kept", "waiting", 1, false)
			stop()
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			if err := local.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}

			local = start()
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
				defer cancel()
				local.Shutdown(ctx)
			})
			remote := clienttest.StartBroker(t, broker.Options{})
			in := subscriber(t, remote.Addr("tcp").String(), "lc-remote-sub", "lc/#", 1)
			o = opts
			o.Addresses = []client.Endpoint{endpointOf(t, remote.Addr("tcp").String())}
			runBridge(t, local, o)
			pub = connectTo(t, local.Addr("tcp").String(), "lc-pub2", nil)
			waitMatched(t, pub, "lc/after")
			var got []string
			for {
				p := in.next()
				got = append(got, p.Topic)
				if p.Topic == "lc/after" {
					break
				}
			}
			kept := false
			for _, g := range got {
				kept = kept || g == "lc/kept"
			}
			if kept == localClean {
				t.Errorf("local_cleansession %v: the remote broker got %v after the restart", localClean, got)
			}
		})
	}
}

// waitMatched publishes QoS 1 on topic with a v5 client until some
// subscription matches it (PUBACK 0x00 instead of 0x10 No matching
// subscribers).
func waitMatched(t *testing.T, c *client.Client, topic string) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		tok, err := c.Publish(ctxT(t), &mqtt.Publish{Topic: topic, Payload: []byte("probe"), QoS: 1})
		if err != nil {
			t.Fatal(err)
		}
		_ = tok.Wait(ctxT(t))
		if ack, ok := tok.Result().(*mqtt.Ack); ok && ack.Code == mqtt.Success {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no subscription matched %s", topic)
		}
		time.Sleep(10 * time.Millisecond) // polling the bridge's subscription; bounded by the deadline
	}
}
