package clicmd

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/cliutil"
	"github.com/mqkit/mqkit/internal/mqtt"
)

func runSub(c *cli.Context, e *env) error {
	cc, err := parseConn(c, e, subV5Flags)
	if err != nil {
		return err
	}
	sc, err := parseSub(c, e, cc)
	if err != nil {
		return err
	}
	r := &subRun{s: newSession(e, cc), sc: sc, stop: make(chan struct{}), ready: make(chan struct{}),
		pending: map[*mqtt.Publish]msgAction{}}
	r.s.subscribed = !cc.quiet // mosquitto_sub -d --quiet does not print it
	r.s.refusedDisconnect = true
	r.s.mute = r.mute
	if sc.exitAfterSub {
		r.s.after = r.afterTrace
	}
	if sc.watch && canWatch(e) {
		r.dash = watchSession(r.s)
	}
	return r.run(c.Context)
}

// handlers: decide in onMessage, print in onRelease, once the message is
// acknowledged, as mosquitto_sub prints what libmosquitto hands it.
func (r *subRun) handlers() handlers {
	return handlers{onConnect: r.startSubscribe, onMessage: r.onMessage, onRelease: r.onRelease}
}

// mute leaves out of -d what mosquitto_sub never reads: packets received
// after it decided to stop (-C reached, -E's SUBACK, --retained-only's
// end), since it then disconnects at once.
func (r *subRun) mute(ev client.TraceEvent) bool { return !ev.Sent && r.stopped() }

// afterTrace ends -E at the SUBACK, on the client's reader, so nothing
// that follows the SUBACK is printed (mosquitto_sub disconnects from its
// subscribe callback).
func (r *subRun) afterTrace(ev client.TraceEvent) {
	if _, ok := ev.Packet.(*mqtt.Suback); ok && !ev.Sent {
		r.finish(nil)
	}
}

// subRun is one mqsub execution.
type subRun struct {
	s     *session
	sc    *subConfig
	cl    atomic.Pointer[client.Client]
	ready chan struct{} // closed once cl is set

	// The SUBSCRIBE and UNSUBSCRIBE of the current connection, queued by
	// startSubscribe as soon as CONNACK arrives.
	subTok    *client.Token
	unsubToks []*client.Token
	startErr  error

	// Reader goroutine only: messages accepted and printed, and what to
	// do with each accepted message once it is released.
	accepted, count int
	pending         map[*mqtt.Publish]msgAction
	buf             []byte
	dash            *dashboard // -w on a terminal; nil otherwise
	stopOnce        sync.Once
	stop            chan struct{} // -C reached, --retained-only ended, write error
	stopErr         error

	remMu    sync.Mutex
	closing  bool           // no more removals may start
	removals sync.WaitGroup // --remove-retained publishes
}

func (r *subRun) finish(err error) {
	r.stopOnce.Do(func() {
		r.stopErr = err
		close(r.stop)
	})
}

func (r *subRun) stopped() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

func (r *subRun) run(parent context.Context) error {
	ctx := parent
	var cancel context.CancelFunc = func() {}
	if r.sc.timeout > 0 {
		ctx, cancel = context.WithTimeout(parent, r.sc.timeout)
	}
	defer cancel()
	timedOut := func() bool { return parent.Err() == nil && ctx.Err() != nil }

	cl, err := r.s.connect(ctx, r.handlers())
	if err != nil {
		if timedOut() {
			return r.timedOut()
		}
		if parent.Err() != nil {
			return nil
		}
		return err
	}
	r.cl.Store(cl)
	close(r.ready)

	var refusal error
	for {
		refusal, err = r.subscribe(ctx, cl)
		if err == nil && r.sc.exitAfterSub {
			r.finish(nil)
		}
		if err == nil {
			select {
			case <-r.stop:
				err = r.stopErr
			case <-ctx.Done():
			case <-cl.Done():
				err = cl.Err()
			}
		}
		if err == nil || !reconnectable(err) || r.stopped() || ctx.Err() != nil {
			break
		}
		// The lost connection's reader may still be releasing its last
		// messages: wait for it, so that only one reader at a time runs
		// onMessage and onRelease.
		cl.Close()
		next, rerr := r.reconnect(ctx, err)
		if rerr != nil {
			err = rerr
			break
		}
		cl = next
		r.cl.Store(cl)
	}
	r.remMu.Lock()
	r.closing = true
	r.remMu.Unlock()
	r.removals.Wait()
	select {
	case <-cl.Done():
		if err == nil {
			err = cl.Err()
		}
	default:
		if derr := r.s.disconnect(parent, cl); derr != nil && err == nil {
			return derr
		}
	}
	switch {
	case err != nil && timedOut():
		return r.timedOut()
	case err != nil && parent.Err() != nil:
		return nil // Ctrl-C
	case err != nil:
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			return err
		}
		return r.s.fail(err)
	case !r.stopped() && timedOut():
		return r.timedOut()
	case refusal != nil:
		return refusal
	}
	return nil
}

