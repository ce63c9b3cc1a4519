package store

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// logSink collects Logf output of a store.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logSink) contains(sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func tempPath(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "mqkit.db")
}

// openStore opens path and closes the store at the end of the test.
func openStore(t *testing.T, path string, opts Options) *Bolt {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// reopen closes s and opens its file again.
func reopen(t *testing.T, s *Bolt) *Bolt {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return openStore(t, s.Path(), Options{})
}

func load(t *testing.T, s *Bolt) *broker.StoreSnapshot {
	t.Helper()
	snap, err := s.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return snap
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustSync(t *testing.T, s *Bolt) {
	t.Helper()
	if err := s.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

// fullProps sets every property of mqtt.Properties.
func fullProps() mqtt.Properties {
	var p mqtt.Properties
	p.SetPayloadFormat(1)
	p.SetMessageExpiry(3600)
	p.SetContentType("application/json")
	p.SetResponseTopic("reply/to/me")
	p.SetCorrelationData([]byte{0, 1, 2, 0xFF})
	p.SubscriptionIDs = []uint32{1, 268435455}
	p.SetSessionExpiry(0xFFFFFFFF)
	p.SetAssignedClientID("auto-1")
	p.SetServerKeepAlive(60)
	p.SetAuthMethod("SCRAM-SHA-1")
	p.SetAuthData([]byte("data"))
	p.SetRequestProblemInfo(1)
	p.SetWillDelay(10)
	p.SetRequestResponseInfo(1)
	p.SetResponseInfo("resp")
	p.SetServerReference("other:1883")
	p.SetReasonString("because")
	p.SetReceiveMaximum(10)
	p.SetTopicAliasMaximum(20)
	p.SetTopicAlias(3)
	p.SetMaximumQoS(1)
	p.SetRetainAvailable(1)
	p.User = []mqtt.UserProperty{{Key: "k", Value: "v"}, {Key: "k", Value: "v"}, {Key: "", Value: ""}, {Key: "ключ", Value: "значение"}}
	p.SetMaximumPacketSize(1 << 20)
	p.SetWildcardSubAvailable(1)
	p.SetSubIDAvailable(1)
	p.SetSharedSubAvailable(1)
	return p
}

// appProps sets the application properties a stored message carries.
func appProps() mqtt.Properties {
	var p mqtt.Properties
	p.SetPayloadFormat(1)
	p.SetContentType("text/plain")
	p.SetResponseTopic("r")
	p.SetCorrelationData([]byte("corr"))
	p.User = []mqtt.UserProperty{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}}
	return p
}

func message(seq uint64, payload string) *broker.StoredMessage {
	return &broker.StoredMessage{Seq: seq, QoS: 1, Topic: "t/" + fmt.Sprint(seq), Payload: []byte(payload)}
}

// diffMessage reports how got differs from want ("" when equal). Times
// are compared with Equal (the location is not stored); a nil and an empty
// payload are the same.
func diffMessage(want, got *broker.StoredMessage) string {
	if !want.Expiry.Equal(got.Expiry) {
		return fmt.Sprintf("Expiry %v, want %v", got.Expiry, want.Expiry)
	}
	if !bytes.Equal(want.Payload, got.Payload) {
		return fmt.Sprintf("Payload %q, want %q", got.Payload, want.Payload)
	}
	w, g := *want, *got
	w.Expiry, g.Expiry, w.Payload, g.Payload = time.Time{}, time.Time{}, nil, nil
	if !reflect.DeepEqual(w, g) {
		return fmt.Sprintf("\n got %+v\nwant %+v", g, w)
	}
	return ""
}

func diffSession(want, got *broker.StoredSession) string {
	if !want.DisconnectedAt.Equal(got.DisconnectedAt) {
		return fmt.Sprintf("DisconnectedAt %v, want %v", got.DisconnectedAt, want.DisconnectedAt)
	}
	if len(want.Messages) != len(got.Messages) {
		return fmt.Sprintf("%d messages, want %d", len(got.Messages), len(want.Messages))
	}
	for i := range want.Messages {
		if d := diffMessage(want.Messages[i], got.Messages[i]); d != "" {
			return fmt.Sprintf("message %d: %s", i, d)
		}
	}
	w, g := *want, *got
	w.DisconnectedAt, g.DisconnectedAt, w.Messages, g.Messages = time.Time{}, time.Time{}, nil, nil
	if !reflect.DeepEqual(w, g) {
		return fmt.Sprintf("\n got %+v\nwant %+v", g, w)
	}
	return ""
}

// sessionByID finds a loaded session.
func sessionByID(snap *broker.StoreSnapshot, id string) *broker.StoredSession {
	for _, s := range snap.Sessions {
		if s.ClientID == id {
			return s
		}
	}
	return nil
}

func isCorrupt(err error) bool {
	return errors.Is(err, ErrCorrupt) && strings.HasPrefix(err.Error(), "store: data file ") &&
		strings.Contains(err.Error(), " is corrupt: ")
}
