package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/mqkit/mqkit/internal/broker/topics"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// Broker is an MQTT 3.1 / 3.1.1 / 5.0 broker.
type Broker struct {
	cfg   *config
	store Store

	subs      *topics.Trie[*session]
	retained  *topics.Tree[*message]
	retainMu  sync.Mutex
	matchPool sync.Pool

	durable      DurableStore // store with deferred acks, or nil
	mu           sync.Mutex   // guards the fields below
	sessions     sessTable
	conns        connSet
	listeners    []*listener
	started      bool
	shuttingDown bool
	closedDone   bool

	wg       sync.WaitGroup // every goroutine the broker starts (but workers)
	workers  workerPool     // run connections' handlers and writes (workers.go)
	done     chan struct{}  // closed when Shutdown begins
	loop     *loop          // reads plain TCP connections (loop.go); nil: none
	loopOnce sync.Once
	stats    stats
	metrics  metricsState     // metrics.go
	observe  observeState     // observe.go
	now      func() time.Time // clock for message expiry (tests replace it)
	startAt  time.Time
	shutOnce sync.Once
}

// ErrServerClosed is returned by Start, Serve and ServeConn after
// Shutdown.
var ErrServerClosed = errors.New("broker: server closed")

// New validates opts and returns a broker that is not yet listening.
func New(opts Options) (*Broker, error) {
	cfg, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	b := &Broker{
		cfg:      cfg,
		store:    opts.Store,
		subs:     topics.New[*session](),
		retained: topics.NewTree[*message](),
		done:     make(chan struct{}),
		now:      time.Now,
	}
	if d, ok := b.store.(DurableStore); ok {
		b.durable = d
	}
	if b.store == nil {
		b.store = nopStore{}
	}
	// Shared subscriptions go to connected members first (MQTT 5.0
	// section 4.8.2); offline durable members get messages only when no
	// member of the group is connected.
	b.subs.SetPrefer(func(s *session) bool { return s.online.Load() })
	b.matchPool.New = func() any {
		s := make([]*subscription, 0, 16)
		return &s
	}
	return b, nil
}

// Start loads the store, binds every listener and starts serving. It
// returns once all listeners are bound (Addr is then valid).
func (b *Broker) Start() error {
	b.mu.Lock()
	if b.shuttingDown {
		b.mu.Unlock()
		return ErrServerClosed
	}
	if b.started {
		b.mu.Unlock()
		return errors.New("broker: already started")
	}
	b.started = true
	b.startAt = time.Now()
	b.mu.Unlock()

	if err := b.load(); err != nil {
		return fmt.Errorf("broker: loading store: %w", err)
	}
	var lns []*listener
	for i := range b.cfg.Listeners {
		l, err := b.listen(&b.cfg.Listeners[i])
		if err != nil {
			for _, l := range lns {
				l.close()
			}
			return err
		}
		lns = append(lns, l)
	}
	b.mu.Lock()
	if b.shuttingDown {
		b.mu.Unlock()
		for _, l := range lns {
			l.close()
		}
		return ErrServerClosed
	}
	b.listeners = lns
	for _, l := range lns {
		b.wg.Add(1)
		go l.serve()
		b.logc("Opening %s listen socket on %s.", l.kind(), l.addr())
	}
	if b.cfg.sysInterval > 0 {
		b.wg.Add(1)
		go b.sysLoop()
	}
	b.mu.Unlock()
	return nil
}

// Addr returns the bound address of the listener called name, or nil.
func (b *Broker) Addr(name string) net.Addr {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range b.listeners {
		if l.cfg.Name == name {
			return l.ln.Addr()
		}
	}
	return nil
}

