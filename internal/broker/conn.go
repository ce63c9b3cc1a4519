package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/mqkit/mqkit/internal/mqtt"
	"github.com/mqkit/mqkit/internal/wsconn"
)

// conn is one network connection. A plain TCP connection is read by the
// broker's event loop (loop.go), which decodes and handles its packets;
// it has no goroutine of its own. Any other connection (TLS, WebSocket,
// PROXY, ServeConn) has a goroutine (serve/readLoop) that only waits for
// input, on a small stack; the packets that arrive are decoded and
// handled in order by a read job on a shared worker (workers.go) while
// the connection's goroutine waits for it. Writes are done by one write
// job at a time (writeJob), started when something is queued and ended
// when the queue is empty, or inline at the end of a read job or loop
// pass (flushInline), so an idle connection holds no buffers.
//
// Fields are owned as marked: "reader" fields are used only by the reader
// (the event loop, or the connection's goroutine and its read jobs, one
// at a time; set during CONNECT, before the conn becomes reachable from a
// session), "writer" fields only by the write job holding wmu, the queue
// by qmu.
type conn struct {
	b   *Broker
	lis *listener
	// x: what a connection other than a bare socket of the event loop
	// (fdConn) needs; nil for those (issue 17: an idle connection's
	// memory). Set by newConn, never changed.
	x *connExtra

	// reader
	fr          *mqtt.Framer // event loop: input (nil on the goroutine path)
	lp          loopConn     // event loop: the loop's own fields (loop.go)
	sess        *session
	info        *ClientInfo // before CONNECT: nil, or the PROXY header's certificate (readProxy)
	aliasesIn   map[uint16]string
	problemInfo bool // v5 Request Problem Information (default 1)
	started     bool // CONNECT handled
	// set during CONNECT, read-only afterwards (with the fields below;
	// placed here to fill the padding before the atomics)
	version mqtt.Version
	bridge  bool // 3.1/3.1.1 CONNECT with mosquitto's try_private bit
	// flags: onLoop, connected, closing, resumed and writing (connFlags).
	flags connFlags

	// set during CONNECT, read-only afterwards; published by connected.
	sendWindow  int32  // outgoing QoS 1/2 inflight limit for this client
	maxOut      uint32 // client's Maximum Packet Size (0 = none)
	aliasMaxOut uint16 // client's Topic Alias Maximum
	keepAlive   uint16 // seconds, 0 = none (keepAliveDur)

	// writer's plain flags (with closed, a queue flag), here in what
	// would be padding before will.
	tcp      bool // plain TCP: inline flushes (flushInline) possible
	nonblock bool // an inline flush is writing (writeNow)
	wfailed  bool // a write failed: write no more
	closed   bool // queue: guarded by qmu, not a writer field

	will atomic.Pointer[mqtt.Will] // cleared by a normal DISCONNECT

	// outbound queue (see conn_write.go), under qmu: nil while nothing
	// is queued or waited for, once the loop found the connection idle
	// (trimIdle) or it is rare (loop.go).
	qmu sync.Mutex
	oq  *outQueue
	// closed (under qmu) is with the writer's flags above, to save padding.

	// writer (its flags are above; writing is in flags)
	wmu sync.Mutex // held by the write job (and the final flush)
	w   writerState

	// closeCode is the v5 DISCONNECT close queued (0: none), for the flow
	// view; it and reason (a CloseReason, set once by close: closeReason)
	// take the padding before closeState (TestConnSizeClass).
	closeCode mqtt.ReasonCode
	reason    uint8
	// closeState is close's sync.Once in 4 bytes instead of 12 (issue 17):
	// closeOpen, closeRunning, closeDone.
	closeState atomic.Uint32

	// sock is the socket of a connection the loop reads (nc is &sock),
	// made with the conn by newFDConn; unused otherwise. Last, so that
	// the fields above keep their padding.
	sock fdConn
}

// netConn is c's net.Conn: its own socket (sock) when the loop reads it
// raw, else x.nc. Not a field: the 16 bytes of an interface are the
// difference between two size classes (issue 17).
func (c *conn) netConn() net.Conn {
	if c.x == nil {
		return &c.sock
	}
	return c.x.nc
}

