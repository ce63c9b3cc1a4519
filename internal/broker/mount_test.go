package broker

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

const testMount = "tenantA/"

// mountListeners is a plain listener "plain" and a listener "mounted"
// with mount point tenantA/, both on 127.0.0.1:0.
func mountListeners() []ListenerConfig {
	return []ListenerConfig{
		{Name: "plain", Addr: "127.0.0.1:0"},
		{Name: "mounted", Addr: "127.0.0.1:0", MountPoint: testMount},
	}
}

// newMountBroker starts a broker with mountListeners and returns the
// addresses of the plain and the mounted listener.
func newMountBroker(t *testing.T, opts Options) (b *Broker, plain, mounted string) {
	t.Helper()
	opts.Listeners = mountListeners()
	b, plain = newTestBroker(t, opts)
	return b, plain, b.Addr("mounted").String()
}

// queuedFor is the number of QoS 1/2 messages the session of client id
// holds (inflight and queued).
func queuedFor(b *Broker, id string) int {
	b.mu.Lock()
	s := b.sessions.get(id)
	b.mu.Unlock()
	return s.queuedCount()
}

func TestMountPointPublishSubscribe(t *testing.T) {
	logs := newLogCapture()
	_, plainAddr, mountAddr := newMountBroker(t, Options{Logger: logs.logger()})
	for _, tc := range versions {
		t.Run(tc.name, func(t *testing.T) {
			plain := connectClient(t, plainAddr, tc.v, "plain-"+tc.name)
			plain.subscribe(testMount+"#", 1)
			m := connectClient(t, mountAddr, tc.v, "m-"+tc.name)
			m.subscribe("y", 1)
			all := connectClient(t, mountAddr, tc.v, "m-all-"+tc.name)
			all.subscribe("#", 1)

			// Mounted publisher: the topic gets the prefix for everyone
			// else, and loses it again for mounted subscribers.
			m.publish("x", "from mounted", 1, false)
			plain.expectPublish(testMount+"x", "from mounted")
			all.expectPublish("x", "from mounted")

			// Plain publisher under the mount point.
			pub := connectClient(t, plainAddr, tc.v, "pub-"+tc.name)
			pub.publish(testMount+"y", "for y", 1, false)
			m.expectPublish("y", "for y")
			all.expectPublish("y", "for y")
			plain.expectPublish(testMount+"y", "for y")

			// Outside the mount point: invisible to mounted clients.
			pub.publish("other/z", "not for tenants", 1, false)
			pub.publish("y", "plain y", 1, false)
			// tenantA/# matches "tenantA" (the parent level) and
			// "tenantA/" (an empty level): neither is strictly below the
			// mount point, so neither is sent to mounted clients.
			pub.publish("tenantA", "parent", 1, false)
			pub.publish(testMount, "mount itself", 0, false)
			m.expectNothing()
			all.expectNothing()
			for _, want := range []string{"tenantA", testMount} {
				p := expect[*mqtt.Publish](plain)
				if p.Topic != want {
					t.Fatalf("plain subscriber got %q, want %q", p.Topic, want)
				}
				plain.ackPublish(p)
			}
			// Filtered when delivered (fits), not by the writer's guard.
			if logs.has("outside the mount point") {
				t.Error("a message outside the mount point reached the writer")
			}

			// UNSUBSCRIBE applies the mount point too (mosquitto does not).
			un := &mqtt.Unsubscribe{PacketID: nextPID(), Filters: []string{"y"}}
			m.send(un)
			ua := expect[*mqtt.Unsuback](m)
			if tc.v == mqtt.V5 && (len(ua.Codes) != 1 || ua.Codes[0] != mqtt.Success) {
				t.Fatalf("UNSUBACK %s", mqtt.Describe(ua))
			}
			pub.publish(testMount+"y", "after unsubscribe", 0, false)
			m.expectNothing()
			all.expectPublish("y", "after unsubscribe")
			plain.expectPublish(testMount+"y", "after unsubscribe")
		})
	}
}

