package broker

import (
	"testing"
	"unsafe"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// What an idle plain TCP connection on the event loop keeps (issue 17;
// PERFORMANCE.md "issue 17"): each struct at or below a Go size class. A
// field that pushes one over costs every idle connection the step to the
// next class (the figure in the message): fill padding, or put it where
// only busy connections pay for it.
func TestIdleSizes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		size, max uintptr
		next      int
	}{
		{"conn", unsafe.Sizeof(conn{}), 192, 208},
		{"ClientInfo", unsafe.Sizeof(ClientInfo{}), 80, 96},
		{"session", unsafe.Sizeof(session{}), 112, 128},
		{"fdConn", unsafe.Sizeof(fdConn{}), 16, 24},
	} {
		if tc.size > tc.max {
			t.Errorf("%s is %d bytes, above the %d-byte size class (next: %d)", tc.name, tc.size, tc.max, tc.next)
		}
	}
}

// conn keeps its CloseReason in a byte (conn.reason): every reason must
// fit.
func TestCloseReasonFitsByte(t *testing.T) {
	if n := len(closeNames); n > 256 {
		t.Errorf("%d close reasons do not fit conn.reason (uint8)", n)
	}
}

// sizeClass is the Go allocator's size class of an object of n bytes (up
// to 512; runtime/sizeclasses.go).
func sizeClass(n uintptr) uintptr {
	for _, c := range []uintptr{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 416, 448, 480, 512} {
		if n <= c {
			return c
		}
	}
	return n
}

// What a connection allocates while it connects and drops once it is
// idle (its outbound queue, its Framer) must not share a size class with
// what an idle connection keeps: those holes among the kept objects would
// stay resident (issue 17: outQueue shared ClientInfo's 80-byte class).
func TestIdleClassesApart(t *testing.T) {
	kept := map[uintptr]string{
		sizeClass(unsafe.Sizeof(conn{})):       "conn",
		sizeClass(unsafe.Sizeof(session{})):    "session",
		sizeClass(unsafe.Sizeof(ClientInfo{})): "ClientInfo",
	}
	for name, n := range map[string]uintptr{
		"outQueue":    unsafe.Sizeof(outQueue{}),
		"mqtt.Framer": unsafe.Sizeof(mqtt.Framer{}),
	} {
		if k, ok := kept[sizeClass(n)]; ok {
			t.Errorf("%s (%d bytes) shares the %d-byte size class with %s", name, n, sizeClass(n), k)
		}
	}
}

// A new outbound queue holds its first item without an array of its own.
func TestQueueFirstItemInline(t *testing.T) {
	c := &conn{}
	if n := testing.AllocsPerRun(100, func() {
		c.oq = nil
		q := c.queue()
		q.items = append(q.items, outItem{kind: itemPacket})
	}); n != 1 {
		t.Errorf("a new queue and its first item: %v allocations, want 1", n)
	}
}