// connOf is the conn f was made in by newFDConn (every fdConn is).
func (f *fdConn) connOf() *conn {
	// f is &c.sock: stepping back by the field's offset stays inside c's
	// allocation (unsafe.Pointer rule 3; -race's checkptr verifies it).
	return (*conn)(unsafe.Add(unsafe.Pointer(f), -int(unsafe.Offsetof(conn{}.sock))))
}

const (
	closeOpen    = iota // close has not been called
	closeRunning        // the first close call is running
	closeDone           // it returned
)

// connExtra is what a connection needs that a bare socket read by the
// event loop (fdConn) does not.
type connExtra struct {
	nc net.Conn // the connection's net.Conn (netConn)
	// deferred: during a read job on a worker, the worker's list of
	// connections to flush (kick); on the loop, deferredList gives the
	// loop's.
	deferred *[]*conn
	g        *goReader  // goroutine path: its reader (nil on the loop)
	src      *tlsSource // TLS that can join the loop: the socket under it (loop_tls.go)
	wsIn     *wsIn      // WebSocket the loop can read: its frame decoder (loop_ws.go)
}

// outQueue is a connection's outbound queue (conn_write.go) and the
// channels of those waiting on it, under conn.qmu.
type outQueue struct {
	items  []outItem
	spare  []outItem
	bytes  int64         // queued bytes (items' size)
	pubs   int           // QoS 0 publishes in items
	room   chan struct{} // closed when publishers waiting for room may go on (flow.go)
	closed chan struct{} // closed when the connection closes; made by closingChan
	// first is items' array when the queue is made (queue): a CONNACK, a
	// PUBACK or a rare client's one delivery costs one allocation, not
	// two. It also keeps outQueue (144 bytes) out of ClientInfo's size
	// class: outQueues made while clients connect and dropped when they
	// go idle would leave holes among the ClientInfos (issue 17).
	first [1]outItem
}

// Nil-safe readers, as sessOut's: a nil outQueue is empty.

// qos0 returns the QoS 0 publishes queued and the queue's bytes.
func (q *outQueue) qos0() (pubs int, bytes int64) {
	if q == nil {
		return 0, 0
	}
	return q.pubs, q.bytes
}

func (q *outQueue) empty() bool { return q == nil || len(q.items) == 0 }

// queue returns c's outQueue, making it. qmu held.
func (c *conn) queue() *outQueue {
	if c.oq == nil {
		q := new(outQueue)
		// Only a new queue takes first: drain may still be writing an
		// array it took from an older one.
		q.items = q.first[:0]
		c.oq = q
	}
	return c.oq
}

// peerAddr is a client's address as accept has it: an IPv4 address and
// port kept as they are, with no string made (issue 17), or any other as
// text; the zero value asks the socket.
type peerAddr struct {
	ip4  netip.AddrPort
	text string
}

// newConn makes the connection of nc; remote is the client's address
// (zero: ask nc). The ClientInfo is made here, holding the address (and
// any certificate name of a PROXY header) until CONNECT fills it in.
func newConn(b *Broker, nc net.Conn, lis *listener, remote peerAddr) *conn {
	var c *conn
	if f, ok := nc.(*fdConn); ok {
		c = f.connOf() // made with it: newFDConn
	} else {
		c = new(conn)
	}
	c.b, c.lis, c.problemInfo, c.info = b, lis, true, new(ClientInfo)
	switch {
	case remote.ip4.Addr().Is4():
		c.info.ip4, c.info.port, c.info.isIP4 = remote.ip4.Addr().As4(), remote.ip4.Port(), true
	case remote.text != "":
		c.info.SetRemoteAddr(remote.text)
	default:
		if a := nc.RemoteAddr(); a != nil {
			c.info.SetRemoteAddr(a.String())
		}
	}
	c.lp.lastPkt = time.Now().UnixNano() // accepted: the connect timeout counts from here
	if _, ok := nc.(*fdConn); ok {       // accepted for the loop (fdconn_linux.go)
		c.tcp = true
		return c
	}
	c.x = &connExtra{nc: nc}
	switch x := nc.(type) {
	case *net.TCPConn:
		c.tcp = true
	case *tls.Conn:
		c.x.src, _ = x.NetConn().(*tlsSource)
	case *wsconn.Conn:
		c.x.wsIn = newWSIn(x)
	}
	return c
}

