package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/mqkit/mqkit/internal/broker"
)

// msgsFillPercent is the page fill of the per-session message buckets.
const msgsFillPercent = 0.9

type opKind uint8

const (
	opNone opKind = iota // cancelled (commit.go)
	opPutRetained
	opDelRetained
	opPutSession
	opDelSession
	opPutSub
	opDelSub
	opPutMsg
	opDelMsg
	opPutInbound
	opDelInbound
)

var opNames = [...]string{"cancelled", "save retained", "delete retained", "save session", "delete session",
	"save subscription", "delete subscription", "save message", "delete message",
	"save inbound id", "delete inbound id"}

// op is one pending write. Values are encoded by the caller's goroutine
// when the op is submitted, so the caller may reuse its structs at once.
type op struct {
	kind   opKind
	client string // session ops
	key    []byte // retained topic or subscription filter key
	val    []byte
	num    uint64 // message seq or inbound packet id
	kbuf   [8]byte
}

// numKey returns the big-endian key of a message or inbound id. It points
// into o, which stays in place for the whole transaction.
func (o *op) numKey() []byte {
	if o.kind == opPutInbound || o.kind == opDelInbound {
		binary.BigEndian.PutUint16(o.kbuf[:2], uint16(o.num))
		return o.kbuf[:2]
	}
	binary.BigEndian.PutUint64(o.kbuf[:], o.num)
	return o.kbuf[:]
}

func (o *op) String() string {
	switch o.kind {
	case opPutRetained, opDelRetained:
		return fmt.Sprintf("%s %q", opNames[o.kind], o.key)
	case opPutMsg, opDelMsg, opPutInbound, opDelInbound:
		return fmt.Sprintf("%s %d of %q", opNames[o.kind], o.num, o.client)
	case opPutSub, opDelSub:
		return fmt.Sprintf("%s %q of %q", opNames[o.kind], o.key, o.client)
	}
	return fmt.Sprintf("%s %q", opNames[o.kind], o.client)
}

// SaveRetained stores m as the retained message of m.Topic.
func (s *Bolt) SaveRetained(m *broker.StoredMessage) error {
	if m.Topic == "" {
		return ErrEmptyID
	}
	return s.submit(op{kind: opPutRetained, key: keyFor(m.Topic),
		val: appendMessage(make([]byte, 0, messageSize(m)), m)})
}

// DeleteRetained removes the retained message of topic.
func (s *Bolt) DeleteRetained(topic string) error {
	if topic == "" {
		return ErrEmptyID
	}
	return s.submit(op{kind: opDelRetained, key: keyFor(topic)})
}

// SaveSession inserts or replaces the metadata of a session.
func (s *Bolt) SaveSession(ss *broker.StoredSession) error {
	if ss.ClientID == "" {
		return ErrEmptyID
	}
	return s.submit(op{kind: opPutSession, client: ss.ClientID, val: appendSession(nil, ss)})
}

// DeleteSession removes a session and everything stored under it.
func (s *Bolt) DeleteSession(clientID string) error {
	if clientID == "" {
		return ErrEmptyID
	}
	return s.submit(op{kind: opDelSession, client: clientID})
}

// SaveSubscription inserts or replaces a subscription of a session.
func (s *Bolt) SaveSubscription(clientID string, sub *broker.StoredSubscription) error {
	if clientID == "" || sub.Filter == "" {
		return ErrEmptyID
	}
	return s.submit(op{kind: opPutSub, client: clientID, key: keyFor(sub.Filter),
		val: appendSubscription(nil, sub)})
}

// DeleteSubscription removes a subscription of a session.
func (s *Bolt) DeleteSubscription(clientID, filter string) error {
	if clientID == "" || filter == "" {
		return ErrEmptyID
	}
	return s.submit(op{kind: opDelSub, client: clientID, key: keyFor(filter)})
}

// SaveMessage inserts or replaces (same Seq) an outgoing message of a
// session.
func (s *Bolt) SaveMessage(clientID string, m *broker.StoredMessage) error {
	if clientID == "" {
		return ErrEmptyID
	}
	return s.submit(op{kind: opPutMsg, client: clientID, num: m.Seq,
		val: appendMessage(make([]byte, 0, messageSize(m)), m)})
}

// DeleteMessage removes an outgoing message of a session.
func (s *Bolt) DeleteMessage(clientID string, seq uint64) error {
	if clientID == "" {
		return ErrEmptyID
	}
	return s.submit(op{kind: opDelMsg, client: clientID, num: seq})
}

