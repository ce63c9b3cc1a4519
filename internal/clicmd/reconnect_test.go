package clicmd

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// restartable is a broker that can be stopped and started again on the
// same port.
type restartable struct {
	name  string
	start func(t *testing.T, port int, opts broker.Options) (stop func())
}

var restartables = []restartable{
	{"mqkit", func(t *testing.T, port int, opts broker.Options) func() {
		opts.Listeners = []broker.ListenerConfig{{Name: "tcp", Addr: "127.0.0.1:" + strconv.Itoa(port)}}
		b := clienttest.StartBroker(t, opts)
		return func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			b.Shutdown(ctx)
		}
	}},
	{"mosquitto", func(t *testing.T, port int, opts broker.Options) func() {
		conf := clienttest.AnonymousConf
		if opts.Authenticator != nil {
			conf = "listener {port} 127.0.0.1\nallow_anonymous false\n"
		}
		return clienttest.StartMosquittoOn(t, conf, port).Stop
	}},
}

func withReconnectDelay(t *testing.T, d time.Duration) {
	old := reconnectDelay
	reconnectDelay = d
	t.Cleanup(func() { reconnectDelay = old })
}

// When the broker goes away and comes back, mqsub warns, reconnects and
// subscribes again, as mosquitto_sub does; -C counts across connections.
// The second message is retained, so it arrives only through the new
// subscription.
func TestSubReconnects(t *testing.T) {
	withReconnectDelay(t, 20*time.Millisecond)
	for _, rb := range restartables {
		for _, v := range []string{"311", "5"} {
			t.Run(rb.name+"/v"+v, func(t *testing.T) {
				port := clienttest.FreePort(t)
				stop := rb.start(t, port, broker.Options{})
				tg := target{host: "127.0.0.1", port: strconv.Itoa(port)}
				tl := &tool{name: "mqsub"}
				subscribed := tl.out.when("Subscribed (mid:")
				done := make(chan result, 1)
				go func() {
					done <- tl.run(testCtx(t), tg.args("-d", "-V", v, "-t", "re/t", "-C", "2", "-W", "15")...)
				}()
				waitFor(t, subscribed, done, tl, "first SUBACK")
				got := tl.out.when("one") // one watcher at a time
				mustPub(t, tg.args("-V", v, "-t", "re/t", "-m", "one")...)
				waitFor(t, got, done, tl, "first message")

				lost := tl.errb.when("reconnecting")
				stop()
				waitFor(t, lost, done, tl, "the warning")
				rb.start(t, port, broker.Options{})
				mustPub(t, tg.args("-V", v, "-t", "re/t", "-m", "two", "-r")...)
				var r result
				select {
				case r = <-done:
				case <-time.After(15 * time.Second):
					t.Fatalf("mqsub did not finish:\n%s\n%s", tl.out.String(), tl.errb.String())
				}
				if r.code != 0 || messages(r.stdout) != "one\ntwo\n" {
					t.Fatalf("exit %d, messages %q, want 0 and one, two\nstderr: %s", r.code, messages(r.stdout), r.stderr)
				}
				if n := strings.Count(r.stdout, "Subscribed (mid:"); n != 2 {
					t.Errorf("%d SUBACKs, want 2 (subscribed again after reconnecting)", n)
				}
				if !strings.Contains(r.stderr, "Warning: ") || strings.Contains(r.stderr, "Error") {
					t.Errorf("stderr: %q, want one warning and no error", r.stderr)
				}
			})
		}
	}
}

