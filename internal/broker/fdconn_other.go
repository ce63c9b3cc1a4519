//go:build !linux

package broker

import "net"

// Without epoll there is no loop to read raw descriptors (fdconn_linux.go).
func (l *listener) serveRaw() bool { return false }

// fdConn is never made without epoll.
type fdConn struct{ net.Conn }

func (f *fdConn) hold() bool { return false }
func (f *fdConn) release()   {}

func (f *fdConn) writeNow([]byte) int { return 0 }
