package clicmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/cliutil"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// session bundles what a running command needs: the parsed connection
// options, the synchronised stdout, the error reporter.
type session struct {
	e   *env
	cc  *connConfig
	out *syncWriter
	rep *reporter
	pal *cliutil.Palette // for stdout
	// mosq prints -d's lines (nil without -d, or with --trace); one per
	// session, so its message ids go on across reconnections.
	mosq *mosqTracer
	// mute, if set, says which -d lines not to print: mqsub prints
	// nothing received once it has decided to stop, as mosquitto_sub
	// reads nothing more then.
	mute func(client.TraceEvent) bool
	// after, if set, sees every packet after it was traced (on the
	// client's reader for received ones, before they are handled).
	after func(client.TraceEvent)
	// subscribed prints mosquitto_sub's "Subscribed (mid: ...)" line
	// after each SUBACK in the trace.
	subscribed bool
	// cur is the index in cc.endpoints of the broker of the current (or
	// last) connection.
	cur int
	// refusedDisconnect traces the DISCONNECT mosquitto_sub queues (in
	// vain: the broker has closed the connection) when the broker refuses
	// the connection.
	refusedDisconnect bool
}

func newSession(e *env, cc *connConfig) *session {
	errColor := cliutil.ColorEnabled(cc.noColor, e.getenv, e.stderrTTY)
	outColor := cliutil.ColorEnabled(cc.noColor, e.getenv, e.stdoutTTY)
	s := &session{
		e: e, cc: cc,
		out: &syncWriter{w: e.stdout},
		rep: &reporter{w: e.stderr, quiet: cc.quiet, pal: cliutil.NewPalette(errColor)},
		pal: cliutil.NewPalette(outColor),
	}
	for _, w := range cc.warnings {
		s.rep.warn(w, "")
	}
	if cc.debug && !cc.trace {
		s.mosq = newMosqTracer(s.out, cc.version)
	}
	return s
}

// handlers are the message callbacks of a connection (client.Options).
type handlers struct {
	onConnect func(*client.Client)
	onMessage func(*mqtt.Publish) bool
	onRelease func(*mqtt.Publish)
}

// options returns the client options for a connection: the callbacks and
// the packet trace on stdout (-d, --trace, --dump).
func (s *session) options(h handlers) client.Options {
	opts := s.cc.opts
	opts.OnConnect, opts.OnMessage, opts.OnRelease = h.onConnect, h.onMessage, h.onRelease
	var print func(client.TraceEvent)
	switch {
	case s.cc.trace:
		print = client.TextTracer(s.out, s.cc.dump)
	case s.mosq != nil:
		print = s.mosq.trace
	}
	if print == nil && s.after == nil {
		return opts
	}
	opts.Trace = func(ev client.TraceEvent) {
		if print != nil && (s.mosq == nil || s.mute == nil || !s.mute(ev)) {
			print(ev)
			if a, ok := ev.Packet.(*mqtt.Suback); ok && s.subscribed && !ev.Sent {
				io.WriteString(s.out, subscribedLine(a))
			}
		}
		if s.after != nil {
			s.after(ev)
		}
	}
	return opts
}

// connect opens the connection: to the first broker that accepts it,
// when several were given (-h a,b).
func (s *session) connect(ctx context.Context, h handlers) (*client.Client, error) {
	c, err := s.dialFrom(ctx, s.options(h), 0, false)
	if err != nil {
		var ce *client.ConnackError
		if s.refusedDisconnect && s.mosq != nil && errors.As(err, &ce) {
			s.mosq.trace(client.TraceEvent{Sent: true, ClientID: s.cc.opts.Connect.ClientID, Packet: &mqtt.Disconnect{}})
		}
		return nil, s.fail(err)
	}
	return c, nil
}

// reconnectDelay is the pause before each reconnection attempt
// (libmosquitto's default reconnect delay); a variable for tests.
var reconnectDelay = time.Second

