package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Client is one MQTT connection. Create it with Connect; all methods are
// safe for concurrent use.
type Client struct {
	opts     Options
	conn     net.Conn
	version  mqtt.Version
	clientID string // fixed after Connect (assigned by the server for v5)
	connack  *mqtt.Connack

	// Limits learned from CONNACK (v5), fixed after Connect.
	serverMaxQoS      mqtt.QoS
	serverRetain      bool
	serverAliasMax    uint16
	serverMaxPacket   uint32
	receiveMaxIn      uint16 // our Receive Maximum, announced in CONNECT
	topicAliasMaxIn   uint16 // our Topic Alias Maximum, announced in CONNECT
	maxPacketIn       uint32 // our Maximum Packet Size, announced in CONNECT
	keepAlive         time.Duration
	inflight          chan struct{} // semaphore of outbound QoS 1/2 publishes
	disconnecting     atomic.Bool
	lastSend, pingOut atomic.Int64 // unix nanoseconds; pingOut 0 = no PINGREQ outstanding

	// Session state shared by callers and the reader. Lock order: mu, qmu.
	mu       sync.Mutex
	pending  map[uint16]*Token // packet identifier -> operation awaiting its ack
	nextID   uint16
	aliasOut map[uint16]string // topic alias -> topic, as last sent

	// Outbound queue, drained by the writer.
	qmu     sync.Mutex
	queue   []outItem
	qclosed bool
	wake    chan struct{}

	// Reader-only state.
	// qos2In holds the QoS 2 messages accepted (PUBREC queued) and
	// awaiting PUBREL, by packet identifier; the message itself is kept
	// only for Options.OnRelease (nil otherwise).
	qos2In map[uint16]*mqtt.Publish
	// qos2Open mirrors len(qos2In) for Disconnect; inboundIdle is signalled
	// when it drops to zero.
	qos2Open    atomic.Int32
	inboundIdle chan struct{}
	// delivering is 1 while a PUBLISH is being handled (callback, then
	// its PUBACK/PUBREC queued), so Disconnect never overtakes that ack.
	delivering atomic.Int32
	// unacked counts inbound QoS 1/2 not yet PUBACKed/PUBCOMPed; atomic
	// because Ack (ManualAck) runs on the application's goroutines.
	unacked  atomic.Int32
	aliasIn  map[uint16]string // topic aliases set by the server
	shutOnce sync.Once
	done     chan struct{}
	errMu    sync.Mutex
	err      error
	wg       sync.WaitGroup
}

