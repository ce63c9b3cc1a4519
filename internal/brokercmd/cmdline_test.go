package brokercmd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
	"github.com/mqkit/mqkit/internal/wsconn"
)

// startArgs runs mqbroker in process with args and returns its banner once
// printed; the broker is stopped when the test ends.
func startArgs(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb syncBuffer
	app := NewApp(&out, &errb)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.RunContext(ctx, append([]string{"mqbroker"}, args...)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("broker: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("broker did not stop")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		// The banner is one write, ending with the mqpub line.
		if s := errb.String(); strings.Contains(s, "  mqpub ") {
			return s
		}
		select {
		case err := <-done:
			done <- err // for the cleanup
			t.Fatalf("broker exited: %v\n%s", err, errb.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("no banner:\n%s", errb.String())
	return ""
}

var listeningRE = regexp.MustCompile(`listening on (\S+)`)

// bannerURLs returns the listener URLs of a banner, in order.
func bannerURLs(t *testing.T, banner string) []string {
	t.Helper()
	var urls []string
	for _, m := range listeningRE.FindAllStringSubmatch(banner, -1) {
		urls = append(urls, m[1])
	}
	return urls
}

// hostPort returns the host:port of a banner URL, with the host replaced
// by 127.0.0.1 (a listener on every interface is reached over loopback).
func hostPort(t *testing.T, u string) string {
	t.Helper()
	m := regexp.MustCompile(`^\w+://(.+):(\d+)(/.*)?$`).FindStringSubmatch(u)
	if m == nil {
		t.Fatalf("not a TCP URL: %s", u)
	}
	return "127.0.0.1:" + m[2]
}

// conn is a raw MQTT connection for tests.
type conn struct {
	t *testing.T
	c net.Conn
	r *mqtt.Reader
	v mqtt.Version
}

// dialer opens a transport to a listener.
type dialer func(t *testing.T) net.Conn

func tcpDialer(network, addr string, tc *tls.Config) dialer {
	return func(t *testing.T) net.Conn {
		t.Helper()
		d := &net.Dialer{Timeout: 5 * time.Second}
		var c net.Conn
		var err error
		if tc != nil {
			c, err = tls.DialWithDialer(d, network, addr, tc)
		} else {
			c, err = d.Dial(network, addr)
		}
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		return c
	}
}

// wsDial opens a WebSocket with subprotocol mqtt; it returns the HTTP
// status when the upgrade is refused.
func wsDial(u string, tc *tls.Config) (net.Conn, int, error) {
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}, TLSClientConfig: tc, HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(u, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, status, err
	}
	return wsconn.New(ws, nil, time.Second), 0, nil
}

func wsDialer(u string, tc *tls.Config) dialer {
	return func(t *testing.T) net.Conn {
		t.Helper()
		c, _, err := wsDial(u, tc)
		if err != nil {
			t.Fatalf("websocket %s: %v", u, err)
		}
		return c
	}
}

// login sends CONNECT (with the user name and password when user != "")
// and returns the CONNACK.
func login(t *testing.T, d dialer, v mqtt.Version, id, user, pass string) (*conn, *mqtt.Connack) {
	t.Helper()
	c := &conn{t: t, c: d(t), v: v}
	t.Cleanup(func() { c.c.Close() })
	c.c.SetDeadline(time.Now().Add(10 * time.Second))
	c.r = mqtt.NewReader(c.c, 0)
	c.r.Version = v
	cp := &mqtt.Connect{Version: v, ClientID: id, CleanStart: true, KeepAlive: 30}
	if user != "" {
		cp.HasUsername, cp.Username, cp.HasPassword, cp.Password = true, user, true, []byte(pass)
	}
	c.send(cp)
	p, err := c.r.ReadPacket()
	if err != nil {
		t.Fatalf("connack: %v", err)
	}
	ca, ok := p.(*mqtt.Connack)
	if !ok {
		t.Fatalf("want CONNACK, got %s", mqtt.Describe(p))
	}
	return c, ca
}

func mustLogin(t *testing.T, d dialer, id, user, pass string) *conn {
	t.Helper()
	c, ca := login(t, d, mqtt.V311, id, user, pass)
	if ca.Code != mqtt.Success {
		t.Fatalf("%s refused: %v", id, ca.Code)
	}
	return c
}

func (c *conn) send(p mqtt.Packet) {
	c.t.Helper()
	b, err := mqtt.Append(nil, p, c.v)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.c.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *conn) read(want mqtt.PacketType) mqtt.Packet {
	c.t.Helper()
	p, err := c.r.ReadPacket()
	if err != nil {
		c.t.Fatalf("reading %v: %v", want, err)
	}
	if p.Type() != want {
		c.t.Fatalf("want %v, got %s", want, mqtt.Describe(p))
	}
	return p
}

// relay subscribes through sub, publishes at QoS 1 through pub and checks
// the message arrives.
func relay(t *testing.T, sub, pub *conn, topic string) {
	t.Helper()
	sub.send(&mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: topic, QoS: 1}}})
	sub.read(mqtt.SUBACK)
	pub.send(&mqtt.Publish{Topic: topic, Payload: []byte("hi"), QoS: 1, PacketID: 7})
	pub.read(mqtt.PUBACK)
	m := sub.read(mqtt.PUBLISH).(*mqtt.Publish)
	if m.Topic != topic || string(m.Payload) != "hi" {
		t.Fatalf("delivery: %s", mqtt.Describe(m))
	}
}

