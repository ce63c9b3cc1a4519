package broker

import (
	"sync"
	"testing"
)

// Each flag is set, cleared and read alone, and goroutines that change
// different flags at once lose none of each other's changes (connFlags
// replaced five atomic.Bool, issue 17).
func TestConnFlagsIndependent(t *testing.T) {
	all := []uint32{flagOnLoop, flagConnected, flagClosing, flagResumed, flagWriting}
	var f connFlags
	for _, flag := range all {
		f.set(flag)
		for _, other := range all {
			if got, want := f.has(other), other == flag; got != want {
				t.Errorf("after set(%#x): has(%#x) = %v, want %v", flag, other, got, want)
			}
		}
		f.clear(flag)
		if f.v.Load() != 0 {
			t.Fatalf("after clear(%#x): word %#x, want 0", flag, f.v.Load())
		}
	}
	f.put(flagResumed, true)
	f.put(flagResumed, false)
	if f.has(flagResumed) {
		t.Error("put(false) left the flag set")
	}

	// Concurrent: each goroutine toggles its own flag 10,000 times and
	// ends with it set; a lost update would leave one clear.
	var wg sync.WaitGroup
	for _, flag := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10000 {
				f.set(flag)
				f.clear(flag)
			}
			f.set(flag)
		}()
	}
	wg.Wait()
	for _, flag := range all {
		if !f.has(flag) {
			t.Errorf("flag %#x lost while others changed", flag)
		}
	}
}

// testAndSet is CompareAndSwap(false, true): of goroutines racing for a
// clear flag exactly one wins (the write job's kick relies on it).
func TestConnFlagsTestAndSetOneWinner(t *testing.T) {
	for range 200 {
		var f connFlags
		f.set(flagConnected) // another flag set: must not matter
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if f.testAndSet(flagWriting) {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d goroutines set a clear flag, want 1", wins)
		}
		if f.testAndSet(flagWriting) {
			t.Fatal("testAndSet of a set flag reported it clear")
		}
		if !f.has(flagConnected) {
			t.Fatal("testAndSet cleared another flag")
		}
	}
}
