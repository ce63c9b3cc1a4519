package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

// Run executes one scenario and returns what it measured. An error means
// the run could not start (bad configuration, broker unreachable); what
// goes wrong once it runs is reported in Result.Errors and Result.Stop.
// When progress is non-nil a status line is written to it four times a
// second (the caller passes a terminal only).
func Run(ctx context.Context, cfg Config, progress io.Writer) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := CheckLoopback(cfg.Addr, cfg.AllowRemote); err != nil {
		return nil, err
	}
	switch cfg.Scenario {
	case Idle:
		return runIdle(ctx, cfg, progress)
	case Slow:
		return runSlow(ctx, cfg, progress)
	}
	return runFlow(ctx, cfg, progress)
}

// flow is one p2p, fanout or latency run.
type flow struct {
	cfg   Config
	runID uint32
	epoch time.Time
	pubs  []*publisher
	subs  []*subscriber
	conns []*Conn
	stop  chan struct{}
	pubWG sync.WaitGroup // publishers' send loops
	rdWG  sync.WaitGroup // read loops
}

// topic is publisher i's topic and subscriber i's filter.
func (f *flow) topic(i int) string {
	switch f.cfg.Scenario {
	case Fanout:
		return f.cfg.TopicPrefix + "/fanout"
	case Latency:
		return f.cfg.TopicPrefix + "/latency/" + strconv.Itoa(i)
	}
	return f.cfg.TopicPrefix + "/" + strconv.Itoa(i)
}

func runFlow(ctx context.Context, cfg Config, progress io.Writer) (*Result, error) {
	f := &flow{cfg: cfg, runID: rand.Uint32(), epoch: time.Now(), stop: make(chan struct{})}
	if err := f.connect(ctx); err != nil {
		f.teardown()
		return nil, err
	}
	sampler := newBrokerSampler(cfg.PID)
	sampler.sample()
	t0 := time.Now()
	until := t0.Add(cfg.publishLimit())
	for _, p := range f.pubs {
		p.until = until
		f.pubWG.Add(1)
		go func() {
			defer f.pubWG.Done()
			p.run(f.stop)
		}()
	}
	stopReason := f.monitor(ctx, t0, sampler, &progressLine{w: progress})
	end := time.Now()
	sampler.sample()
	close(f.stop)
	if stopReason == "interrupted" {
		// Messages already sent are not lost yet: give them a moment.
		f.drain(min(cfg.Stall, time.Second))
	}
	f.teardown()
	return f.result(t0, end, stopReason, sampler), nil
}

// connect opens the subscribers (and subscribes), then the publishers,
// then starts every read loop.
func (f *flow) connect(ctx context.Context) error {
	cfg := &f.cfg
	opts := DialOptions{Addr: cfg.Addr, Version: cfg.Version, Timeout: cfg.ConnectTimeout}
	subOpts := opts
	subOpts.Durable = cfg.Durable
	f.subs = make([]*subscriber, cfg.Subs)
	err := parallel(ctx, cfg.Subs, 32, func(i int) error {
		o := subOpts
		o.Addr = cfg.addrFor(i, 0)
		c, err := Dial(ctx, o, f.subID(i))
		if err != nil {
			return err
		}
		s := &subscriber{c: c, idx: i, epoch: f.epoch, warmup: cfg.Warmup,
			tracker: NewTracker(f.runID, cfg.Pubs, cfg.maxSeq())}
		f.subs[i] = s
		s.granted, err = c.Subscribe(f.topic(i), cfg.QoS, cfg.ConnectTimeout)
		return err
	})
	if err != nil {
		return fmt.Errorf("subscribers: %w", err)
	}
	f.pubs = make([]*publisher, cfg.Pubs)
	err = parallel(ctx, cfg.Pubs, 32, func(i int) error {
		o := opts
		o.Addr = cfg.addrFor(i, 1)
		c, err := Dial(ctx, o, fmt.Sprintf("mqbench-%08x-p%d", f.runID, i))
		if err != nil {
			return err
		}
		p := newPublisher(c, uint32(i), cfg.QoS, cfg.Inflight)
		f.pubs[i] = p
		if cfg.QoS > c.MaxQoS {
			return fmt.Errorf("broker's Maximum QoS is %d", c.MaxQoS)
		}
		p.runID, p.epoch, p.topic = f.runID, f.epoch, f.topic(i)
		p.count = cfg.perPublisher(i)
		if cfg.Rate > 0 {
			p.every = time.Duration(float64(time.Second) * float64(cfg.Pubs) / cfg.Rate)
		}
		p.payload, err = NewPayload(cfg.PayloadSize)
		return err
	})
	if err != nil {
		return fmt.Errorf("publishers: %w", err)
	}
	f.startReaders()
	return nil
}

