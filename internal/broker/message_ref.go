package broker

import (
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"
)

// Reusable messages. A small PUBLISH's message and body share one
// allocation (pubAlloc, taken by the event loop's Framer: loop_linux.go
// nextPacket). Instead of leaving it to the garbage collector, the broker
// counts who holds it and puts it back in pubPool when the last holder
// lets go, so a message routed and written at once costs no allocation:
// at a million messages a second the collector and the scavenger no
// longer turn the heap over every few milliseconds (PERFORMANCE.md).
//
// The holders, each taking a reference (hold) and giving it back
// (release) exactly once:
//   - handlePublish, from the message's creation to its return;
//   - a connection's outbound queue item (conn_write.go push), until the
//     writer has encoded it (drain);
//   - a session's outMsg (newOutMsg), until it is acknowledged (putOutMsg);
//   - an Observer that keeps it (Message.Hold; the web view's topic tree
//     holds a long last value, and copies a short one).
//
// What keeps a message for an unknown time pins it instead (pin): it is
// then never reused and the collector frees it as before. The retained
// tree does (its copy shares the body, and so may a Store's copy of it).
// A Store may keep a session message's StoredMessage, payload included,
// without copying it (MemoryStore does; Bolt encodes it during the
// call): the message is held by its outMsg until acknowledged, and the
// broker deletes it from the store then (session.complete), so nothing
// reads a stored payload after its release. An ended session's outMsgs
// are dropped, not released: their messages, which a shared
// subscription's orphans still use (redeliverShared), keep their
// references and are left to the collector too.
//
// A holder that forgets to release only costs the reuse (the collector
// frees the message); one that reads a message it does not hold reads
// another message's bytes. Under test the released memory is poisoned
// so that such a read shows (poisonReleased). Nothing may tell messages
// apart by address either: the same few come back (the latency
// histogram samples by the loop's count, metricsState.stampKey).
//
// Anything kept from a message must therefore be copied unless its
// holder is listed above: topic strings point into the body (the
// outbound alias map, the web tree's keys and the flow view's events
// clone them).

// pubAlloc is a message and the body of the PUBLISH it came from in one
// allocation: the loop's Framer takes a small PUBLISH body from it
// (nextPacket) and handlePublish takes the message (takeMessage), so a
// routed PUBLISH costs one allocation, not two, and none when the
// message is reused.
type pubAlloc struct {
	m   message // first: a pooled message's address is its pubAlloc's
	buf [pubInline]byte
}

// pubInline is the largest PUBLISH body (topic, packet id, properties,
// payload) kept with its message: 240 bytes in all, a size class.
const pubInline = 112

// pubPool holds the pubAllocs no message uses.
var pubPool = sync.Pool{New: func() any { return new(pubAlloc) }}

// message.refs: the count of holders of a pooled message, with flags.
const (
	refPooled = 1 << 29 // from pubPool: back to it when the count drops to zero
	refPinned = 1 << 28 // kept for good: never back to the pool
)

// poisonReleased fills a released message's body with poisonByte and
// clears its fields, so that a holder that did not hold it reads
// garbage in tests instead of, at random, the next message.
var poisonReleased = testing.Testing()

const poisonByte = 0xA5

// poison is what a released body is filled with under test.
var poison = func() (p [pubInline]byte) {
	for i := range p {
		p[i] = poisonByte
	}
	return p
}()

// recycledForTest counts the messages put back in pubPool (under test).
var recycledForTest atomic.Int64

// setPooled makes m, the message of a pubAlloc, reusable, with one
// holder: the caller (handlePublish), which releases it.
func (m *message) setPooled() { atomic.StoreInt32(&m.refs, refPooled|1) }

// pooled reports whether m goes back to pubPool when released.
func (m *message) pooled() bool { return atomic.LoadInt32(&m.refs)&refPooled != 0 }

// hold takes a reference to m (released by release).
func (m *message) hold() {
	if m.pooled() {
		atomic.AddInt32(&m.refs, 1)
	}
}

// release gives back a reference taken by hold (or setPooled); the last
// one puts m's pubAlloc back in pubPool.
func (m *message) release() {
	if !m.pooled() {
		return
	}
	if atomic.AddInt32(&m.refs, -1) != refPooled {
		return
	}
	pa := (*pubAlloc)(unsafe.Pointer(m))
	pa.m = message{}
	if poisonReleased {
		pa.buf = poison // one copy: cheap under the race detector too
		recycledForTest.Add(1)
	}
	pubPool.Put(pa)
}

// pin keeps m from ever being reused: something keeps it, or its body,
// for an unknown time.
func (m *message) pin() {
	if m.pooled() {
		atomic.OrInt32(&m.refs, refPinned)
	}
}

// unpooled is a copy of m that is not counted (the retained tree's):
// it shares m's body, so m must be pinned.
func (m *message) unpooled() message {
	r := *m
	r.refs = 0
	return r
}
