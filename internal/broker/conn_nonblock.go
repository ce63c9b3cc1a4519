package broker

import "syscall"

// writeSome writes what c's socket takes now without waiting (an inline
// flush, conn.writeNow; plain TCP only) and returns how much; 0 when it
// takes nothing or fails: the write job meets the error again. On an
// fdConn it is one write(2) and no allocation; through a net.TCPConn's
// RawConn, the callback and what it captures are allocated.
func (c *conn) writeSome(p []byte) int {
	if f, ok := c.netConn().(*fdConn); ok {
		return f.writeNow(p)
	}
	var n int
	rc, err := c.netConn().(syscall.Conn).SyscallConn()
	if err == nil {
		err = rc.Write(func(fd uintptr) bool {
			n, _ = syscall.Write(int(fd), p)
			return true // never wait for the socket to become writable
		})
	}
	if err != nil || n < 0 {
		return 0
	}
	return n
}
