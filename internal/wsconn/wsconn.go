// Package wsconn adapts a gorilla WebSocket connection to net.Conn for MQTT
// over WebSockets (MQTT 5.0 section 6), for both the broker and the clients.
package wsconn

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"

	"github.com/gorilla/websocket"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// ErrNotBinary is returned by Read when the peer sends a text (non-binary)
// data frame: MQTT Control Packets MUST be sent in binary data frames, and
// a receiver closes the connection otherwise [MQTT-6.0.0-1].
var ErrNotBinary = &mqtt.Error{Code: mqtt.ProtocolError, Msg: "websocket: received a non-binary data frame"}

// Conn is a WebSocket as a net.Conn. Read concatenates binary messages,
// since an MQTT packet may span frames and a frame may hold several packets
// [MQTT-6.0.0-2]; each Write is one binary message. As gorilla requires,
// only one goroutine may write at a time.
type Conn struct {
	ws        *websocket.Conn
	r         io.Reader
	closeWait time.Duration
	// TLS is the TLS state under a secure WebSocket (server side, from the
	// HTTP request), nil otherwise.
	TLS *tls.ConnectionState
}

// New wraps ws. closeWait bounds the close frame Close sends.
func New(ws *websocket.Conn, state *tls.ConnectionState, closeWait time.Duration) *Conn {
	return &Conn{ws: ws, TLS: state, closeWait: closeWait}
}

// WebSocket returns the underlying connection.
func (c *Conn) WebSocket() *websocket.Conn { return c.ws }

// Read reads MQTT bytes from binary messages. A normal close frame reads as
// io.EOF.
func (c *Conn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			mt, r, err := c.ws.NextReader()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) && ce.Code == websocket.CloseNormalClosure {
					return 0, io.EOF
				}
				return 0, err
			}
			if mt != websocket.BinaryMessage {
				return 0, ErrNotBinary
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if err == io.EOF {
			c.r = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

// Write sends p as one binary message.
func (c *Conn) Write(p []byte) (int, error) {
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close sends a close frame (best effort, bounded by closeWait) and closes
// the socket.
func (c *Conn) Close() error {
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.closeWait))
	return c.ws.Close()
}

func (c *Conn) LocalAddr() net.Addr  { return c.ws.LocalAddr() }
func (c *Conn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.ws.SetReadDeadline(t); err != nil {
		return err
	}
	return c.ws.SetWriteDeadline(t)
}

func (c *Conn) SetReadDeadline(t time.Time) error  { return c.ws.SetReadDeadline(t) }
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }
