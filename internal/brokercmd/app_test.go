package brokercmd

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"log/slog"

	"github.com/mqkit/mqkit/internal/auth"
	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/config"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// syncBuffer is a bytes.Buffer safe for the broker's log writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func runApp(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb syncBuffer
	code = Main(append([]string{"mqbroker"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTestConfig(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.conf", "listener 0 127.0.0.1\nallow_anonymous true\nmax_qos 1\n")
	bad := writeFile(t, dir, "bad.conf", "listener 0 127.0.0.1\n\nmax_qos 7\n")
	unknown := writeFile(t, dir, "unknown.conf", "# bridge\nconnection b1\n")
	missingPw := writeFile(t, dir, "pw.conf", "listener 0 127.0.0.1\npassword_file "+filepath.Join(dir, "nope")+"\n")
	tests := []struct {
		name    string
		args    []string
		code    int
		wantOut string
		wantErr string
	}{
		{"defaults", []string{"--test-config"}, 0, "Configuration OK: 1 listener(s)", ""},
		{"good file", []string{"--test-config", "-c", good}, 0, "Configuration OK", ""},
		{"bad value names the line", []string{"--test-config", "-c", bad}, 1, "", "bad.conf:3: max_qos"},
		{"unsupported option", []string{"--test-config", "-c", unknown}, 1, "", "unknown.conf:2: connection"},
		{"missing password file", []string{"--test-config", "-c", missingPw}, 1, "", "nope"},
		{"missing config", []string{"--test-config", "-c", filepath.Join(dir, "none.conf")}, 1, "", "none.conf"},
		{"daemon refused", []string{"-d"}, 1, "", "not supported"},
		{"stray argument", []string{"oops"}, 1, "", "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runApp(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, errs)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("stdout %q lacks %q", out, tc.wantOut)
			}
			if !strings.Contains(errs, tc.wantErr) {
				t.Errorf("stderr %q lacks %q", errs, tc.wantErr)
			}
		})
	}
}

func TestVersionAndHelp(t *testing.T) {
	code, out, _ := runApp(t, "--version")
	if code != 0 || !strings.Contains(out, "mqbroker version") {
		t.Fatalf("--version: exit %d, %q", code, out)
	}
	code, out, _ = runApp(t, "--help")
	for _, want := range []string{"--config-file", "--port", "--verbose", "EXAMPLES", "SIGHUP", "passwd"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("--help lacks %q (exit %d)", want, code)
		}
	}
}

