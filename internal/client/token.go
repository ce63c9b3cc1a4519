package client

import (
	"context"
	"sync"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Token tracks one asynchronous operation: a PUBLISH until its final
// acknowledgement (QoS 1: PUBACK, QoS 2: PUBCOMP; QoS 0: written to the
// network), a SUBSCRIBE until SUBACK, an UNSUBSCRIBE until UNSUBACK.
type Token struct {
	kind     mqtt.PacketType
	qos      mqtt.QoS
	packetID uint16
	relSent  bool // QoS 2: PUBREC received, PUBREL sent

	once   sync.Once
	done   chan struct{}
	result mqtt.Packet
	err    error
}

func newToken(kind mqtt.PacketType, qos mqtt.QoS) *Token {
	return &Token{kind: kind, qos: qos, done: make(chan struct{})}
}

func (t *Token) complete(result mqtt.Packet, err error) {
	t.once.Do(func() {
		t.result, t.err = result, err
		close(t.done)
	})
}

// Done is closed when the operation has finished.
func (t *Token) Done() <-chan struct{} { return t.done }

// Err is the outcome once Done is closed: nil, an *AckError for a v5
// failure reason code, or the error that ended the connection.
func (t *Token) Err() error {
	select {
	case <-t.done:
		return t.err
	default:
		return nil
	}
}

// Wait blocks until the operation finishes or ctx ends.
func (t *Token) Wait(ctx context.Context) error {
	select {
	case <-t.done:
		return t.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PacketID is the packet identifier used (0 for QoS 0).
func (t *Token) PacketID() uint16 { return t.packetID }

// Result is the acknowledgement that completed the operation (PUBACK,
// PUBCOMP, PUBREC on failure, SUBACK or UNSUBACK), nil for QoS 0.
func (t *Token) Result() mqtt.Packet {
	<-t.done
	return t.result
}

// Released reports whether a QoS 2 publish had its PUBREC and PUBREL
// sent. Read it once the token is done.
func (t *Token) Released() bool { return t.relSent }
