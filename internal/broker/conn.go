package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// conn is one network connection. Two goroutines serve it: the reader
// (serve/readLoop: decodes packets and runs the handlers in order) and the
// writer (writeLoop in conn_write.go: the only one that writes to nc).
//
// Fields are owned as marked: "reader" fields are used only by the reader
// goroutine (set during CONNECT, before the conn becomes reachable from a
// session), "writer" fields only by the writer, the queue by qmu.
type conn struct {
	b      *Broker
	nc     net.Conn
	lis    *listener
	remote string

	// reader
	r           *mqtt.Reader
	sess        *session
	info        *ClientInfo
	keepAlive   time.Duration // 0 = none
	aliasesIn   map[uint16]string
	problemInfo bool // v5 Request Problem Information (default 1)

	// set during CONNECT, read-only afterwards; published by connected.
	version     mqtt.Version
	clientID    string
	sendWindow  int    // outgoing QoS 1/2 inflight limit for this client
	maxOut      uint32 // client's Maximum Packet Size (0 = none)
	aliasMaxOut uint16 // client's Topic Alias Maximum
	connected   atomic.Bool

	will      atomic.Pointer[mqtt.Will] // cleared by a normal DISCONNECT
	takenOver atomic.Bool               // closed by a takeover
	resumed   atomic.Bool               // ... that resumed the session

	// outbound queue (see conn_write.go)
	qmu    sync.Mutex
	queue  []outItem
	spare  []outItem
	qBytes int64
	qPubs  int // QoS 0 publishes in queue
	closed bool
	wake   chan struct{}

	// writer
	w writerState

	closeOnce  sync.Once
	reason     CloseReason  // set once by close
	finalFlush atomic.Int64 // write time allowed after close (ns)
	closing    chan struct{}
	writerDone chan struct{}
}

func newConn(b *Broker, nc net.Conn, lis *listener) *conn {
	c := &conn{
		b: b, nc: nc, lis: lis, remote: nc.RemoteAddr().String(),
		problemInfo: true,
		wake:        make(chan struct{}, 1),
		closing:     make(chan struct{}),
		writerDone:  make(chan struct{}),
	}
	c.r = mqtt.NewReader(countingReader{c}, b.cfg.MaxPacketSize)
	return c
}

// countingReader counts received bytes for $SYS.
type countingReader struct{ c *conn }

func (cr countingReader) Read(p []byte) (int, error) {
	n, err := cr.c.nc.Read(p)
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

// serve runs the reader goroutine for the whole life of the connection.
func (c *conn) serve() {
	defer c.b.wg.Done()
	go c.writeLoop()
	err := c.readLoop()
	var ce *closeError
	if !errors.As(err, &ce) {
		ce = c.classify(err)
	}
	if ce.err != nil && ce.reason == CloseProtocolError {
		c.b.cfg.Logger.Debug("protocol error", "client", c.clientID, "remote", c.remote, "err", ce.err)
	}
	c.close(ce.reason, ce.code)
	<-c.writerDone
	// The socket is closed only after the session is detached and the
	// will handled: a client that sees the close sees settled state.
	c.b.connGone(c)
	_ = c.nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	c.nc.Close()
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
		if !c.connected.Load() {
			return &closeError{reason: CloseConnectTimeout, err: err}
		}
		return &closeError{reason: CloseKeepAlive, code: mqtt.KeepAliveTimeout, err: err}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET):
		return &closeError{reason: CloseNetwork, err: err}
	}
	return &closeError{reason: CloseNetwork, err: err}
}

func (c *conn) isClosing() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

func (c *conn) readLoop() error {
	deadline := time.Now().Add(c.b.cfg.ConnectTimeout)
	if err := c.nc.SetReadDeadline(deadline); err != nil {
		return err
	}
	if tc, ok := c.nc.(*tls.Conn); ok {
		// The handshake (reads and writes) is bounded by the connect timeout.
		_ = tc.SetDeadline(deadline)
		if err := tc.Handshake(); err != nil {
			return &closeError{reason: CloseNetwork, err: err}
		}
	}
	p, err := c.r.ReadPacket()
	if err != nil {
		if errors.Is(err, mqtt.ErrUnsupportedVersion) {
			// [MQTT-3.1.2-2] unacceptable protocol level: CONNACK 0x01 in
			// the 3.1.1 format, then close.
			c.enqueuePacket(&mqtt.Connack{Code: mqtt.UnsupportedProtocolVersion})
			return &closeError{reason: CloseConnectRefused, err: err}
		}
		return err
	}
	cp, ok := p.(*mqtt.Connect)
	if !ok {
		// The first packet MUST be CONNECT [MQTT-3.1.0-1].
		return protocolErr(0, "first packet is %s, not CONNECT", p.Type())
	}
	if err := c.handleConnect(cp); err != nil {
		return err
	}
	for {
		if c.isClosing() {
			return nil
		}
		var dl time.Time
		if c.keepAlive > 0 {
			// [MQTT-3.1.2-24] one and a half times the keep alive.
			dl = time.Now().Add(c.keepAlive * 3 / 2)
		}
		if err := c.nc.SetReadDeadline(dl); err != nil {
			return err
		}
		p, err := c.r.ReadPacket()
		if err != nil {
			return err
		}
		c.b.stats.msgsReceived.Add(1)
		if err := c.handle(p); err != nil {
			return err
		}
	}
}

// certCommonName returns the CN of a verified client certificate.
func (c *conn) certCommonName() string {
	var st tls.ConnectionState
	switch nc := c.nc.(type) {
	case *tls.Conn:
		st = nc.ConnectionState()
	case *wsConn:
		if nc.tls == nil {
			return ""
		}
		st = *nc.tls
	default:
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
		c.logv("Received PINGREQ from %s", c.clientID)
		c.enqueuePacket(&mqtt.Pingresp{}) // [MQTT-3.12.4-1]
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
	c.logv("Received DISCONNECT from %s", c.clientID)
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

// close records the reason (first call wins), queues a v5 DISCONNECT when
// code is an error, and makes both goroutines finish: the reader's read
// is interrupted, the writer flushes what is queued and closes the socket.
// It never blocks and may be called from any goroutine, also with the
// broker or a session lock held.
func (c *conn) close(reason CloseReason, code mqtt.ReasonCode) {
	c.closeOnce.Do(func() {
		c.reason = reason
		if code == 0 {
			code = reason.disconnectCode()
		}
		var final mqtt.Packet
		if code.IsError() && c.connected.Load() && c.version == mqtt.V5 {
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
			c.queue = append(c.queue, outItem{kind: itemPacket, pkt: final})
		}
		c.closed = true
		c.qmu.Unlock()
		// A slow consumer gets no more writes; others get a short final
		// flush. This also ends a write blocked on a full socket.
		if reason == CloseSlowConsumer {
			c.finalFlush.Store(int64(time.Millisecond))
		} else {
			c.finalFlush.Store(int64(closeFlushTimeout))
		}
		close(c.closing)
		_ = c.nc.SetReadDeadline(time.Now())
		c.limitWrite()
	})
}

// limitWrite bounds the writer's current and next writes after close.
// It is safe from any goroutine (for WebSocket it goes to the socket).
func (c *conn) limitWrite() {
	t := time.Now().Add(time.Duration(c.finalFlush.Load()))
	if wc, ok := c.nc.(*wsConn); ok {
		_ = wc.ws.UnderlyingConn().SetWriteDeadline(t)
		return
	}
	_ = c.nc.SetWriteDeadline(t)
}
