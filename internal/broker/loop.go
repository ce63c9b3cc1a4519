package broker

import (
	"errors"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// The event loop: one goroutine reads every TCP connection, every TLS
// connection once its handshake is done (loop_tls.go) and every WebSocket
// once upgraded (loop_ws.go), in the order their input arrives, and
// handles it (Linux, epoll). Elsewhere, and for unix sockets and PROXY
// protocol listeners, each connection has a goroutine of its own
// (conn.go).
//
// Why one loop: causal order across connections. When a client's write
// of SUBSCRIBE t has returned, the SUBSCRIBE is in the broker's socket,
// and a PUBLISH t that another client sends after that must be routed
// after the subscription exists (internal/selftest/causal.go). With a
// goroutine per connection the scheduler decides which runs first; here a
// pass of the loop works like this:
//
//  1. Gather: epoll_wait, then one read for each ready connection, then
//     epoll_wait again without waiting, reading the connections that
//     became ready meanwhile, until a poll finds nothing new (bounded by
//     maxGather polls; a connection whose 16 KiB input buffer is full is
//     not read again in the pass). Every byte that reached the broker
//     before the last PUBLISH read in the pass has then been read too,
//     except the input of connections whose buffer was already full.
//  2. Order: the connections whose gathered input holds a complete
//     SUBSCRIBE, UNSUBSCRIBE or CONNECT are handled first, each up to the
//     end of its input, in the order they became ready; then all the
//     others. So a subscription that reached the broker before a PUBLISH
//     is in the trie when that PUBLISH is routed (unless its own client
//     had sent a PUBLISH right before it that itself causally follows
//     another client's SUBSCRIBE in the same pass: a cycle of causal
//     dependencies inside one pass of microseconds, which no client we
//     know of produces).
//  3. Write: every reply and delivery the pass queued is written at its
//     end, one system call per connection that never waits for the
//     socket (conn.kick, flushInline); what a socket does not take goes
//     to a write job.
//
// The loop never blocks: a publisher that must wait for a subscriber's
// room (flow.go) is paused (taken out of the epoll set, its input kept)
// and a goroutine waits for it, acknowledges the publish and hands it
// back (awaitRoom); closing a connection (flushing what is queued,
// detaching its session, publishing its will) runs on a goroutine too
// (finish). Timeouts (connect, keep alive) are checked by a sweep every
// sweepEvery, not by socket deadlines.
//
// An idle loop connection costs no goroutine and no buffer: its Framer
// borrows a buffer (1 KiB, 16 KiB once input outgrew that) only while
// input is buffered. A plain TCP socket is accepted as a bare descriptor
// (fdConn, fdconn_linux.go: no net.TCPConn, no runtime poll descriptor).
// After trimAfter of silence (or right after the pass, for a connection
// whose packets come after a silence of rareGap) the sweep drops its
// Framer and its outbound queue's arrays too (trimIdle), and after a
// burst of connections the loop returns the free memory to the OS
// (returnMemory). Issue 17; figures in PERFORMANCE.md.

// maxGather bounds the polls of one gather.
const maxGather = 8

// sweepEvery is how often timeouts are checked.
const sweepEvery = 100 * time.Millisecond

// loopFirst are the packets whose connections are handled first in a pass.
const loopFirst = 1<<mqtt.SUBSCRIBE | 1<<mqtt.UNSUBSCRIBE | 1<<mqtt.CONNECT

// errPaused ends a connection's turn in a pass: its publish waits for room.
var errPaused = errors.New("paused for a subscriber's room")

// loopConn is the loop's state of a connection (loop goroutine only).
type loopConn struct {
	fd      int32
	pass    uint32 // the pass it was last ready in
	handled uint32 // the pass it was last handled in
	polled  bool   // in the epoll set
	paused  bool   // a publish waits for room (awaitRoom)
	more    bool   // on loop.more: read at the next pass without an epoll event
	closing bool   // closed while paused: ended when it resumes
	dead    bool   // ended: finish runs or ran
	trimmed bool   // trimIdle ran since its last packet
	rare    bool   // its last packets came after a silence: drop its queue's arrays after the flush
	// handling: the loop is running its packets (handle): kick defers
	// the writes they queue to the end of the pass (deferredList).
	handling bool
	// reg is not the loop's: its position in Broker.conns (connSet),
	// under Broker.mu, for every connection; here, in padding.
	reg     int32
	lastPkt int64 // Unix ns: last packet handled (keep alive); before CONNECT, accepted (connect timeout)
	// rerr: the socket failed or ended, handled after its input
	// (readErr); a pointer, as it is set once in a connection's life (8
	// bytes where an error takes 16: TestIdleSizes).
	rerr *error
}

// readErr is the error that ended c's socket, nil while it has not.
func (lp *loopConn) readErr() error {
	if lp.rerr == nil {
		return nil
	}
	return *lp.rerr
}

// setReadErr records the error that ended c's socket (err != nil).
func (lp *loopConn) setReadErr(err error) { lp.rerr = &err }

// pausedPublish is a publish waiting for room, handed from the loop to
// awaitRoom.
type pausedPublish struct {
	f    flow
	qos  mqtt.QoS
	pid  uint16
	code mqtt.ReasonCode
}

type postKind uint8

const (
	postAdd    postKind = iota // a new connection
	postClose                  // conn.close was called
	postResume                 // awaitRoom is done
)

type loopPost struct {
	c    *conn
	kind postKind
}

// trimAfter is how long a loop connection must have been silent before
// the sweep takes back its Framer and its empty outbound queue's arrays
// (trimIdle).
const trimAfter = time.Second

// rareGap: a connection whose packets come after at least rareGap of
// silence (a device that publishes now and then) gives back its Framer
// and queue arrays as soon as the pass that handled them has flushed,
// instead of after trimAfter: otherwise a fleet sending one message a
// second would keep them for ever. A busy connection, whose packets
// follow each other closely, keeps them.
const rareGap = 100 * time.Millisecond

// needFramer gives c a Framer if it has none (loop goroutine).
func (c *conn) needFramer() {
	if c.fr == nil {
		c.fr = mqtt.NewFramer(c.b.cfg.MaxPacketSize)
		c.fr.Version = c.version
	}
}

// trimIdle drops what a connection silent for trimAfter holds for its
// next input and output: its Framer (64 bytes; the next read makes a new
// one) and the empty array of its outbound queue, kept by drain to swap
// with the spare (64 bytes after the CONNACK). Loop goroutine (sweep); c
// is neither paused nor dead. Issue 17: an idle connection should cost
// no more than it must. It reports whether it trimmed.
func (c *conn) trimIdle() bool {
	if !c.dropFramer() {
		return false // input held somewhere: not idle
	}
	c.dropQueueArrays()
	if c.sess != nil {
		c.sess.trimIdle() // its QoS state, if it holds nothing (session.go)
	}
	c.lp.trimmed = true
	return true
}

// dropFramer drops c's Framer unless it holds input; false if it does.
func (c *conn) dropFramer() bool {
	if c.fr == nil {
		return true
	}
	if c.lp.more || c.lp.rerr != nil || c.fr.Buffered() > 0 || c.fr.Err() != nil {
		return false
	}
	c.fr.Release()
	c.fr = nil
	return true
}

// dropQueueArrays drops c's outbound queue (its arrays and the
// outQueue) when it is empty and nobody waits on its channels; the next
// push makes a new one.
func (c *conn) dropQueueArrays() {
	c.qmu.Lock()
	if q := c.oq; q != nil && q.empty() && q.room == nil && q.closed == nil {
		c.oq = nil // drain swaps items and spare: either may hold the array
	}
	c.qmu.Unlock()
}

// A burst of at least burstConns new connections followed by burstQuiet
// without any makes the loop return the memory the burst left free to the
// operating system (returnMemory).
const (
	burstConns = 1000
	burstQuiet = trimAfter + 500*time.Millisecond
)

// returningMemory is set while returnMemory runs.
var returningMemory atomic.Bool

// returnMemory collects the garbage of a burst of connections (CONNECT
// packets, the Framers and queue arrays trimIdle dropped) and returns the
// free pages to the operating system at once instead of over minutes
// (Go's scavenger): the broker's RSS is then its live memory, not the
// peak of the burst. It runs on its own goroutine, once per burst, never
// on the busy path.
func returnMemory() {
	defer returningMemory.Store(false)
	debug.FreeOSMemory()
}

// loopPackets handles the complete packets c's Framer holds.
func (c *conn) loopPackets(now int64) error {
	if c.fr == nil {
		return c.lp.readErr() // nothing read since it was trimmed
	}
	for !c.isClosing() {
		p, err := c.b.loop.nextPacket(c)
		if err != nil {
			return c.inputErr(err)
		}
		if p == nil {
			c.fr.Release()
			return c.lp.readErr() // nil, or the socket ended after this input
		}
		c.lp.lastPkt = now
		if err := c.process(p); err != nil {
			return err
		}
	}
	return nil
}

// awaitRoom waits, off the loop, for the room a paused publish waits for
// (flow.wait), acknowledges the publish, and hands c back to the loop.
func (c *conn) awaitRoom(pp *pausedPublish) {
	pp.f.wait()
	c.ackPublish(&mqtt.Publish{QoS: pp.qos, PacketID: pp.pid}, pp.code)
	c.b.loop.post(loopPost{c: c, kind: postResume})
}

// pausePublish ends c's turn after a publish that must wait for room
// (handlePublish on the loop); awaitRoom waits and acknowledges it.
func (c *conn) pausePublish(f *flow, p *mqtt.Publish, code mqtt.ReasonCode) error {
	c.b.loop.pausing = &pausedPublish{f: *f, qos: p.QoS, pid: p.PacketID, code: code}
	return errPaused
}

// finish is the end of a connection that left the loop, as serve's.
func (c *conn) finish() {
	defer c.b.wg.Done()
	c.flushAtClose()
	c.b.connGone(c)
	_ = c.netConn().SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	c.netConn().Close()
}

// loopable reports whether c can be read by the loop: plain TCP, no
// PROXY header to read first.
func (c *conn) loopable() bool {
	return (c.tcp || c.tlsSrc() != nil || c.ws() != nil) && !c.lis.proxyFirst() && !noEventLoop && !c.b.cfg.noEventLoop
}

// noEventLoop turns the loop off (tests compare both paths).
var noEventLoop = os.Getenv("MQKIT_NO_EVENT_LOOP") != ""
