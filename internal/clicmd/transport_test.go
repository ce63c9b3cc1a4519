package clicmd

import (
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// remoteLog records the address each client connected from, per listener.
type remoteLog struct {
	mu    sync.Mutex
	addrs []string // "listener remote-host"
}

func (l *remoteLog) Authenticate(ci *broker.ClientInfo, _ []byte) mqtt.ReasonCode {
	host, _, _ := net.SplitHostPort(ci.RemoteAddr())
	l.mu.Lock()
	defer l.mu.Unlock()
	l.addrs = append(l.addrs, ci.Listener()+" "+host)
	return mqtt.Success
}

func (l *remoteLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.addrs) == 0 {
		return ""
	}
	return l.addrs[len(l.addrs)-1]
}

// canBind reports whether this machine can use ip as a source address.
func canBind(ip string) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err == nil {
		ln.Close()
	}
	return err == nil
}

// loopbackInterface is the name of the interface holding 127.0.0.1.
func loopbackInterface(t *testing.T) string {
	t.Helper()
	ifs, _ := net.Interfaces()
	for _, ifi := range ifs {
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(net.IPv4(127, 0, 0, 1)) {
				return ifi.Name
			}
		}
	}
	t.Skip("no interface holds 127.0.0.1")
	return ""
}

// -A binds the connection to the broker (or to the proxy) to a local
// address, given as an IP address or an interface name.
func TestBindAddress(t *testing.T) {
	if !canBind("127.0.0.2") {
		t.Skip("127.0.0.2 is not a local address here")
	}
	log := &remoteLog{}
	b := clienttest.StartBroker(t, broker.Options{
		Listeners: []broker.ListenerConfig{
			{Name: "tcp", Addr: "127.0.0.1:0"},
			{Name: "ws", Addr: "127.0.0.1:0", WebSocket: true, WSPath: "/mqtt"},
		},
		Authenticator: log,
	})
	tg := splitAddr(t, b.Addr("tcp").String())
	wsPort := strconv.Itoa(b.Addr("ws").(*net.TCPAddr).Port)
	proxy := startSOCKS(t, &socksServer{})
	tests := []struct {
		name, tool string
		args       []string
		want       string // listener and source address the broker saw
	}{
		{"mqpub IP", "mqpub", tg.args("-A", "127.0.0.2"), "tcp 127.0.0.2"},
		{"mqsub IP", "mqsub", tg.args("-A", "127.0.0.2"), "tcp 127.0.0.2"},
		{"websocket", "mqpub", []string{"-h", "127.0.0.1", "-p", wsPort, "--ws", "-A", "127.0.0.2"}, "ws 127.0.0.2"},
		{"interface name", "mqpub", tg.args("-A", loopbackInterface(t)), "tcp 127.0.0.1"},
		{"through the proxy", "mqpub", tg.args("--proxy", proxy.url("", ""), "-A", "127.0.0.2"), "tcp 127.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append(tc.args, "-t", "bind/a")
			if tc.tool == "mqpub" {
				args = append(args, "-m", "x", "-q", "1")
			} else {
				args = append(args, "-E")
			}
			r := (&tool{name: tc.tool}).run(testCtx(t), args...)
			if r.code != 0 {
				t.Fatalf("exit %d stderr %s", r.code, r.stderr)
			}
			if got := log.last(); got != tc.want {
				t.Errorf("broker saw %q, want %q", got, tc.want)
			}
		})
	}
	// Through the proxy, -A binds the connection to the proxy.
	if _, src := proxy.seen(); len(src) != 1 || !strings.HasPrefix(src[0], "127.0.0.2:") {
		t.Errorf("proxy saw connections from %q, want 127.0.0.2", src)
	}
}

