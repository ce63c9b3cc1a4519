package store

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// TestOpensFormat1SessionV1 opens a database written by mqkit before
// sessions kept their client (commit 770b3d4: session records of version
// 1, made by a small program against that commit's store). It loads as it
// was saved (sessions without user name and listener), and a session
// saved again is written in the new record version and read back.
func TestOpensFormat1SessionV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	gunzip(t, "testdata/store-format-1-sessions-v1.db.gz", path)
	s := openStore(t, path, Options{})
	snap, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	old := sessionByID(snap, "old-client")
	if old == nil || old.Version != mqtt.V311 || old.ExpiryInterval != 0xFFFFFFFF || !old.DisconnectedAt.Equal(at) ||
		old.HasUsername || old.Username != "" || old.Listener != "" {
		t.Fatalf("old session %+v", old)
	}
	if len(old.Subscriptions) != 1 || old.Subscriptions[0].Filter != "old/#" ||
		len(old.Messages) != 1 || old.Messages[0].Topic != "old/topic" || string(old.Messages[0].Payload) != "kept" {
		t.Fatalf("old session content %+v", old)
	}
	if v5 := sessionByID(snap, "old-v5"); v5 == nil || v5.Version != mqtt.V5 {
		t.Fatalf("old v5 session %+v", v5)
	}
	if len(snap.Retained) != 1 || snap.Retained[0].Topic != "old/retained" {
		t.Fatalf("retained %+v", snap.Retained)
	}
	// Saved again, with its client: the new version, next to old records.
	upd := &broker.StoredSession{ClientID: "old-client", Version: mqtt.V311, ExpiryInterval: 0xFFFFFFFF,
		DisconnectedAt: at, Username: "bob", HasUsername: true, Listener: "listener-1"}
	if err := s.SaveSession(upd); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path, Options{})
	snap, err = s.Load()
	if err != nil {
		t.Fatal(err)
	}
	got := sessionByID(snap, "old-client")
	if got == nil || got.Username != "bob" || !got.HasUsername || got.Listener != "listener-1" ||
		len(got.Messages) != 1 || len(got.Subscriptions) != 1 {
		t.Fatalf("re-saved session %+v", got)
	}
	if v5 := sessionByID(snap, "old-v5"); v5 == nil || v5.HasUsername {
		t.Fatalf("untouched old v5 session %+v", v5)
	}
}

func gunzip(t *testing.T, from, to string) {
	t.Helper()
	f, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, zr); err != nil {
		t.Fatal(err)
	}
}
