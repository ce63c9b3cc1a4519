package broker

import (
	"bytes"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// wsFrame is a client frame (RFC 6455 section 5.2): FIN, opcode, masked
// with a fixed key unless unmasked.
func wsFrame(fin bool, op byte, payload []byte, unmasked bool) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	mask := byte(0x80)
	if unmasked {
		mask = 0
	}
	switch n := len(payload); {
	case n < 126:
		f = append(f, mask|byte(n))
	case n < 1<<16:
		f = append(f, mask|126, byte(n>>8), byte(n))
	default:
		f = append(f, mask|127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	if unmasked {
		return append(f, payload...)
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	f = append(f, key[:]...)
	for i, c := range payload {
		f = append(f, c^key[i&3])
	}
	return f
}

// TestLoopWebSocketFrames: the event loop's frame decoder (loop_ws.go)
// against raw client frames written a byte at a time: a CONNECT split
// over a fragmented message, two packets in one frame, a packet across
// frames, a large frame (16-bit and 64-bit lengths), a ping between data
// frames (answered with a pong carrying its payload); then a text frame
// [MQTT-6.0.0-1] and an unmasked frame (RFC 6455 5.1) each close the
// connection.
func TestLoopWebSocketFrames(t *testing.T) {
	b, _ := newTestBroker(t, Options{Listeners: []ListenerConfig{{Name: "ws", Addr: "127.0.0.1:0", WebSocket: true, WSPath: "/mqtt"}}})
	url := "ws://" + b.Addr("ws").String() + "/mqtt"
	dial := func(t *testing.T) *websocket.Conn {
		d := websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: testTimeout}
		ws, _, err := d.Dial(url, http.Header{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		return ws
	}
	write := func(t *testing.T, ws *websocket.Conn, frames ...[]byte) {
		t.Helper()
		nc := ws.UnderlyingConn()
		_ = nc.SetWriteDeadline(time.Now().Add(testTimeout))
		for _, f := range frames {
			for i := range f { // a byte at a time: partial headers and payloads
				if _, err := nc.Write(f[i : i+1]); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// read returns the MQTT bytes of the next binary messages until n bytes came.
	read := func(t *testing.T, ws *websocket.Conn, n int) []byte {
		t.Helper()
		var got []byte
		_ = ws.SetReadDeadline(time.Now().Add(testTimeout))
		for len(got) < n {
			typ, p, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("after % x: %v", got, err)
			}
			if typ != websocket.BinaryMessage {
				t.Fatalf("message type %d", typ)
			}
			got = append(got, p...)
		}
		return got
	}
	connect, _ := mqtt.Append(nil, connectPacket(mqtt.V311, "ws-frames", true), mqtt.V311)
	connack := []byte{0x20, 2, 0, 0}
	ping := []byte{0xc0, 0}
	pong := []byte{0xd0, 0}

	t.Run("data", func(t *testing.T) {
		ws := dial(t)
		pongs := make(chan string, 1)
		ws.SetPongHandler(func(s string) error { pongs <- s; return nil })
		h := len(connect) / 2
		write(t, ws, wsFrame(false, 2, connect[:h], false), wsFrame(true, 0, connect[h:], false))
		if got := read(t, ws, 4); !bytes.Equal(got, connack) {
			t.Fatalf("CONNACK: % x", got)
		}
		write(t, ws, wsFrame(true, 2, append(append([]byte{}, ping...), ping...), false))
		if got := read(t, ws, 4); !bytes.Equal(got, append(append([]byte{}, pong...), pong...)) {
			t.Fatalf("two PINGRESPs: % x", got)
		}
		write(t, ws, wsFrame(true, 2, ping[:1], false), wsFrame(true, 9, []byte("hi"), false),
			wsFrame(true, 2, ping[1:], false))
		if got := read(t, ws, 2); !bytes.Equal(got, pong) {
			t.Fatalf("PINGRESP across frames: % x", got)
		}
		// The pong handler runs while the client reads: round trips until
		// it came (the pong is written concurrently with the PINGRESP).
		deadline := time.Now().Add(testTimeout)
	waitPong:
		for {
			select {
			case s := <-pongs:
				if s != "hi" {
					t.Fatalf("pong %q", s)
				}
				break waitPong
			default:
			}
			if time.Now().After(deadline) {
				t.Fatal("no pong")
			}
			write(t, ws, wsFrame(true, 2, ping, false))
			read(t, ws, 2)
		}
		for _, n := range []int{300, 70000} { // 16- and 64-bit frame lengths
			pub, _ := mqtt.Append(nil, &mqtt.Publish{Topic: "ws/big", Payload: make([]byte, n), QoS: 1, PacketID: 9}, mqtt.V311)
			f := wsFrame(true, 2, append(pub, ping...), false)
			nc := ws.UnderlyingConn()
			if _, err := nc.Write(f); err != nil {
				t.Fatal(err)
			}
			if got := read(t, ws, 6); !bytes.Equal(got, []byte{0x40, 2, 0, 9, 0xd0, 0}) {
				t.Fatalf("PUBACK+PINGRESP after a %d-byte payload: % x", n, got)
			}
		}
	})
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"text", wsFrame(true, 1, ping, false)},
		{"unmasked", wsFrame(true, 2, ping, true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := dial(t)
			write(t, ws, wsFrame(true, 2, connect, false))
			read(t, ws, 4)
			write(t, ws, tc.frame)
			_ = ws.SetReadDeadline(time.Now().Add(testTimeout))
			for {
				_, p, err := ws.ReadMessage()
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatalf("%s frame: connection still open", tc.name)
				}
				if err != nil {
					break // closed, as it must be
				}
				if bytes.Equal(p, pong) {
					t.Fatalf("%s frame answered instead of closing the connection", tc.name)
				}
			}
		})
	}
}

// FuzzWSDecode: the loop's WebSocket frame decoder (loop_ws.go) on any
// client input, fed in pieces of any size: it never panics, never keeps
// more than it was given, answers pings with their payload, and once it
// reports an error it is not fed again (as the loop does).
func FuzzWSDecode(f *testing.F) {
	f.Add(wsFrame(true, 2, []byte{0xc0, 0}, false), 1)
	f.Add(append(wsFrame(false, 2, []byte("ab"), false), wsFrame(true, 0, []byte("cd"), false)...), 3)
	f.Add(wsFrame(true, 9, []byte("hi"), false), 2)
	f.Add(wsFrame(true, 2, make([]byte, 70000), false), 4096)
	f.Add([]byte{0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}, 5)
	f.Add(wsFrame(true, 1, []byte("text"), false), 7)
	f.Add(wsFrame(true, 8, nil, false), 1)
	f.Fuzz(func(t *testing.T, in []byte, piece int) {
		var pongs [][]byte
		w := &wsIn{pong: func(d []byte) { pongs = append(pongs, d) }}
		fr := mqtt.NewFramer(0)
		step := 1 + (piece&0xffff)%1024
		var pending []byte
		for len(in) > 0 || len(pending) > 0 {
			chunk := pending
			if len(chunk) == 0 {
				n := min(step, len(in))
				chunk, in = in[:n], in[n:]
			}
			rest, err := w.decode(chunk, fr)
			if len(rest) > len(chunk) {
				t.Fatalf("kept %d bytes of %d", len(rest), len(chunk))
			}
			if err != nil {
				return
			}
			if len(rest) > 0 {
				// The Framer is full: take its packets out (or give up on a
				// framing error, as the loop ends the connection).
				for {
					p, err := fr.Next()
					if err != nil {
						return
					}
					if p == nil {
						break
					}
				}
				fr.Release()
				if len(rest) == len(chunk) && len(fr.Space()) == 0 {
					return // a framing error waits in the Framer
				}
			}
			pending = rest
		}
		for _, p := range pongs {
			if len(p) > 125 {
				t.Fatalf("pong of %d bytes", len(p))
			}
		}
	})
}
