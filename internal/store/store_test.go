package store

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// TestStoreRoundTrip saves sessions and retained messages with every
// field set, reopens the file and compares what Load returns.
func TestStoreRoundTrip(t *testing.T) {
	disc := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	for _, tc := range []struct {
		name     string
		retained []*broker.StoredMessage
		sessions []*broker.StoredSession
	}{
		{name: "empty"},
		{name: "retained only", retained: []*broker.StoredMessage{
			{QoS: 1, Retain: true, Topic: "a", Payload: []byte("1"), Props: appProps(), Publisher: "p"},
			{QoS: 0, Retain: true, Topic: "b/c", Payload: []byte("2"), Expiry: disc},
		}},
		{name: "session without children", sessions: []*broker.StoredSession{
			{ClientID: "bare", Version: mqtt.V311, ExpiryInterval: 0xFFFFFFFF},
		}},
		{name: "sessions with everything", sessions: []*broker.StoredSession{
			{ClientID: "s1", Version: mqtt.V5, ExpiryInterval: 60, DisconnectedAt: disc,
				Subscriptions: []*broker.StoredSubscription{
					{Filter: "$share/g/x", QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 1, ID: 5},
					{Filter: "a/#", QoS: 1},
				},
				Messages: []*broker.StoredMessage{
					{Seq: 1, QoS: 1, Topic: "a/1", Payload: []byte("q"), State: broker.StateQueued},
					{Seq: 2, PacketID: 9, QoS: 2, Dup: true, State: broker.StateSent, Topic: "a/2",
						SubIDs: []uint32{5}, Props: appProps(), Expiry: disc.Add(time.Hour), Publisher: "p"},
					{Seq: 3, PacketID: 10, QoS: 2, State: broker.StateReleased, Topic: "a/3"},
				},
				Inbound: []uint16{1, 256, 65535},
			},
			{ClientID: "s2", Version: mqtt.V311, Inbound: []uint16{7}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, tempPath(t), Options{})
			load(t, s)
			for _, m := range tc.retained {
				mustNil(t, s.SaveRetained(m))
			}
			for _, ss := range tc.sessions {
				mustNil(t, s.SaveSession(ss))
				for _, sub := range ss.Subscriptions {
					mustNil(t, s.SaveSubscription(ss.ClientID, sub))
				}
				for _, m := range ss.Messages {
					mustNil(t, s.SaveMessage(ss.ClientID, m))
				}
				for _, id := range ss.Inbound {
					mustNil(t, s.SaveInbound(ss.ClientID, id))
				}
			}
			snap := load(t, reopen(t, s))
			if len(snap.Retained) != len(tc.retained) {
				t.Fatalf("%d retained, want %d", len(snap.Retained), len(tc.retained))
			}
			for i, want := range tc.retained { // keys sort like these topics
				if d := diffMessage(want, snap.Retained[i]); d != "" {
					t.Errorf("retained %q: %s", want.Topic, d)
				}
			}
			if len(snap.Sessions) != len(tc.sessions) {
				t.Fatalf("%d sessions, want %d", len(snap.Sessions), len(tc.sessions))
			}
			for _, want := range tc.sessions {
				got := sessionByID(snap, want.ClientID)
				if got == nil {
					t.Fatalf("session %q missing", want.ClientID)
				}
				// Load returns subscriptions in key order.
				want := *want
				want.Subscriptions = slices.Clone(want.Subscriptions)
				slices.SortFunc(want.Subscriptions, func(a, b *broker.StoredSubscription) int {
					return strings.Compare(a.Filter, b.Filter)
				})
				if d := diffSession(&want, got); d != "" {
					t.Errorf("session %q: %s", want.ClientID, d)
				}
			}
		})
	}
}

