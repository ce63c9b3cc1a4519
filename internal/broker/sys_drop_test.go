package broker

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// The dropped-message accounting: $SYS/broker/publish/messages/dropped
// (Stats.PublishDropped) and /metrics' mqbroker_messages_dropped_total
// (Metrics.Dropped, by reason) count the same drops, whatever the reason.
// The one difference is named: a delivery the subscriber's ACL filters out
// is in /metrics' reason="acl" and in $SYS/broker/publish/messages/denied,
// not in $SYS .../dropped (mqkit's extension; mosquitto counts neither).

// newClockBroker starts a broker (listener "tcp" unless opts has
// listeners) whose message-expiry clock is the returned fake clock.
func newClockBroker(t *testing.T, opts Options) (*Broker, string, *fakeClock) {
	t.Helper()
	clock := &fakeClock{}
	clock.ns.Store(time.Now().UnixNano())
	if len(opts.Listeners) == 0 {
		opts.Listeners = []ListenerConfig{{Name: "tcp", Addr: "127.0.0.1:0"}}
	}
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	b.now = clock.now
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		_ = b.Shutdown(ctx)
	})
	return b, b.Addr(opts.Listeners[0].Name).String(), clock
}

// expireInWriteQueue publishes n v5 QoS 0 messages with a Message Expiry
// Interval of 10 s to a subscriber (id) that does not read, so that some
// of them wait in its connection's write queue; then it moves the clock a
// minute on, so that those expire [MQTT-3.3.2-5], and reads everything.
// It returns n, how many were queued when the clock moved, and how many
// the subscriber received.
func expireInWriteQueue(t *testing.T, b *Broker, addr string, clock *fakeClock, id string) (n, queued, got int) {
	t.Helper()
	sub := dialSmallWindow(t, addr, mqtt.V5)
	sub.connect(connectPacket(mqtt.V5, id, true))
	sub.subscribe(id+"/#", 0)
	pub := connectClient(t, addr, mqtt.V5, id+"-pub")

	n = 300
	payload := make([]byte, 32<<10)
	for range n {
		p := &mqtt.Publish{Topic: id + "/data", Payload: payload}
		p.Props.SetMessageExpiry(10)
		pub.send(p)
	}
	pub.roundTrip() // every PUBLISH handled: queued for the subscriber, or written

	// Some of them wait in the subscriber's write queue (the socket is full).
	b.mu.Lock()
	c := b.sessions.get(id).conn
	b.mu.Unlock()
	c.qmu.Lock()
	if c.oq != nil {
		queued = len(c.oq.items)
	}
	c.qmu.Unlock()
	if queued == 0 {
		t.Fatal("nothing waits in the subscriber's write queue; the test needs more data")
	}

	clock.advance(time.Minute) // the queued ones expire
	pub.publish(id+"/end", "end", 0, false)
	for {
		p, err := sub.read(testTimeout)
		if err != nil {
			t.Fatalf("after %d messages: %v", got, err)
		}
		if pp, ok := p.(*mqtt.Publish); ok {
			if pp.Topic == id+"/end" {
				return n, queued, got
			}
			got++
		}
	}
}

// waitSys subscribes to $SYS/broker/NAME and waits until it is published
// with value want (the retained copy on subscribing, then an update every
// SysInterval); it fails with the last value seen after testTimeout.
func waitSys(t *testing.T, addr, name string, want int64) {
	t.Helper()
	c := connectClient(t, addr, mqtt.V311, "sys-"+strings.ReplaceAll(name, "/", "-"))
	c.subscribe("$SYS/broker/"+name, 0)
	deadline := time.Now().Add(testTimeout)
	last := "nothing"
	for time.Now().Before(deadline) {
		p, err := c.read(time.Until(deadline))
		if err != nil {
			break
		}
		if pp, ok := p.(*mqtt.Publish); ok {
			last = string(pp.Payload)
			if last == strconv.FormatInt(want, 10) {
				return
			}
		}
	}
	t.Errorf("$SYS/broker/%s: %s, want %d", name, last, want)
}

// sumDropped is the total of /metrics' messages_dropped_total.
func sumDropped(m Metrics) int64 {
	var n int64
	for _, d := range m.Dropped {
		n += d
	}
	return n
}

