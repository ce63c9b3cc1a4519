package broker

import (
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
	publishDropped    atomic.Int64 // QoS 0 dropped for slow consumers; QoS 1/2 dropped by a session (drop.go)
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
	PublishReceived, PublishSent, PublishDropped                                        int64
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
		PublishDropped:          b.stats.publishDropped.Load(),
		PublishDenied:           b.stats.readDenied.Load(),
		BytesReceived:           b.stats.bytesReceived.Load(),
		BytesSent:               b.stats.bytesSent.Load(),
		RetainedCount:           int64(b.retained.Len()),
		SubscriptionCount:       int64(b.subs.Len()),
		SharedSubscriptionCount: int64(b.subs.SharedLen()),
	}
	b.mu.Lock()
	sessions := make([]*session, 0, len(b.sessions))
	for _, s := range b.sessions {
		sessions = append(sessions, s)
	}
	b.mu.Unlock()
	for _, s := range sessions {
		s.mu.Lock()
		if s.conn == nil {
			st.ClientsDisconnected++
		}
		st.StoredMessages += int64(len(s.inflight) + len(s.pending))
		s.mu.Unlock()
	}
	st.ClientsTotal = st.ClientsConnected + st.ClientsDisconnected
	st.StoredMessages += st.RetainedCount
	return st
}

// sysLoop publishes $SYS/broker/... every SysInterval as retained QoS 0
// messages. Topics starting with '$' are not matched by '#' or '+' at
// the first level [MQTT-4.7.2-1] (the trie enforces it).
func (b *Broker) sysLoop() {
	defer b.wg.Done()
	b.sysPublish("$SYS/broker/version", "mqkit version "+version.Version)
	b.publishSys()
	t := time.NewTicker(b.cfg.sysInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.publishSys()
		case <-b.done:
			return
		}
	}
}

func (b *Broker) publishSys() {
	st := b.Stats()
	uptime := int64(time.Since(b.startAt) / time.Second)
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
		{"bytes/received", st.BytesReceived},
		{"bytes/sent", st.BytesSent},
		{"retained messages/count", st.RetainedCount},
		{"subscriptions/count", st.SubscriptionCount},
		{"shared_subscriptions/count", st.SharedSubscriptionCount},
		{"store/messages/count", st.StoredMessages},
	}
	b.sysPublish("$SYS/broker/uptime", strconv.FormatInt(uptime, 10)+" seconds")
	for _, v := range vals {
		b.sysPublish("$SYS/broker/"+v.topic, strconv.FormatInt(v.v, 10))
	}
}

func (b *Broker) sysPublish(topic, payload string) {
	b.publish(&message{topic: topic, payload: []byte(payload), retain: true})
}