// clientID is the client's identifier: "" before CONNECT (c.info holds
// it, set at the start of handleConnect).
func (c *conn) clientID() string {
	if ci := c.info; ci != nil {
		return ci.ClientID
	}
	return ""
}

// remote is the client's address (PROXY: the one in the header).
func (c *conn) remote() string {
	if ci := c.info; ci != nil {
		return ci.RemoteAddr()
	}
	return ""
}

// mount is the listener's MountPoint (mount.go), "" = none.
func (c *conn) mount() string {
	if c.lis == nil { // a test's conn
		return ""
	}
	return c.lis.cfg.MountPoint
}

// tlsSrc is the socket under a TLS connection that can join the loop
// (loop_tls.go), or nil.
func (c *conn) tlsSrc() *tlsSource {
	if c.x == nil {
		return nil
	}
	return c.x.src
}

// ws is the frame decoder of a WebSocket connection the loop can read
// (loop_ws.go), or nil.
func (c *conn) ws() *wsIn {
	if c.x == nil {
		return nil
	}
	return c.x.wsIn
}

// closeReason is the reason close recorded (after close).
func (c *conn) closeReason() CloseReason { return CloseReason(c.reason) }

// keepAliveDur is the keep alive in force (0 = none).
func (c *conn) keepAliveDur() time.Duration { return time.Duration(c.keepAlive) * time.Second }

// setInputVersion sets the protocol version the input is decoded with.
func (c *conn) setInputVersion(v mqtt.Version) {
	if c.x != nil && c.x.g != nil {
		c.x.g.r.Version = v
	}
	if c.fr != nil {
		c.fr.Version = v
	}
}

// goReader is the reader of a connection with a goroutine of its own.
type goReader struct {
	r            *mqtt.Reader
	jobErr       error          // result of the last read or handshake job
	jobDone      sync.WaitGroup // the connection's goroutine waits for its job
	readDeadline int64          // the keep alive deadline last set, Unix ns (0: none)
	deadlineOff  bool           // keep alive 0: the read deadline is cleared
}

// countingReader counts received bytes for $SYS.
type countingReader struct{ c *conn }

func (cr countingReader) Read(p []byte) (int, error) {
	n, err := cr.c.netConn().Read(p)
	cr.c.b.stats.bytesReceived.Add(int64(n))
	return n, err
}

// closeError ends the read loop with a reason and, for v5 clients, the
// DISCONNECT reason code to send.
type closeError struct {
	reason CloseReason
	code   mqtt.ReasonCode
	err    error
}

func (e *closeError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%s: %v", e.reason, e.err)
	}
	return e.reason.String()
}

func (e *closeError) Unwrap() error { return e.err }

// protocolErr closes the connection for a protocol violation; v5 clients
// get DISCONNECT with code.
func protocolErr(code mqtt.ReasonCode, format string, args ...any) error {
	return &closeError{reason: CloseProtocolError, code: code, err: fmt.Errorf(format, args...)}
}

// serve is the connection's goroutine, for the whole life of the
// connection.
func (c *conn) serve() {
	c.x.g = &goReader{r: mqtt.NewReader(countingReader{c}, c.b.cfg.MaxPacketSize)}
	err := c.readLoop()
	if err == errOnLoop {
		return // the loop has it now, and ends it (finish)
	}
	defer c.b.wg.Done()
	c.closeFor(err)
	c.flushAtClose()
	// The socket is closed only after the session is detached and the
	// will handled: a client that sees the close sees settled state.
	c.b.connGone(c)
	_ = c.netConn().SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	c.netConn().Close()
}

// classify turns a read error into a close reason.
func (c *conn) classify(err error) *closeError {
	var me *mqtt.Error
	var ne net.Error
	switch {
	case c.isClosing():
		return &closeError{reason: CloseNone, err: err} // close already recorded
	case errors.As(err, &me):
		return &closeError{reason: CloseProtocolError, code: mqtt.CodeOf(err), err: err}
	case errors.As(err, &ne) && ne.Timeout():
		if !c.flags.has(flagConnected) {
			return &closeError{reason: CloseConnectTimeout, err: err}
		}
		return &closeError{reason: CloseKeepAlive, code: mqtt.KeepAliveTimeout, err: err}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET):
		return &closeError{reason: CloseNetwork, err: err}
	}
	return &closeError{reason: CloseNetwork, err: err}
}