func TestLoadOrdersMessagesBySeq(t *testing.T) {
	s := openStore(t, tempPath(t), Options{})
	load(t, s) // the broker loads before it writes
	mustNil(t, s.SaveSession(&broker.StoredSession{ClientID: "c", Version: mqtt.V5}))
	seqs := []uint64{1, 2, 255, 256, 257, 65535, 65536, 1 << 32, 1<<32 + 1, 1 << 56, ^uint64(0)}
	shuffled := slices.Clone(seqs)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, seq := range shuffled {
		mustNil(t, s.SaveMessage("c", message(seq, "x")))
	}
	for _, snapFrom := range []string{"same store", "reopened"} {
		if snapFrom == "reopened" {
			s = reopen(t, s)
		}
		mustSync(t, s)
		snap := load(t, s)
		var got []uint64
		for _, m := range sessionByID(snap, "c").Messages {
			got = append(got, m.Seq)
		}
		if !slices.Equal(got, seqs) {
			t.Errorf("%s: seqs %v, want %v", snapFrom, got, seqs)
		}
	}
}

// TestReplaceAndDelete covers the replace (same key) and delete calls,
// including deletes of things that do not exist.
func TestReplaceAndDelete(t *testing.T) {
	s := openStore(t, tempPath(t), Options{})
	mustNil(t, s.DeleteMessage("nobody", 1))        // no session: no-op
	mustNil(t, s.DeleteSubscription("nobody", "x")) // no-op
	mustNil(t, s.DeleteInbound("nobody", 1))        // no-op
	mustNil(t, s.DeleteSession("nobody"))           // no-op
	mustNil(t, s.DeleteRetained("nothing"))         // no-op

	mustNil(t, s.SaveSession(&broker.StoredSession{ClientID: "c", Version: mqtt.V311}))
	mustNil(t, s.SaveSession(&broker.StoredSession{ClientID: "c", Version: mqtt.V5, ExpiryInterval: 9}))
	mustNil(t, s.SaveSubscription("c", &broker.StoredSubscription{Filter: "f", QoS: 0}))
	mustNil(t, s.SaveSubscription("c", &broker.StoredSubscription{Filter: "f", QoS: 2}))
	mustNil(t, s.SaveSubscription("c", &broker.StoredSubscription{Filter: "g", QoS: 1}))
	mustNil(t, s.DeleteSubscription("c", "g"))
	mustNil(t, s.SaveMessage("c", message(1, "old")))
	mustNil(t, s.SaveMessage("c", &broker.StoredMessage{Seq: 1, PacketID: 4, State: broker.StateSent, QoS: 1, Topic: "t/1", Payload: []byte("new")}))
	mustNil(t, s.SaveMessage("c", message(2, "gone")))
	mustNil(t, s.DeleteMessage("c", 2))
	mustNil(t, s.DeleteMessage("c", 99))
	mustNil(t, s.SaveInbound("c", 1))
	mustNil(t, s.SaveInbound("c", 1))
	mustNil(t, s.SaveInbound("c", 2))
	mustNil(t, s.DeleteInbound("c", 2))
	mustNil(t, s.SaveRetained(&broker.StoredMessage{Topic: "r", Payload: []byte("old")}))
	mustNil(t, s.SaveRetained(&broker.StoredMessage{Topic: "r", Payload: []byte("new")}))
	mustNil(t, s.SaveRetained(&broker.StoredMessage{Topic: "r2", Payload: []byte("x")}))
	mustNil(t, s.DeleteRetained("r2"))

	snap := load(t, reopen(t, s))
	if len(snap.Retained) != 1 || string(snap.Retained[0].Payload) != "new" {
		t.Errorf("retained = %+v", snap.Retained)
	}
	if len(snap.Sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(snap.Sessions))
	}
	want := &broker.StoredSession{ClientID: "c", Version: mqtt.V5, ExpiryInterval: 9,
		Subscriptions: []*broker.StoredSubscription{{Filter: "f", QoS: 2}},
		Messages:      []*broker.StoredMessage{{Seq: 1, PacketID: 4, State: broker.StateSent, QoS: 1, Topic: "t/1", Payload: []byte("new")}},
		Inbound:       []uint16{1},
	}
	if d := diffSession(want, snap.Sessions[0]); d != "" {
		t.Error(d)
	}
}

