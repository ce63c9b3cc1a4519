package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Conn is one MQTT client connection of the load generator. One goroutine
// reads (ReadPacket); any goroutine may write through the buffered,
// mutex-guarded writer (publishers write PUBLISH while their reader writes
// PUBREL; a subscriber's reader writes its acknowledgements).
type Conn struct {
	nc net.Conn
	r  *mqtt.Reader
	v  mqtt.Version

	// ReceiveMax is the broker's Receive Maximum (v5 CONNACK; 65535 when
	// absent or for 3.1.1): we never have more QoS>0 PUBLISH packets
	// unacknowledged than this [MQTT-3.3.4-7].
	ReceiveMax uint16
	// MaxQoS is the broker's Maximum QoS (v5 CONNACK; 2 when absent).
	MaxQoS mqtt.QoS
	// KeepAlive is the keep alive in force: ours (0) unless the broker
	// imposed a Server Keep Alive [MQTT-3.2.2-21].
	KeepAlive uint16

	mu  sync.Mutex
	w   *bufio.Writer
	ack mqtt.Ack // reused under mu so acknowledgements do not allocate
	buf []byte   // encode scratch, under mu
}

// DialOptions are the connection parameters shared by every connection of
// a run.
type DialOptions struct {
	Addr     string
	Version  mqtt.Version
	Timeout  time.Duration // for dial + CONNECT/CONNACK, and SUBSCRIBE/SUBACK
	ReadBuf  int           // bufio sizes; 0 = 16 KiB
	WriteBuf int
	Durable  bool // clean session 0 (v5: Clean Start 0, Session Expiry durableExpiry)
}

// durableExpiry is the v5 Session Expiry Interval of durable subscribers:
// long enough for any run, short enough that an interrupted run's
// sessions do not stay on the broker for ever.
const durableExpiry = 300

// Dial connects, sends CONNECT with a clean session and keep alive 0 and
// waits for a successful CONNACK.
func Dial(ctx context.Context, o DialOptions, clientID string) (*Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", o.Addr)
	if err != nil {
		return nil, err
	}
	rb, wb := o.ReadBuf, o.WriteBuf
	if rb <= 0 {
		rb = 16 << 10
	}
	if wb <= 0 {
		wb = 16 << 10
	}
	c := &Conn{
		nc: nc, v: o.Version, ReceiveMax: 65535, MaxQoS: 2,
		r: mqtt.NewReader(bufio.NewReaderSize(nc, rb), 0),
		w: bufio.NewWriterSize(nc, wb),
	}
	c.r.Version = o.Version
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	if err := c.handshake(clientID, o.Durable); err != nil {
		nc.Close()
		return nil, fmt.Errorf("%s: %w", clientID, err)
	}
	nc.SetDeadline(time.Time{})
	return c, nil
}

func (c *Conn) handshake(clientID string, durable bool) error {
	// Clean session / Clean Start = 1: nothing is left behind on the broker
	// [MQTT-3.1.2-6] (durable: the session stays, and flow.teardown
	// removes it); keep alive 0 turns the keep alive mechanism off (3.1.1
	// section 3.1.2.10).
	conn := &mqtt.Connect{Version: c.v, CleanStart: !durable, ClientID: clientID}
	if durable && c.v == mqtt.V5 {
		conn.Props.SetSessionExpiry(durableExpiry)
	}
	if err := c.Write(conn); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return err
	}
	p, err := c.r.ReadPacket()
	if err != nil {
		return fmt.Errorf("waiting for CONNACK: %w", err)
	}
	ack, ok := p.(*mqtt.Connack)
	if !ok {
		// The first packet from the server MUST be CONNACK [MQTT-3.2.0-1].
		return fmt.Errorf("expected CONNACK, got %s", p.Type())
	}
	if ack.Code.IsError() {
		return fmt.Errorf("connection refused: %s", ack.Code)
	}
	if c.v == mqtt.V5 {
		if ack.Props.Has(mqtt.PropReceiveMaximum) {
			c.ReceiveMax = ack.Props.ReceiveMaximum
		}
		if ack.Props.Has(mqtt.PropMaximumQoS) {
			c.MaxQoS = mqtt.QoS(ack.Props.MaximumQoS)
		}
		if ack.Props.Has(mqtt.PropServerKeepAlive) {
			c.KeepAlive = ack.Props.ServerKeepAlive
		}
	}
	return nil
}

