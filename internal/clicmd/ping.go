package clicmd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/cliutil"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// mqpub --ping: a round-trip check through the broker, in the manner of
// ping(8). One connection subscribes to a probe topic and publishes
// numbered probes to it; the broker sends each back (we subscribe without
// No Local, so our own messages are forwarded to us [MQTT-3.8.3-3]) and
// the time from just before the publish call to the message callback is
// the round trip.

// pingPrefix starts every probe payload: "mqkit-ping NONCE SEQ". The nonce
// is new for every run, so stray messages on the topic (another mqpub
// --ping, a persistent session's backlog) are not taken for echoes.
const pingPrefix = "mqkit-ping "

// pinger is one mqpub --ping run.
type pinger struct {
	s     *session
	pc    *pubConfig
	cl    *client.Client
	nonce string
	topic string
	label string // where the probes go: host:port, or the URL or socket

	// Events from the client's reader (echoes) and from the QoS 1/2
	// token watchers (refusals). The queue is unbounded: the reader must
	// never wait for the main loop, which may itself be waiting in
	// Publish for an inflight slot only the reader can free.
	mu     sync.Mutex
	events []pingEvent
	wake   chan struct{} // capacity 1: "events is not empty"

	started  bool // subscribed; the summary is due
	begin    time.Time
	probes   []probe // probes[seq-1]
	oldest   int     // index of the first probe whose fate is unknown
	received int
	lost     int
	rtt      rttStats
	refusal  error           // first publish refused in PUBACK/PUBREC (v5)
	tokens   []*client.Token // QoS 1/2 flows, to let them complete
}

type probeState uint8

const (
	probeWaiting probeState = iota
	probeReceived
	probeLost
)

type probe struct {
	sent  time.Time // monotonic: just before the publish call
	state probeState
}

// pingEvent is an echo (at, qos) or, with refused set, the broker's
// refusal of the probe's PUBLISH.
type pingEvent struct {
	seq     int
	at      time.Time
	qos     mqtt.QoS
	refused error
}

// rttStats accumulates round-trip times in milliseconds.
type rttStats struct {
	n                   int
	min, max, sum, sum2 float64
}

func (r *rttStats) add(ms float64) {
	if r.n == 0 || ms < r.min {
		r.min = ms
	}
	if ms > r.max {
		r.max = ms
	}
	r.n++
	r.sum += ms
	r.sum2 += ms * ms
}

// mdev is ping(8)'s: the standard deviation sqrt(E[x²] - E[x]²).
func (r *rttStats) avgMdev() (avg, mdev float64) {
	avg = r.sum / float64(r.n)
	return avg, math.Sqrt(max(r.sum2/float64(r.n)-avg*avg, 0))
}

func runPing(ctx context.Context, s *session, pc *pubConfig) error {
	pg := &pinger{s: s, pc: pc, nonce: randomID(12), wake: make(chan struct{}, 1), label: endpointLabel(s.cc.opts.Endpoint)}
	cl, err := s.connect(ctx, handlers{onMessage: pg.onMessage})
	if err != nil {
		return err
	}
	pg.cl = cl
	pg.topic = pg.probeTopic()
	if err = pg.subscribe(ctx); err == nil {
		pg.started = true
		fmt.Fprintf(s.out, "PING %s topic %s qos=%d: %d probes, every %s s, lost after %s s\n",
			pg.label, pg.topic, pc.qos, pc.repeat, seconds(pg.interval()), seconds(pc.timeout))
		err = pg.loop(ctx)
	}
	return pg.finish(ctx, err)
}

// endpointLabel names the broker in the output: host:port for plain
// MQTT, else the URL (ws://host:port/path, mqtts://...) or unix:PATH.
func endpointLabel(ep client.Endpoint) string {
	if ep.Scheme == "" || ep.Scheme == "mqtt" {
		return ep.Addr()
	}
	return ep.String()
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }

func (pg *pinger) interval() time.Duration {
	return time.Duration(pg.pc.repeatDelay * float64(time.Second))
}

// probeTopic is -t, or mqkit/ping/ with the client id (the one the broker
// assigned for v5), or a random suffix when there is none or it holds a
// wildcard character [MQTT-4.7.1-1].
func (pg *pinger) probeTopic() string {
	if pg.pc.topic != "" {
		return pg.pc.topic
	}
	if id := pg.cl.ClientID(); id != "" {
		if t := "mqkit/ping/" + id; mqtt.ValidTopicName(t) == nil {
			return t
		}
	}
	return "mqkit/ping/" + randomID(12)
}

// subscribe subscribes to the probe topic at -q and waits for the SUBACK;
// a refusal is returned as *client.SubackError.
func (pg *pinger) subscribe(ctx context.Context) error {
	cc := pg.s.cc
	sub := &mqtt.Subscribe{Subscriptions: []mqtt.Subscription{{Filter: pg.topic, QoS: pg.pc.qos}}}
	if cc.version == mqtt.V5 {
		sub.Props = cc.props.Subscribe
	}
	ack, err := pg.cl.Subscribe(ctx, sub)
	if err != nil {
		return err
	}
	if cc.debug {
		fmt.Fprintf(pg.s.out, "Subscribed (mid: %d): %d\n", ack.PacketID, byte(ack.Codes[0]))
	}
	return client.SubackErr(sub, ack)
}

