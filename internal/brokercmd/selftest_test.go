package brokercmd

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/mqkit/mqkit/internal/auth"
	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
	"github.com/mqkit/mqkit/internal/selftest"
)

// selftestRun runs `mqbroker selftest ARGS` through Main.
func selftestRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb syncBuffer
	code = Main(append([]string{"mqbroker", "selftest"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestSelftestInProcess(t *testing.T) {
	code, out, errOut := selftestRun(t)
	// Every check passes, causal-order included (the event loop).
	if n := len(selftest.Names()); code != 0 || !strings.Contains(out, fmt.Sprintf("%d passed, 0 failed, 0 skipped", n)) {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.HasPrefix(out, "Checking in-process mqbroker ") || strings.Contains(out, "\x1b[") {
		t.Errorf("stdout:\n%s", out)
	}
}

func TestSelftestJSON(t *testing.T) {
	code, out, errOut := selftestRun(t, "--json", "--timeout", "5s")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	names := selftest.Names()
	if len(lines) != len(names) {
		t.Fatalf("%d lines for %d checks:\n%s", len(lines), len(names), out)
	}
	for i, l := range lines {
		var o struct {
			Name       string `json:"name"`
			Result     string `json:"result"`
			Detail     string `json:"detail"`
			DurationMS *int64 `json:"duration_ms"`
		}
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatalf("line %d %q: %v", i+1, l, err)
		}
		if o.Name != names[i] || o.Result != "PASS" || o.Detail == "" || o.DurationMS == nil {
			t.Errorf("line %d: %s", i+1, l)
		}
	}
}

// TestSelftestTLSCredentials checks a broker over mqtts:// with --cafile
// and -u/-P, and with --acl: the broker gives alice the selftest ACL.
func TestSelftestTLSCredentials(t *testing.T) {
	files := clienttest.NewTLSFiles(t)
	pair, err := tls.LoadX509KeyPair(files.ServerCert, files.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	acl, err := auth.ParseACL(strings.NewReader("user alice\n"+selftest.ACLRules), "acl")
	if err != nil {
		t.Fatal(err)
	}
	b := clienttest.StartBroker(t, broker.Options{
		Authorizer: broker.AuthorizerFunc(func(ci *broker.ClientInfo, topic string, acc broker.Access) bool {
			return acl.Allowed(ci.Username, ci.HasUsername, ci.ClientID, topic, auth.Access(acc))
		}),
		Listeners: []broker.ListenerConfig{{Name: "tls", Addr: "127.0.0.1:0",
			TLS: &tls.Config{Certificates: []tls.Certificate{pair}}}},
		SysInterval: broker.DefaultSysInterval,
		Authenticator: broker.AuthenticatorFunc(func(ci *broker.ClientInfo, password []byte) mqtt.ReasonCode {
			if ci.Username != "alice" || string(password) != "s3cret" {
				return mqtt.BadUserNameOrPassword
			}
			return mqtt.Success
		}),
	})
	url := "mqtts://" + b.Addr("tls").String()
	code, out, errOut := selftestRun(t, "--cafile", files.CACert, "-u", "alice", "-P", "s3cret", "--acl", "-v", url)
	// causal-order passes over TLS too: TLS connections join the loop.
	if n := len(selftest.Names()); code != 0 || !strings.Contains(out, fmt.Sprintf("%d passed, 0 failed, 1 skipped", n-1)) ||
		!strings.Contains(out, "SKIP  transport/websocket") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	code, out, errOut = selftestRun(t, "--cafile", files.CACert, "-u", "alice", "-P", "wrong", url)
	if code != 1 || strings.Contains(out, "PASS") || !strings.Contains(errOut, "bad user name or password") {
		t.Errorf("wrong password: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

// silentBroker accepts CONNECT and then never answers anything else.
func silentBroker(t *testing.T) string {
	t.Helper()
	addr := clienttest.ServeTCP(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		p, err := mqtt.NewReader(br, 0).ReadPacket()
		cp, ok := p.(*mqtt.Connect)
		if err != nil || !ok {
			return
		}
		raw, _ := mqtt.Append(nil, &mqtt.Connack{}, cp.Version)
		if _, err := c.Write(raw); err != nil {
			return
		}
		io.Copy(io.Discard, br)
	})
	return "mqtt://" + addr.String()
}

func TestSelftestBrokenBroker(t *testing.T) {
	code, out, errOut := selftestRun(t, "--timeout", "200ms", silentBroker(t))
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"PASS  connect/3.1\n", "FAIL  qos1/3.1.1 ", "no SUBACK within 200ms", " failed, "} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}

func TestSelftestUsage(t *testing.T) {
	port := strconv.Itoa(clienttest.FreePort(t))
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"unreachable", []string{"mqtt://127.0.0.1:" + port}, "mqbroker selftest: mqtt://127.0.0.1:" + port + ": dial"},
		{"bad scheme", []string{"http://x"}, "unsupported URL scheme"},
		{"topic", []string{"mqtt://127.0.0.1:1/a"}, "names no topic"},
		{"second not ws", []string{"mqtt://127.0.0.1:1", "mqtt://127.0.0.1:2"}, "ws:// or wss://"},
		{"too many", []string{"ws://a", "ws://b", "ws://c"}, "at most two URLs"},
		{"tls without URL", []string{"--cafile", "x.pem"}, "need a URL"},
		{"tls on mqtt", []string{"--cafile", "x.pem", "mqtt://127.0.0.1:1"}, "need an mqtts:// or wss:// URL"},
		{"timeout", []string{"--timeout", "0s"}, "--timeout must be positive"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := selftestRun(t, tt.args...)
			if code != 1 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q, want 1 and %q (stdout %q)", code, errOut, tt.want, out)
			}
		})
	}
}