// Subscribe subscribes to one filter and returns the granted QoS. It must
// be called before the connection's read loop starts.
func (c *Conn) Subscribe(filter string, qos mqtt.QoS, timeout time.Duration) (mqtt.QoS, error) {
	c.nc.SetDeadline(time.Now().Add(timeout))
	defer c.nc.SetDeadline(time.Time{})
	sub := &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: filter, QoS: qos}}}
	if err := c.Write(sub); err != nil {
		return 0, err
	}
	if err := c.Flush(); err != nil {
		return 0, err
	}
	for {
		p, err := c.r.ReadPacket()
		if err != nil {
			return 0, fmt.Errorf("waiting for SUBACK: %w", err)
		}
		sa, ok := p.(*mqtt.Suback)
		if !ok {
			continue // e.g. a retained message of another run
		}
		// Same packet identifier [MQTT-3.8.4-2], one code per filter
		// [MQTT-3.8.4-5].
		if sa.PacketID != 1 || len(sa.Codes) != 1 {
			return 0, fmt.Errorf("unexpected SUBACK %s", mqtt.Describe(sa))
		}
		if code := sa.Codes[0]; code.IsError() {
			return 0, fmt.Errorf("subscription to %q refused: %s", filter, code)
		}
		return mqtt.QoS(sa.Codes[0]), nil
	}
}

// ReadPacket reads the next packet; only the read loop calls it.
func (c *Conn) ReadPacket() (mqtt.Packet, error) { return c.r.ReadPacket() }

// InputDrained reports whether no received bytes wait to be parsed: the
// read loop flushes its acknowledgements then, batching them.
func (c *Conn) InputDrained() bool { return c.r.Buffered() == 0 }

// Write encodes p into the write buffer.
func (c *Conn) Write(p mqtt.Packet) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeLocked(p)
}

func (c *Conn) writeLocked(p mqtt.Packet) error {
	b, err := mqtt.Append(c.buf[:0], p, c.v)
	if err != nil {
		return err
	}
	c.buf = b[:0]
	_, err = c.w.Write(b)
	return err
}

// WritePublish encodes p straight into the write buffer's free space.
func (c *Conn) WritePublish(p *mqtt.Publish) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.w.Available() < mqtt.Size(p, c.v) {
		if err := c.w.Flush(); err != nil {
			return err
		}
	}
	b, err := mqtt.Append(c.w.AvailableBuffer(), p, c.v)
	if err != nil {
		return err
	}
	_, err = c.w.Write(b)
	return err
}

// WriteAck queues a PUBACK, PUBREC, PUBREL or PUBCOMP without allocating.
func (c *Conn) WriteAck(kind mqtt.PacketType, id uint16) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ack = mqtt.Ack{Kind: kind, PacketID: id}
	return c.writeLocked(&c.ack)
}

// Flush sends what is buffered.
func (c *Conn) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.w.Flush()
}

// Disconnect ends the session politely within timeout: it unblocks any
// stuck writer, sends DISCONNECT [MQTT-3.14.4] and lets the read loop see
// the broker close the network connection. The caller then waits for its
// read loop (which returns when the broker closes) and calls Close.
// Sending DISCONNECT first also leaves TIME_WAIT on the broker's side, so
// runs of thousands of connections do not exhaust local ports.
func (c *Conn) Disconnect(timeout time.Duration) error {
	dl := time.Now().Add(timeout)
	c.nc.SetWriteDeadline(dl) // a writer blocked on a full socket gives up the lock
	c.mu.Lock()
	err := c.writeLocked(&mqtt.Disconnect{})
	if err == nil {
		err = c.w.Flush()
	}
	c.mu.Unlock()
	c.nc.SetReadDeadline(dl)
	return err
}

// Close closes the network connection.
func (c *Conn) Close() error { return c.nc.Close() }

// SetReadDeadline bounds the read loop (the idle scenario's liveness check).
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// isClosed reports whether err just means the connection is gone.
func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed)
}

// keepAlive sends PINGREQ every half keep alive until stop is closed. It
// only runs when a v5 broker imposed a Server Keep Alive, since we connect
// with keep alive 0.
func (c *Conn) keepAlive(stop <-chan struct{}) {
	if c.KeepAlive == 0 {
		return
	}
	t := time.NewTicker(time.Duration(c.KeepAlive) * time.Second / 2)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if c.Write(&mqtt.Pingreq{}) != nil || c.Flush() != nil {
				return
			}
		}
	}
}
