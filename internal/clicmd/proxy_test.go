package clicmd

import (
	"crypto/tls"
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client/clienttest"
)

// brokerName is a host name only the test proxy knows: reaching it shows
// the proxy, not mqpub/mqsub, resolved it (socks5h).
const brokerName = "broker.invalid"

// mqpub and mqsub reach the broker through a SOCKS5 proxy, without and
// with user name/password authentication; the proxy is asked for the
// broker by name.
func TestProxy(t *testing.T) {
	b := clienttest.StartBroker(t, broker.Options{})
	tg := splitAddr(t, b.Addr("tcp").String())
	for _, auth := range []bool{false, true} {
		t.Run("auth="+strconv.FormatBool(auth), func(t *testing.T) {
			s := &socksServer{hosts: map[string]string{brokerName: tg.host}}
			user, pass := "", ""
			if auth {
				s.user, s.pass = "al:ice", "s3cret@"
				user, pass = s.user, s.pass
			}
			startSOCKS(t, s)
			args := []string{"-h", brokerName, "-p", tg.port, "--proxy", s.url(user, pass)}
			wait := bgSub(t, append(args, "-t", "px/a", "-C", "1", "-v")...)
			mustPub(t, append(args, "-t", "px/a", "-m", "via the proxy", "-q", "1")...)
			if r := wait(); r.code != 0 || messages(r.stdout) != "px/a via the proxy\n" {
				t.Errorf("exit %d output %q stderr %s", r.code, messages(r.stdout), r.stderr)
			}
			dest := net.JoinHostPort(brokerName, tg.port)
			if got, _ := s.seen(); !reflect.DeepEqual(got, []string{dest, dest}) {
				t.Errorf("proxy was asked for %q, want %s twice", got, dest)
			}
		})
	}
}

// Proxy failures are one-line errors naming the proxy and what went
// wrong, exit status 1, for mqpub and mqsub alike.
func TestProxyErrors(t *testing.T) {
	b := clienttest.StartBroker(t, broker.Options{})
	tg := splitAddr(t, b.Addr("tcp").String())
	hosts := map[string]string{brokerName: tg.host}
	withAuth := startSOCKS(t, &socksServer{hosts: hosts, user: "alice", pass: "secret"})
	refusing := startSOCKS(t, &socksServer{hosts: hosts, reply: 2})
	plain := startSOCKS(t, &socksServer{hosts: hosts})
	down := "socks5h://127.0.0.1:" + strconv.Itoa(clienttest.FreePort(t))
	dest := net.JoinHostPort(brokerName, tg.port)
	tests := []struct {
		name, tool, host, proxy, want string
		hint                          string // the Hint line, "" for none
	}{
		{"wrong password", "mqpub", brokerName, withAuth.url("alice", "nope"),
			"SOCKS5 proxy " + withAuth.ln.Addr().String() + `: rejected the user name or password for "alice"`, ""},
		{"wrong password mqsub", "mqsub", brokerName, withAuth.url("alice", "nope"), "rejected the user name or password", ""},
		{"no credentials", "mqpub", brokerName, withAuth.url("", ""),
			"requires authentication: give it in --proxy socks5h://user:password@host[:port]", ""},
		{"refused by ruleset", "mqpub", brokerName, refusing.url("", ""),
			"could not connect to " + dest + ": connection not allowed by ruleset (SOCKS5 reply 2)",
			"Hint: the proxy could not reach the broker: check -h/-p as seen from " + refusing.ln.Addr().String()},
		{"unknown host at the proxy", "mqsub", "nowhere.invalid", plain.url("", ""), "host unreachable (SOCKS5 reply 4)",
			"Hint: the proxy could not reach the broker"},
		{"proxy down", "mqpub", brokerName, down, "SOCKS5 proxy 127.0.0.1:" + down[len("socks5h://127.0.0.1:"):] + ": connect: connection refused",
			"Hint: is a SOCKS5 proxy running at 127.0.0.1:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"-h", tc.host, "-p", tg.port, "--proxy", tc.proxy, "-t", "px/e"}
			if tc.tool == "mqpub" {
				args = append(args, "-m", "x")
			}
			r := (&tool{name: tc.tool}).run(testCtx(t), args...)
			wantPrefix := "Error: cannot connect to " + net.JoinHostPort(tc.host, tg.port) + ": "
			if r.code != 1 || !strings.HasPrefix(r.stderr, wantPrefix) || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d stderr %q; want 1 and %q...%q", r.code, r.stderr, wantPrefix, tc.want)
			}
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			switch {
			case tc.hint == "" && len(lines) != 1:
				t.Errorf("stderr has %d lines, want 1: %q", len(lines), r.stderr)
			case tc.hint != "" && (len(lines) != 2 || !strings.HasPrefix(lines[1], tc.hint)):
				t.Errorf("stderr %q; want a second line starting %q", r.stderr, tc.hint)
			}
		})
	}
}

