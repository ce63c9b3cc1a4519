package store

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// BenchmarkSaveDelete measures the persistent QoS 1 path as the broker
// uses it: each caller saves a message, waits until it is durable (the
// PUBACK would be sent then), and deletes it (the subscriber's PUBACK).
// Callers is the number of concurrent publishers; msgs/s counts messages
// made durable per second; ops/commit shows the group commit at work.
func BenchmarkSaveDelete(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		for _, callers := range []int{1, 16, 128} {
			b.Run(fmt.Sprintf("NoSync=%v/callers=%d", noSync, callers), func(b *testing.B) {
				benchSaveDelete(b, noSync, callers)
			})
		}
	}
}

func benchSaveDelete(b *testing.B, noSync bool, callers int) {
	s, err := Open(b.TempDir()+"/bench.db", Options{NoSync: noSync, Logf: b.Logf})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Load(); err != nil {
		b.Fatal(err)
	}
	for c := range callers {
		_ = s.SaveSession(&broker.StoredSession{ClientID: fmt.Sprintf("c%d", c), Version: mqtt.V5})
	}
	if err := s.Sync(); err != nil {
		b.Fatal(err)
	}
	payload := []byte(strings.Repeat("x", 64))
	var next atomic.Int64
	start := s.Stats()
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	t0 := time.Now()
	done := make(chan struct{})
	for c := range callers {
		go func() {
			defer func() { done <- struct{}{} }()
			id := fmt.Sprintf("c%d", c)
			durable := make(chan error, 1)
			m := &broker.StoredMessage{QoS: 1, Topic: "bench/topic", Payload: payload}
			for seq := uint64(1); next.Add(1) <= int64(b.N); seq++ {
				m.Seq = seq
				_ = s.SaveMessage(id, m)
				s.AfterDurable(func(err error) { durable <- err })
				if err := <-durable; err != nil {
					b.Error(err)
					return
				}
				_ = s.DeleteMessage(id, seq)
			}
		}()
	}
	for range callers {
		<-done
	}
	if err := s.Sync(); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	st := s.Stats()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	if n := st.Commits - start.Commits; n > 0 {
		b.ReportMetric(float64(st.Ops-start.Ops)/float64(n), "ops/commit")
	}
}

// BenchmarkSubmit measures the caller's cost of SaveMessage+DeleteMessage
// alone (encoding and queueing), with the committer running behind.
func BenchmarkSubmit(b *testing.B) {
	s, err := Open(b.TempDir()+"/bench.db", Options{NoSync: true, Logf: b.Logf})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	_ = s.SaveSession(&broker.StoredSession{ClientID: "c", Version: mqtt.V5})
	m := &broker.StoredMessage{QoS: 1, Topic: "bench/topic", Payload: []byte(strings.Repeat("x", 64)), Props: appProps()}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		m.Seq = uint64(i + 1)
		_ = s.SaveMessage("c", m)
		_ = s.DeleteMessage("c", m.Seq)
		if i%4096 == 0 {
			_ = s.Sync() // bound the backlog
		}
	}
	_ = s.Sync()
}
