package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// TestHealthAndReady: /readyz answers 503 until the broker has loaded its
// store and opened its listeners, 200 then; /healthz 503 once it shuts
// down.
func TestHealthAndReady(t *testing.T) {
	b, err := broker.New(broker.Options{Listeners: []broker.ListenerConfig{{Name: "tcp", Addr: "127.0.0.1:0"}}})
	if err != nil {
		t.Fatal(err)
	}
	ws, err := New(Options{Broker: b, Listeners: []Listener{{Name: "http", Addr: "127.0.0.1:0"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ws.Close)
	e := &env{b: b, ws: ws, base: "http://" + ws.Addr("http").String()}
	if code, _ := e.get(t, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before Start: %d, want 503", code)
	}
	if code, _ := e.get(t, "/healthz"); code != 200 {
		t.Errorf("/healthz before Start: %d, want 200", code)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	if code, body := e.get(t, "/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz after Start: %d %q", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := e.get(t, p); code != http.StatusServiceUnavailable {
			t.Errorf("%s after Shutdown: %d, want 503", p, code)
		}
	}
}

// TestLoginRequired: a listener reachable from other machines
// (RequireLogin) asks for HTTP basic authentication everywhere but on the
// probes.
func TestLoginRequired(t *testing.T) {
	e := newEnv(t, broker.Options{}, Options{Listeners: []Listener{{Name: "http", Addr: "127.0.0.1:0", RequireLogin: true,
		Login: func(u, p string) bool { return u == "alice" && p == "s3cret" }}}})
	for _, path := range []string{"/", "/metrics", "/api/topics", "/api/clients", "/app.js"} {
		code, _ := e.get(t, path)
		if code != http.StatusUnauthorized {
			t.Errorf("%s without login: %d, want 401", path, code)
		}
		r := mustReq(t, "GET", e.base+path, nil)
		r.SetBasicAuth("alice", "wrong")
		if code, _ := do(t, r); code != http.StatusUnauthorized {
			t.Errorf("%s with a wrong password: %d, want 401", path, code)
		}
		r = mustReq(t, "GET", e.base+path, nil)
		r.SetBasicAuth("alice", "s3cret")
		if code, _ := do(t, r); code != 200 {
			t.Errorf("%s logged in: %d, want 200", path, code)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, _ := e.get(t, path); code != 200 {
			t.Errorf("%s without login: %d, want 200 (probes)", path, code)
		}
	}
}

func postPublish(t *testing.T, e *env, body string, hdr map[string]string) (int, string) {
	t.Helper()
	r := mustReq(t, "POST", e.base+"/api/publish", strings.NewReader(body))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	return do(t, r)
}

// TestPublishForm: off unless allowed; cross-site requests are refused;
// an allowed publish reaches subscribers and the topic tree (retained).
func TestPublishForm(t *testing.T) {
	good := map[string]string{"Content-Type": "application/json", "X-Mqkit-Request": "publish"}
	body := `{"topic":"form/t","payload":"<b>hi</b>","qos":1,"retain":true}`

	off := newEnv(t, broker.Options{}, Options{})
	if code, _ := postPublish(t, off, body, good); code != http.StatusForbidden {
		t.Errorf("publish without http_allow_publish: %d, want 403", code)
	}

	e := newEnv(t, broker.Options{}, Options{AllowPublish: true,
		MayPublish: func(user, topic string) bool { return topic != "form/denied" }})
	sub, _ := connect(t, e.mqtt, &mqtt.Connect{ClientID: "s", CleanStart: true})
	sub.subscribe("form/#", 1)
	for _, c := range []struct {
		name string
		hdr  map[string]string
	}{
		{"no custom header", map[string]string{"Content-Type": "application/json"}},
		{"form content type", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Mqkit-Request": "publish"}},
		{"text content type", map[string]string{"Content-Type": "text/plain", "X-Mqkit-Request": "publish"}},
		{"other origin", map[string]string{"Content-Type": "application/json", "X-Mqkit-Request": "publish", "Origin": "http://evil.example"}},
		{"cross-site fetch", map[string]string{"Content-Type": "application/json", "X-Mqkit-Request": "publish", "Sec-Fetch-Site": "cross-site"}},
	} {
		if code, _ := postPublish(t, e, body, c.hdr); code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", c.name, code)
		}
	}
	for _, c := range []struct{ name, body string }{
		{"bad JSON", `{"topic":`},
		{"unknown field", `{"topic":"a","x":1}`},
		{"wildcard topic", `{"topic":"a/#","payload":"x"}`},
		{"$SYS topic", `{"topic":"$SYS/x","payload":"x"}`},
		{"QoS 3", `{"topic":"a","qos":3}`},
		{"too large", `{"topic":"a","payload":"` + strings.Repeat("x", maxBodyBytes) + `"}`},
	} {
		if code, _ := postPublish(t, e, c.body, good); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", c.name, code)
		}
	}
	if code, _ := postPublish(t, e, `{"topic":"form/denied","payload":"x"}`, good); code != http.StatusForbidden {
		t.Errorf("ACL-denied topic: %d, want 403", code)
	}
	hdr := map[string]string{"Content-Type": "application/json", "X-Mqkit-Request": "publish", "Origin": e.base, "Sec-Fetch-Site": "same-origin"}
	if code, resp := postPublish(t, e, body, hdr); code != 200 || !contains(resp, `"subscribers":1`) {
		t.Fatalf("publish: %d %s", code, resp)
	}
	got := sub.receiveN(1)[0]
	if got.Topic != "form/t" || string(got.Payload) != "<b>hi</b>" || got.QoS != 1 {
		t.Errorf("subscriber got %s", mqtt.Describe(got))
	}
	code, resp := e.get(t, "/api/topic?t=form/t")
	var v topicV
	if code != 200 || json.Unmarshal([]byte(resp), &v) != nil || !v.Retained || string(v.Payload) != "<b>hi</b>" {
		t.Errorf("/api/topic: %d %s", code, resp)
	}
}

// TestHTTPLimits: oversized headers are refused, and a listener keeps at
// most MaxConnections connections.
func TestHTTPLimits(t *testing.T) {
	e := newEnv(t, broker.Options{}, Options{MaxConnections: 2})
	r := mustReq(t, "GET", e.base+"/healthz", nil)
	r.Header.Set("X-Big", strings.Repeat("x", 2*maxHeaderBytes))
	if code, _ := do(t, r); code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("oversized header: %d, want 431", code)
	}
	addr := strings.TrimPrefix(e.base, "http://")
	var held []net.Conn
	for range 2 {
		c, err := net.DialTimeout("tcp", addr, testTimeout)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		defer c.Close()
	}
	// Both slots are taken once the server has accepted them: a third
	// connection is closed without an answer.
	waitFor(t, "a third connection refused", func() bool {
		c, err := net.DialTimeout("tcp", addr, testTimeout)
		if err != nil {
			return false
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = bufio.NewReader(c).ReadString('\n')
		return err != nil
	})
	for _, c := range held {
		c.Close()
	}
	waitFor(t, "a slot free again", func() bool {
		resp, err := (&http.Client{Timeout: testTimeout}).Get(e.base + "/healthz")
		if err != nil {
			return false // closed: the server has not seen the close yet
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// TestStreamsLimited: live streams beyond MaxStreams get 503.
func TestStreamsLimited(t *testing.T) {
	e := newEnv(t, broker.Options{}, Options{MaxStreams: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := mustReq(t, "GET", e.base+"/api/live", nil).WithContext(ctx)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	if line != "event: hello\n" {
		t.Fatalf("first stream: %q", line)
	}
	if code, _ := e.get(t, "/api/live"); code != http.StatusServiceUnavailable {
		t.Errorf("second stream: %d, want 503", code)
	}
}

// TestSecurityHeaders: every page is served with a Content Security
// Policy that forbids inline scripts and other origins.
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, broker.Options{}, Options{})
	resp, err := http.Get(e.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no nosniff")
	}
	if code, _ := postPublish(t, e, "{}", nil); code != http.StatusForbidden {
		t.Errorf("POST without headers: %d", code)
	}
	if code, body := e.get(t, "/api/history"); code != 200 || body != "[]\n" {
		t.Errorf("/api/history before the first sample: %d %q, want []", code, body)
	}
	r := mustReq(t, "DELETE", e.base+"/api/topics", nil)
	if code, _ := do(t, r); code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %d, want 405", code)
	}
}

// TestClientsAPI lists a connected client with its will, keep alive and
// subscriptions, and an offline durable session.
func TestClientsAPI(t *testing.T) {
	e := newEnv(t, broker.Options{}, Options{})
	var wp mqtt.Properties
	wp.SetWillDelay(5)
	c, _ := connect(t, e.mqtt, &mqtt.Connect{ClientID: "c1", CleanStart: true, KeepAlive: 30, HasUsername: true, Username: "alice",
		Will: &mqtt.Will{Topic: "status/c1", Payload: []byte("gone"), QoS: 1, Retain: true, Props: wp}})
	c.subscribe("a/+/b", 1)
	d, _ := connect(t, e.mqtt, &mqtt.Connect{ClientID: "d1", CleanStart: true, Props: sessionExpiry(600)})
	d.send(&mqtt.Disconnect{})
	var list struct {
		Clients []clientJSON `json:"clients"`
		Total   int          `json:"total"`
	}
	waitFor(t, "two sessions, one offline", func() bool {
		_, body := e.get(t, "/api/clients")
		if json.Unmarshal([]byte(body), &list) != nil || list.Total != 2 {
			return false
		}
		return !list.Clients[1].Connected
	})
	c1, d1 := list.Clients[0], list.Clients[1]
	if c1.ID != "c1" || c1.User != "alice" || c1.Protocol != "5.0" || c1.KeepAlive != 30 || !c1.CleanStart ||
		c1.Will == nil || c1.Will.Topic != "status/c1" || c1.Will.QoS != 1 || c1.Will.Delay != 5 ||
		len(c1.Subscriptions) != 1 || c1.Subscriptions[0].Filter != "a/+/b" || c1.ConnectedSince == 0 || c1.Address == "" {
		t.Errorf("c1: %+v", c1)
	}
	if d1.ID != "d1" || d1.SessionExpiry != 600 || d1.DisconnectedAt == 0 {
		t.Errorf("d1: %+v", d1)
	}
}

// TestStaticFiles: the page's files are served from the embedded copies
// with their content types (set by staticFile, not looked up in the mime
// package), HEAD included.
func TestStaticFiles(t *testing.T) {
	e := newEnv(t, broker.Options{}, Options{})
	for path, want := range map[string]struct{ file, ctype string }{
		"/":        {"index.html", "text/html; charset=utf-8"},
		"/app.js":  {"app.js", "text/javascript; charset=utf-8"},
		"/app.css": {"app.css", "text/css; charset=utf-8"},
	} {
		data, err := staticFS.ReadFile("static/" + want.file)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(e.base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != want.ctype || string(body) != string(data) {
			t.Errorf("GET %s: %d %q, %d bytes; want 200 %q, %d bytes", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body), want.ctype, len(data))
		}
		if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: headers %v", path, resp.Header)
		}
		resp, err = http.Head(e.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.ContentLength != int64(len(data)) {
			t.Errorf("HEAD %s: %d, length %d; want 200, %d", path, resp.StatusCode, resp.ContentLength, len(data))
		}
	}
	if code, _ := e.get(t, "/index.html"); code != http.StatusNotFound {
		t.Errorf("/index.html: %d, want 404 (the page is /)", code)
	}
}
