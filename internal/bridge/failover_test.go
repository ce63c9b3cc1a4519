package bridge

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// fixedBroker is an in-process broker that can be stopped and started
// again on the same loopback port.
type fixedBroker struct {
	t    *testing.T
	addr string
	b    *broker.Broker
}

func newFixedBroker(t *testing.T) *fixedBroker {
	return &fixedBroker{t: t, addr: "127.0.0.1:" + strconv.Itoa(clienttest.FreePort(t))}
}

func (f *fixedBroker) start() {
	f.t.Helper()
	b, err := broker.New(broker.Options{Listeners: []broker.ListenerConfig{{Name: "tcp", Addr: f.addr}}})
	if err != nil {
		f.t.Fatal(err)
	}
	deadline := time.Now().Add(testTimeout)
	for { // the port may take a moment to be free again
		if err = b.Start(); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		f.t.Fatal(err)
	}
	f.b = b
	f.t.Cleanup(func() { b.Shutdown(context.Background()) })
}

func (f *fixedBroker) stop() {
	f.t.Helper()
	if err := f.b.Shutdown(ctxT(f.t)); err != nil {
		f.t.Fatal(err)
	}
}

// logLines records a bridge's log lines and lets a test wait for one.
type logLines struct {
	mu    sync.Mutex
	lines []string
	at    []time.Time
	grew  chan struct{}
}

func newLogLines() *logLines { return &logLines{grew: make(chan struct{}, 1)} }

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logLines) WithGroup(string) slog.Handler            { return l }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.lines = append(l.lines, r.Message)
	l.at = append(l.at, time.Now())
	l.mu.Unlock()
	select {
	case l.grew <- struct{}{}:
	default:
	}
	return nil
}

func (l *logLines) snapshot() ([]string, []time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...), append([]time.Time(nil), l.at...)
}