// onMessage runs on the client's reader goroutine: it timestamps our
// echoes and queues them for the main loop.
func (pg *pinger) onMessage(p *mqtt.Publish) bool {
	rest, ok := strings.CutPrefix(string(p.Payload), pingPrefix+pg.nonce+" ")
	if !ok {
		return true // not ours
	}
	seq, err := strconv.Atoi(rest)
	if err != nil {
		return true
	}
	pg.mu.Lock()
	// The time is taken under the lock, so that every echo received
	// before the main loop's "now" is in the batch it takes.
	pg.events = append(pg.events, pingEvent{seq: seq, at: time.Now(), qos: p.QoS})
	pg.mu.Unlock()
	pg.signal()
	return true
}

func (pg *pinger) push(ev pingEvent) {
	pg.mu.Lock()
	pg.events = append(pg.events, ev)
	pg.mu.Unlock()
	pg.signal()
}

func (pg *pinger) signal() {
	select {
	case pg.wake <- struct{}{}:
	default:
	}
}

// take returns the queued events and the time they were all received by.
func (pg *pinger) take() (time.Time, []pingEvent) {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	now := time.Now()
	evs := pg.events
	pg.events = nil
	return now, evs
}

// loop sends the probes every --repeat-delay, whatever the echoes do (as
// ping(8)), and settles each one: echoed within -W, or lost. It returns
// when every probe is settled, ctx ends (Ctrl-C) or the connection is lost.
func (pg *pinger) loop(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var next time.Time // when the next probe is due
	for {
		now, evs := pg.take()
		for _, ev := range evs {
			pg.settle(ev)
		}
		for pg.oldest < len(pg.probes) {
			pr := &pg.probes[pg.oldest]
			if pr.state == probeWaiting {
				if now.Before(pr.sent.Add(pg.pc.timeout)) {
					break
				}
				pr.state = probeLost
				pg.lost++
				pg.printLost(pg.oldest+1, fmt.Sprintf("no echo within %s s", seconds(pg.pc.timeout)))
			}
			pg.oldest++
		}
		more := len(pg.probes) < pg.pc.repeat
		if !more && pg.oldest == len(pg.probes) {
			return nil
		}
		if more && !now.Before(next) {
			if err := pg.send(ctx); err != nil {
				return err
			}
			next = pg.probes[len(pg.probes)-1].sent.Add(pg.interval())
			continue
		}
		// Sleep until the next probe is due or the oldest one expires.
		var wake time.Time
		if more {
			wake = next
		}
		if pg.oldest < len(pg.probes) {
			if d := pg.probes[pg.oldest].sent.Add(pg.pc.timeout); wake.IsZero() || d.Before(wake) {
				wake = d
			}
		}
		timer.Reset(time.Until(wake))
		select {
		case <-timer.C:
		case <-pg.wake:
		case <-ctx.Done():
			return ctx.Err()
		case <-pg.cl.Done():
			if err := pg.cl.Err(); err != nil {
				return err
			}
			return client.ErrClosed
		}
	}
}

// send publishes the next probe.
func (pg *pinger) send(ctx context.Context) error {
	seq := len(pg.probes) + 1
	msg := &mqtt.Publish{Topic: pg.topic, QoS: pg.pc.qos,
		Payload: []byte(pingPrefix + pg.nonce + " " + strconv.Itoa(seq))}
	if pg.cl.Version() == mqtt.V5 {
		msg.Props = pg.s.cc.props.Publish
	}
	pg.probes = append(pg.probes, probe{sent: time.Now()})
	if pg.begin.IsZero() {
		pg.begin = pg.probes[0].sent
	}
	tok, err := pg.cl.Publish(ctx, msg)
	if err != nil {
		pg.probes = pg.probes[:seq-1] // never sent
		return err
	}
	if pg.pc.qos > 0 {
		pg.watch(seq, tok)
	}
	return nil
}

// watch turns a v5 PUBACK/PUBREC failure (e.g. 0x87 not authorized) into
// an event, so the probe is reported lost at once with the reason instead
// of after -W; it keeps the token for finish.
func (pg *pinger) watch(seq int, tok *client.Token) {
	if len(pg.tokens) >= 1024 {
		kept := pg.tokens[:0]
		for _, t := range pg.tokens {
			select {
			case <-t.Done():
			default:
				kept = append(kept, t)
			}
		}
		clear(pg.tokens[len(kept):])
		pg.tokens = kept
	}
	pg.tokens = append(pg.tokens, tok)
	go func() {
		<-tok.Done() // at the latest when the connection ends
		var ae *client.AckError
		if err := tok.Err(); errors.As(err, &ae) {
			pg.push(pingEvent{seq: seq, refused: err})
		}
	}()
}