// TestListenAllInterfaces: a --listen on 0.0.0.0 is reachable over
// 127.0.0.1, replaces the default listener, and with anonymous access the
// banner warns that the listener is open to the network.
func TestListenAllInterfaces(t *testing.T) {
	banner := startArgs(t, "--listen", "mqtt://0.0.0.0:0")
	urls := bannerURLs(t, banner)
	if len(urls) != 1 || !strings.HasPrefix(urls[0], "mqtt://0.0.0.0:") {
		t.Fatalf("listeners %v, want just mqtt://0.0.0.0:PORT:\n%s", urls, banner)
	}
	d := tcpDialer("tcp", hostPort(t, urls[0]), nil)
	relay(t, mustLogin(t, d, "sub", "", ""), mustLogin(t, d, "pub", "", ""), "a/b")
	for _, want := range []string{"auth: anonymous allowed\n",
		"WARNING: " + urls[0] + " is reachable from other machines and allows anonymous clients"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
}

// TestListenMQTTAndWebSocket: two --listen URLs (mqtt and ws with a
// path) both serve, messages cross between them, the ws listener only
// upgrades on its path, and loopback listeners draw no warning.
func TestListenMQTTAndWebSocket(t *testing.T) {
	banner := startArgs(t, "--listen", "mqtt://127.0.0.1:0", "--listen", "ws://127.0.0.1:0/ws")
	urls := bannerURLs(t, banner)
	if len(urls) != 2 || !strings.HasPrefix(urls[0], "mqtt://127.0.0.1:") ||
		!regexp.MustCompile(`^ws://127\.0\.0\.1:\d+/ws$`).MatchString(urls[1]) {
		t.Fatalf("listeners %v:\n%s", urls, banner)
	}
	if strings.Contains(banner, "WARNING") {
		t.Errorf("warning for loopback listeners:\n%s", banner)
	}
	tcp, ws := tcpDialer("tcp", hostPort(t, urls[0]), nil), wsDialer(urls[1], nil)
	relay(t, mustLogin(t, ws, "ws-sub", "", ""), mustLogin(t, tcp, "tcp-pub", "", ""), "x/1")
	relay(t, mustLogin(t, tcp, "tcp-sub", "", ""), mustLogin(t, ws, "ws-pub", "", ""), "x/2")
	other := strings.TrimSuffix(urls[1], "/ws") + "/mqtt"
	if _, status, err := wsDial(other, nil); err == nil || status != http.StatusNotFound {
		t.Errorf("upgrade on %s: status %d, err %v; want 404", other, status, err)
	}
}

// TestListenTLS: mqtts:// and wss:// listeners with --cert/--key, and
// --cafile with --require-certificate: clients with a certificate signed
// by the CA connect, clients without one do not.
func TestListenTLS(t *testing.T) {
	files := clienttest.NewTLSFiles(t)
	banner := startArgs(t, "--listen", "mqtts://127.0.0.1:0", "--listen", "wss://127.0.0.1:0",
		"--cert", files.ServerCert, "--key", files.ServerKey, "--cafile", files.CACert, "--require-certificate")
	urls := bannerURLs(t, banner)
	if len(urls) != 2 || !strings.HasPrefix(urls[0], "mqtts://127.0.0.1:") || !strings.HasPrefix(urls[1], "wss://127.0.0.1:") {
		t.Fatalf("listeners %v:\n%s", urls, banner)
	}
	if !strings.Contains(banner, "mqsub -L "+urls[0]+" ") {
		t.Errorf("banner does not suggest -L %s:\n%s", urls[0], banner)
	}
	pem, err := os.ReadFile(files.CACert)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	cert, err := tls.LoadX509KeyPair(files.ClientCert, files.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	withCert := &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}}
	tlsD, wssD := tcpDialer("tcp", hostPort(t, urls[0]), withCert), wsDialer(urls[1], withCert)
	relay(t, mustLogin(t, wssD, "wss-sub", "", ""), mustLogin(t, tlsD, "tls-pub", "", ""), "s/1")

	// Without a client certificate the handshake fails (TLS 1.3 reports
	// it on the first read).
	noCert := &tls.Config{RootCAs: roots}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", hostPort(t, urls[0]), noCert)
	if err == nil {
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		b, _ := mqtt.Append(nil, &mqtt.Connect{Version: mqtt.V311, ClientID: "x", CleanStart: true}, mqtt.V311)
		c.Write(b)
		if _, err = mqtt.NewReader(c, 0).ReadPacket(); err == nil {
			t.Fatal("a client without a certificate got a CONNACK")
		}
	}
	if _, _, err := wsDial(urls[1], noCert); err == nil {
		t.Fatal("a wss client without a certificate connected")
	}
}