// A broker that refuses the reconnection ends mqsub with the refusal's
// message and exit code, as a refused first connection does.
func TestSubReconnectRefused(t *testing.T) {
	withReconnectDelay(t, 20*time.Millisecond)
	for _, rb := range restartables {
		t.Run(rb.name, func(t *testing.T) {
			port := clienttest.FreePort(t)
			stop := rb.start(t, port, broker.Options{})
			tg := target{host: "127.0.0.1", port: strconv.Itoa(port)}
			tl := &tool{name: "mqsub"}
			subscribed := tl.out.when("Subscribed (mid:")
			done := make(chan result, 1)
			go func() { done <- tl.run(testCtx(t), tg.args("-d", "-t", "re/t", "-W", "15")...) }()
			waitFor(t, subscribed, done, tl, "SUBACK")
			lost := tl.errb.when("reconnecting")
			stop()
			waitFor(t, lost, done, tl, "the warning")
			rb.start(t, port, broker.Options{Authenticator: broker.AuthenticatorFunc(func(*broker.ClientInfo, []byte) mqtt.ReasonCode {
				return mqtt.NotAuthorized
			})})
			select {
			case r := <-done:
				if r.code != 5 || !strings.Contains(r.stderr, "not authorised") {
					t.Fatalf("exit %d, stderr %q; want 5 and the refusal", r.code, r.stderr)
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("mqsub did not end:\n%s\n%s", tl.out.String(), tl.errb.String())
			}
		})
	}
}

// A DISCONNECT from the broker other than "shutting down" or "busy" ends
// mqsub, as it ends mosquitto_sub: a client taken over does not fight
// back.
func TestSubNoReconnectAfterTakeover(t *testing.T) {
	withReconnectDelay(t, 20*time.Millisecond)
	b := clienttest.StartBroker(t, broker.Options{})
	tg := splitAddr(t, b.Addr("tcp").String())
	tl := &tool{name: "mqsub"}
	subscribed := tl.out.when("Subscribed (mid:")
	done := make(chan result, 1)
	go func() {
		done <- tl.run(testCtx(t), tg.args("-d", "-V", "5", "-i", "same", "-t", "re/t", "-W", "15")...)
	}()
	waitFor(t, subscribed, done, tl, "SUBACK")
	mustPub(t, tg.args("-V", "5", "-i", "same", "-t", "x", "-m", "m")...)
	select {
	case r := <-done:
		if r.code == 0 || strings.Contains(r.stderr, "reconnecting") || !strings.Contains(r.stderr, "taken over") {
			t.Fatalf("exit %d, stderr %q; want a non-zero exit for the takeover, no reconnection", r.code, r.stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("mqsub did not end:\n%s\n%s", tl.out.String(), tl.errb.String())
	}
}

// waitFor waits for ev, failing if mqsub ends first or 10 s pass.
func waitFor(t *testing.T, ev <-chan struct{}, done chan result, tl *tool, what string) {
	t.Helper()
	select {
	case <-ev:
	case r := <-done:
		t.Fatalf("mqsub ended before %s: exit %d\n%s\n%s", what, r.code, r.stdout, r.stderr)
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s:\n%s\n%s", what, tl.out.String(), tl.errb.String())
	}
}

// mqpub -l survives a broker restart: it reconnects and publishes the
// lines that follow, as mosquitto_pub -l does.
func TestPubLinesReconnects(t *testing.T) {
	withReconnectDelay(t, 20*time.Millisecond)
	for _, rb := range restartables {
		t.Run(rb.name, func(t *testing.T) {
			port := clienttest.FreePort(t)
			stop := rb.start(t, port, broker.Options{})
			tg := target{host: "127.0.0.1", port: strconv.Itoa(port)}
			pr, pw := io.Pipe()
			defer pw.Close()
			tl := &tool{name: "mqpub", in: pr}
			done := make(chan result, 1)
			go func() { done <- tl.run(testCtx(t), tg.args("-l", "-r", "-q", "1", "-t", "re/l")...) }()
			io.WriteString(pw, "a\n")
			expectRetained(t, tg, "re/l", "a")

			lost := tl.errb.when("reconnecting")
			stop()
			waitFor(t, lost, done, tl, "the warning")
			rb.start(t, port, broker.Options{})
			io.WriteString(pw, "b\n")
			pw.Close()
			r := waitResult(t, done, tl)
			if r.code != 0 {
				t.Fatalf("mqpub -l: exit %d\nstderr: %s", r.code, r.stderr)
			}
			expectRetained(t, tg, "re/l", "b")
		})
	}
}

// A QoS 1 line the old connection had not completed is sent again on the
// new one: the first broker never acknowledges (its store never reports
// the write durable), the second receives the message.
func TestPubLinesResendsUnacknowledged(t *testing.T) {
	tg, pw, done, tl := pubLinesAcrossRestart(t, "unacked\n", "re/u", "-l", "-r", "-q", "1", "-t", "re/u")
	expectRetained(t, tg, "re/u", "unacked")
	pw.Close()
	if r := waitResult(t, done, tl); r.code != 0 {
		t.Fatalf("mqpub -l: exit %d\nstderr: %s", r.code, r.stderr)
	}
}

// pubLinesAcrossRestart runs mqpub with args (an -l mode) against a broker
// that never acknowledges, writes first to its stdin, waits until the
// broker has routed it to storedTopic, restarts the broker (a normal one
// this time) and waits for mqpub's reconnection warning. It returns the
// broker, mqpub's stdin and its result channel.
func pubLinesAcrossRestart(t *testing.T, first, storedTopic string, args ...string) (target, io.WriteCloser, chan result, *tool) {
	t.Helper()
	withReconnectDelay(t, 20*time.Millisecond)
	port := clienttest.FreePort(t)
	st := &blackholeStore{saved: make(chan string, 4)}
	stop := restartables[0].start(t, port, broker.Options{Store: st})
	tg := target{host: "127.0.0.1", port: strconv.Itoa(port)}
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	tl := &tool{name: "mqpub", in: pr}
	done := make(chan result, 1)
	go func() { done <- tl.run(testCtx(t), tg.args(args...)...) }()
	io.WriteString(pw, first)
	select {
	case topic := <-st.saved: // received and routed; its PUBACK waits for ever
		if topic != storedTopic {
			t.Fatalf("stored %q", topic)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the first broker did not receive the message:\n%s", tl.errb.String())
	}
	lost := tl.errb.when("reconnecting")
	stop()
	waitFor(t, lost, done, tl, "the warning")
	restartables[0].start(t, port, broker.Options{})
	return tg, pw, done, tl
}

// expectRetained checks with mqsub that topic's retained message is want.
func expectRetained(t *testing.T, tg target, topic, want string) {
	t.Helper()
	r := sub(t, tg.args("-t", topic, "-C", "1", "-W", "10")...)
	if r.code != 0 || r.stdout != want+"\n" {
		t.Fatalf("retained on %s: exit %d, %q; want %q\nstderr: %s", topic, r.code, r.stdout, want, r.stderr)
	}
}

func waitResult(t *testing.T, done chan result, tl *tool) result {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(15 * time.Second):
		t.Fatalf("%s did not finish:\n%s\n%s", tl.name, tl.out.String(), tl.errb.String())
		return result{}
	}
}

// blackholeStore is a DurableStore that never reports anything durable,
// so the broker never acknowledges a QoS 1/2 publish; saved receives the
// topic of each retained message saved.
type blackholeStore struct{ saved chan string }

func (s *blackholeStore) Load() (*broker.StoreSnapshot, error) { return &broker.StoreSnapshot{}, nil }
func (s *blackholeStore) SaveRetained(m *broker.StoredMessage) error {
	s.saved <- m.Topic
	return nil
}
func (s *blackholeStore) DeleteRetained(string) error                               { return nil }
func (s *blackholeStore) SaveSession(*broker.StoredSession) error                   { return nil }
func (s *blackholeStore) DeleteSession(string) error                                { return nil }
func (s *blackholeStore) SaveSubscription(string, *broker.StoredSubscription) error { return nil }
func (s *blackholeStore) DeleteSubscription(string, string) error                   { return nil }
func (s *blackholeStore) SaveMessage(string, *broker.StoredMessage) error           { return nil }
func (s *blackholeStore) DeleteMessage(string, uint64) error                        { return nil }
func (s *blackholeStore) SaveInbound(string, uint16) error                          { return nil }
func (s *blackholeStore) DeleteInbound(string, uint16) error                        { return nil }
func (s *blackholeStore) AfterDurable(func(error))                                  {}
