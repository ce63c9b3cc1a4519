package broker

import (
	"testing"
	"unsafe"
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
		{"conn", unsafe.Sizeof(conn{}), 224, 240},
		{"ClientInfo", unsafe.Sizeof(ClientInfo{}), 80, 96},
		{"session", unsafe.Sizeof(session{}), 128, 144},
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