// TestListenUnixSocket: --listen unix:///PATH serves MQTT on a socket.
func TestListenUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "mq.sock")
	banner := startArgs(t, "--listen", "unix://"+sock)
	if urls := bannerURLs(t, banner); len(urls) != 1 || urls[0] != "unix:"+sock {
		t.Fatalf("listeners %v:\n%s", urls, banner)
	}
	if !strings.Contains(banner, "mqsub --unix "+sock) || strings.Contains(banner, "WARNING") {
		t.Errorf("banner:\n%s", banner)
	}
	d := tcpDialer("unix", sock, nil)
	relay(t, mustLogin(t, d, "sub", "", ""), mustLogin(t, d, "pub", "", ""), "u/1")
}

// TestUserFlag: --user accounts log in with their password only, users
// switch anonymous access off, and the banner says so.
func TestUserFlag(t *testing.T) {
	banner := startArgs(t, "--listen", "mqtt://127.0.0.1:0", "--user", "alice:s3cret", "--user", "bob:a,b c:d", "--user", "dave:")
	urls := bannerURLs(t, banner)
	for _, want := range []string{"auth: anonymous not allowed; users: alice, bob, dave\n", " -u alice -t 'hello/#'"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	if strings.Contains(banner, "s3cret") {
		t.Errorf("banner shows a password:\n%s", banner)
	}
	d := tcpDialer("tcp", hostPort(t, urls[0]), nil)
	tests := []struct {
		name       string
		v          mqtt.Version
		user, pass string
		want       mqtt.ReasonCode // v5
		wantV3     byte
	}{
		{"right password", mqtt.V311, "alice", "s3cret", mqtt.Success, 0},
		{"empty password", mqtt.V311, "dave", "", mqtt.Success, 0},
		{"password with ',', ' ' and ':'", mqtt.V5, "bob", "a,b c:d", mqtt.Success, 0},
		{"wrong password v3", mqtt.V311, "alice", "wrong", 0, 5},
		{"wrong password v5", mqtt.V5, "alice", "wrong", mqtt.BadUserNameOrPassword, 0},
		{"another user's password", mqtt.V5, "alice", "a,b c:d", mqtt.BadUserNameOrPassword, 0},
		{"unknown user v3", mqtt.V311, "eve", "s3cret", 0, 5},
		{"unknown user v5", mqtt.V5, "eve", "s3cret", mqtt.BadUserNameOrPassword, 0},
		{"anonymous v3", mqtt.V311, "", "", 0, 5},
		{"anonymous v5", mqtt.V5, "", "", mqtt.NotAuthorized, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ca := login(t, d, tc.v, "c", tc.user, tc.pass)
			if tc.v == mqtt.V5 && ca.Code != tc.want {
				t.Errorf("CONNACK %v, want %v", ca.Code, tc.want)
			}
			if tc.v == mqtt.V311 && ca.ReturnCodeV3 != tc.wantV3 {
				t.Errorf("CONNACK return code %d, want %d", ca.ReturnCodeV3, tc.wantV3)
			}
		})
	}
	// An empty password is a password: it must be sent.
	for _, user := range []string{"alice", "dave"} {
		t.Run("missing password "+user, func(t *testing.T) {
			c := &conn{t: t, c: d(t), v: mqtt.V5}
			defer c.c.Close()
			c.c.SetDeadline(time.Now().Add(10 * time.Second))
			c.r = mqtt.NewReader(c.c, 0)
			c.r.Version = mqtt.V5
			c.send(&mqtt.Connect{Version: mqtt.V5, ClientID: "np", CleanStart: true, HasUsername: true, Username: user})
			if ca := c.read(mqtt.CONNACK).(*mqtt.Connack); ca.Code != mqtt.BadUserNameOrPassword {
				t.Errorf("CONNACK %v, want 0x86", ca.Code)
			}
		})
	}
}