func (c *conn) isClosing() bool { return c.flags.has(flagClosing) }

// closingChan returns a channel closed when c closes. It is made only when
// someone waits (flow.wait), so an idle connection holds none.
func (c *conn) closingChan() <-chan struct{} {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.flags.has(flagClosing) {
		return closedChan
	}
	q := c.queue()
	if q.closed == nil {
		q.closed = make(chan struct{})
	}
	return q.closed
}

// closedChan is a closed channel.
var closedChan = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

// readLoop waits for input and hands it to read jobs until the
// connection fails or closes. Everything deeper than a socket read runs
// on a worker, so this goroutine's stack stays at its minimum size.
func (c *conn) readLoop() error {
	deadline := time.Now().Add(c.b.cfg.ConnectTimeout)
	if err := c.netConn().SetReadDeadline(deadline); err != nil {
		return err
	}
	if c.lis.proxyFirst() {
		// The PROXY header comes first, before any TLS handshake
		// (proxy.go), within the connect timeout.
		if err := c.runJob(jobProxy); err != nil {
			return err
		}
	}
	if tc, ok := c.netConn().(*tls.Conn); ok {
		// The handshake (reads and writes) is bounded by the connect timeout.
		_ = tc.SetDeadline(deadline)
		if err := c.runJob(jobHandshake); err != nil {
			return err
		}
		if c.x.src != nil && c.b.loop != nil && !c.isClosing() {
			// Encrypted, the rest of the connection is read by the loop
			// (loop_tls.go).
			_ = c.netConn().SetReadDeadline(time.Time{})
			g := c.x.g
			c.x.g = nil
			if c.b.loop.add(c) {
				return errOnLoop
			}
			c.x.g = g
		}
	}
	for {
		if c.isClosing() {
			return nil
		}
		if err := c.x.g.r.Fill(); err != nil {
			return err
		}
		if err := c.runJob(jobRead); err != nil {
			return err
		}
	}
}

// runJob runs a read, handshake or proxy job on a worker and waits for it.
func (c *conn) runJob(k jobKind) error {
	c.x.g.jobDone.Add(1)
	c.b.workers.submit(job{c: c, kind: k})
	c.x.g.jobDone.Wait()
	return c.x.g.jobErr
}

func (c *conn) handshake() error {
	if err := c.netConn().(*tls.Conn).Handshake(); err != nil {
		return &closeError{reason: CloseNetwork, err: err}
	}
	return nil
}

// readJob handles the buffered input (a read job; goroutine path).
func (c *conn) readJob() error {
	err := c.handleBuffered()
	c.observeFlush()
	c.flushDeferred()
	return err
}

// handleBuffered reads and handles packets while input is buffered (a
// read job). A packet only partly received is read to its end here, after
// the replies to the packets before it are written: every complete
// packet is answered at once, whatever follows it.
func (c *conn) handleBuffered() error {
	for {
		p, err := c.x.g.r.ReadPacket()
		if err != nil {
			return c.inputErr(err)
		}
		if err := c.process(p); err != nil {
			return err
		}
		if c.isClosing() {
			return nil
		}
		if err := c.armDeadline(); err != nil {
			return err
		}
		if c.x.g.r.Buffered() == 0 {
			return nil
		}
		if !c.x.g.r.HasPacket() {
			c.observeFlush()
			c.flushDeferred()
		}
	}
}

// process handles one packet (reader only): CONNECT first, then the rest.
func (c *conn) process(p mqtt.Packet) error {
	if c.started {
		c.b.stats.msgsReceived.Add(1)
		return c.handle(p)
	}
	cp, ok := p.(*mqtt.Connect)
	if !ok {
		// The first packet MUST be CONNECT [MQTT-3.1.0-1].
		return protocolErr(0, "first packet is %s, not CONNECT", p.Type())
	}
	if err := c.handleConnect(cp); err != nil {
		return err
	}
	c.started = true
	return nil
}

