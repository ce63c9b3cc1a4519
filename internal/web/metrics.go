package web

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/version"
)

// The /metrics collector reads the broker's counters when scraped (no
// Prometheus code on the broker's hot paths) and reports them as
// constant metrics. Names follow the Prometheus conventions: the
// mqbroker_ prefix, _total for counters, base units (seconds, bytes).

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("mqbroker_"+name, help, labels, nil)
}

var (
	dBuild            = desc("build_info", "Always 1; the version label says which mqbroker runs.", "version")
	dStart            = desc("start_time_seconds", "When the broker started, Unix time in seconds.")
	dConnections      = desc("connections", "Network connections open now, by listener.", "listener", "kind")
	dClients          = desc("clients_connected", "Clients connected now (CONNECT accepted).")
	dClientsMax       = desc("clients_connected_max", "Most clients connected at once since the start.")
	dConnectsTotal    = desc("connections_total", "Clients connected since the start (CONNECT accepted).")
	dSocketsTotal     = desc("sockets_total", "Network connections accepted since the start.")
	dRefused          = desc("connections_refused_total", "Connections refused, by reason.", "reason")
	dSessions         = desc("sessions", "Client sessions, by state: online (connected) or offline (durable, disconnected).", "state")
	dExpired          = desc("sessions_expired_total", "Offline sessions that expired.")
	dSubs             = desc("subscriptions", "Subscriptions, shared ones included.")
	dSharedSubs       = desc("shared_subscriptions", "Shared subscriptions ($share/GROUP/FILTER).")
	dRetained         = desc("retained_messages", "Retained messages held.")
	dRetainedBytes    = desc("retained_bytes", "Payload bytes of the retained messages held.")
	dMsgsIn           = desc("messages_received_total", "Application messages received (PUBLISH and wills), by QoS.", "qos")
	dBytesIn          = desc("messages_received_bytes_total", "Payload bytes of the application messages received, by QoS.", "qos")
	dMsgsOut          = desc("messages_sent_total", "Application messages handed to subscribers' connections, by delivered QoS (re-sends not counted).", "qos")
	dBytesOut         = desc("messages_sent_bytes_total", "Payload bytes of the messages sent, by delivered QoS.", "qos")
	dPacketsIn        = desc("packets_received_total", "MQTT control packets received.")
	dPacketsOut       = desc("packets_sent_total", "MQTT control packets sent.")
	dNetIn            = desc("network_received_bytes_total", "Bytes read from clients' connections.")
	dNetOut           = desc("network_sent_bytes_total", "Bytes written to clients' connections.")
	dDropped          = desc("messages_dropped_total", "Messages not delivered to a subscriber, by reason.", "reason")
	dInflight         = desc("messages_inflight", "Outgoing QoS 1/2 messages sent and not yet acknowledged, by state: sent (waiting for PUBACK/PUBREC), released (PUBREL sent, waiting for PUBCOMP).", "state")
	dQueued           = desc("messages_queued", "Outgoing QoS 1/2 messages queued for sessions, not sent yet.")
	dStoredBytes      = desc("stored_messages_bytes", "Payload bytes held: retained, queued and inflight messages.")
	dStoreCommit      = desc("store_commit_seconds", "Time of each group commit of the persistent store (transaction and fsync).")
	dDeliver          = desc("publish_deliver_seconds", "From a PUBLISH received to its delivery: QoS 0 handed to the subscriber's connection, QoS 1 PUBACK and QoS 2 PUBREC received from the subscriber; a sample of the messages (one in 16 by default).", "qos")
	dBridgeUp         = desc("bridge_up", "1 when the bridge is connected to its remote broker.", "bridge")
	dBridgeQueued     = desc("bridge_queued_messages", "Bridge lag: local messages waiting to be forwarded to the remote broker.", "bridge")
	dBridgeDropped    = desc("bridge_dropped_messages_total", "QoS 0 messages a bridge dropped because its queue was full.", "bridge")
	dHTTPSubscribers  = desc("web_live_streams", "Browsers following the live view now.")
	dWebTopics        = desc("web_topics", "Topics the web view's topic tree holds.")
	qosLabels         = [3]string{"0", "1", "2"}
	inflightStateName = [2]string{"sent", "released"}
)

