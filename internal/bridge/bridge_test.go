package bridge

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
)

const testTimeout = 10 * time.Second

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// endpointOf turns host:port into a client endpoint.
func endpointOf(t *testing.T, addr string) client.Endpoint {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return client.Endpoint{Host: host, Port: p}
}

// inbox receives the messages of one test client.
type inbox struct {
	t  *testing.T
	c  *client.Client
	ch chan *mqtt.Publish
}

// subscriber connects a v5 client to addr and subscribes to filter with
// Retain As Published (so retain flags can be checked).
func subscriber(t *testing.T, addr, id, filter string, qos mqtt.QoS) *inbox {
	t.Helper()
	in := &inbox{t: t, ch: make(chan *mqtt.Publish, 100)}
	in.c = connectTo(t, addr, id, func(p *mqtt.Publish) bool { in.ch <- p; return true })
	s := &mqtt.Subscribe{Subscriptions: []mqtt.Subscription{{Filter: filter, QoS: qos, RetainAsPublished: true}}}
	ack, err := in.c.Subscribe(ctxT(t), s)
	if err == nil {
		err = client.SubackErr(s, ack)
	}
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func connectTo(t *testing.T, addr, id string, on func(*mqtt.Publish) bool) *client.Client {
	t.Helper()
	c, err := client.Connect(ctxT(t), client.Options{Endpoint: endpointOf(t, addr),
		Connect: mqtt.Connect{Version: mqtt.V5, ClientID: id, CleanStart: true, KeepAlive: 30}, OnMessage: on})
	if err != nil {
		t.Fatalf("connect %s to %s: %v", id, addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// next returns the next message, failing the test after testTimeout.
func (in *inbox) next() *mqtt.Publish {
	in.t.Helper()
	select {
	case p := <-in.ch:
		return p
	case <-time.After(testTimeout):
		in.t.Fatal("no message within the deadline")
		return nil
	}
}

// expect checks the next message's topic and payload.
func (in *inbox) expect(topic, payload string) *mqtt.Publish {
	in.t.Helper()
	p := in.next()
	if p.Topic != topic || string(p.Payload) != payload {
		in.t.Fatalf("got %q %q, want %q %q", p.Topic, p.Payload, topic, payload)
	}
	return p
}

// await skips messages until one with topic and payload arrives.
func (in *inbox) await(topic, payload string) *mqtt.Publish {
	in.t.Helper()
	for {
		if p := in.next(); p.Topic == topic && string(p.Payload) == payload {
			return p
		}
	}
}

func publish(t *testing.T, c *client.Client, topic, payload string, qos mqtt.QoS, retain bool) {
	t.Helper()
	tok, err := c.Publish(ctxT(t), &mqtt.Publish{Topic: topic, Payload: []byte(payload), QoS: qos, Retain: retain})
	if err == nil {
		err = tok.Wait(ctxT(t))
	}
	if err != nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
}

// runBridge runs a bridge from local (in process) with opts until the
// returned stop function is called (or the test ends).
func runBridge(t *testing.T, local *broker.Broker, opts Options) (stop func()) {
	t.Helper()
	_, stop, _ = startBridgeDone(t, local, opts)
	return stop
}

// startBridge is runBridge returning the Bridge.
func startBridge(t *testing.T, local *broker.Broker, opts Options) *Bridge {
	t.Helper()
	b, _, _ := startBridgeDone(t, local, opts)
	return b
}

// startBridgeDone starts a bridge and returns it, the function that stops
// it and a channel closed when its Run returns.
func startBridgeDone(t *testing.T, local *broker.Broker, opts Options) (*Bridge, func(), <-chan struct{}) {
	t.Helper()
	opts.LocalDial = func(context.Context) (net.Conn, error) {
		nc, bc := net.Pipe()
		if err := local.ServeBridgeConn(bc, "bridge"); err != nil {
			return nil, err
		}
		return nc, nil
	}
	if opts.Name == "" {
		opts.Name = "test"
	}
	if opts.ClientID == "" {
		opts.ClientID = "host." + opts.Name
	}
	if opts.RestartBase == 0 {
		opts.RestartBase = 50 * time.Millisecond
	}
	if opts.ConnectTimeout == 0 {
		opts.ConnectTimeout = 2 * time.Second
	}
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Run(ctx)
	}()
	var stopped bool
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case <-done:
		case <-time.After(testTimeout):
			t.Error("bridge did not stop")
		}
	}
	t.Cleanup(stop)
	return b, stop, done
}

// waitConnected waits until the remote side sees the bridge's state "1".
func waitState(t *testing.T, in *inbox, state string) {
	t.Helper()
	for {
		p := in.next()
		if string(p.Payload) == state {
			return
		}
	}
}

// TestBridgeDirections bridges two in-process brokers with out, in and
// both (prefixed) topics, at every protocol version of the remote side,
// and checks QoS 1 delivery, the remapping, retained messages and that
// nothing loops back.
func TestBridgeDirections(t *testing.T) {
	for _, tc := range []struct {
		name       string
		v          mqtt.Version
		tryPrivate bool
	}{{"v5", mqtt.V5, false}, {"v3.1.1 try_private", mqtt.V311, true}, {"v3.1 try_private", mqtt.V31, true}} {
		t.Run(tc.name, func(t *testing.T) {
			local := clienttest.StartBroker(t, broker.Options{})
			remote := clienttest.StartBroker(t, broker.Options{})
			la, ra := local.Addr("tcp").String(), remote.Addr("tcp").String()
			state := subscriber(t, ra, "state-watch", "$SYS/broker/connection/#", 1)
			runBridge(t, local, Options{
				Addresses: []client.Endpoint{endpointOf(t, ra)}, Version: tc.v, TryPrivate: tc.tryPrivate,
				CleanSession: true, KeepAlive: 30, OutgoingRetain: true,
				Notifications: true, NotificationTopic: "$SYS/broker/connection/host.test/state",
				Topics: []Topic{
					{Pattern: "out/#", Out: true, QoS: 1},
					{Pattern: "in/#", In: true, QoS: 1},
					{Pattern: "#", In: true, Out: true, QoS: 1, LocalPrefix: "loc/", RemotePrefix: "rem/"},
				},
			})
			waitState(t, state, "1")

			lsub := subscriber(t, la, "lsub", "#", 1)
			rsub := subscriber(t, ra, "rsub", "#", 1)
			lpub := connectTo(t, la, "lpub", nil)
			rpub := connectTo(t, ra, "rpub", nil)

			// out: local -> remote, QoS 1 kept.
			publish(t, lpub, "out/a", "o1", 1, false)
			lsub.expect("out/a", "o1")
			if p := rsub.expect("out/a", "o1"); p.QoS != 1 {
				t.Errorf("out: QoS %d, want 1", p.QoS)
			}
			// in: remote -> local.
			publish(t, rpub, "in/b", "i1", 1, false)
			rsub.expect("in/b", "i1")
			if p := lsub.expect("in/b", "i1"); p.QoS != 1 {
				t.Errorf("in: QoS %d, want 1", p.QoS)
			}
			// in/out are one way: not forwarded the other way.
			publish(t, rpub, "out/x", "nope", 1, false)
			rsub.expect("out/x", "nope")
			publish(t, lpub, "in/x", "nope", 1, false)
			lsub.expect("in/x", "nope")

			// both, with prefixes; nothing comes back. A marker sent the
			// other way afterwards travels behind any echo, so the next
			// message after the original must be the marker.
			publish(t, lpub, "loc/x", "l2r", 1, false)
			lsub.expect("loc/x", "l2r")
			rsub.expect("rem/x", "l2r")
			publish(t, rpub, "rem/mark1", "m", 1, false)
			rsub.expect("rem/mark1", "m")
			lsub.expect("loc/mark1", "m") // not a second loc/x

			publish(t, rpub, "rem/y", "r2l", 1, false)
			rsub.expect("rem/y", "r2l")
			lsub.expect("loc/y", "r2l")
			publish(t, lpub, "loc/mark2", "m", 1, false)
			lsub.expect("loc/mark2", "m")
			rsub.expect("rem/mark2", "m") // not a second rem/y

			// Retained: the flag crosses the bridge and the remote broker
			// keeps the message for later subscribers.
			publish(t, lpub, "out/ret", "kept", 1, true)
			lsub.expect("out/ret", "kept")
			if p := rsub.expect("out/ret", "kept"); !p.Retain {
				t.Error("retain flag lost on the way out")
			}
			late := subscriber(t, ra, "late", "out/ret", 1)
			if p := late.expect("out/ret", "kept"); !p.Retain {
				t.Error("not retained on the remote broker")
			}
		})
	}
}

// TestBridgeNotificationsAndReconnect: state "1" while connected, "0"
// when the remote broker goes away (locally, and the will on the remote
// side); the bridge reconnects when the remote is back, and a QoS 1
// message published while it was down is delivered then.
func TestBridgeNotificationsAndReconnect(t *testing.T) {
	port := clienttest.FreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	startRemote := func() *broker.Broker {
		b, err := broker.New(broker.Options{Listeners: []broker.ListenerConfig{{Name: "tcp", Addr: addr}}})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(testTimeout)
		for { // the port may take a moment to be free again
			if err = b.Start(); err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Shutdown(context.Background()) })
		return b
	}
	const stateTopic = "bridges/test/state"
	local := clienttest.StartBroker(t, broker.Options{})
	la := local.Addr("tcp").String()
	remote := startRemote()
	lstate := subscriber(t, la, "lstate", stateTopic, 1)
	rstate := subscriber(t, addr, "rstate", stateTopic, 1)
	stop := runBridge(t, local, Options{
		Addresses: []client.Endpoint{endpointOf(t, addr)}, Version: mqtt.V311, TryPrivate: true,
		KeepAlive: 30, OutgoingRetain: true, Notifications: true, NotificationTopic: stateTopic,
		Topics: []Topic{{Pattern: "up/#", Out: true, QoS: 1}},
	})
	waitState(t, lstate, "1")
	if p := rstate.await(stateTopic, "1"); !p.Retain {
		t.Error("remote state not retained")
	}

	// The remote broker goes away: local state "0".
	if err := remote.Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if p := lstate.await(stateTopic, "0"); !p.Retain {
		t.Error("local state not retained")
	}

	// Published while the remote is down: held, unacknowledged.
	lpub := connectTo(t, la, "lpub", nil)
	publish(t, lpub, "up/held", "while down", 1, true)

	// Back on the same port: reconnected, state "1", the held message
	// delivered (retained, so a subscriber made after the reconnection
	// sees it too).
	startRemote()
	waitState(t, lstate, "1")
	rsub := subscriber(t, addr, "rsub", "up/#", 1)
	rsub.await("up/held", "while down")
	publish(t, lpub, "up/live", "after", 1, false)
	rsub.await("up/live", "after")

	// The bridge stops: its will sets the remote state to "0".
	rstate2 := subscriber(t, addr, "rstate2", stateTopic, 1)
	waitState(t, rstate2, "1")
	stop()
	rstate2.await(stateTopic, "0")
}

