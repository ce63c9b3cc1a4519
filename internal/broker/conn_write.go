package broker

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Outbound path. Any goroutine queues items under qmu (never writing to
// the socket); the write job (conn.go) swaps the queue out, encodes outside
// the lock into a bufio.Writer and flushes only when the queue is empty,
// so one wake-up writes everything queued meanwhile. A write deadline
// bounds every batch: a client that stops reading is a slow consumer.
//
// Back-pressure policy (see flow.go):
//   - control packets (CONNACK, acks, SUBACK, PINGRESP, DISCONNECT) and
//     QoS 1/2 publishes are always queued; QoS 1/2 are bounded by the
//     inflight window, the rest waits in the session queue (session.go);
//   - QoS 0 publishes beyond MaxQueued (or MaxQueuedBytes) make the
//     publisher wait for room; when it may not wait (a slow consumer, a
//     message from the broker itself) they are dropped and counted;
//   - above MaxOutboundBytes queued bytes the client is closed as a slow
//     consumer (v5: DISCONNECT 0x97).

type itemKind uint8

const (
	itemPacket  itemKind = iota // a prepared control packet
	itemPublish                 // an application message
	itemAck                     // PUBACK/PUBREC/PUBREL/PUBCOMP
)

type outItem struct {
	kind    itemKind
	qos     mqtt.QoS
	retain  bool
	dup     bool
	pid     uint16
	ackKind mqtt.PacketType
	code    mqtt.ReasonCode
	msg     *message
	subIDs  []uint32
	pkt     mqtt.Packet
	size    int64
}

// writerState is owned by the write job (under wmu).
type writerState struct {
	bw      *writeBuf   // from bufPool while there is something to write
	aliases *outAliases // outbound topic aliases; set at CONNECT when the client allows them
}

// writeBuf is what the writer borrows while it has something to write:
// the 4 KiB buffer and the packets it encodes (an idle connection holds
// neither).
type writeBuf struct {
	bufio.Writer
	pub     mqtt.Publish
	ack     mqtt.Ack
	scratch []byte // a PUBLISH header (writePublish)
	// backlog is what an inline flush (conn.nonblock) wrote that the
	// socket did not take at once; the next write job writes it first.
	// The writer keeps its writeBuf while the backlog is not empty.
	backlog []byte
}

// closeFlushTimeout bounds the final flush after close.
const closeFlushTimeout = 2 * time.Second

// pushResult says what push did with an item.
type pushResult uint8

const (
	pushOK      pushResult = iota // queued
	pushFull                      // queued; the QoS 0 backlog is now at its soft limit
	pushDropped                   // not queued: the connection is closing, or QoS 0 over the limit
	pushUnfit                     // not queued: does not fit the client (fits), discarded as if sent
)

// push appends it to the queue and wakes the writer (see kick for by).
// For a QoS 0 publish (qos0) the backlog of QoS 0 publishes is bounded by
// MaxQueued and MaxQueuedBytes: beyond them it is dropped unless
// mayExceed (the publisher will wait for room, see flow.go).
func (c *conn) push(it outItem, qos0, mayExceed bool, by *conn) pushResult {
	cfg := c.b.cfg
	c.qmu.Lock()
	if c.closed {
		c.qmu.Unlock()
		return pushDropped
	}
	res := pushOK
	q := c.queue()
	if qos0 {
		mb := cfg.MaxQueuedBytes
		if !mayExceed && (q.pubs >= cfg.maxQueued || (mb > 0 && q.bytes+it.size > mb)) {
			c.qmu.Unlock()
			return pushDropped
		}
		q.pubs++
		if q.pubs >= cfg.maxQueued || (mb > 0 && q.bytes+it.size >= mb) {
			res = pushFull
		}
	}
	if it.msg != nil {
		it.msg.hold() // released when written (drain)
	}
	q.items = append(q.items, it)
	q.bytes += it.size
	slow := q.bytes > cfg.maxOutbound
	c.qmu.Unlock()
	c.kick(by)
	if slow {
		c.close(CloseSlowConsumer, 0)
	}
	return res
}

// The enqueue functions take by, the connection whose read job runs the
// call (nil if none): see kick.

func (c *conn) enqueuePacket(p mqtt.Packet, by *conn) {
	c.push(outItem{kind: itemPacket, pkt: p, size: 16}, false, false, by)
}

func (c *conn) enqueueAck(kind mqtt.PacketType, pid uint16, code mqtt.ReasonCode, by *conn) {
	c.push(outItem{kind: itemAck, ackKind: kind, pid: pid, code: code, size: 8}, false, false, by)
}

// enqueuePublish queues a QoS 1/2 message (already in the inflight window).
func (c *conn) enqueuePublish(m *message, qos mqtt.QoS, retain, dup bool, pid uint16, subIDs []uint32, by *conn) {
	c.push(outItem{kind: itemPublish, msg: m, qos: qos, retain: retain, dup: dup, pid: pid,
		subIDs: subIDs, size: m.payloadSize() + 16}, false, false, by)
}

// enqueueQoS0 queues a QoS 0 message; see push for mayExceed.
func (c *conn) enqueueQoS0(m *message, retain bool, subIDs []uint32, mayExceed bool, by *conn) pushResult {
	if !c.fits(m, 0, subIDs) {
		return pushUnfit // [MQTT-3.1.2-25]
	}
	return c.push(outItem{kind: itemPublish, msg: m, retain: retain, subIDs: subIDs,
		size: m.payloadSize() + 16}, true, mayExceed, by)
}

// fits reports whether m can be sent to c: its topic is below c's mount
// point, if any (mount.go), and it is not larger than a v5 client's
// Maximum Packet Size [MQTT-3.1.2-24].
func (c *conn) fits(m *message, qos mqtt.QoS, subIDs []uint32) bool {
	topic := m.topic
	if c.mount() != "" {
		t, ok := c.unmount(topic)
		if !ok {
			return false
		}
		topic = t
	}
	if c.maxOut == 0 {
		return true
	}
	// Quick reject with the smallest possible encoding: fixed header 2,
	// topic length 2, packet id 2 (QoS 1/2 only), properties length 1,
	// and the topic or, when aliases are used, a 3-byte topic alias.
	least := len(m.payload) + 5
	if qos > 0 {
		least += 2
	}
	if c.aliasMaxOut > 0 {
		least += min(len(topic), 3)
	} else {
		least += len(topic)
	}
	if int64(least) > int64(c.maxOut) {
		return false
	}
	p := mqtt.Publish{Topic: topic, Payload: m.payload, QoS: qos, PacketID: 1, Props: m.propsValue()}
	p.Props.SubscriptionIDs = subIDs
	if !m.expiry.IsZero() {
		p.Props.SetMessageExpiry(1)
	}
	if mqtt.Size(&p, c.version) <= int(c.maxOut) {
		return true // in full; applyAlias uses an alias only if it still fits
	}
	// Too large in full: it fits if the topic has an alias already that
	// makes it small enough (aliases are never reassigned on a
	// connection, so the writer will use it).
	if c.aliasMaxOut == 0 {
		return false
	}
	al := c.w.aliases
	al.mu.Lock()
	a, ok := al.m[topic]
	al.mu.Unlock()
	if !ok {
		return false
	}
	p.Topic = ""
	p.Props.SetTopicAlias(a)
	return mqtt.Size(&p, c.version) <= int(c.maxOut)
}

// drain writes everything queued, then flushes. It reports whether the
// connection is closed (and fully flushed).
func (c *conn) drain() (closed bool, err error) {
	for {
		c.qmu.Lock()
		var items []outItem
		if q := c.oq; q != nil {
			items = q.items
			q.items, q.spare = q.spare[:0], nil
			q.bytes, q.pubs = 0, 0
			c.signalRoom() // the QoS 0 backlog is empty: wake waiting publishers
		}
		closed = c.closed
		c.qmu.Unlock()
		if len(items) == 0 {
			break
		}
		if c.w.bw == nil {
			c.w.bw = bufPool.Get().(*writeBuf)
			c.w.bw.Reset(rawWriter{c})
		}
		if !c.nonblock { // an inline flush never waits: no deadline needed
			_ = c.netConn().SetWriteDeadline(time.Now().Add(c.b.cfg.WriteTimeout))
			if c.isClosing() {
				c.closingDeadline()
			}
		}
		for i := range items {
			err := c.writeItem(&items[i])
			if m := items[i].msg; m != nil {
				m.release() // encoded (or not sent): push's reference
			}
			if err != nil {
				return closed, err
			}
		}
		clear(items)
		if cap(items) <= 1024 { // do not keep a burst's array for ever
			c.qmu.Lock()
			if c.oq != nil { // else trimmed meanwhile: the array goes too
				c.oq.spare = items[:0]
			}
			c.qmu.Unlock()
		}
	}
	if c.w.bw != nil {
		if c.w.bw.Buffered() > 0 {
			if c.isClosing() {
				c.closingDeadline()
			}
			if err := c.w.bw.Flush(); err != nil {
				return closed, err
			}
		}
		if len(c.w.bw.backlog) > 0 {
			return closed, nil // kept for the write job
		}
		// An idle connection holds no write buffer.
		c.w.bw.Reset(nil)
		bufPool.Put(c.w.bw)
		c.w.bw = nil
	}
	return closed, nil
}

// bufPool holds the writers' 4 KiB buffers while connections are idle.
var bufPool = sync.Pool{New: func() any { return &writeBuf{Writer: *bufio.NewWriterSize(nil, 4096)} }}

// closingDeadline shortens the writer's deadline once the connection is
// closing (write job only). Checked after setting the normal
// deadline, so a concurrent close (which calls limitWrite itself) cannot
// be undone by it.
func (c *conn) closingDeadline() {
	_ = c.netConn().SetWriteDeadline(time.Now().Add(c.finalFlush()))
	c.limitWrite()
}

func (c *conn) writeFailed(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.close(CloseSlowConsumer, 0)
	} else {
		c.close(CloseWriteError, 0)
	}
}