// inputErr turns an error reading or decoding the input into the error
// that ends the connection.
func (c *conn) inputErr(err error) error {
	if !c.started && errors.Is(err, mqtt.ErrUnsupportedVersion) {
		// [MQTT-3.1.2-2] unacceptable protocol level: CONNACK 0x01
		// in the 3.1.1 format, then close.
		c.enqueuePacket(&mqtt.Connack{Code: mqtt.UnsupportedProtocolVersion}, c)
		c.b.metrics.refused[mqtt.UnsupportedProtocolVersion].Add(1) // /metrics
		return &closeError{reason: CloseConnectRefused, err: err}
	}
	return err
}

// armDeadline sets the read deadline for the next packet.
func (c *conn) armDeadline() error {
	if c.keepAlive == 0 {
		if c.x.g.deadlineOff {
			return nil
		}
		c.x.g.deadlineOff = true
		return c.netConn().SetReadDeadline(time.Time{})
	}
	// [MQTT-3.1.2-24] one and a half times the keep alive.
	d := time.Now().Add(c.keepAliveDur() * 3 / 2)
	c.x.g.readDeadline = d.UnixNano()
	return c.netConn().SetReadDeadline(d)
}

// kick makes sure the queue gets written; push calls it after queueing.
// by is the connection whose read job is running on this goroutine (nil:
// none, or unknown). With by, the write is deferred to the end of that
// job (flushDeferred), which writes everything the job queued for c in
// one system call on the job's own goroutine: no hand-off to a write job,
// which is what publish->deliver latency and small batches pay for.
// Without by, a write job is started.
func (c *conn) kick(by *conn) {
	if !c.flags.testAndSet(flagWriting) {
		return // a write job or a deferred flush will see the item
	}
	var list *[]*conn
	if by != nil && c.tcp {
		list = by.deferredList()
	}
	if list == nil {
		c.b.workers.submit(job{c: c, kind: jobWrite})
		return
	}
	*list = append(*list, c)
}

// deferredList is the list of the connections whose writes c's running
// read job defers (kick): its loop's or its worker's; nil outside a read
// job. Only c's reader calls it. (Not a conn field: issue 17, an idle
// connection's memory.)
func (c *conn) deferredList() *[]*conn {
	if c.lp.handling {
		return c.b.loop.deferredList()
	}
	if c.x != nil {
		return c.x.deferred
	}
	return nil
}

// flushDeferred writes the queues of the connections kicked during this
// read job (reader only). It runs at the end of every read job and
// before the job waits for anything (flow.wait), so a deferred write never
// waits for the reader.
func (c *conn) flushDeferred() {
	dl := c.deferredList()
	if dl == nil {
		return
	}
	list := *dl
	for i, x := range list {
		list[i] = nil
		x.flushInline()
	}
	*dl = list[:0]
}

// flushInline writes c's queue on the calling goroutine without ever
// waiting for the socket: what the socket does not take at once stays in
// the writer's backlog for a write job, so a slow or silent subscriber
// cannot hold up the publisher's reader. writing is set (by kick).
func (c *conn) flushInline() {
	if !c.wmu.TryLock() {
		// The final flush after close holds wmu: leave it to a job.
		c.b.workers.submit(job{c: c, kind: jobWrite})
		return
	}
	c.nonblock = true
	err := c.flushQueue()
	c.nonblock = false
	backlog := c.w.bw != nil // kept only while it holds a backlog
	c.wmu.Unlock()
	switch {
	case err != nil:
		c.writeFailed(err) // writing stays set: no more writes
	case backlog:
		c.b.workers.submit(job{c: c, kind: jobWrite})
	default:
		c.writeDone(false)
	}
}

// writeJob writes the backlog and drains the queue, then ends. It runs
// alone: writing is set from kick to its end.
func (c *conn) writeJob() {
	for {
		c.wmu.Lock()
		err := c.flushQueue()
		c.wmu.Unlock()
		if err != nil {
			c.writeFailed(err)
			return // writing stays set: no more write jobs
		}
		if !c.writeDone(true) {
			return
		}
	}
}