// TestSysDroppedQoS0Expired: QoS 0 messages that expire in a connection's
// write queue [MQTT-3.3.2-5] are counted in $SYS/broker/publish/messages/
// dropped as in /metrics (reason expired); every message published is
// received or counted there. They are not counted as sent: not in
// /metrics' messages_sent_total (nor its bytes, nor $SYS/broker/publish/
// bytes/sent), nor in $SYS/broker/publish/messages/sent.
func TestSysDroppedQoS0Expired(t *testing.T) {
	b, addr, clock := newClockBroker(t, Options{SysInterval: 20 * time.Millisecond})
	b.EnableLatency(1) // every message's publish-to-deliver latency
	obs := &sentCounter{}
	b.SetObserver(obs)
	stop := b.WatchClient("sx") // the flow view of the subscriber
	defer stop()
	n, queued, got := expireInWriteQueue(t, b, addr, clock, "sx")
	m := b.Metrics()
	expired := m.Dropped[DropExpired]
	t.Logf("%d published, %d queued when they expired, %d received, %d expired", n, queued, got, expired)
	if expired == 0 || int64(got)+expired != int64(n) {
		t.Fatalf("%d received + %d counted expired, want > 0 expired and %d in all", got, expired, n)
	}
	if m.PublishDropped != expired || sumDropped(m) != expired {
		t.Errorf("$SYS dropped %d, /metrics dropped %d (expired %d): want both %d", m.PublishDropped, sumDropped(m), expired, expired)
	}
	waitSys(t, addr, "publish/messages/dropped", expired)

	// Sent: the n-expired received plus the end marker.
	sent := int64(got + 1)
	size := int64(32<<10*got + len("end"))
	if m.PublishOut[0] != sent || m.PublishOutBytes[0] != size {
		t.Errorf("messages_sent_total{qos=0} %d (%d bytes), want %d (%d bytes): the expired ones were not sent",
			m.PublishOut[0], m.PublishOutBytes[0], sent, size)
	}
	if m.PublishSent != sent {
		t.Errorf("$SYS publish/messages/sent %d, want %d", m.PublishSent, sent)
	}
	// Neither measured as delivered nor shown as sent in the flow view.
	if _, count, _ := m.Deliver[0].Snapshot(); count != uint64(sent) {
		t.Errorf("publish_deliver_seconds{qos=\"0\"} counts %d, want %d: the expired ones were not delivered", count, sent)
	}
	if k := obs.sent.Load(); k != sent {
		t.Errorf("flow view: %d PUBLISH sent to the subscriber, want %d", k, sent)
	}
}

// sentCounter is an Observer counting the PUBLISH packets it is shown as
// sent to a watched client.
type sentCounter struct{ sent atomic.Int64 }

func (o *sentCounter) Message(*Message) {}

func (o *sentCounter) Packet(e PacketEvent) {
	if e.Out && e.Packet == "PUBLISH" {
		o.sent.Add(1)
	}
}

