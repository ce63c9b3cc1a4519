package broker

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// MQTT over WebSocket (MQTT 5.0 section 6): binary frames only
// [MQTT-6.0.0-1], packets may span frames [MQTT-6.0.0-2], subprotocol
// "mqtt" [MQTT-6.0.0-4] (mosquitto also accepts "mqttv3.1").

// errWSNotBinary closes a connection that sent a text frame.
var errWSNotBinary = &mqtt.Error{Code: mqtt.ProtocolError, Msg: "websocket: non-binary frame"}

func (b *Broker) newWSServer(l *listener) *http.Server {
	up := &websocket.Upgrader{
		Subprotocols:    []string{"mqtt", "mqttv3.1"},
		CheckOrigin:     l.checkOrigin,
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.cfg.WSPath != "" && r.URL.Path != l.cfg.WSPath {
			http.NotFound(w, r)
			return
		}
		if max := l.cfg.MaxConnections; max > 0 && l.active.Load() >= int64(max) {
			http.Error(w, "too many connections", http.StatusServiceUnavailable)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return // Upgrade has replied with an HTTP error
		}
		_ = b.startConn(&wsConn{ws: ws, tls: r.TLS}, l)
	})
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: b.cfg.ConnectTimeout,
		ErrorLog:          slog.NewLogLogger(b.cfg.Logger.Handler(), slog.LevelDebug),
	}
}

// checkOrigin allows the listed origins ("*" = any); with no list, only
// requests without Origin or from the same host (gorilla's default rule).
func (l *listener) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if len(l.cfg.WSOrigins) == 0 {
		if origin == "" {
			return true
		}
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
	return slices.Contains(l.cfg.WSOrigins, "*") || slices.Contains(l.cfg.WSOrigins, origin)
}

// wsConn adapts a WebSocket connection to net.Conn. Reads concatenate
// binary messages; each Write (one flush of the writer's buffer) is one
// binary message.
type wsConn struct {
	ws  *websocket.Conn
	r   io.Reader
	tls *tls.ConnectionState
}

func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			mt, r, err := c.ws.NextReader()
			if err != nil {
				return 0, err
			}
			if mt != websocket.BinaryMessage {
				return 0, errWSNotBinary
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

func (c *wsConn) Write(p []byte) (int, error) {
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *wsConn) Close() error {
	_ = c.ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(100*time.Millisecond))
	return c.ws.Close()
}

func (c *wsConn) LocalAddr() net.Addr  { return c.ws.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

func (c *wsConn) SetDeadline(t time.Time) error {
	if err := c.ws.SetReadDeadline(t); err != nil {
		return err
	}
	return c.ws.SetWriteDeadline(t)
}

func (c *wsConn) SetReadDeadline(t time.Time) error  { return c.ws.SetReadDeadline(t) }
func (c *wsConn) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }
