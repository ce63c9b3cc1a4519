package brokercmd

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeNotifySocket plays systemd: a unixgram socket named by
// $NOTIFY_SOCKET; the returned function waits (bounded) for the next
// datagram.
func fakeNotifySocket(t *testing.T) func() string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return func() string {
		t.Helper()
		buf := make([]byte, 4096)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("no sd_notify message: %v", err)
		}
		return string(buf[:n])
	}
}

// TestSdNotify: with Type=notify, systemd hears READY=1 once the
// listeners are open, RELOADING=1 then READY=1 around a SIGHUP reload,
// and STOPPING=1 when the shutdown starts.
func TestSdNotify(t *testing.T) {
	next := fakeNotifySocket(t)
	var out, errb syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- NewApp(&out, &errb).RunContext(ctx, []string{"mqbroker", "-p", "0"}) }()
	ready := next()
	if !strings.HasPrefix(ready, "READY=1\n") || !strings.Contains(ready, "MAINPID=") {
		t.Fatalf("first message %q, want READY=1", ready)
	}
	// Ready means reachable: the banner's port accepts connections.
	m := listeningRE.FindStringSubmatch(errb.String())
	if m == nil {
		t.Fatalf("READY=1 before the banner:\n%s", errb.String())
	}
	waitPort(t, strings.TrimPrefix(m[1], "mqtt://"))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "RELOADING=1" {
		t.Errorf("after SIGHUP: %q, want RELOADING=1", got)
	}
	if got := next(); got != "READY=1" {
		t.Errorf("after the reload: %q, want READY=1", got)
	}
	cancel()
	if got := next(); got != "STOPPING=1" {
		t.Errorf("at shutdown: %q, want STOPPING=1", got)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("broker did not stop")
	}
}

// TestSdNotifyAbstract: a NOTIFY_SOCKET starting with '@' is in the
// abstract namespace; no NOTIFY_SOCKET sends nothing.
func TestSdNotifyAbstract(t *testing.T) {
	name := "mqkit-test-" + filepath.Base(t.TempDir())
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: "\x00" + name, Net: "unixgram"})
	if err != nil {
		t.Skipf("no abstract unix sockets here: %v", err)
	}
	defer c.Close()
	t.Setenv("NOTIFY_SOCKET", "@"+name)
	if err := sdNotify("READY=1"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "READY=1" {
		t.Fatalf("got %q, %v", buf[:n], err)
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := sdNotify("READY=1"); err != nil {
		t.Fatalf("without NOTIFY_SOCKET: %v", err)
	}
}