// Serve starts the broker (unless already started), blocks until ctx is
// done, then shuts down gracefully (waiting at most 10 seconds).
func (b *Broker) Serve(ctx context.Context) error {
	b.mu.Lock()
	started := b.started
	b.mu.Unlock()
	if !started {
		if err := b.Start(); err != nil {
			return err
		}
	}
	select {
	case <-ctx.Done():
	case <-b.done:
		return ErrServerClosed
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return b.Shutdown(sctx)
}

// ServeConn serves one already established connection (for example a
// net.Pipe end, or a connection accepted elsewhere) as if accepted on a
// listener called listenerName. It returns at once; the connection is
// served until it ends or the broker shuts down.
func (b *Broker) ServeConn(nc net.Conn, listenerName string) error {
	return b.startConn(nc, newListenerOf(nil, ListenerConfig{Name: listenerName}), peerAddr{})
}

// ServeBridgeConn is ServeConn for the local side of one of the broker's
// own bridges (a mosquitto "connection"): as mosquitto's bridges, it may
// publish to $SYS and $share topics, which clients may not (dollar.go).
func (b *Broker) ServeBridgeConn(nc net.Conn, listenerName string) error {
	return b.startConn(nc, newListenerOf(nil, ListenerConfig{Name: listenerName, bridge: true}), peerAddr{})
}

// errTooManyConnections refuses a connection beyond Options.MaxConnections.
var errTooManyConnections = errors.New("broker: too many connections")

// startConn registers nc and starts its goroutines. A connection accepted
// on a listener is refused (closed) when the broker already has
// Options.MaxConnections connections (mosquitto's global_max_connections,
// which counts every network connection, also those of bridges; it is
// checked here, under the lock, so that listeners accepting at the same
// time cannot overshoot it).
//
// remote is the client's address, "" to ask nc.
func (b *Broker) startConn(nc net.Conn, l *listener, remote peerAddr) error {
	b.mu.Lock()
	if b.shuttingDown {
		b.mu.Unlock()
		nc.Close()
		return ErrServerClosed
	}
	if max := b.cfg.MaxConnections; max > 0 && l.ln != nil && b.conns.len() >= max {
		b.mu.Unlock()
		b.metrics.refusedAccept.Add(1)
		b.logc("Client connection from %s denied: max_connections exceeded.", nc.RemoteAddr())
		nc.Close()
		return errTooManyConnections
	}
	c := newConn(b, nc, l, remote)
	b.metrics.sockets.Add(1)
	b.conns.add(c)
	b.wg.Add(1) // the connection's goroutine or, on the loop, its finish
	var lp *loop
	if c.loopable() {
		lp = b.startLoop()
	}
	b.mu.Unlock()
	l.active.Add(1)
	// With a PROXY header still to read, the client's address is not known
	// yet: readProxy logs the new connection.
	if b.cfg.ConnectionMessages && !l.proxyFirst() {
		c.logNewConnection()
	}
	if lp == nil || c.tlsSrc() != nil || !lp.add(c) {
		go c.serve() // TLS joins the loop after its handshake (readLoop)
	}
	return nil
}

// connsFull reports whether the broker has Options.MaxConnections
// connections (WebSocket listeners check it before the upgrade).
func (b *Broker) connsFull() bool {
	max := b.cfg.MaxConnections
	if max <= 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.conns.len() >= max
}

// connsFullWith reports whether n sockets not yet upgraded (a WebSocket
// listener's HTTP phase) and the connections exceed MaxConnections.
func (b *Broker) connsFullWith(n int64) bool {
	max := b.cfg.MaxConnections
	if max <= 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return int64(b.conns.len())+n > int64(max)
}

// logNewConnection logs mosquitto's "New connection from ADDR on port N."
func (c *conn) logNewConnection() {
	l := c.lis
	on := l.name()
	if l.ln != nil {
		if _, port, err := net.SplitHostPort(l.ln.Addr().String()); err == nil {
			on = "port " + port
		}
	}
	c.logc("New connection from %s on %s.", c.remote(), on)
}

// Shutdown stops accepting connections, publishes the wills of connected
// clients (a server-side close publishes the will, [MQTT-3.1.2-8]),
// disconnects everyone (v5 clients get DISCONNECT 0x8B Server shutting
// down), and waits until every goroutine has finished or ctx is done.
// Pending delayed wills are published too: they would be lost otherwise.
func (b *Broker) Shutdown(ctx context.Context) error {
	b.shutOnce.Do(func() {
		b.mu.Lock()
		b.shuttingDown = true
		close(b.done)
		lns := b.listeners
		conns := b.conns.all()
		var wills []pendingWill
		for s := range b.sessions.all() {
			s.mu.Lock()
			if w, ok := s.takeWill(); ok {
				wills = append(wills, w)
			}
			s.stopTimers()
			s.mu.Unlock()
		}
		b.mu.Unlock()
		for _, l := range lns {
			l.close()
		}
		for _, c := range conns {
			if w := c.will.Swap(nil); w != nil && c.flags.has(flagConnected) {
				wills = append(wills, pendingWill{s: c.sess, info: c.info, will: w})
			}
		}
		for _, w := range wills {
			b.publishWill(w)
		}
		for _, c := range conns {
			c.close(CloseShutdown, 0)
		}
	})
	waited := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-ctx.Done():
		// Force: close every socket so the goroutines end.
		b.mu.Lock()
		for _, c := range b.conns.list {
			c.netConn().Close()
		}
		b.mu.Unlock()
		<-waited
		b.finish()
		return ctx.Err()
	}
	b.finish()
	return nil
}

