package broker

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// fdConn is a plain TCP connection accepted for the event loop
// (acceptRaw): the socket's descriptor and the client's address, and
// nothing else. A net.TCPConn costs an idle connection about 600 bytes
// the loop never uses (issue 17): its netFD, two TCPAddr with their IP
// slices, and the runtime's poll descriptor (outside the heap) registered
// with Go's poller. The loop reads the descriptor itself (loop.go); the
// write path uses fdConn as any net.Conn: inline flushes write without
// waiting (writeNow), and a write job whose socket is full parks until
// the poller (fdpoller_linux.go) finds it writable (Write), looking at a
// deadline shortened by close or a Close at least every fdWaitSlice.
//
// The descriptor is closed once: by Close when nobody uses it, else by
// the last user (state counts the users: the loop from add to end, and
// each Write, Read or RawConn call), so that a write job that runs late
// can never write to a descriptor number the kernel gave to another
// socket.
//
// It has no read deadline (32 bytes, not 48): the loop reads it and
// times out connect and keep alive itself (sweep).
type fdConn struct {
	fd    int32
	state atomic.Int32 // users | fdClosed | fdDone
	wdl   atomic.Int64 // write deadline, Unix ns (0: none)
	// The client's address is in the connection's ClientInfo (newConn),
	// not here: issue 17, an idle connection's memory.
}

// errNoReadDeadline: an fdConn is read by the loop, which keeps time.
var errNoReadDeadline = errors.New("read deadline on a socket of the event loop")

const (
	fdClosed  = 1 << 29 // Close was called
	fdDone    = 1 << 28 // the descriptor is closed
	fdRefMask = fdDone - 1
)

// fdWaitSlice bounds how long a waiting Read or Write goes without
// looking at its deadline and the closed state.
const fdWaitSlice = 50 * time.Millisecond

// newFDConn sets up an accepted socket as net.Conn.Accept would: no
// Nagle, and Go's TCP keep-alive defaults (on, 15 s idle, 15 s interval,
// 9 probes; net.ListenConfig.KeepAlive).
//
// The fdConn is made inside the conn that will serve it (conn.sock): one
// allocation per connection instead of two (issue 17); newConn takes
// that conn (connOf).
func newFDConn(fd int) *fdConn {
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1)
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, 15)
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, 15)
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, 9)
	f := &new(conn).sock
	f.fd = int32(fd)
	return f
}

// sockaddrPeer is sa as a peerAddr: an IPv4 peer (or an IPv4-mapped
// IPv6 one, which net.TCPAddr formats as IPv4) without formatting it.
func sockaddrPeer(sa syscall.Sockaddr) peerAddr {
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return peerAddr{ip4: netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))}
	case *syscall.SockaddrInet6:
		if ip := netip.AddrFrom16(a.Addr); ip.Is4In6() {
			return peerAddr{ip4: netip.AddrPortFrom(ip.Unmap(), uint16(a.Port))}
		}
	}
	return peerAddr{text: sockaddrString(sa)}
}

// sockaddrString formats sa exactly as the net package's TCPAddr.String
// does for the same peer (mosquitto's log lines show it).
func sockaddrString(sa syscall.Sockaddr) string {
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return (&net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}).String()
	case *syscall.SockaddrInet6:
		a := &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}
		if sa.ZoneId != 0 {
			a.Zone = strconv.Itoa(int(sa.ZoneId))
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				a.Zone = ifi.Name
			}
		}
		return a.String()
	}
	return "<unknown>"
}

// hold takes a use of the descriptor; false once closed.
func (f *fdConn) hold() bool {
	if f.state.Add(1)&fdClosed != 0 {
		f.release()
		return false
	}
	return true
}

// release ends a use; the last one after Close closes the descriptor.
func (f *fdConn) release() {
	if f.state.Add(-1) == fdClosed && f.state.CompareAndSwap(fdClosed, fdClosed|fdDone) {
		_ = syscall.Close(int(f.fd))
	}
}

// Close closes the socket, at once when nobody uses it. Otherwise it shuts
// the socket down, which ends a waiting Write or Read and makes the loop
// read the end of input, and the last user closes it.
func (f *fdConn) Close() error {
	s := f.state.Add(1) // a use of its own: the descriptor stays ours meanwhile
	for s&fdClosed == 0 && !f.state.CompareAndSwap(s, s|fdClosed) {
		s = f.state.Load()
	}
	if s&fdClosed != 0 {
		f.release()
		return f.opErr("close", net.ErrClosed)
	}
	if s&fdRefMask > 1 {
		_ = syscall.Shutdown(int(f.fd), syscall.SHUT_RDWR)
	}
	f.release()
	return nil
}