func TestMountPointRetained(t *testing.T) {
	_, plainAddr, mountAddr := newMountBroker(t, Options{})
	pub := connectClient(t, plainAddr, mqtt.V5, "ret-pub")
	pub.publish(testMount+"r/1", "under", 1, true)
	pub.publish("other/r/1", "outside", 1, true)
	mp := connectClient(t, mountAddr, mqtt.V311, "ret-mpub")
	mp.publish("r/2", "from mounted", 1, true)

	for _, tc := range versions {
		t.Run(tc.name, func(t *testing.T) {
			m := connectClient(t, mountAddr, tc.v, "ret-m-"+tc.name)
			m.subscribeOpts(mqtt.Subscription{Filter: "r/#", QoS: 1}, 0)
			got := map[string]string{}
			for _, p := range m.sync() {
				p, ok := p.(*mqtt.Publish)
				if !ok || !p.Retain {
					t.Fatalf("got %s, want retained PUBLISH", mqtt.Describe(p))
				}
				got[p.Topic] = string(p.Payload)
				m.ackPublish(p)
			}
			want := map[string]string{"r/1": "under", "r/2": "from mounted"}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("retained %v, want %v", got, want)
			}
		})
	}
	// The mounted publisher's retained message is stored under the mount.
	plain := connectClient(t, plainAddr, mqtt.V311, "ret-plain")
	plain.subscribe(testMount+"r/2", 1)
	if p := plain.expectPublish(testMount+"r/2", "from mounted"); !p.Retain {
		t.Error("retain flag not set")
	}
}

func TestMountPointWill(t *testing.T) {
	logs := newLogCapture()
	_, plainAddr, mountAddr := newMountBroker(t, Options{ConnectionMessages: true, Logger: logs.logger()})
	for _, tc := range versions {
		t.Run(tc.name, func(t *testing.T) {
			watcher := connectClient(t, plainAddr, tc.v, "will-watch-"+tc.name)
			watcher.subscribe(testMount+"will/"+tc.name, 1)
			mw := connectClient(t, mountAddr, tc.v, "will-mwatch-"+tc.name)
			mw.subscribe("will/#", 1)
			c, _ := mustConnect(t, mountAddr, willConnect(tc.v, "will-"+tc.name, "will/"+tc.name))
			c.nc.Close()
			watcher.expectPublish(testMount+"will/"+tc.name, "bye will-"+tc.name)
			mw.expectPublish("will/"+tc.name, "bye will-"+tc.name)
			logs.wait(t, "Client will-"+tc.name+" ")
			watcher.expectNothing()
		})
	}
}

func TestMountPointSharedSubscription(t *testing.T) {
	_, plainAddr, mountAddr := newMountBroker(t, Options{})
	m1 := connectClient(t, mountAddr, mqtt.V5, "sh-m1")
	m1.subscribe("$share/g/job/+", 1)
	m2 := connectClient(t, mountAddr, mqtt.V311, "sh-m2")
	m2.subscribe("$share/g/job/+", 1)
	// A plain client in the same group with the full filter shares the
	// work: $share/g/job/+ on the mounted listener is
	// $share/g/tenantA/job/+.
	p1 := connectClient(t, plainAddr, mqtt.V5, "sh-p1")
	p1.subscribe("$share/g/"+testMount+"job/+", 1)

	pub := connectClient(t, plainAddr, mqtt.V5, "sh-pub")
	const n = 12
	for i := 0; i < n; i++ {
		pub.publish(fmt.Sprintf("%sjob/%d", testMount, i), "work", 1, false)
	}
	pub.publish("job/outside", "not shared with tenants", 1, false)
	seen := map[string]int{}
	for _, c := range []struct {
		cl     *tclient
		prefix string
	}{{m1, ""}, {m2, ""}, {p1, testMount}} {
		for _, p := range c.cl.sync() {
			p, ok := p.(*mqtt.Publish)
			if !ok || !strings.HasPrefix(p.Topic, c.prefix+"job/") {
				t.Fatalf("got %s", mqtt.Describe(p))
			}
			seen[strings.TrimPrefix(p.Topic, c.prefix)]++
			c.cl.ackPublish(p)
		}
	}
	if len(seen) != n {
		t.Fatalf("messages delivered: %v, want job/0..job/%d once each", seen, n-1)
	}
	for topic, k := range seen {
		if k != 1 {
			t.Errorf("%s delivered %d times", topic, k)
		}
	}

	// Unsubscribing the shared filter works under the mount point too.
	for _, c := range []*tclient{m1, m2} {
		c.send(&mqtt.Unsubscribe{PacketID: nextPID(), Filters: []string{"$share/g/job/+"}})
		ua := expect[*mqtt.Unsuback](c)
		if c.v == mqtt.V5 && ua.Codes[0] != mqtt.Success {
			t.Fatalf("UNSUBACK %s", mqtt.Describe(ua))
		}
	}
	pub.publish(testMount+"job/last", "only p1", 1, false)
	p1.expectPublish(testMount+"job/last", "only p1")
	m1.expectNothing()
	m2.expectNothing()
}

