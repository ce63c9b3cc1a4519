package broker

import (
	"testing"
	"unsafe"
)

// A conn is allocated per connection; at 240 bytes it fits Go's 240-byte
// size class (the next is 256). With the event loop (loop.go) a plain TCP
// connection has no goroutine, and this struct is the largest part of what
// an idle one costs (issue 17 budgets 0.7 KiB of RSS; see TestIdleSizes):
// a field added here should fill padding rather than push every
// connection up a class.
func TestConnSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 240 {
		t.Errorf("conn is %d bytes, above the 240-byte size class", n)
	}
}
