package broker

import (
	"net"
	"sync"
	"testing"
	"unsafe"
)

// A conn is allocated per connection; at 192 bytes it fits Go's 192-byte
// size class (the next is 208), its socket (fdConn) included. With the
// event loop (loop.go) a plain TCP connection has no goroutine, and this
// struct is the largest part of what an idle one costs (issue 17 budgets
// 0.7 KiB of RSS; see TestIdleSizes): a field added here should fill
// padding rather than push every connection up a class.
func TestConnSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 192 {
		t.Errorf("conn is %d bytes, above the 192-byte size class", n)
	}
}

// close runs once, and as with the sync.Once it replaced (closeState,
// issue 17) every caller returns only once that close is complete: the
// connection is closing, with the first caller's reason.
func TestCloseOnceConcurrent(t *testing.T) {
	b, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { close(b.done) })
	for range 50 {
		srv, cli := net.Pipe()
		c := newConn(b, srv, &listener{}, peerAddr{})
		reasons := []CloseReason{CloseSlowConsumer, CloseWriteError, CloseShutdown, CloseTakenOver}
		var wg sync.WaitGroup
		start := make(chan struct{})
		seen := make([]uint8, len(reasons))
		for i, r := range reasons {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				c.close(r, 0)
				if !c.isClosing() || c.closeState.Load() != closeDone {
					t.Errorf("close(%v) returned before the close was complete", r)
				}
				seen[i] = c.reason
			}()
		}
		close(start)
		wg.Wait()
		for i := range seen {
			if seen[i] != seen[0] {
				t.Fatalf("callers saw reasons %v: close ran more than once", seen)
			}
		}
		srv.Close()
		cli.Close()
	}
}
