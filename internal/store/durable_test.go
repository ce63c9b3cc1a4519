package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// waitTimeout fails the test when ch is neither closed nor sent to in time.
func waitTimeout(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// TestAfterDurableOrder: callbacks run in the order of the AfterDurable
// calls, each after the operations submitted before it.
func TestAfterDurableOrder(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoSync=%v", noSync), func(t *testing.T) {
			s := openStore(t, tempPath(t), Options{NoSync: noSync})
			load(t, s)
			mustNil(t, s.SaveSession(&broker.StoredSession{ClientID: "c", Version: mqtt.V5}))
			const n = 500
			var (
				mu    sync.Mutex
				order []int
			)
			all := make(chan struct{})
			for i := range n {
				if i%3 != 0 { // some callbacks have no new operation before them
					mustNil(t, s.SaveMessage("c", message(uint64(i+1), "x")))
				}
				s.AfterDurable(func(err error) {
					if err != nil {
						t.Errorf("callback %d: %v", i, err)
					}
					mu.Lock()
					order = append(order, i)
					if len(order) == n {
						close(all)
					}
					mu.Unlock()
				})
			}
			waitTimeout(t, all, "callbacks")
			for i, got := range order {
				if got != i {
					t.Fatalf("callback %d ran at position %d; order %v", got, i, order)
				}
			}
		})
	}
}

// TestAfterDurableMeansOnDisk: when a callback runs, a copy of the data
// file taken at that moment opens with a fresh Open and holds every
// message saved before the AfterDurable call.
func TestAfterDurableMeansOnDisk(t *testing.T) {
	s := openStore(t, tempPath(t), Options{})
	load(t, s)
	mustNil(t, s.SaveSession(&broker.StoredSession{ClientID: "c", Version: mqtt.V311}))
	const n = 20
	copies := make([][]byte, n)
	errs := make([]error, n)
	done := make(chan struct{})
	for i := range n {
		mustNil(t, s.SaveMessage("c", message(uint64(i+1), fmt.Sprint(i))))
		s.AfterDurable(func(err error) {
			copies[i], errs[i] = os.ReadFile(s.Path()) // on the committer goroutine
			if err != nil {
				errs[i] = err
			}
			if i == n-1 {
				close(done)
			}
		})
	}
	waitTimeout(t, done, "callbacks")
	for i, b := range copies {
		if errs[i] != nil {
			t.Fatalf("copy %d: %v", i, errs[i])
		}
		path := filepath.Join(t.TempDir(), "copy.db")
		mustNil(t, os.WriteFile(path, b, 0o600))
		c := openStore(t, path, Options{})
		ss := sessionByID(load(t, c), "c")
		if ss == nil || len(ss.Messages) < i+1 {
			t.Fatalf("copy taken by callback %d lacks messages 1..%d: %+v", i, i+1, ss)
		}
		for j := 0; j <= i; j++ {
			if ss.Messages[j].Seq != uint64(j+1) || string(ss.Messages[j].Payload) != fmt.Sprint(j) {
				t.Fatalf("copy %d: message %d = %+v", i, j, ss.Messages[j])
			}
		}
		mustNil(t, c.Close())
	}
}

// TestGroupCommit: operations submitted while a commit runs are committed
// together in the next one.
func TestGroupCommit(t *testing.T) {
	s := openStore(t, tempPath(t), Options{})
	load(t, s)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	var once sync.Once
	s.testCommitHook = func() error {
		once.Do(func() {
			entered <- struct{}{}
			<-release
		})
		return nil
	}
	mustNil(t, s.SaveSession(&broker.StoredSession{ClientID: "c", Version: mqtt.V5}))
	waitTimeout(t, entered, "first commit")
	const n = 1000
	for i := range n {
		mustNil(t, s.SaveMessage("c", message(uint64(i+1), "x")))
	}
	close(release)
	mustSync(t, s)
	st := s.Stats()
	if st.Commits != 2 || st.Ops != n+1 || st.Failed != 0 {
		t.Errorf("stats %+v, want 2 commits of %d operations", st, n+1)
	}
}

// TestCommitFailure: a failed commit is reported to its callbacks, by Err
// and by Logf; its operations are lost; later commits work.
func TestCommitFailure(t *testing.T) {
	var logs logSink
	s := openStore(t, tempPath(t), Options{Logf: logs.logf})
	load(t, s)
	boom := errors.New("disk on fire")
	var mu sync.Mutex
	fail := true
	s.testCommitHook = func() error {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return boom
		}
		return nil
	}
	mustNil(t, s.SaveRetained(&broker.StoredMessage{Topic: "lost", Payload: []byte("x")}))
	if err := s.Sync(); !errors.Is(err, boom) {
		t.Fatalf("Sync after failed commit: %v", err)
	}
	if !errors.Is(s.Err(), boom) {
		t.Errorf("Err() = %v", s.Err())
	}
	if !logs.contains("commit of 1 operations failed, they are lost: disk on fire") {
		t.Errorf("failure not logged; logs:\n%s", logs.String())
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	mustNil(t, s.SaveRetained(&broker.StoredMessage{Topic: "kept", Payload: []byte("y")}))
	mustSync(t, s)
	if st := s.Stats(); st.Failed != 1 || st.Commits != 2 {
		t.Errorf("stats %+v", st)
	}
	snap := load(t, reopen(t, s))
	if len(snap.Retained) != 1 || snap.Retained[0].Topic != "kept" {
		t.Errorf("retained after reopen: %+v", snap.Retained)
	}
}

// TestConcurrentUse runs sessions and retained writers, AfterDurable and
// Load in parallel (meaningful under -race), then checks the final state.
func TestConcurrentUse(t *testing.T) {
	s := openStore(t, tempPath(t), Options{NoSync: true})
	load(t, s)
	const workers, perWorker = 8, 200
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("client-%d", w)
			if err := s.SaveSession(&broker.StoredSession{ClientID: id, Version: mqtt.V5}); err != nil {
				t.Error(err)
				return
			}
			durable := make(chan error, perWorker)
			for i := uint64(1); i <= perWorker; i++ {
				_ = s.SaveMessage(id, message(i, id))
				_ = s.SaveRetained(&broker.StoredMessage{Topic: fmt.Sprintf("r/%d", i%10), Payload: []byte(id)})
				_ = s.SaveSubscription(id, &broker.StoredSubscription{Filter: fmt.Sprint(i % 5), QoS: 1})
				_ = s.SaveInbound(id, uint16(i))
				if i%2 == 0 { // acknowledged: delete again
					_ = s.DeleteMessage(id, i)
					_ = s.DeleteInbound(id, uint16(i))
				}
				s.AfterDurable(func(err error) { durable <- err })
			}
			for range perWorker {
				if err := <-durable; err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 5 {
			if _, err := s.Load(); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
	snap := load(t, reopen(t, s))
	if len(snap.Retained) != 10 || len(snap.Sessions) != workers {
		t.Fatalf("%d retained, %d sessions", len(snap.Retained), len(snap.Sessions))
	}
	for _, ss := range snap.Sessions {
		if len(ss.Messages) != perWorker/2 || len(ss.Inbound) != perWorker/2 || len(ss.Subscriptions) != 5 {
			t.Errorf("session %s: %d messages, %d inbound, %d subscriptions",
				ss.ClientID, len(ss.Messages), len(ss.Inbound), len(ss.Subscriptions))
		}
		for i, m := range ss.Messages {
			if m.Seq != uint64(2*i+1) || string(m.Payload) != ss.ClientID {
				t.Errorf("session %s message %d: %+v", ss.ClientID, i, m)
				break
			}
		}
	}
}