func (c *conn) writeRaw(p []byte) (int, error) {
	if c.nonblock {
		return c.writeNow(p)
	}
	n, err := c.netConn().Write(p)
	c.b.stats.bytesSent.Add(int64(n))
	return n, err
}

// writeNow writes what the socket takes without waiting and appends the
// rest to the backlog (inline flush; plain TCP only). It never fails: an
// error is left for the write job, whose blocking write meets it again.
func (c *conn) writeNow(p []byte) (int, error) {
	bw := c.w.bw // set: writeNow runs inside drain
	total := len(p)
	if len(bw.backlog) == 0 {
		if n := c.writeSome(p); n > 0 { // conn_nonblock.go
			c.b.stats.bytesSent.Add(int64(n))
			p = p[n:]
		}
	}
	if len(p) > 0 {
		bw.backlog = append(bw.backlog, p...)
	}
	return total, nil
}

// writeBacklog writes, blocking, what an inline flush left. wmu held.
func (c *conn) writeBacklog() error {
	bw := c.w.bw
	if bw == nil || len(bw.backlog) == 0 {
		return nil
	}
	_ = c.netConn().SetWriteDeadline(time.Now().Add(c.b.cfg.WriteTimeout))
	if c.isClosing() {
		c.closingDeadline()
	}
	_, err := c.writeRaw(bw.backlog)
	bw.backlog = nil
	return err
}

