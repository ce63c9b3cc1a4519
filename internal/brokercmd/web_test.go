package brokercmd

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/auth"
)

var webRE = regexp.MustCompile(`web view on +(\S+)`)

func httpGet(t *testing.T, url, user, pass string) (int, string) {
	t.Helper()
	r, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		r.SetBasicAuth(user, pass)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestListenHTTP: --listen http:// opens the web view next to the MQTT
// listener; the banner links to it; on loopback no login is asked.
func TestListenHTTP(t *testing.T) {
	banner := startArgs(t, "--listen", "mqtt://127.0.0.1:0", "--listen", "http://127.0.0.1:0")
	m := webRE.FindStringSubmatch(banner)
	if m == nil || !strings.HasPrefix(m[1], "http://127.0.0.1:") || !strings.HasSuffix(m[1], "/") {
		t.Fatalf("banner has no web view link:\n%s", banner)
	}
	if urls := bannerURLs(t, banner); len(urls) != 1 || !strings.HasPrefix(urls[0], "mqtt://") {
		t.Errorf("MQTT listeners %v", urls)
	}
	if !strings.Contains(banner, "mqsub -h 127.0.0.1 -p ") {
		t.Errorf("the try-it lines should use the MQTT listener:\n%s", banner)
	}
	base := strings.TrimSuffix(m[1], "/")
	for _, p := range []string{"/", "/readyz", "/healthz", "/metrics"} {
		if code, _ := httpGet(t, base+p, "", ""); code != 200 {
			t.Errorf("%s: %d", p, code)
		}
	}
	if _, body := httpGet(t, base+"/metrics", "", ""); !strings.Contains(body, "mqbroker_connections{kind=\"tcp\",listener=\"listener-1\"} 0") {
		t.Errorf("/metrics lacks the MQTT listener:\n%.2000s", body)
	}
}

// TestHTTPLoginFromNetwork: a web view reachable from other machines
// asks for a user of the broker (--user or password_file); without any
// user the configuration is refused.
func TestHTTPLoginFromNetwork(t *testing.T) {
	code, _, errs := runApp(t, "--listen", "mqtt://127.0.0.1:0", "--listen", "http://0.0.0.0:0", "--test-config")
	if code == 0 || !strings.Contains(errs, "needs a login") {
		t.Errorf("no users: exit %d, %q", code, errs)
	}
	dir := t.TempDir()
	pw := writeFile(t, dir, "pw", "bob:"+auth.HashPassword([]byte("b0b"), 0)+"\n")
	banner := startArgs(t, "--listen", "mqtt://127.0.0.1:0", "--listen", "http://0.0.0.0:0",
		"--user", "alice:s3cret", "--password-file", pw)
	m := webRE.FindStringSubmatch(banner)
	if m == nil || !strings.Contains(banner, "login required") || !strings.Contains(banner, "clear text") {
		t.Fatalf("banner:\n%s", banner)
	}
	base := strings.TrimSuffix(m[1], "/")
	for _, c := range []struct {
		user, pass string
		want       int
	}{{"", "", 401}, {"alice", "nope", 401}, {"alice", "s3cret", 200}, {"bob", "b0b", 200}, {"carol", "x", 401}} {
		if code, _ := httpGet(t, base+"/metrics", c.user, c.pass); code != c.want {
			t.Errorf("%q/%q: %d, want %d", c.user, c.pass, code, c.want)
		}
	}
	if code, _ := httpGet(t, base+"/healthz", "", ""); code != 200 {
		t.Errorf("/healthz without login: %d", code)
	}
}

// TestPrintConfigHTTP: --print-config writes the http listener and
// http_allow_publish back, and the file it writes loads.
func TestPrintConfigHTTP(t *testing.T) {
	dir := t.TempDir()
	conf := writeFile(t, dir, "in.conf", "listener 0 127.0.0.1\nlistener 0 127.0.0.1\nprotocol http\nhttp_allow_publish true\n")
	code, out, errs := runApp(t, "-c", conf, "--print-config")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"\nprotocol http\n", "\nhttp_allow_publish true\n", "# http://127.0.0.1:0\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	again := writeFile(t, dir, "out.conf", out)
	if code, out, errs := runApp(t, "-c", again, "--test-config"); code != 0 || !strings.Contains(out, "Configuration OK: 2 listener(s)") {
		t.Fatalf("--test-config: exit %d, %q %q", code, out, errs)
	}
	code, out, _ = runApp(t, "--listen", "http://127.0.0.1:8080", "--print-config")
	if code != 0 || !strings.Contains(out, "listener 8080 127.0.0.1\n# mqbroker extension: web view, /metrics, /healthz, /readyz\nprotocol http\n") {
		t.Errorf("--listen http: exit %d:\n%s", code, out)
	}
}