// Connect dials opts.Endpoint, sends CONNECT and waits for CONNACK. A
// refused connection is returned as *ConnackError.
func Connect(ctx context.Context, opts Options) (*Client, error) {
	if opts.Connect.Version == 0 {
		opts.Connect.Version = mqtt.V311
	}
	cctx, cancel := context.WithTimeout(ctx, opts.connectTimeout())
	defer cancel()
	var conn net.Conn
	var err error
	if opts.Dial != nil {
		conn, err = opts.Dial(cctx)
	} else {
		conn, err = dial(cctx, opts.Endpoint)
	}
	if err != nil {
		return nil, handshakeErr(ctx, cctx, err, "connection")
	}
	c := newClient(conn, opts)
	stop := context.AfterFunc(cctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	br := bufio.NewReaderSize(conn, 4096)
	err = c.handshake(br)
	if !stop() || err != nil {
		conn.Close()
		if err == nil {
			err = cctx.Err()
		}
		return nil, handshakeErr(ctx, cctx, err, "CONNACK")
	}
	conn.SetDeadline(time.Time{})
	if opts.OnConnect != nil {
		opts.OnConnect(c) // queued packets wait for the writer started below
	}
	c.start(br)
	return c, nil
}

// handshakeErr turns a deadline caused by the connect timeout into a
// *TimeoutError and a cancelled parent context into ctx.Err().
func handshakeErr(parent, cctx context.Context, err error, op string) error {
	if parent.Err() != nil {
		return parent.Err()
	}
	var ce *ConnackError
	if cctx.Err() != nil && !errors.As(err, &ce) {
		return &TimeoutError{Op: op}
	}
	return err
}

func newClient(conn net.Conn, opts Options) *Client {
	c := &Client{
		opts:         opts,
		conn:         conn,
		version:      opts.Connect.Version,
		clientID:     opts.Connect.ClientID,
		serverMaxQoS: 2,
		serverRetain: true,
		receiveMaxIn: 65535,
		pending:      make(map[uint16]*Token),
		aliasOut:     make(map[uint16]string),
		qos2In:       make(map[uint16]*mqtt.Publish),
		inboundIdle:  make(chan struct{}, 1),
		aliasIn:      make(map[uint16]string),
		wake:         make(chan struct{}, 1),
		done:         make(chan struct{}),
		keepAlive:    time.Duration(opts.Connect.KeepAlive) * time.Second,
	}
	if c.version == mqtt.V5 {
		p := &opts.Connect.Props
		if p.Has(mqtt.PropReceiveMaximum) {
			c.receiveMaxIn = p.ReceiveMaximum
		}
		if p.Has(mqtt.PropTopicAliasMaximum) {
			c.topicAliasMaxIn = p.TopicAliasMaximum
		}
		if p.Has(mqtt.PropMaximumPacketSize) {
			c.maxPacketIn = p.MaximumPacketSize
		}
	}
	return c
}

// handshake sends CONNECT and reads CONNACK synchronously, before the
// reader and writer goroutines exist.
func (c *Client) handshake(br *bufio.Reader) error {
	cp := c.opts.Connect
	raw, err := mqtt.Append(nil, &cp, c.version)
	if err != nil {
		return fmt.Errorf("CONNECT: %w", err)
	}
	c.trace(true, &cp, raw)
	if _, err := c.conn.Write(raw); err != nil {
		return &ConnectionLostError{Err: err}
	}
	c.lastSend.Store(time.Now().UnixNano())
	frame, err := readFrame(br, c.maxPacketIn)
	if err != nil {
		return &ConnectionLostError{Err: err}
	}
	p, err := mqtt.Decode(frame, c.version)
	if err != nil {
		return &ProtocolError{Code: mqtt.CodeOf(err), Err: err}
	}
	ack, ok := p.(*mqtt.Connack)
	if !ok {
		c.trace(false, p, frame)
		// The server must send CONNACK first [MQTT-3.2.0-1]; AUTH
		// (enhanced authentication) is not supported by this client.
		return &ProtocolError{Code: mqtt.ProtocolError,
			Err: fmt.Errorf("expected CONNACK, received %s", p.Type())}
	}
	c.connack = ack
	if c.version == mqtt.V5 && ack.Props.Has(mqtt.PropAssignedClientID) {
		c.clientID = ack.Props.AssignedClientID // section 3.2.2.3.7
	}
	c.trace(false, p, frame)
	if ack.Code != mqtt.Success {
		return &ConnackError{Version: c.version, Code: ack.Code,
			ReturnCode: ack.ReturnCodeV3, ReasonString: ack.Props.ReasonString}
	}
	c.applyConnack(ack)
	return nil
}

// applyConnack records the server's v5 limits.
func (c *Client) applyConnack(ack *mqtt.Connack) {
	recvMax := 65535
	if c.version == mqtt.V5 {
		p := &ack.Props
		if p.Has(mqtt.PropReceiveMaximum) {
			recvMax = int(p.ReceiveMaximum)
		}
		if p.Has(mqtt.PropMaximumQoS) {
			c.serverMaxQoS = mqtt.QoS(p.MaximumQoS)
		}
		if p.Has(mqtt.PropRetainAvailable) {
			c.serverRetain = p.RetainAvailable == 1
		}
		if p.Has(mqtt.PropTopicAliasMaximum) {
			c.serverAliasMax = p.TopicAliasMaximum
		}
		if p.Has(mqtt.PropMaximumPacketSize) {
			c.serverMaxPacket = p.MaximumPacketSize
		}
		if p.Has(mqtt.PropServerKeepAlive) {
			// The client must use the server's value [MQTT-3.2.2-21].
			c.keepAlive = time.Duration(p.ServerKeepAlive) * time.Second
		}
	}
	limit := recvMax
	if c.opts.MaxInflight > 0 && c.opts.MaxInflight < limit {
		limit = c.opts.MaxInflight
	}
	c.inflight = make(chan struct{}, limit)
}

func (c *Client) start(br *bufio.Reader) {
	c.wg.Add(2)
	go c.readLoop(br)
	go c.writeLoop()
	if c.keepAlive > 0 {
		c.wg.Add(1)
		go c.keepAliveLoop()
	}
}

// Connack is the CONNACK the server accepted the connection with.
func (c *Client) Connack() *mqtt.Connack { return c.connack }

// ClientID is the client identifier in use (the server-assigned one for a
// v5 connection with an empty identifier).
func (c *Client) ClientID() string { return c.clientID }

// Version is the protocol version of the connection.
func (c *Client) Version() mqtt.Version { return c.version }

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the connection ended: nil after a clean Disconnect.
func (c *Client) Err() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.err
}

