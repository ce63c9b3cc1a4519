package web

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mqkit/mqkit/internal/bridge"
	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// scrape fetches /metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, e *env) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := e.get(t, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// value returns the value of the sample of family name whose labels are
// labels ("k=v,k=v"; "" for none), the count of a histogram, or -1.
func value(fams map[string]*dto.MetricFamily, name, labels string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	for _, m := range f.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(ls)
		if strings.Join(ls, ",") != labels {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// TestMetricsAfterWorkload runs a scripted workload (publishes at every
// QoS, a refused login, an ACL-filtered delivery, a retained message, an
// offline durable session with a queued message) and checks the values
// /metrics reports, parsed with the Prometheus text parser.
func TestMetricsAfterWorkload(t *testing.T) {
	bo := broker.Options{
		Authenticator: broker.AuthenticatorFunc(func(ci *broker.ClientInfo, password []byte) mqtt.ReasonCode {
			if ci.Username == "mallory" {
				return mqtt.BadUserNameOrPassword
			}
			return mqtt.Success
		}),
		Authorizer: broker.AuthorizerFunc(func(ci *broker.ClientInfo, topic string, acc broker.Access) bool {
			return !(acc == broker.AccessRead && topic == "w/secret")
		}),
	}
	e := newEnv(t, bo, Options{LatencySample: 1}) // every message, for exact counts

	sub, _ := connect(t, e.mqtt, &mqtt.Connect{ClientID: "sub", CleanStart: true})
	sub.subscribe("w/#", 2)
	durable, _ := connect(t, e.mqtt, &mqtt.Connect{ClientID: "durable", CleanStart: true,
		Props: sessionExpiry(300)})
	durable.subscribe("w/q", 1)
	durable.send(&mqtt.Disconnect{})
	waitFor(t, "the durable session offline", func() bool {
		for _, c := range e.b.Clients() {
			if c.ClientID == "durable" {
				return !c.Connected
			}
		}
		return false
	})
	if _, ack := connect(t, e.mqtt, &mqtt.Connect{ClientID: "m", CleanStart: true, HasUsername: true, Username: "mallory",
		HasPassword: true, Password: []byte("x")}); ack.Code != mqtt.BadUserNameOrPassword {
		t.Fatalf("mallory: CONNACK %v", ack.Code)
	}

	pub, _ := connect(t, e.mqtt, &mqtt.Connect{ClientID: "pub", CleanStart: true})
	for range 3 {
		pub.publish("w/a", strings.Repeat("a", 10), 0, false, 0)
	}
	pub.publish("w/secret", "12345", 0, false, 0) // not for sub: ACL
	pub.publish("w/b", strings.Repeat("b", 20), 1, false, 1)
	pub.publish("w/b", strings.Repeat("b", 20), 1, false, 2)
	pub.publish("w/c", strings.Repeat("c", 30), 2, true, 3)
	pub.publish("w/q", "queued!", 1, false, 4) // sub, and queued for durable
	sub.receiveN(7)

	want := map[string]float64{
		"mqbroker_messages_received_total|qos=0":                             4,
		"mqbroker_messages_received_total|qos=1":                             3,
		"mqbroker_messages_received_total|qos=2":                             1,
		"mqbroker_messages_received_bytes_total|qos=0":                       35,
		"mqbroker_messages_received_bytes_total|qos=1":                       47,
		"mqbroker_messages_received_bytes_total|qos=2":                       30,
		"mqbroker_messages_sent_total|qos=0":                                 3,
		"mqbroker_messages_sent_total|qos=1":                                 3,
		"mqbroker_messages_sent_total|qos=2":                                 1,
		"mqbroker_messages_sent_bytes_total|qos=0":                           30,
		"mqbroker_messages_sent_bytes_total|qos=1":                           47,
		"mqbroker_messages_sent_bytes_total|qos=2":                           30,
		"mqbroker_publish_deliver_seconds|qos=0":                             3,
		"mqbroker_publish_deliver_seconds|qos=1":                             3,
		"mqbroker_publish_deliver_seconds|qos=2":                             1,
		"mqbroker_messages_dropped_total|reason=acl":                         1,
		"mqbroker_messages_dropped_total|reason=queue_full":                  0,
		"mqbroker_messages_queued|":                                          1,
		"mqbroker_messages_inflight|state=sent":                              0,
		"mqbroker_messages_inflight|state=released":                          0,
		"mqbroker_connections_total|":                                        3,
		"mqbroker_connections_refused_total|reason=bad_username_or_password": 1,
		"mqbroker_clients_connected|":                                        2,
		"mqbroker_sessions|state=online":                                     2,
		"mqbroker_sessions|state=offline":                                    1,
		"mqbroker_subscriptions|":                                            2,
		"mqbroker_shared_subscriptions|":                                     0,
		"mqbroker_retained_messages|":                                        1,
		"mqbroker_retained_bytes|":                                           30,
		"mqbroker_connections|kind=tcp,listener=tcp":                         2,
		"mqbroker_build_info|version=" + versionForTest():                    1,
	}
	var diff []string
	deadline := time.Now().Add(testTimeout)
	for {
		fams := scrape(t, e)
		diff = diff[:0]
		for k, v := range want {
			name, labels, _ := strings.Cut(k, "|")
			if got := value(fams, name, labels); got != v {
				diff = append(diff, fmt.Sprintf("%s{%s} = %v, want %v", name, labels, got, v))
			}
		}
		for _, name := range []string{"mqbroker_network_received_bytes_total", "mqbroker_packets_received_total", "mqbroker_start_time_seconds"} {
			if value(fams, name, "") <= 0 {
				diff = append(diff, name+" missing or 0")
			}
		}
		if len(diff) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	sort.Strings(diff)
	for _, d := range diff {
		t.Error(d)
	}
}

func sessionExpiry(s uint32) mqtt.Properties {
	var p mqtt.Properties
	p.SetSessionExpiry(s)
	return p
}

// TestMetricsBridgesAndStore: bridge state and lag, and the store's
// commit latency histogram, as the mqbroker command wires them.
func TestMetricsBridgesAndStore(t *testing.T) {
	commit := &broker.Histogram{}
	commit.Observe(3 * time.Millisecond)
	commit.Observe(40 * time.Millisecond)
	e := newEnv(t, broker.Options{}, Options{StoreCommit: commit, Bridges: func() []bridge.Status {
		return []bridge.Status{{Name: "east", Connected: true, Queued: 0}, {Name: "west", Queued: 42, Dropped: 3}}
	}})
	fams := scrape(t, e)
	for k, v := range map[string]float64{
		"mqbroker_bridge_up|bridge=east":                     1,
		"mqbroker_bridge_up|bridge=west":                     0,
		"mqbroker_bridge_queued_messages|bridge=west":        42,
		"mqbroker_bridge_dropped_messages_total|bridge=west": 3,
		"mqbroker_store_commit_seconds|":                     2,
	} {
		name, labels, _ := strings.Cut(k, "|")
		if got := value(fams, name, labels); got != v {
			t.Errorf("%s{%s} = %v, want %v", name, labels, got, v)
		}
	}
	h := fams["mqbroker_store_commit_seconds"].GetMetric()[0].GetHistogram()
	for _, b := range h.GetBucket() {
		want := uint64(0)
		switch {
		case b.GetUpperBound() >= 0.05:
			want = 2
		case b.GetUpperBound() >= 0.005:
			want = 1
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	if s := h.GetSampleSum(); s < 0.042 || s > 0.044 {
		t.Errorf("sum %v, want 0.043", s)
	}
}