// reconnect opens a new connection after lost ended the previous one
// (session.reconnect); -C, --retained-only and write errors end the wait.
func (r *subRun) reconnect(ctx context.Context, lost error) (*client.Client, error) {
	cl, err := r.s.reconnect(ctx, lost, r.handlers(), r.stop)
	if errors.Is(err, errStopped) {
		return nil, r.stopErr
	}
	return cl, err
}

func (r *subRun) timedOut() error {
	msg := "Timed out"
	if x := r.sc.expect; x != nil {
		msg = x.timeoutText(r.sc.timeout, r.sc.count)
	}
	return cli.Exit(r.s.rep.errorText(msg, ""), cliutil.ExitTimeout)
}

// retainedOnlyEnd is how --retained-only ends at the first live message:
// 0, or with --expect* exit 1 when too few retained messages matched (a
// smoke test of the retained state must not pass by default).
func (r *subRun) retainedOnlyEnd() error {
	if r.sc.expect == nil {
		return nil
	}
	return cli.Exit(r.s.rep.errorText("Error: --retained-only ended: "+r.sc.expect.unmet(r.sc.count), ""), cliutil.ExitError)
}

// startSubscribe queues SUBSCRIBE, then one UNSUBSCRIBE per -U filter,
// without waiting in between, as soon as the connection is accepted
// (client.Options.OnConnect), as mosquitto_sub does from its on_connect
// callback: they go out before anything that follows the CONNACK (the
// messages a durable session kept) is handled.
func (r *subRun) startSubscribe(cl *client.Client) {
	cc, sc := r.s.cc, r.sc
	r.subTok, r.unsubToks, r.startErr = nil, nil, nil
	if len(sc.subs) > 0 {
		sub := &mqtt.Subscribe{Subscriptions: sc.subs, Props: sc.subProps}
		if r.subTok, r.startErr = cl.StartSubscribe(sub); r.startErr != nil {
			return
		}
	}
	for _, f := range sc.unsubs {
		u := &mqtt.Unsubscribe{Filters: []string{f}}
		if cc.version == mqtt.V5 {
			u.Props = cc.props.Unsubscribe
		}
		tok, err := cl.StartUnsubscribe(u)
		if err != nil {
			r.startErr = err
			return
		}
		r.unsubToks = append(r.unsubToks, tok)
	}
}