func (b *Broker) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closedDone = true
	for s := range b.sessions.all() {
		s.mu.Lock()
		s.stopTimers()
		s.mu.Unlock()
	}
}

// load restores retained messages and durable sessions from the store.
func (b *Broker) load() error {
	snap, err := b.store.Load()
	if err != nil {
		return err
	}
	if snap == nil {
		return nil
	}
	now := b.now()
	for _, sm := range snap.Retained {
		m := messageFromStored(sm)
		if m.expired(now) {
			b.logStoreErr("delete retained", b.store.DeleteRetained(sm.Topic))
			continue
		}
		m.retain = true
		b.retained.Set(m.topic, m)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ss := range snap.Sessions {
		if ss.ExpiryInterval == 0 {
			b.storeDeleteSession(ss.ClientID)
			continue
		}
		s := &session{b: b, clientID: ss.ClientID, version: ss.Version,
			expiry: ss.ExpiryInterval, off: &sessOff{disconnectedAt: unixTimeOf(ss.DisconnectedAt)}}
		if s.off.disconnectedAt == 0 {
			s.off.disconnectedAt = unixTimeOf(now)
		}
		if s.expiry != expiryNever && now.Sub(s.off.disconnectedAt.Time()) >= time.Duration(s.expiry)*time.Second {
			b.storeDeleteSession(ss.ClientID)
			continue
		}
		// The client it was last used by: the Authorizer decides what is
		// queued for the session as for that client.
		s.info = &ClientInfo{ClientID: ss.ClientID, Version: ss.Version, Username: ss.Username,
			HasUsername: ss.HasUsername, CertCommonName: ss.CertCommonName}
		s.info.SetListener(ss.Listener, ss.MountPoint)
		// Packet identifiers go on from the last one used (mosquitto
		// saves last_mid with the client); inflight ids below raise it.
		s.nextPID = ss.LastPacketID
		for _, st := range ss.Subscriptions {
			group, filter, _, err := mqtt.ParseShared(st.Filter)
			if err != nil {
				continue
			}
			sub := &subscription{Owner: s, Filter: filter, Group: group, QoS: byte(st.QoS),
				NoLocal: st.NoLocal, RetainAsPublished: st.RetainAsPublished,
				RetainHandling: st.RetainHandling, ID: st.ID}
			if s.subs == nil {
				s.subs = make(map[string]*subscription)
			}
			s.subs[st.Filter] = sub
			b.subs.Subscribe(sub)
		}
		for _, sm := range ss.Messages {
			om := &outMsg{seq: sm.Seq, msg: messageFromStored(sm), qos: sm.QoS, retain: sm.Retain,
				dup: sm.Dup || sm.State != StateQueued, subIDs: sm.SubIDs, pid: sm.PacketID, state: sm.State}
			s.seq = max(s.seq, sm.Seq)
			o := s.outState()
			if om.state != StateQueued && om.pid != 0 {
				if o.byPID == nil {
					o.byPID = make(map[uint16]*outMsg)
				}
				o.byPID[om.pid] = om
				o.inflight = append(o.inflight, om)
				o.inflightSize += int64(len(om.msg.payload))
				s.nextPID = max(s.nextPID, om.pid)
				continue
			}
			om.state, om.pid = StateQueued, 0
			o.pending = append(o.pending, om)
			o.countPending(om, 1)
		}
		for _, pid := range ss.Inbound {
			o := s.outState()
			if o.inbound == nil {
				o.inbound = make(map[uint16]struct{})
			}
			o.inbound[pid] = struct{}{}
		}
		b.sessions.put(s)
		s.mu.Lock()
		b.scheduleExpiry(s)
		s.mu.Unlock()
	}
	return nil
}