type collector struct{ s *Server }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(c, ch)
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	b := s.opts.Broker
	m := b.Metrics()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	hist := func(d *prometheus.Desc, h *broker.Histogram, labels ...string) {
		buckets, n, sum := h.Snapshot()
		ch <- prometheus.MustNewConstHistogram(d, n, sum, buckets, labels...)
	}
	gauge(dBuild, 1, version.Version)
	gauge(dStart, float64(s.start.UnixNano())/1e9)
	for name, l := range m.Listeners {
		gauge(dConnections, float64(l.Active), name, l.Kind)
	}
	gauge(dClients, float64(m.ClientsConnected))
	gauge(dClientsMax, float64(m.ClientsMaximum))
	counter(dConnectsTotal, float64(m.ConnectionsTotal))
	counter(dSocketsTotal, float64(m.SocketsTotal))
	for _, r := range refusedReasons {
		counter(dRefused, float64(m.Refused[r]), r)
	}
	gauge(dSessions, float64(m.SessionsOnline), "online")
	gauge(dSessions, float64(m.SessionsOffline), "offline")
	counter(dExpired, float64(m.ClientsExpired))
	gauge(dSubs, float64(m.SubscriptionCount))
	gauge(dSharedSubs, float64(m.SharedSubscriptionCount))
	gauge(dRetained, float64(m.RetainedCount))
	gauge(dRetainedBytes, float64(m.RetainedBytes))
	for q, l := range qosLabels {
		counter(dMsgsIn, float64(m.PublishIn[q]), l)
		counter(dBytesIn, float64(m.PublishInBytes[q]), l)
		counter(dMsgsOut, float64(m.PublishOut[q]), l)
		counter(dBytesOut, float64(m.PublishOutBytes[q]), l)
		hist(dDeliver, m.Deliver[q], l)
	}
	counter(dPacketsIn, float64(m.MessagesReceived))
	counter(dPacketsOut, float64(m.MessagesSent))
	counter(dNetIn, float64(m.BytesReceived))
	counter(dNetOut, float64(m.BytesSent))
	for i, r := range broker.DropReasons {
		counter(dDropped, float64(m.Dropped[i]), r)
	}
	gauge(dInflight, float64(m.States.Sent), inflightStateName[0])
	gauge(dInflight, float64(m.States.Released), inflightStateName[1])
	gauge(dQueued, float64(m.States.Queued))
	gauge(dStoredBytes, float64(m.StoredMessageBytes))
	if s.opts.StoreCommit != nil {
		hist(dStoreCommit, s.opts.StoreCommit)
	}
	if s.opts.Bridges != nil {
		for _, st := range s.opts.Bridges() {
			up := 0.0
			if st.Connected {
				up = 1
			}
			gauge(dBridgeUp, up, st.Name)
			gauge(dBridgeQueued, float64(st.Queued), st.Name)
			counter(dBridgeDropped, float64(st.Dropped), st.Name)
		}
	}
	gauge(dHTTPSubscribers, float64(s.streams.Load()))
	gauge(dWebTopics, float64(s.tree.ntopics.Load()))
}

// refusedReasons are always reported (0 until it happens), so that rate()
// works from the first refusal.
var refusedReasons = []string{"bad_username_or_password", "not_authorized", "client_identifier_not_valid",
	"unsupported_protocol_version", "server_unavailable", "server_busy", "banned", "packet_too_large",
	"topic_name_invalid", "qos_not_supported", "max_connections", "other"}

// newRegistry returns the registry behind /metrics: the broker's metrics
// plus the Go runtime's and the process's.
func newRegistry(s *Server) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{s})
	reg.MustRegister(collectors.NewGoCollector())
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