// TLS (certificate checked against -h) and WebSocket run on top of the
// proxied connection.
func TestProxyTLSAndWebSocket(t *testing.T) {
	certs := clienttest.NewTLSFiles(t)
	pair, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	b := clienttest.StartBroker(t, broker.Options{Listeners: []broker.ListenerConfig{
		{Name: "tls", Addr: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{pair}}},
		{Name: "ws", Addr: "127.0.0.1:0", WebSocket: true, WSPath: "/mqtt"},
		{Name: "wss", Addr: "127.0.0.1:0", WebSocket: true, WSPath: "/mqtt", TLS: &tls.Config{Certificates: []tls.Certificate{pair}}},
	}})
	s := startSOCKS(t, &socksServer{hosts: map[string]string{"localhost": "127.0.0.1"}})
	port := func(l string) string { return strconv.Itoa(b.Addr(l).(*net.TCPAddr).Port) }
	for name, args := range map[string][]string{
		"tls": {"-p", port("tls"), "--cafile", certs.CACert},
		"ws":  {"-p", port("ws"), "--ws"},
		"wss": {"-p", port("wss"), "--ws", "--cafile", certs.CACert},
	} {
		t.Run(name, func(t *testing.T) {
			args = append(args, "-h", "localhost", "--proxy", s.url("", ""), "--nodelay")
			wait := bgSub(t, append(args, "-t", "px/t", "-C", "1", "-v")...)
			mustPub(t, append(args, "-t", "px/t", "-m", name, "-q", "1")...)
			if r := wait(); r.code != 0 || messages(r.stdout) != "px/t "+name+"\n" {
				t.Errorf("exit %d output %q stderr %s", r.code, messages(r.stdout), r.stderr)
			}
			got, _ := s.seen()
			if last := got[len(got)-1]; last != "localhost:"+args[1] {
				t.Errorf("proxy was asked for %s, want localhost:%s", last, args[1])
			}
		})
	}
}

// mqsub reconnects through the proxy after the connection is lost.
func TestSubReconnectsThroughProxy(t *testing.T) {
	withReconnectDelay(t, 20*time.Millisecond)
	b := clienttest.StartBroker(t, broker.Options{})
	tg := splitAddr(t, b.Addr("tcp").String())
	s := startSOCKS(t, &socksServer{hosts: map[string]string{brokerName: tg.host}})
	tl := &tool{name: "mqsub"}
	subscribed := tl.out.when("Subscribed (mid:")
	done := make(chan result, 1)
	go func() {
		done <- tl.run(testCtx(t), "-d", "-h", brokerName, "-p", tg.port, "--proxy", s.url("", ""),
			"-t", "px/re", "-C", "2", "-W", "15")
	}()
	waitFor(t, subscribed, done, tl, "first SUBACK")
	got := tl.out.when("one")
	mustPub(t, tg.args("-t", "px/re", "-m", "one")...)
	waitFor(t, got, done, tl, "first message")

	lost := tl.errb.when("reconnecting")
	s.dropAll()
	waitFor(t, lost, done, tl, "the warning")
	// Retained, so it arrives whether or not mqsub has subscribed again yet.
	mustPub(t, tg.args("-t", "px/re", "-m", "two", "-r")...)
	var r result
	select {
	case r = <-done:
	case <-time.After(15 * time.Second):
		t.Fatalf("mqsub did not finish:\n%s\n%s", tl.out.String(), tl.errb.String())
	}
	if r.code != 0 || messages(r.stdout) != "one\ntwo\n" {
		t.Fatalf("exit %d, messages %q, want 0 and one, two\nstderr: %s", r.code, messages(r.stdout), r.stderr)
	}
	if reqs, _ := s.seen(); len(reqs) < 2 {
		t.Errorf("proxy saw %d CONNECT requests, want at least 2 (the reconnection went through it)", len(reqs))
	}
}