// An address -A cannot bind gives one clear line and exit status 1.
func TestBindAddressErrors(t *testing.T) {
	b := clienttest.StartBroker(t, broker.Options{})
	tg := splitAddr(t, b.Addr("tcp").String())
	addrs, _ := net.InterfaceAddrs()
	nonLocal := "203.0.113.77" // RFC 5737 documentation address
	for _, a := range addrs {
		if strings.HasPrefix(a.String(), nonLocal+"/") {
			t.Skip(nonLocal + " is local here")
		}
	}
	tests := []struct{ name, tool, addr, want string }{
		{"not local", "mqpub", nonLocal, "cannot bind to local address " + nonLocal + " (-A): cannot assign requested address"},
		{"not local mqsub", "mqsub", nonLocal, "cannot bind to local address " + nonLocal + " (-A)"},
		{"wrong family", "mqpub", "::1", `local address "::1" (-A) has no IPv4 address to reach 127.0.0.1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := tg.args("-A", tc.addr, "-t", "bind/e")
			if tc.tool == "mqpub" {
				args = append(args, "-m", "x")
			}
			r := (&tool{name: tc.tool}).run(testCtx(t), args...)
			want := "Error: cannot connect to " + net.JoinHostPort(tg.host, tg.port) + ": " + tc.want
			if r.code != 1 || !strings.HasPrefix(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("exit %d stderr %q; want 1 and the single line %q", r.code, r.stderr, want)
			}
		})
	}
}

// --ws speaks MQTT over WebSocket to -h/-p (wss with TLS options), also
// with an mqtt:// URL, whose topic it keeps; --nodelay works on every
// transport.
func TestWSFlagAndNoDelay(t *testing.T) {
	certs := clienttest.NewTLSFiles(t)
	pair, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	srvTLS := &tls.Config{Certificates: []tls.Certificate{pair}}
	b := clienttest.StartBroker(t, broker.Options{Listeners: []broker.ListenerConfig{
		{Name: "tcp", Addr: "127.0.0.1:0"},
		{Name: "tls", Addr: "127.0.0.1:0", TLS: srvTLS},
		{Name: "ws", Addr: "127.0.0.1:0", WebSocket: true, WSPath: "/mqtt"},
		{Name: "wss", Addr: "127.0.0.1:0", WebSocket: true, WSPath: "/mqtt", TLS: srvTLS},
	}})
	addr := func(l string) string { return b.Addr(l).String() }
	port := func(l string) string { return strconv.Itoa(b.Addr(l).(*net.TCPAddr).Port) }
	tests := []struct {
		name     string
		pub, sub []string
	}{
		{"ws", []string{"-h", "127.0.0.1", "-p", port("ws"), "--ws", "-t", "ws/f"}, nil},
		{"wss", []string{"-h", "localhost", "-p", port("wss"), "--ws", "--cafile", certs.CACert, "-t", "ws/f"}, nil},
		{"ws from mqtt URL", []string{"-L", "mqtt://" + addr("ws") + "/ws/f", "--ws"},
			[]string{"-L", "mqtt://" + addr("ws") + "/ws/f", "--ws"}},
		{"nodelay tcp", []string{"-h", "127.0.0.1", "-p", port("tcp"), "--nodelay", "-t", "ws/f"}, nil},
		{"nodelay tls", []string{"-h", "localhost", "-p", port("tls"), "--cafile", certs.CACert, "--nodelay", "-t", "ws/f"}, nil},
		{"nodelay ws", []string{"-h", "127.0.0.1", "-p", port("ws"), "--ws", "--nodelay", "-t", "ws/f"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sub := tc.sub
			if sub == nil {
				sub = tc.pub
			}
			wait := bgSub(t, append(sub, "-C", "1", "-v", "-q", "1")...)
			mustPub(t, append(tc.pub, "-m", tc.name, "-q", "1")...)
			if r := wait(); r.code != 0 || messages(r.stdout) != "ws/f "+tc.name+"\n" {
				t.Errorf("exit %d output %q stderr %s", r.code, messages(r.stdout), r.stderr)
			}
		})
	}
	// --ws to a plain MQTT port fails: it really speaks WebSocket.
	if r := pub(t, "-h", "127.0.0.1", "-p", port("tcp"), "--ws", "-t", "ws/f", "-m", "x"); r.code != 1 ||
		!strings.Contains(r.stderr, "Error: cannot connect to ws://"+addr("tcp")+"/mqtt") {
		t.Errorf("--ws to an MQTT port: exit %d stderr %q", r.code, r.stderr)
	}
}

func TestTransportArgumentErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"proxy socks5", []string{"--proxy", "socks5://p"}, `Error: --proxy: unsupported proxy protocol in "socks5://p": use socks5h://`},
		{"proxy http", []string{"--proxy", "http://p:3128"}, "unsupported proxy protocol"},
		{"proxy port", []string{"--proxy", "socks5h://p:0"}, `Error: --proxy: invalid proxy port "0".`},
		{"proxy host", []string{"--proxy", "socks5h://"}, "no proxy host"},
		{"empty -A", []string{"-A", ""}, "Error: -A argument given but no address specified."},
		{"alpn without TLS", []string{"--tls-alpn", "mqtt"}, "Error: --tls-alpn needs TLS: add --cafile, --capath or --tls-use-os-certs"},
		{"keylog without TLS", []string{"--tls-keylog", "k.log"}, "Error: --tls-keylog needs TLS"},
		{"empty alpn", []string{"--tls-use-os-certs", "--tls-alpn", "mqtt,"}, `invalid ALPN protocol ""`},
		{"keylog unwritable", []string{"--tls-use-os-certs", "--tls-keylog", "/nonexistent/dir/k.log"}, "Error: Problem setting TLS options: tls-keylog: open /nonexistent/dir/k.log"},
		{"ws with unix", []string{"--unix", "/tmp/s", "--ws"}, "Error: --ws cannot be used with --unix."},
		{"proxy with unix", []string{"--unix", "/tmp/s", "--proxy", "socks5h://p"}, "Error: --proxy cannot be used with --unix."},
		{"-A with unix", []string{"--unix", "/tmp/s", "-A", "127.0.0.1"}, "Error: -A cannot be used with --unix."},
		{"os certs with unix", []string{"--unix", "/tmp/s", "--tls-use-os-certs"}, "Error: TLS options cannot be used with --unix."},
	}
	for _, tc := range tests {
		for _, name := range []string{"mqpub", "mqsub"} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				args := append(tc.args, "-t", "a")
				if name == "mqpub" {
					args = append(args, "-m", "x")
				}
				r := (&tool{name: name}).run(testCtx(t), args...)
				if r.code != 1 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "Use '"+name+" --help'") {
					t.Errorf("exit %d stderr %q; want 1 and %q", r.code, r.stderr, tc.want)
				}
			})
		}
	}
}

// Every new option is in both commands' --help, in its category.
func TestTransportHelp(t *testing.T) {
	for _, name := range []string{"mqpub", "mqsub"} {
		r := (&tool{name: name}).run(testCtx(t), "--help")
		conn := section(r.stdout, "   Connection:")
		tlsSec := section(r.stdout, "   TLS:")
		for _, f := range []string{"--bind-address ADDRESS, -A ADDRESS", "--nodelay", "--proxy URL", "--ws"} {
			if !strings.Contains(conn, f) {
				t.Errorf("%s --help: %q not under Connection:\n%s", name, f, conn)
			}
		}
		for _, f := range []string{"--tls-alpn PROTOCOL", "--tls-keylog FILE", "--tls-use-os-certs"} {
			if !strings.Contains(tlsSec, f) {
				t.Errorf("%s --help: %q not under TLS:\n%s", name, f, tlsSec)
			}
		}
	}
}

// section returns the lines of help from the heading to the next blank line.
func section(help, heading string) string {
	i := strings.Index(help, heading)
	if i < 0 {
		return ""
	}
	s := help[i:]
	if j := strings.Index(s, "\n\n"); j >= 0 {
		s = s[:j]
	}
	return s
}
