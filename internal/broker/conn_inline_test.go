package broker

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (srv, cli net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	cli, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		cli.Close()
		t.Fatal(r.err)
	}
	t.Cleanup(func() { r.c.Close(); cli.Close() })
	return r.c, cli
}

// A read job's deferred flush never waits for the socket: with a peer
// that does not read, what the kernel does not take stays in the backlog
// for a write job, and the reader goes on at once. When the peer reads
// again, everything arrives, in order.
func TestInlineFlushNeverBlocks(t *testing.T) {
	b, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { close(b.done) })
	srv, cli := tcpPair(t)
	c := newConn(b, srv, &listener{}, peerAddr{})
	by := &conn{b: b, x: &connExtra{deferred: new([]*conn)}} // a read job
	// 64 KiB payloads until the socket buffers are certainly full: each
	// round is one deferred flush, which must return while nobody reads.
	payload := make([]byte, 64<<10)
	m := &message{topic: "t", payload: payload}
	const rounds = 200 // 12.5 MiB, far beyond loopback socket buffers
	done := make(chan int, 1)
	go func() {
		for i := range rounds {
			c.enqueueQoS0(m, false, nil, true, by)
			by.flushDeferred()
			if i == rounds-1 {
				done <- i
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(testTimeout):
		t.Fatal("an inline flush blocked on a peer that does not read")
	}
	// The peer reads: every message arrives whole and in order.
	cli.SetReadDeadline(time.Now().Add(testTimeout))
	r := mqtt.NewReader(cli, 0)
	for i := range rounds {
		pk, err := r.ReadPacket()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if p, ok := pk.(*mqtt.Publish); !ok || len(p.Payload) != len(payload) {
			t.Fatalf("message %d: got %v", i, pk)
		}
	}
	// Nothing more, and the writer is idle with no backlog.
	deadline := time.Now().Add(testTimeout)
	for c.flags.has(flagWriting) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	c.wmu.Lock()
	held := c.w.bw != nil
	c.wmu.Unlock()
	if c.flags.has(flagWriting) || held {
		t.Fatalf("writer still busy (%v) or still holding its buffer and backlog (%v)", c.flags.has(flagWriting), held)
	}
	cli.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := cli.Read(make([]byte, 1)); n != 0 || err == io.EOF {
		t.Fatalf("extra bytes after the last message (n=%d, err=%v)", n, err)
	}
}
