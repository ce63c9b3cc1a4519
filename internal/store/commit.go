package store

import (
	"runtime"
	"runtime/debug"
	"time"
)

// maxKeptOps is the capacity above which a drained batch slice is dropped
// instead of reused, so one burst does not pin its memory for ever.
const maxKeptOps = 1 << 16

// submit appends o to the pending batch and wakes the committer.
func (s *Bolt) submit(o op) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrClosed
	}
	idle := len(s.pending.ops) == 0 && len(s.pending.cbs) == 0
	s.pending.ops = append(s.pending.ops, o)
	if idle {
		s.wake.Signal()
	}
	s.mu.Unlock()
	return nil
}

// AfterDurable arranges for fn to run once every operation submitted
// before this call is committed to disk (fsynced unless Options.NoSync).
// Callbacks run on the committer goroutine, one at a time, in the order of
// the AfterDurable calls, after the commit that covers them. fn's argument
// is nil when the latest commit before it succeeded; otherwise it is that
// commit's error, and the operations of that commit are lost (see Err).
//
// fn must be quick and must not block on the store (it must not call Sync
// or Close, which wait for the committer); it may submit operations and
// call AfterDurable. After Close, fn(ErrClosed) is called at once on the
// caller's goroutine.
func (s *Bolt) AfterDurable(fn func(err error)) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		fn(ErrClosed)
		return
	}
	idle := len(s.pending.ops) == 0 && len(s.pending.cbs) == 0
	s.pending.cbs = append(s.pending.cbs, fn)
	if idle {
		s.wake.Signal()
	}
	s.mu.Unlock()
}

// Sync waits until every operation submitted before the call is on disk
// and returns the error of the commit that covered it (ErrClosed after
// Close). It must not be called from an AfterDurable callback.
func (s *Bolt) Sync() error {
	ch := make(chan error, 1)
	s.AfterDurable(func(err error) { ch <- err })
	return <-ch
}

// run is the committer: it takes the whole pending batch, commits it in
// one transaction and runs its callbacks, until Close has been called and
// nothing is pending. While a commit runs, new operations gather in the
// next batch, so the number of fsyncs adapts to the load without any
// artificial delay.
func (s *Bolt) run() {
	defer close(s.done)
	// A damaged page that Open could not see must fail a commit, not
	// crash the broker (see update).
	debug.SetPanicOnFault(true)
	var b batch
	for {
		s.mu.Lock()
		for len(s.pending.ops) == 0 && len(s.pending.cbs) == 0 && !s.closing {
			s.wake.Wait()
		}
		if len(s.pending.ops) == 0 && len(s.pending.cbs) == 0 {
			s.mu.Unlock()
			return
		}
		// Let submitters that are already runnable add their operations
		// first: this is not a timed delay (Gosched returns at once when
		// nothing else is runnable) but it makes batches larger when
		// callers and committer share few CPUs.
		s.mu.Unlock()
		runtime.Gosched()
		s.mu.Lock()
		b, s.pending = s.pending, b
		s.mu.Unlock()

		if len(b.ops) > 0 {
			s.cancelled.Add(uint64(b.cancelSaved(&s.delIdx)))
			s.lastErr = s.commit(b.ops)
		}
		for _, fn := range b.cbs {
			fn(s.lastErr)
		}
		b.reset()
	}
}

// msgKey names a session's message.
type msgKey struct {
	client string
	seq    uint64
}

// cancelSaved drops the saves of messages that the same batch deletes: a
// message its subscriber acknowledged before it reached the disk never
// needs to be written. The delete stays (an earlier commit may hold the
// message); when nothing else in the batch changes the file, the commit
// is skipped altogether (see update). dels is scratch, kept between
// batches. It returns the number of saves dropped.
func (b *batch) cancelSaved(dels *map[msgKey]int) int {
	if *dels == nil {
		*dels = make(map[msgKey]int)
	}
	m := *dels
	defer clear(m)
	for i := range b.ops {
		if o := &b.ops[i]; o.kind == opDelMsg {
			m[msgKey{o.client, o.num}] = i
		}
	}
	if len(m) == 0 {
		return 0
	}
	n := 0
	for i := range b.ops {
		o := &b.ops[i]
		if o.kind != opPutMsg {
			continue
		}
		if d, ok := m[msgKey{o.client, o.num}]; ok && d > i {
			*o = op{kind: opNone}
			n++
		}
	}
	return n
}

// commit applies ops in one bbolt transaction.
func (s *Bolt) commit(ops []op) error {
	start := time.Now()
	err := s.update(ops)
	if s.commitLatency != nil {
		s.commitLatency(time.Since(start))
	}
	s.commits.Add(1)
	if err != nil {
		s.failed.Add(1)
		s.firstErr.CompareAndSwap(nil, &err)
		s.logf("store: %s: commit of %d operations failed, they are lost: %v", s.path, len(ops), err)
		return err
	}
	s.ops.Add(uint64(len(ops)))
	return nil
}

// update runs the transaction. bbolt panics on a damaged page; the panic
// (or memory fault) becomes an error, and the store refuses every later
// commit rather than write more into a file it cannot trust.
func (s *Bolt) update(ops []op) (err error) {
	if s.broken != nil {
		return s.broken
	}
	defer func() {
		if r := recover(); r != nil {
			err = corrupt(s.path, "commit: %v", r)
			s.broken = err
		}
	}()
	tx, err := s.db.Begin(true)
	if err != nil {
		return err
	}
	changed, err := s.apply(tx, ops)
	if err == nil && s.testCommitHook != nil {
		err = s.testCommitHook()
	}
	if err != nil || !changed {
		// Nothing to write (every op was a delete of something not on
		// disk): the file is as durable as after the last commit, and
		// rolling back costs no fsync.
		rerr := tx.Rollback()
		if err == nil && rerr == nil {
			s.skipped.Add(1)
		}
		if err != nil {
			return err
		}
		return rerr
	}
	return tx.Commit()
}

// reset empties b for reuse, dropping references to encoded values and
// callbacks.
func (b *batch) reset() {
	if cap(b.ops) > maxKeptOps {
		b.ops = nil
	} else {
		clear(b.ops)
		b.ops = b.ops[:0]
	}
	if cap(b.cbs) > maxKeptOps {
		b.cbs = nil
	} else {
		clear(b.cbs)
		b.cbs = b.cbs[:0]
	}
}
