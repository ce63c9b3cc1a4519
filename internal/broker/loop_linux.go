package broker

import (
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// The event loop on Linux (epoll); see loop.go.

type loop struct {
	b    *Broker
	epfd int
	wake [2]int // a pipe: post writes a byte when the loop may be waiting

	mu    sync.Mutex
	posts []loopPost
	woken atomic.Bool // a byte is in the pipe, or the loop is about to take the posts

	trims atomic.Uint64 // connections trimmed (trimIdle), for tests

	// loop goroutine only
	conns     []*conn // by descriptor (a map entry would cost ~30 bytes per connection)
	nconns    int
	events    []syscall.EpollEvent
	pass      uint32
	ready     []*conn // this pass's connections, in the order they became ready
	deferred  []*conn // connections kicked by this pass's handlers (conn.kick)
	more      []*conn // connections to read without waiting for epoll (TLS input held in crypto/tls)
	taken     []loopPost
	raw       []byte // TLS, WebSocket: what a read took from a socket, before decryption or decoding
	plain     []byte // wss: what crypto/tls decrypted, before decoding
	lastSweep int64
	pa        *pubAlloc          // the body of the PUBLISH being handled is in it (nextPacket)
	msgs      uint64             // messages takeMessage handed out (their latency sampling key)
	bodyAlloc func(n int) []byte // the Framer's allocator for PUBLISH bodies (nextPacket)
	rawWait   bool               // wait in raw system calls (loop_raw_linux.go)
	pausing   *pausedPublish     // set by pausePublish for handle
	burst     int                // connections added since memory was last returned (returnMemory)
	lastAdd   int64              // Unix ns: the last connection added
}

// startLoop creates the broker's loop and starts its goroutine. b.mu held,
// not shutting down. nil when epoll is not available.
func (b *Broker) startLoop() *loop {
	b.loopOnce.Do(func() {
		l, err := newLoop(b)
		if err != nil {
			b.cfg.Logger.Warn("event loop not available: one goroutine per connection", "err", err)
			return
		}
		b.loop = l
		b.wg.Add(1)
		go l.run()
	})
	return b.loop
}

// add hands c to the loop; false if it cannot be (then it gets a
// goroutine). c.loopable().
func (l *loop) add(c *conn) bool {
	var sc syscall.Conn
	switch w := c.ws(); {
	case w != nil && w.src != nil: // wss: the socket under TLS
		sc = w.src
	case w != nil:
		sc = w.ws.UnderlyingConn().(*net.TCPConn)
	case c.tlsSrc() != nil: // TLS: the socket under it
		sc = c.tlsSrc()
	default:
		sc = c.netConn().(syscall.Conn)
	}
	fd := -1
	rc, err := sc.SyscallConn()
	if err == nil {
		err = rc.Control(func(s uintptr) { fd = int(s) })
	}
	if err != nil || fd < 0 {
		return false
	}
	if x, ok := c.netConn().(*fdConn); ok && !x.hold() { // the loop's use, until end
		return false
	}
	// The loop reads the socket itself, between its own polls; the fd
	// stays open until finish closes the net.Conn, after the loop let go
	// of it (end).
	c.needFramer()
	c.lp.fd = int32(fd)
	if c.tlsSrc() != nil {
		c.tlsSrc().onLoop = true
		c.lp.more = true // TLS may hold input already
	}
	if c.ws() != nil && c.ws().src != nil {
		c.ws().src.onLoop = true
		c.lp.more = true
	}
	c.flags.set(flagOnLoop)
	l.post(loopPost{c: c, kind: postAdd})
	return true
}

// post hands the loop something to do. Any goroutine, any locks held.
func (l *loop) post(p loopPost) {
	l.mu.Lock()
	l.posts = append(l.posts, p)
	l.mu.Unlock()
	if l.woken.CompareAndSwap(false, true) {
		_, _ = syscall.Write(l.wake[1], []byte{1})
	}
}

// run is the loop's goroutine.
func (l *loop) run() {
	defer l.b.wg.Done()
	defer l.closeFDs()
	timeout := int(sweepEvery / time.Millisecond)
	for {
		n := l.poll(timeout)
		timeout = int(sweepEvery / time.Millisecond)
		now := time.Now().UnixNano()
		l.pass++
		l.ready = l.ready[:0]
		l.takePosts(now)
		if l.finished() {
			return
		}
		if l.gather(n, now) {
			timeout = 0 // posts arrived during the gather
		}
		l.handlePass(now)
		l.flush()
		if now-l.lastSweep >= int64(sweepEvery) {
			l.lastSweep = now
			l.rawWait = rawWaitOK()
			l.sweep(now)
		}
	}
}

// finished reports whether the loop can end: the broker shuts down and
// every connection has ended.
func (l *loop) finished() bool {
	select {
	case <-l.b.done:
	default:
		return false
	}
	if l.nconns > 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.posts) == 0
}

