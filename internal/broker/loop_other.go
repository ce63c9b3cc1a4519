//go:build !linux

package broker

import "github.com/mqkit/mqkit/internal/mqtt"

// Without epoll every connection has a goroutine of its own (conn.go);
// see loop.go.

type loop struct {
	pausing *pausedPublish // never set: nothing pauses without a loop
}

// takeMessage: without a loop every message is allocated on its own.
func (l *loop) takeMessage() (*message, uint64) { return nil, 0 }

// nextPacket: never called without a loop.
func (l *loop) nextPacket(c *conn) (mqtt.Packet, error) { return c.fr.Next() }

func (l *loop) post(loopPost) {}

func (b *Broker) startLoop() *loop { return nil }

func (l *loop) deferredList() *[]*conn { return nil }

func (l *loop) add(c *conn) bool { return false }
