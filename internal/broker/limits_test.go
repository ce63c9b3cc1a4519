package broker

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// stalledSubscriber connects a subscriber over net.Pipe that stops
// reading after SUBACK, so everything for it piles up in the broker.
func stalledSubscriber(t *testing.T, b *Broker, id, filter string, v mqtt.Version) net.Conn {
	t.Helper()
	srv, cli := net.Pipe()
	t.Cleanup(func() { cli.Close() })
	if err := b.ServeConn(srv, "pipe"); err != nil {
		t.Fatal(err)
	}
	c := newTClient(t, cli, v)
	c.connect(connectPacket(v, id, true))
	c.subscribe(filter, 0)
	return cli
}

func TestQoS0DroppedWhenQueueFull(t *testing.T) {
	logs := newLogCapture()
	b, addr := newTestBroker(t, Options{MaxQueued: 10, StallTimeout: 50 * time.Millisecond, Logger: logs.logger()})
	stalledSubscriber(t, b, "stalled", "drop/t", mqtt.V311)
	pub := connectClient(t, addr, mqtt.V311, "drop-pub")
	// First a message larger than the writer's buffer: the subscriber's
	// writer takes it from the queue and blocks writing it (nobody reads
	// the pipe), so nothing leaves the queue after it. Otherwise the
	// writer, encoding into its buffer, may take the queue several times
	// before it first blocks (CI: 26 of 200 not dropped).
	pub.send(&mqtt.Publish{Topic: "drop/t", Payload: make([]byte, 8<<10)})
	waitWriterBlocked(t, b, "stalled")
	const n = 200
	for i := 0; i < n; i++ {
		pub.send(&mqtt.Publish{Topic: "drop/t", Payload: []byte("x")})
	}
	pub.roundTrip()
	st := b.Stats()
	// The publisher waited StallTimeout once for the subscriber, which is
	// then a slow consumer. At most MaxQueued (and one more, queued before
	// the wait) wait in the queue; the rest were dropped and counted.
	t.Logf("dropped %d of %d", st.PublishDropped, n)
	if st.PublishDropped < n-(10+1) {
		t.Errorf("dropped %d of %d with MaxQueued 10", st.PublishDropped, n)
	}
	if !logs.has("Slow consumer: publishers no longer wait") {
		t.Error("subscriber not marked as a slow consumer")
	}
}