func TestMountPointDurableSession(t *testing.T) {
	logs := newLogCapture()
	b, plainAddr, mountAddr := newMountBroker(t, Options{ConnectionMessages: true, Logger: logs.logger()})
	for _, tc := range versions {
		t.Run(tc.name, func(t *testing.T) {
			id := "mdur-" + tc.name
			c, _ := mustConnect(t, mountAddr, durableConnect(tc.v, id, 300))
			c.subscribe("q/#", 1)
			c.disconnect()
			logs.wait(t, "Client "+id+" disconnected.")

			pub := connectClient(t, plainAddr, tc.v, "mdur-pub-"+tc.name)
			pub.publish(testMount+"q/1", "queued 1", 1, false)
			pub.publish(testMount+"q/2", "queued 2", 2, false)

			// Resumed: queued messages arrive without the mount point.
			c, ack := mustConnect(t, mountAddr, durableConnect(tc.v, id, 300))
			if !ack.SessionPresent {
				t.Fatal("session not present")
			}
			c.expectPublish("q/1", "queued 1")
			// Not acknowledged: resent with DUP on the next resume.
			if p := c.expectPublishNoAck("q/2", "queued 2"); p.Dup {
				t.Error("DUP on first send")
			}
			c.nc.Close()
			logs.wait(t, "Client "+id+" closed its connection.")

			c, _ = mustConnect(t, mountAddr, durableConnect(tc.v, id, 300))
			if p := c.expectPublish("q/2", "queued 2"); !p.Dup {
				t.Error("resent without DUP")
			}
			pub.publish(testMount+"q/3", "live", 1, false)
			c.expectPublish("q/3", "live")
			c.expectNothing()
			if n := queuedFor(b, id); n != 0 {
				t.Errorf("%d messages left in the session", n)
			}
		})
	}
}

// TestMountPointSessionMoves: a session made on the plain listener and
// resumed on the mounted one receives only what is below the mount
// point; the rest is dropped, queued or inflight, and does not block the
// inflight window.
func TestMountPointSessionMoves(t *testing.T) {
	logs := newLogCapture()
	b, plainAddr, mountAddr := newMountBroker(t, Options{ConnectionMessages: true, Logger: logs.logger(), MaxInflight: 1})
	const id = "mover"
	c, _ := mustConnect(t, plainAddr, durableConnect(mqtt.V311, id, 300))
	c.subscribe("#", 1)
	pub := connectClient(t, plainAddr, mqtt.V311, "mover-pub")
	pub.publish("other/1", "inflight outside", 1, false)
	c.expectPublishNoAck("other/1", "inflight outside")
	c.nc.Close()
	logs.wait(t, "Client "+id+" closed its connection.")
	pub.publish("other/2", "queued outside", 1, false)
	pub.publish(testMount+"k", "queued inside", 1, false)

	c, ack := mustConnect(t, mountAddr, durableConnect(mqtt.V311, id, 300))
	if !ack.SessionPresent {
		t.Fatal("session not present")
	}
	c.expectPublish("k", "queued inside")
	c.expectNothing()
	if n := queuedFor(b, id); n != 0 {
		t.Errorf("%d messages left in the session", n)
	}
	// The subscription "#" made on the plain listener still matches
	// everything; only what is below the mount point is sent.
	pub.publish("other/3", "live outside", 1, false)
	pub.publish(testMount+"l", "live inside", 1, false)
	c.expectPublish("l", "live inside")
	c.expectNothing()
	if logs.has("outside the mount point") {
		t.Error("a message outside the mount point reached the writer")
	}
}

