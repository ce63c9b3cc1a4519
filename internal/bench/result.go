package bench

import (
	"fmt"
	"io"
	"strings"

	"github.com/fatih/color"
)

// Result is what a run measured. It is printed for people by WriteText
// and for scripts as JSON.
type Result struct {
	Scenario    string  `json:"scenario"`
	Label       string  `json:"label,omitempty"`
	RunID       string  `json:"run_id,omitempty"` // client ids are mqbench-RUNID-{p,s,i}N
	Addr        string  `json:"addr"`
	Protocol    string  `json:"protocol"`
	QoS         int     `json:"qos"`
	Pubs        int     `json:"publishers"`
	Subs        int     `json:"subscribers"`
	PayloadSize int     `json:"payload_bytes"`
	Window      int     `json:"inflight,omitempty"`    // effective QoS>0 window per publisher
	RateTarget  float64 `json:"rate_target,omitempty"` // msgs/s asked for; 0 = unlimited
	Durable     bool    `json:"durable,omitempty"`     // durable subscribers

	Sent       uint64  `json:"sent"`
	Acked      uint64  `json:"acked"`    // completed QoS 1/2 handshakes
	Expected   uint64  `json:"expected"` // deliveries expected: sent x subscribers per topic
	Received   uint64  `json:"received"` // distinct deliveries
	Lost       uint64  `json:"lost"`
	LossPct    float64 `json:"loss_pct"`
	Duplicates uint64  `json:"duplicates"`
	DupQoS1    uint64  `json:"duplicates_qos1"`
	DupQoS2    uint64  `json:"duplicates_qos2"` // must be 0: QoS 2 is exactly once
	Reordered  uint64  `json:"reordered"`
	Foreign    uint64  `json:"foreign"`    // messages not from this run
	BogusAcks  uint64  `json:"bogus_acks"` // acks for packet ids not in flight
	OverQoS    uint64  `json:"over_qos"`   // deliveries above the granted QoS

	PublishSeconds float64        `json:"publish_s"`     // start to the last publish acknowledged
	ElapsedSeconds float64        `json:"elapsed_s"`     // start to the last delivery
	PublishRate    float64        `json:"publish_rate"`  // sent / publish_s
	DeliveryRate   float64        `json:"delivery_rate"` // received / elapsed_s: the msgs/s figure
	Latency        LatencySummary `json:"latency"`

	Broker *BrokerStats `json:"broker,omitempty"`
	Idle   *IdleStats   `json:"idle,omitempty"`
	Slow   *SlowStats   `json:"slow,omitempty"`

	Stop   string   `json:"stop"` // why the run ended
	Errors []string `json:"errors,omitempty"`
	Notes  []string `json:"notes,omitempty"`
}

// BrokerStats is the broker's resource use during the measured phase.
type BrokerStats struct {
	PID        int     `json:"pid"`
	CPUPercent float64 `json:"cpu_pct"` // of one core
	RSSStartKB uint64  `json:"rss_start_kb"`
	RSSEndKB   uint64  `json:"rss_end_kb"`
	RSSPeakKB  uint64  `json:"rss_peak_kb"`
}

// IdleStats is the idle scenario's result.
type IdleStats struct {
	Requested      int     `json:"requested"`
	Connected      int     `json:"connected"`
	Failed         int     `json:"failed"`
	Alive          int     `json:"alive"` // still open at the end of the hold
	ConnectSeconds float64 `json:"connect_s"`
	ConnectRate    float64 `json:"connect_rate"`
	HoldSeconds    float64 `json:"hold_s"`
	RSSBeforeKB    uint64  `json:"rss_before_kb,omitempty"`
	RSSAfterKB     uint64  `json:"rss_after_kb,omitempty"`
	BytesPerConn   float64 `json:"rss_bytes_per_conn"`
	// With --rate-per-conn: messages/s per connection, the QoS, messages
	// published during the hold and acknowledgements (PUBACK) read.
	RatePerConn float64 `json:"rate_per_conn,omitempty"`
	QoS         int     `json:"qos,omitempty"`
	Published   int64   `json:"published,omitempty"`
	Acked       int64   `json:"acked,omitempty"`
	FileLimit   uint64  `json:"file_limit"`
	FirstError  string  `json:"first_error,omitempty"`
}

// Metric is a result's headline figure: deliveries/s for p2p and fanout,
// p99 latency for latency, RSS bytes per connection for idle, the
// publisher's msgs/s with the slow subscriber for slow.
func (r *Result) Metric() (name, unit string, value float64, higherIsBetter bool) {
	switch r.Scenario {
	case Slow:
		if r.Slow == nil {
			return "pub msgs/s", "/s", 0, true
		}
		return "pub msgs/s", "/s", r.Slow.WithSlow.Rate, true
	case Latency:
		return "p99 latency", "µs", r.Latency.P99, false
	case Idle:
		if r.Idle == nil {
			return "RSS/conn", "B", 0, false
		}
		return "RSS/conn", "B", r.Idle.BytesPerConn, false
	case Fanout:
		return "deliveries/s", "/s", r.DeliveryRate, true
	}
	return "msgs/s", "/s", r.DeliveryRate, true
}

