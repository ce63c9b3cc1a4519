// Package web is mqbroker's HTTP side (the "protocol http" listener, an
// mqbroker extension): a live web view of the broker at /, Prometheus
// metrics at /metrics, and /healthz and /readyz for probes.
//
// The HTTP side has the same discipline as the MQTT side: bounded
// headers and bodies, timeouts, a connection limit per listener, a login
// (HTTP basic authentication against the broker's users) on listeners
// reachable from other machines, no payload ever rendered as HTML (the
// page builds the DOM with textContent only, under a Content Security
// Policy without inline scripts), and a publish endpoint that is off
// unless allowed and refuses cross-site requests.
package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mqkit/mqkit/internal/bridge"
	"github.com/mqkit/mqkit/internal/broker"
)

// Listener is one HTTP listener.
type Listener struct {
	Name string
	Addr string      // host:port to bind; port 0 picks one
	TLS  *tls.Config // HTTPS when set
	// RequireLogin asks for a user name and password (HTTP basic
	// authentication, checked by Options.Login) on everything but
	// /healthz and /readyz. Set it on listeners reachable from other
	// machines.
	RequireLogin bool
	// Login checks the user name and password for this listener; nil =
	// Options.Login.
	Login func(user, password string) bool
}

// Options configures a Server.
type Options struct {
	Broker    *broker.Broker
	Listeners []Listener
	// AllowPublish turns on the publish form (http_allow_publish).
	AllowPublish bool
	// Login checks a user name and password; needed when a listener
	// requires a login (nil refuses everyone there).
	Login func(user, password string) bool
	// MayPublish decides whether user ("" without a login) may publish to
	// topic from the web view (the broker's ACL); nil allows every topic.
	MayPublish func(user, topic string) bool
	// Bridges returns the bridges' state for /metrics; nil = none.
	Bridges func() []bridge.Status
	// StoreCommit is the store's commit latency histogram; nil = no
	// persistence.
	StoreCommit *broker.Histogram
	Logger      *slog.Logger
	// MaxConnections caps the connections of each listener; 0 = 64.
	// Connections beyond it are closed at once.
	MaxConnections int
	// MaxStreams caps the live streams (/api/live, /api/flow) of the
	// whole server; 0 = 32.
	MaxStreams int
	// LatencySample measures the publish-to-deliver latency of one
	// received message in LatencySample (broker.EnableLatency); 0 = 16.
	LatencySample int
	// LatencyPerSecond caps the latency measurements a second: every 200
	// ms the interval is raised above LatencySample when more than
	// LatencyPerSecond messages a second were received or sent
	// (a sampled message costs two clock readings and a histogram update
	// per delivery); 0 = 1,000, < 0 = no cap.
	LatencyPerSecond int
}

// Limits of the HTTP side.
const (
	maxHeaderBytes    = 16 << 10
	maxBodyBytes      = 256 << 10 // publish requests
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second // every response but the live streams
	idleTimeout       = 60 * time.Second
	historyLen        = 600 // one sample a second: ten minutes of rate charts
)

// Server serves the web view, /metrics, /healthz and /readyz.
type Server struct {
	opts    Options
	log     *slog.Logger
	tree    *tree
	flows   *flowHub
	reg     *prometheus.Registry
	start   time.Time
	streams atomic.Int64
	treeGen atomic.Int64 // bumped by the sampler each second messages arrived

	mu      sync.Mutex
	hist    []sample
	servers []*http.Server
	lns     []net.Listener
	names   []string
	done    chan struct{}
	wg      sync.WaitGroup
	closed  bool
}

// sample is one second of the rate charts.
type sample struct {
	T     int64   `json:"t"`     // Unix ms
	In    float64 `json:"in"`    // PUBLISH received per second
	Out   float64 `json:"out"`   // PUBLISH sent per second
	Conns int64   `json:"conns"` // clients connected
}

// New returns a server for opts.Broker and installs its observer on the
// broker; call it before the broker starts so that no message is missed.
func New(opts Options) (*Server, error) {
	if opts.Broker == nil {
		return nil, errors.New("web: no broker")
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = 64
	}
	if opts.MaxStreams <= 0 {
		opts.MaxStreams = 32
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.LatencySample <= 0 {
		opts.LatencySample = 16
	}
	if opts.LatencyPerSecond == 0 {
		opts.LatencyPerSecond = 1000
	}
	s := &Server{opts: opts, log: log, tree: newTree(), flows: newFlowHub(opts.Broker), start: time.Now(),
		done: make(chan struct{})}
	s.reg = newRegistry(s)
	opts.Broker.SetObserver(observer{s})
	opts.Broker.EnableLatency(opts.LatencySample)
	return s, nil
}

type observer struct{ s *Server }

func (o observer) Message(m *broker.Message) { o.s.tree.add(m) }

// MessageCached is Message for a client's message: last is the client's
// cell (broker.TopicCacher), flushed by FlushCached.
func (o observer) MessageCached(m *broker.Message, last any) any {
	return o.s.tree.addCached(m, last)
}

func (o observer) FlushCached(last any) {
	if c, ok := last.(*pubCell); ok {
		o.s.tree.flushCell(c)
	}
}

func (o observer) Packet(ev broker.PacketEvent) { o.s.flows.packet(ev) }

// Start seeds the topic tree with the retained messages (call it after the
// broker has started: they are loaded then), binds every listener and
// serves them.
func (s *Server) Start() error {
	s.opts.Broker.RetainedMessages(func(m *broker.Message) bool {
		s.tree.setRetained(m)
		return true
	})
	h := s.handler()
	for _, l := range s.opts.Listeners {
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			s.Close()
			return fmt.Errorf("web: listener %s: %w", l.Addr, err)
		}
		var lh http.Handler = h
		if l.RequireLogin {
			login := l.Login
			if login == nil {
				login = s.opts.Login
			}
			lh = s.requireLogin(h, login)
		}
		srv := &http.Server{
			Handler:           lh,
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       readTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		}
		var sln net.Listener = &limitListener{Listener: ln, max: int64(s.opts.MaxConnections)}
		if l.TLS != nil {
			sln = tls.NewListener(sln, l.TLS)
		}
		s.mu.Lock()
		s.servers = append(s.servers, srv)
		s.lns = append(s.lns, ln)
		s.names = append(s.names, l.Name)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := srv.Serve(sln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("HTTP listener stopped", "addr", l.Addr, "err", err)
			}
		}()
	}
	s.wg.Add(2)
	go s.sampler()
	go s.clock()
	return nil
}

