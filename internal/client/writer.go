package client

import (
	"bufio"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// outItem is one encoded packet waiting for the writer.
type outItem struct {
	p    mqtt.Packet
	raw  []byte
	sent *Token // completed once the packet is flushed (QoS 0 publishes)
	last bool   // close the connection after writing (DISCONNECT)
}

// enqueue queues an encoded packet and wakes the writer. It never blocks
// on the network. The packet is traced here, when queued, in the order it
// will go out (as libmosquitto logs "sending" when it queues a packet):
// an acknowledgement queued before a message is handed to OnRelease is
// traced before it.
func (c *Client) enqueue(it outItem) error {
	c.qmu.Lock()
	if c.qclosed {
		c.qmu.Unlock()
		return c.closedErr()
	}
	c.trace(true, it.p, it.raw)
	c.queue = append(c.queue, it)
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// writeLoop is the only goroutine writing to the connection. It drains the
// queue in batches and flushes once per batch.
func (c *Client) writeLoop() {
	defer c.wg.Done()
	bw := bufio.NewWriterSize(c.conn, 16<<10)
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		for {
			c.qmu.Lock()
			batch := c.queue
			c.queue = nil
			c.qmu.Unlock()
			if len(batch) == 0 {
				break
			}
			if !c.writeBatch(bw, batch) {
				return
			}
		}
	}
}

// writeBatch writes and flushes batch; false means the connection ended.
func (c *Client) writeBatch(bw *bufio.Writer, batch []outItem) bool {
	c.conn.SetWriteDeadline(time.Now().Add(c.opts.writeTimeout()))
	last := false
	for _, it := range batch {
		if _, err := bw.Write(it.raw); err != nil {
			c.writeFailed(err)
			c.failSent(batch)
			return false
		}
		if it.last {
			last = true
			break
		}
	}
	if err := bw.Flush(); err != nil {
		c.writeFailed(err)
		c.failSent(batch)
		return false
	}
	c.lastSend.Store(time.Now().UnixNano())
	for _, it := range batch {
		if it.sent != nil {
			it.sent.complete(nil, nil)
		}
	}
	if last {
		c.shutdown(nil)
		return false
	}
	return true
}

// failSent fails the tokens of a batch that could not be written (the
// connection has ended).
func (c *Client) failSent(batch []outItem) {
	cause := c.closedErr()
	for _, it := range batch {
		if it.sent != nil {
			it.sent.complete(nil, cause)
		}
	}
}

func (c *Client) writeFailed(err error) {
	if c.disconnecting.Load() {
		c.shutdown(nil)
		return
	}
	c.fail(&ConnectionLostError{Err: err})
}
