package client

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// fakeConn is the server side of one test connection, driven by a script.
type fakeConn struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
	v    mqtt.Version
}

// startFake listens on 127.0.0.1:0 and runs script for the first
// connection. It returns the endpoint and a channel closed when the script
// returns.
func startFake(t *testing.T, script func(f *fakeConn)) (Endpoint, <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		script(&fakeConn{t: t, conn: conn, br: bufio.NewReader(conn), v: mqtt.V311})
	}()
	t.Cleanup(func() {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("fake server script did not finish")
		}
	})
	port := ln.Addr().(*net.TCPAddr).Port
	return Endpoint{Host: "127.0.0.1", Port: port}, done
}

// read returns the next packet, or nil after reporting an error.
func (f *fakeConn) read() mqtt.Packet {
	raw, err := readFrame(f.br, 0)
	if err != nil {
		f.t.Errorf("fake server read: %v", err)
		return nil
	}
	p, err := mqtt.Decode(raw, f.v)
	if err != nil {
		f.t.Errorf("fake server decode % x: %v", raw, err)
		return nil
	}
	if c, ok := p.(*mqtt.Connect); ok {
		f.v = c.Version
	}
	return p
}

// expectClose waits for the client to close the connection.
func (f *fakeConn) expectClose() {
	if raw, err := readFrame(f.br, 0); err == nil {
		f.t.Errorf("got % x, want the connection closed", raw)
	}
}

func (f *fakeConn) write(p mqtt.Packet) {
	raw, err := mqtt.Append(nil, p, f.v)
	if err != nil {
		f.t.Errorf("fake server encode %s: %v", p.Type(), err)
		return
	}
	if _, err := f.conn.Write(raw); err != nil {
		f.t.Errorf("fake server write: %v", err)
	}
}

// accept reads CONNECT and answers with ack (Success when nil).
func (f *fakeConn) accept(ack *mqtt.Connack) *mqtt.Connect {
	p := f.read()
	c, ok := p.(*mqtt.Connect)
	if !ok {
		f.t.Errorf("first packet is %v, want CONNECT", p)
		return nil
	}
	if ack == nil {
		ack = &mqtt.Connack{}
	}
	f.write(ack)
	return c
}

// expect reads a packet and checks its type.
func (f *fakeConn) expect(want mqtt.PacketType) mqtt.Packet {
	p := f.read()
	if p == nil {
		return nil
	}
	if p.Type() != want {
		f.t.Errorf("fake server got %s, want %s", mqtt.Describe(p), want)
	}
	return p
}

// testConnect connects a client to ep with version v and the given options
// tweaks, failing the test on error, and closes it at the end.
func testConnect(t *testing.T, ep Endpoint, v mqtt.Version, tweak func(o *Options)) *Client {
	t.Helper()
	o := Options{Endpoint: ep, Connect: mqtt.Connect{Version: v, ClientID: "test-" + strconv.Itoa(int(v)), CleanStart: true}}
	if tweak != nil {
		tweak(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Connect(ctx, o)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitDone waits for ch with a deadline.
func waitDone(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}
