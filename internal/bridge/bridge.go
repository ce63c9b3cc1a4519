package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// Bridge is one running bridge. Create it with New and run it with Run.
type Bridge struct {
	opts Options
	log  *slog.Logger
	st   status

	out   *fifo          // local messages for the remote side; lives across reconnections
	local *client.Client // current local connection (Run's goroutine only)
	next  int            // round robin: the address to try first next time
	// switchNow: the session ended because the primary address is back;
	// reconnect without waiting.
	switchNow bool
	// lastActive is when a message was last forwarded, either way (unix
	// nanoseconds), for a lazy bridge's idle timeout.
	lastActive atomic.Int64
	up         atomic.Bool // connected to the remote broker
}

// New checks opts and returns a Bridge ready to Run.
func New(opts Options) (*Bridge, error) {
	switch {
	case opts.Name == "":
		return nil, errors.New("bridge: no name")
	case len(opts.Addresses) == 0:
		return nil, fmt.Errorf("bridge %s: no address", opts.Name)
	case len(opts.Topics) == 0:
		return nil, fmt.Errorf("bridge %s: no topic", opts.Name)
	case opts.LocalDial == nil:
		return nil, fmt.Errorf("bridge %s: no local connection", opts.Name)
	case opts.Notifications && opts.NotificationTopic == "":
		return nil, fmt.Errorf("bridge %s: notifications without a topic", opts.Name)
	}
	if opts.Version == 0 {
		opts.Version = mqtt.V311
	}
	if opts.MaxInflight <= 0 {
		opts.MaxInflight = 20
	}
	if opts.RestartBase <= 0 {
		opts.RestartBase = 5 * time.Second
	}
	if opts.PrimaryRetry <= 0 {
		opts.PrimaryRetry = opts.RestartBase
	}
	if opts.Threshold <= 0 {
		opts.Threshold = 10
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 60 * time.Second
	}
	if opts.LocalClientID == "" {
		opts.LocalClientID = "local." + opts.ClientID
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Bridge{opts: opts, log: log, out: newFIFO()}
	b.st.s.Since = time.Now()
	return b, nil
}

// Name is the bridge's name (its "connection" line).
func (b *Bridge) Name() string { return b.opts.Name }

func (b *Bridge) logf(level slog.Level, format string, v ...any) {
	b.log.Log(context.Background(), level, fmt.Sprintf(format, v...))
}

// Run connects, forwards and reconnects until ctx is done (or, for
// start_type once, until the first connection ends).
func (b *Bridge) Run(ctx context.Context) {
	defer func() {
		if b.local != nil {
			b.local.Close()
		}
		b.setState(Stopped, "")
	}()
	// prev is the last delay: starting at the base, the first retry is
	// already jittered, so bridges that lost the same remote broker do not
	// all come back at the same instant.
	prev := b.opts.RestartBase
	for {
		if b.opts.Start == Lazy && !b.waitThreshold(ctx) {
			return
		}
		start := time.Now()
		connected := b.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if b.opts.Start == Once {
			b.logf(slog.LevelInfo, "Bridge %s stopped (start_type once: not restarted).", b.opts.Name)
			return
		}
		if connected && time.Since(start) >= max(b.opts.RestartCap, b.opts.RestartBase) {
			// The connection held: start the backoff again. One that ends
			// right after CONNACK keeps backing off.
			prev = b.opts.RestartBase
		}
		if b.switchNow {
			b.switchNow = false
			continue // back to the primary right away
		}
		delay := b.nextDelay(prev)
		prev = delay
		retry := time.Now().Add(delay)
		b.setState(Backoff, "")
		b.st.update(func(s *Status) { s.Retry = retry })
		b.logf(slog.LevelInfo, "Bridge %s: next attempt in %s.", b.opts.Name, delay.Round(time.Millisecond))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// nextDelay is restart_timeout: constant without a cap, else mosquitto's
// decorrelated jitter, a random delay between base and three times the
// previous one, at most cap.
func (b *Bridge) nextDelay(prev time.Duration) time.Duration {
	base, cap := b.opts.RestartBase, b.opts.RestartCap
	if cap <= 0 {
		return base
	}
	hi := max(prev*3, base)
	d := base + rand.N(hi-base+1)
	return min(d, cap)
}

// waitThreshold (lazy bridges) connects locally and waits until
// Threshold messages wait for the remote side; false when ctx ends.
func (b *Bridge) waitThreshold(ctx context.Context) bool {
	for {
		local, err := b.ensureLocal(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			b.logf(slog.LevelError, "Error: bridge %s: local connection: %v", b.opts.Name, err)
			t := time.NewTimer(b.opts.RestartBase)
			select {
			case <-ctx.Done():
				t.Stop()
				return false
			case <-t.C:
				continue
			}
		}
		if b.out.len() >= b.opts.Threshold {
			return true
		}
		b.setState(Waiting, "")
		b.logf(slog.LevelInfo, "Bridge %s waiting (start_type lazy): connects when %d messages are queued.", b.opts.Name, b.opts.Threshold)
		stop, quit := make(chan struct{}), make(chan struct{})
		go func() {
			select {
			case <-ctx.Done():
			case <-local.Done():
			case <-quit:
			}
			close(stop)
		}()
		ok := b.out.waitLen(b.opts.Threshold, stop)
		close(quit)
		if ok {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
	}
}

// session runs one remote connection, from the attempt to its end; it
// reports whether the remote broker accepted the connection.
func (b *Bridge) session(ctx context.Context) bool {
	local, err := b.ensureLocal(ctx)
	if err != nil {
		if ctx.Err() == nil {
			b.logf(slog.LevelError, "Error: bridge %s: local connection: %v", b.opts.Name, err)
		}
		return false
	}
	b.notifyLocal(local, "0")
	in := newFIFO()
	// Messages sent on the previous connection and not acknowledged: if
	// the remote broker kept that session, they are sent again under
	// their packet identifiers (with DUP), so a QoS 2 message it already
	// holds is not delivered twice; otherwise they go again as new
	// messages (at least once).
	resume := b.out.takeResumable()
	var resumed []pending
	toRemote := func(t string) string { return toRemote(b.opts.Topics, t) }
	onConnect := func(c *client.Client) {
		if !c.Connack().SessionPresent {
			return
		}
		kept := resume[:0]
		for _, it := range resume {
			tok, err := c.Resend(outgoing(it.m, toRemote, b.opts.OutgoingRetain), it.pid, it.rel)
			if err != nil {
				kept = append(kept, it)
				continue
			}
			resumed = append(resumed, pending{it, tok})
		}
		resume = kept
	}
	remote, idx, err := b.dialRemote(ctx, in, onConnect)
	if err != nil {
		b.out.pushFront(resume) // for the next attempt
		resumed = nil
		if b.opts.Start != Lazy {
			b.out.dropQoS0()
		}
		if ctx.Err() == nil {
			b.logf(slog.LevelError, "Error: bridge %s: %v", b.opts.Name, err)
		}
		return false
	}
	for i := range resume {
		resume[i].pid, resume[i].rel = 0, false // a new session: new messages
	}
	b.out.pushFront(resume)
	addr := b.opts.Addresses[idx].Addr()
	if err := b.subscribeRemote(ctx, remote); err != nil {
		var back []item
		for _, pd := range resumed {
			back = append(back, pd.it)
		}
		b.out.pushFront(back)
		err = fmt.Errorf("%s: %w", addr, err)
		b.st.update(func(s *Status) { s.LastErr = err.Error() })
		b.logf(slog.LevelError, "Error: bridge %s: %v", b.opts.Name, err)
		remote.Close()
		return false // keep backing off
	}
	b.setState(Connected, addr)
	b.st.update(func(s *Status) { s.Connects++ })
	b.logf(slog.LevelInfo, "Bridge %s connected to %s as %s.", b.opts.Name, addr, remote.ClientID())
	b.up.Store(true)
	defer b.up.Store(false)
	if b.opts.Notifications {
		if !b.opts.NotificationsLocalOnly {
			b.publishState(remote, "1")
		}
		b.notifyLocal(local, "1")
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var retry []item
	active := func() { b.lastActive.Store(time.Now().UnixNano()) }
	active()
	wg.Add(2)
	go func() {
		defer wg.Done()
		f := &forwarder{q: b.out, sink: remote, keepRetain: b.opts.OutgoingRetain, maxInflight: b.opts.MaxInflight,
			mapTopic: toRemote, logf: b.warnf, active: active, resumed: resumed}
		retry = f.run(stop)
	}()
	go func() {
		defer wg.Done()
		f := &forwarder{q: in, sink: local, keepRetain: true, maxInflight: b.opts.MaxInflight,
			mapTopic: func(t string) string { return toLocal(b.opts.Topics, t) }, logf: b.warnf, active: active}
		f.run(stop) // unacknowledged remote messages are resent by the remote broker
	}()

	// A bridge on a secondary address goes back to the primary once it
	// answers (round_robin false); a lazy one stops when idle.
	var primaryBack, idle <-chan struct{}
	if !b.opts.RoundRobin && idx > 0 {
		primaryBack = b.probePrimary(stop)
	}
	if b.opts.Start == Lazy {
		idle = b.idleTimer(stop)
	}

	var why string
	select {
	case <-remote.Done():
		why = errText(remote.Err())
	case <-local.Done():
		why = "local connection lost"
	case <-ctx.Done():
		why = "shutting down"
	case <-primaryBack:
		why = "the primary address " + b.opts.Addresses[0].Addr() + " is back"
		b.switchNow = true
	case <-idle:
		why = fmt.Sprintf("idle for %s (start_type lazy)", b.opts.IdleTimeout)
	}
	remote.Close() // without DISCONNECT: the remote broker publishes our "0" will
	close(stop)
	wg.Wait()
	b.out.pushFront(retry)
	b.setState(Backoff, "")
	b.st.update(func(s *Status) { s.LastErr = addr + ": disconnected: " + why })
	b.logf(slog.LevelInfo, "Bridge %s disconnected from %s: %s.", b.opts.Name, addr, why)
	if ctx.Err() == nil && !isDone(local) {
		b.notifyLocal(local, "0")
	}
	return true
}

// probePrimary dials the primary address (TCP only, as mosquitto does)
// every PrimaryRetry until it accepts a connection; the returned channel
// is closed then. It gives up when stop is closed.
func (b *Bridge) probePrimary(stop <-chan struct{}) <-chan struct{} {
	back := make(chan struct{})
	addr := b.opts.Addresses[0].Addr()
	go func() {
		t := time.NewTicker(b.opts.PrimaryRetry)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			d := net.Dialer{Timeout: min(b.opts.PrimaryRetry, 5*time.Second)}
			if c, err := d.Dial("tcp", addr); err == nil {
				c.Close()
				close(back)
				return
			}
		}
	}()
	return back
}

// idleTimer closes the returned channel once nothing was forwarded for
// IdleTimeout (lazy bridges).
func (b *Bridge) idleTimer(stop <-chan struct{}) <-chan struct{} {
	idle := make(chan struct{})
	go func() {
		t := time.NewTimer(b.opts.IdleTimeout)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			left := b.opts.IdleTimeout - time.Since(time.Unix(0, b.lastActive.Load()))
			if left <= 0 && b.out.len() == 0 {
				close(idle)
				return
			}
			t.Reset(max(left, b.opts.IdleTimeout/10))
		}
	}()
	return idle
}

func (b *Bridge) warnf(format string, v ...any) {
	b.logf(slog.LevelWarn, "Warning: bridge "+b.opts.Name+": "+format, v...)
}

func errText(err error) string {
	if err == nil {
		return "connection closed"
	}
	return err.Error()
}

// ensureLocal returns the local connection, connecting (and subscribing
// to the outgoing patterns) when there is none or it ended.
func (b *Bridge) ensureLocal(ctx context.Context) (*client.Client, error) {
	if b.local != nil && !isDone(b.local) {
		return b.local, nil
	}
	b.local = nil
	src := newSource()
	clean := b.opts.CleanSession
	if b.opts.LocalCleanSession != nil {
		clean = *b.opts.LocalCleanSession // local_cleansession
	}
	o := client.Options{
		Endpoint: client.Endpoint{Scheme: "mqtt", Host: "local", Port: 0},
		Dial:     b.opts.LocalDial,
		Connect: mqtt.Connect{Version: mqtt.V5, ClientID: b.opts.LocalClientID, CleanStart: clean,
			HasUsername: b.opts.HasLocalUsername, Username: b.opts.LocalUsername,
			HasPassword: b.opts.HasLocalPassword, Password: b.opts.LocalPassword},
		ManualAck:   true,
		MaxInflight: b.opts.MaxInflight,
		OnMessage: func(p *mqtt.Publish) bool {
			b.out.push(item{m: p, src: src})
			return false
		},
	}
	if !clean {
		// As mosquitto's local bridge context: kept while the bridge is
		// away, so what it subscribed to is queued for it.
		o.Connect.Props.SetSessionExpiry(0xFFFFFFFF)
	}
	c, err := client.Connect(ctx, o)
	if err != nil {
		src.set(nil)
		return nil, err
	}
	src.set(c)
	var subs []mqtt.Subscription
	for _, t := range b.opts.Topics {
		if t.Out {
			subs = append(subs, mqtt.Subscription{Filter: t.LocalTopic(), QoS: t.QoS, NoLocal: true, RetainAsPublished: true})
		}
	}
	if len(subs) > 0 {
		s := &mqtt.Subscribe{Subscriptions: subs}
		ack, err := c.Subscribe(ctx, s)
		if err == nil {
			err = client.SubackErr(s, ack)
		}
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("subscribe: %w", err)
		}
	}
	b.local = c
	return c, nil
}

// dialRemote tries the addresses in turn, from the primary (round_robin
// false) or from the one after the last used (round_robin true), and
// returns the first connection accepted and its index.
func (b *Bridge) dialRemote(ctx context.Context, in *fifo, onConnect func(*client.Client)) (*client.Client, int, error) {
	o := b.opts
	cp := mqtt.Connect{Version: o.Version, ClientID: o.ClientID, CleanStart: o.CleanSession, KeepAlive: o.KeepAlive,
		HasUsername: o.HasUsername, Username: o.Username, HasPassword: o.HasPassword, Password: o.Password}
	// try_private: mosquitto's loop detection for 3.1/3.1.1; v5 bridges
	// subscribe with No Local instead.
	cp.Bridge = o.TryPrivate && o.Version != mqtt.V5
	if o.Version == mqtt.V5 && !o.CleanSession {
		cp.Props.SetSessionExpiry(0xFFFFFFFF)
	}
	if o.Notifications && !o.NotificationsLocalOnly {
		cp.Will = &mqtt.Will{Topic: o.NotificationTopic, Payload: []byte("0"), QoS: 1, Retain: true}
	}
	first := 0
	if o.RoundRobin {
		first = b.next
	}
	var errs []error
	for i := range o.Addresses {
		idx := (first + i) % len(o.Addresses)
		ep := o.Addresses[idx]
		addr := ep.Addr()
		b.setState(Connecting, addr)
		b.st.update(func(s *Status) { s.Attempts++ })
		b.logf(slog.LevelInfo, "Connecting bridge %s (%s)", o.Name, addr)
		src := newSource()
		c, err := client.Connect(ctx, client.Options{
			Endpoint: ep, Connect: cp, ManualAck: true, MaxInflight: o.MaxInflight,
			ConnectTimeout: o.ConnectTimeout, OnConnect: onConnect,
			OnMessage: func(p *mqtt.Publish) bool {
				in.push(item{m: p, src: src})
				return false
			},
		})
		if err != nil {
			src.set(nil)
			err = fmt.Errorf("%s: %w", addr, err)
			b.st.update(func(s *Status) { s.LastErr = err.Error() })
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		src.set(c)
		// Round robin: once this connection ends, start with the next.
		b.next = (idx + 1) % len(o.Addresses)
		return c, idx, nil
	}
	b.next = (first + 1) % len(o.Addresses)
	return nil, -1, errors.Join(errs...)
}

// subscribeRemote subscribes to the incoming patterns (No Local and
// Retain As Published for v5, as mosquitto's v5 bridges) and, unless
// NoAttemptUnsubscribe, unsubscribes from the remote topics of the
// outgoing-only ones (mosquitto's bridge_attempt_unsubscribe, default
// true).
func (b *Bridge) subscribeRemote(ctx context.Context, c *client.Client) error {
	v5 := c.Version() == mqtt.V5
	var subs []mqtt.Subscription
	var unsubs []string
	for _, t := range b.opts.Topics {
		switch {
		case t.In:
			subs = append(subs, mqtt.Subscription{Filter: t.RemoteTopic(), QoS: t.QoS, NoLocal: v5, RetainAsPublished: v5})
		case t.Out && !b.opts.NoAttemptUnsubscribe:
			unsubs = append(unsubs, t.RemoteTopic())
		}
	}
	if len(subs) > 0 {
		s := &mqtt.Subscribe{Subscriptions: subs}
		ack, err := c.Subscribe(ctx, s)
		if err != nil {
			return fmt.Errorf("subscribe on the remote broker: %w", err)
		}
		if err := client.SubackErr(s, ack); err != nil {
			b.warnf("%v", err) // as mosquitto: the other patterns still work
		}
	}
	if len(unsubs) > 0 {
		// A topic changed from "in" to "out" may still be subscribed in a
		// persistent remote session: stop it coming in. Whether the
		// broker had such a subscription does not matter (v5: 0x11).
		if _, err := c.Unsubscribe(ctx, &mqtt.Unsubscribe{Filters: unsubs}); err != nil {
			return fmt.Errorf("unsubscribe on the remote broker: %w", err)
		}
	}
	return nil
}

// notifyLocal publishes the connection state on this broker.
func (b *Bridge) notifyLocal(c *client.Client, state string) {
	if b.opts.Notifications {
		b.publishState(c, state)
	}
}

// publishState publishes state ("0" or "1") retained at QoS 1 on the
// notification topic, without waiting for the acknowledgement.
func (b *Bridge) publishState(c *client.Client, state string) {
	p := &mqtt.Publish{Topic: b.opts.NotificationTopic, Payload: []byte(state), QoS: 1, Retain: true}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Publish(ctx, p); err != nil && !isDone(c) {
		b.warnf("notification: %v", err)
	}
}
