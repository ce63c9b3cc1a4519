package store

import (
	"sync"
	"testing"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// holdCommit makes the next commit wait inside its transaction until the
// returned release is called, so that everything submitted meanwhile
// forms the following batch. trigger submits the op that starts it.
func holdCommit(t *testing.T, s *Bolt, trigger func() error) (release func()) {
	t.Helper()
	rel := make(chan struct{})
	entered := make(chan struct{}, 1)
	var once sync.Once
	s.testCommitHook = func() error {
		once.Do(func() {
			entered <- struct{}{}
			<-rel
		})
		return nil
	}
	mustNil(t, trigger())
	waitTimeout(t, entered, "held commit")
	return func() { close(rel) }
}

func seqs(ss *broker.StoredSession) []uint64 {
	var out []uint64
	for _, m := range ss.Messages {
		out = append(out, m.Seq)
	}
	return out
}

// A message saved (even twice) and deleted in one batch is never
// written; the other messages of the batch are.
func TestCancelSaveAndDeleteInOneBatch(t *testing.T) {
	s := openStore(t, tempPath(t), Options{})
	load(t, s)
	release := holdCommit(t, s, func() error {
		return s.SaveSession(&broker.StoredSession{ClientID: "c", Version: mqtt.V311, ExpiryInterval: 60})
	})
	mustNil(t, s.SaveMessage("c", message(1, "a")))
	mustNil(t, s.SaveMessage("c", message(2, "b")))
	sent := message(1, "a")
	sent.State, sent.PacketID = broker.StateSent, 7
	mustNil(t, s.SaveMessage("c", sent))
	mustNil(t, s.DeleteMessage("c", 1))
	release()
	mustSync(t, s)
	if st := s.Stats(); st.Cancelled != 2 || st.Skipped != 0 {
		t.Errorf("stats %+v, want 2 saves cancelled, no commit skipped", st)
	}
	ss := sessionByID(load(t, reopen(t, s)), "c")
	if got := seqs(ss); len(got) != 1 || got[0] != 2 {
		t.Fatalf("stored messages %v, want [2]", got)
	}
}

// A message stored by an earlier commit and then updated and deleted in
// one batch is deleted from the file: only the update is cancelled.
func TestCancelKeepsDeleteOfStoredMessage(t *testing.T) {
	s := openStore(t, tempPath(t), Options{})
	load(t, s)
	mustNil(t, s.SaveSession(&broker.StoredSession{ClientID: "c", Version: mqtt.V311, ExpiryInterval: 60}))
	mustNil(t, s.SaveMessage("c", message(3, "x")))
	mustNil(t, s.SaveMessage("c", message(4, "y")))
	mustSync(t, s)
	release := holdCommit(t, s, func() error {
		return s.SaveRetained(&broker.StoredMessage{Topic: "r", Payload: []byte("z")})
	})
	sent := message(3, "x")
	sent.State, sent.PacketID = broker.StateSent, 1
	mustNil(t, s.SaveMessage("c", sent))
	mustNil(t, s.DeleteMessage("c", 3))
	release()
	mustSync(t, s)
	if st := s.Stats(); st.Cancelled != 1 {
		t.Errorf("stats %+v, want 1 save cancelled", st)
	}
	ss := sessionByID(load(t, reopen(t, s)), "c")
	if got := seqs(ss); len(got) != 1 || got[0] != 4 {
		t.Fatalf("stored messages %v, want [4]", got)
	}
}

// A batch that only saves and deletes the same messages writes nothing:
// no transaction is committed (no fsync), its callbacks still run, and
// the file is unchanged.
func TestBatchWithNothingToWriteSkipsCommit(t *testing.T) {
	s := openStore(t, tempPath(t), Options{})
	load(t, s)
	mustNil(t, s.SaveSession(&broker.StoredSession{ClientID: "c", Version: mqtt.V311, ExpiryInterval: 60}))
	mustNil(t, s.SaveMessage("c", message(1, "keep")))
	mustSync(t, s)
	release := holdCommit(t, s, func() error {
		return s.SaveRetained(&broker.StoredMessage{Topic: "r", Payload: []byte("z")})
	})
	for seq := uint64(10); seq < 20; seq++ {
		mustNil(t, s.SaveMessage("c", message(seq, "gone")))
		mustNil(t, s.DeleteMessage("c", seq))
	}
	mustNil(t, s.DeleteMessage("c", 99)) // never stored
	done := make(chan error, 1)
	s.AfterDurable(func(err error) { done <- err })
	release()
	if err := <-done; err != nil {
		t.Fatalf("callback after a skipped commit: %v", err)
	}
	if st := s.Stats(); st.Skipped != 1 || st.Cancelled != 10 || st.Failed != 0 {
		t.Errorf("stats %+v, want 1 commit skipped and 10 saves cancelled", st)
	}
	snap := load(t, reopen(t, s))
	if got := seqs(sessionByID(snap, "c")); len(got) != 1 || got[0] != 1 {
		t.Fatalf("stored messages %v, want [1]", got)
	}
	if len(snap.Retained) != 1 {
		t.Fatalf("retained %d, want the one of the held commit", len(snap.Retained))
	}
}
