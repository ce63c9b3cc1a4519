package bench

import (
	"fmt"
	"io"
	"time"
)

// brokerSampler samples the broker process periodically so that CPU can
// be measured over the exact measured interval and peak RSS is caught.
type brokerSampler struct {
	pid     int
	samples []ProcSample
	err     error
}

func newBrokerSampler(pid int) *brokerSampler {
	if pid <= 0 {
		return nil
	}
	return &brokerSampler{pid: pid}
}

// sample takes one reading (the monitor calls it on its ticks).
func (b *brokerSampler) sample() {
	if b == nil || b.err != nil {
		return
	}
	s, err := ReadProc(b.pid)
	if err != nil {
		b.err = fmt.Errorf("broker pid %d: %w", b.pid, err)
		return
	}
	b.samples = append(b.samples, s)
}

// stats covers the interval from the first sample to the first sample
// taken at or after end (the last delivery), so the wait for stragglers at
// the end of a lossy run does not dilute the CPU figure.
func (b *brokerSampler) stats(end time.Time) *BrokerStats {
	if b == nil || len(b.samples) == 0 {
		return nil
	}
	first := b.samples[0]
	last := b.samples[len(b.samples)-1]
	st := &BrokerStats{PID: b.pid, RSSStartKB: first.RSSKB}
	for _, s := range b.samples {
		st.RSSPeakKB = max(st.RSSPeakKB, s.RSSKB)
	}
	for _, s := range b.samples[1:] {
		if !s.At.Before(end) {
			last = s
			break
		}
	}
	st.RSSEndKB = last.RSSKB
	st.CPUPercent = CPUPercent(first, last)
	return st
}

// progressLine writes a one-line status, overwriting the previous one.
type progressLine struct {
	w     io.Writer
	last  time.Time
	prevN uint64
	prevT time.Time
	shown bool
}

func (p *progressLine) update(now time.Time, format string, n uint64, a ...any) {
	if p == nil || p.w == nil || now.Sub(p.last) < 250*time.Millisecond {
		return
	}
	rate := 0.0
	if !p.prevT.IsZero() {
		rate = float64(n-p.prevN) / now.Sub(p.prevT).Seconds()
	}
	p.last, p.prevN, p.prevT = now, n, now
	fmt.Fprintf(p.w, "\r\x1b[2K"+format+" | %s/s", append(a, humanRate(rate))...)
	p.shown = true
}

func (p *progressLine) clear() {
	if p != nil && p.w != nil && p.shown {
		fmt.Fprint(p.w, "\r\x1b[2K")
	}
}