func TestPasswdSubcommand(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if code, _, errs := runApp(t, "passwd", "-c", "-b", pw, "alice", "secret"); code != 0 {
		t.Fatalf("create: exit %d: %s", code, errs)
	}
	if code, _, errs := runApp(t, "passwd", "-b", pw, "bob", "hunter2"); code != 0 {
		t.Fatalf("add: exit %d: %s", code, errs)
	}
	f, err := auth.LoadPasswordFile(pw)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Check("alice", []byte("secret")) || !f.Check("bob", []byte("hunter2")) || f.Check("alice", []byte("wrong")) {
		t.Fatal("password file does not verify as written")
	}
	text, _ := os.ReadFile(pw)
	if !regexp.MustCompile(`(?m)^alice:\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$`).Match(text) {
		t.Fatalf("not a mosquitto $7$ line: %s", text)
	}
	if code, _, _ := runApp(t, "passwd", "-D", pw, "bob"); code != 0 {
		t.Fatal("delete failed")
	}
	if f, _ = auth.LoadPasswordFile(pw); f.Has("bob") || !f.Has("alice") {
		t.Fatal("delete removed the wrong user")
	}
	// -U hashes plain lines and leaves hashed ones alone.
	before, _ := os.ReadFile(pw)
	if err := os.WriteFile(pw, append(before, []byte("carol:plain\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runApp(t, "passwd", "-U", pw); code != 0 {
		t.Fatalf("-U: %s", errs)
	}
	after, _ := os.ReadFile(pw)
	if !bytes.HasPrefix(after, before) {
		t.Fatalf("-U re-hashed an already hashed line:\n%s\n---\n%s", before, after)
	}
	if f, _ = auth.LoadPasswordFile(pw); !f.Check("carol", []byte("plain")) {
		t.Fatal("-U did not hash carol")
	}
	for _, args := range [][]string{{"passwd", "-b", pw, "x"}, {"passwd", "-H", "sha512", "-b", pw, "x", "y"}, {"passwd", "-U"}} {
		if code, _, _ := runApp(t, args...); code != 1 {
			t.Errorf("%v: exit %d, want 1", args, code)
		}
	}
}

// TestPasswdAcceptedByMosquitto checks the real mosquitto broker accepts a
// file written by `mqbroker passwd`.
func TestPasswdAcceptedByMosquitto(t *testing.T) {
	clienttest.RequireBinary(t, "mosquitto_pub")
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if code, _, errs := runApp(t, "passwd", "-c", "-b", pw, "alice", "secret"); code != 0 {
		t.Fatal(errs)
	}
	m := clienttest.StartMosquitto(t, "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file "+pw+"\n")
	pub := func(pass string) int {
		c := exec.Command("mosquitto_pub", "-p", strconv.Itoa(m.Port), "-u", "alice", "-P", pass, "-t", "t", "-m", "x")
		err := c.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	}
	if code := pub("secret"); code != 0 {
		t.Errorf("right password: exit %d", code)
	}
	if code := pub("wrong"); code != 5 {
		t.Errorf("wrong password: exit %d, want 5", code)
	}
}

// TestRunServesAndShutsDown runs the real command in process on a free
// port, checks the banner, does a QoS 1 round trip, and cancels; the CPU
// profile asked for with --cpuprofile is written when it stops.
func TestRunServesAndShutsDown(t *testing.T) {
	var out, errb syncBuffer
	app := NewApp(&out, &errb)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	go func() { done <- app.RunContext(ctx, []string{"mqbroker", "-p", "0", "--cpuprofile", prof}) }()
	re := regexp.MustCompile(`listening on mqtt://127\.0\.0\.1:(\d+)`)
	var port string
	deadline := time.Now().Add(10 * time.Second)
	for port == "" && time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(errb.String()); m != nil {
			port = m[1]
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if port == "" {
		t.Fatalf("no banner: %s", errb.String())
	}
	for _, want := range []string{"mqsub -h 127.0.0.1 -p " + port, "mqpub -h 127.0.0.1 -p " + port} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, errb.String())
		}
	}
	roundTrip(t, "127.0.0.1:"+port)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("broker did not stop")
	}
	// A pprof profile is a gzipped protocol buffer.
	f, err := os.Open(prof)
	if err != nil {
		t.Fatalf("--cpuprofile: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("--cpuprofile: not a gzipped profile: %v", err)
	}
	if n, err := io.Copy(io.Discard, zr); err != nil || n == 0 {
		t.Fatalf("--cpuprofile: %d bytes, %v", n, err)
	}
}

// TestRunUnixSocketListener: "listener 0 PATH" serves MQTT on a unix
// socket, the banner says how to reach it, and the socket file goes away
// with the broker.
func TestRunUnixSocketListener(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "mq.sock")
	conf := writeFile(t, dir, "unix.conf", "listener 0 "+sock+"\nallow_anonymous true\n")
	var out, errb syncBuffer
	app := NewApp(&out, &errb)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.RunContext(ctx, []string{"mqbroker", "-c", conf}) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(errb.String(), "mqsub --unix "+sock) {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no banner with --unix %s:\n%s", sock, errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	roundTrip(t, sock)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("broker did not stop")
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket file left behind: %v", err)
	}
}