// poll waits up to timeout ms for events.
func (l *loop) poll(timeout int) int {
	for {
		var n int
		var err error
		switch {
		case l.rawWait && timeout <= rawWaitMs: // loop_raw_linux.go
			n, err = epollWaitRaw(l.epfd, l.events, timeout)
			if err == syscall.EINTR {
				runtime.Gosched() // the runtime wants the P: a GC, or sysmon
				continue
			}
		case l.rawWait:
			n, err = epollWaitRaw(l.epfd, l.events, rawWaitMs)
			if err == syscall.EINTR {
				runtime.Gosched()
				continue
			}
			if err == nil && n == 0 {
				n, err = syscall.EpollWait(l.epfd, l.events, timeout-rawWaitMs)
			}
		default:
			n, err = syscall.EpollWait(l.epfd, l.events, timeout)
		}
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			l.b.cfg.Logger.Error("epoll_wait failed", "err", err)
			time.Sleep(10 * time.Millisecond) // never spin
			return 0
		}
		return n
	}
}

// takePosts does what other goroutines posted.
func (l *loop) takePosts(now int64) {
	if !l.woken.Load() {
		return // nothing posted since the last take
	}
	var b [64]byte
	for {
		n, _ := syscall.Read(l.wake[0], b[:])
		if n < len(b) {
			break
		}
	}
	l.woken.Store(false) // a post from now on writes the pipe again
	l.mu.Lock()
	l.taken, l.posts = l.posts, l.taken[:0]
	l.mu.Unlock()
	for i, p := range l.taken {
		l.taken[i] = loopPost{}
		c := p.c
		switch p.kind {
		case postAdd:
			l.setConn(int(c.lp.fd), c)
			l.burst++
			l.lastAdd = now
			if c.isClosing() {
				l.end(c, nil)
				continue
			}
			l.watch(c)
			if c.lp.more {
				l.more = append(l.more, c)
			}
		case postClose:
			if c.lp.dead {
				continue
			}
			if c.lp.paused {
				c.lp.closing = true // awaitRoom returns at once, then ends it
				continue
			}
			l.end(c, nil)
		case postResume:
			c.lp.paused = false
			if c.lp.dead {
				continue
			}
			if c.lp.closing || c.isClosing() {
				l.end(c, nil)
				continue
			}
			c.lp.lastPkt = now
			l.watch(c)
			// Its input is older than anything gathered now: first.
			l.markReady(c)
			if c.tlsSrc() != nil || c.ws() != nil {
				c.lp.more = true // TLS or the frame decoder may hold input
				l.more = append(l.more, c)
			}
		}
	}
}

// gather reads the ready connections (step 1 above); it reports whether
// posts arrived meanwhile.
func (l *loop) gather(n int, now int64) (posted bool) {
	more := l.more
	l.more = nil
	for _, c := range more {
		c.lp.more = false
		if !c.lp.dead && !c.lp.paused && c.lp.rerr == nil {
			l.markReady(c)
			l.read(c)
		}
	}
	if l.more == nil {
		l.more = more[:0] // keep the array
	}
	for polls := 1; ; polls++ {
		got := false
		for i := 0; i < n; i++ {
			fd := int(l.events[i].Fd)
			if fd == l.wake[0] {
				posted = true
				continue
			}
			c := l.conn(fd)
			if c == nil || c.lp.dead || c.lp.paused || c.lp.rerr != nil {
				continue
			}
			l.markReady(c)
			if l.read(c) {
				got = true
			}
		}
		if !got || polls == maxGather {
			return posted
		}
		n = l.poll(0)
	}
}

