package clicmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/cliutil"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// mqpub -e: request/response, as mosquitto_rr. One MQTT 5 connection
// subscribes to the response topic, publishes the message with the
// Response Topic and Correlation Data properties, prints the first
// response and exits.
//
// Unlike mosquitto_rr, which sends no Correlation Data unless given with
// -D and prints whatever message comes first, mqpub always sends one (a
// random one unless -D publish correlation-data gives it) and skips the
// messages on the response topic that cannot be the response:
//   - those with another Correlation Data (the reply to another request);
//   - those received before the request was published (a persistent
//     session's backlog), and retained ones (sent because we subscribed;
//     a forwarded message has its RETAIN flag cleared [MQTT-3.3.1-12]);
//   - those on other topics (older subscriptions of a -c session).
//
// A message without Correlation Data is taken as the response: many
// responders do not echo it.

// flagResponseTopic is mosquitto_rr's -e.
const flagResponseTopic = "response-topic"

// catRequest is the help category of -e and of the options that print
// its response.
const catRequest = "Request/response (-e, MQTT 5)"

// pubV5Flags are the mqpub flags that need MQTT 5: they switch to it, or
// conflict with an explicit -V 31/311. mosquitto_rr also defaults to v5,
// but with -V 311 sends the request without properties, so nothing tells
// the responder where to answer; mqpub refuses that instead.
var pubV5Flags = map[string]string{flagResponseTopic: "-e"}

// responseOutputFlags print the response; they need -e.
var responseOutputFlags = []string{flagVerbose, flagNoEOL, flagFormat, flagPretty, flagJSON}

// requestCorrLen is the length of the random Correlation Data: letters
// and digits (about 95 bits), so that a responder written as a shell
// pipeline can pass it on as an argument (-D publish correlation-data).
const requestCorrLen = 16

// parseRequest checks -e and reads -W and the output options.
func parseRequest(c *cli.Context, e *env, cc *connConfig, pc *pubConfig) error {
	name := e.name
	pc.response = c.String(flagResponseTopic)
	switch {
	case cc.version != mqtt.V5:
		return usageErr(name, "Error: -e needs MQTT 5; use -V 5 (or drop -V).")
	// [MQTT-3.3.2-14]: the Response Topic is a topic name, no wildcards.
	case mqtt.ValidTopicName(pc.response) != nil:
		return usageErr(name, "Error: Invalid response topic '%s', does it contain '+' or '#'?", pc.response)
	// It is also our subscription's filter: "$share/g/t" would be a shared
	// subscription to t, which the responses never reach.
	case strings.HasPrefix(pc.response, mqtt.SharePrefix):
		return usageErr(name, "Error: Invalid response topic '%s': it cannot start with %s.", pc.response, mqtt.SharePrefix)
	case cc.props.Publish.Has(mqtt.PropResponseTopic):
		return usageErr(name, "Error: -e and -D publish response-topic cannot be used together.")
	}
	if c.IsSet(flagTimeout) {
		w, err := parseWait(c, e, cc)
		if err != nil {
			return err
		}
		pc.timeout = w
	}
	pc.out = cliutil.OutputOptions{
		Format: c.String(flagFormat), JSON: c.Bool(flagJSON), Verbose: c.Bool(flagVerbose),
		NoEOL: c.Bool(flagNoEOL), Pretty: c.Bool(flagPretty),
	}
	if pc.out.JSON && c.IsSet(flagFormat) {
		return usageErr(name, "Error: --json and -F cannot be used together.")
	}
	if c.IsSet(flagFormat) {
		pc.out.FormatSet = true
		if err := cliutil.ValidateFormat(pc.out.Format); err != nil {
			return usageErr(name, "%s", err)
		}
	}
	return nil
}

// requester is one mqpub -e run.
type requester struct {
	s       *session
	pc      *pubConfig
	payload []byte
	cl      *client.Client
	corr    []byte        // the request's Correlation Data
	tok     *client.Token // the request's publish
	// subscribed: the broker accepted the response subscription;
	// answered: the response came (and the run's error is print's).
	subscribed, answered bool
	// sent is set just before the request is published: no message
	// received earlier can be its response.
	sent  atomic.Bool
	reply chan *mqtt.Publish // capacity 1: the response
}

func runRequest(parent context.Context, s *session, pc *pubConfig, payload []byte) error {
	ctx, cancel := parent, context.CancelFunc(func() {})
	if pc.timeout > 0 {
		ctx, cancel = context.WithTimeout(parent, pc.timeout)
	}
	defer cancel()
	rq := &requester{s: s, pc: pc, payload: payload, reply: make(chan *mqtt.Publish, 1)}
	if p := &s.cc.props.Publish; p.Has(mqtt.PropCorrelationData) {
		rq.corr = p.CorrelationData
	} else {
		rq.corr = []byte(randomID(requestCorrLen))
	}
	cl, err := s.connect(ctx, handlers{onMessage: rq.onMessage})
	if err != nil {
		return rq.status(parent, ctx, err)
	}
	rq.cl = cl
	reply, err := rq.exchange(ctx)
	if reply != nil {
		rq.answered = true
		err = rq.print(reply)
	}
	return rq.finish(parent, ctx, err)
}

// onMessage runs on the client's reader goroutine; it passes the
// response on to exchange and skips (acknowledging them) the messages
// that cannot be it.
func (rq *requester) onMessage(p *mqtt.Publish) bool {
	if !rq.sent.Load() || p.Retain || p.Topic != rq.pc.response {
		return true
	}
	if p.Props.Has(mqtt.PropCorrelationData) && !bytes.Equal(p.Props.CorrelationData, rq.corr) {
		return true // the response to another request
	}
	select {
	case rq.reply <- p:
	default: // a later one: only the first is printed
	}
	return true
}

