package web

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// TestTreeManyTopics: 100,000 topics under one branch are listed a page
// at a time, with counts per branch, quickly enough to refresh every
// second.
func TestTreeManyTopics(t *testing.T) {
	tr := newTree()
	const n = 100_000
	for i := range n {
		tr.add(broker.NewMessage(fmt.Sprintf("big/%06d", i), []byte("v"), 0, i%10 == 0))
	}
	tr.add(broker.NewMessage("big/000001", []byte("again"), 1, false))
	start := time.Now()
	root, total, ok := tr.list(nil, 0, 200)
	if !ok || total != 1 || root[0].Name != "big" || root[0].Topics != n || root[0].Messages != n+1 || root[0].Children != n {
		t.Fatalf("root: %+v total %d", root, total)
	}
	page, total, _ := tr.list([]string{"big"}, 200, 200)
	took := time.Since(start)
	if total != n || len(page) != 200 || page[0].Name != "000200" || page[0].Own == nil || !page[0].Own.Retained {
		t.Fatalf("page: %d of %d, first %+v", len(page), total, page[0])
	}
	if took > 2*time.Second && !raceEnabled { // the race detector slows it tenfold
		t.Errorf("listing took %v", took)
	}
	v := tr.get("big/000001")
	if v == nil || v.Count != 2 || string(v.Payload) != "again" || v.QoS != 1 || v.Retained {
		t.Errorf("big/000001: %+v", v)
	}
	// A retained message with an empty payload clears the marker
	// [MQTT-3.3.1-10].
	tr.add(broker.NewMessage("big/000000", nil, 0, true))
	if tr.get("big/000000").Retained {
		t.Error("retained marker kept after an empty retained message")
	}
	t.Logf("100,000 topics: root and one page listed in %v", took)
}

// BenchmarkTreeAdd measures what the topic tree adds to routing a
// message to a known topic.
func BenchmarkTreeAdd(b *testing.B) {
	tr := newTree()
	tr.clock.Store(time.Now().UnixNano()) // as the server's clock goroutine keeps it
	msgs := make([]*broker.Message, 1000)
	for i := range msgs {
		msgs[i] = broker.NewMessage(fmt.Sprintf("bench/%d/value", i), []byte("payload"), 0, false)
		tr.add(msgs[i])
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			tr.add(msgs[i%len(msgs)])
			i++
		}
	})
}

// BenchmarkTreeAddCached is BenchmarkTreeAdd for publishers that each
// keep to one topic, with the broker's per-client cache (TopicCacher):
// no map lookup.
func BenchmarkTreeAddCached(b *testing.B) {
	tr := newTree()
	tr.clock.Store(time.Now().UnixNano())
	msgs := make([]*broker.Message, 1000)
	for i := range msgs {
		msgs[i] = broker.NewMessage(fmt.Sprintf("bench/%d/value", i), []byte("payload"), 0, false)
		tr.add(msgs[i])
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		m := msgs[next.Add(1)%int64(len(msgs))]
		var last any
		for pb.Next() {
			last = tr.addCached(m, last)
		}
	})
}

// TestTreeTopicCache: a client moving between topics is counted on each
// (the per-client cache of the last topic is checked, not trusted).
func TestTreeTopicCache(t *testing.T) {
	e := newEnv(t, broker.Options{}, Options{})
	c, _ := connect(t, e.mqtt, &mqtt.Connect{ClientID: "hop", CleanStart: true})
	for i, topic := range []string{"hop/a", "hop/a", "hop/b", "hop/a", "hop/b/c", "hop/b"} {
		c.publish(topic, fmt.Sprint(i), 1, false, uint16(i+1)) // acknowledged once routed
	}
	for topic, want := range map[string]struct {
		n    int64
		last string
	}{"hop/a": {3, "3"}, "hop/b": {2, "5"}, "hop/b/c": {1, "4"}} {
		v := e.ws.tree.get(topic)
		if v == nil || v.Count != want.n || string(v.Payload) != want.last {
			t.Errorf("%s: %+v, want count %d last %q", topic, v, want.n, want.last)
		}
	}
}