// TestAnonymousFlag: --anonymous admits clients without a user name next
// to --user accounts (whose passwords still count), and the banner warns
// about the listener open to the network.
func TestAnonymousFlag(t *testing.T) {
	banner := startArgs(t, "--listen", "mqtt://0.0.0.0:0", "--user", "alice:s3cret", "--anonymous")
	urls := bannerURLs(t, banner)
	for _, want := range []string{"auth: anonymous allowed; users: alice\n", "WARNING: " + urls[0]} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	d := tcpDialer("tcp", hostPort(t, urls[0]), nil)
	mustLogin(t, d, "anon", "", "")
	mustLogin(t, d, "alice", "alice", "s3cret")
	if _, ca := login(t, d, mqtt.V311, "bad", "alice", "nope"); ca.ReturnCodeV3 != 5 {
		t.Errorf("wrong password: return code %d, want 5", ca.ReturnCodeV3)
	}
}

// TestPasswordFileFlag: --password-file users and --user users both log
// in; anonymous clients do not.
func TestPasswordFileFlag(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if code, _, errs := runApp(t, "passwd", "-c", "-b", pw, "alice", "from-file"); code != 0 {
		t.Fatal(errs)
	}
	banner := startArgs(t, "-p", "0", "--password-file", pw, "--user", "carol:cmd", "--user", "alice:cmd-wins")
	if !strings.Contains(banner, "auth: anonymous not allowed; users: carol, alice; password file "+pw) {
		t.Errorf("banner:\n%s", banner)
	}
	d := tcpDialer("tcp", hostPort(t, bannerURLs(t, banner)[0]), nil)
	mustLogin(t, d, "carol", "carol", "cmd")
	mustLogin(t, d, "alice", "alice", "cmd-wins") // the command line overrides the file
	for _, tc := range []struct{ user, pass string }{{"alice", "from-file"}, {"", ""}, {"carol", "x"}} {
		if _, ca := login(t, d, mqtt.V311, "x", tc.user, tc.pass); ca.ReturnCodeV3 != 5 {
			t.Errorf("%q/%q: return code %d, want 5", tc.user, tc.pass, ca.ReturnCodeV3)
		}
	}
}

// TestAnonymousRules checks which allow_anonymous each combination of
// options gives (read from --print-config, which writes it explicitly).
func TestAnonymousRules(t *testing.T) {
	dir := t.TempDir()
	withListener := writeFile(t, dir, "l.conf", "listener 0 127.0.0.1\n")
	explicit := writeFile(t, dir, "e.conf", "listener 0 127.0.0.1\nallow_anonymous true\n")
	pwOnly := writeFile(t, dir, "pw.conf", "password_file /etc/pw\n")
	anonRE := regexp.MustCompile(`(?m)^allow_anonymous (\w+)$`)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no options: local only", nil, "true"},
		{"--listen without users", []string{"--listen", "mqtt://:0"}, "true"},
		{"--user", []string{"--user", "a:b"}, "false"},
		{"--user --anonymous", []string{"--user", "a:b", "--anonymous"}, "true"},
		{"--password-file", []string{"--password-file", "/etc/pw"}, "false"},
		{"file with a listener (mosquitto 2.0)", []string{"-c", withListener}, "false"},
		{"file with a listener, --listen", []string{"-c", withListener, "--listen", "mqtt://:0"}, "false"},
		{"file with a listener, --anonymous", []string{"-c", withListener, "--anonymous"}, "true"},
		{"file's explicit value wins over --user", []string{"-c", explicit, "--user", "a:b"}, "true"},
		{"password_file in local-only mode", []string{"-c", pwOnly}, "false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runApp(t, append(tc.args, "--print-config")...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			m := anonRE.FindAllStringSubmatch(out, -1)
			if len(m) != 1 || m[0][1] != tc.want {
				t.Errorf("allow_anonymous %v, want %s:\n%s", m, tc.want, out)
			}
		})
	}
}