// writeDone clears writing after a flush. A push after the flush's last
// look at the queue may have found writing still set and started
// nothing: if something is queued and writing can be set again, again
// reports true (to a write job, which loops) or a write job is started.
func (c *conn) writeDone(again bool) bool {
	c.flags.clear(flagWriting)
	c.qmu.Lock()
	more := !c.oq.empty()
	c.qmu.Unlock()
	if !more || !c.flags.testAndSet(flagWriting) {
		return false
	}
	if !again {
		c.b.workers.submit(job{c: c, kind: jobWrite})
	}
	return true
}

// flushQueue writes the backlog and everything queued unless a write
// failed before. wmu held.
func (c *conn) flushQueue() error {
	if c.wfailed {
		return nil
	}
	if err := c.writeBacklog(); err != nil {
		c.wfailed = true
		return err
	}
	if _, err := c.drain(); err != nil {
		c.wfailed = true
		return err
	}
	return nil
}

// flushAtClose writes what was queued before close (nothing is queued after
// it), after any running write job; close bounds the time it takes.
func (c *conn) flushAtClose() {
	c.wmu.Lock()
	_ = c.flushQueue()
	c.wmu.Unlock()
}

// rawWriter writes to the socket, counting bytes.
type rawWriter struct{ c *conn }

func (w rawWriter) Write(p []byte) (int, error) { return w.c.writeRaw(p) }

// certCommonName returns the CN of a verified client certificate: the
// one of our TLS handshake, or, on a PROXY listener without TLS, the one
// the proxy verified (a v2 SSL TLV, proxy.go).
func (c *conn) certCommonName() string {
	var st tls.ConnectionState
	switch nc := c.netConn().(type) {
	case *tls.Conn:
		st = nc.ConnectionState()
	case *wsconn.Conn:
		if nc.TLS == nil {
			if pc, ok := nc.WebSocket().UnderlyingConn().(*proxyConn); ok {
				return pc.cn
			}
			return ""
		}
		st = *nc.TLS
	default:
		if c.info != nil { // readProxy's, before CONNECT
			return c.info.CertCommonName
		}
		return ""
	}
	if len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		return ""
	}
	return st.PeerCertificates[0].Subject.CommonName
}

// handle dispatches one packet received after CONNECT.
func (c *conn) handle(p mqtt.Packet) error {
	switch p := p.(type) {
	case *mqtt.Publish:
		return c.handlePublish(p)
	case *mqtt.Ack:
		return c.handleAck(p)
	case *mqtt.Subscribe:
		return c.handleSubscribe(p)
	case *mqtt.Unsubscribe:
		return c.handleUnsubscribe(p)
	case *mqtt.Pingreq:
		c.logv("Received PINGREQ from %s", c.clientID())
		c.enqueuePacket(&mqtt.Pingresp{}, c) // [MQTT-3.12.4-1]
		return nil
	case *mqtt.Disconnect:
		return c.handleDisconnect(p)
	case *mqtt.Connect:
		// A second CONNECT is a protocol violation [MQTT-3.1.0-2].
		return protocolErr(mqtt.ProtocolError, "second CONNECT")
	case *mqtt.Auth:
		// Enhanced authentication is not offered (CONNECT with an
		// Authentication Method is refused), so AUTH is a protocol error
		// [MQTT-4.12.0-?].
		return protocolErr(mqtt.ProtocolError, "AUTH without an authentication method")
	}
	return protocolErr(mqtt.ProtocolError, "unexpected %s from client", p.Type())
}

