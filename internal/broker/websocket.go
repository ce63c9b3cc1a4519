package broker

import (
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mqkit/mqkit/internal/wsconn"
)

// MQTT over WebSocket (MQTT 5.0 section 6): binary frames only
// [MQTT-6.0.0-1], packets may span frames [MQTT-6.0.0-2], subprotocol
// "mqtt" [MQTT-6.0.0-4] (mosquitto also accepts "mqttv3.1").

// Memory per WebSocket connection: gorilla keeps a read buffer for as
// long as the connection lives, so it is small (frame headers and small
// frames; large payloads are read straight into the mqtt.Reader's
// buffer). The write buffer is taken from a pool for each message (one
// flush of the writer), so an idle connection holds none.
const (
	wsReadBufferSize  = 512
	wsWriteBufferSize = 4096
)

// wsWritePool holds the write buffers of all WebSocket connections
// (gorilla wants one pool per WriteBufferSize).
var wsWritePool sync.Pool

func (b *Broker) newWSServer(l *listener) *http.Server {
	up := &websocket.Upgrader{
		Subprotocols:    []string{"mqtt", "mqttv3.1"},
		CheckOrigin:     l.checkOrigin,
		ReadBufferSize:  wsReadBufferSize,
		WriteBufferSize: wsWriteBufferSize,
		WriteBufferPool: &wsWritePool,
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.cfg.WSPath != "" && r.URL.Path != l.cfg.WSPath {
			http.NotFound(w, r)
			return
		}
		// This request's own socket is still counted as pending.
		if max := l.cfg.MaxConnections; (max > 0 && l.active.Load()+l.pending.Load()-1 >= int64(max)) || b.connsFull() {
			http.Error(w, "too many connections", http.StatusServiceUnavailable)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return // Upgrade has replied with an HTTP error
		}
		_ = b.startConn(wsconn.New(ws, r.TLS, 100*time.Millisecond), l, peerAddr{})
	})
	// The HTTP phase is bounded like a CONNECT (issue 12 item 5): headers
	// within the connect timeout and wsMaxHeaderBytes, a socket left idle
	// after a refused request closed after the connect timeout, and the
	// sockets not yet upgraded count towards the connection limits
	// (ConnState; an upgraded one becomes a conn and counts there).
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: b.cfg.ConnectTimeout,
		IdleTimeout:       b.cfg.ConnectTimeout,
		MaxHeaderBytes:    wsMaxHeaderBytes,
		ConnState:         l.httpConnState,
		ErrorLog:          slog.NewLogLogger(b.cfg.Logger.Handler(), slog.LevelDebug),
	}
}

// wsMaxHeaderBytes bounds a WebSocket upgrade request's headers (net/http
// allows 1 MB by default); larger requests get 431.
const wsMaxHeaderBytes = 8 << 10

// httpConnState counts sockets in the HTTP phase and closes a new one
// when they and the connections fill MaxConnections (mosquitto's
// max_connections) or the broker's global limit.
func (l *listener) httpConnState(nc net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		n := l.pending.Add(1)
		max := l.cfg.MaxConnections
		if (max > 0 && l.active.Load()+n > int64(max)) || l.b.connsFullWith(n) {
			l.b.logc("Client connection from %s denied: max_connections exceeded.", nc.RemoteAddr())
			nc.Close()
		}
	case http.StateHijacked, http.StateClosed:
		l.pending.Add(-1)
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
