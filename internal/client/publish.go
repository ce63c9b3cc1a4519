package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// ErrNoPacketID is returned when all 65535 packet identifiers are in use.
var ErrNoPacketID = errors.New("no free packet identifier")

// Publish queues p and returns a Token that completes when the flow ends:
// QoS 0 once written, QoS 1 on PUBACK, QoS 2 on PUBCOMP (or on a failing
// v5 PUBREC). For QoS 1/2 it first waits (bounded by ctx) for a free slot
// of the inflight window. p is not modified.
//
// Following mosquitto, the retain flag is cleared when a v5 server
// announced Retain Available = 0 [MQTT-3.2.2-14].
func (c *Client) Publish(ctx context.Context, p *mqtt.Publish) (*Token, error) {
	q := *p
	q.Dup = false
	q.PacketID = 0
	if q.QoS > c.serverMaxQoS {
		// [MQTT-3.2.2-11]: never exceed the server's Maximum QoS.
		return nil, fmt.Errorf("QoS %d not supported: the server's Maximum QoS is %d", q.QoS, c.serverMaxQoS)
	}
	if q.Retain && !c.serverRetain {
		q.Retain = false
	}
	if q.QoS > 0 {
		select {
		case c.inflight <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.done:
			return nil, c.closedErr()
		}
	}
	tok, err := c.queuePublish(&q)
	if err != nil && q.QoS > 0 {
		<-c.inflight
	}
	return tok, err
}

// queuePublish allocates the packet identifier, applies topic aliases,
// encodes and queues under c.mu, so aliases are recorded in wire order.
func (c *Client) queuePublish(q *mqtt.Publish) (*Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tok := newToken(mqtt.PUBLISH, q.QoS)
	if q.QoS > 0 {
		id, err := c.allocID()
		if err != nil {
			return nil, err
		}
		q.PacketID, tok.packetID = id, id
	}
	var aliasSet uint16
	if c.version == mqtt.V5 && q.Props.Has(mqtt.PropTopicAlias) {
		a := q.Props.TopicAlias
		// [MQTT-3.3.2-9]: not above the server's Topic Alias Maximum.
		if a == 0 || a > c.serverAliasMax {
			return nil, fmt.Errorf("topic alias %d not allowed (server maximum %d): %w",
				a, c.serverAliasMax, mqtt.ErrTopicAliasInvalid)
		}
		if q.Topic != "" && c.aliasOut[a] == q.Topic {
			q.Topic = "" // the alias already maps to this topic
		} else if q.Topic != "" {
			aliasSet = a
		}
	}
	raw, err := mqtt.Append(nil, q, c.version)
	if err != nil {
		return nil, err
	}
	if c.serverMaxPacket > 0 && uint32(len(raw)) > c.serverMaxPacket {
		// [MQTT-3.2.2-15]: never send more than the server's Maximum Packet Size.
		return nil, fmt.Errorf("PUBLISH of %d bytes exceeds the server's maximum packet size %d: %w",
			len(raw), c.serverMaxPacket, mqtt.ErrPacketTooLarge)
	}
	it := outItem{p: q, raw: raw}
	if q.QoS == 0 {
		it.sent = tok
	} else {
		c.pending[q.PacketID] = tok
	}
	if err := c.enqueue(it); err != nil {
		delete(c.pending, q.PacketID)
		return nil, err
	}
	if aliasSet != 0 {
		c.aliasOut[aliasSet] = q.Topic
	}
	return tok, nil
}

// allocID returns an unused non-zero packet identifier [MQTT-2.2.1-3];
// c.mu must be held.
func (c *Client) allocID() (uint16, error) {
	for range 65535 {
		c.nextID++
		if c.nextID == 0 {
			c.nextID = 1
		}
		if _, used := c.pending[c.nextID]; !used {
			return c.nextID, nil
		}
	}
	return 0, ErrNoPacketID
}