// TestListenerCombination: listeners come from -c, then --listen, then
// -p; -p is ignored when the file defines listeners; --listen or -p
// replace the default 127.0.0.1:1883.
func TestListenerCombination(t *testing.T) {
	dir := t.TempDir()
	conf := writeFile(t, dir, "c.conf", "listener 0 127.0.0.1\n")
	empty := writeFile(t, dir, "empty.conf", "# nothing\n")
	listenRE := regexp.MustCompile(`(?m)^listener .*$`)
	for _, tc := range []struct {
		name    string
		args    []string
		want    []string
		warning string
	}{
		{"default", nil, []string{"listener 1883 127.0.0.1"}, ""},
		{"--listen replaces the default", []string{"--listen", "mqtt://:1884"}, []string{"listener 1884"}, ""},
		{"--listen then -p", []string{"-p", "1885", "--listen", "ws://[::]:8080"},
			[]string{"listener 8080 ::", "listener 1885 127.0.0.1"}, ""},
		{"file then --listen; -p ignored", []string{"-c", conf, "-p", "1885", "--listen", "mqtt://10.0.0.1:1884"},
			[]string{"listener 0 127.0.0.1", "listener 1884 10.0.0.1"}, "-p ignored"},
		{"file without listeners keeps -p", []string{"-c", empty, "-p", "1885"}, []string{"listener 1885 127.0.0.1"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runApp(t, append(tc.args, "--print-config")...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			if got := listenRE.FindAllString(out, -1); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("listeners %q, want %q", got, tc.want)
			}
			if !strings.Contains(errs, tc.warning) || (tc.warning == "" && errs != "") {
				t.Errorf("stderr %q, want %q", errs, tc.warning)
			}
			if tc.warning != "" {
				code, _, errs := runApp(t, append(tc.args, "--test-config")...)
				if code != 0 || !strings.Contains(errs, tc.warning) {
					t.Errorf("--test-config: exit %d, stderr %q lacks %q", code, errs, tc.warning)
				}
			}
		})
	}
}

// TestCommandLineErrors: bad flag values exit 1 with one line naming the
// value, in process and as a real process.
func TestCommandLineErrors(t *testing.T) {
	files := clienttest.NewTLSFiles(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "foo://x:1"}, `--listen "foo://x:1": unsupported scheme "foo"`},
		{[]string{"--listen", "1883"}, `--listen "1883": not a URL`},
		{[]string{"--listen", "mqtt://:70000"}, `--listen "mqtt://:70000": invalid port`},
		{[]string{"--listen", "mqtt://:1883/topic"}, `--listen "mqtt://:1883/topic": mqtt:// listeners take no path`},
		{[]string{"--listen", "mqtt://u:p@:1883"}, `no user name in a listener URL`},
		{[]string{"--listen", "unix://relative/x.sock"}, `--listen "unix://relative/x.sock"`},
		{[]string{"--listen", "mqtts://:8883"}, `--listen "mqtts://:8883": TLS needs --cert FILE and --key FILE`},
		{[]string{"--listen", "mqtt://:0", "--cert", files.ServerCert, "--key", files.ServerKey}, "none was given"},
		{[]string{"--listen", "mqtts://:0", "--cert", files.ServerCert}, "--cert and --key must be given together"},
		{[]string{"--listen", "mqtts://:0", "--cert", files.ServerCert, "--key", files.ServerKey, "--require-certificate"}, "needs --cafile"},
		{[]string{"--listen", "mqtts://:0", "--cert", files.ServerCert, "--key", files.ClientKey}, "--listen mqtts://:0"},
		{[]string{"--listen", "mqtt://127.0.0.1:1883", "-p", "1883"}, "-p 1883: listener: 127.0.0.1:1883 is already configured at --listen mqtt://127.0.0.1:1883"},
		{[]string{"--user", "alice"}, "--user takes NAME:PASSWORD"},
		{[]string{"--user", "a:1", "--user", "a:2"}, `--user "a": given twice`},
		{[]string{"--user", " a:1"}, `--user " a": username must not start or end with blanks`},
		{[]string{"--password-file", "/nonexistent/pw"}, "/nonexistent/pw"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errs := runApp(t, append(tc.args, "--test-config")...)
			if code != 1 || out != "" {
				t.Fatalf("exit %d, stdout %q; want 1 and nothing", code, out)
			}
			if !strings.Contains(errs, tc.want) || strings.Count(errs, "\n") != 1 {
				t.Errorf("stderr %q: want one line with %q", errs, tc.want)
			}
		})
	}
	// The real process: no listener opens, the status is 1.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MQBROKER_CHILD=1", "MQBROKER_ARGS=--listen mqtt://:0 --listen bogus://:1")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), `"bogus://:1"`) {
		t.Errorf("process: %v, output %q; want exit 1 naming the URL", err, out)
	}
}

