package broker

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// TestRepliesAtOnceNoLoop is TestPeerRepliesAtOnce (issue 11 item 10) on
// the input path of connections that the event loop does not read: plain
// TCP here (the path where replies are batched), with the loop off, as on
// systems without epoll.
func TestRepliesAtOnceNoLoop(t *testing.T) {
	_, addr := newTestBroker(t, Options{noEventLoop: true})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	expect := func(what string, want []byte) {
		t.Helper()
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		got := make([]byte, len(want))
		if _, err := io.ReadFull(nc, got); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: got % x, want % x", what, got, want)
		}
	}
	send := func(b ...byte) {
		t.Helper()
		if _, err := nc.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	send(0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 0) // CONNECT 3.1.1, empty id
	expect("CONNACK", []byte{0x20, 2, 0, 0})
	send(0xc0, 0, 0xc0) // PINGREQ, and a PINGREQ's first byte
	expect("PINGRESP to the complete PINGREQ", []byte{0xd0, 0})
	send(0)
	expect("PINGRESP to the second PINGREQ", []byte{0xd0, 0})
	send(0x32, 6, 0, 1, 't', 0, 7, 'x', 0xc0) // PUBLISH QoS 1 id 7, and a byte
	expect("PUBACK to the complete PUBLISH", []byte{0x40, 2, 0, 7})
	send(0)
	expect("PINGRESP after the PUBACK", []byte{0xd0, 0})
}

// TestKeepAliveNoLoop is TestBoundaryKeepAlive's idle client on the input
// path of connections the event loop does not read (conn.go's read
// deadline, not the loop's sweep): keep alive 2 s, closed 3 s after the
// CONNECT, not before and not at twice the keep alive [MQTT-3.1.2-24].
func TestKeepAliveNoLoop(t *testing.T) {
	_, addr := newTestBroker(t, Options{noEventLoop: true})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// CONNECT 3.1.1, clean session, keep alive 2 s, client id "ka".
	if _, err := nc.Write([]byte{0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 2, 0, 2, 'k', 'a'}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = nc.SetReadDeadline(start.Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, nc); err != nil { // CONNACK, then the close
		t.Fatalf("not closed within 5 s: %v", err)
	}
	const limit = 3 * time.Second
	if took := time.Since(start); took < limit-20*time.Millisecond || took > limit+800*time.Millisecond {
		t.Errorf("closed %v after CONNECT, want 3 s (keep alive 2 s)", took)
	}
}