func (f *fdConn) Read(p []byte) (int, error) {
	if !f.hold() {
		return 0, f.opErr("read", net.ErrClosed)
	}
	defer f.release()
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, err := syscall.Read(int(f.fd), p)
		switch {
		case n > 0:
			return n, nil
		case err == nil:
			return 0, io.EOF
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			if err := f.wait(pollIn, nil); err != nil {
				return 0, f.opErr("read", err)
			}
		default:
			return 0, f.opErr("read", os.NewSyscallError("read", err))
		}
	}
}

// Write writes all of p, waiting for the socket when it is full (a write
// job), until the write deadline.
func (f *fdConn) Write(p []byte) (int, error) {
	if !f.hold() {
		return 0, f.opErr("write", net.ErrClosed)
	}
	defer f.release()
	n := 0
	for n < len(p) {
		if err := f.expired(&f.wdl); err != nil {
			return n, f.opErr("write", err)
		}
		m, err := syscall.Write(int(f.fd), p[n:])
		if m > 0 {
			n += m
			continue
		}
		switch err {
		case syscall.EINTR:
		case syscall.EAGAIN:
			if err := f.wait(pollOut, &f.wdl); err != nil {
				return n, f.opErr("write", err)
			}
		case nil:
			return n, f.opErr("write", errors.New("short write"))
		default:
			return n, f.opErr("write", os.NewSyscallError("write", err))
		}
	}
	return n, nil
}

func loadDeadline(dl *atomic.Int64) int64 {
	if dl == nil {
		return 0
	}
	return dl.Load()
}

// writeNow writes what the socket takes now, without waiting (an inline
// flush); 0 when it takes nothing or fails (the write job meets the error).
func (f *fdConn) writeNow(p []byte) int {
	if !f.hold() {
		return 0
	}
	n, _ := writeRaw(int(f.fd), p) // never blocks (loop_raw_linux.go)
	f.release()
	return max(n, 0)
}

// expired reports a deadline that has passed.
func (f *fdConn) expired(dl *atomic.Int64) error {
	if d := dl.Load(); d != 0 && time.Now().UnixNano() >= d {
		return os.ErrDeadlineExceeded
	}
	return nil
}

const (
	pollIn  = 0x1 // POLLIN
	pollOut = 0x4 // POLLOUT
)

// wait waits until the socket is ready for events, the deadline dl (nil:
// none) passes or the connection is closed: parked on the channel the
// poller (fdpoller_linux.go) closes when the socket is ready, no thread
// held. It looks at the closed state and the deadline at least every
// fdWaitSlice (Close also shuts a used socket down, which wakes it).
func (f *fdConn) wait(events int16, dl *atomic.Int64) error {
	ev := uint32(syscall.EPOLLIN)
	if events == pollOut {
		ev = syscall.EPOLLOUT
	}
	for {
		if f.state.Load()&fdClosed != 0 {
			return net.ErrClosed
		}
		slice := fdWaitSlice
		if d := loadDeadline(dl); d != 0 {
			left := time.Duration(d - time.Now().UnixNano())
			if left <= 0 {
				return os.ErrDeadlineExceeded
			}
			slice = min(slice, left)
		}
		ch, err := fdPoll.await(f.fd, ev)
		if err != nil {
			return os.NewSyscallError("epoll_ctl", err)
		}
		t := time.NewTimer(slice)
		select {
		case <-ch:
			t.Stop()
			return nil // ready, or an error the next read or write reports
		case <-t.C:
			fdPoll.cancel(f.fd, ch)
		}
	}
}

func (f *fdConn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Addr: f.RemoteAddr(), Err: err}
}

// RemoteAddr asks the kernel (nothing calls it on the hot path; the
// connection's ClientInfo keeps the address from accept).
func (f *fdConn) RemoteAddr() net.Addr { return f.kernelAddr(syscall.Getpeername) }

// LocalAddr asks the kernel (nothing calls it on the hot path).
func (f *fdConn) LocalAddr() net.Addr { return f.kernelAddr(syscall.Getsockname) }

