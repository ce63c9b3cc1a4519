package broker

import (
	"math"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Counters for /metrics (internal/web turns them into Prometheus
// metrics). They are plain atomics, kept whether or not anyone scrapes
// them, except the publish-to-deliver latency, which needs a clock
// reading per message and is measured only after EnableLatency.

// Drop reasons (Metrics.Dropped).
const (
	DropQueueFull    = iota // an offline session's queue is full (max_queued_messages)
	DropSlowConsumer        // QoS 0 beyond a connected client's queue
	DropACL                 // the subscriber may not read it (ACL)
	DropExpired             // Message Expiry Interval passed before delivery
	DropTooLarge            // message_size_limit, or the client's Maximum Packet Size
	DropNoSubscriber        // a shared subscription's last member left
	DropOther               // outside the listener's mount point
	numDrops
)

// DropReasons names the drop reasons, indexed by the Drop* constants.
var DropReasons = [numDrops]string{"queue_full", "slow_consumer", "acl", "expired", "too_large", "shared_no_member", "other"}

// LatencyBuckets are the upper bounds, in seconds, of the latency
// histograms.
var LatencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Histogram is a lock-free latency histogram over LatencyBuckets.
type Histogram struct {
	counts [17]atomic.Uint64 // one per bucket, and +Inf
	sumNs  atomic.Int64
	n      atomic.Uint64
}

// Observe adds one observation.
func (h *Histogram) Observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(LatencyBuckets) && s > LatencyBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
	h.n.Add(1)
}

// Snapshot returns the cumulative bucket counts (by upper bound), the
// count and the sum in seconds.
func (h *Histogram) Snapshot() (buckets map[float64]uint64, count uint64, sum float64) {
	buckets = make(map[float64]uint64, len(LatencyBuckets))
	var cum uint64
	for i, ub := range LatencyBuckets {
		cum += h.counts[i].Load()
		buckets[ub] = cum
	}
	cum += h.counts[len(LatencyBuckets)].Load()
	buckets[math.Inf(1)] = cum
	return buckets, cum, float64(h.sumNs.Load()) / 1e9
}

// striped is a counter split over cache lines, so that goroutines on
// different cores adding to it (indexed by session) do not contend.
type striped [8]struct {
	v atomic.Int64
	_ [56]byte
}

func (s *striped) add(i uint64, n int64) { s[i%uint64(len(s))].v.Add(n) }

func (s *striped) load() int64 {
	var n int64
	for i := range s {
		n += s[i].v.Load()
	}
	return n
}

type metricsState struct {
	every         atomic.Uint32     // publish-to-deliver latency: 1 message in every; 0 = off
	connects      atomic.Int64      // CONNECTs accepted
	sockets       atomic.Int64      // network connections started
	refused       [256]atomic.Int64 // by CONNACK reason code (v5 numbering)
	refusedAccept atomic.Int64      // closed at accept: max_connections
	pubIn         [3]striped
	pubInBytes    [3]striped
	pubOut        [3]striped
	pubOutBytes   [3]striped
	dropped       [numDrops]atomic.Int64
	deliver       [3]Histogram // publish-to-deliver latency by delivered QoS
}

// notePublishIn counts a message received; stripe is the publisher's
// session id (any number spreads the counting).
func (m *metricsState) notePublishIn(q mqtt.QoS, n int, stripe uint64) {
	m.pubIn[q&3%3].add(stripe, 1)
	m.pubInBytes[q&3%3].add(stripe, int64(n))
}

// notePublishOut counts a message handed to a subscriber; stripe is its
// session id.
func (m *metricsState) notePublishOut(q mqtt.QoS, msg *message, stripe uint64) {
	m.pubOut[q&3%3].add(stripe, 1)
	m.pubOutBytes[q&3%3].add(stripe, int64(len(msg.payload)))
}

// unnotePublishOut takes back notePublishOut for a QoS 0 message that
// was handed to a connection's write queue and then not sent (it expired
// there): not on the hot path, so any stripe will do.
func (m *metricsState) unnotePublishOut(q mqtt.QoS, msg *message) {
	m.pubOut[q&3%3].add(0, -1)
	m.pubOutBytes[q&3%3].add(0, -int64(len(msg.payload)))
}

// stamp marks a received message for the publish-to-deliver latency
// histogram: one message in EnableLatency's every (one clock reading
// per sampled message, none for the others).
func (m *metricsState) stamp(msg *message) {
	m.stampKey(msg, uint64(uintptr(unsafe.Pointer(msg))>>4))
}

// stampKey is stamp choosing by key: one in every e by a hash of it (a
// multiply), without the random number (5 ns) a message would cost. The
// key is the message's address when it has one of its own (consecutive
// messages take consecutive slots of their size class), a count when
// its memory is reused (handle_publish.go newMessage: the same few
// addresses come back).
func (m *metricsState) stampKey(msg *message, key uint64) {
	e := m.every.Load()
	if e == 0 || (e > 1 && uint32(key*0x9E3779B97F4A7C15>>32)%e != 0) {
		return
	}
	msg.at = time.Now().UnixNano()
}

// noteDelivered observes the publish-to-deliver latency of msg.
func (m *metricsState) noteDelivered(q mqtt.QoS, msg *message) {
	if msg.at == 0 {
		return
	}
	m.deliver[q&3%3].Observe(time.Duration(time.Now().UnixNano() - msg.at))
}

// drop counts a dropped message: the one count behind /metrics'
// messages_dropped_total{reason} and $SYS/broker/publish/messages/dropped
// (their sum, droppedTotal), so that both agree on every reason (drop.go).
func (b *Broker) drop(why int) { b.metrics.dropped[why].Add(1) }

// droppedTotal is the number of dropped messages, every reason.
func (m *metricsState) droppedTotal() int64 {
	var n int64
	for i := range m.dropped {
		n += m.dropped[i].Load()
	}
	return n
}

// EnableLatency starts measuring the publish-to-deliver latency of one
// received message in every (1 = all of them; each costs a clock reading
// when received and one per delivery); every <= 0 stops it.
func (b *Broker) EnableLatency(every int) { b.metrics.every.Store(uint32(max(every, 0))) }

// LatencyEvery returns the interval EnableLatency set (0: off).
func (b *Broker) LatencyEvery() int { return int(b.metrics.every.Load()) }

// MessageStates counts the QoS 1/2 messages of every session by state.
type MessageStates struct {
	Queued   int64 // waiting for room in the inflight window (or offline)
	Sent     int64 // PUBLISH sent, waiting for PUBACK / PUBREC
	Released int64 // QoS 2: PUBREL sent, waiting for PUBCOMP
}

// Metrics is a snapshot of the counters behind /metrics.
type Metrics struct {
	Stats
	ConnectionsTotal   int64            // CONNECTs accepted
	SocketsTotal       int64            // network connections started
	Refused            map[string]int64 // connections refused, by reason
	PublishIn          [3]int64         // PUBLISH received (and wills), by QoS
	PublishInBytes     [3]int64
	PublishOut         [3]int64 // PUBLISH handed to connections, by QoS
	PublishOutBytes    [3]int64
	Dropped            [numDrops]int64 // by reason, see DropReasons
	States             MessageStates
	SessionsOnline     int64
	SessionsOffline    int64
	RetainedBytes      int64
	StoredMessageBytes int64                // payload bytes held: retained, queued and inflight
	Deliver            [3]*Histogram        // publish-to-deliver latency, by QoS
	HeapCurrent        int64                // bytes
	HeapMaximum        int64                // bytes
	Listeners          map[string]ListenerM // by listener name
}

// ListenerM is one listener's figures.
type ListenerM struct {
	Kind   string // tcp, tls, ws, wss, unix
	Active int64  // connections open
}

// Metrics returns the counters.
func (b *Broker) Metrics() Metrics {
	mt := &b.metrics
	m := Metrics{Stats: b.Stats(), ConnectionsTotal: mt.connects.Load(), SocketsTotal: mt.sockets.Load(), Refused: map[string]int64{}}
	for code := range mt.refused {
		if n := mt.refused[code].Load(); n > 0 {
			m.Refused[refusedName(mqtt.ReasonCode(code))] += n
		}
	}
	if n := mt.refusedAccept.Load(); n > 0 {
		m.Refused["max_connections"] = n
	}
	for q := range 3 {
		m.PublishIn[q] = mt.pubIn[q].load()
		m.PublishInBytes[q] = mt.pubInBytes[q].load()
		m.PublishOut[q] = mt.pubOut[q].load()
		m.PublishOutBytes[q] = mt.pubOutBytes[q].load()
		m.Deliver[q] = &mt.deliver[q]
	}
	for i := range mt.dropped {
		m.Dropped[i] = mt.dropped[i].Load()
	}
	m.Dropped[DropACL] += b.stats.readDenied.Load()
	b.retained.Range(func(_ string, msg *message) bool {
		m.RetainedBytes += int64(len(msg.payload))
		return true
	})
	b.mu.Lock()
	sessions := b.sessions.list()
	m.Listeners = map[string]ListenerM{}
	for _, l := range b.listeners {
		m.Listeners[l.cfg.Name] = ListenerM{Kind: l.kind(), Active: l.active.Load()}
	}
	b.mu.Unlock()
	m.StoredMessageBytes = m.RetainedBytes
	for _, s := range sessions {
		s.mu.Lock()
		if s.conn != nil {
			m.SessionsOnline++
		} else {
			m.SessionsOffline++
		}
		if o := s.out; o != nil {
			for _, om := range o.inflight {
				if om.state == StateReleased {
					m.States.Released++
				} else {
					m.States.Sent++
				}
				m.StoredMessageBytes += int64(len(om.msg.payload))
			}
			m.States.Queued += int64(len(o.pending))
			m.StoredMessageBytes += o.pendingBytes
		}
		s.mu.Unlock()
	}
	m.HeapCurrent, m.HeapMaximum = heapFigures()
	return m
}

// refusedName is the label of a refused connection's reason code.
func refusedName(c mqtt.ReasonCode) string {
	switch c {
	case mqtt.UnsupportedProtocolVersion:
		return "unsupported_protocol_version"
	case mqtt.ClientIdentifierNotValid:
		return "client_identifier_not_valid"
	case mqtt.BadUserNameOrPassword:
		return "bad_username_or_password"
	case mqtt.NotAuthorized:
		return "not_authorized"
	case mqtt.ServerUnavailable:
		return "server_unavailable"
	case mqtt.ServerBusy:
		return "server_busy"
	case mqtt.Banned:
		return "banned"
	case mqtt.PacketTooLarge:
		return "packet_too_large"
	case mqtt.TopicNameInvalid:
		return "topic_name_invalid"
	case mqtt.QoSNotSupported:
		return "qos_not_supported"
	}
	return "other"
}
