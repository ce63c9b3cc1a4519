package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// The slow-consumer scenario (issue 12 item 6): what one subscriber that
// stops reading now and then costs a publisher. One publisher publishes
// as fast as it can (QoS 0 by default) for Duration in each of two
// phases: first to a topic only the normal subscriber reads (the
// baseline), then to a topic the slow subscriber reads too. From the
// start of the second phase the slow subscriber alternates Pause without
// reading with Drain of reading as fast as it can. Each phase has its own
// publisher connection (so its stamps are its own), one after the other:
// there is one publisher at a time. The result gives the publisher's
// messages/s in each phase and the longest time the broker held it
// between two publishes. Should the broker close the publisher's
// connection, it connects again (a new client id) and goes on with the
// next sequence number until its phase ends; the result counts the
// reconnections and reports the error.

// SlowStats is the slow scenario's result.
type SlowStats struct {
	PhaseSeconds float64    `json:"phase_s"` // publishing time asked for, per phase
	PauseSeconds float64    `json:"pause_s"`
	DrainSeconds float64    `json:"drain_s"`
	Baseline     PhaseStats `json:"baseline"`  // the normal subscriber only
	WithSlow     PhaseStats `json:"with_slow"` // the slow subscriber too
	// ChangePct is the publisher's rate with the slow subscriber relative
	// to the baseline, in percent (-76 = 76 % slower).
	ChangePct float64 `json:"change_pct"`
	// The slow subscriber: what it received of the second phase and how
	// many pauses it took.
	SlowExpected uint64 `json:"slow_expected"`
	SlowReceived uint64 `json:"slow_received"`
	Pauses       int64  `json:"pauses"`
}

// PhaseStats is the publisher's side of one phase.
type PhaseStats struct {
	Sent    uint64  `json:"sent"`
	Seconds float64 `json:"seconds"`
	Rate    float64 `json:"rate"` // sent / seconds
	// MaxStallMs is the longest time between two consecutive publishes;
	// Stalls1s counts those over a second.
	MaxStallMs float64 `json:"max_stall_ms"`
	Stalls1s   uint64  `json:"stalls_over_1s"`
	Reconnects int     `json:"reconnects,omitempty"` // connections the broker closed
}

func runSlow(ctx context.Context, cfg Config, progress io.Writer) (*Result, error) {
	f := &flow{cfg: cfg, runID: rand.Uint32(), epoch: time.Now(), stop: make(chan struct{})}
	if err := f.connectSlow(ctx); err != nil {
		f.teardown()
		return nil, err
	}
	sampler := newBrokerSampler(cfg.PID)
	sampler.sample()
	pl := &progressLine{w: progress}
	normal, slow := f.subs[0], f.subs[1]

	stop := "complete"
	base, reason := f.slowPhase(ctx, 0, "baseline", sampler, pl)
	var with PhaseStats
	if reason == "" {
		// The normal subscriber catches up before the second phase.
		f.settle(func() bool { return normal.unique.Load() >= base.Sent })
		slow.gateFrom.Store(int64(time.Since(f.epoch)))
		with, reason = f.slowPhase(ctx, 1, "with slow subscriber", sampler, pl)
	}
	close(slow.gateStop)
	if reason != "" {
		stop = reason
	}
	end := time.Now()
	sampler.sample()
	pl.clear()
	close(f.stop)
	f.settle(func() bool {
		return normal.unique.Load() >= base.Sent+with.Sent && slow.unique.Load() >= with.Sent
	})
	f.teardown()

	r := &Result{
		Scenario: Slow, Label: cfg.Label, Addr: cfg.Addr, Protocol: cfg.Version.String(),
		RunID: fmt.Sprintf("%08x", f.runID), QoS: int(cfg.QoS), Pubs: 1, Subs: 2,
		PayloadSize: cfg.PayloadSize, Stop: stop,
	}
	st := &SlowStats{
		PhaseSeconds: cfg.Duration.Seconds(), PauseSeconds: cfg.Pause.Seconds(), DrainSeconds: cfg.Drain.Seconds(),
		Baseline: base, WithSlow: with,
		SlowExpected: with.Sent, SlowReceived: slow.tracker.Received(1), Pauses: slow.pauses.Load(),
	}
	if st.Baseline.Rate > 0 {
		st.ChangePct = 100 * (st.WithSlow.Rate/st.Baseline.Rate - 1)
	}
	r.Slow = st
	r.Sent = base.Sent + with.Sent
	if n := base.Reconnects + with.Reconnects; n > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("the broker closed the publisher's connection %d time(s); it connected again", n))
	}
	for _, p := range f.pubs {
		r.Acked += p.acked.Load()
		r.BogusAcks += p.bogus.Load()
		if err := p.firstErr(); err != nil {
			r.Errors = append(r.Errors, err.Error())
		}
	}
	// Loss, duplicates and latency are the normal subscriber's: the
	// broker may drop QoS 0 messages for the slow one.
	r.Expected = r.Sent
	c := normal.tracker.Counts()
	r.Received, r.Duplicates, r.Reordered, r.Foreign = c.Unique, c.Duplicates, c.Reordered, c.Foreign+normal.unstamped
	r.DupQoS1, r.DupQoS2, r.OverQoS = normal.dupQoS[1], normal.dupQoS[2], normal.overQoS+slow.overQoS
	r.Lost, r.LossPct = Loss(r.Expected, r.Received)
	r.PublishSeconds = base.Seconds + with.Seconds
	if r.PublishSeconds > 0 {
		r.PublishRate = float64(r.Sent) / r.PublishSeconds
	}
	r.Latency = normal.hist.Summary()
	r.Broker = sampler.stats(end)
	if sampler != nil && sampler.err != nil {
		r.Errors = append(r.Errors, sampler.err.Error())
	}
	for _, s := range f.subs {
		if err := s.firstErr(); err != nil {
			r.Errors = append(r.Errors, err.Error())
		}
	}
	return r, nil
}

