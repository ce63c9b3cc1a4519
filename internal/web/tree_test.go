package web

import (
	"fmt"
	"strings"
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
// keep to one topic, with the broker's per-client cell (TopicCacher): no
// map lookup, and the entry written once per batch (flushed every 64
// messages here).
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
		for i := 0; pb.Next(); i++ {
			last = tr.addCached(m, last)
			if i%64 == 63 {
				tr.flushCell(last.(*pubCell))
			}
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

// TestTreeCellBatch: a publisher's messages kept in its cell
// (broker.TopicCacher) reach the tree with their count, last value, QoS
// and retained marker when the cell is flushed, when the publisher moves
// to another topic, and around a long value (held, not batched); what the
// tree shows is a copy, not the message's memory (which the broker
// reuses).
func TestTreeCellBatch(t *testing.T) {
	tr := newTree()
	var last any
	var bodies [][]byte
	pub := func(topic, payload string, qos byte, retain bool) {
		body := []byte(payload)
		bodies = append(bodies, body)
		last = tr.addCached(broker.NewMessage(topic, body, qos, retain), last)
	}
	check := func(topic string, count int64, payload string, qos byte, retained bool) {
		t.Helper()
		v := tr.get(topic)
		if v == nil || v.Count != count || string(v.Payload) != payload || v.QoS != qos || v.Retained != retained {
			t.Errorf("%s: %+v, want count %d, last %.20q, QoS %d, retained %v", topic, v, count, payload, qos, retained)
		}
	}
	pub("c/a", "1", 0, false)
	pub("c/a", "2", 1, true)
	pub("c/b", "3", 2, false) // c/a's batch published
	check("c/a", 2, "2", 1, true)
	long := strings.Repeat("L", copyMax+1)
	pub("c/b", long, 0, false) // held at once, after c/b's batch
	check("c/b", 2, long, 0, false)
	pub("c/b", "4", 1, true)
	pub("c/b", "", 0, true) // deletes the retained message [MQTT-3.3.1-10]
	pub("c/b", "5", 2, false)
	tr.flushCell(last.(*pubCell))
	check("c/b", 5, "5", 2, false)
	pub("c/b", "6", 0, true)
	tr.flushCell(last.(*pubCell))
	check("c/b", 6, "6", 0, true)
	for _, b := range bodies { // the broker reuses the memory of a message
		for i := range b {
			b[i] = '#'
		}
	}
	check("c/a", 2, "2", 1, true)
	check("c/b", 6, "6", 0, true)
	// A message of a client no reader batches (a will): copied too.
	body := []byte("will")
	tr.add(broker.NewMessage("c/w", body, 1, false))
	body[0] = '#'
	check("c/w", 1, "will", 1, false)
}
