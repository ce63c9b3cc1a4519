package bench

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// subscriber receives messages on one connection and accounts for them.
// The tracker and histogram belong to its read loop; the atomics feed the
// monitor and the progress line while the run goes on.
type subscriber struct {
	c      *Conn
	idx    int
	epoch  time.Time
	warmup time.Duration // latency is recorded for messages sent after this

	tracker *Tracker
	hist    Histogram

	unique   atomic.Uint64
	dups     atomic.Uint64
	lastRecv atomic.Int64 // ns since epoch of the latest new message

	dupQoS    [3]uint64 // duplicates by delivered QoS (read loop only)
	overQoS   uint64    // deliveries above the granted QoS
	granted   mqtt.QoS
	unstamped uint64
	pubrec    []bool // QoS 2 packet ids between PUBREC and PUBREL

	// The slow scenario's slow subscriber (pause > 0): from gateFrom (ns
	// since epoch; 0 = not yet) until gateStop is closed it reads in
	// cycles of pause without reading and drain of reading.
	pause, drain time.Duration
	gateFrom     atomic.Int64
	gateStop     chan struct{}
	pauses       atomic.Int64 // pauses taken

	mu  sync.Mutex
	err error
}

func (s *subscriber) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

func (s *subscriber) firstErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// readLoop runs until the connection closes. When it returns, the
// tracker, histogram and counters are final.
func (s *subscriber) readLoop() {
	for {
		if s.pause > 0 {
			s.gate()
		}
		pkt, err := s.c.ReadPacket()
		if err != nil {
			return
		}
		now := time.Since(s.epoch)
		switch p := pkt.(type) {
		case *mqtt.Publish:
			s.onPublish(p, now)
		case *mqtt.Ack:
			if p.Kind != mqtt.PUBREL {
				s.fail(fmt.Errorf("subscriber %d: unexpected %s", s.idx, p.Kind))
				continue
			}
			// Answer PUBREL with PUBCOMP, also for an identifier we do
			// not know (a repeated PUBREL) [MQTT-4.3.3-2].
			if s.pubrec != nil {
				s.pubrec[p.PacketID] = false
			}
			if s.c.WriteAck(mqtt.PUBCOMP, p.PacketID) != nil {
				return
			}
		case *mqtt.Pingresp:
		case *mqtt.Disconnect:
			s.fail(fmt.Errorf("subscriber %d: broker sent DISCONNECT: %s", s.idx, p.Code))
			return
		default:
			s.fail(fmt.Errorf("subscriber %d: unexpected %s", s.idx, pkt.Type()))
		}
		// Batch acknowledgements: flush once the received bytes are parsed.
		if s.c.InputDrained() && s.c.Flush() != nil {
			return
		}
	}
}

func (s *subscriber) onPublish(p *mqtt.Publish, now time.Duration) {
	if p.QoS > s.granted {
		// The broker must send at most the granted QoS [MQTT-3.8.4-6].
		s.overQoS++
	}
	s.account(p, now)
	switch p.QoS {
	case 1:
		// Acknowledge with PUBACK [MQTT-4.3.2-2].
		s.c.WriteAck(mqtt.PUBACK, p.PacketID)
	case 2:
		// Acknowledge with PUBREC [MQTT-4.3.3-2].
		if s.pubrec == nil {
			s.pubrec = make([]bool, 65536)
		}
		s.pubrec[p.PacketID] = true
		s.c.WriteAck(mqtt.PUBREC, p.PacketID)
	}
	// A failed write means the connection is gone: the next read fails.
}

// account records one delivery in the tracker and the histogram.
func (s *subscriber) account(p *mqtt.Publish, now time.Duration) {
	st, err := ParseStamp(p.Payload)
	if err != nil {
		s.unstamped++
		return
	}
	switch s.tracker.Add(st) {
	case New, Reordered:
		s.unique.Add(1)
		s.lastRecv.Store(int64(now))
		if st.Sent >= s.warmup {
			s.hist.Record(now - st.Sent)
		}
	case Duplicate:
		s.dups.Add(1)
		s.dupQoS[p.QoS]++
	}
}

// gate makes the slow subscriber stop reading while its cycle says so.
func (s *subscriber) gate() {
	from := s.gateFrom.Load()
	if from == 0 {
		return
	}
	select {
	case <-s.gateStop:
		return
	default:
	}
	wait := slowWait(time.Since(s.epoch)-time.Duration(from), s.pause, s.drain)
	if wait <= 0 {
		return
	}
	if s.c.Flush() != nil { // its acknowledgements first
		return
	}
	s.pauses.Add(1)
	sleep(wait, s.gateStop)
}

// slowWait is how long a reader cycling through pause (not reading) and
// drain (reading) must wait, elapsed into its cycles, before it reads.
func slowWait(elapsed, pause, drain time.Duration) time.Duration {
	if elapsed < 0 || pause <= 0 {
		return 0
	}
	if off := elapsed % (pause + drain); off < pause {
		return pause - off
	}
	return 0
}
