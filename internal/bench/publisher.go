package bench

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Packet identifier states of a publisher's outgoing QoS>0 messages.
const (
	idFree     = 0
	idAwaitAck = 1 // PUBLISH sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2)
	idAwaitCmp = 2 // PUBREL sent, waiting for PUBCOMP
)

// publisher sends count messages (or until its deadline) on one topic,
// keeping at most window QoS>0 messages unacknowledged.
type publisher struct {
	c       *Conn
	idx     uint32
	runID   uint32
	epoch   time.Time
	topic   string
	qos     mqtt.QoS
	count   uint64        // messages to send; 0 = until deadline
	first   uint64        // the first sequence number (a reconnected publisher goes on)
	until   time.Time     // stop sending at this time
	every   time.Duration // pacing interval; 0 = as fast as possible
	window  int
	payload []byte

	sent  atomic.Uint64 // PUBLISH packets written
	acked atomic.Uint64 // completed handshakes (PUBACK, PUBCOMP)
	bogus atomic.Uint64 // acknowledgements for packet ids not in flight
	done  atomic.Int64  // when the last message completed (ns since epoch)
	// The longest time between two consecutive publishes (ns) and the
	// number of such gaps over a second: how long the broker held the
	// publisher (a full socket blocks the write).
	maxGap   atomic.Int64
	longGaps atomic.Uint64

	sem   chan struct{}   // one token per unacknowledged message
	state []atomic.Uint32 // by packet identifier

	mu  sync.Mutex
	err error // first error
}

func newPublisher(c *Conn, idx uint32, qos mqtt.QoS, window int) *publisher {
	p := &publisher{c: c, idx: idx, qos: qos}
	if qos > 0 {
		// Packet identifiers are seq%65535+1: with fewer than 65535
		// messages unacknowledged each new one gets a currently unused
		// identifier [MQTT-2.3.1-2].
		window = min(window, int(c.ReceiveMax), 65535)
		p.window = max(window, 1)
		p.sem = make(chan struct{}, p.window)
		p.state = make([]atomic.Uint32, 65536)
	}
	return p
}

func (p *publisher) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
}

func (p *publisher) firstErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// run publishes until count, the deadline or stop; then, for QoS>0, waits
// until every message is acknowledged (or stop).
func (p *publisher) run(stop <-chan struct{}) {
	msg := mqtt.Publish{Topic: p.topic, QoS: p.qos, Payload: p.payload}
	start := time.Now()
	prev := start
	seq := p.first
	for p.count == 0 || seq < p.count {
		select {
		case <-stop:
			return
		default:
		}
		now := time.Now()
		if p.every == 0 {
			p.noteGap(now.Sub(prev))
			prev = now
		}
		if !now.Before(p.until) {
			break
		}
		if p.every > 0 {
			next := start.Add(time.Duration(seq-p.first) * p.every)
			if wait := next.Sub(now); wait > 0 {
				if p.c.Flush() != nil {
					return
				}
				if !sleep(wait, stop) {
					return
				}
				now = time.Now()
			}
		}
		if p.qos > 0 {
			if !p.acquire(stop) {
				return
			}
			msg.PacketID = uint16(seq%65535) + 1
			if !p.state[msg.PacketID].CompareAndSwap(idFree, idAwaitAck) {
				p.fail(fmt.Errorf("publisher %d: packet id %d reused while still unacknowledged", p.idx, msg.PacketID))
				p.state[msg.PacketID].Store(idAwaitAck)
			}
		}
		PutStamp(p.payload, Stamp{Run: p.runID, Pub: p.idx, Seq: seq, Sent: now.Sub(p.epoch)})
		if err := p.c.WritePublish(&msg); err != nil {
			p.noteGap(time.Since(prev)) // held until the connection failed
			p.failIO(err)
			return
		}
		seq++
		p.sent.Store(seq)
		if p.every > 0 {
			// Paced: send now, so latency measures the broker, not our buffer.
			if err := p.c.Flush(); err != nil {
				p.failIO(err)
				return
			}
		}
	}
	if err := p.c.Flush(); err != nil {
		p.failIO(err)
		return
	}
	if p.qos > 0 {
		// Wait for the outstanding acknowledgements: own every token.
		for range p.window {
			select {
			case p.sem <- struct{}{}:
			case <-stop:
				return
			}
		}
	}
	p.done.Store(int64(time.Since(p.epoch)))
}

// noteGap records the time since the previous publish.
func (p *publisher) noteGap(d time.Duration) {
	if d > time.Second {
		p.longGaps.Add(1)
	}
	if int64(d) > p.maxGap.Load() {
		p.maxGap.Store(int64(d))
	}
}

func (p *publisher) failIO(err error) {
	if !isClosed(err) {
		p.fail(fmt.Errorf("publisher %d: %w", p.idx, err))
	}
}

// acquire takes a window token, flushing first when it has to wait.
func (p *publisher) acquire(stop <-chan struct{}) bool {
	select {
	case p.sem <- struct{}{}:
		return true
	default:
	}
	if err := p.c.Flush(); err != nil {
		p.failIO(err)
		return false
	}
	select {
	case p.sem <- struct{}{}:
		return true
	case <-stop:
		return false
	}
}

// release returns a token when a handshake completes.
func (p *publisher) release() {
	select {
	case <-p.sem:
		p.acked.Add(1)
	default:
		p.bogus.Add(1)
	}
}

// readLoop handles what the broker sends a publisher: acknowledgements of
// its QoS 1 and 2 messages. It returns when the connection closes.
func (p *publisher) readLoop() {
	for {
		pkt, err := p.c.ReadPacket()
		if err != nil {
			return
		}
		switch a := pkt.(type) {
		case *mqtt.Ack:
			if p.state == nil {
				p.bogus.Add(1)
				continue
			}
			if a.Code.IsError() {
				// v5: a PUBACK/PUBREC reason code >= 0x80 means the
				// broker did not accept the message; the exchange ends.
				p.fail(fmt.Errorf("publisher %d: %s for packet %d: %s", p.idx, a.Kind, a.PacketID, a.Code))
			}
			st := &p.state[a.PacketID]
			switch a.Kind {
			case mqtt.PUBACK:
				if st.CompareAndSwap(idAwaitAck, idFree) {
					p.release()
				} else {
					p.bogus.Add(1)
				}
			case mqtt.PUBREC:
				if a.Code.IsError() {
					if st.CompareAndSwap(idAwaitAck, idFree) {
						p.release()
					}
					continue
				}
				// Answer PUBREC with PUBREL [MQTT-4.3.3-1]; a repeated
				// PUBREC gets another PUBREL.
				if st.CompareAndSwap(idAwaitAck, idAwaitCmp) || st.Load() == idAwaitCmp {
					if p.c.WriteAck(mqtt.PUBREL, a.PacketID) != nil {
						return
					}
				} else {
					p.bogus.Add(1)
				}
			case mqtt.PUBCOMP:
				if st.CompareAndSwap(idAwaitCmp, idFree) {
					p.release()
				} else {
					p.bogus.Add(1)
				}
			default:
				p.bogus.Add(1)
			}
			if p.c.InputDrained() && p.c.Flush() != nil {
				return
			}
		case *mqtt.Disconnect:
			p.fail(fmt.Errorf("publisher %d: broker sent DISCONNECT: %s", p.idx, a.Code))
			return
		}
	}
}

// sleep waits for d or stop; it reports false on stop.
func sleep(d time.Duration, stop <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	}
}