// Disconnect sends DISCONNECT (d may be nil for a normal disconnection),
// waits until it is written and closes the connection. For v5, reason
// 0x04 asks the server to publish the will [MQTT-3.14.4-3 / 3.1.2-8].
func (c *Client) Disconnect(ctx context.Context, d *mqtt.Disconnect) error {
	if d == nil {
		d = &mqtt.Disconnect{}
	}
	raw, err := mqtt.Append(nil, d, c.version)
	if err != nil {
		return fmt.Errorf("DISCONNECT: %w", err)
	}
	if !c.disconnecting.CompareAndSwap(false, true) {
		return c.wait(ctx)
	}
	c.waitInbound(ctx)
	if err := c.enqueue(outItem{p: d, raw: raw, last: true}); err != nil {
		return c.closedErr()
	}
	return c.wait(ctx)
}

// qos2DrainTimeout bounds how long Disconnect waits for the server's
// PUBREL of QoS 2 messages already delivered.
const qos2DrainTimeout = 5 * time.Second

// waitInbound lets a PUBLISH being handled queue its ack, and
// delivered QoS 2 messages finish their flow
// (PUBREL from the server, PUBCOMP from us) before DISCONNECT, as
// libmosquitto does, so `mqsub -C 1` does not leave the broker holding
// a half-finished exchange. Bounded by ctx and qos2DrainTimeout.
func (c *Client) waitInbound(ctx context.Context) {
	timer := time.NewTimer(qos2DrainTimeout)
	defer timer.Stop()
	for c.qos2Open.Load() > 0 || c.delivering.Load() > 0 {
		select {
		case <-c.inboundIdle:
		case <-c.done:
			return
		case <-ctx.Done():
			return
		case <-timer.C:
			return
		}
	}
}

func (c *Client) wait(ctx context.Context) error {
	select {
	case <-c.done:
	case <-ctx.Done():
		c.Close()
		return ctx.Err()
	}
	c.wg.Wait()
	return c.Err()
}

// Close drops the connection without DISCONNECT (the server then
// publishes the will) and waits for the goroutines to end.
func (c *Client) Close() error {
	c.disconnecting.Store(true)
	c.shutdown(nil)
	c.wg.Wait()
	return nil
}

// fail ends the connection because of err.
func (c *Client) fail(err error) { c.shutdown(err) }

// shutdown closes the connection once, records the first error and fails
// every operation still waiting for an acknowledgement.
func (c *Client) shutdown(err error) {
	c.shutOnce.Do(func() {
		c.errMu.Lock()
		if c.err == nil {
			c.err = err
		}
		c.errMu.Unlock()
		c.qmu.Lock()
		c.qclosed = true
		unsent := c.queue
		c.queue = nil
		c.qmu.Unlock()
		close(c.done)
		c.conn.Close()
		cause := c.closedErr()
		// QoS 0 publishes still queued were never written: their tokens
		// fail too (QoS 1/2 tokens are in pending).
		for _, it := range unsent {
			if it.sent != nil {
				it.sent.complete(nil, cause)
			}
		}
		c.mu.Lock()
		for id, t := range c.pending {
			delete(c.pending, id)
			t.complete(nil, cause)
		}
		c.mu.Unlock()
	})
}

// closedErr is the error returned to operations after the connection ended.
func (c *Client) closedErr() error {
	if err := c.Err(); err != nil {
		return err
	}
	return ErrClosed
}

// protocolFailure ends the connection because the server broke the
// protocol; a v5 server is told why in a DISCONNECT [MQTT-4.13.1-1].
func (c *Client) protocolFailure(code mqtt.ReasonCode, err error) {
	perr := &ProtocolError{Code: code, Err: err}
	c.errMu.Lock()
	if c.err == nil {
		c.err = perr
	}
	c.errMu.Unlock()
	if c.version == mqtt.V5 && c.disconnecting.CompareAndSwap(false, true) {
		d := &mqtt.Disconnect{Code: code}
		if raw, e := mqtt.Append(nil, d, c.version); e == nil {
			if c.enqueue(outItem{p: d, raw: raw, last: true}) == nil {
				return
			}
		}
	}
	c.shutdown(perr)
}

func (c *Client) trace(sent bool, p mqtt.Packet, raw []byte) {
	if c.opts.Trace == nil {
		return
	}
	id := c.clientID
	c.opts.Trace(TraceEvent{Sent: sent, ClientID: id, Packet: p, Raw: raw})
}