// SaveInbound records a QoS 2 packet id awaiting PUBREL.
func (s *Bolt) SaveInbound(clientID string, packetID uint16) error {
	if clientID == "" {
		return ErrEmptyID
	}
	return s.submit(op{kind: opPutInbound, client: clientID, num: uint64(packetID)})
}

// DeleteInbound forgets a QoS 2 packet id.
func (s *Bolt) DeleteInbound(clientID string, packetID uint16) error {
	if clientID == "" {
		return ErrEmptyID
	}
	return s.submit(op{kind: opDelInbound, client: clientID, num: uint64(packetID)})
}

// applier applies ops inside one transaction, caching the bucket of the
// last session used (consecutive ops usually concern the same session).
type applier struct {
	tx                 *bolt.Tx
	retained, sessions *bolt.Bucket
	client             string
	session            *bolt.Bucket
	changed            bool // something was written or deleted
}

// deleteMessage deletes a message if it is there; a message whose save
// was cancelled in this batch, or that was never stored, changes nothing.
func (a *applier) deleteMessage(o *op) error {
	sb, err := a.sessionBucket(o.client, false)
	if sb == nil || err != nil {
		return err
	}
	b := sb.Bucket(bucketMsgs)
	if b == nil {
		return nil
	}
	c := b.Cursor()
	k, _ := c.Seek(o.numKey())
	if k == nil || string(k) != string(o.numKey()) {
		return nil
	}
	a.changed = true
	return c.Delete()
}

// apply applies the ops in order and reports whether any may have changed
// the file (a message delete that finds nothing does not). An op that
// fails (which validation at submit time should make impossible) is
// logged and skipped so that it does not cost the rest of the batch.
func (s *Bolt) apply(tx *bolt.Tx, ops []op) (changed bool, err error) {
	a := applier{tx: tx, retained: tx.Bucket(bucketRetained), sessions: tx.Bucket(bucketSessions)}
	if a.retained == nil || a.sessions == nil {
		return false, fmt.Errorf("store: %s: top-level buckets missing", s.path)
	}
	for i := range ops {
		if err := a.apply(&ops[i]); err != nil {
			s.logf("store: %s: %s: %v (skipped)", s.path, &ops[i], err)
			a.changed = true // it may have done part of its work
		}
	}
	return a.changed, nil
}

func (a *applier) apply(o *op) error {
	switch o.kind {
	case opNone:
		return nil
	case opDelMsg:
		return a.deleteMessage(o)
	}
	a.changed = true
	switch o.kind {
	case opPutRetained:
		return a.retained.Put(o.key, o.val)
	case opDelRetained:
		return a.retained.Delete(o.key)
	case opDelSession:
		a.client, a.session = "", nil
		err := a.sessions.DeleteBucket(keyFor(o.client))
		if errors.Is(err, berrors.ErrBucketNotFound) {
			return nil
		}
		return err
	}
	put := o.kind == opPutSession || o.kind == opPutSub || o.kind == opPutMsg || o.kind == opPutInbound
	sb, err := a.sessionBucket(o.client, put)
	if sb == nil || err != nil {
		return err // deleting from a session that does not exist is a no-op
	}
	switch o.kind {
	case opPutSession:
		return sb.Put(keySession, o.val)
	case opPutSub, opDelSub:
		return putOrDelete(sb, bucketSubs, o.key, o.val, put)
	case opPutMsg, opDelMsg:
		return putOrDelete(sb, bucketMsgs, o.numKey(), o.val, put)
	case opPutInbound, opDelInbound:
		return putOrDelete(sb, bucketInbound, o.numKey(), []byte{}, put)
	}
	return fmt.Errorf("unknown op kind %d", o.kind)
}

func (a *applier) sessionBucket(client string, create bool) (*bolt.Bucket, error) {
	if a.session != nil && a.client == client {
		return a.session, nil
	}
	k := keyFor(client)
	b := a.sessions.Bucket(k)
	if b == nil {
		if !create {
			return nil, nil
		}
		var err error
		if b, err = a.sessions.CreateBucket(k); err != nil {
			return nil, err
		}
	}
	a.client, a.session = client, b
	return b, nil
}

func putOrDelete(sb *bolt.Bucket, name, key, val []byte, put bool) error {
	b := sb.Bucket(name)
	if b == nil {
		if !put {
			return nil
		}
		var err error
		if b, err = sb.CreateBucket(name); err != nil {
			return err
		}
	}
	if put {
		if len(name) == len(bucketMsgs) && string(name) == string(bucketMsgs) {
			// Seq keys only grow: split pages nearly full instead of in
			// half (bbolt's advice for append workloads).
			b.FillPercent = msgsFillPercent
		}
		return b.Put(key, val)
	}
	return b.Delete(key)
}
