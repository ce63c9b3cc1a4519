package client

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// readFrame reads one complete packet (fixed header included) into a fresh
// buffer. A remaining length above max (when max > 0) is refused before
// the body is allocated; a fifth length byte is malformed [MQTT-1.5.5-1].
func readFrame(br *bufio.Reader, max uint32) ([]byte, error) {
	var hdr [5]byte
	b, err := br.ReadByte()
	if err != nil {
		return nil, err
	}
	hdr[0] = b
	n := 1
	var rem, mult uint32 = 0, 1
	for {
		if n == 5 {
			return nil, mqtt.ErrMalformedVarInt
		}
		b, err := br.ReadByte()
		if err != nil {
			return nil, noEOF(err)
		}
		hdr[n] = b
		n++
		rem += uint32(b&0x7f) * mult
		if b&0x80 == 0 {
			break
		}
		mult *= 128
	}
	total := uint32(n) + rem
	if max > 0 && total > max {
		return nil, mqtt.Errorf(mqtt.ErrPacketTooLarge, "%d-byte packet, maximum %d", total, max)
	}
	buf := make([]byte, total)
	copy(buf, hdr[:n])
	if _, err := io.ReadFull(br, buf[n:]); err != nil {
		return nil, noEOF(err)
	}
	return buf, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readLoop reads, decodes and handles packets until the connection ends.
func (c *Client) readLoop(br *bufio.Reader) {
	defer c.wg.Done()
	defer c.releaseRemaining()
	for {
		raw, err := readFrame(br, c.maxPacketIn)
		if err != nil {
			var me *mqtt.Error
			switch {
			case errors.As(err, &me):
				c.protocolFailure(me.Code, err)
			case c.disconnecting.Load():
				c.shutdown(nil)
			default:
				c.fail(&ConnectionLostError{Err: err})
			}
			return
		}
		p, err := mqtt.Decode(raw, c.version)
		if err != nil {
			c.protocolFailure(mqtt.CodeOf(err), err)
			return
		}
		c.trace(false, p, raw)
		if err := c.handle(p); err != nil {
			var pe *ProtocolError
			if errors.As(err, &pe) {
				c.protocolFailure(pe.Code, pe.Err)
			} else {
				c.protocolFailure(mqtt.CodeOf(err), err)
			}
			return
		}
		select {
		case <-c.done:
			return
		default:
		}
	}
}

// handle dispatches one inbound packet.
func (c *Client) handle(p mqtt.Packet) error {
	switch p := p.(type) {
	case *mqtt.Publish:
		return c.handlePublish(p)
	case *mqtt.Ack:
		if p.Kind == mqtt.PUBREL {
			return c.handlePubrel(p)
		}
		return c.handlePubAck(p)
	case *mqtt.Suback:
		return c.handleSubAck(p.PacketID, mqtt.SUBACK, p)
	case *mqtt.Unsuback:
		return c.handleSubAck(p.PacketID, mqtt.UNSUBACK, p)
	case *mqtt.Pingresp:
		c.pingOut.Store(0)
		return nil
	case *mqtt.Disconnect:
		if c.opts.OnServerDisconnect != nil {
			c.opts.OnServerDisconnect(p)
		}
		c.fail(&ServerDisconnectError{Code: p.Code, ReasonString: p.Props.ReasonString})
		return nil
	}
	// CONNACK twice [MQTT-3.2.0-2], AUTH (re-authentication is not
	// supported), or a packet only a client may send.
	return &ProtocolError{Code: mqtt.ProtocolError, Err: fmt.Errorf("unexpected %s from server", p.Type())}
}

// handlePublish resolves topic aliases and runs the inbound QoS flows.
func (c *Client) handlePublish(p *mqtt.Publish) error {
	c.delivering.Store(1)
	defer func() {
		c.delivering.Store(0)
		c.signalInboundIdle()
	}()
	if c.version == mqtt.V5 && p.Props.Has(mqtt.PropTopicAlias) {
		a := p.Props.TopicAlias
		// 0 or above our Topic Alias Maximum is a protocol error, told with
		// reason 0x94 [MQTT-3.3.2-8], [MQTT-3.3.2-11].
		if a == 0 || a > c.topicAliasMaxIn {
			return &ProtocolError{Code: mqtt.TopicAliasInvalid,
				Err: fmt.Errorf("topic alias %d (maximum %d)", a, c.topicAliasMaxIn)}
		}
		if p.Topic == "" {
			t, ok := c.aliasIn[a]
			if !ok {
				return &ProtocolError{Code: mqtt.ProtocolError,
					Err: fmt.Errorf("topic alias %d used before it was set", a)}
			}
			p.Topic = t
		} else {
			c.aliasIn[a] = p.Topic
		}
	}
	if p.Topic == "" {
		return &ProtocolError{Code: mqtt.ProtocolError, Err: errors.New("PUBLISH without topic")}
	}
	switch p.QoS {
	case 0:
		if q, ok := c.deliver(p); ok {
			c.release(q)
		}
		return nil
	case 1:
		if err := c.checkReceiveMax(); err != nil {
			return err
		}
		q, ok := c.deliver(p)
		if !ok || c.opts.ManualAck {
			c.unacked.Add(1) // PUBACK from Ack, or never
			return nil
		}
		// [MQTT-4.3.2-4]
		err := c.queueAck(&mqtt.Ack{Kind: mqtt.PUBACK, PacketID: p.PacketID})
		c.release(q)
		return err
	}
	rec := &mqtt.Ack{Kind: mqtt.PUBREC, PacketID: p.PacketID}
	if _, dup := c.qos2In[p.PacketID]; dup {
		// Acknowledge again without delivering twice [MQTT-4.3.3-10].
		return c.queueAck(rec)
	}
	if err := c.checkReceiveMax(); err != nil {
		return err
	}
	q, ok := c.deliver(p)
	if !ok {
		c.unacked.Add(1)
		return nil
	}
	if c.opts.OnRelease == nil {
		q = nil
	}
	c.qos2In[p.PacketID] = q
	c.qos2Open.Store(int32(len(c.qos2In)))
	c.unacked.Add(1)
	if c.opts.ManualAck {
		return nil // PUBREC from Ack
	}
	return c.queueAck(rec) // [MQTT-4.3.3-8]
}

// checkReceiveMax enforces the Receive Maximum we announced: the server
// must not exceed it [MQTT-3.3.4-7]; if it does we disconnect with 0x93.
func (c *Client) checkReceiveMax() error {
	if c.version == mqtt.V5 && int(c.unacked.Load()) >= int(c.receiveMaxIn) {
		return &ProtocolError{Code: mqtt.ReceiveMaximumExceeded,
			Err: fmt.Errorf("more than %d unacknowledged QoS 1/2 messages", c.receiveMaxIn)}
	}
	return nil
}

// handlePubrel completes an inbound QoS 2 flow with PUBCOMP [MQTT-4.3.3-11].
func (c *Client) handlePubrel(a *mqtt.Ack) error {
	comp := &mqtt.Ack{Kind: mqtt.PUBCOMP, PacketID: a.PacketID}
	_, ok := c.qos2In[a.PacketID]
	if !ok && c.version == mqtt.V5 {
		comp.Code = mqtt.PacketIdentifierNotFound
	}
	// The PUBCOMP is queued before a Disconnect waiting in waitInbound
	// is woken, so it always goes out ahead of the DISCONNECT.
	err := c.queueAck(comp)
	if ok {
		q := c.qos2In[a.PacketID]
		delete(c.qos2In, a.PacketID) // new message from now on [MQTT-4.3.3-12]
		c.unacked.Add(-1)
		c.release(q)
		if c.qos2Open.Store(int32(len(c.qos2In))); len(c.qos2In) == 0 {
			c.signalInboundIdle()
		}
	}
	return err
}

// deliver hands p to OnMessage and reports whether it was accepted; q is
// the copy the callbacks see.
func (c *Client) deliver(p *mqtt.Publish) (q *mqtt.Publish, ok bool) {
	// The codec's Reader reuses its *Publish for the next packet (the
	// topic, payload and properties it points to are not reused), so the
	// callbacks get their own copy they may keep.
	cp := *p
	if c.opts.OnMessage == nil {
		return &cp, true
	}
	return &cp, c.opts.OnMessage(&cp)
}

// release calls OnRelease for an accepted message (nil: none).
func (c *Client) release(q *mqtt.Publish) {
	if q != nil && c.opts.OnRelease != nil && !c.opts.ManualAck {
		c.opts.OnRelease(q)
	}
}

// releaseRemaining releases, when the connection has ended, the QoS 2
// messages still waiting for PUBREL: the server has them as received
// (PUBREC), so they are not sent again on a new connection
// [MQTT-4.3.3-9]; only the PUBREL would be.
func (c *Client) releaseRemaining() {
	if c.opts.OnRelease == nil {
		return
	}
	ids := make([]uint16, 0, len(c.qos2In))
	for id, q := range c.qos2In {
		if q != nil {
			ids = append(ids, id)
		}
	}
	// In arrival order: identifiers are allocated in sequence by the server.
	slices.Sort(ids)
	for _, id := range ids {
		q := c.qos2In[id]
		c.qos2In[id] = nil
		c.release(q)
	}
}

// Ack acknowledges an inbound QoS 1/2 message held back by ManualAck:
// PUBACK for QoS 1 [MQTT-4.3.2-4], PUBREC for QoS 2 [MQTT-4.3.3-8]. Call
// it once per message, in arrival order [MQTT-4.6.0-2]; QoS 0 is a no-op.
// After the connection ended it does nothing (the server resends
// unacknowledged messages of a persistent session).
func (c *Client) Ack(p *mqtt.Publish) {
	switch p.QoS {
	case 1:
		c.unacked.Add(-1)
		_ = c.queueAck(&mqtt.Ack{Kind: mqtt.PUBACK, PacketID: p.PacketID})
	case 2:
		_ = c.queueAck(&mqtt.Ack{Kind: mqtt.PUBREC, PacketID: p.PacketID})
	}
}

// signalInboundIdle wakes a Disconnect waiting in waitInbound.
func (c *Client) signalInboundIdle() {
	select {
	case c.inboundIdle <- struct{}{}:
	default:
	}
}
