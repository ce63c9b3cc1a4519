package broker

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Hot readers: a connection that keeps sending keeps its worker.
//
// A read job normally ends when the buffered input is handled, and the
// connection's own goroutine waits for the next input (workers.go). That
// hand-off costs two goroutine switches and, on an otherwise idle
// machine, a wake-up of another OS thread per batch of input: at a
// thousand messages a second, where every message is its own batch, it is
// most of what mqbroker adds to the publish->deliver latency. So once a
// plain TCP connection has sent something after CONNECT, its read job
// stays on its worker and waits for the next input there: the socket
// wakes the worker directly, which reads, routes and (conn.kick) writes
// to the subscribers without any hand-off.
//
// A hot connection costs a worker (a goroutine whose stack has grown to
// what the handlers need) for as long as it stays busy. The sweeper
// detaches connections that sent nothing for a whole hotTick, by
// interrupting their read (a read deadline in the past, with detach set):
// the job ends and the connection's own small goroutine waits again. At
// most maxHot connections are hot at once, so memory stays bounded;
// connections that only connected are never hot, so idle connections
// cost what workers.go says.
//
// Only plain TCP connections become hot: a read deadline that expires in
// the middle of a WebSocket frame breaks gorilla's connection state, and
// TLS records may be split the same way.

// maxHot bounds the hot connections; a variable for tests.
var maxHot = 1024

// hotTick is the sweeper's period; a variable for tests.
var hotTick = time.Second

type hotSet struct {
	mu    sync.Mutex
	conns map[*conn]struct{}
	epoch atomic.Uint32 // advanced by the sweeper every hotTick

	entered, detached atomic.Uint64 // counts: made hot, handed back by the sweeper
}

// enter makes c hot unless maxHot connections are.
func (h *hotSet) enter(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.conns) >= maxHot {
		return false
	}
	if h.conns == nil {
		h.conns = make(map[*conn]struct{})
	}
	h.conns[c] = struct{}{}
	h.entered.Add(1)
	return true
}

// leave removes c. After it returns the sweeper no longer touches c's
// read deadline.
func (h *hotSet) leave(c *conn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
}

// sweep detaches the hot connections that sent nothing since the
// previous sweep.
func (h *hotSet) sweep() {
	e := h.epoch.Add(1)
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		if c.seen.Load() == e-1 || c.detach.Load() {
			continue
		}
		// detach first: the reader checks it before each wait, and on
		// the timeout this deadline causes.
		c.detach.Store(true)
		_ = c.nc.SetReadDeadline(time.Now())
	}
}

// hotLoop runs the sweeper until the broker shuts down.
func (b *Broker) hotLoop() {
	defer b.wg.Done()
	t := time.NewTicker(hotTick)
	defer t.Stop()
	for {
		select {
		case <-b.done:
			return
		case <-t.C:
			b.hot.sweep()
		}
	}
}

// readJob handles the buffered input and, while the connection is hot,
// waits for more on this worker. It returns nil to hand the connection
// back to its own goroutine, or the error that ends the connection.
func (c *conn) readJob() error {
	for {
		wasStarted := c.started
		err := c.handleBuffered()
		c.flushDeferred()
		if err != nil || c.isClosing() {
			c.coolDown(false)
			return err
		}
		if !c.hot {
			if !wasStarted || !c.tcp || !c.b.hot.enter(c) {
				return nil
			}
			c.hot = true
		}
		c.seen.Store(c.b.hot.epoch.Load())
		if c.detach.Load() {
			c.coolDown(true)
			return nil
		}
		if err := c.r.Fill(); err != nil {
			var ne net.Error
			if c.detach.Load() && errors.As(err, &ne) && ne.Timeout() && !c.isClosing() {
				c.coolDown(true)
				return nil
			}
			c.coolDown(false)
			return err
		}
	}
}

// coolDown ends the hot state (reader only). With restore, the read
// deadline the sweeper may have cut short is set back to the keep alive
// deadline (none for keep alive 0): after leave, the sweeper no longer
// touches it, and a close that happens meanwhile is seen by readLoop
// before it reads.
func (c *conn) coolDown(restore bool) {
	if !c.hot {
		return
	}
	c.b.hot.leave(c)
	c.hot = false
	c.detach.Store(false)
	if restore {
		var d time.Time
		if c.readDeadline != 0 {
			d = time.Unix(0, c.readDeadline)
		}
		_ = c.nc.SetReadDeadline(d)
		c.b.hot.detached.Add(1)
	}
}