// TestMountPointStoreRestart: stored subscriptions keep their mount
// point and stored messages are sent without it after a restart.
func TestMountPointStoreRestart(t *testing.T) {
	st := NewMemoryStore()
	start := func() (*Broker, string, string) {
		b, err := New(Options{Listeners: mountListeners(), Store: st})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(); err != nil {
			t.Fatal(err)
		}
		return b, b.Addr("plain").String(), b.Addr("mounted").String()
	}
	stop := func(b *Broker) {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}
	b1, plainAddr, mountAddr := start()
	c, _ := mustConnect(t, mountAddr, durableConnect(mqtt.V5, "st-m", 300))
	c.subscribe("s/#", 1)
	c.subscribe("$share/g/sh", 1)
	c.disconnect()
	pub := connectClient(t, plainAddr, mqtt.V5, "st-pub")
	pub.publish(testMount+"s/1", "stored", 1, false)
	pub.disconnect()
	stop(b1)

	b2, plainAddr, mountAddr := start()
	defer stop(b2)
	c, ack := mustConnect(t, mountAddr, durableConnect(mqtt.V5, "st-m", 300))
	if !ack.SessionPresent {
		t.Fatal("session not restored")
	}
	c.expectPublish("s/1", "stored")
	pub = connectClient(t, plainAddr, mqtt.V5, "st-pub")
	pub.publish(testMount+"s/2", "after restart", 1, false)
	pub.publish(testMount+"sh", "shared after restart", 1, false)
	c.expectPublish("s/2", "after restart")
	c.expectPublish("sh", "shared after restart")
	c.expectNothing()
}

// TestMountPointAuthorizer: authorization sees the mounted topics and
// filters, as mosquitto's ACL checks do.
func TestMountPointAuthorizer(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	authz := AuthorizerFunc(func(ci *ClientInfo, topic string, acc Access) bool {
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %d %s", ci.ClientID, acc, topic))
		mu.Unlock()
		return !strings.HasSuffix(topic, "denied")
	})
	_, _, mountAddr := newMountBroker(t, Options{Authorizer: authz})
	c := connectClient(t, mountAddr, mqtt.V5, "az")
	c.subscribe("a/#", 1)
	c.publish("a/b", "ok", 1, false)
	c.expectPublish("a/b", "ok")
	if code := c.publish("a/denied", "no", 1, false); code != mqtt.NotAuthorized {
		t.Errorf("PUBACK %s for a denied topic", code)
	}
	c.expectNothing()
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		fmt.Sprintf("az %d %sa/#", AccessSubscribe, testMount),
		fmt.Sprintf("az %d %sa/b", AccessWrite, testMount),
		fmt.Sprintf("az %d %sa/b", AccessRead, testMount),
		fmt.Sprintf("az %d %sa/denied", AccessWrite, testMount),
	}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("Authorizer calls\n got %q\nwant %q", seen, want)
	}
}

// TestMountPointV5 covers v5 specifics: topic aliases both ways and
// properties forwarded unchanged (Response Topic is not rewritten, as in
// mosquitto).
func TestMountPointV5(t *testing.T) {
	_, plainAddr, mountAddr := newMountBroker(t, Options{})
	plain := connectClient(t, plainAddr, mqtt.V5, "v5-plain")
	plain.subscribe(testMount+"#", 1)

	cp := connectPacket(mqtt.V5, "v5-m", true)
	cp.Props.SetTopicAliasMaximum(5)
	m, _ := mustConnect(t, mountAddr, cp)
	m.subscribe("echo", 1)

	// Inbound alias: set with "req", then used with an empty topic; the
	// mount point is added after resolution.
	p := &mqtt.Publish{Topic: "req", Payload: []byte("1"), QoS: 1}
	p.Props.SetTopicAlias(1)
	p.Props.SetResponseTopic("echo")
	m.publishPacket(p)
	p = &mqtt.Publish{Payload: []byte("2"), QoS: 1}
	p.Props.SetTopicAlias(1)
	m.publishPacket(p)
	for _, want := range []string{"1", "2"} {
		got := plain.expectPublish(testMount+"req", want)
		if got.Props.ResponseTopic != "echo" && want == "1" {
			t.Errorf("Response Topic %q, want it unchanged", got.Props.ResponseTopic)
		}
	}

	// Outbound alias: keyed by the topic as sent (without mount point).
	plain.publish(testMount+"echo", "a", 1, false)
	plain.publish(testMount+"echo", "b", 1, false)
	first := m.expectPublish("echo", "a")
	second := expect[*mqtt.Publish](m)
	m.ackPublish(second)
	if a := first.Props.TopicAlias; a == 0 || second.Topic != "" || second.Props.TopicAlias != a {
		t.Errorf("aliases: first %q alias %d, second %q alias %d", first.Topic, a, second.Topic, second.Props.TopicAlias)
	}
}