// handlePubAck handles PUBACK, PUBREC and PUBCOMP for our publishes.
func (c *Client) handlePubAck(a *mqtt.Ack) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	tok := c.pending[a.PacketID]
	if tok != nil && tok.kind != mqtt.PUBLISH {
		return fmt.Errorf("%s for packet %d, which is a %s", a.Kind, a.PacketID, tok.kind)
	}
	failed := c.version == mqtt.V5 && a.Code.IsError()
	switch a.Kind {
	case mqtt.PUBACK:
		if tok == nil || tok.qos != 1 {
			return nil // late or duplicate acknowledgement: ignore
		}
		c.finishPublish(tok, a, failed)
	case mqtt.PUBREC:
		if tok == nil || tok.qos != 2 || tok.relSent {
			if tok == nil {
				// Unknown identifier: answer with reason 0x92 (Packet
				// Identifier not found, section 3.6.2.1) so the server
				// can discard its state.
				rel := &mqtt.Ack{Kind: mqtt.PUBREL, PacketID: a.PacketID, Code: mqtt.PacketIdentifierNotFound}
				return c.queueAck(rel)
			}
			if tok.relSent {
				return c.queueAck(&mqtt.Ack{Kind: mqtt.PUBREL, PacketID: a.PacketID})
			}
			return nil
		}
		if failed {
			// PUBREL follows only a PUBREC below 0x80 [MQTT-4.3.3-4];
			// a failing PUBREC ends the flow and frees the identifier.
			c.finishPublish(tok, a, true)
			return nil
		}
		tok.relSent = true
		// [MQTT-4.3.3-4]; the PUBREL stays unacknowledged, and the
		// identifier in use, until PUBCOMP [MQTT-4.3.3-5].
		return c.queueAck(&mqtt.Ack{Kind: mqtt.PUBREL, PacketID: a.PacketID})
	case mqtt.PUBCOMP:
		if tok == nil || tok.qos != 2 || !tok.relSent {
			return nil
		}
		c.finishPublish(tok, a, failed)
	}
	return nil
}

// finishPublish completes an outbound QoS 1/2 flow; c.mu must be held.
func (c *Client) finishPublish(tok *Token, a *mqtt.Ack, failed bool) {
	delete(c.pending, tok.packetID)
	<-c.inflight
	var err error
	if failed {
		err = &AckError{Kind: a.Kind, PacketID: a.PacketID, Code: a.Code, ReasonString: a.Props.ReasonString}
	}
	ack := *a // the decoded value may be reused; keep a copy
	tok.complete(&ack, err)
}

// queueAck encodes and queues an acknowledgement packet.
func (c *Client) queueAck(a *mqtt.Ack) error {
	raw, err := mqtt.Append(nil, a, c.version)
	if err != nil {
		return err
	}
	// A failed enqueue means the connection is ending and its error is
	// already recorded.
	_ = c.enqueue(outItem{p: a, raw: raw})
	return nil
}

// Resend queues again an outbound QoS 1/2 message of a previous
// connection whose flow did not complete, on a connection that resumed
// that session (CONNACK Session Present): with its packet identifier, as
// a PUBLISH with DUP set, or only its PUBREL when released (its PUBREC
// had been received) [MQTT-4.4.0-1] [MQTT-3.3.1-1]. A server that still
// holds a QoS 2 message under that identifier does not deliver it twice
// [MQTT-4.3.3-9]. Call it from Options.OnConnect, before any other
// publish, so the identifier is not allocated to a new message first. It
// takes a slot of the inflight window without waiting.
func (c *Client) Resend(p *mqtt.Publish, id uint16, released bool) (*Token, error) {
	if p.QoS == 0 || id == 0 || (released && p.QoS != 2) {
		return nil, fmt.Errorf("resend: QoS %d, packet identifier %d, released %v", p.QoS, id, released)
	}
	select {
	case c.inflight <- struct{}{}:
	default:
		return nil, errors.New("resend: inflight window full")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, used := c.pending[id]; used {
		<-c.inflight
		return nil, fmt.Errorf("resend: packet identifier %d in use", id)
	}
	tok := newToken(mqtt.PUBLISH, p.QoS)
	tok.packetID, tok.relSent = id, released
	var pk mqtt.Packet = &mqtt.Ack{Kind: mqtt.PUBREL, PacketID: id}
	if !released {
		q := *p
		q.Dup, q.PacketID = true, id
		q.Props.Unmark(mqtt.PropTopicAlias)
		pk = &q
	}
	raw, err := mqtt.Append(nil, pk, c.version)
	if err != nil {
		<-c.inflight
		return nil, err
	}
	c.pending[id] = tok
	if err := c.enqueue(outItem{p: pk, raw: raw}); err != nil {
		delete(c.pending, id)
		<-c.inflight
		return nil, err
	}
	return tok, nil
}
