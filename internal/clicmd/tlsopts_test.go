package clicmd

import (
	"bytes"
	"crypto/tls"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client/clienttest"
)

// tlsBroker starts a broker with a TLS listener configured by tweak.
func tlsBroker(t *testing.T, tweak func(*tls.Config)) (target, *clienttest.TLSFiles) {
	t.Helper()
	certs := clienttest.NewTLSFiles(t)
	pair, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{pair}}
	if tweak != nil {
		tweak(cfg)
	}
	b := clienttest.StartBroker(t, broker.Options{Listeners: []broker.ListenerConfig{
		{Name: "tls", Addr: "127.0.0.1:0", TLS: cfg},
	}})
	return splitAddr(t, b.Addr("tls").String()), certs
}

// --tls-alpn offers the protocol in the handshake; the broker's choice
// is what it negotiated, and a broker that serves none of the offered
// protocols ends the handshake.
func TestTLSALPN(t *testing.T) {
	var mu sync.Mutex
	var negotiated []string
	tg, certs := tlsBroker(t, func(c *tls.Config) {
		c.NextProtos = []string{"mqtt"}
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			mu.Lock()
			defer mu.Unlock()
			negotiated = append(negotiated, cs.NegotiatedProtocol)
			return nil
		}
	})
	last := func() string {
		mu.Lock()
		defer mu.Unlock()
		if len(negotiated) == 0 {
			return "(no handshake)"
		}
		return negotiated[len(negotiated)-1]
	}
	tests := []struct {
		name, tool string
		args       []string
		want       string
	}{
		{"mqpub mqtt", "mqpub", []string{"--tls-alpn", "mqtt"}, "mqtt"},
		{"mqsub mqtt", "mqsub", []string{"--tls-alpn", "mqtt"}, "mqtt"},
		{"list", "mqpub", []string{"--tls-alpn", "x-other,mqtt"}, "mqtt"},
		{"none offered", "mqpub", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := tg.args(append(tc.args, "--cafile", certs.CACert, "-t", "alpn/a")...)
			if tc.tool == "mqpub" {
				args = append(args, "-m", "x")
			} else {
				args = append(args, "-E")
			}
			r := (&tool{name: tc.tool}).run(testCtx(t), args...)
			if r.code != 0 {
				t.Fatalf("exit %d stderr %s", r.code, r.stderr)
			}
			if got := last(); got != tc.want {
				t.Errorf("negotiated %q, want %q", got, tc.want)
			}
		})
	}
	r := pub(t, tg.args("--cafile", certs.CACert, "--tls-alpn", "h2", "-t", "alpn/a", "-m", "x")...)
	if r.code != 1 || !strings.Contains(r.stderr, "Error: TLS handshake failed") || !strings.Contains(r.stderr, "no application protocol") {
		t.Errorf("unknown protocol: exit %d stderr %q", r.code, r.stderr)
	}
}

// --tls-keylog appends the session secrets in NSS key log format to a
// file only its owner can read.
func TestTLSKeylog(t *testing.T) {
	tg, certs := tlsBroker(t, nil)
	file := filepath.Join(t.TempDir(), "keys.log")
	lines := func() []string {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	mustPub(t, tg.args("--cafile", certs.CACert, "--tls-keylog", file, "-t", "kl/a", "-m", "x")...)
	first := lines()
	client := 0
	for _, l := range first {
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Errorf("key log line %q: want LABEL CLIENT_RANDOM SECRET", l)
		}
		if strings.HasPrefix(l, "CLIENT_") {
			client++
		}
	}
	if client == 0 {
		t.Errorf("no CLIENT_ line in the key log:\n%s", strings.Join(first, "\n"))
	}
	if st, err := os.Stat(file); err != nil || (runtime.GOOS != "windows" && st.Mode().Perm() != 0o600) {
		t.Errorf("key log mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	if r := sub(t, tg.args("--cafile", certs.CACert, "--tls-keylog", file, "-t", "kl/a", "-E")...); r.code != 0 {
		t.Fatalf("mqsub: exit %d stderr %s", r.code, r.stderr)
	}
	if n := len(lines()); n < 2*len(first) {
		t.Errorf("%d lines after a second connection, want the first %d kept and as many appended", n, len(first))
	}
}

// --tls-use-os-certs trusts the system's CAs (here SSL_CERT_FILE, read by
// Go on Unix): alone it turns TLS on, and with --cafile both are trusted.
// A separate process, since Go loads the system pool once per process.
func TestTLSUseOSCerts(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		t.Skip("the system CA store ignores SSL_CERT_FILE here")
	}
	bin := builtMqpub(t)
	tg, certs := tlsBroker(t, nil)
	emptyDir := t.TempDir()
	run := func(systemCA string, args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(bin, tg.args(append(args, "-t", "os/a", "-m", "x")...)...)
		cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+systemCA, "SSL_CERT_DIR="+emptyDir)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), errb.String()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, errb.String()
	}
	tests := []struct {
		name     string
		systemCA string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"system trusts the broker's CA", certs.CACert, []string{"--tls-use-os-certs"}, 0, ""},
		{"system does not", certs.OtherCACert, []string{"--tls-use-os-certs"}, 1, "signed by an unknown"},
		{"cafile and system", certs.CACert, []string{"--tls-use-os-certs", "--cafile", certs.OtherCACert}, 0, ""},
		{"cafile only", certs.CACert, []string{"--cafile", certs.OtherCACert}, 1, "signed by an unknown"},
		{"no TLS without it", certs.CACert, nil, 1, "Error: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stderr := run(tc.systemCA, tc.args...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d stderr %q; want %d and %q", code, stderr, tc.wantCode, tc.wantErr)
			}
		})
	}
}
