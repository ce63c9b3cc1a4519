package clicmd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/cliutil"
	"github.com/mqkit/mqkit/internal/mqtt"
)

func runPub(c *cli.Context, e *env) error {
	cc, err := parseConn(c, e, pubV5Flags)
	if err != nil {
		return err
	}
	pc, err := parsePub(c, e, cc)
	if err != nil {
		return err
	}
	var payload []byte
	switch pc.mode {
	case "m":
		payload = []byte(c.String(flagMessage))
	case "f":
		if payload, err = os.ReadFile(c.String(flagFile)); err != nil {
			return cli.Exit(fmt.Sprintf("Error loading input file \"%s\": %v.", c.String(flagFile), errors.Unwrap(err)), cliutil.ExitError)
		}
	case "s":
		if payload, err = io.ReadAll(e.stdin); err != nil {
			return cli.Exit("Error reading stdin: "+err.Error(), cliutil.ExitError)
		}
		// As mosquitto_pub: an empty stdin is an error, and nothing is
		// published (-n sends an empty message on purpose).
		if len(payload) == 0 {
			return cli.Exit("Error: Zero length input.\nError loading input from stdin.", cliutil.ExitError)
		}
	}
	cc.opts.MaxInflight = pc.maxInflight
	s := newSession(e, cc)
	ctx := c.Context
	if pc.ping {
		return runPing(ctx, s, pc)
	}
	if pc.response != "" {
		return runRequest(ctx, s, pc, payload)
	}
	cl, err := s.connect(ctx, handlers{})
	if err != nil {
		return err
	}
	p := &pubRun{s: s, cl: cl, pc: pc}
	if pc.mode == "l" {
		err = p.lines(ctx, e.stdin)
	} else {
		err = p.repeat(ctx, payload)
	}
	return p.finish(ctx, err)
}

// pubRun publishes and tracks the outstanding acknowledgements.
type pubRun struct {
	s       *session
	cl      *client.Client
	pc      *pubConfig
	pending []pendingPub
	failed  error // first refused publish
	line    int   // lines read from stdin (-l)
	badLine bool  // a -l --topic-sep line was skipped
}

// pendingPub is a publish not yet known to be acknowledged, with its
// topic and payload for sending it again on a new connection (mqpub -l).
type pendingPub struct {
	tok     *client.Token
	topic   string
	payload []byte
}

func (p *pubRun) publish(ctx context.Context, payload []byte) (*client.Token, error) {
	return p.publishTo(ctx, p.pc.topic, payload)
}

func (p *pubRun) publishTo(ctx context.Context, topic string, payload []byte) (*client.Token, error) {
	msg := &mqtt.Publish{Topic: topic, Payload: payload, QoS: p.pc.qos, Retain: p.pc.retain}
	if p.cl.Version() == mqtt.V5 {
		msg.Props = p.s.cc.props.Publish
	}
	tok, err := p.cl.Publish(ctx, msg)
	if err != nil {
		return nil, err
	}
	p.pending = append(p.pending, pendingPub{tok, topic, payload})
	if len(p.pending) >= 1024 {
		p.prune()
	}
	return tok, nil
}

// prune drops finished tokens, remembering the first refusal.
func (p *pubRun) prune() {
	kept := p.pending[:0]
	for _, pp := range p.pending {
		select {
		case <-pp.tok.Done():
			p.check(pp.tok)
		default:
			kept = append(kept, pp)
		}
	}
	clear(p.pending[len(kept):])
	p.pending = kept
}

// check records a refused publish and warns about it.
func (p *pubRun) check(t *client.Token) {
	var ae *client.AckError
	if err := t.Err(); errors.As(err, &ae) {
		if p.failed == nil {
			p.failed = err
		} else {
			msg, hint, _ := describeFailure(err, false)
			p.s.rep.warn(msg, hint)
		}
	}
}