// reconnectable reports whether mqsub (and mqpub -l) reconnects after err
// ended its connection, as mosquitto_sub does (libmosquitto's loop_forever): after a
// network failure or a keep alive timeout, not after a DISCONNECT from the
// broker or a protocol error. Unlike mosquitto_sub it also comes back
// after a v5 DISCONNECT saying the server is shutting down or busy.
func reconnectable(err error) bool {
	var (
		cle *client.ConnectionLostError
		to  *client.TimeoutError
		sd  *client.ServerDisconnectError
	)
	switch {
	case errors.As(err, &cle), errors.As(err, &to):
		return true
	case errors.As(err, &sd):
		return sd.Code == mqtt.ServerShuttingDown || sd.Code == mqtt.ServerBusy
	}
	return false
}

// errStopped is session.reconnect's error when stop was closed.
var errStopped = errors.New("stopped")

// reconnect opens a new connection after lost ended the previous one,
// trying every reconnectDelay until it succeeds, ctx ends (Ctrl-C, -W) or
// stop is closed (errStopped). A broker that refuses the connection
// (CONNACK) or a failed TLS handshake is final: the error is returned for
// the usual message and exit code, as for a first connection; anything
// else (the broker not back yet) is retried. It warns once, on stderr.
func (s *session) reconnect(ctx context.Context, lost error, h handlers, stop <-chan struct{}) (*client.Client, error) {
	msg, _, _ := describeFailure(lost, s.cc.v3())
	s.rep.warn(strings.Replace(msg, "Error: ", "Warning: ", 1)+"; reconnecting", "")
	opts := s.options(h)
	t := time.NewTimer(reconnectDelay)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return nil, errStopped
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
		// After a loss, the next broker of a list first.
		cl, err := s.dialFrom(ctx, opts, s.cur+1, true)
		if err == nil {
			return cl, nil
		}
		var (
			ce *client.ConnackError
			te *client.TLSError
		)
		if errors.As(err, &ce) || errors.As(err, &te) || ctx.Err() != nil {
			return nil, err
		}
		t.Reset(reconnectDelay)
	}
}

// dialFrom tries the brokers in turn from index first (cyclically) and
// returns the first connection made. A broker that cannot be reached,
// times out, or answers "server unavailable" or "busy" is skipped, with a
// warning naming it when another one follows; any other refusal ends
// the search (every node of a cluster would refuse the same way). The
// warnings are printed only when quiet is false.
func (s *session) dialFrom(ctx context.Context, opts client.Options, first int, quiet bool) (*client.Client, error) {
	eps := s.cc.endpoints
	if len(eps) <= 1 {
		return client.Connect(ctx, opts)
	}
	var err error
	for i := range eps {
		idx := (first + i) % len(eps)
		opts.Endpoint = eps[idx]
		var c *client.Client
		if c, err = client.Connect(ctx, opts); err == nil {
			s.cur = idx
			return c, nil
		}
		var ce *client.ConnackError
		if ctx.Err() != nil || errors.As(err, &ce) && !unavailable(ce) {
			return nil, err
		}
		if !quiet && i+1 < len(eps) {
			msg, _, _ := describeFailure(err, s.cc.v3())
			s.rep.warn(strings.Replace(msg, "Error: ", "Warning: ", 1)+"; trying "+eps[(idx+1)%len(eps)].Addr(), "")
		}
	}
	return nil, err
}

// unavailable reports whether a refusal means "try another node".
func unavailable(ce *client.ConnackError) bool {
	if ce.Version == mqtt.V5 {
		return ce.Code == mqtt.ServerUnavailable || ce.Code == mqtt.ServerBusy
	}
	return ce.ReturnCode == 3 // server unavailable
}

// disconnect ends the session with the configured DISCONNECT, within 5s
// even when ctx was cancelled (Ctrl-C).
func (s *session) disconnect(ctx context.Context, c *client.Client) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := c.Disconnect(dctx, s.cc.disconnect); err != nil {
		return s.fail(err)
	}
	return nil
}