func (l *loop) markReady(c *conn) {
	if c.lp.pass != l.pass {
		c.lp.pass = l.pass
		l.ready = append(l.ready, c)
	}
}

// read reads once from c into its Framer; it reports whether it got bytes.
func (l *loop) read(c *conn) bool {
	if c.ws() != nil {
		return l.readWS(c)
	}
	if c.tlsSrc() != nil {
		return l.readTLS(c)
	}
	c.needFramer()
	sp := c.fr.Space()
	if len(sp) == 0 {
		return false // its buffer is full (or a framing error waits)
	}
	n, err := readSocket(c, sp)
	if n > 0 {
		c.fr.Commit(n)
		return true
	}
	if err == nil {
		c.fr.Release() // nothing buffered: hold no buffer
		return false
	}
	c.lp.setReadErr(err) // after its input is handled
	l.unwatch(c)         // level-triggered: it would be ready for ever
	return false
}

// readSocket reads once from c's socket into p, counting the bytes. No
// bytes and no error: nothing to read now. The socket's end is io.EOF.
func readSocket(c *conn, p []byte) (int, error) {
	n, err := readRaw(int(c.lp.fd), p) // never blocks (loop_raw_linux.go)
	switch {
	case n > 0:
		c.b.stats.bytesReceived.Add(int64(n))
		return n, nil
	case err == syscall.EAGAIN || err == syscall.EINTR:
		return 0, nil
	case err == nil:
		return 0, io.EOF
	}
	return 0, os.NewSyscallError("read", err)
}

// fillSource reads once from the socket under TLS source s when TLS has
// used up what was read before, into the loop's scratch buffer (what TLS
// leaves of it must be copied before the next read: keepSource).
func (l *loop) fillSource(c *conn, s *tlsSource) {
	if len(s.in) > 0 || s.err != nil {
		return
	}
	if l.raw == nil {
		l.raw = make([]byte, 64<<10)
	}
	n, err := readSocket(c, l.raw)
	s.in, s.err = l.raw[:n], err
}

// keepSource copies what TLS left in s of the loop's scratch buffer.
func keepSource(s *tlsSource) {
	if len(s.in) > 0 {
		s.in = append([]byte(nil), s.in...)
	}
}

// readTLS reads once from c's socket and decrypts what crypto/tls can
// into c's Framer; it reports whether it got plaintext. When the Framer
// fills up first, what is left (in crypto/tls or in c.tlsSrc()) is read at the
// next pass without waiting for epoll (loop.more).
func (l *loop) readTLS(c *conn) bool {
	s := c.tlsSrc()
	c.needFramer()
	l.fillSource(c, s)
	got := false
	for {
		sp := c.fr.Space()
		if len(sp) == 0 {
			c.lp.more = true
			l.more = append(l.more, c)
			break
		}
		n, err := c.netConn().Read(sp) // crypto/tls, from s
		if n > 0 {
			c.fr.Commit(n)
			got = true
		}
		if err == errWouldBlock {
			break
		}
		if err != nil {
			c.lp.setReadErr(err) // after its input is handled
			l.unwatch(c)
			break
		}
	}
	keepSource(s)
	if !got {
		c.fr.Release()
	}
	return got
}