// repeat publishes payload pc.repeat times. As mosquitto_pub does, it
// waits for each delivery (written for QoS 0, PUBACK/PUBCOMP for QoS 1/2),
// then --repeat-delay, before the next publish.
func (p *pubRun) repeat(ctx context.Context, payload []byte) error {
	delay := time.Duration(p.pc.repeatDelay * float64(time.Second))
	for i := 0; i < p.pc.repeat; i++ {
		tok, err := p.publish(ctx, payload)
		if err != nil {
			return err
		}
		if i == p.pc.repeat-1 {
			break
		}
		if err := tok.Wait(ctx); err != nil && ctx.Err() != nil {
			return err
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// lines publishes each line of r (without its "\n") over the connection.
func (p *pubRun) lines(ctx context.Context, r io.Reader) error {
	type line struct {
		b   []byte
		err error
	}
	ch := make(chan line)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			b, err := br.ReadBytes('\n')
			if len(b) > 0 && b[len(b)-1] == '\n' {
				b = b[:len(b)-1]
			} else if len(b) == 0 && err != nil {
				b = nil
			}
			// A last line without "\n" is published too (mosquitto drops it).
			if b != nil || err == nil {
				select {
				case ch <- line{b: b}:
				case <-stop:
					return
				}
			}
			if err != nil {
				select {
				case ch <- line{err: err}:
				case <-stop:
				}
				return
			}
		}
	}()
	for {
		select {
		case l := <-ch:
			if l.err == io.EOF {
				return nil
			}
			if l.err != nil {
				return fmt.Errorf("reading stdin: %w", l.err)
			}
			p.line++
			topic, payload, ok := p.route(l.b)
			if !ok {
				continue
			}
			for {
				_, err := p.publishTo(ctx, topic, payload)
				if err == nil {
					break
				}
				if err = p.reconnect(ctx, err); err != nil {
					return err
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-p.cl.Done():
			if err := p.reconnect(ctx, p.cl.Err()); err != nil {
				return err
			}
		}
	}
}

// reconnect replaces a lost connection (mqpub -l, as mosquitto_pub -l,
// whose libmosquitto loop reconnects) and sends again, in order, the QoS
// 1/2 messages the old one had not completed: at least once, so a QoS 1
// message may arrive twice, as with any resend. Lines read meanwhile wait
// in the pipe. err is what ended the connection; it is returned as is
// when it is not a reason to reconnect.
func (p *pubRun) reconnect(ctx context.Context, err error) error {
	if !reconnectable(err) {
		return err
	}
	cl, rerr := p.s.reconnect(ctx, err, handlers{}, nil)
	if rerr != nil {
		return rerr
	}
	p.cl = cl
	var resend []pendingPub
	for _, pp := range p.pending {
		<-pp.tok.Done() // the old connection has ended: every token is done
		var ae *client.AckError
		if perr := pp.tok.Err(); perr != nil && !errors.As(perr, &ae) && p.pc.qos > 0 {
			resend = append(resend, pp)
			continue
		}
		p.check(pp.tok)
	}
	clear(p.pending)
	p.pending = p.pending[:0]
	for _, pp := range resend {
		if _, err := p.publishTo(ctx, pp.topic, pp.payload); err != nil {
			return p.reconnect(ctx, err)
		}
	}
	return nil
}

// finish waits for every acknowledgement, disconnects and reports.
func (p *pubRun) finish(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		for _, pp := range p.pending {
			if pp.tok.Wait(ctx) != nil && ctx.Err() != nil {
				break // interrupted
			}
		}
		p.prune() // records refusals; keeps what is still unacknowledged
	}
	var connErr error
	select {
	case <-p.cl.Done():
		connErr = p.cl.Err()
	default:
		if derr := p.s.disconnect(ctx, p.cl); derr != nil && err == nil {
			return derr
		}
	}
	switch {
	case err != nil && !errors.Is(err, context.Canceled):
		return p.s.fail(err)
	case connErr != nil:
		return p.s.fail(connErr)
	case p.failed != nil:
		return p.s.fail(p.failed)
	case len(p.pending) > 0:
		return cli.Exit(p.s.rep.errorText("Error: interrupted before every message was acknowledged.", ""), cliutil.ExitError)
	case p.badLine:
		return cli.Exit("", cliutil.ExitError) // each skipped line was reported
	}
	return nil
}

// route splits a -l line into its topic and payload. Without
// --topic-sep every line goes to -t. With it, the topic is what comes
// before the first separator; a line without one goes to -t, or, when
// there is no -t, is reported and skipped, as is a line whose topic is
// not a valid topic name (mqpub then exits 1 once the rest is sent).
func (p *pubRun) route(line []byte) (topic string, payload []byte, ok bool) {
	sep := p.pc.topicSep
	if sep == "" {
		return p.pc.topic, line, true
	}
	t, rest, found := bytes.Cut(line, []byte(sep))
	switch {
	case !found && p.pc.topic == "":
		p.skip("no %q separator and no -t topic", sep)
		return "", nil, false
	case !found:
		return p.pc.topic, line, true
	}
	topic = string(t)
	// [MQTT-4.7.3-1]: at least one character; [MQTT-3.3.2-2]: no wildcards
	// in a topic name; [MQTT-4.7.3-2]: UTF-8 without U+0000.
	if err := mqtt.ValidTopicName(topic); err != nil {
		switch {
		case topic == "":
			p.skip("empty topic before the %q separator", sep)
		case strings.ContainsAny(topic, "+#"):
			p.skip("invalid topic '%s', does it contain '+' or '#'?", topic)
		default:
			p.skip("invalid topic: not valid UTF-8, contains U+0000 or is longer than 65535 bytes")
		}
		return "", nil, false
	}
	return topic, rest, true
}

// skip reports a -l line that cannot be published and remembers it for
// the exit status.
func (p *pubRun) skip(format string, a ...any) {
	p.badLine = true
	if msg := p.s.rep.errorText(fmt.Sprintf("Error: line %d: ", p.line)+fmt.Sprintf(format, a...), ""); msg != "" {
		fmt.Fprintln(p.s.rep.w, msg)
	}
}