// roundTrip subscribes and publishes at QoS 1 with raw packets (addr is
// host:port, or the path of a unix socket).
func roundTrip(t *testing.T, addr string) {
	t.Helper()
	dial := func(id string) (net.Conn, *mqtt.Reader) {
		network := "tcp"
		if strings.HasPrefix(addr, "/") {
			network = "unix"
		}
		c, err := net.DialTimeout(network, addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		r := mqtt.NewReader(c, 0)
		send(t, c, &mqtt.Connect{Version: mqtt.V311, ClientID: id, CleanStart: true, KeepAlive: 30})
		if p, err := r.ReadPacket(); err != nil || p.(*mqtt.Connack).Code != mqtt.Success {
			t.Fatalf("connack: %v %v", p, err)
		}
		return c, r
	}
	sc, sr := dial("sub")
	send(t, sc, &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "t/#", QoS: 1}}})
	if p, err := sr.ReadPacket(); err != nil || p.Type() != mqtt.SUBACK {
		t.Fatalf("suback: %v %v", p, err)
	}
	pc, pr := dial("pub")
	send(t, pc, &mqtt.Publish{Topic: "t/x", Payload: []byte("hi"), QoS: 1, PacketID: 9})
	if p, err := pr.ReadPacket(); err != nil || p.Type() != mqtt.PUBACK {
		t.Fatalf("puback: %v %v", p, err)
	}
	p, err := sr.ReadPacket()
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := p.(*mqtt.Publish); !ok || m.Topic != "t/x" || string(m.Payload) != "hi" || m.QoS != 1 {
		t.Fatalf("delivery: %s", mqtt.Describe(p))
	}
}

func send(t *testing.T, c net.Conn, p mqtt.Packet) {
	t.Helper()
	b, err := mqtt.Append(nil, p, mqtt.V311)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
}

func waitPort(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never accepted connections", addr)
}

func TestGuardCodes(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if code, _, errs := runApp(t, "passwd", "-c", "-b", pw, "alice", "secret"); code != 0 {
		t.Fatal(errs)
	}
	conf := writeFile(t, dir, "c.conf", "listener 0 127.0.0.1\nallow_anonymous false\npassword_file "+pw+"\n")
	cfg, err := config.LoadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	p, err := buildPlan(cfg, nil, slog.New(slog.DiscardHandler), false)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		ci     broker.ClientInfo
		pw     string
		want   mqtt.ReasonCode
		wantV3 byte
	}{
		{"right password v3", broker.ClientInfo{Username: "alice", HasUsername: true, HasPassword: true, Version: mqtt.V311}, "secret", mqtt.Success, 0},
		{"wrong password v3 is 5 like mosquitto", broker.ClientInfo{Username: "alice", HasUsername: true, HasPassword: true, Version: mqtt.V311}, "x", mqtt.NotAuthorized, 5},
		{"wrong password v5", broker.ClientInfo{Username: "alice", HasUsername: true, HasPassword: true, Version: mqtt.V5}, "x", mqtt.BadUserNameOrPassword, 4},
		{"anonymous refused", broker.ClientInfo{Version: mqtt.V311}, "", mqtt.NotAuthorized, 5},
		{"unknown user", broker.ClientInfo{Username: "eve", HasUsername: true, HasPassword: true, Version: mqtt.V5}, "secret", mqtt.BadUserNameOrPassword, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ci := tc.ci
			ci.SetListener(p.names[0], "")
			var pw []byte
			if ci.HasPassword {
				pw = []byte(tc.pw)
			}
			got := p.guard.Authenticate(&ci, pw)
			if got != tc.want || mqtt.ConnackCodeV3(got) != tc.wantV3 {
				t.Fatalf("got %v (v3 %d), want %v (v3 %d)", got, mqtt.ConnackCodeV3(got), tc.want, tc.wantV3)
			}
		})
	}
}

// TestReadPasswordFromStdin: when stdin is not a terminal the password is
// one line of it (so `echo pw | mqbroker passwd FILE USER` works).
func TestReadPasswordFromStdin(t *testing.T) {
	for _, tc := range []struct{ in, want string }{{"s3cret\n", "s3cret"}, {"no-newline", "no-newline"}, {"crlf\r\n", "crlf"}} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		w.WriteString(tc.in)
		w.Close()
		got, err := readPassword(r, io.Discard)
		r.Close()
		if err != nil || string(got) != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	r, w, _ := os.Pipe()
	w.Close()
	if _, err := readPassword(r, io.Discard); err == nil {
		t.Error("empty stdin: no error")
	}
}