// readWS reads c's socket (through TLS for wss) and decodes the frames
// into c's Framer; it reports whether payload arrived. What the Framer
// cannot take yet is kept and decoded at the next pass (loop.more).
func (l *loop) readWS(c *conn) bool {
	w := c.ws()
	w.got = false
	c.needFramer()
	for i := 0; i < 16 && w.err == nil; i++ {
		in := w.pending
		w.pending = nil
		if len(in) == 0 {
			if in = l.wsInput(c); len(in) == 0 {
				break
			}
		}
		rest, err := w.decode(in, c.fr)
		if err != nil {
			w.err = err
			break
		}
		if len(rest) > 0 {
			w.pending = append([]byte(nil), rest...) // in may be l.raw
			c.lp.more = true
			l.more = append(l.more, c)
			break
		}
		if w.src == nil {
			break // plain: one read; epoll reports what is left
		}
	}
	if w.err != nil && len(w.pending) == 0 {
		c.lp.setReadErr(w.err) // after its input is handled
		l.unwatch(c)
	}
	if w.src != nil {
		keepSource(w.src)
	}
	if !w.got {
		c.fr.Release()
	}
	return w.got
}

// wsInput returns the next bytes of c's WebSocket stream: one socket
// read, or for wss what crypto/tls decrypts from it; nil when none (or
// the input ended: w.err).
func (l *loop) wsInput(c *conn) []byte {
	w := c.ws()
	if w.src == nil {
		if l.raw == nil {
			l.raw = make([]byte, 64<<10)
		}
		n, err := readSocket(c, l.raw)
		w.err = err
		return l.raw[:n]
	}
	l.fillSource(c, w.src)
	if l.plain == nil {
		l.plain = make([]byte, 16<<10)
	}
	n, err := w.tc.Read(l.plain)
	if err != nil && err != errWouldBlock && n == 0 {
		w.err = err
	}
	return l.plain[:n]
}

// handlePass handles the gathered input (step 2 above).
func (l *loop) handlePass(now int64) {
	for _, c := range l.ready {
		if c.fr != nil && c.fr.Holds(loopFirst) {
			l.handle(c, now)
		}
	}
	for _, c := range l.ready {
		l.handle(c, now)
	}
	clear(l.ready)
}

// handle handles c's complete packets, once per pass.
func (l *loop) handle(c *conn, now int64) {
	if c.lp.handled == l.pass || c.lp.dead || c.lp.paused {
		return
	}
	c.lp.handled = l.pass
	c.lp.handling = true // deferredList: l.deferred
	prev := c.lp.lastPkt
	err := c.loopPackets(now)
	c.lp.handling = false
	c.observeFlush()
	switch {
	case err == errPaused:
		l.unwatch(c)
		c.lp.paused = true
		pp := l.pausing
		l.pausing = nil
		go c.awaitRoom(pp)
	case err != nil || c.isClosing():
		l.end(c, err)
	case c.lp.lastPkt != prev: // packets handled
		c.lp.trimmed = false
		if c.started && now-prev >= int64(rareGap) && c.dropFramer() {
			c.lp.rare = true // flush drops its queue's arrays
			if c.sess != nil {
				// And its QoS state if it holds nothing now, e.g. after
				// the PUBACK of a subscriber that gets a message a second.
				c.sess.trimIdle()
			}
		}
	}
}

// deferredList is the list of the connections kicked by this pass's
// handlers (conn.deferredList).
func (l *loop) deferredList() *[]*conn { return &l.deferred }

// flush writes what the pass queued (step 3 above).
func (l *loop) flush() {
	list := l.deferred
	for i, x := range list {
		list[i] = nil
		x.flushInline()
		if x.lp.rare {
			x.lp.rare = false
			x.dropQueueArrays()
		}
	}
	l.deferred = list[:0]
	if cap(l.deferred) > 4096 {
		l.deferred = nil // do not keep a burst's array for ever
	}
}

