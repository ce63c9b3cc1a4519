package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
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

	out   *fifo          // local messages for the remote side; lives across reconnections
	local *client.Client // current local connection (Run's goroutine only)
	up    atomic.Bool    // connected to the remote broker
}

// Status is what monitoring shows of a bridge.
type Status struct {
	Name      string
	Connected bool // the remote broker accepted the connection, and it is up
	// Queued is the lag: local messages waiting to be forwarded to the
	// remote broker (including those sent and not yet acknowledged).
	Queued int
	// Dropped counts QoS 0 messages dropped because the queue was full.
	Dropped int
}

// Status returns the bridge's state.
func (b *Bridge) Status() Status {
	q := b.out
	q.mu.Lock()
	defer q.mu.Unlock()
	return Status{Name: b.opts.Name, Connected: b.up.Load(), Queued: len(q.items), Dropped: q.dropped}
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
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Bridge{opts: opts, log: log, out: newFIFO()}, nil
}

// Name is the bridge's name (its "connection" line).
func (b *Bridge) Name() string { return b.opts.Name }

func (b *Bridge) logf(level slog.Level, format string, v ...any) {
	b.log.Log(context.Background(), level, fmt.Sprintf(format, v...))
}

// Run connects, forwards and reconnects until ctx is done.
func (b *Bridge) Run(ctx context.Context) {
	defer func() {
		if b.local != nil {
			b.local.Close()
		}
	}()
	delay := time.Duration(0)
	for {
		if b.session(ctx) {
			delay = 0 // a connection was made: start the backoff again
		}
		if ctx.Err() != nil {
			return
		}
		delay = b.nextDelay(delay)
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
	remote, addr, err := b.dialRemote(ctx, in)
	if err != nil {
		b.out.dropQoS0()
		if ctx.Err() == nil {
			b.logf(slog.LevelError, "Error: bridge %s: %v", b.opts.Name, err)
		}
		return false
	}
	if err := b.subscribeRemote(ctx, remote); err != nil {
		b.logf(slog.LevelError, "Error: bridge %s: %v", b.opts.Name, err)
		remote.Close()
		return false // keep backing off
	}
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
	wg.Add(2)
	go func() {
		defer wg.Done()
		f := &forwarder{q: b.out, sink: remote, keepRetain: b.opts.OutgoingRetain, maxInflight: b.opts.MaxInflight,
			mapTopic: func(t string) string { return toRemote(b.opts.Topics, t) }, logf: b.warnf}
		retry = f.run(stop)
	}()
	go func() {
		defer wg.Done()
		f := &forwarder{q: in, sink: local, keepRetain: true, maxInflight: b.opts.MaxInflight,
			mapTopic: func(t string) string { return toLocal(b.opts.Topics, t) }, logf: b.warnf}
		f.run(stop) // unacknowledged remote messages are resent by the remote broker
	}()

	var why string
	select {
	case <-remote.Done():
		why = errText(remote.Err())
	case <-local.Done():
		why = "local connection lost"
	case <-ctx.Done():
		why = "shutting down"
	}
	remote.Close() // without DISCONNECT: the remote broker publishes our "0" will
	close(stop)
	wg.Wait()
	b.out.pushFront(retry)
	b.logf(slog.LevelInfo, "Bridge %s disconnected from %s: %s.", b.opts.Name, addr, why)
	if ctx.Err() == nil && !isDone(local) {
		b.notifyLocal(local, "0")
	}
	return true
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
		Connect: mqtt.Connect{Version: mqtt.V5, ClientID: "local." + b.opts.ClientID,
			CleanStart: clean},
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

// dialRemote tries each address in order and returns the first
// connection accepted.
func (b *Bridge) dialRemote(ctx context.Context, in *fifo) (*client.Client, string, error) {
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
	var errs []error
	for _, ep := range o.Addresses {
		addr := ep.Addr()
		b.logf(slog.LevelInfo, "Connecting bridge %s (%s)", o.Name, addr)
		src := newSource()
		c, err := client.Connect(ctx, client.Options{
			Endpoint: ep, Connect: cp, ManualAck: true, MaxInflight: o.MaxInflight,
			ConnectTimeout: o.ConnectTimeout,
			OnMessage: func(p *mqtt.Publish) bool {
				in.push(item{m: p, src: src})
				return false
			},
		})
		if err != nil {
			src.set(nil)
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		src.set(c)
		return c, addr, nil
	}
	return nil, "", errors.Join(errs...)
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
