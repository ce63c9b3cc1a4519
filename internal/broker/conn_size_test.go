package broker

import (
	"testing"
	"unsafe"
)

// A conn is allocated per connection; at 416 bytes it fits Go's 416-byte
// size class (the next is 448). Issue 7 budgets 6 KB of RSS per idle
// connection: a field added here should fill padding (see the layout
// comments in conn.go) rather than push every connection up a class.
func TestConnSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 416 {
		t.Errorf("conn is %d bytes, above the 416-byte size class", n)
	}
}