// subscribe waits for the SUBACK (for the UNSUBACKs only when there is
// nothing to subscribe to: they go out before anything sent later,
// DISCONNECT included). A partial refusal is returned as refusal (the exit
// error to use at the end); a total refusal or a failure as err.
func (r *subRun) subscribe(ctx context.Context, cl *client.Client) (refusal, err error) {
	cc, sc := r.s.cc, r.sc
	if r.startErr != nil {
		return nil, r.startErr
	}
	subTok, unsubToks := r.subTok, r.unsubToks
	sub := &mqtt.Subscribe{Subscriptions: sc.subs, Props: sc.subProps}
	if subTok == nil {
		for _, tok := range unsubToks {
			if err := tok.Wait(ctx); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	if err := subTok.Wait(ctx); err != nil {
		return nil, err
	}
	ack := subTok.Result().(*mqtt.Suback)
	if err := client.SubackErr(sub, ack); err != nil {
		var se *client.SubackError
		if !errors.As(err, &se) {
			return nil, err
		}
		denied := 0
		for i, code := range ack.Codes {
			if code.IsError() {
				denied++
				msg, hint, _ := describeFailure(&client.SubackError{Filter: sub.Subscriptions[i].Filter, Code: code}, cc.v3())
				if denied < len(ack.Codes) {
					r.s.rep.warn(strings.Replace(msg, "Error:", "Warning:", 1), hint)
				}
			}
		}
		if denied == len(ack.Codes) {
			msg, hint, code := describeFailure(err, cc.v3())
			return nil, cli.Exit(r.s.rep.errorText("Error: All subscription requests were denied.\n"+msg, hint), code)
		}
		_, _, code := describeFailure(err, cc.v3())
		refusal = cli.Exit("", code)
	}
	return refusal, nil
}

// msgAction is what mqsub does with an accepted message once released.
type msgAction struct{ print, remove bool }

// onMessage runs on the client's reader goroutine for every message and
// decides whether to accept (acknowledge) it; onRelease then prints it.
// Returning false leaves a QoS 1/2 message unacknowledged, so a durable
// session keeps what mqsub did not print.
func (r *subRun) onMessage(p *mqtt.Publish) bool {
	if r.stopped() {
		return false
	}
	sc := r.sc
	if sc.retainedOnly && !p.Retain {
		r.finish(r.retainedOnlyEnd())
		return false
	}
	// -R, -T, --expect* and --random-filter acknowledge a message without
	// printing or counting it. As in mosquitto_sub, --remove-retained
	// clears what -R and -T let through.
	if p.Retain && sc.skipRetained {
		return true
	}
	for _, f := range sc.filterOut {
		if mqtt.MatchTopic(f, p.Topic) {
			return true
		}
	}
	act := msgAction{remove: sc.removeRetained && p.Retain}
	switch {
	case sc.expect != nil && !sc.expect.match(p):
	case sc.randomPct > 0 && rand.Float64()*100 >= sc.randomPct:
	case sc.count > 0 && r.accepted >= sc.count:
		return false // -C reached: what comes after is not ours
	default:
		act.print = true
		r.accepted++
	}
	if act.print || act.remove {
		r.pending[p] = act
	}
	return true
}

// onRelease prints an accepted message once it is acknowledged (QoS 2:
// after PUBREL), on the client's reader goroutine.
func (r *subRun) onRelease(p *mqtt.Publish) {
	act, ok := r.pending[p]
	if !ok {
		return
	}
	delete(r.pending, p)
	if act.remove {
		r.removeRetained(p.Topic)
	}
	if !act.print {
		return
	}
	r.print(p)
	if r.sc.expect != nil {
		r.sc.expect.count()
	}
	if r.sc.count > 0 {
		r.count++
		if r.count == r.sc.count {
			r.finish(nil)
		}
	}
}

func (r *subRun) print(p *mqtt.Publish) {
	m := cliutil.MessageFromPublish(p, time.Now())
	// The dashboard shows each message on its own line, so it takes the
	// line as printed with its newline (-N notwithstanding), without it.
	noEOL := r.sc.out.NoEOL && r.dash == nil
	var err error
	switch {
	case r.s.pal.Enabled() && !r.sc.out.FormatSet && !r.sc.out.JSON:
		r.buf = r.s.pal.Human(r.buf[:0], m, r.sc.out.Verbose, !noEOL)
	default:
		o := r.sc.out
		o.NoEOL = noEOL
		r.buf, err = cliutil.Render(r.buf[:0], &o, m)
	}
	if err != nil {
		// mosquitto_sub prints the error and the rest of the line (%J
		// with a payload that is not JSON prints nothing for %J only).
		var je *cliutil.JSONPayloadError
		if errors.As(err, &je) {
			r.s.rep.warn(je.Error(), "")
		} else {
			r.s.rep.warn("Error: "+err.Error(), "")
		}
	}
	var werr error
	switch {
	case r.dash != nil:
		werr = r.dash.show(p.Topic, bytes.TrimSuffix(r.buf, []byte("\n")))
	case len(r.buf) == 0:
		return
	default:
		_, werr = r.s.out.Write(r.buf)
	}
	if werr != nil {
		r.finish(cli.Exit(r.s.rep.errorText("Error: writing output: "+werr.Error(), ""), cliutil.ExitError))
	}
}

// removeRetained clears the retained message on topic with an empty
// retained QoS 1 publish, off the reader goroutine (a full inflight window
// must not block the reader that receives the acknowledgements).
func (r *subRun) removeRetained(topic string) {
	r.remMu.Lock()
	defer r.remMu.Unlock()
	if r.closing {
		return
	}
	r.removals.Add(1)
	go func() {
		defer r.removals.Done()
		<-r.ready
		cl := r.cl.Load()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		tok, err := cl.Publish(ctx, &mqtt.Publish{Topic: topic, QoS: 1, Retain: true})
		if err == nil {
			err = tok.Wait(ctx)
		}
		if err != nil && !errors.Is(err, client.ErrClosed) {
			msg, hint, _ := describeFailure(err, r.s.cc.v3())
			r.s.rep.warn(strings.Replace(msg, "Error:", "Warning: removing the retained message on '"+topic+"':", 1), hint)
		}
	}()
}