// Addr returns the bound address of the listener called name, or nil.
func (s *Server) Addr(name string) net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, n := range s.names {
		if n == name {
			return s.lns[i].Addr()
		}
	}
	return nil
}

// Close stops the listeners and the live streams at once.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	servers := s.servers
	s.mu.Unlock()
	for _, srv := range servers {
		srv.Close()
	}
	s.wg.Wait()
	s.opts.Broker.SetObserver(nil)
}

// Shutdown closes the server; it exists for symmetry with the broker.
func (s *Server) Shutdown(ctx context.Context) error {
	s.Close()
	return ctx.Err()
}

// latencyEvery is the latency sampling interval for a second in which
// in messages were received and out sent (per second): base, or more so
// that at most perSec of them are measured (perSec <= 0: base).
func latencyEvery(base, perSec int, in, out float64) int {
	if perSec <= 0 {
		return base
	}
	return max(base, int(math.Ceil(max(in, out)/float64(perSec))))
}

// sampler records one rate-chart sample a second.
func (s *Server) sampler() {
	defer s.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	b := s.opts.Broker
	in0, out0, _ := b.Rates()
	last := time.Now()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			if s.tree.changed.Swap(false) {
				s.treeGen.Add(1)
			}
			in, out, conns := b.Rates()
			dt := now.Sub(last).Seconds()
			smp := sample{T: now.UnixMilli(), In: float64(in-in0) / dt, Out: float64(out-out0) / dt, Conns: conns}
			in0, out0, last = in, out, now
			s.mu.Lock()
			if len(s.hist) >= historyLen {
				copy(s.hist, s.hist[1:])
				s.hist = s.hist[:historyLen-1]
			}
			s.hist = append(s.hist, smp)
			s.mu.Unlock()
		}
	}
}

// clock keeps the topic tree's coarse clock, and adapts the latency
// sampling interval to the message rate (LatencyPerSecond) every 200 ms,
// so that a burst is measured at the capped rate after a fraction of a
// second.
func (s *Server) clock() {
	defer s.wg.Done()
	const tick = 50 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	b := s.opts.Broker
	every := s.opts.LatencySample
	in0, out0, _ := b.Rates()
	last := time.Now()
	for n := 0; ; n++ {
		now := time.Now()
		s.tree.clock.Store(now.UnixNano())
		if n%4 == 3 {
			in, out, _ := b.Rates()
			dt := now.Sub(last).Seconds()
			if e := latencyEvery(s.opts.LatencySample, s.opts.LatencyPerSecond, float64(in-in0)/dt, float64(out-out0)/dt); e != every {
				every = e
				b.EnableLatency(e)
			}
			in0, out0, last = in, out, now
		}
		select {
		case <-s.done:
			return
		case <-t.C:
		}
	}
}

func (s *Server) history() []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sample{}, s.hist...) // [] in JSON, never null
}

// requireLogin wraps h with HTTP basic authentication, except for the
// probes.
func (s *Server) requireLogin(h http.Handler, login func(user, password string) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			h.ServeHTTP(w, r)
			return
		}
		user, pass, ok := r.BasicAuth()
		if !ok || login == nil || !login(user, pass) {
			if ok {
				s.log.Warn("web: login refused", "user", user, "remote", r.RemoteAddr)
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="mqbroker", charset="UTF-8"`)
			http.Error(w, "login required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, user)))
	})
}

type userKey struct{}

func userOf(r *http.Request) string {
	u, _ := r.Context().Value(userKey{}).(string)
	return u
}

// limitListener closes connections beyond max at once (a blocked Accept
// would let them pile up in the kernel's backlog).
type limitListener struct {
	net.Listener
	max    int64
	active atomic.Int64
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.active.Add(1) > l.max {
			l.active.Add(-1)
			c.Close()
			continue
		}
		return &limitConn{Conn: c, l: l}, nil
	}
}

type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitConn) Close() error {
	c.once.Do(func() { c.l.active.Add(-1) })
	return c.Conn.Close()
}