// TestPrintConfigRoundTrip: --print-config output passes --test-config,
// prints itself again, and a broker started from it behaves like the
// flags: anonymous access where it was allowed, and --user accounts once
// they are put in the password file the comment asks for.
func TestPrintConfigRoundTrip(t *testing.T) {
	dir := t.TempDir()
	t.Run("users", func(t *testing.T) {
		code, out, errs := runApp(t, "--listen", "mqtt://127.0.0.1:0", "--listen", "ws://127.0.0.1:0/mqtt",
			"--user", "alice:s3cret", "--data", filepath.Join(dir, "data"), "--print-config")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		for _, want := range []string{"mqbroker passwd -c passwd alice\n", "\nallow_anonymous false\n",
			"\nlistener 0 127.0.0.1\n", "\nprotocol websockets\nwebsockets_path /mqtt\n", "\npersistence true\n",
			"\nmax_queued_messages 1000\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "s3cret") {
			t.Fatalf("the password is printed:\n%s", out)
		}
		conf := writeFile(t, dir, "users.conf", out)
		if code, out, errs := runApp(t, "-c", conf, "--test-config"); code != 0 || !strings.Contains(out, "Configuration OK: 2 listener(s)") {
			t.Fatalf("--test-config: exit %d, %q %q", code, out, errs)
		}
		_, again, _ := runApp(t, "-c", conf, "--print-config")
		body := func(s string) string { return s[strings.Index(s, "\n# Security"):] }
		if body(again) != body(out) {
			t.Errorf("printing the printed file differs:\n%s\n---\n%s", out, again)
		}
		// Do what the comment says, then run it.
		pw := filepath.Join(dir, "passwd")
		if code, _, errs := runApp(t, "passwd", "-c", "-b", pw, "alice", "s3cret"); code != 0 {
			t.Fatal(errs)
		}
		withPw := writeFile(t, dir, "users-pw.conf", out+"password_file "+pw+"\n")
		banner := startArgs(t, "-c", withPw)
		urls := bannerURLs(t, banner)
		if len(urls) != 2 {
			t.Fatalf("listeners %v", urls)
		}
		d := wsDialer(urls[1], nil)
		mustLogin(t, d, "alice", "alice", "s3cret")
		if _, ca := login(t, d, mqtt.V311, "anon", "", ""); ca.ReturnCodeV3 != 5 {
			t.Errorf("anonymous: return code %d, want 5", ca.ReturnCodeV3)
		}
	})
	t.Run("anonymous", func(t *testing.T) {
		// A file with a listener refuses anonymous clients unless it says
		// allow_anonymous true, which --print-config must write.
		code, out, errs := runApp(t, "--listen", "mqtt://127.0.0.1:0", "-v", "--print-config")
		if code != 0 || !strings.Contains(out, "\nallow_anonymous true\n") || !strings.Contains(out, "\nlog_type all\n") {
			t.Fatalf("exit %d, %s\n%s", code, errs, out)
		}
		conf := writeFile(t, dir, "anon.conf", out)
		banner := startArgs(t, "-c", conf)
		d := tcpDialer("tcp", hostPort(t, bannerURLs(t, banner)[0]), nil)
		mustLogin(t, d, "anon", "", "")
	})
}

