package broker

import (
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// FuzzWSDecode: the loop's WebSocket frame decoder (loop_ws.go) on any
// client input, fed in pieces of any size: it never panics, never keeps
// more than it was given, answers pings with their payload, and once it
// reports an error it is not fed again (as the loop does).
func FuzzWSDecode(f *testing.F) {
	// Seeds: client frames (FIN/opcode, MASK|length, mask key, masked
	// payload; see wsFrame in peer_wsframes_test.go).
	key := []byte{0x12, 0x34, 0x56, 0x78}
	frame := func(b0 byte, payload []byte) []byte {
		f := append([]byte{b0, 0x80 | byte(len(payload))}, key...)
		for i, c := range payload {
			f = append(f, c^key[i&3])
		}
		return f
	}
	f.Add(frame(0x82, []byte{0xc0, 0}), 1)                                    // binary: PINGREQ
	f.Add(append(frame(0x02, []byte("ab")), frame(0x80, []byte("cd"))...), 3) // fragmented
	f.Add(frame(0x89, []byte("hi")), 2)                                       // ping
	f.Add(append([]byte{0x82, 0xfe, 0x11, 0x70}, key...), 4096)               // 16-bit length, 4464 bytes missing
	f.Add([]byte{0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}, 5)          // 64-bit length
	f.Add(frame(0x81, []byte("text")), 7)                                     // text
	f.Add(frame(0x88, nil), 1)                                                // close
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
