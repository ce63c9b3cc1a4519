package broker

import (
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mqkit/mqkit/internal/mqtt"
	"github.com/mqkit/mqkit/internal/wsconn"
)

// WebSocket on the event loop. After the HTTP upgrade (net/http and
// gorilla, on the HTTP server's goroutine) nothing has been read past the
// request, so the loop reads the socket (through TLS for wss, loop_tls.go)
// and decodes the frames itself (RFC 6455 section 5): the payload of
// binary frames goes into the connection's Framer, since an MQTT packet
// may span frames and a frame may hold several packets [MQTT-6.0.0-2];
// a text frame closes the connection [MQTT-6.0.0-1]; a ping is answered
// with a pong, a close frame ends the connection (finish sends the close
// frame back). Writes go through gorilla as before (write jobs; pongs
// from a goroutine, gorilla's WriteControl may be called concurrently).

// wsIn is the loop's frame decoder for one WebSocket connection.
type wsIn struct {
	ws   *websocket.Conn
	pong func(data []byte) // answers a ping (off the loop)
	src  *tlsSource        // wss: the socket under TLS
	tc   *tls.Conn         // wss

	hdr  [14]byte
	nh   int    // header bytes gathered
	need uint64 // payload bytes left in the current frame
	mask [4]byte
	mpos int  // payload bytes of the current frame already unmasked, mod 4
	op   byte // opcode of the current frame
	ctl  []byte

	pending []byte // input not yet decoded (the Framer was full)
	err     error  // the input ended
	got     bool
}

// newWSIn returns a decoder for nc, or nil when the loop cannot read it
// (behind a PROXY header, or an unknown socket).
func newWSIn(nc *wsconn.Conn) *wsIn {
	ws := nc.WebSocket()
	w := &wsIn{ws: ws, pong: func(data []byte) {
		go func() { _ = ws.WriteControl(websocket.PongMessage, data, time.Now().Add(time.Second)) }()
	}}
	switch u := w.ws.UnderlyingConn().(type) {
	case *net.TCPConn:
		return w
	case *tls.Conn:
		if s, ok := u.NetConn().(*tlsSource); ok {
			w.src, w.tc = s, u
			return w
		}
	}
	return nil
}

// wsHeaderLen is the length of a frame header whose second byte is b1
// (client frames are masked: 4 more bytes; an unmasked one is refused as
// soon as its first two bytes are in).
func wsHeaderLen(b1 byte) int {
	if b1&0x80 == 0 {
		return 2
	}
	n := 2 + 4
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	return n
}

// decode decodes in into fr; it returns what it could not take because fr
// is full. w.got reports whether payload went into fr.
func (w *wsIn) decode(in []byte, fr *mqtt.Framer) ([]byte, error) {
	for len(in) > 0 {
		if w.nh < 2 || w.nh < wsHeaderLen(w.hdr[1]) {
			w.hdr[w.nh] = in[0]
			w.nh++
			in = in[1:]
			if w.nh < 2 || w.nh < wsHeaderLen(w.hdr[1]) {
				continue
			}
			if err := w.startFrame(); err != nil {
				return nil, err
			}
			if w.need == 0 {
				if err := w.endFrame(); err != nil {
					return nil, err
				}
			}
			continue
		}
		k := int(min(w.need, uint64(len(in))))
		if w.op >= 8 { // control frame: at most 125 bytes
			for i := 0; i < k; i++ {
				w.ctl = append(w.ctl, in[i]^w.mask[(w.mpos+i)&3])
			}
		} else {
			sp := fr.Space()
			if len(sp) == 0 {
				if fr.Err() != nil {
					return nil, nil // the Framer reports its error
				}
				return in, nil
			}
			k = min(k, len(sp))
			for i := 0; i < k; i++ {
				sp[i] = in[i] ^ w.mask[(w.mpos+i)&3]
			}
			fr.Commit(k)
			w.got = true
		}
		w.mpos = (w.mpos + k) & 3
		w.need -= uint64(k)
		in = in[k:]
		if w.need == 0 {
			if err := w.endFrame(); err != nil {
				return nil, err
			}
		}
	}
	return nil, nil
}

func (w *wsIn) startFrame() error {
	h := w.hdr[:w.nh]
	fin, rsv, op := h[0]&0x80 != 0, h[0]&0x70, h[0]&0x0f
	if h[1]&0x80 == 0 {
		return protocolErr(mqtt.ProtocolError, "websocket: unmasked client frame") // RFC 6455 5.1
	}
	if rsv != 0 {
		return protocolErr(mqtt.ProtocolError, "websocket: reserved bits set") // no extension negotiated
	}
	n := uint64(h[1] & 0x7f)
	m := 2
	switch n {
	case 126:
		n, m = uint64(binary.BigEndian.Uint16(h[2:])), 4
	case 127:
		n, m = binary.BigEndian.Uint64(h[2:]), 10
	}
	copy(w.mask[:], h[m:m+4])
	switch op {
	case websocket.BinaryMessage, 0: // binary, or its continuation
	case websocket.TextMessage:
		return wsconn.ErrNotBinary // [MQTT-6.0.0-1]
	case websocket.CloseMessage, websocket.PingMessage, websocket.PongMessage:
		if !fin || n > 125 {
			return protocolErr(mqtt.ProtocolError, "websocket: bad control frame") // RFC 6455 5.5
		}
		w.ctl = w.ctl[:0]
	default:
		return protocolErr(mqtt.ProtocolError, "websocket: unknown opcode %d", op)
	}
	w.op, w.need, w.mpos = op, n, 0
	return nil
}

// endFrame finishes the current frame: control frames take effect.
func (w *wsIn) endFrame() error {
	w.nh = 0
	switch w.op {
	case websocket.CloseMessage:
		return io.EOF // the client closed; finish answers with a close frame
	case websocket.PingMessage:
		w.pong(append([]byte(nil), w.ctl...))
	}
	return nil
}