func TestDeleteSessionRemovesEverything(t *testing.T) {
	s := openStore(t, tempPath(t), Options{})
	fill := func(id string) {
		mustNil(t, s.SaveSession(&broker.StoredSession{ClientID: id, Version: mqtt.V5}))
		mustNil(t, s.SaveSubscription(id, &broker.StoredSubscription{Filter: "a", QoS: 1}))
		for i := uint64(1); i <= 100; i++ {
			mustNil(t, s.SaveMessage(id, message(i, strings.Repeat("p", 500))))
		}
		mustNil(t, s.SaveInbound(id, 3))
	}
	fill("gone")
	fill("kept")
	mustSync(t, s)
	mustNil(t, s.DeleteSession("gone"))
	// A session with the same id created after the delete starts empty.
	mustNil(t, s.SaveSession(&broker.StoredSession{ClientID: "again", Version: mqtt.V311}))
	fill("again")
	mustNil(t, s.DeleteSession("again"))
	mustNil(t, s.SaveSession(&broker.StoredSession{ClientID: "again", Version: mqtt.V311}))

	s = reopen(t, s)
	snap := load(t, s)
	if got := sessionByID(snap, "gone"); got != nil {
		t.Errorf("deleted session loaded: %+v", got)
	}
	if got := sessionByID(snap, "kept"); got == nil || len(got.Messages) != 100 || len(got.Subscriptions) != 1 || len(got.Inbound) != 1 {
		t.Errorf("kept session damaged: %+v", got)
	}
	if got := sessionByID(snap, "again"); got == nil || len(got.Messages)+len(got.Subscriptions)+len(got.Inbound) != 0 {
		t.Errorf("recreated session not empty: %+v", got)
	}
	// Nothing of "gone" is left in the file.
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketSessions).Bucket([]byte("gone")) != nil {
			t.Error(`bucket sessions/"gone" still exists`)
		}
		return nil
	})
	mustNil(t, err)
}

// TestLongKeys: MQTT strings up to 65535 bytes exceed bbolt's key limit
// and are stored under a hash.
func TestLongKeys(t *testing.T) {
	s := openStore(t, tempPath(t), Options{})
	long := func(c string) string { return strings.Repeat(c, 65535) }
	id, topic, filter := long("c"), long("t"), long("f")
	mustNil(t, s.SaveSession(&broker.StoredSession{ClientID: id, Version: mqtt.V5}))
	mustNil(t, s.SaveSubscription(id, &broker.StoredSubscription{Filter: filter, QoS: 1}))
	mustNil(t, s.SaveMessage(id, &broker.StoredMessage{Seq: 1, Topic: topic}))
	mustNil(t, s.SaveRetained(&broker.StoredMessage{Topic: topic, Payload: []byte("r")}))
	s = reopen(t, s)
	snap := load(t, s)
	ss := sessionByID(snap, id)
	if ss == nil || len(ss.Subscriptions) != 1 || ss.Subscriptions[0].Filter != filter ||
		len(ss.Messages) != 1 || ss.Messages[0].Topic != topic {
		t.Fatalf("long session not loaded intact")
	}
	if len(snap.Retained) != 1 || snap.Retained[0].Topic != topic {
		t.Fatalf("long retained not loaded intact")
	}
	mustNil(t, s.DeleteSubscription(id, filter))
	mustNil(t, s.DeleteRetained(topic))
	snap = load(t, reopen(t, s))
	if len(snap.Retained) != 0 || len(sessionByID(snap, id).Subscriptions) != 0 {
		t.Error("long keys not deleted")
	}
}

func TestInvalidArguments(t *testing.T) {
	s := openStore(t, tempPath(t), Options{})
	for name, err := range map[string]error{
		"SaveRetained":       s.SaveRetained(&broker.StoredMessage{}),
		"DeleteRetained":     s.DeleteRetained(""),
		"SaveSession":        s.SaveSession(&broker.StoredSession{}),
		"DeleteSession":      s.DeleteSession(""),
		"SaveSubscription":   s.SaveSubscription("c", &broker.StoredSubscription{}),
		"DeleteSubscription": s.DeleteSubscription("", "f"),
		"SaveMessage":        s.SaveMessage("", message(1, "")),
		"DeleteMessage":      s.DeleteMessage("", 1),
		"SaveInbound":        s.SaveInbound("", 1),
		"DeleteInbound":      s.DeleteInbound("", 1),
	} {
		if !errors.Is(err, ErrEmptyID) {
			t.Errorf("%s: err = %v, want ErrEmptyID", name, err)
		}
	}
}

