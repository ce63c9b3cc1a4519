// Package store persists the broker's retained messages and durable
// sessions in a single bbolt file and implements broker.Store.
//
// Writes are group-committed: Save* and Delete* only append the operation
// to an in-memory batch and return; one committer goroutine applies each
// batch in a single bbolt transaction (one fsync), starting as soon as
// operations are pending and gathering new ones while a commit runs.
// AfterDurable tells a caller when everything it submitted is on disk, so
// the broker can hold back a PUBACK/PUBREC without blocking its reader.
//
// File layout (bucket names in quotes):
//
//	"meta"     "format" → formatVersion
//	"retained" keyFor(topic) → message record
//	"sessions" keyFor(clientID) → bucket:
//	           "meta" → session record
//	           "subs"    keyFor(filter) → subscription record
//	           "msgs"    Seq (8 bytes big endian) → message record
//	           "inbound" packet id (2 bytes big endian) → empty
package store

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log"
	"os"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/mqkit/mqkit/internal/broker"
)

var _ broker.Store = (*Bolt)(nil)

// formatVersion identifies the file layout and record encodings. Open
// refuses a file with another value rather than misreading it.
const formatVersion = "mqkit-store/1"

// lockTimeout bounds how long Open waits for the file lock held by
// another process (a variable for tests).
var lockTimeout = 2 * time.Second

var (
	bucketMeta     = []byte("meta")
	bucketRetained = []byte("retained")
	bucketSessions = []byte("sessions")
	keyFormat      = []byte("format")
	keySession     = []byte("meta")
	bucketSubs     = []byte("subs")
	bucketMsgs     = []byte("msgs")
	bucketInbound  = []byte("inbound")
)

// Errors returned by the store. Corruption errors wrap ErrCorrupt and
// read "store: data file PATH is corrupt: DETAIL".
var (
	ErrCorrupt = errors.New("corrupt")
	ErrClosed  = errors.New("store: closed")
	ErrLocked  = errors.New("store: data file is in use by another process")
	ErrEmptyID = errors.New("store: empty client id, topic or filter")
)

// Options configures Open. The zero value is durable: every group commit
// is fsynced.
type Options struct {
	// NoSync skips fsync after each group commit (bbolt NoSync): data
	// survives the process being killed (kill -9), since it is in the OS
	// page cache, but not a power loss or kernel crash.
	NoSync bool
	// Logf receives errors that have no caller to return to: a failed
	// group commit, an operation skipped inside a batch, orphan records
	// dropped at load. nil = log.Printf.
	Logf func(format string, args ...any)
	// CommitLatency, when set, is called after each group commit with the
	// time it took (transaction and fsync), for the
	// mqbroker_store_commit_seconds histogram.
	CommitLatency func(time.Duration)
}

// Bolt is a broker.Store backed by one bbolt file. It is safe for
// concurrent use.
type Bolt struct {
	db            *bolt.DB
	path          string
	logf          func(string, ...any)
	commitLatency func(time.Duration)

	mu      sync.Mutex
	wake    sync.Cond // signalled when pending becomes non-empty or on close
	pending batch
	closing bool

	done chan struct{} // closed when the committer exits

	// snap is what Open read (and verified); Load hands it out once.
	snapMu sync.Mutex
	snap   *broker.StoreSnapshot

	firstErr atomic.Pointer[error] // first failed commit
	lastErr  error                 // committer only: result of the latest commit
	broken   error                 // committer only: set after a panic in a commit

	commits, ops, failed atomic.Uint64
	cancelled, skipped   atomic.Uint64 // saves dropped by cancelSaved; commits with nothing to write

	delIdx map[msgKey]int // committer only: cancelSaved's scratch

	// testCommitHook, when set (tests only), runs inside each commit
	// transaction; a non-nil error makes the commit fail.
	testCommitHook func() error
}

// batch is a group of operations committed together and the callbacks to
// run once it is durable.
type batch struct {
	ops []op
	cbs []func(error)
}

// Stats are counters since Open.
type Stats struct {
	Commits uint64 // bbolt transactions committed (or attempted)
	Ops     uint64 // operations applied
	Failed  uint64 // failed commits
	// Cancelled counts message saves dropped because the same batch
	// deleted the message; Skipped counts batches with nothing to write
	// (no transaction committed, no fsync).
	Cancelled, Skipped uint64
}

// Open opens (creating if needed) the store file at path. The parent
// directory must exist. It verifies the whole file and reads it into the
// snapshot Load returns, so a corrupt or truncated file is reported here
// as an error wrapping ErrCorrupt, never as a panic later.
func Open(path string, opts Options) (*Bolt, error) {
	logf := opts.Logf
	if logf == nil {
		logf = log.Printf
	}
	if err := precheck(path); err != nil {
		return nil, err
	}
	db, err := openBolt(path, &bolt.Options{
		Timeout:      lockTimeout,
		NoSync:       opts.NoSync,
		FreelistType: bolt.FreelistMapType,
	})
	if err != nil {
		return nil, err
	}
	s := &Bolt{db: db, path: path, logf: logf, done: make(chan struct{}), commitLatency: opts.CommitLatency}
	s.wake.L = &s.mu
	snap, orphans, err := s.verifyAndRead()
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s.snap = snap
	go s.run()
	for _, id := range orphans {
		s.logf("store: %s: dropping records of session %q, which has no metadata", path, id)
		_ = s.submit(op{kind: opDelSession, client: id})
	}
	return s, nil
}

// corrupt builds the error returned for a damaged file.
func corrupt(path string, format string, args ...any) error {
	return fmt.Errorf("store: data file %s is %w: %s", path, ErrCorrupt, fmt.Sprintf(format, args...))
}

// Path returns the data file's path.
func (s *Bolt) Path() string { return s.path }

// Stats returns the commit counters.
func (s *Bolt) Stats() Stats {
	return Stats{Commits: s.commits.Load(), Ops: s.ops.Load(), Failed: s.failed.Load(),
		Cancelled: s.cancelled.Load(), Skipped: s.skipped.Load()}
}

// Err returns the error of the first group commit that failed since Open,
// or nil. Operations of a failed commit are lost.
func (s *Bolt) Err() error {
	if p := s.firstErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Close commits every pending operation, runs the remaining AfterDurable
// callbacks and closes the file. Errors of earlier commits are reported by
// Err, not by Close. Later calls of any method return
// ErrClosed (AfterDurable calls fn(ErrClosed) at once).
func (s *Bolt) Close() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		<-s.done
		return ErrClosed
	}
	s.closing = true
	s.wake.Signal()
	s.mu.Unlock()
	<-s.done
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", s.path, err)
	}
	return nil
}

// keyFor maps a client id, topic or filter to its bbolt key. MQTT strings
// may be up to 65535 bytes but bbolt keys at most bolt.MaxKeySize, so a
// longer string is stored under 0x00 followed by its SHA-256; no MQTT
// string contains U+0000 [MQTT-1.5.4-2], so such a key cannot collide
// with a plain one.
func keyFor(s string) []byte {
	if len(s) <= bolt.MaxKeySize {
		return []byte(s)
	}
	h := sha256.Sum256([]byte(s))
	return append([]byte{0}, h[:]...)
}

// fileSize returns the size of path (0 when it does not exist).
func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	return fi.Size(), nil
}

var _ broker.DurableStore = (*Bolt)(nil)