// sweep closes the connections whose connect or keep alive time is over,
// trims the idle ones and returns memory after a burst of connections.
func (l *loop) sweep(now int64) {
	defer l.afterBurst(now)
	cfg := l.b.cfg
	for _, c := range l.conns {
		if c == nil || c.lp.dead || c.lp.paused {
			continue
		}
		if !c.lp.trimmed && now-c.lp.lastPkt > int64(trimAfter) && c.trimIdle() {
			l.trims.Add(1)
		}
		switch {
		case !c.started:
			if now-c.lp.lastPkt > int64(cfg.ConnectTimeout) {
				l.end(c, os.ErrDeadlineExceeded) // classify: connect timeout
			}
		case c.keepAlive > 0:
			// [MQTT-3.1.2-24] one and a half times the keep alive.
			if now-c.lp.lastPkt > int64(c.keepAliveDur()*3/2) {
				l.end(c, os.ErrDeadlineExceeded) // classify: keep alive timeout
			}
		}
	}
}

// end takes c out of the loop and closes it: err (nil when it is
// closing already) says why. The rest of the close runs on a goroutine.
func (l *loop) end(c *conn, err error) {
	if c.lp.dead {
		return
	}
	c.lp.dead = true
	l.unwatch(c)
	l.conns[c.lp.fd] = nil
	l.nconns--
	if x, ok := c.netConn().(*fdConn); ok {
		x.release() // finish closes it (after a forced Close: now)
	}
	if c.fr != nil {
		c.fr.Release()
	}
	c.closeFor(err)
	go c.finish()
}

func (l *loop) watch(c *conn) {
	if c.lp.polled || c.lp.rerr != nil {
		return
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: c.lp.fd}
	if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, int(c.lp.fd), &ev); err != nil {
		l.b.cfg.Logger.Error("epoll_ctl add failed", "remote", c.remote(), "err", err)
		l.end(c, err)
		return
	}
	c.lp.polled = true
}

func (l *loop) unwatch(c *conn) {
	if !c.lp.polled {
		return
	}
	c.lp.polled = false
	_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, int(c.lp.fd), nil)
}

func newLoop(b *Broker) (*loop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	l := &loop{b: b, epfd: epfd, events: make([]syscall.EpollEvent, 256), rawWait: rawWaitOK()}
	if err := syscall.Pipe2(l.wake[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(epfd)
		return nil, os.NewSyscallError("pipe2", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(l.wake[0])}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, l.wake[0], &ev); err != nil {
		l.closeFDs()
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	return l, nil
}

func (l *loop) closeFDs() {
	syscall.Close(l.epfd)
	syscall.Close(l.wake[0])
	syscall.Close(l.wake[1])
}

// conn returns the connection on descriptor fd, or nil.
func (l *loop) conn(fd int) *conn {
	if fd < len(l.conns) {
		return l.conns[fd]
	}
	return nil
}

func (l *loop) setConn(fd int, c *conn) {
	if fd >= len(l.conns) {
		n := max(2*len(l.conns), fd+1, 64)
		l.conns = append(l.conns, make([]*conn, n-len(l.conns))...)
	}
	l.conns[fd] = c
	l.nconns++
}

// afterBurst starts returnMemory after a burst of connections (sweep).
func (l *loop) afterBurst(now int64) {
	if l.burst < burstConns || now-l.lastAdd < int64(burstQuiet) {
		return
	}
	l.burst = 0
	if returningMemory.CompareAndSwap(false, true) {
		go returnMemory()
	}
}

// nextPacket is c's next complete packet (loop goroutine): a PUBLISH
// body of at most pubInline bytes is put in a pubAlloc, whose message
// takeMessage hands to handlePublish.
func (l *loop) nextPacket(c *conn) (mqtt.Packet, error) {
	l.pa = nil
	if l.bodyAlloc == nil {
		l.bodyAlloc = func(n int) []byte {
			if n > pubInline {
				return make([]byte, n)
			}
			pa := pubPool.Get().(*pubAlloc)
			l.pa = pa
			return pa.buf[:n:n]
		}
	}
	return c.fr.NextAlloc(l.bodyAlloc)
}

// takeMessage returns the message allocated with the body of the PUBLISH
// being handled, nil if it has none (loop goroutine), and its number:
// the loop's count of the messages it took.
func (l *loop) takeMessage() (*message, uint64) {
	pa := l.pa
	if pa == nil {
		return nil, 0
	}
	l.pa = nil
	l.msgs++
	return &pa.m, l.msgs
}
