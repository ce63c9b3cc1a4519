package bridge

import (
	"sync"
	"time"
)

// State is where a bridge is in its life.
type State int

const (
	// Starting: Run has not begun, or the local connection is being made.
	Starting State = iota
	// Waiting (lazy): connected locally, waiting for Threshold messages.
	Waiting
	// Connecting: trying the remote addresses.
	Connecting
	// Connected to a remote broker (Status.Address).
	Connected
	// Backoff: the last attempt failed or the connection was lost; the
	// next attempt is at Status.Retry.
	Backoff
	// Stopped: Run returned (shut down, or start_type once gave up).
	Stopped
)

func (s State) String() string {
	return [...]string{"starting", "waiting", "connecting", "connected", "backoff", "stopped"}[s]
}

// Status is a snapshot of a bridge's connection state, for monitoring.
type Status struct {
	Name     string
	State    State
	Address  string    // the remote address in use (Connected) or tried last
	Since    time.Time // when State was entered
	Retry    time.Time // Backoff: when the next attempt starts
	LastErr  string    // the last connection failure, "" if none yet
	Attempts int       // connection attempts (one per address tried)
	Connects int       // connections accepted by a remote broker
	Queued   int       // local messages waiting for the remote side (the bridge's lag)
	// Connected: the remote broker accepted the connection and it is up.
	Connected bool
	// Dropped counts QoS 0 messages dropped because the queue was full.
	Dropped int
}

// status holds a Bridge's Status, updated by Run and read by Status.
type status struct {
	mu sync.Mutex
	s  Status
}

func (st *status) update(f func(s *Status)) {
	st.mu.Lock()
	f(&st.s)
	st.mu.Unlock()
}

// Status returns the bridge's current state.
func (b *Bridge) Status() Status {
	b.st.mu.Lock()
	s := b.st.s
	b.st.mu.Unlock()
	s.Name = b.opts.Name
	s.Queued = b.out.len()
	s.Connected = b.up.Load()
	b.out.mu.Lock()
	s.Dropped = b.out.dropped
	b.out.mu.Unlock()
	return s
}

// setState records a state change; the caller logs it (one line each).
func (b *Bridge) setState(state State, addr string) {
	b.st.update(func(s *Status) {
		s.State, s.Since = state, time.Now()
		if addr != "" {
			s.Address = addr
		}
		if state != Backoff {
			s.Retry = time.Time{}
		}
	})
}
