package clicmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
	r := &subRun{s: newSession(e, cc), sc: sc, stop: make(chan struct{}), ready: make(chan struct{})}
	if sc.watch && canWatch(e) {
		r.dash = watchSession(r.s)
	}
	return r.run(c.Context)
}

// subRun is one mqsub execution.
type subRun struct {
	s     *session
	sc    *subConfig
	cl    atomic.Pointer[client.Client]
	ready chan struct{} // closed once cl is set

	count    int // messages printed (reader goroutine only)
	buf      []byte
	dash     *dashboard // -w on a terminal; nil otherwise
	stopOnce sync.Once
	stop     chan struct{} // -C reached, --retained-only ended, write error
	stopErr  error

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

	cl, err := r.s.connect(ctx, r.onMessage)
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
	cl, err := r.s.reconnect(ctx, lost, r.onMessage, r.stop)
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

// subscribe sends SUBSCRIBE and UNSUBSCRIBE. A partial refusal is
// returned as refusal (the exit error to use at the end); a total refusal
// or a failure as err.
func (r *subRun) subscribe(ctx context.Context, cl *client.Client) (refusal, err error) {
	cc, sc := r.s.cc, r.sc
	if len(sc.subs) > 0 {
		sub := &mqtt.Subscribe{Subscriptions: sc.subs, Props: sc.subProps}
		ack, err := cl.Subscribe(ctx, sub)
		if err != nil {
			return nil, err
		}
		if cc.debug {
			codes := make([]string, len(ack.Codes))
			for i, c := range ack.Codes {
				codes[i] = fmt.Sprint(byte(c))
			}
			fmt.Fprintf(r.s.out, "Subscribed (mid: %d): %s\n", ack.PacketID, strings.Join(codes, ", "))
		}
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
	}
	if len(sc.unsubs) > 0 {
		u := &mqtt.Unsubscribe{Filters: sc.unsubs}
		if cc.version == mqtt.V5 {
			u.Props = cc.props.Unsubscribe
		}
		if _, err := cl.Unsubscribe(ctx, u); err != nil {
			return nil, err
		}
	}
	return refusal, nil
}

// onMessage runs on the client's reader goroutine for every message.
// Returning false leaves a QoS 1/2 message unacknowledged, so a durable
// session keeps what mqsub did not print.
func (r *subRun) onMessage(p *mqtt.Publish) bool {
	if r.stopped() {
		return false
	}
	sc := r.sc
	filtered := false
	for _, f := range sc.filterOut {
		if mqtt.MatchTopic(f, p.Topic) {
			filtered = true
			break
		}
	}
	if sc.removeRetained && p.Retain && !filtered {
		r.removeRetained(p.Topic)
	}
	if sc.retainedOnly && !p.Retain {
		r.finish(r.retainedOnlyEnd())
		return false
	}
	if (p.Retain && sc.skipRetained) || filtered {
		return true
	}
	// A message that fails --expect* is acknowledged (returning true) but
	// neither printed nor counted, as -T and -R do; -d traced it already.
	if sc.expect != nil && !sc.expect.match(p) {
		return true
	}
	if sc.randomPct > 0 && rand.Float64()*100 >= sc.randomPct {
		return true
	}
	r.print(p)
	if sc.expect != nil {
		sc.expect.count()
	}
	if sc.count > 0 {
		r.count++
		if r.count == sc.count {
			r.finish(nil)
		}
	}
	return true
}

func (r *subRun) print(p *mqtt.Publish) {
	m := cliutil.MessageFromPublish(p, time.Now())
	// The dashboard shows each message on its own line, so it takes the
	// line as printed with its newline (-N notwithstanding), without it.
	noEOL := r.sc.out.NoEOL && r.dash == nil
	var err error
	switch {
	case r.s.pal.Enabled() && r.sc.out.Format == "" && !r.sc.out.JSON:
		r.buf = r.s.pal.Human(r.buf[:0], m, r.sc.out.Verbose, !noEOL)
	default:
		o := r.sc.out
		o.NoEOL = noEOL
		r.buf, err = cliutil.Render(r.buf[:0], &o, m)
	}
	if err != nil {
		var je *cliutil.JSONPayloadError
		if errors.As(err, &je) {
			r.s.rep.warn(je.Error(), "")
			return
		}
		r.s.rep.warn("Error: "+err.Error(), "")
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