// waitWriterBlocked waits until the writer of client id's connection has
// taken everything queued and is still writing.
func waitWriterBlocked(t *testing.T, b *Broker, id string) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for time.Now().Before(deadline) {
		if _, c := sessionConn(b, id); c != nil {
			c.qmu.Lock()
			taken := c.oq == nil || c.oq.empty()
			c.qmu.Unlock()
			if taken && c.flags.has(flagWriting) {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%s's writer did not take its queue", id)
}

func TestSlowConsumerClosed(t *testing.T) {
	logs := newLogCapture()
	b, addr := newTestBroker(t, Options{MaxQueued: -1, MaxOutboundBytes: 64 << 10,
		ConnectionMessages: true, Logger: logs.logger()})
	stalledSubscriber(t, b, "slow", "slow/t", mqtt.V5)
	pub := connectClient(t, addr, mqtt.V311, "slow-pub")
	payload := bytes.Repeat([]byte("x"), 1024)
	for i := 0; i < 200; i++ {
		pub.send(&mqtt.Publish{Topic: "slow/t", Payload: payload})
	}
	pub.roundTrip()
	logs.wait(t, "Client slow disconnected: slow consumer.")
}

func TestWriteTimeoutClosesSlowConsumer(t *testing.T) {
	logs := newLogCapture()
	b, addr := newTestBroker(t, Options{WriteTimeout: 200 * time.Millisecond,
		ConnectionMessages: true, Logger: logs.logger()})
	stalledSubscriber(t, b, "stuck", "stuck/t", mqtt.V311)
	pub := connectClient(t, addr, mqtt.V311, "stuck-pub")
	pub.publish("stuck/t", "x", 0, false)
	logs.wait(t, "Client stuck disconnected: slow consumer.")
}

func TestShutdown(t *testing.T) {
	base := runtime.NumGoroutine()
	b, err := New(Options{Listeners: []ListenerConfig{
		{Name: "tcp", Addr: "127.0.0.1:0"}, {Name: "ws", Addr: "127.0.0.1:0", WebSocket: true}},
		SysInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	addr := b.Addr("tcp").String()
	v5 := connectClient(t, addr, mqtt.V5, "sd-v5")
	v3 := connectClient(t, addr, mqtt.V311, "sd-v3")
	v3.subscribe("sd/will", 1)
	durable, _ := mustConnect(t, addr, durableConnect(mqtt.V311, "sd-durable", 0))
	durable.subscribe("sd/will", 1)
	durable.disconnect()
	withWill, _ := mustConnect(t, addr, willConnect(mqtt.V5, "sd-will", "sd/will"))
	silent := dial(t, addr, mqtt.V311) // never sends CONNECT
	ws, err := wsDial(t, "ws://"+b.Addr("ws").String()+"/", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.connect(connectPacket(mqtt.V311, "sd-ws", true))

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := v5.expectClosed(); d == nil || d.Code != mqtt.ServerShuttingDown {
		t.Errorf("v5 client got DISCONNECT %v, want 0x8B", d)
	}
	// The will of a connected client is published before the others are
	// disconnected.
	v3.expectPublish("sd/will", "bye sd-will")
	v3.expectClosed()
	if d := withWill.expectClosed(); d == nil || d.Code != mqtt.ServerShuttingDown {
		t.Errorf("DISCONNECT %v", d)
	}
	silent.expectClosed()
	ws.expectClosed()
	// ...and queued for the durable offline session.
	b.mu.Lock()
	s := b.sessions.get("sd-durable")
	b.mu.Unlock()
	if s == nil || s.queuedCount() != 1 {
		t.Errorf("will not queued for the durable session")
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("listener still accepting after Shutdown")
	}
	if err := b.Start(); err != ErrServerClosed {
		t.Errorf("Start after Shutdown: %v", err)
	}
	if err := b.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	// Every goroutine the broker started has ended (Shutdown waited for
	// them); the count returns to where it was, give or take the test's
	// own idle connections being torn down.
	deadline := time.Now().Add(testTimeout)
	for runtime.NumGoroutine() > base+2 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if n := runtime.NumGoroutine(); n > base+2 {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Shutdown, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}

func TestServeContext(t *testing.T) {
	b, err := New(Options{Listeners: []ListenerConfig{{Name: "tcp", Addr: "127.0.0.1:0"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- b.Serve(ctx) }()
	c := connectClient(t, b.Addr("tcp").String(), mqtt.V5, "serve")
	cancel()
	if d := c.expectClosed(); d == nil || d.Code != mqtt.ServerShuttingDown {
		t.Errorf("DISCONNECT %v", d)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Serve did not return")
	}
}

func TestOptionsValidation(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"zero value", Options{}, true},
		{"max qos 3", Options{MaxQoS: qosPtr(3)}, false},
		{"tiny packet size", Options{MaxPacketSize: 10}, false},
		{"duplicate listener", Options{Listeners: []ListenerConfig{{Name: "a"}, {Name: "a"}}}, false},
		{"default names", Options{Listeners: []ListenerConfig{{}, {}, {WebSocket: true}}}, true},
		{"ws on unix", Options{Listeners: []ListenerConfig{{Network: "unix", WebSocket: true}}}, false},
		{"topic alias too big", Options{MaxTopicAlias: 70000}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if (err == nil) != tc.ok {
				t.Errorf("New: %v, want ok=%v", err, tc.ok)
			}
		})
	}
	cfg, _ := (&Options{Listeners: []ListenerConfig{{}, {}, {WebSocket: true}}}).resolve()
	var names []string
	for _, l := range cfg.Listeners {
		names = append(names, l.Name)
	}
	if fmt.Sprint(names) != "[tcp tcp-2 ws]" {
		t.Errorf("default listener names %v", names)
	}
	if cfg.maxInflight != 100 || cfg.maxQueued != 1000 || cfg.topicAliasMax != 10 || cfg.recvMax != 1024 ||
		cfg.ConnectTimeout != 10*time.Second || cfg.sysInterval != 0 || cfg.AutoIDPrefix != "auto-" {
		t.Errorf("defaults: %+v", cfg)
	}
}