var (
	bad  = color.New(color.FgRed, color.Bold).SprintFunc()
	good = color.New(color.FgGreen).SprintFunc()
	dim  = color.New(color.Faint).SprintFunc()
)

// WriteText prints r for people.
func WriteText(w io.Writer, r *Result) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	title := r.Scenario
	if r.Label != "" {
		title += " [" + r.Label + "]"
	}
	switch {
	case r.Scenario == Idle:
		writeIdle(w, title, r)
		return
	case r.Scenario == Slow && r.Slow != nil:
		writeSlow(w, title, r)
		return
	}
	p("mqbench %s: %s MQTT %s, QoS %d, %d pub -> %d sub, %d B payload", title, r.Addr, r.Protocol,
		r.QoS, r.Pubs, r.Subs, r.PayloadSize)
	if r.Window > 0 {
		p(", inflight %d", r.Window)
	}
	if r.RateTarget > 0 {
		p(", rate %.0f msgs/s", r.RateTarget)
	}
	p("\n")
	p("  sent       %12d msgs in %.3fs  (%s msgs/s)\n", r.Sent, r.PublishSeconds, humanRate(r.PublishRate))
	what := "msgs/s"
	if r.Scenario == Fanout {
		what = "deliveries/s"
	}
	p("  received   %12d of %d expected in %.3fs  (%s %s)\n", r.Received, r.Expected,
		r.ElapsedSeconds, humanRate(r.DeliveryRate), what)
	loss := good("0")
	if r.Lost > 0 {
		loss = bad(fmt.Sprintf("%d (%.3f%%)", r.Lost, r.LossPct))
	}
	p("  LOSS       %s", loss)
	dups := fmt.Sprint(r.Duplicates)
	if r.DupQoS2 > 0 {
		dups = bad(fmt.Sprintf("%d (%d at QoS 2: exactly-once violated)", r.Duplicates, r.DupQoS2))
	} else if r.DupQoS1 > 0 {
		dups = fmt.Sprintf("%d (QoS 1, allowed)", r.Duplicates)
	}
	p("   duplicates %s   out of order %d\n", dups, r.Reordered)
	if r.Foreign+r.BogusAcks+r.OverQoS > 0 {
		p("  anomalies  foreign msgs %d, acks for unknown ids %d, above granted QoS %d\n",
			r.Foreign, r.BogusAcks, r.OverQoS)
	}
	l := r.Latency
	if l.Samples > 0 {
		p("  latency µs p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  %s\n", us(l.P50), us(l.P90), us(l.P99),
			us(l.P999), us(l.Max), dim(fmt.Sprintf("(%d samples, mean %s)", l.Samples, us(l.Mean))))
	}
	writeBroker(w, r.Broker)
	p("  stop       %s\n", r.Stop)
	writeNotes(w, r)
}

func writeIdle(w io.Writer, title string, r *Result) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	s := r.Idle
	p("mqbench %s: %s MQTT %s, %d idle connections (file limit %d)\n", title, r.Addr, r.Protocol,
		s.Requested, s.FileLimit)
	p("  connected  %d in %.3fs (%s conn/s), failed %d, alive after %.1fs hold: %d\n", s.Connected,
		s.ConnectSeconds, humanRate(s.ConnectRate), s.Failed, s.HoldSeconds, s.Alive)
	if s.FirstError != "" {
		p("  first error %s\n", s.FirstError)
	}
	if s.RatePerConn > 0 {
		p("  published  %d (QoS %d, %g/s per connection), acknowledged %d\n", s.Published, s.QoS, s.RatePerConn, s.Acked)
	}
	if r.Broker != nil {
		p("  broker RSS %s -> %s: %s per connection\n", kb(s.RSSBeforeKB), kb(s.RSSAfterKB),
			humanBytes(s.BytesPerConn))
	}
	writeBroker(w, r.Broker)
	p("  stop       %s\n", r.Stop)
	writeNotes(w, r)
}

func writeBroker(w io.Writer, b *BrokerStats) {
	if b == nil {
		return
	}
	fmt.Fprintf(w, "  broker     pid %d  CPU %.1f%%  RSS %s -> %s (peak %s)\n", b.PID, b.CPUPercent,
		kb(b.RSSStartKB), kb(b.RSSEndKB), kb(b.RSSPeakKB))
}

func writeNotes(w io.Writer, r *Result) {
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note       %s\n", n)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  %s      %s\n", bad("error"), e)
	}
}

func us(v float64) string {
	if v >= 10000 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func kb(v uint64) string { return humanBytes(float64(v) * 1024) }

func humanBytes(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

func humanRate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return strings.TrimSuffix(fmt.Sprintf("%.0f", v), ".0")
}