// connectSlow opens the normal subscriber (filter PREFIX/slow/+), the
// slow one (PREFIX/slow/with) and the two phases' publishers
// (PREFIX/slow/without, PREFIX/slow/with), then starts the read loops.
func (f *flow) connectSlow(ctx context.Context) error {
	cfg := &f.cfg
	opts := DialOptions{Addr: cfg.Addr, Version: cfg.Version, Timeout: cfg.ConnectTimeout}
	prefix := cfg.TopicPrefix + "/slow/"
	filters := []string{prefix + "+", prefix + "with"}
	f.subs = make([]*subscriber, 2)
	for i, filter := range filters {
		o := opts
		o.Addr = cfg.addrFor(i, 0)
		c, err := Dial(ctx, o, f.subID(i))
		if err != nil {
			return fmt.Errorf("subscribers: %w", err)
		}
		s := &subscriber{c: c, idx: i, epoch: f.epoch, tracker: NewTracker(f.runID, 2, cfg.maxSeq())}
		f.subs[i] = s
		if s.granted, err = c.Subscribe(filter, cfg.QoS, cfg.ConnectTimeout); err != nil {
			return fmt.Errorf("subscribers: %w", err)
		}
	}
	slow := f.subs[1]
	slow.pause, slow.drain, slow.gateStop = cfg.Pause, cfg.Drain, make(chan struct{})
	f.pubs = make([]*publisher, 2)
	for i, topic := range []string{prefix + "without", prefix + "with"} {
		o := opts
		o.Addr = cfg.addrFor(i, 1)
		c, err := Dial(ctx, o, fmt.Sprintf("mqbench-%08x-p%d", f.runID, i))
		if err != nil {
			return fmt.Errorf("publishers: %w", err)
		}
		p := newPublisher(c, uint32(i), cfg.QoS, cfg.Inflight)
		f.pubs[i] = p
		if cfg.QoS > c.MaxQoS {
			return fmt.Errorf("broker's Maximum QoS is %d", c.MaxQoS)
		}
		p.runID, p.epoch, p.topic, p.count = f.runID, f.epoch, topic, cfg.perPublisher(0)
		if p.payload, err = NewPayload(cfg.PayloadSize); err != nil {
			return err
		}
	}
	f.startReaders()
	return nil
}