// TestMountPointInvalid: filters and topics that are invalid only under
// the mount point are refused.
func TestMountPointInvalid(t *testing.T) {
	b, err := New(Options{Listeners: []ListenerConfig{{Addr: "127.0.0.1:0", MountPoint: "a/#"}}})
	if err == nil {
		b.Shutdown(context.Background())
		t.Fatal("mount point with a wildcard accepted")
	}
	if _, err := New(Options{Listeners: []ListenerConfig{{Addr: "127.0.0.1:0", MountPoint: "$share/g/"}}}); err == nil {
		t.Fatal("mount point $share/g/ accepted")
	}

	_, addr := newTestBroker(t, Options{Listeners: []ListenerConfig{{Name: "glued", Addr: "127.0.0.1:0", MountPoint: "t"}}})
	c := connectClient(t, addr, mqtt.V5, "inv")
	// "t" + "#" = "t#", not a valid filter; "t" + "x/#" = "tx/#" is.
	req := &mqtt.Subscribe{PacketID: nextPID(), Subscriptions: []mqtt.Subscription{
		{Filter: "#", QoS: 1}, {Filter: "+/x", QoS: 1}, {Filter: "x/#", QoS: 1}}}
	c.send(req)
	ack := expect[*mqtt.Suback](c)
	if want := []mqtt.ReasonCode{mqtt.TopicFilterInvalid, mqtt.TopicFilterInvalid, 1}; fmt.Sprint(ack.Codes) != fmt.Sprint(want) {
		t.Errorf("SUBACK codes %v, want %v", ack.Codes, want)
	}
	c.publish("x/1", "glued", 1, false)
	c.expectPublish("x/1", "glued")

	// Under mount point "$", "share/g/x" would become a shared filter.
	_, d := newTestBroker(t, Options{Listeners: []ListenerConfig{{Name: "dollar", Addr: "127.0.0.1:0", MountPoint: "$"}}})
	dc := connectClient(t, d, mqtt.V5, "dollar")
	dc.send(&mqtt.Subscribe{PacketID: nextPID(), Subscriptions: []mqtt.Subscription{{Filter: "share/g/x", QoS: 1}}})
	if ack := expect[*mqtt.Suback](dc); ack.Codes[0] != mqtt.TopicFilterInvalid {
		t.Errorf("SUBACK %v for share/g/x under $", ack.Codes)
	}

	// A topic longer than 65535 bytes once mounted: v5 DISCONNECT 0x90.
	long := strings.Repeat("x", 65535)
	c.send(&mqtt.Publish{Topic: long, Payload: []byte("too long")})
	if d := c.expectClosed(); d == nil || d.Code != mqtt.TopicNameInvalid {
		t.Errorf("DISCONNECT %v, want topic name invalid", d)
	}
	// A will topic too long under the mount point refuses the CONNECT.
	wc := dial(t, addr, mqtt.V5)
	cp := connectPacket(mqtt.V5, "inv-will", true)
	cp.Will = &mqtt.Will{Topic: long, Payload: []byte("w")}
	if ack := wc.connect(cp); ack.Code != mqtt.TopicNameInvalid {
		t.Errorf("CONNACK %s, want topic name invalid", ack.Code)
	}
}
