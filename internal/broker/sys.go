package broker

import (
	"math"
	"runtime/metrics"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/mqkit/mqkit/internal/version"
)

// stats are the broker counters published under $SYS (mosquitto's names).
type stats struct {
	connected         atomic.Int64
	maxConnected      atomic.Int64
	expired           atomic.Int64
	msgsReceived      atomic.Int64 // every MQTT packet received
	msgsSent          atomic.Int64 // every MQTT packet sent
	publishReceived   atomic.Int64
	publishSent       atomic.Int64
	readDenied        atomic.Int64 // deliveries the subscriber's ACL refused
	sharedRedelivered atomic.Int64 // shared-subscription messages sent to another member after a session ended
	bytesReceived     atomic.Int64
	bytesSent         atomic.Int64
}

// noteConnected raises the maximum of connected clients.
func (s *stats) noteConnected() {
	n := s.connected.Load()
	for {
		m := s.maxConnected.Load()
		if n <= m || s.maxConnected.CompareAndSwap(m, n) {
			return
		}
	}
}

// Stats is a snapshot of the broker counters.
type Stats struct {
	ClientsConnected, ClientsDisconnected, ClientsTotal, ClientsMaximum, ClientsExpired int64
	MessagesReceived, MessagesSent                                                      int64
	PublishReceived, PublishSent, PublishDropped                                        int64 // dropped: Metrics.Dropped summed, but for the ACL-filtered deliveries (PublishDenied)
	PublishDenied                                                                       int64 // deliveries the subscriber's ACL refused
	BytesReceived, BytesSent                                                            int64
	RetainedCount, SubscriptionCount, SharedSubscriptionCount, StoredMessages           int64
}

// Stats returns the current counters.
func (b *Broker) Stats() Stats {
	st := Stats{
		ClientsConnected:        b.stats.connected.Load(),
		ClientsMaximum:          b.stats.maxConnected.Load(),
		ClientsExpired:          b.stats.expired.Load(),
		MessagesReceived:        b.stats.msgsReceived.Load(),
		MessagesSent:            b.stats.msgsSent.Load(),
		PublishReceived:         b.stats.publishReceived.Load(),
		PublishSent:             b.stats.publishSent.Load(),
		PublishDropped:          b.metrics.droppedTotal(),
		PublishDenied:           b.stats.readDenied.Load(),
		BytesReceived:           b.stats.bytesReceived.Load(),
		BytesSent:               b.stats.bytesSent.Load(),
		RetainedCount:           int64(b.retained.Len()),
		SubscriptionCount:       int64(b.subs.Len()),
		SharedSubscriptionCount: int64(b.subs.SharedLen()),
	}
	b.mu.Lock()
	sessions := b.sessions.list()
	b.mu.Unlock()
	for _, s := range sessions {
		s.mu.Lock()
		if s.conn == nil {
			st.ClientsDisconnected++
		}
		st.StoredMessages += int64(s.out.inflightLen() + s.out.pendingLen())
		s.mu.Unlock()
	}
	st.ClientsTotal = st.ClientsConnected + st.ClientsDisconnected
	st.StoredMessages += st.RetainedCount
	return st
}

// sysLoop publishes $SYS/broker/... every SysInterval as retained QoS 0
// messages: the topics mosquitto 2.0.11 publishes (src/sys_tree.c), with
// the same names and formats, so that monitoring scripts written for
// mosquitto work unchanged. Topics starting with '$' are not matched by
// '#' or '+' at the first level [MQTT-4.7.2-1] (the trie enforces it).
func (b *Broker) sysLoop() {
	defer b.wg.Done()
	b.sysPublish("$SYS/broker/version", "mqkit version "+version.Version)
	var ld sysLoad
	b.publishSys(&ld)
	t := time.NewTicker(b.cfg.sysInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.publishSys(&ld)
		case <-b.done:
			return
		}
	}
}

// sysLoad holds mosquitto's load averages: for each counter, its value
// at the last update and three exponentially decaying averages of its
// rate per minute (1, 5 and 15 minutes).
type sysLoad struct {
	last   time.Time
	prev   [numLoads]int64
	avg    [numLoads][3]float64
	primed bool
}

// The counters with load averages, in the order of loadNames.
const (
	loadMsgsRecv = iota
	loadMsgsSent
	loadPubDropped
	loadPubRecv
	loadPubSent
	loadBytesRecv
	loadBytesSent
	loadSockets
	loadConnections
	numLoads
)