// TestSysDroppedEveryReason: for every drop reason, a scripted drop is
// counted once in /metrics under that reason (and no other) and in
// $SYS/broker/publish/messages/dropped; a delivery the ACL filters out is
// in /metrics' reason="acl" and in $SYS .../denied instead.
func TestSysDroppedEveryReason(t *testing.T) {
	denyRead := AuthorizerFunc(func(_ *ClientInfo, topic string, acc Access) bool {
		return acc != AccessRead || !strings.HasPrefix(topic, "secret/")
	})
	cases := []struct {
		name   string
		opts   Options
		reason int
		denied bool // $SYS: publish/messages/denied, not dropped
		run    func(t *testing.T, b *Broker, addr string, clock *fakeClock)
	}{
		{"queue_full", Options{MaxQueued: 1}, DropQueueFull, false, func(t *testing.T, b *Broker, addr string, _ *fakeClock) {
			sub, _ := mustConnect(t, addr, durableConnect(mqtt.V5, "qf", 300))
			sub.subscribe("qf/#", 1)
			sub.disconnect()
			waitOffline(t, b, "qf")
			pub := connectClient(t, addr, mqtt.V5, "qf-pub")
			pub.publish("qf/1", "kept", 1, false)
			pub.publish("qf/2", "dropped", 1, false) // beyond max_queued_messages 1
		}},
		{"slow_consumer", Options{MaxQueued: 2, StallTimeout: 50 * time.Millisecond}, DropSlowConsumer, false, func(t *testing.T, b *Broker, addr string, _ *fakeClock) {
			floodFullSubscriber(t, addr, "sc")
		}},
		{"acl_filtered", Options{Authorizer: denyRead}, DropACL, true, func(t *testing.T, b *Broker, addr string, _ *fakeClock) {
			sub := connectClient(t, addr, mqtt.V5, "acl")
			sub.subscribe("#", 0)
			pub := connectClient(t, addr, mqtt.V5, "acl-pub")
			pub.publish("secret/x", "no", 0, false)
			pub.publish("open/x", "yes", 0, false)
			sub.expectPublish("open/x", "yes")
		}},
		{"expired_qos0_write_queue", Options{}, DropExpired, false, func(t *testing.T, b *Broker, addr string, clock *fakeClock) {
			expireInWriteQueue(t, b, addr, clock, "ew")
		}},
		{"expired_qos1_offline_queue", Options{}, DropExpired, false, func(t *testing.T, b *Broker, addr string, clock *fakeClock) {
			sub, _ := mustConnect(t, addr, durableConnect(mqtt.V5, "eq", 300))
			sub.subscribe("eq/#", 1)
			sub.disconnect()
			waitOffline(t, b, "eq")
			pub := connectClient(t, addr, mqtt.V5, "eq-pub")
			p := &mqtt.Publish{Topic: "eq/x", Payload: []byte("expires"), QoS: 1}
			p.Props.SetMessageExpiry(10)
			pub.publishPacket(p)
			clock.advance(time.Minute)
			sub, _ = mustConnect(t, addr, durableConnect(mqtt.V5, "eq", 300))
			sub.expectNothing() // [MQTT-3.3.2-5]
		}},
		{"too_large_message_size_limit", Options{MessageSizeLimit: 100}, DropTooLarge, false, func(t *testing.T, b *Broker, addr string, _ *fakeClock) {
			sub := connectClient(t, addr, mqtt.V5, "tl")
			sub.subscribe("tl/#", 0)
			pub := connectClient(t, addr, mqtt.V5, "tl-pub")
			pub.publish("tl/big", string(make([]byte, 200)), 0, false)
			pub.publish("tl/small", "ok", 0, false)
			sub.expectPublish("tl/small", "ok")
		}},
		{"too_large_maximum_packet_size", Options{}, DropTooLarge, false, func(t *testing.T, b *Broker, addr string, _ *fakeClock) {
			cp := connectPacket(mqtt.V5, "mps", true)
			cp.Props.SetMaximumPacketSize(100)
			sub, _ := mustConnect(t, addr, cp)
			sub.subscribe("mps/#", 1)
			pub := connectClient(t, addr, mqtt.V5, "mps-pub")
			pub.publish("mps/big", string(make([]byte, 200)), 1, false)
			pub.publish("mps/small", "ok", 0, false)
			sub.expectPublish("mps/small", "ok")
		}},
		{"shared_no_member", Options{}, DropNoSubscriber, false, func(t *testing.T, b *Broker, addr string, _ *fakeClock) {
			sub := connectClient(t, addr, mqtt.V5, "sh")
			sub.subscribe("$share/g/sh/#", 1)
			pub := connectClient(t, addr, mqtt.V5, "sh-pub")
			pub.publish("sh/x", "orphan", 1, false)
			sub.expectPublishNoAck("sh/x", "orphan")
			sub.nc.Close() // the session ends with the message unacknowledged
			waitGone(t, b, "sh")
		}},
		{"other_mount_point", Options{Listeners: mountListeners()}, DropOther, false, func(t *testing.T, b *Broker, addr string, _ *fakeClock) {
			mountedQoS0Outside(t, addr, b.Addr("mounted").String(), "mo")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.SysInterval = 20 * time.Millisecond
			b, addr, clock := newClockBroker(t, tc.opts)
			tc.run(t, b, addr, clock)
			m := b.Metrics()
			n := m.Dropped[tc.reason]
			if n == 0 {
				t.Fatalf("nothing counted in /metrics as %s: %v", DropReasons[tc.reason], m.Dropped)
			}
			if sumDropped(m) != n {
				t.Errorf("/metrics dropped %v, want only %s", m.Dropped, DropReasons[tc.reason])
			}
			wantDropped, wantDenied := n, int64(0)
			if tc.denied {
				wantDropped, wantDenied = 0, n
			}
			if m.PublishDropped != wantDropped || m.PublishDenied != wantDenied {
				t.Errorf("$SYS dropped %d, denied %d; want %d, %d (/metrics %s %d)",
					m.PublishDropped, m.PublishDenied, wantDropped, wantDenied, DropReasons[tc.reason], n)
			}
			waitSys(t, addr, "publish/messages/dropped", wantDropped)
		})
	}
}

// sessionConn returns client id's session (nil: none) and its
// connection (nil: offline).
func sessionConn(b *Broker, id string) (*session, *conn) {
	b.mu.Lock()
	s := b.sessions.get(id)
	b.mu.Unlock()
	if s == nil {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s, s.conn
}

// waitOffline waits until the session of client id is offline.
func waitOffline(t *testing.T, b *Broker, id string) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for time.Now().Before(deadline) {
		if s, c := sessionConn(b, id); s != nil && c == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("session %s still online", id)
}

// waitGone waits until client id has no session.
func waitGone(t *testing.T, b *Broker, id string) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for time.Now().Before(deadline) {
		b.mu.Lock()
		ok := b.sessions.get(id) != nil
		b.mu.Unlock()
		if !ok {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("session %s still there", id)
}
