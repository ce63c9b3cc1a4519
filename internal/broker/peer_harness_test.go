package broker_test

// Harness of the third-party peer tests (peer_*_test.go, boundary_*_test.go):
// the broker under test is either mqbroker, run as a real process from a
// mosquitto configuration file (this test binary re-executed as mqbroker,
// see TestMain), or mosquitto 2.0.11 run from the same configuration text.
// The clients are the Eclipse Paho clients (paho.mqtt.golang for 3.1.1,
// paho.golang for 5.0), mosquitto_pub / mosquitto_sub, and "wire", a client
// that writes hand-assembled packet bytes and reads raw packets (it does
// not use internal/mqtt, so the broker's codec is not its own oracle).

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/brokercmd"
	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/testtool"
)

// peerTimeout bounds every wait of the peer tests.
const peerTimeout = 5 * time.Second

// TestMain lets this test binary act as mqbroker (MQKIT_PEER_CHILD=1):
// the peer tests run the broker as a separate process with the
// configuration file a user would write, exactly as cmd/mqbroker does.
func TestMain(m *testing.M) {
	if os.Getenv("MQKIT_PEER_CHILD") == "1" {
		os.Exit(brokercmd.Main(append([]string{"mqbroker"}, os.Args[1:]...), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// server is a broker under test.
type server struct {
	name string // "mqbroker" or "mosquitto"
	conf string // configuration with {port} and {dir} expanded
	port int
	dir  string // data directory ({dir}: persistence_location)

	opts *broker.Options // in-process mqbroker (newInProcess): its options

	mu   sync.Mutex
	stop func(kill bool) // stops the running process and waits for it
	log  func() string
}

func (s *server) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }
func (s *server) url() string  { return "tcp://" + s.addr() }

// isMosquitto is true for the reference broker.
func (s *server) isMosquitto() bool { return s.name == "mosquitto" }

// restart stops the broker (SIGTERM, or SIGKILL with kill) and starts it
// again with the same configuration, port and data directory.
func (s *server) restart(t *testing.T, kill bool) {
	t.Helper()
	s.mu.Lock()
	stop := s.stop
	s.mu.Unlock()
	stop(kill)
	s.start(t)
}

func (s *server) start(t *testing.T) {
	t.Helper()
	var stop func(bool)
	var logf func() string
	switch {
	case s.opts != nil:
		stop, logf = startInProcess(t, *s.opts, s.port)
	case s.isMosquitto():
		m := clienttest.StartMosquittoOn(t, s.conf, s.port)
		stop = func(kill bool) {
			if kill {
				syscall.Kill(m.PID, syscall.SIGKILL)
			}
			m.Stop()
		}
		logf = m.Log
	default:
		stop, logf = startMqbroker(t, s.conf, s.dir)
	}
	s.mu.Lock()
	s.stop, s.log = stop, logf
	s.mu.Unlock()
}

// newServer starts name ("mqbroker" or "mosquitto") with conf, in which
// "{port}" is a free loopback port and "{dir}" a fresh directory.
func newServer(t *testing.T, name, conf string) *server {
	t.Helper()
	s := &server{name: name, port: clienttest.FreePort(t), dir: t.TempDir()}
	conf = strings.ReplaceAll(conf, "{dir}", s.dir)
	for strings.Contains(conf, "{freeport}") { // another port of this server's own
		conf = strings.Replace(conf, "{freeport}", strconv.Itoa(clienttest.FreePort(t)), 1)
	}
	s.conf = strings.ReplaceAll(conf, "{port}", strconv.Itoa(s.port))
	s.start(t)
	t.Cleanup(func() {
		if t.Failed() {
			s.mu.Lock()
			logf := s.log
			s.mu.Unlock()
			t.Logf("%s log:\n%s", s.name, logf())
		}
	})
	return s
}

// newInProcess starts mqbroker in this process with opts (for what the
// configuration file cannot express, such as an Authorizer), listening on
// a free port: listener "tcp".
func newInProcess(t *testing.T, opts broker.Options) *server {
	t.Helper()
	s := &server{name: "mqbroker", port: clienttest.FreePort(t), dir: t.TempDir(), opts: &opts}
	s.start(t)
	return s
}

func startInProcess(t *testing.T, opts broker.Options, port int) (stop func(kill bool), log func() string) {
	t.Helper()
	opts.Listeners = []broker.ListenerConfig{{Name: "tcp", Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}}
	b, err := broker.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func(bool) {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
			defer cancel()
			if err := b.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		})
	}
	t.Cleanup(func() { stop(false) })
	return stop, func() string { return "(in process)" }
}

// eachServer runs body against mqbroker and against mosquitto, both
// started from conf. Against mosquitto the subtest skips when it is not
// installed (fails under CI=true).
func eachServer(t *testing.T, conf string, body func(t *testing.T, s *server)) {
	t.Helper()
	forEachServer(t, conf, false, body)
}

// eachServerParallel is eachServer with the two servers' runs at the
// same time (t.Parallel), for long tests that spend much of their time
// waiting (the causal-order probes: mosquitto's documented losses cost a
// second each). Its caller must be parallel or not depend on ordering
// with other tests.
func eachServerParallel(t *testing.T, conf string, body func(t *testing.T, s *server)) {
	t.Helper()
	forEachServer(t, conf, true, body)
}

func forEachServer(t *testing.T, conf string, parallel bool, body func(t *testing.T, s *server)) {
	t.Helper()
	for _, name := range []string{"mqbroker", "mosquitto"} {
		t.Run(name, func(t *testing.T) {
			if parallel {
				t.Parallel()
			}
			if name == "mosquitto" {
				testtool.Require(t, "mosquitto")
			}
			body(t, newServer(t, name, conf))
		})
	}
}

// anonConf is a plain listener that allows anonymous clients, with
// $SYS off (its messages would only be noise).
const anonConf = "listener {port} 127.0.0.1\nallow_anonymous true\nsys_interval 0\n"

// syncBuf is a bytes.Buffer safe for a process's output.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
	ch chan struct{}
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	select {
	case s.ch <- struct{}{}:
	default:
	}
	return n, err
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor blocks until the output contains sub, or d passes.
func (s *syncBuf) waitFor(sub string, d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for !strings.Contains(s.String(), sub) {
		select {
		case <-s.ch:
		case <-deadline.C:
			return strings.Contains(s.String(), sub)
		}
	}
	return true
}

// startMqbroker runs mqbroker -c conf as a child process and waits for its
// banner ("ready": every listener is open).
func startMqbroker(t *testing.T, conf, dir string) (stop func(kill bool), log func() string) {
	t.Helper()
	path := filepath.Join(dir, "mqbroker.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-c", path)
	cmd.Env = append(os.Environ(), "MQKIT_PEER_CHILD=1")
	out := &syncBuf{ch: make(chan struct{}, 1)}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	var once sync.Once
	stop = func(kill bool) {
		once.Do(func() {
			sig := syscall.SIGTERM
			if kill {
				sig = syscall.SIGKILL
			}
			cmd.Process.Signal(sig)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-exited
				t.Errorf("mqbroker did not stop within 10s of SIGTERM")
			}
		})
	}
	t.Cleanup(func() { stop(false) })
	if !out.waitFor(" ready\n", 20*time.Second) {
		stop(true)
		t.Fatalf("mqbroker did not start:\n%s\nconfiguration:\n%s", out, conf)
	}
	return stop, out.String
}