// TestHelpMentionsListenAndUser: the help shows the new flags and warns
// that command-line passwords are visible.
func TestHelpMentionsListenAndUser(t *testing.T) {
	_, out, _ := runApp(t, "--help")
	for _, want := range []string{"--listen URL", "--user NAME:PASSWORD", "--password-file FILE", "--anonymous",
		"--print-config", "--cert FILE", "--require-certificate", "ps", "LISTENERS AND USERS"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

// TestBannerPerListenerSettings: with per_listener_settings each listener
// line says who may log in there, and --user accounts apply to every
// listener.
func TestBannerPerListenerSettings(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if code, _, errs := runApp(t, "passwd", "-c", "-b", pw, "alice", "a"); code != 0 {
		t.Fatal(errs)
	}
	conf := writeFile(t, dir, "pl.conf", "per_listener_settings true\nlistener 0 127.0.0.1\nallow_anonymous true\n"+
		"listener 0 127.0.0.1\npassword_file "+pw+"\n")
	banner := startArgs(t, "-c", conf, "--user", "carol:c")
	for _, re := range []string{`listening on mqtt://127\.0\.0\.1:\d+ +\(anonymous allowed; users: carol\)\n`,
		`listening on mqtt://127\.0\.0\.1:\d+ +\(anonymous not allowed; users: carol; password file ` + regexp.QuoteMeta(pw) + `\)\n`} {
		if !regexp.MustCompile(re).MatchString(banner) {
			t.Errorf("banner does not match %s:\n%s", re, banner)
		}
	}
	if strings.Contains(banner, "auth:") {
		t.Errorf("one auth line for differing listeners:\n%s", banner)
	}
	urls := bannerURLs(t, banner)
	open, closed := tcpDialer("tcp", hostPort(t, urls[0]), nil), tcpDialer("tcp", hostPort(t, urls[1]), nil)
	mustLogin(t, open, "anon", "", "")
	mustLogin(t, closed, "carol", "carol", "c")
	mustLogin(t, closed, "alice", "alice", "a")
	if _, ca := login(t, closed, mqtt.V311, "anon2", "", ""); ca.ReturnCodeV3 != 5 {
		t.Errorf("anonymous on the closed listener: return code %d, want 5", ca.ReturnCodeV3)
	}
}

// TestParseListenURL: the listener each accepted URL form gives.
func TestParseListenURL(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		url             string
		bind            string
		port            int
		ws              bool
		path, unix      string
		tls             bool
		wantURLInBanner string
	}{
		{"mqtt://0.0.0.0:1883", "0.0.0.0", 1883, false, "", "", false, "mqtt://0.0.0.0:1883"},
		{"mqtt://:1884", "", 1884, false, "", "", false, "mqtt://0.0.0.0:1884"},
		{"MQTT://127.0.0.1", "127.0.0.1", 1883, false, "", "", false, "mqtt://127.0.0.1:1883"},
		{"mqtts://[::]", "::", 8883, false, "", "", true, "mqtt://[::]:8883"},
		{"ws://:8080", "", 8080, true, "", "", false, "ws://0.0.0.0:8080/mqtt"},
		{"ws://:8080/", "", 8080, true, "", "", false, "ws://0.0.0.0:8080/mqtt"},
		{"wss://localhost/mq/tt", "localhost", 443, true, "/mq/tt", "", true, "ws://localhost:443/mq/tt"},
		{"unix:///run/mq.sock", "", 0, false, "", "/run/mq.sock", false, "unix:/run/mq.sock"},
		{"unix:/run/mq.sock", "", 0, false, "", "/run/mq.sock", false, "unix:/run/mq.sock"},
		{"unix:mq.sock", "", 0, false, "", filepath.Join(wd, "mq.sock"), false, "unix:" + filepath.Join(wd, "mq.sock")},
	} {
		l, useTLS, err := parseListenURL(tc.url)
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		if l.Bind != tc.bind || l.Port != tc.port || (l.Protocol == "websockets") != tc.ws ||
			l.WebsocketsPath != tc.path || l.Unix != tc.unix || useTLS != tc.tls {
			t.Errorf("%s: %+v (tls %v)", tc.url, l, useTLS)
		}
		// Certificates are set by listenFlags, so URL shows plain schemes here.
		if got := l.URL(); got != tc.wantURLInBanner {
			t.Errorf("%s: URL %s, want %s", tc.url, got, tc.wantURLInBanner)
		}
	}
}