func (c *conn) handleDisconnect(p *mqtt.Disconnect) error {
	c.logv("Received DISCONNECT from %s", c.clientID())
	c.traceDisconnect(p) // flow view (observe.go)
	if c.version == mqtt.V5 && p.Props.Has(mqtt.PropSessionExpiry) {
		s := c.sess
		s.mu.Lock()
		// Setting a non-zero expiry after CONNECT set 0 is a protocol
		// error [MQTT-3.14.2-2].
		if s.expiry == 0 && p.Props.SessionExpiry != 0 {
			s.mu.Unlock()
			return protocolErr(mqtt.ProtocolError, "session expiry changed from 0 on DISCONNECT")
		}
		old := s.expiry
		s.expiry = c.b.capExpiry(p.Props.SessionExpiry)
		if s.expiry != old && s.expiry > 0 {
			s.persist("save session", func(st Store) error { return st.SaveSession(s.storedSession()) })
		}
		s.mu.Unlock()
	}
	// Only a DISCONNECT with reason 0x00 deletes the will [MQTT-3.1.2-8];
	// 0x04 (Disconnect with Will Message) or any error code keeps it.
	if c.version == mqtt.V5 && p.Code != mqtt.Success {
		return &closeError{reason: CloseClientWill}
	}
	// On a normal DISCONNECT the will is discarded [MQTT-3.14.4-3].
	c.will.Store(nil)
	return &closeError{reason: CloseClientDisconnect}
}

// closeFor closes c for the error that ended its input (the event loop's
// end or the connection's goroutine): the reason and v5 DISCONNECT code
// it maps to (classify), protocol errors logged.
func (c *conn) closeFor(err error) {
	var ce *closeError
	if !errors.As(err, &ce) {
		ce = c.classify(err)
	}
	if ce.err != nil && ce.reason == CloseProtocolError {
		c.b.cfg.Logger.Debug("protocol error", "client", c.clientID(), "remote", c.remote(), "err", ce.err)
	}
	c.close(ce.reason, ce.code)
}

// close records the reason (first call wins), queues a v5 DISCONNECT when
// code is an error, and makes both goroutines finish: the reader's read
// is interrupted, the writer flushes what is queued and closes the socket.
// It never blocks and may be called from any goroutine, also with the
// broker or a session lock held.
func (c *conn) close(reason CloseReason, code mqtt.ReasonCode) {
	if !c.closeState.CompareAndSwap(closeOpen, closeRunning) {
		// As with sync.Once, a caller that lost the race returns once the
		// close it lost to is complete. That close never waits (a few
		// locks, a post to the loop), so yielding until then is brief.
		for c.closeState.Load() != closeDone {
			runtime.Gosched()
		}
		return
	}
	defer c.closeState.Store(closeDone) // even if the close panics, as sync.Once
	c.reason = uint8(reason)            // CloseReason values are small (closereason.go)
	if code == 0 {
		code = reason.disconnectCode()
	}
	var final mqtt.Packet
	if code.IsError() && c.flags.has(flagConnected) && c.version == mqtt.V5 {
		d := &mqtt.Disconnect{Code: code}
		if c.problemInfo && reason == CloseProtocolError {
			// Reason String is allowed on DISCONNECT whatever Request
			// Problem Information says.
			d.Props.SetReasonString(code.String())
		}
		final = d
	}
	c.qmu.Lock()
	if final != nil {
		q := c.queue()
		q.items = append(q.items, outItem{kind: itemPacket, pkt: final})
		c.closeCode = code
	}
	c.closed = true
	c.qmu.Unlock()
	c.qmu.Lock()
	c.flags.set(flagClosing)
	if c.oq != nil && c.oq.closed != nil {
		close(c.oq.closed)
	}
	c.qmu.Unlock()
	if c.flags.has(flagOnLoop) {
		c.b.loop.post(loopPost{c: c, kind: postClose})
	} else {
		_ = c.netConn().SetReadDeadline(time.Now())
	}
	c.limitWrite()
}

// finalFlush is the write time allowed after close: a slow consumer
// gets no more writes, others a short final flush; this also ends a
// write blocked on a full socket. Only once isClosing is true (reason is
// set before the closing flag, which orders it).
func (c *conn) finalFlush() time.Duration {
	if c.closeReason() == CloseSlowConsumer {
		return time.Millisecond
	}
	return closeFlushTimeout
}

// limitWrite bounds the writer's current and next writes after close.
// It is safe from any goroutine (for WebSocket it goes to the socket).
func (c *conn) limitWrite() {
	t := time.Now().Add(c.finalFlush())
	if wc, ok := c.netConn().(*wsconn.Conn); ok {
		_ = wc.WebSocket().UnderlyingConn().SetWriteDeadline(t)
		return
	}
	_ = c.netConn().SetWriteDeadline(t)
}