var loadNames = [numLoads]string{"messages/received", "messages/sent", "publish/dropped", "publish/received",
	"publish/sent", "bytes/received", "bytes/sent", "sockets", "connections"}

// update computes the averages from the counters now, as mosquitto's
// calc_load: new = rate + exp(-dt/period) * (old - rate), rate being the
// counter's increase per minute since the last update.
func (l *sysLoad) update(now time.Time, cur [numLoads]int64) {
	if !l.primed {
		l.primed, l.last, l.prev = true, now, cur
		return
	}
	dt := now.Sub(l.last).Seconds()
	if dt <= 0 {
		return
	}
	periods := [3]float64{60, 300, 900}
	for i := range cur {
		rate := float64(cur[i]-l.prev[i]) * 60 / dt
		for j, p := range periods {
			e := math.Exp(-dt / p)
			l.avg[i][j] = rate + e*(l.avg[i][j]-rate)
		}
	}
	l.last, l.prev = now, cur
}

func (b *Broker) publishSys(ld *sysLoad) {
	st := b.Stats()
	mt := b.Metrics()
	uptime := int64(time.Since(b.startAt) / time.Second)
	var pubBytesIn, pubBytesOut int64
	for q := range 3 {
		pubBytesIn += mt.PublishInBytes[q]
		pubBytesOut += mt.PublishOutBytes[q]
	}
	vals := []struct {
		topic string
		v     int64
	}{
		{"clients/connected", st.ClientsConnected},
		{"clients/active", st.ClientsConnected},
		{"clients/disconnected", st.ClientsDisconnected},
		{"clients/inactive", st.ClientsDisconnected},
		{"clients/total", st.ClientsTotal},
		{"clients/maximum", st.ClientsMaximum},
		{"clients/expired", st.ClientsExpired},
		{"messages/received", st.MessagesReceived},
		{"messages/sent", st.MessagesSent},
		{"messages/stored", st.StoredMessages},
		{"publish/messages/received", st.PublishReceived},
		{"publish/messages/sent", st.PublishSent},
		{"publish/messages/dropped", st.PublishDropped},
		{"publish/messages/denied", st.PublishDenied},
		{"publish/bytes/received", pubBytesIn},
		{"publish/bytes/sent", pubBytesOut},
		{"bytes/received", st.BytesReceived},
		{"bytes/sent", st.BytesSent},
		{"retained messages/count", st.RetainedCount},
		{"subscriptions/count", st.SubscriptionCount},
		{"shared_subscriptions/count", st.SharedSubscriptionCount},
		{"store/messages/count", st.StoredMessages},
		{"store/messages/bytes", mt.StoredMessageBytes},
		{"heap/current", mt.HeapCurrent},
		{"heap/maximum", mt.HeapMaximum},
	}
	b.sysPublish("$SYS/broker/uptime", strconv.FormatInt(uptime, 10)+" seconds")
	for _, v := range vals {
		b.sysPublish("$SYS/broker/"+v.topic, strconv.FormatInt(v.v, 10))
	}
	ld.update(time.Now(), [numLoads]int64{st.MessagesReceived, st.MessagesSent, st.PublishDropped, st.PublishReceived,
		st.PublishSent, st.BytesReceived, st.BytesSent, b.metrics.sockets.Load(), mt.ConnectionsTotal})
	for i, name := range loadNames {
		for j, per := range [3]string{"1min", "5min", "15min"} {
			b.sysPublish("$SYS/broker/load/"+name+"/"+per, strconv.FormatFloat(ld.avg[i][j], 'f', 2, 64))
		}
	}
}

func (b *Broker) sysPublish(topic, payload string) {
	b.publish(&message{topic: topic, payload: []byte(payload), retain: true})
}

// heapMax is the largest heap size heapFigures has seen.
var heapMax atomic.Int64

// heapFigures returns the bytes of live heap objects (mosquitto's
// heap/current, the memory it has allocated) and the largest value seen
// (heap/maximum). runtime/metrics reads it without stopping the world.
func heapFigures() (current, maximum int64) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		current = int64(s[0].Value.Uint64())
	}
	for {
		m := heapMax.Load()
		if current <= m || heapMax.CompareAndSwap(m, current) {
			return current, max(m, current)
		}
	}
}
