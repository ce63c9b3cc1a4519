package clicmd

import (
	"context"
	"errors"
	"fmt"
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
}

func newSession(e *env, cc *connConfig) *session {
	errColor := cliutil.ColorEnabled(cc.noColor, e.getenv, e.stderrTTY)
	outColor := cliutil.ColorEnabled(cc.noColor, e.getenv, e.stdoutTTY)
	return &session{
		e: e, cc: cc,
		out: &syncWriter{w: e.stdout},
		rep: &reporter{w: e.stderr, quiet: cc.quiet, pal: cliutil.NewPalette(errColor)},
		pal: cliutil.NewPalette(outColor),
	}
}

// connect opens the connection, with the -d/--dump trace on stdout.
func (s *session) connect(ctx context.Context, onMessage func(*mqtt.Publish) bool) (*client.Client, error) {
	opts := s.cc.opts
	opts.OnMessage = onMessage
	if s.cc.debug {
		opts.Trace = client.TextTracer(s.out, s.cc.dump)
	}
	c, err := client.Connect(ctx, opts)
	if err != nil {
		return nil, s.fail(err)
	}
	return c, nil
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
		return fmt.Sprintf("Error: cannot connect to %s: %v", de.Addr, de.Err), cliutil.NetHint(de.Err), code
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
