package client

import (
	"context"
	"fmt"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Subscribe sends SUBSCRIBE and waits for its SUBACK. Refused filters are
// not an error here: inspect the codes, or use SubackErr.
func (c *Client) Subscribe(ctx context.Context, s *mqtt.Subscribe) (*mqtt.Suback, error) {
	q := *s
	r, err := c.request(ctx, mqtt.SUBSCRIBE, func(id uint16) mqtt.Packet { q.PacketID = id; return &q })
	if err != nil {
		return nil, err
	}
	return r.(*mqtt.Suback), nil
}

// Unsubscribe sends UNSUBSCRIBE and waits for its UNSUBACK.
func (c *Client) Unsubscribe(ctx context.Context, u *mqtt.Unsubscribe) (*mqtt.Unsuback, error) {
	q := *u
	r, err := c.request(ctx, mqtt.UNSUBSCRIBE, func(id uint16) mqtt.Packet { q.PacketID = id; return &q })
	if err != nil {
		return nil, err
	}
	return r.(*mqtt.Unsuback), nil
}

// request allocates a packet identifier, queues the packet built by mk and
// waits for the matching acknowledgement.
func (c *Client) request(ctx context.Context, kind mqtt.PacketType, mk func(id uint16) mqtt.Packet) (mqtt.Packet, error) {
	c.mu.Lock()
	id, err := c.allocID()
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	p := mk(id)
	raw, err := mqtt.Append(nil, p, c.version)
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	tok := newToken(kind, 0)
	tok.packetID = id
	c.pending[id] = tok
	if err := c.enqueue(outItem{p: p, raw: raw}); err != nil {
		delete(c.pending, id)
		c.mu.Unlock()
		return nil, err
	}
	c.mu.Unlock()
	if err := tok.Wait(ctx); err != nil {
		return nil, err
	}
	return tok.result, nil
}

// handleSubAck completes a SUBSCRIBE or UNSUBSCRIBE.
func (c *Client) handleSubAck(id uint16, kind mqtt.PacketType, p mqtt.Packet) error {
	want := mqtt.SUBSCRIBE
	if kind == mqtt.UNSUBACK {
		want = mqtt.UNSUBSCRIBE
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	tok := c.pending[id]
	if tok == nil || tok.kind != want {
		return &ProtocolError{Code: mqtt.ProtocolError,
			Err: fmt.Errorf("%s for unknown packet identifier %d", kind, id)}
	}
	delete(c.pending, id)
	tok.complete(p, nil)
	return nil
}

// SubackErr returns a *SubackError for the first refused filter of sub
// (SUBACK code 0x80 or above), or nil. It also reports a SUBACK whose code
// count differs from the filter count [MQTT-3.9.3-1].
func SubackErr(sub *mqtt.Subscribe, ack *mqtt.Suback) error {
	if len(ack.Codes) != len(sub.Subscriptions) {
		return &ProtocolError{Code: mqtt.ProtocolError,
			Err: fmt.Errorf("SUBACK has %d codes for %d filters", len(ack.Codes), len(sub.Subscriptions))}
	}
	for i, code := range ack.Codes {
		if code.IsError() {
			return &SubackError{Filter: sub.Subscriptions[i].Filter, Code: code}
		}
	}
	return nil
}
