package broker

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// closedWithin reports whether the server closes c within d (it may send
// something first, e.g. an HTTP error).
func closedWithin(t *testing.T, c net.Conn, d time.Duration) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

// wsPhaseBroker starts a broker with one WebSocket listener of
// max_connections 2 and the given connect timeout, and returns a dialer
// of raw TCP connections to it (closed at the end of the test).
func wsPhaseBroker(t *testing.T, connectTimeout time.Duration) (*Broker, func() net.Conn) {
	b, _ := newTestBroker(t, Options{ConnectTimeout: connectTimeout, Listeners: []ListenerConfig{
		{Name: "ws", Addr: "127.0.0.1:0", WebSocket: true, MaxConnections: 2}}})
	addr := b.Addr("ws").String()
	return b, func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
}

// Issue 12 item 5: the HTTP phase of a WebSocket listener is bounded by
// the connect timeout (a request without Upgrade, then silence; or no
// request at all), headers are bounded, and sockets not yet upgraded count
// towards max_connections.
func TestWebSocketHTTPPhaseBounded(t *testing.T) {
	const connectTimeout = 300 * time.Millisecond
	_, dial := wsPhaseBroker(t, connectTimeout)

	t.Run("no upgrade then idle", func(t *testing.T) {
		c := dial()
		if _, err := io.WriteString(c, "GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(testTimeout))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
		// Before: the keep-alive socket stayed open for ever (25 s and more).
		if !closedWithin(t, c, 10*connectTimeout) {
			t.Fatal("socket still open after a refused upgrade and the connect timeout")
		}
	})
	t.Run("silent", func(t *testing.T) {
		c := dial()
		if !closedWithin(t, c, 10*connectTimeout) {
			t.Fatal("silent socket still open after the connect timeout")
		}
	})
	t.Run("huge headers", func(t *testing.T) {
		c := dial()
		go func() {
			_, _ = io.WriteString(c, "GET /mqtt HTTP/1.1\r\nHost: x\r\nX-A: "+strings.Repeat("a", 64<<10)+"\r\n\r\n")
		}()
		_ = c.SetReadDeadline(time.Now().Add(testTimeout))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %d, want 431", resp.StatusCode)
		}
	})
	t.Run("not upgraded count", func(t *testing.T) {
		// Two sockets that have not upgraded fill max_connections 2: a
		// third is closed at once. A broker of its own with a long
		// connect timeout, so that the first two cannot time out on a
		// busy machine before the third arrives.
		const connectTimeout = 20 * time.Second
		b, dial := wsPhaseBroker(t, connectTimeout)
		a, bb := dial(), dial()
		_, _ = io.WriteString(a, "GET")
		_, _ = io.WriteString(bb, "GET")
		deadline := time.Now().Add(testTimeout)
		for b.lisPending("ws") < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("pending sockets: %d, want 2", b.lisPending("ws"))
			}
			time.Sleep(5 * time.Millisecond)
		}
		c := dial()
		if !closedWithin(t, c, connectTimeout/2) {
			t.Fatal("a third socket was kept while two not-upgraded ones fill max_connections 2")
		}
	})
}

// lisPending is the number of sockets of listener name not yet upgraded.
func (b *Broker) lisPending(name string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range b.listeners {
		if l.cfg.Name == name {
			return l.pending.Load()
		}
	}
	return -1
}