// kernelAddr is the address name (getpeername or getsockname) gives for
// the socket, nil once it is closed or on an error.
func (f *fdConn) kernelAddr(name func(fd int) (syscall.Sockaddr, error)) net.Addr {
	if !f.hold() {
		return nil
	}
	defer f.release()
	sa, err := name(int(f.fd))
	if err != nil {
		return nil
	}
	ap, err := netip.ParseAddrPort(sockaddrString(sa))
	if err != nil {
		return nil
	}
	return net.TCPAddrFromAddrPort(ap)
}

func (f *fdConn) SetDeadline(t time.Time) error {
	f.wdl.Store(deadlineNs(t))
	return f.SetReadDeadline(t)
}

// SetReadDeadline fails unless t is zero: see fdConn.
func (f *fdConn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		return nil
	}
	return f.opErr("set", errNoReadDeadline)
}

func (f *fdConn) SetWriteDeadline(t time.Time) error {
	f.wdl.Store(deadlineNs(t))
	return nil
}

func deadlineNs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	if ns := t.UnixNano(); ns > 0 {
		return ns
	}
	return 1 // long past
}

// SyscallConn gives the descriptor to the loop (add) and to inline
// flushes (writeNow) without waiting: syscall.Conn, as net.TCPConn.
func (f *fdConn) SyscallConn() (syscall.RawConn, error) { return fdRaw{f}, nil }

// fdRaw is fdConn's syscall.RawConn. Read and Write call fn once more
// after each wait until it reports done.
type fdRaw struct{ f *fdConn }

func (r fdRaw) Control(fn func(fd uintptr)) error {
	if !r.f.hold() {
		return net.ErrClosed
	}
	fn(uintptr(r.f.fd))
	r.f.release()
	return nil
}

func (r fdRaw) Read(fn func(fd uintptr) bool) error { return r.do(fn, pollIn, nil) }

func (r fdRaw) Write(fn func(fd uintptr) bool) error { return r.do(fn, pollOut, &r.f.wdl) }

func (r fdRaw) do(fn func(fd uintptr) bool, events int16, dl *atomic.Int64) error {
	f := r.f
	if !f.hold() {
		return net.ErrClosed
	}
	defer f.release()
	for !fn(uintptr(f.fd)) {
		if err := f.wait(events, dl); err != nil {
			return err
		}
	}
	return nil
}

// serveRaw is the accept loop of a plain TCP listener whose connections
// the event loop reads (rawAccept): accept4(2) on the listener's
// descriptor, waiting in Go's poller for the listener only, and an
// fdConn for each socket. It reports false, having accepted nothing,
// when it cannot be used (the caller then accepts net.Conns).
func (l *listener) serveRaw() bool {
	tl, ok := l.ln.(*net.TCPListener)
	if !ok {
		return false
	}
	// The listener's own RawConn cannot wait (its Read is EINVAL): a
	// duplicate of its descriptor as an os.File can, in Go's poller.
	// close closes both.
	rcl, err := tl.SyscallConn()
	if err != nil {
		return false
	}
	dfd := -1
	err = rcl.Control(func(fd uintptr) {
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_DUPFD_CLOEXEC, 0)
		if errno == 0 {
			dfd = int(r)
		}
	})
	if err != nil || dfd < 0 {
		return false
	}
	file := os.NewFile(uintptr(dfd), "accept")
	rc, err := file.SyscallConn()
	if err != nil {
		file.Close()
		return false
	}
	b := l.b
	b.mu.Lock()
	var lp *loop
	if !b.shuttingDown { // else close has run or runs without the file
		lp = b.startLoop()
	}
	if lp != nil {
		l.acceptFile.Store(file)
	}
	b.mu.Unlock()
	if lp == nil {
		file.Close()
		return false
	}
	var backoff time.Duration
	for {
		var nfd int
		var sa syscall.Sockaddr
		var aerr error
		err := rc.Read(func(fd uintptr) bool {
			for {
				nfd, sa, aerr = syscall.Accept4(int(fd), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
				// As the net package: a connection reset before it was
				// accepted is skipped.
				if aerr != syscall.EINTR && aerr != syscall.ECONNABORTED {
					return aerr != syscall.EAGAIN
				}
			}
		})
		if err == nil && aerr != nil {
			err = os.NewSyscallError("accept4", aerr)
		}
		if err != nil {
			if l.acceptFile.Load() != file { // closed (poll's "use of closed file")
				return true
			}
			err = &net.OpError{Op: "accept", Net: l.cfg.Network, Addr: l.ln.Addr(), Err: err}
			if !l.acceptFailed(err, &backoff) {
				return true
			}
			continue
		}
		backoff = 0
		l.accept(newFDConn(nfd), sockaddrPeer(sa))
	}
}
