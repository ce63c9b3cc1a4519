//go:build !linux

package broker

// Without epoll every connection has a goroutine of its own (conn.go);
// see loop.go.

type loop struct {
	pausing *pausedPublish // never set: nothing pauses without a loop
}

func (l *loop) post(loopPost) {}

func (b *Broker) startLoop() *loop { return nil }

func (l *loop) add(c *conn) bool { return false }
