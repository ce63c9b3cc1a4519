package store

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/mqkit/mqkit/internal/broker"
)

// Load returns the retained messages and durable sessions. The first call
// returns what Open read and verified (before any write of this process);
// a later call first waits for pending writes (Sync) and reads again.
func (s *Bolt) Load() (*broker.StoreSnapshot, error) {
	s.snapMu.Lock()
	snap := s.snap
	s.snap = nil
	s.snapMu.Unlock()
	if snap != nil {
		return snap, nil
	}
	if err := s.Sync(); err != nil {
		return nil, err
	}
	err := s.safeView(func(tx *bolt.Tx) error {
		var err error
		snap, _, err = s.read(tx)
		return err
	})
	return snap, err
}

// read decodes the whole store. Sessions are returned in key order and
// their messages in Seq order (big-endian keys sort numerically). A
// session bucket without metadata is skipped and reported in orphans.
func (s *Bolt) read(tx *bolt.Tx) (*broker.StoreSnapshot, []string, error) {
	snap := &broker.StoreSnapshot{}
	rb, sb := tx.Bucket(bucketRetained), tx.Bucket(bucketSessions)
	if rb == nil || sb == nil {
		return nil, nil, corrupt(s.path, "missing %q or %q bucket", bucketRetained, bucketSessions)
	}
	err := rb.ForEach(func(k, v []byte) error {
		if v == nil {
			return corrupt(s.path, "unexpected bucket %q in retained messages", k)
		}
		m, err := decodeMessage(v)
		if err != nil {
			return corrupt(s.path, "retained %q: %v", k, err)
		}
		snap.Retained = append(snap.Retained, m)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	var orphans []string
	err = sb.ForEachBucket(func(k []byte) error {
		b := sb.Bucket(k)
		meta := b.Get(keySession)
		if meta == nil {
			orphans = append(orphans, string(k))
			return nil
		}
		ss, err := decodeSession(meta)
		if err != nil {
			return corrupt(s.path, "session %q: %v", k, err)
		}
		if err := s.readSession(b, ss); err != nil {
			return err
		}
		snap.Sessions = append(snap.Sessions, ss)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return snap, orphans, nil
}

func (s *Bolt) readSession(b *bolt.Bucket, ss *broker.StoredSession) error {
	if subs := b.Bucket(bucketSubs); subs != nil {
		err := subs.ForEach(func(k, v []byte) error {
			sub, err := decodeSubscription(v)
			if err != nil {
				return corrupt(s.path, "session %q subscription %q: %v", ss.ClientID, k, err)
			}
			ss.Subscriptions = append(ss.Subscriptions, sub)
			return nil
		})
		if err != nil {
			return err
		}
	}
	if msgs := b.Bucket(bucketMsgs); msgs != nil {
		err := msgs.ForEach(func(k, v []byte) error {
			m, err := decodeMessage(v)
			if err == nil && (len(k) != 8 || binary.BigEndian.Uint64(k) != m.Seq) {
				err = fmt.Errorf("key %x does not match seq %d", k, m.Seq)
			}
			if err != nil {
				return corrupt(s.path, "session %q message %x: %v", ss.ClientID, k, err)
			}
			ss.Messages = append(ss.Messages, m)
			return nil
		})
		if err != nil {
			return err
		}
	}
	if in := b.Bucket(bucketInbound); in != nil {
		err := in.ForEach(func(k, _ []byte) error {
			if len(k) != 2 {
				return corrupt(s.path, "session %q inbound key %x", ss.ClientID, k)
			}
			ss.Inbound = append(ss.Inbound, binary.BigEndian.Uint16(k))
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
