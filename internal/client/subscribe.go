package client

import (
	"context"
	"fmt"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Subscribe sends SUBSCRIBE and waits for its SUBACK. Refused filters are
// not an error here: inspect the codes, or use SubackErr.
func (c *Client) Subscribe(ctx context.Context, s *mqtt.Subscribe) (*mqtt.Suback, error) {
	tok, err := c.StartSubscribe(s)
	if err != nil {
		return nil, err
	}
	if err := tok.Wait(ctx); err != nil {
		return nil, err
	}
	return tok.Result().(*mqtt.Suback), nil
}

// StartSubscribe queues SUBSCRIBE and returns at once; the Token completes
// with the SUBACK (Result). Packets queued after it go out after it, so a
// command can send SUBSCRIBE and UNSUBSCRIBE without waiting in between,
// as mosquitto_sub does.
func (c *Client) StartSubscribe(s *mqtt.Subscribe) (*Token, error) {
	q := *s
	return c.startRequest(mqtt.SUBSCRIBE, func(id uint16) mqtt.Packet { q.PacketID = id; return &q })
}

// Unsubscribe sends UNSUBSCRIBE and waits for its UNSUBACK.
func (c *Client) Unsubscribe(ctx context.Context, u *mqtt.Unsubscribe) (*mqtt.Unsuback, error) {
	tok, err := c.StartUnsubscribe(u)
	if err != nil {
		return nil, err
	}
	if err := tok.Wait(ctx); err != nil {
		return nil, err
	}
	return tok.Result().(*mqtt.Unsuback), nil
}

// StartUnsubscribe queues UNSUBSCRIBE and returns at once; the Token
// completes with the UNSUBACK (Result).
func (c *Client) StartUnsubscribe(u *mqtt.Unsubscribe) (*Token, error) {
	q := *u
	return c.startRequest(mqtt.UNSUBSCRIBE, func(id uint16) mqtt.Packet { q.PacketID = id; return &q })
}

// startRequest allocates a packet identifier and queues the packet built by mk;
// the Token completes with the matching acknowledgement.
func (c *Client) startRequest(kind mqtt.PacketType, mk func(id uint16) mqtt.Packet) (*Token, error) {
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
	return tok, nil
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
	if tok == nil && c.disconnecting.Load() {
		// Disconnect gave up on what was still awaited (an UNSUBSCRIBE
		// sent with mosquitto_sub -E): its late acknowledgement is fine.
		return nil
	}
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