// slowPhase runs phase i's publisher for cfg.Duration, connecting it
// again should the broker close it, and returns what it did, or why the
// run stops: interrupted, a publisher still blocked Stall + Pause after
// its phase ended, or a failed reconnection.
func (f *flow) slowPhase(ctx context.Context, i int, name string, sampler *brokerSampler, pl *progressLine) (PhaseStats, string) {
	cfg := &f.cfg
	p := f.pubs[i]
	t0 := time.Now()
	p.until = t0.Add(cfg.Duration)
	hard := p.until.Add(cfg.Stall + cfg.Pause)
	var ps PhaseStats
	account := func(p *publisher, reason string) (PhaseStats, string) {
		ps.Sent = p.sent.Load() // sequence numbers go on across reconnections
		ps.Seconds = time.Since(t0).Seconds()
		if ps.Seconds > 0 {
			ps.Rate = float64(ps.Sent) / ps.Seconds
		}
		ps.MaxStallMs = max(ps.MaxStallMs, float64(p.maxGap.Load())/1e6)
		ps.Stalls1s += p.longGaps.Load()
		return ps, reason
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		done := make(chan struct{})
		f.pubWG.Add(1)
		go func() {
			defer f.pubWG.Done()
			defer close(done)
			p.run(f.stop)
		}()
	wait:
		for {
			select {
			case <-done:
				break wait
			case <-ctx.Done():
				return account(p, "interrupted")
			case now := <-tick.C:
				sampler.sample()
				sent := p.sent.Load()
				pl.update(now, "slow q%d | %s | %4.1fs | sent %d", sent, cfg.QoS, name, now.Sub(t0).Seconds(), sent)
				if now.After(hard) {
					return account(p, fmt.Sprintf("stalled: the %s publisher was still blocked %s after its phase ended",
						name, cfg.Stall+cfg.Pause))
				}
			}
		}
		if p.firstErr() == nil || !time.Now().Before(p.until) || ctx.Err() != nil {
			return account(p, "")
		}
		// The broker closed the connection (the error is reported).
		ps.Reconnects++
		account(p, "")
		np, err := f.redial(ctx, p, ps.Reconnects)
		if err != nil {
			return account(p, fmt.Sprintf("the %s publisher could not connect again: %v", name, err))
		}
		p = np
	}
}

// redial connects a publisher again after the broker closed old, to go
// on from its next sequence number.
func (f *flow) redial(ctx context.Context, old *publisher, n int) (*publisher, error) {
	cfg := &f.cfg
	opts := DialOptions{Addr: cfg.addrFor(int(old.idx), 1), Version: cfg.Version, Timeout: cfg.ConnectTimeout}
	c, err := Dial(ctx, opts, fmt.Sprintf("mqbench-%08x-p%d-r%d", f.runID, old.idx, n))
	if err != nil {
		return nil, err
	}
	p := newPublisher(c, old.idx, cfg.QoS, cfg.Inflight)
	p.runID, p.epoch, p.topic, p.count, p.payload = old.runID, old.epoch, old.topic, old.count, old.payload
	p.until, p.first = old.until, old.sent.Load()
	p.sent.Store(p.first)
	f.pubs = append(f.pubs, p)
	f.conns = append(f.conns, c)
	f.goRead(c, p.readLoop)
	return p, nil
}

// settle waits until done reports true or the deliveries stop moving for
// min(Stall, 1s) (QoS 0 messages may have been dropped), at most MaxDrain.
func (f *flow) settle(done func() bool) {
	quiet := min(f.cfg.Stall, time.Second)
	count := func() (n uint64) {
		for _, s := range f.subs {
			n += s.unique.Load()
		}
		return n
	}
	last, lastChange := count(), time.Now()
	for deadline := time.Now().Add(MaxDrain); time.Now().Before(deadline); {
		if done() {
			return
		}
		if n := count(); n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) >= quiet {
			return
		}
		// Counters have no change notification; poll them.
		time.Sleep(10 * time.Millisecond)
	}
}

func writeSlow(w io.Writer, title string, r *Result) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	s := r.Slow
	p("mqbench %s: %s MQTT %s, QoS %d, 1 publisher, a normal and a slow subscriber (%gs without reading, %gs reading), %d B payload, 2 x %gs\n",
		title, r.Addr, r.Protocol, r.QoS, s.PauseSeconds, s.DrainSeconds, r.PayloadSize, s.PhaseSeconds)
	phase := func(name string, ps PhaseStats, extra string) {
		p("  %-17s %10d msgs in %.3fs  (%s msgs/s%s)  longest stall %.0f ms, %d over 1 s", name, ps.Sent, ps.Seconds,
			humanRate(ps.Rate), extra, ps.MaxStallMs, ps.Stalls1s)
		if ps.Reconnects > 0 {
			p(", %s", bad(fmt.Sprintf("closed by the broker %d time(s)", ps.Reconnects)))
		}
		p("\n")
	}
	phase("without slow sub", s.Baseline, "")
	phase("with slow sub", s.WithSlow, fmt.Sprintf(", %+.0f %%", s.ChangePct))
	loss := good("0")
	if r.Lost > 0 {
		loss = bad(fmt.Sprintf("%d (%.3f%%)", r.Lost, r.LossPct))
	}
	p("  normal sub        received %d of %d, LOSS %s\n", r.Received, r.Expected, loss)
	p("  slow sub          received %d of %d in %d pauses %s\n", s.SlowReceived, s.SlowExpected, s.Pauses,
		dim("(at QoS 0 the broker may drop what it cannot queue)"))
	writeBroker(w, r.Broker)
	p("  stop       %s\n", r.Stop)
	writeNotes(w, r)
}
