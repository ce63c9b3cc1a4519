package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// listener is one bound socket: raw MQTT (TCP, TLS, unix) or WebSocket.
type listener struct {
	b      *Broker
	cfg    ListenerConfig
	ln     net.Listener
	http   *http.Server // WebSocket listeners
	active atomic.Int64
	// pending counts a WebSocket listener's sockets still in the HTTP
	// phase (not upgraded): they count towards MaxConnections.
	pending atomic.Int64
	// acceptFile is a duplicate of a raw-accepting listener's descriptor
	// (serveRaw), closed with it.
	acceptFile atomic.Pointer[os.File]
	// where is shared by its clients' ClientInfo (nil: none).
	where *listenerInfo
}

// newListenerOf is a listener with cfg (not bound).
func newListenerOf(b *Broker, cfg ListenerConfig) *listener {
	return &listener{b: b, cfg: cfg, where: &listenerInfo{name: cfg.Name, mountPoint: cfg.MountPoint}}
}

func (l *listener) name() string {
	if l == nil {
		return ""
	}
	return l.cfg.Name
}

func (l *listener) kind() string {
	switch {
	case l.cfg.WebSocket && l.cfg.TLS != nil:
		return "wss"
	case l.cfg.WebSocket:
		return "ws"
	case l.cfg.TLS != nil:
		return "tls"
	}
	return l.cfg.Network
}

func (l *listener) addr() string { return l.ln.Addr().String() }

// proxyFirst reports whether the connections of l start with a PROXY
// header that their own job reads (raw MQTT listeners; a WebSocket
// listener reads it before the HTTP request, see proxyConn).
func (l *listener) proxyFirst() bool { return l.cfg.ProxyProtocol != 0 && !l.cfg.WebSocket }

// listen binds cfg.
func (b *Broker) listen(cfg *ListenerConfig) (*listener, error) {
	if cfg.Network == "unix" {
		removeStaleSocket(cfg.Addr)
	}
	ln, err := net.Listen(cfg.Network, cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("broker: listener %q: %w", cfg.Name, err)
	}
	l := newListenerOf(b, *cfg)
	l.ln = ln
	if cfg.WebSocket {
		l.http = b.newWSServer(l)
	}
	return l, nil
}

func (l *listener) close() {
	if l.http != nil {
		l.http.Close()
		return
	}
	l.ln.Close()
	if f := l.acceptFile.Swap(nil); f != nil {
		f.Close()
	}
}

// serve runs the accept loop of the listener.
func (l *listener) serve() {
	defer l.b.wg.Done()
	if l.http != nil {
		ln := l.ln
		if l.cfg.ProxyProtocol != 0 {
			ln = proxyListener{Listener: ln, l: l} // the header comes before TLS and HTTP
		}
		if l.cfg.TLS != nil {
			ln = tlsSourceListener{Listener: ln, cfg: l.cfg.TLS} // wss may join the loop (loop_ws.go)
		}
		err := l.http.Serve(ln)
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			l.b.cfg.Logger.Error("WebSocket listener stopped", "listener", l.cfg.Name, "err", err)
		}
		return
	}
	if l.rawAccept() && l.serveRaw() {
		return
	}
	var backoff time.Duration
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || !l.acceptFailed(err, &backoff) {
				return
			}
			continue
		}
		backoff = 0
		l.accept(nc, peerAddr{})
	}
}

// acceptFailed logs an accept error and backs off, as net/http does:
// temporary errors (EMFILE, ...) are retried. false: the broker shuts
// down.
func (l *listener) acceptFailed(err error, backoff *time.Duration) bool {
	if *backoff == 0 {
		*backoff = 5 * time.Millisecond
	} else {
		*backoff = min(2**backoff, time.Second)
	}
	l.b.cfg.Logger.Warn("accept error", "listener", l.cfg.Name, "err", err)
	select {
	case <-time.After(*backoff):
		return true
	case <-l.b.done:
		return false
	}
}

// rawAccept reports whether l's connections are accepted as bare
// descriptors for the event loop (fdconn_linux.go): plain TCP, no TLS,
// WebSocket or PROXY header, the loop not turned off.
func (l *listener) rawAccept() bool {
	switch l.cfg.Network {
	case "tcp", "tcp4", "tcp6":
	default:
		return false
	}
	return l.http == nil && l.cfg.TLS == nil && l.cfg.ProxyProtocol == 0 && !noEventLoop && !l.b.cfg.noEventLoop
}

// accept applies MaxConnections and TLS, then serves nc. A PROXY header
// is read later, by the connection's first job (readLoop), before the TLS
// handshake: a slow header does not hold up the accept loop.
//
// remote is the client's address when the caller has it (the loop's
// accept), the zero peerAddr to ask nc.
func (l *listener) accept(nc net.Conn, remote peerAddr) {
	if max := l.cfg.MaxConnections; max > 0 && l.active.Load() >= int64(max) {
		l.b.logc("Client connection from %s denied: max_connections exceeded.", nc.RemoteAddr())
		nc.Close()
		return
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if l.cfg.TLS != nil {
		if tc, ok := nc.(*net.TCPConn); ok && !l.proxyFirst() {
			nc = tls.Server(&tlsSource{TCPConn: tc}, l.cfg.TLS) // may join the loop (loop_tls.go)
		} else {
			nc = tls.Server(nc, l.cfg.TLS)
		}
	}
	_ = l.b.startConn(nc, l, remote)
}

// removeStaleSocket deletes a unix socket file that nobody accepts on
// (left by a broker that was killed), so that the listener can bind; the
// socket of a running broker is left alone and binding then fails. The
// socket is removed again when the listener closes (net.UnixListener).
func removeStaleSocket(path string) {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		return // absent, or not a socket: Listen reports it
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return
	}
	_ = os.Remove(path)
}