// exchange subscribes to the response topic, publishes the request and
// waits for the response, ctx's end (-W, Ctrl-C), the end of the
// connection or the broker's refusal of the request.
func (rq *requester) exchange(ctx context.Context) (*mqtt.Publish, error) {
	cc, pc := rq.s.cc, rq.pc
	// No Local: our own request (-t = -e) is not a response. Retain
	// Handling 2: a retained message on the topic is older than the
	// request.
	sub := &mqtt.Subscribe{
		Subscriptions: []mqtt.Subscription{{Filter: pc.response, QoS: pc.qos, NoLocal: true, RetainHandling: 2}},
		Props:         cc.props.Subscribe,
	}
	ack, err := rq.cl.Subscribe(ctx, sub)
	if err != nil {
		return nil, err
	}
	if err := client.SubackErr(sub, ack); err != nil {
		return nil, err
	}
	if cc.debug {
		fmt.Fprintf(rq.s.out, "Subscribed (mid: %d): %d\n", ack.PacketID, byte(ack.Codes[0]))
	}
	rq.subscribed = true

	props := cc.props.Publish
	props.SetResponseTopic(pc.response)
	props.SetCorrelationData(rq.corr)
	rq.sent.Store(true)
	tok, err := rq.cl.Publish(ctx, &mqtt.Publish{Topic: pc.topic, Payload: rq.payload, QoS: pc.qos, Props: props})
	if err != nil {
		return nil, err
	}
	rq.tok = tok
	acked := tok.Done()
	for {
		select {
		case p := <-rq.reply:
			return p, nil
		case <-acked:
			acked = nil
			var ae *client.AckError
			if err := tok.Err(); errors.As(err, &ae) {
				return nil, err // refused: no responder will see it
			}
			if a, ok := tok.Result().(*mqtt.Ack); ok && a.Code == mqtt.NoMatchingSubscribers {
				rq.s.rep.warn(fmt.Sprintf("Warning: the broker says no one is subscribed to '%s' (PUBACK reason 0x10): the request reached no responder.",
					pc.topic), "")
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-rq.cl.Done():
			select {
			case p := <-rq.reply:
				return p, nil
			default:
			}
			if err := rq.cl.Err(); err != nil {
				return nil, err
			}
			return nil, client.ErrClosed
		}
	}
}

// print writes the response as mqsub would print it.
func (rq *requester) print(p *mqtt.Publish) error {
	s, o := rq.s, rq.pc.out
	m := cliutil.MessageFromPublish(p, time.Now())
	var (
		buf []byte
		err error
	)
	if s.pal.Enabled() && !o.FormatSet && !o.JSON {
		buf = s.pal.Human(nil, m, o.Verbose, !o.NoEOL)
	} else {
		buf, err = cliutil.Render(nil, &o, m)
	}
	if err != nil {
		var je *cliutil.JSONPayloadError
		if errors.As(err, &je) {
			s.rep.warn(je.Error(), "") // as mosquitto_rr: an error line, exit 0
			return nil
		}
		s.rep.warn("Error: "+err.Error(), "")
	}
	if len(buf) == 0 {
		return nil
	}
	if _, err := s.out.Write(buf); err != nil {
		return cli.Exit(s.rep.errorText("Error: writing output: "+err.Error(), ""), cliutil.ExitError)
	}
	return nil
}

// finish lets the request's QoS 1/2 flow complete once the response is
// printed, leaves a lasting session without the response subscription,
// disconnects and returns the exit status (see status).
func (rq *requester) finish(parent, ctx context.Context, err error) error {
	select {
	case <-rq.cl.Done():
		return rq.status(parent, ctx, err)
	default:
	}
	if rq.answered {
		wctx, cancel := context.WithTimeout(parent, 5*time.Second)
		rq.tok.Wait(wctx) // a refusal now changes nothing: the response came
		cancel()
	}
	conn := rq.s.cc.opts.Connect
	if rq.subscribed && (!conn.CleanStart || conn.Props.SessionExpiry > 0) {
		rq.unsubscribe(parent)
	}
	if derr := rq.s.disconnect(parent, rq.cl); derr != nil && err == nil {
		return derr
	}
	return rq.status(parent, ctx, err)
}

// status is the exit status for err, the error that ended the run: once
// the response came, 0 (or 1 when it could not be written out); before,
// 1 and "interrupted" after Ctrl-C (which kills mosquitto_rr); 27 and
// "Timed out" when -W expired, as mosquitto_rr; else the error's message
// and status (e.g. a refused request or subscription exits with the
// reason code, a lost connection with 1).
func (rq *requester) status(parent, ctx context.Context, err error) error {
	switch {
	case err == nil || rq.answered:
		return err
	case parent.Err() != nil:
		return cli.Exit(rq.s.rep.errorText("Error: interrupted before the response arrived.", ""), cliutil.ExitError)
	case ctx.Err() != nil:
		return cli.Exit(rq.s.rep.errorText("Timed out", ""), cliutil.ExitTimeout)
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return err
	}
	return rq.s.fail(err)
}

// unsubscribe removes the response subscription from a session that
// outlives the connection (-c, or a v5 session expiry), so that it does
// not collect messages once mqpub is gone. Best effort, within 5 s even
// after Ctrl-C.
func (rq *requester) unsubscribe(ctx context.Context) {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	u := &mqtt.Unsubscribe{Filters: []string{rq.pc.response}, Props: rq.s.cc.props.Unsubscribe}
	if _, err := rq.cl.Unsubscribe(uctx, u); err != nil {
		msg, hint, _ := describeFailure(err, false)
		rq.s.rep.warn(strings.Replace(msg, "Error: ", "Warning: unsubscribing from the response topic: ", 1), hint)
	}
}