// startReaders starts a reader for every subscriber and publisher.
func (f *flow) startReaders() {
	for _, s := range f.subs {
		f.conns = append(f.conns, s.c)
		f.goRead(s.c, s.readLoop)
	}
	for _, p := range f.pubs {
		f.conns = append(f.conns, p.c)
		f.goRead(p.c, p.readLoop)
	}
}

func (f *flow) goRead(c *Conn, loop func()) {
	f.rdWG.Add(1)
	go func() {
		defer f.rdWG.Done()
		loop()
	}()
	go c.keepAlive(f.stop)
}

// monitor watches the run until it completes, stalls, hits a limit or is
// interrupted, and says why it stopped.
func (f *flow) monitor(ctx context.Context, t0 time.Time, sampler *brokerSampler, pl *progressLine) string {
	cfg := &f.cfg
	pubsDone := make(chan struct{})
	go func() { f.pubWG.Wait(); close(pubsDone) }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	defer pl.clear()
	var lastSum uint64
	lastChange := t0
	var doneAt time.Time
	hardLimit := t0.Add(cfg.publishLimit() + MaxDrain)
	for {
		select {
		case <-ctx.Done():
			return "interrupted"
		case <-tick.C:
		}
		now := time.Now()
		sampler.sample()
		var sent, acked, uniq, dups uint64
		for _, p := range f.pubs {
			sent += p.sent.Load()
			acked += p.acked.Load()
		}
		for _, s := range f.subs {
			uniq += s.unique.Load()
			dups += s.dups.Load()
		}
		expected := sent * uint64(cfg.subsPerTopic())
		pl.update(now, "%s q%d | %4.1fs | sent %d | recv %d/%d", uniq,
			cfg.Scenario, cfg.QoS, now.Sub(t0).Seconds(), sent, uniq, expected)
		if sum := sent + acked + uniq + dups; sum != lastSum {
			lastSum, lastChange = sum, now
		}
		select {
		case <-pubsDone:
			if doneAt.IsZero() {
				doneAt = now
			}
		default:
		}
		switch {
		case !doneAt.IsZero() && uniq >= expected:
			return "complete"
		case now.Sub(lastChange) >= cfg.Stall && !doneAt.IsZero():
			return fmt.Sprintf("deliveries stopped: nothing arrived for %s after publishing ended", cfg.Stall)
		case now.Sub(lastChange) >= cfg.Stall:
			return fmt.Sprintf("stalled: no message sent, acknowledged or delivered for %s", cfg.Stall)
		case !doneAt.IsZero() && now.Sub(doneAt) >= MaxDrain:
			return fmt.Sprintf("drain limit: deliveries still trickling %s after publishing ended", MaxDrain)
		case now.After(hardLimit):
			return "time limit"
		}
	}
}

// drain waits up to limit for the deliveries of what was sent, once the
// publishers have been told to stop.
func (f *flow) drain(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		var sent, uniq uint64
		for _, p := range f.pubs {
			sent += p.sent.Load()
		}
		for _, s := range f.subs {
			uniq += s.unique.Load()
		}
		if uniq >= sent*uint64(f.cfg.subsPerTopic()) {
			return
		}
		// Counters have no change notification; poll them.
		time.Sleep(10 * time.Millisecond)
	}
}

// teardown stops the publishers, disconnects every connection and waits
// for the read loops, so that the subscribers' counts are final. It is
// bounded: a broker that does not close within 2 s is cut off.
func (f *flow) teardown() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	var wg sync.WaitGroup
	for _, c := range f.allConns() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Disconnect(2 * time.Second)
		}()
	}
	wg.Wait()
	f.pubWG.Wait() // unblocked: stop is closed and writes have a deadline
	f.rdWG.Wait()  // unblocked: reads have a deadline
	for _, c := range f.allConns() {
		c.Close()
	}
	if f.cfg.Durable {
		f.endSessions()
	}
}

func (f *flow) subID(i int) string { return fmt.Sprintf("mqbench-%08x-s%d", f.runID, i) }

// endSessions removes the durable subscribers' sessions: a clean
// connection with the same client id discards the stored session
// [MQTT-3.1.2-6] and, with no Session Expiry, ends its own at DISCONNECT.
// Best effort: an unreachable broker has nothing to clean.
func (f *flow) endSessions() {
	opts := DialOptions{Addr: f.cfg.Addr, Version: f.cfg.Version, Timeout: f.cfg.ConnectTimeout}
	_ = parallel(context.Background(), len(f.subs), 32, func(i int) error {
		o := opts
		o.Addr = f.cfg.addrFor(i, 0)
		c, err := Dial(context.Background(), o, f.subID(i))
		if err != nil {
			return nil
		}
		c.Disconnect(time.Second)
		c.Close()
		return nil
	})
}

// allConns includes connections made before a failed connect returned.
func (f *flow) allConns() []*Conn {
	var cs []*Conn
	for _, s := range f.subs {
		if s != nil {
			cs = append(cs, s.c)
		}
	}
	for _, p := range f.pubs {
		if p != nil {
			cs = append(cs, p.c)
		}
	}
	return cs
}

