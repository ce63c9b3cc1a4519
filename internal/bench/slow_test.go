package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// The slow subscriber's schedule: Pause without reading, then Drain of
// reading, over and over.
func TestSlowWait(t *testing.T) {
	const pause, drain = 2300 * time.Millisecond, 200 * time.Millisecond
	for _, tc := range []struct{ elapsed, want time.Duration }{
		{-time.Second, 0},
		{0, pause},
		{time.Second, 1300 * time.Millisecond},
		{pause, 0},
		{pause + 199*time.Millisecond, 0},
		{pause + drain, pause},
		{2*(pause+drain) + 300*time.Millisecond, 2 * time.Second},
	} {
		if got := slowWait(tc.elapsed, pause, drain); got != tc.want {
			t.Errorf("slowWait(%v) = %v, want %v", tc.elapsed, got, tc.want)
		}
	}
	if got := slowWait(time.Second, 0, drain); got != 0 {
		t.Errorf("no pause: wait %v", got)
	}
}

func slowConfig(addr string) Config {
	c := smallConfig(Slow, addr)
	c.Duration, c.Pause, c.Drain = 700*time.Millisecond, 300*time.Millisecond, 100*time.Millisecond
	// A loaded CI machine once kept mosquitto from reading the publisher's
	// last flush for over 2.3 s (smallConfig's 2 s stall bound plus the
	// pause): these tests check the scenario, not the broker's speed
	// (the stall bound has its own tests, TestStallsAreBoundedAndReported).
	c.Stall = 10 * time.Second
	return c
}

// Both phases run against mosquitto: the publisher publishes in each, the
// slow subscriber pauses, the normal one gets everything of both phases
// (nothing is lost on loopback at these rates), and the text report and
// the table show the scenario's figures.
func TestEndToEndSlowMosquitto(t *testing.T) {
	addr, pid := startMosquitto(t, "")
	c := slowConfig(addr)
	c.PID = pid
	r, err := Run(runCtx(t), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := r.Slow
	if s == nil {
		t.Fatal("no slow stats")
	}
	if r.Stop != "complete" || len(r.Errors) > 0 || s.Baseline.Reconnects+s.WithSlow.Reconnects > 0 {
		t.Fatalf("stop %q, errors %v, stats %+v", r.Stop, r.Errors, s)
	}
	for _, ps := range []PhaseStats{s.Baseline, s.WithSlow} {
		if ps.Sent == 0 || ps.Rate <= 0 || ps.Seconds < 0.6 || ps.Seconds > (c.Duration+c.Stall+c.Pause).Seconds() || ps.MaxStallMs <= 0 {
			t.Errorf("phase %+v", ps)
		}
	}
	if r.Sent != s.Baseline.Sent+s.WithSlow.Sent || r.Expected != r.Sent || r.Received == 0 || r.Received > r.Sent {
		t.Errorf("sent %d, expected %d, received %d", r.Sent, r.Expected, r.Received)
	}
	// 700 ms from the pause: the slow subscriber paused at least once
	// (unless it never had anything to read), and got only what the
	// second phase published.
	if s.Pauses < 1 || s.SlowExpected != s.WithSlow.Sent || s.SlowReceived == 0 || s.SlowReceived > s.SlowExpected {
		t.Errorf("slow subscriber: %d pauses, received %d of %d", s.Pauses, s.SlowReceived, s.SlowExpected)
	}
	if want := 100 * (s.WithSlow.Rate/s.Baseline.Rate - 1); s.ChangePct != want {
		t.Errorf("change %v%%, want %v%%", s.ChangePct, want)
	}
	if r.Broker == nil || r.Broker.PID != pid {
		t.Errorf("broker stats %+v", r.Broker)
	}
	var out bytes.Buffer
	WriteText(&out, r)
	for _, want := range []string{"mqbench slow", "without slow sub", "with slow sub", "longest stall", "normal sub", "slow sub", "stop       complete"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, out.String())
		}
	}
	_, rows := Summarize([]*Result{r})
	var keys []string
	for _, row := range rows {
		keys = append(keys, row.Key+" = "+row.Metric)
	}
	want := "slow q0 64B 0.3s/0.1s: no slow sub = pub msgs/s|slow q0 64B 0.3s/0.1s: with slow sub = pub msgs/s|slow q0 64B 0.3s/0.1s: longest stall = publisher stall"
	if got := strings.Join(keys, "|"); got != want {
		t.Errorf("table rows %s, want %s", got, want)
	}
}

// A broker that closes the publisher in the second phase: the publisher
// connects again and goes on until the phase ends; the result says so.
func TestSlowPublisherReconnects(t *testing.T) {
	addr := startFake(t, fakeCloseOnce)
	c := slowConfig(addr)
	r, err := Run(runCtx(t), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := r.Slow
	if s.WithSlow.Reconnects != 1 || s.Baseline.Reconnects != 0 {
		t.Fatalf("reconnects %d/%d, want 0/1", s.Baseline.Reconnects, s.WithSlow.Reconnects)
	}
	if s.WithSlow.Sent <= 100 || s.WithSlow.Seconds < 0.6 || len(r.Errors) == 0 ||
		!strings.Contains(strings.Join(r.Notes, " "), "closed the publisher's connection 1 time") {
		t.Errorf("with slow %+v, errors %v, notes %v", s.WithSlow, r.Errors, r.Notes)
	}
	if r.Stop != "complete" {
		t.Errorf("stop %q", r.Stop)
	}
}