// tool runs a mosquitto client program (mosquitto_pub, mosquitto_sub)
// against s.
type toolRun struct {
	cmd  *exec.Cmd
	out  *syncBuf
	done chan struct{}
	code int
}

// startTool starts bin with "-h 127.0.0.1 -p PORT" and args; it is killed
// at the end of the test at the latest.
func startTool(t *testing.T, s *server, bin string, args ...string) *toolRun {
	t.Helper()
	path := testtool.Require(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 4*peerTimeout)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, path, append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(s.port)}, args...)...)
	r := &toolRun{cmd: cmd, out: &syncBuf{ch: make(chan struct{}, 1)}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = r.out, r.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		r.code = cmd.ProcessState.ExitCode()
		close(r.done)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); <-r.done })
	return r
}

// wait waits for the program to exit and returns its exit code and output.
func (r *toolRun) wait(t *testing.T) (int, string) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(3 * peerTimeout):
		r.cmd.Process.Kill()
		<-r.done
		t.Fatalf("%s did not exit; output:\n%s", r.cmd.Args[0], r.out)
	}
	return r.code, r.out.String()
}

// runTool runs a mosquitto client program to its end; it must exit 0.
func runTool(t *testing.T, s *server, bin string, args ...string) string {
	t.Helper()
	code, out := startTool(t, s, bin, args...).wait(t)
	if code != 0 {
		t.Fatalf("%s %s: exit %d\n%s", bin, strings.Join(args, " "), code, out)
	}
	return out
}

// within asserts that d lies in [lo, hi].
func within(t *testing.T, what string, d, lo, hi time.Duration) {
	t.Helper()
	t.Logf("%s after %v (bounds %v..%v)", what, d.Round(time.Millisecond), lo, hi)
	if d < lo || d > hi {
		t.Errorf("%s after %v, want between %v and %v", what, d.Round(time.Millisecond), lo, hi)
	}
}

func must(t *testing.T, err error, what string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(what, args...), err)
	}
}