func TestClosed(t *testing.T) {
	s := openStore(t, tempPath(t), Options{})
	mustNil(t, s.Close())
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	for name, err := range map[string]error{
		"SaveRetained":  s.SaveRetained(&broker.StoredMessage{Topic: "t"}),
		"SaveSession":   s.SaveSession(&broker.StoredSession{ClientID: "c"}),
		"SaveMessage":   s.SaveMessage("c", message(1, "")),
		"DeleteInbound": s.DeleteInbound("c", 1),
		"Sync":          s.Sync(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: err = %v", name, err)
		}
	}
	var got error
	s.AfterDurable(func(err error) { got = err })
	if !errors.Is(got, ErrClosed) {
		t.Errorf("AfterDurable after Close: fn got %v", got)
	}
}

func TestLoadTwiceSeesNewWrites(t *testing.T) {
	s := openStore(t, tempPath(t), Options{})
	if snap := load(t, s); len(snap.Retained) != 0 {
		t.Fatal("new store not empty")
	}
	mustNil(t, s.SaveRetained(&broker.StoredMessage{Topic: "t", Payload: []byte("x")}))
	if snap := load(t, s); len(snap.Retained) != 1 {
		t.Errorf("second Load: %d retained, want 1", len(snap.Retained))
	}
}

// TestOrphanSessionDropped: records of a session whose metadata was never
// saved are not loaded and are removed.
func TestOrphanSessionDropped(t *testing.T) {
	s := openStore(t, tempPath(t), Options{})
	mustNil(t, s.SaveMessage("orphan", message(1, "x")))
	mustNil(t, s.Close())
	var logs logSink
	s = openStore(t, s.Path(), Options{Logf: logs.logf})
	if snap := load(t, s); len(snap.Sessions) != 0 {
		t.Errorf("orphan loaded: %+v", snap.Sessions[0])
	}
	if !logs.contains(`session "orphan", which has no metadata`) {
		t.Errorf("no log about the orphan; logs:\n%s", logs.String())
	}
	s = reopen(t, s)
	mustNil(t, s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketSessions).Bucket([]byte("orphan")) != nil {
			t.Error("orphan bucket not removed")
		}
		return nil
	}))
}

func TestFormatChecks(t *testing.T) {
	t.Run("other format version", func(t *testing.T) {
		s := openStore(t, tempPath(t), Options{})
		mustNil(t, s.Close())
		db, err := bolt.Open(s.Path(), 0o600, nil)
		mustNil(t, err)
		mustNil(t, db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(keyFormat, []byte("mqkit-store/99"))
		}))
		mustNil(t, db.Close())
		_, err = Open(s.Path(), Options{})
		if err == nil || !strings.Contains(err.Error(), `has format "mqkit-store/99"`) {
			t.Errorf("Open: %v", err)
		}
	})
	t.Run("foreign bbolt file", func(t *testing.T) {
		path := tempPath(t)
		db, err := bolt.Open(path, 0o600, nil)
		mustNil(t, err)
		mustNil(t, db.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucket([]byte("other"))
			return err
		}))
		mustNil(t, db.Close())
		_, err = Open(path, Options{})
		if err == nil || !strings.Contains(err.Error(), "is not an mqkit store") {
			t.Errorf("Open: %v", err)
		}
	})
	t.Run("locked by another open", func(t *testing.T) {
		old := lockTimeout
		lockTimeout = 100 * time.Millisecond
		t.Cleanup(func() { lockTimeout = old })
		s := openStore(t, tempPath(t), Options{})
		if _, err := Open(s.Path(), Options{}); !errors.Is(err, ErrLocked) {
			t.Errorf("second Open: %v, want ErrLocked", err)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		_, err := Open(t.TempDir()+"/no/such/dir/db", Options{})
		if err == nil || errors.Is(err, ErrCorrupt) {
			t.Errorf("Open: %v, want a plain I/O error", err)
		}
	})
}