// fail turns a runtime error into the exit error: mosquitto's message, a
// hint, and the exit code (see cliutil.ExitCodesHelp).
func (s *session) fail(err error) error {
	msg, hint, code := describeFailure(err, s.cc.v3())
	return cli.Exit(s.rep.errorText(msg, hint), code)
}

// describeFailure explains err in one line, with a hint and exit code.
func describeFailure(err error, v3 bool) (msg, hint string, code int) {
	var (
		ce  *client.ConnackError
		te  *client.TLSError
		de  *client.DialError
		to  *client.TimeoutError
		sd  *client.ServerDisconnectError
		ae  *client.AckError
		se  *client.SubackError
		pe  *client.ProtocolError
		cle *client.ConnectionLostError
	)
	code = cliutil.ExitError
	switch {
	case errors.As(err, &ce):
		rc := ce.Code
		if v3 {
			rc = mqtt.ReasonCode(ce.ReturnCode)
		}
		return cliutil.ConnackMessage(rc, v3), cliutil.Hint(rc, v3), ce.ExitCode()
	case errors.As(err, &te):
		return "Error: TLS handshake failed: " + te.Err.Error(), cliutil.TLSHint(te.Err), code
	case errors.As(err, &de):
		hint = cliutil.NetHint(de.Err)
		if px := (*client.ProxyError)(nil); errors.As(de.Err, &px) {
			hint = proxyHint(px)
		}
		return fmt.Sprintf("Error: cannot connect to %s: %v", de.Addr, de.Err), hint, code
	case errors.As(err, &to):
		return "Error: " + to.Error(), cliutil.NetHint(to), code
	case errors.As(err, &sd):
		msg = "Error: the broker closed the connection: " + cliutil.Describe(sd.Code, false)
		if sd.ReasonString != "" {
			msg += ": " + sd.ReasonString
		}
		if c := cliutil.ReasonExitCode(sd.Code); c != 0 {
			code = c
		}
		return msg, cliutil.Hint(sd.Code, false), code
	case errors.As(err, &ae):
		what := "publish"
		msg = fmt.Sprintf("Error: %s refused by the broker (%s): %s", what, ae.Kind, cliutil.Describe(ae.Code, false))
		if ae.ReasonString != "" {
			msg += ": " + ae.ReasonString
		}
		if c := cliutil.ReasonExitCode(ae.Code); c != 0 {
			code = c
		}
		return msg, cliutil.Hint(ae.Code, false), code
	case errors.As(err, &se):
		msg = fmt.Sprintf("Error: subscription to '%s' refused: %s", se.Filter, cliutil.Describe(se.Code, v3))
		if c := cliutil.ReasonExitCode(se.Code); c != 0 {
			code = c
		}
		return msg, cliutil.Hint(se.Code, v3), code
	case errors.As(err, &pe):
		return "Error: " + pe.Error(), cliutil.Hint(pe.Code, false), code
	case errors.As(err, &cle):
		return "Error: the connection was lost: " + cle.Err.Error(), cliutil.NetHint(cle.Err), code
	case errors.Is(err, context.Canceled):
		return "Error: interrupted", "", code
	case errors.Is(err, client.ErrClosed):
		return "Error: the connection was closed", "", code
	}
	return "Error: " + err.Error(), "", code
}

// proxyHint says which side of a SOCKS5 proxy failed: the proxy itself
// (not running, wrong --proxy) or its way to the broker (-h/-p as the
// proxy resolves and reaches them). Authentication failures explain
// themselves.
func proxyHint(px *client.ProxyError) string {
	var ne net.Error
	switch {
	case px.Reply != 0:
		return "the proxy could not reach the broker: check -h/-p as seen from " + px.Proxy
	case errors.As(px.Err, &ne), errors.Is(px.Err, syscall.ECONNREFUSED):
		return "is a SOCKS5 proxy running at " + px.Proxy + ", and is --proxy right?"
	}
	return ""
}