// count is the number of lines containing sub.
func (l *logLines) count(sub string) int {
	lines, _ := l.snapshot()
	n := 0
	for _, s := range lines {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

// waitCount waits until n lines contain sub.
func (l *logLines) waitCount(t *testing.T, sub string, n int, within time.Duration) {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for l.count(sub) < n {
		select {
		case <-l.grew:
		case <-deadline.C:
			lines, _ := l.snapshot()
			t.Fatalf("no %d log lines with %q within %s:\n%s", n, sub, within, strings.Join(lines, "\n"))
		}
	}
}

func (l *logLines) String() string {
	lines, _ := l.snapshot()
	return strings.Join(lines, "\n")
}

// TestBridgeReturnsToPrimary: round_robin false. The primary is down at
// start, so the bridge uses the secondary; once the primary is back the
// bridge probes it (every PrimaryRetry), disconnects from the secondary
// and connects to the primary. QoS 1 messages published throughout all
// reach one side or the other, none is lost.
func TestBridgeReturnsToPrimary(t *testing.T) {
	local := clienttest.StartBroker(t, broker.Options{})
	primary := newFixedBroker(t)
	secondary := clienttest.StartBroker(t, broker.Options{})
	sa := secondary.Addr("tcp").String()
	logs := newLogLines()
	const stateTopic = "bridges/rr/state"
	secState := subscriber(t, sa, "sec-state", stateTopic, 1)
	secIn := subscriber(t, sa, "sec-in", "fo/#", 1)
	runBridge(t, local, Options{
		Name: "rr", Addresses: []client.Endpoint{endpointOf(t, primary.addr), endpointOf(t, sa)},
		Version: mqtt.V311, KeepAlive: 30, PrimaryRetry: 100 * time.Millisecond,
		Notifications: true, NotificationTopic: stateTopic,
		Topics: []Topic{{Pattern: "fo/#", Out: true, QoS: 1}}, Logger: slog.New(logs),
	})
	waitState(t, secState, "1")
	lpub := connectTo(t, local.Addr("tcp").String(), "lpub", nil)
	publish(t, lpub, "fo/1", "before", 1, false)
	secIn.await("fo/1", "before")

	primary.start()
	priIn := subscriber(t, primary.addr, "pri-in", "fo/#", 1)
	priState := subscriber(t, primary.addr, "pri-state", stateTopic, 1)
	waitState(t, priState, "1") // back on the primary
	logs.waitCount(t, "is back", 1, testTimeout)
	publish(t, lpub, "fo/2", "after", 1, false)
	priIn.await("fo/2", "after")
}

// TestBridgeRoundRobin: round_robin true. The bridge stays on the address
// it connected to, also when an earlier one comes back, and moves on to
// the next one when its connection fails.
func TestBridgeRoundRobin(t *testing.T) {
	local := clienttest.StartBroker(t, broker.Options{})
	a, b := newFixedBroker(t), newFixedBroker(t)
	a.start()
	b.start()
	const stateTopic = "bridges/rr/state"
	aState := subscriber(t, a.addr, "a-state", stateTopic, 1)
	logs := newLogLines()
	br := startBridge(t, local, Options{
		Name: "rr", Addresses: []client.Endpoint{endpointOf(t, a.addr), endpointOf(t, b.addr)}, RoundRobin: true,
		Version: mqtt.V5, KeepAlive: 30, PrimaryRetry: 50 * time.Millisecond,
		Notifications: true, NotificationTopic: stateTopic,
		Topics: []Topic{{Pattern: "rr/#", Out: true, QoS: 1}}, Logger: slog.New(logs),
	})
	waitState(t, aState, "1")
	a.stop()
	bState := subscriber(t, b.addr, "b-state", stateTopic, 1)
	waitState(t, bState, "1")
	a.start()
	// With round_robin false it would go back to a within 50 ms; give it
	// ten times that and check it stayed.
	time.Sleep(500 * time.Millisecond)
	if s := br.Status(); s.State != Connected || s.Address != b.addr {
		t.Fatalf("status %+v, want connected to %s\n%s", s, b.addr, logs)
	}
	aState = subscriber(t, a.addr, "a-state2", stateTopic, 1)
	b.stop()
	waitState(t, aState, "1")
	if s := br.Status(); s.Address != a.addr || s.Connects != 3 {
		t.Errorf("status %+v, want 3 connections, the last to %s", s, a.addr)
	}
}

// TestBridgeLazy: start_type lazy. The bridge connects locally but not to
// the remote broker until Threshold messages are queued for it; then all
// of them cross, in order. After IdleTimeout without traffic it
// disconnects (the remote broker publishes its will, state "0") and
// waits again; the next Threshold messages bring it back.
func TestBridgeLazy(t *testing.T) {
	local := clienttest.StartBroker(t, broker.Options{})
	remote := clienttest.StartBroker(t, broker.Options{})
	ra := remote.Addr("tcp").String()
	const stateTopic = "bridges/lazy/state"
	rstate := subscriber(t, ra, "rstate", stateTopic, 1)
	rsub := subscriber(t, ra, "rsub", "lz/#", 1)
	logs := newLogLines()
	br := startBridge(t, local, Options{
		Name: "lazy", Addresses: []client.Endpoint{endpointOf(t, ra)}, Version: mqtt.V311, KeepAlive: 30,
		Start: Lazy, Threshold: 3, IdleTimeout: 300 * time.Millisecond,
		Notifications: true, NotificationTopic: stateTopic,
		Topics: []Topic{{Pattern: "lz/#", Out: true, QoS: 1}}, Logger: slog.New(logs),
	})
	lpub := connectTo(t, local.Addr("tcp").String(), "lpub", nil)
	for round := range 2 {
		logs.waitCount(t, "waiting (start_type lazy)", round+1, testTimeout)
		publish(t, lpub, "lz/a", "1", 1, false)
		publish(t, lpub, "lz/a", "2", 0, false) // QoS 0 counts and is kept while lazy
		if s := br.Status(); s.State != Waiting || s.Connects != round {
			t.Fatalf("round %d: status %+v after 2 messages, want waiting", round, s)
		}
		publish(t, lpub, "lz/a", "3", 1, false)
		waitState(t, rstate, "1")
		for _, want := range []string{"1", "2", "3"} {
			rsub.expect("lz/a", want)
		}
		// Idle: the bridge disconnects without DISCONNECT, so the remote
		// broker publishes the will.
		waitState(t, rstate, "0")
		logs.waitCount(t, "idle for 300ms", round+1, testTimeout)
	}
}

// TestBridgeOnce: start_type once. The only address refuses: the bridge
// tries it once and stops (Run returns, state Stopped) instead of
// retrying.
func TestBridgeOnce(t *testing.T) {
	local := clienttest.StartBroker(t, broker.Options{})
	down := "127.0.0.1:" + strconv.Itoa(clienttest.FreePort(t))
	logs := newLogLines()
	br, _, done := startBridgeDone(t, local, Options{
		Name: "once", Addresses: []client.Endpoint{endpointOf(t, down)}, Start: Once,
		Topics: []Topic{{Pattern: "o/#", Out: true}}, Logger: slog.New(logs),
	})
	select {
	case <-done:
	case <-time.After(testTimeout):
		t.Fatalf("Run did not return:\n%s", logs)
	}
	if s := br.Status(); s.State != Stopped || s.Attempts != 1 || s.LastErr == "" {
		t.Errorf("status %+v, want stopped after 1 attempt with an error", s)
	}
	if n := logs.count("Connecting bridge once"); n != 1 {
		t.Errorf("%d connection attempts, want 1:\n%s", n, logs)
	}
}

// TestBridgeLocalIdentity: local_clientid, local_username and
// local_password are what the bridge's local connection presents.
func TestBridgeLocalIdentity(t *testing.T) {
	type presented struct {
		ci       broker.ClientInfo
		password string
	}
	seen := make(chan presented, 10)
	local := clienttest.StartBroker(t, broker.Options{Authenticator: broker.AuthenticatorFunc(func(ci *broker.ClientInfo, password []byte) mqtt.ReasonCode {
		seen <- presented{*ci, string(password)}
		return mqtt.Success
	})})
	remote := clienttest.StartBroker(t, broker.Options{})
	runBridge(t, local, Options{
		Name: "id", ClientID: "edge-remote", Addresses: []client.Endpoint{endpointOf(t, remote.Addr("tcp").String())},
		LocalClientID: "edge-here", LocalUsername: "bridge-user", HasLocalUsername: true,
		LocalPassword: []byte("pw"), HasLocalPassword: true,
		Topics: []Topic{{Pattern: "x/#", Out: true}},
	})
	select {
	case got := <-seen:
		if ci := got.ci; ci.ClientID != "edge-here" || !ci.HasUsername || ci.Username != "bridge-user" || got.password != "pw" {
			t.Errorf("local connection presented %+v", got)
		}
	case <-time.After(testTimeout):
		t.Fatal("the bridge did not connect locally")
	}
}
