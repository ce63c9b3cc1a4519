// Package testnet holds network helpers for tests of several packages.
package testnet

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// DialSmallWindow dials TCP addr with a 4 KiB receive buffer, so that what
// the peer writes piles up on the peer's side while the caller does not
// read (a slow consumer). The connection is closed when the test ends.
func DialSmallWindow(t testing.TB, addr string, timeout time.Duration) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: timeout, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}