func (c *conn) wireVersion() mqtt.Version {
	if c.version == 0 {
		return mqtt.V311
	}
	return c.version
}

func (c *conn) writeItem(it *outItem) error {
	w := &c.w
	v := c.wireVersion()
	var p mqtt.Packet
	switch it.kind {
	case itemPublish:
		return c.writePublish(it, v)
	case itemAck:
		w.bw.ack = mqtt.Ack{Kind: it.ackKind, PacketID: it.pid, Code: it.code}
		p = &w.bw.ack
	default:
		p = it.pkt
		if !c.packetFits(p, v) {
			return nil // [MQTT-3.1.2-24] (maxpacket.go)
		}
	}
	buf, err := mqtt.Append(w.bw.AvailableBuffer(), p, v)
	if err != nil {
		c.b.cfg.Logger.Error("encode failed", "client", c.clientID(), "packet", p.Type().String(), "err", err)
		return nil
	}
	c.b.stats.msgsSent.Add(1)
	if c.b.cfg.Verbose {
		c.logSent(p)
	}
	_, err = w.bw.Write(buf)
	return err
}

func (c *conn) writePublish(it *outItem, v mqtt.Version) error {
	w := &c.w
	m := it.msg
	var now time.Time
	if !m.expiry.IsZero() {
		now = c.b.now()
	}
	if it.qos == 0 && m.expired(now) {
		// Deleted, not sent [MQTT-3.3.2-5]: counted as dropped ($SYS
		// and /metrics), and no longer as sent (deliverFlow counted it
		// when it queued it).
		c.b.drop(DropExpired)
		c.b.metrics.unnotePublishOut(0, m)
		return nil
	}
	if it.qos == 0 && !m.expiry.IsZero() {
		// Not expired: sent now (deliverFlow leaves these to the writer).
		c.b.metrics.noteDelivered(0, m)
		c.tracePublish(true, m, 0, it.retain, false, 0)
	}
	topic := m.topic
	if c.mount() != "" {
		// Without the mount point (mount.go). fits and resend keep what
		// cannot be unmounted out of the queue; this is the last guard.
		t, ok := c.unmount(topic)
		if !ok {
			c.b.cfg.Logger.Error("topic outside the mount point not sent", "client", c.clientID(), "topic", topic)
			return nil
		}
		topic = t
	}
	p := &w.bw.pub
	*p = mqtt.Publish{Topic: topic, Payload: m.payload, QoS: it.qos, Retain: it.retain,
		Dup: it.dup, PacketID: it.pid}
	if v == mqtt.V5 {
		if m.props != nil {
			p.Props = *m.props
		}
		p.Props.SubscriptionIDs = it.subIDs // [MQTT-3.3.4-3]
		if !m.expiry.IsZero() {
			p.Props.SetMessageExpiry(m.remainingExpiry(now)) // [MQTT-3.3.2-6]
		}
		if c.aliasMaxOut > 0 {
			c.applyAlias(p, v)
		}
	}
	hdr, err := mqtt.AppendHeader(w.bw.scratch[:0], p, v)
	if err != nil {
		c.b.cfg.Logger.Error("encode failed", "client", c.clientID(), "topic", topic, "err", err)
		return nil
	}
	w.bw.scratch = hdr[:0]
	c.b.stats.msgsSent.Add(1)
	c.b.stats.publishSent.Add(1)
	if c.b.cfg.Verbose {
		c.logv("Sending PUBLISH to %s (d%d, q%d, r%d, m%d, '%s', ... (%d bytes))",
			c.clientID(), b2i(it.dup), it.qos, b2i(it.retain), it.pid, topic, len(m.payload))
	}
	if _, err := w.bw.Write(hdr); err != nil {
		return err
	}
	_, err = w.bw.Write(m.payload)
	return err
}