// settle applies one event. Duplicates (a QoS 1 message may arrive twice)
// and echoes after the probe was counted lost are ignored, as ping(8)
// ignores late replies in its counts.
func (pg *pinger) settle(ev pingEvent) {
	if ev.seq < 1 || ev.seq > len(pg.probes) {
		return
	}
	pr := &pg.probes[ev.seq-1]
	if pr.state != probeWaiting {
		return
	}
	if ev.refused != nil {
		pr.state = probeLost
		pg.lost++
		if pg.refusal == nil {
			pg.refusal = ev.refused
		}
		var ae *client.AckError
		errors.As(ev.refused, &ae)
		pg.printLost(ev.seq, fmt.Sprintf("refused in %s: %s", ae.Kind, cliutil.Describe(ae.Code, false)))
		return
	}
	rtt := ev.at.Sub(pr.sent)
	if rtt >= pg.pc.timeout {
		return // too late: the expiry pass counts it lost
	}
	pr.state = probeReceived
	pg.received++
	ms := float64(rtt) / float64(time.Millisecond)
	pg.rtt.add(ms)
	fmt.Fprintf(pg.s.out, "reply from %s: seq=%d qos=%d time=%.3f ms\n", pg.label, ev.seq, ev.qos, ms)
}

func (pg *pinger) printLost(seq int, why string) {
	fmt.Fprintln(pg.s.out, pg.s.pal.Warning.Sprintf("seq=%d lost (%s)", seq, why))
}

// summary prints ping(8)'s statistics. Probes still awaiting their echo
// after Ctrl-C count as sent and not received, as in ping(8).
func (pg *pinger) summary() {
	sent := len(pg.probes)
	loss := 0.0
	if sent > 0 {
		loss = float64(sent-pg.received) * 100 / float64(sent)
	}
	var elapsed time.Duration
	if !pg.begin.IsZero() {
		elapsed = time.Since(pg.begin)
	}
	fmt.Fprintf(pg.s.out, "\n--- %s mqtt ping statistics ---\n", pg.label)
	fmt.Fprintf(pg.s.out, "%d sent, %d received, %.6g%% loss, time %d ms\n", sent, pg.received, loss, elapsed.Milliseconds())
	if pg.rtt.n > 0 {
		avg, mdev := pg.rtt.avgMdev()
		fmt.Fprintf(pg.s.out, "rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n", pg.rtt.min, avg, pg.rtt.max, mdev)
	}
}

// finish prints the summary, lets the QoS 1/2 flows complete, leaves a
// lasting session as it found it, disconnects and picks the exit status:
// the error that ended the run; a refused probe's reason code; 1 when a
// probe was lost; else 0. Ctrl-C is not an error: the status then says
// whether every probe sent so far came back.
func (pg *pinger) finish(ctx context.Context, err error) error {
	interrupted := err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err())
	if pg.started {
		pg.summary()
	}
	if err == nil {
		pg.waitFlows(ctx)
	}
	conn := pg.s.cc.opts.Connect
	if (err == nil || interrupted) && pg.started && (!conn.CleanStart || conn.Props.SessionExpiry > 0) {
		pg.unsubscribe(ctx)
	}
	var connErr error
	select {
	case <-pg.cl.Done():
		connErr = pg.cl.Err()
	default:
		if derr := pg.s.disconnect(ctx, pg.cl); derr != nil && (err == nil || interrupted) {
			return derr
		}
	}
	switch {
	case err != nil && !interrupted:
		return pg.s.fail(err)
	case connErr != nil:
		return pg.s.fail(connErr)
	case pg.refusal != nil:
		return pg.s.fail(pg.refusal)
	case pg.received < len(pg.probes):
		return cli.Exit("", cliutil.ExitError) // the summary says it
	}
	return nil
}

// waitFlows waits (at most -W) for the PUBACK/PUBCOMP of QoS 1/2 probes,
// which may come after their echo, so the DISCONNECT does not cut a flow
// short.
func (pg *pinger) waitFlows(ctx context.Context) {
	wctx, cancel := context.WithTimeout(ctx, pg.pc.timeout)
	defer cancel()
	for _, t := range pg.tokens {
		if t.Wait(wctx) != nil && wctx.Err() != nil {
			return
		}
	}
}

// unsubscribe removes the probe subscription from a session that outlives
// the connection (-c, or a v5 session expiry), so it does not collect
// messages once mqpub is gone. Best effort, within 5 s even after Ctrl-C.
func (pg *pinger) unsubscribe(ctx context.Context) {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	u := &mqtt.Unsubscribe{Filters: []string{pg.topic}}
	if pg.s.cc.version == mqtt.V5 {
		u.Props = pg.s.cc.props.Unsubscribe
	}
	if _, err := pg.cl.Unsubscribe(uctx, u); err != nil {
		msg, hint, _ := describeFailure(err, pg.s.cc.v3())
		pg.s.rep.warn(strings.Replace(msg, "Error: ", "Warning: unsubscribing from the probe topic: ", 1), hint)
	}
}