// TestBridgeAddressesInOrder: the first address is down, the second one
// is used.
func TestBridgeAddressesInOrder(t *testing.T) {
	local := clienttest.StartBroker(t, broker.Options{})
	remote := clienttest.StartBroker(t, broker.Options{})
	dead := "127.0.0.1:" + strconv.Itoa(clienttest.FreePort(t))
	ra := remote.Addr("tcp").String()
	rsub := subscriber(t, ra, "rsub", "#", 0)
	runBridge(t, local, Options{
		Addresses: []client.Endpoint{endpointOf(t, dead), endpointOf(t, ra)}, Version: mqtt.V5,
		KeepAlive: 30, Topics: []Topic{{Pattern: "a/#", Out: true}},
	})
	lpub := connectTo(t, local.Addr("tcp").String(), "lpub", nil)
	// Until the bridge is connected QoS 0 messages are dropped: publish
	// until one arrives.
	deadline := time.Now().Add(testTimeout)
	for i := 0; ; i++ {
		publish(t, lpub, "a/b", fmt.Sprint(i), 0, false)
		select {
		case p := <-rsub.ch:
			if p.Topic != "a/b" {
				t.Fatalf("got %q", p.Topic)
			}
			return
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing forwarded through the second address")
		}
	}
}

// TestBridgeQoS1Burst: with a small inflight window, every QoS 1 message
// of a burst crosses in order (each acknowledged to the local broker only
// after the remote one acknowledged it).
func TestBridgeQoS1Burst(t *testing.T) {
	local := clienttest.StartBroker(t, broker.Options{})
	remote := clienttest.StartBroker(t, broker.Options{})
	la, ra := local.Addr("tcp").String(), remote.Addr("tcp").String()
	lstate := subscriber(t, la, "lstate", "s", 1)
	rsub := subscriber(t, ra, "rsub", "burst/#", 1)
	runBridge(t, local, Options{
		Addresses: []client.Endpoint{endpointOf(t, ra)}, Version: mqtt.V5, KeepAlive: 30, MaxInflight: 3,
		Notifications: true, NotificationTopic: "s", NotificationsLocalOnly: true,
		Topics: []Topic{{Pattern: "burst/#", Out: true, QoS: 2}},
	})
	waitState(t, lstate, "1")
	lpub := connectTo(t, la, "lpub", nil)
	const n = 300
	var toks []*client.Token
	for i := range n {
		tok, err := lpub.Publish(ctxT(t), &mqtt.Publish{Topic: "burst/x", Payload: []byte(strconv.Itoa(i)), QoS: mqtt.QoS(1 + i%2)})
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	for i := range n {
		p := rsub.next()
		if string(p.Payload) != strconv.Itoa(i) {
			t.Fatalf("message %d: got %q", i, p.Payload)
		}
	}
	for _, tok := range toks {
		if err := tok.Wait(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
}