// applyAlias uses or creates an outbound topic alias, within the client's
// Topic Alias Maximum [MQTT-3.3.2-8]. New topics beyond the maximum are
// sent in full. fits checked the packet without an alias; an alias (3
// bytes) is only used when the packet still fits the client's Maximum
// Packet Size with it [MQTT-3.1.2-24] — it can outgrow a 1- or 2-byte
// topic, and setting one adds it to the full topic.
func (c *conn) applyAlias(p *mqtt.Publish, v mqtt.Version) {
	al := c.w.aliases
	al.mu.Lock()
	defer al.mu.Unlock()
	if a, ok := al.m[p.Topic]; ok {
		topic := p.Topic
		p.Topic = ""
		p.Props.SetTopicAlias(a)
		if c.maxOut > 0 && mqtt.Size(p, v) > int(c.maxOut) {
			p.Topic = topic
			p.Props.Unmark(mqtt.PropTopicAlias)
		}
		return
	}
	if len(al.m) >= int(c.aliasMaxOut) {
		return
	}
	a := uint16(len(al.m) + 1)
	p.Props.SetTopicAlias(a)
	if c.maxOut > 0 && mqtt.Size(p, v) > int(c.maxOut) {
		p.Props.Unmark(mqtt.PropTopicAlias)
		return
	}
	if al.m == nil {
		al.m = make(map[string]uint16)
	}
	al.m[strings.Clone(p.Topic)] = a // not the message's topic: it would keep its payload
}

// outAliases are a connection's outbound topic aliases. The writer sets
// them; fits reads them from publishers' goroutines, hence the lock.
type outAliases struct {
	mu sync.Mutex
	m  map[string]uint16
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