// result adds everything up; the read loops have ended.
func (f *flow) result(t0, end time.Time, stop string, sampler *brokerSampler) *Result {
	cfg := &f.cfg
	r := &Result{
		Scenario: cfg.Scenario, Label: cfg.Label, Addr: cfg.Addr, Protocol: cfg.Version.String(), Durable: cfg.Durable,
		RunID: fmt.Sprintf("%08x", f.runID),
		QoS:   int(cfg.QoS), Pubs: cfg.Pubs, Subs: cfg.Subs, PayloadSize: cfg.PayloadSize,
		RateTarget: cfg.Rate, Stop: stop,
	}
	var lastPub time.Duration
	allDone := true
	for _, p := range f.pubs {
		n := p.sent.Load()
		r.Sent += n
		r.Expected += n * uint64(cfg.subsPerTopic())
		r.Acked += p.acked.Load()
		r.BogusAcks += p.bogus.Load()
		r.Window = p.window
		if d := p.done.Load(); d > 0 {
			lastPub = max(lastPub, time.Duration(d))
		} else {
			allDone = false
		}
		if err := p.firstErr(); err != nil {
			r.Errors = append(r.Errors, err.Error())
		}
	}
	if r.Window > 0 && r.Window < cfg.Inflight {
		r.Notes = append(r.Notes, fmt.Sprintf("inflight window %d: limited by the broker's Receive Maximum", r.Window))
	}
	var hist Histogram
	var counts Counts
	var lastRecv time.Duration
	for _, s := range f.subs {
		counts.Add(s.tracker.Counts())
		hist.Merge(&s.hist)
		r.DupQoS1 += s.dupQoS[1]
		r.DupQoS2 += s.dupQoS[2]
		r.OverQoS += s.overQoS
		r.Foreign += s.unstamped
		lastRecv = max(lastRecv, time.Duration(s.lastRecv.Load()))
		if s.granted < cfg.QoS && s.idx == 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("broker granted QoS %d to subscriptions asking for %d", s.granted, cfg.QoS))
		}
		if err := s.firstErr(); err != nil {
			r.Errors = append(r.Errors, err.Error())
		}
	}
	r.Received, r.Duplicates, r.Reordered = counts.Unique, counts.Duplicates, counts.Reordered
	r.Foreign += counts.Foreign
	r.Lost, r.LossPct = Loss(r.Expected, r.Received)
	if r.Lost > 0 {
		r.Notes = append(r.Notes, lossDetail(f, cfg))
	}
	start := t0.Sub(f.epoch)
	if allDone {
		r.PublishSeconds = (lastPub - start).Seconds()
	} else {
		r.PublishSeconds = end.Sub(t0).Seconds()
	}
	if r.PublishSeconds > 0 {
		r.PublishRate = float64(r.Sent) / r.PublishSeconds
	}
	if lastRecv > start {
		r.ElapsedSeconds = (lastRecv - start).Seconds()
		r.DeliveryRate = float64(r.Received) / r.ElapsedSeconds
	}
	r.Latency = hist.Summary()
	lastRecvAt := f.epoch.Add(lastRecv)
	if lastRecv == 0 {
		lastRecvAt = end
	}
	r.Broker = sampler.stats(lastRecvAt)
	if sampler != nil && sampler.err != nil {
		r.Errors = append(r.Errors, sampler.err.Error())
	}
	return r
}

// lossDetail tells scattered drops from a lost tail for the worst stream.
func lossDetail(f *flow, cfg *Config) string {
	worst, worstSub, worstPub := uint64(0), -1, -1
	for _, s := range f.subs {
		for pi, p := range f.pubs {
			if cfg.Scenario != Fanout && pi != s.idx {
				continue
			}
			sent := p.sent.Load()
			if got := s.tracker.Received(pi); got < sent && sent-got > worst {
				worst, worstSub, worstPub = sent-got, s.idx, pi
			}
		}
	}
	if worstSub < 0 {
		return "loss: none per stream"
	}
	sent := f.pubs[worstPub].sent.Load()
	return fmt.Sprintf("worst stream: publisher %d -> subscriber %d missed %d of %d, first missing seq %d",
		worstPub, worstSub, worst, sent, f.subs[worstSub].tracker.FirstMissing(worstPub, sent))
}

// parallel runs fn(0..n-1) with at most width at a time and returns the
// first error (the others still finish).
func parallel(ctx context.Context, n, width int, fn func(i int) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	sem := make(chan struct{}, max(width, 1))
	for i := range n {
		if ctx.Err() != nil {
			mu.Lock()
			errs = append(errs, ctx.Err())
			mu.Unlock()
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(i); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		if len(errs) == 1 {
			return errs[0]
		}
		return fmt.Errorf("%d of %d failed, first: %w", len(errs), n, errs[0])
	}
	return nil
}
