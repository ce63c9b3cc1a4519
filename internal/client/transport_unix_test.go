//go:build unix

package client

import (
	"net"
	"syscall"
	"testing"
)

// --nodelay: the TCP connection to the broker, or to the SOCKS5 proxy,
// has TCP_NODELAY set. (Go sets it by default; this pins the behaviour
// the flag documents.)
func TestNoDelay(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	conn, err := dialStream(ctxT(t), Endpoint{NoDelay: true}, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	raw, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var serr error
	raw.Control(func(fd uintptr) { v, serr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY) })
	if serr != nil || v == 0 {
		t.Errorf("TCP_NODELAY = %d (%v), want on", v, serr)
	}
}
