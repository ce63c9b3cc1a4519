package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// ReadResults reads JSON results as written by mqbench --json, one after
// the other (JSON lines or concatenated values).
func ReadResults(r io.Reader) ([]*Result, error) {
	dec := json.NewDecoder(r)
	var out []*Result
	for {
		var res Result
		err := dec.Decode(&res)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("result %d: %w", len(out)+1, err)
		}
		out = append(out, &res)
	}
}

// Row is one scenario of a comparison: its headline metric per label.
type Row struct {
	Key            string // scenario and parameters, e.g. "p2p q1 10->10 64B"
	Metric, Unit   string
	HigherIsBetter bool
	Values         map[string][]float64 // per label, in run order
	MaxLost        map[string]uint64
	MaxLossPct     map[string]float64
	Errors         map[string]int // runs with errors
}

// rowKey groups runs of the same scenario and parameters.
func rowKey(r *Result) string {
	switch r.Scenario {
	case Idle:
		n := r.Pubs
		if r.Idle != nil {
			n = r.Idle.Requested
			if r.Idle.RatePerConn > 0 { // lightly busy: a row of its own
				return fmt.Sprintf("idle %d conns, q%d %g/s each", n, r.Idle.QoS, r.Idle.RatePerConn)
			}
		}
		return fmt.Sprintf("idle %d conns", n)
	case Latency:
		return fmt.Sprintf("latency q%d %.0f/s", r.QoS, r.RateTarget)
	case Slow:
		if r.Slow != nil {
			return fmt.Sprintf("slow q%d %dB %gs/%gs", r.QoS, r.PayloadSize, r.Slow.PauseSeconds, r.Slow.DrainSeconds)
		}
	}
	k := fmt.Sprintf("%s q%d %d->%d %dB", r.Scenario, r.QoS, r.Pubs, r.Subs, r.PayloadSize)
	if r.Durable {
		k += " durable"
	}
	return k
}

// Summarize groups results by scenario and label, keeping the order in
// which scenarios and labels first appear.
func Summarize(results []*Result) (labels []string, rows []*Row) {
	byKey := map[string]*Row{}
	for _, r := range results {
		label := r.Label
		if label == "" {
			label = r.Addr
		}
		if !slices.Contains(labels, label) {
			labels = append(labels, label)
		}
		for _, m := range metrics(r) {
			row := byKey[m.key]
			if row == nil {
				row = &Row{Key: m.key, Metric: m.name, Unit: m.unit, HigherIsBetter: m.hib,
					Values: map[string][]float64{}, MaxLost: map[string]uint64{},
					MaxLossPct: map[string]float64{}, Errors: map[string]int{}}
				byKey[m.key] = row
				rows = append(rows, row)
			}
			row.Values[label] = append(row.Values[label], m.value)
			row.MaxLost[label] = max(row.MaxLost[label], r.Lost)
			row.MaxLossPct[label] = max(row.MaxLossPct[label], r.LossPct)
			if len(r.Errors) > 0 {
				row.Errors[label]++
			}
		}
	}
	return labels, rows
}

// metric is one row's figure of a result.
type metric struct {
	key, name, unit string
	value           float64
	hib             bool
}

// metrics lists a result's rows: its headline metric, and for the slow
// scenario also the baseline rate and the longest publisher stall.
func metrics(r *Result) []metric {
	name, unit, v, hib := r.Metric()
	k := rowKey(r)
	if r.Scenario != Slow || r.Slow == nil {
		return []metric{{k, name, unit, v, hib}}
	}
	return []metric{
		{k + ": no slow sub", name, unit, r.Slow.Baseline.Rate, true},
		{k + ": with slow sub", name, unit, v, hib},
		{k + ": longest stall", "publisher stall", "ms", r.Slow.WithSlow.MaxStallMs, false},
	}
}

// Median of vs (the mean of the middle two for an even count); 0 for none.
func Median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// WriteTable prints the medians per label and, for two or more labels,
// the ratio of the first label to the second.
func WriteTable(w io.Writer, labels []string, rows []*Row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"scenario", "metric"}
	for _, l := range labels {
		head = append(head, l+" (median)")
	}
	if len(labels) >= 2 {
		head = append(head, labels[0]+"/"+labels[1])
	}
	for _, l := range labels {
		head = append(head, "lost "+l)
	}
	head = append(head, "runs")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	lossy := false
	for _, row := range rows {
		dir := "higher is better"
		if !row.HigherIsBetter {
			dir = "lower is better"
		}
		cells := []string{row.Key, fmt.Sprintf("%s (%s)", row.Metric, dir)}
		runs := []string{}
		for _, l := range labels {
			vs := row.Values[l]
			if len(vs) == 0 {
				cells = append(cells, "-")
			} else {
				cell := formatMetric(Median(vs), row.Unit)
				if row.MaxLost[l] > 0 {
					cell += " !"
					lossy = true
				}
				cells = append(cells, cell)
			}
			runs = append(runs, fmt.Sprint(len(vs)))
		}
		if len(labels) >= 2 {
			a, b := row.Values[labels[0]], row.Values[labels[1]]
			ratio := "-"
			if len(a) > 0 && len(b) > 0 && Median(b) != 0 {
				ratio = fmt.Sprintf("%.2fx", Median(a)/Median(b))
			}
			cells = append(cells, ratio)
		}
		for _, l := range labels {
			cell := "0"
			if n := row.MaxLost[l]; n > 0 {
				cell = fmt.Sprintf("%d (%.2f%%) max", n, row.MaxLossPct[l])
			}
			if e := row.Errors[l]; e > 0 {
				cell += fmt.Sprintf(", %d run(s) with errors", e)
			}
			cells = append(cells, cell)
		}
		cells = append(cells, strings.Join(runs, "/"))
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
	if lossy {
		fmt.Fprintln(w, "! messages were lost in at least one run: rates count delivered messages only")
	}
}

func formatMetric(v float64, unit string) string {
	switch unit {
	case "/s":
		return humanRate(v) + "/s"
	case "µs":
		return us(v) + " µs"
	case "B":
		return humanBytes(v)
	case "ms":
		return fmt.Sprintf("%.0f ms", v)
	}
	return fmt.Sprintf("%.2f %s", v, unit)
}
