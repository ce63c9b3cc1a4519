package broker

import "sync/atomic"

// connFlags are a conn's atomic flags in one word: five atomic.Bool took
// 20 bytes of the conn, the difference between two size classes (issue
// 17: an idle connection's memory). Each operation is one atomic
// read-modify-write of the word, as sequentially consistent as the
// atomic.Bool it replaces; flags set or cleared by different goroutines
// at once do not lose each other.
type connFlags struct{ v atomic.Uint32 }

const (
	flagOnLoop    uint32 = 1 << iota // read by the event loop (close posts to it)
	flagConnected                    // CONNECT accepted (sessions.go connected)
	flagClosing                      // close has begun (isClosing)
	flagResumed                      // closed by a takeover that resumed the session
	flagWriting                      // a write job or an inline flush is due or running
)

// has reports whether flag is set.
func (f *connFlags) has(flag uint32) bool { return f.v.Load()&flag != 0 }

// set sets flag.
func (f *connFlags) set(flag uint32) { f.v.Or(flag) }

// clear clears flag.
func (f *connFlags) clear(flag uint32) { f.v.And(^flag) }

// put sets flag when on, else clears it.
func (f *connFlags) put(flag uint32, on bool) {
	if on {
		f.set(flag)
	} else {
		f.clear(flag)
	}
}

// testAndSet sets flag and reports whether it was clear: an
// atomic.Bool's CompareAndSwap(false, true).
func (f *connFlags) testAndSet(flag uint32) bool { return f.v.Or(flag)&flag == 0 }
