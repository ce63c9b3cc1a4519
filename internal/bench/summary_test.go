package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		vs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{5}, 5},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{100, 1, 1}, 1},
	}
	for _, tt := range tests {
		if got := Median(tt.vs); got != tt.want {
			t.Errorf("Median(%v) = %v, want %v", tt.vs, got, tt.want)
		}
	}
}

func TestSummarizeAndTable(t *testing.T) {
	p2p := func(label string, rate float64, lost uint64) *Result {
		return &Result{Scenario: P2P, Label: label, QoS: 1, Pubs: 10, Subs: 10, PayloadSize: 64,
			DeliveryRate: rate, Lost: lost, LossPct: float64(lost) / 10}
	}
	lat := func(label string, p99 float64) *Result {
		return &Result{Scenario: Latency, Label: label, Pubs: 1, Subs: 1, RateTarget: 1000,
			Latency: LatencySummary{P99: p99}}
	}
	idle := func(label string, per float64) *Result {
		return &Result{Scenario: Idle, Label: label, Idle: &IdleStats{Requested: 10000, BytesPerConn: per}}
	}
	// --rate-per-conn: the same connections lightly busy, a row apart.
	idleBusy := func(label string, per float64) *Result {
		return &Result{Scenario: Idle, Label: label, Idle: &IdleStats{Requested: 10000, BytesPerConn: per, RatePerConn: 1, QoS: 1}}
	}
	// Interleaved as bench.sh runs them: A, B, A, B, ...
	results := []*Result{
		p2p("mqbroker", 150e3, 0), p2p("mosquitto", 50e3, 3),
		lat("mqbroker", 100), lat("mosquitto", 130),
		p2p("mqbroker", 160e3, 0), p2p("mosquitto", 40e3, 0),
		lat("mqbroker", 400), lat("mosquitto", 120),
		p2p("mqbroker", 170e3, 0), p2p("mosquitto", 60e3, 1),
		lat("mqbroker", 110), lat("mosquitto", 125),
		idle("mqbroker", 4096), idle("mosquitto", 700),
		idleBusy("mqbroker", 1200), idleBusy("mosquitto", 750),
	}
	// Through JSON, as the script does.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	read, err := ReadResults(&buf)
	if err != nil || len(read) != len(results) {
		t.Fatalf("ReadResults = %d results, %v", len(read), err)
	}
	labels, rows := Summarize(read)
	if strings.Join(labels, ",") != "mqbroker,mosquitto" {
		t.Fatalf("labels = %v", labels)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4 (p2p, latency, idle, idle with --rate-per-conn)", len(rows))
	}
	if m := Median(rows[0].Values["mqbroker"]); m != 160e3 {
		t.Errorf("p2p mqbroker median = %v", m)
	}
	if rows[0].MaxLost["mosquitto"] != 3 || rows[0].MaxLost["mqbroker"] != 0 {
		t.Errorf("max lost = %v", rows[0].MaxLost)
	}
	if m := Median(rows[1].Values["mqbroker"]); m != 110 {
		t.Errorf("latency mqbroker median = %v (one slow outlier must not move it)", m)
	}
	var out bytes.Buffer
	WriteTable(&out, labels, rows)
	text := out.String()
	for _, want := range []string{
		"mqbroker/mosquitto",
		"p2p q1 10->10 64B", "3.20x", // 160k / 50k
		"latency q0 1000/s", "0.88x", // 110 / 125
		"idle 10000 conns ", "5.85x", // 4096 / 700
		"idle 10000 conns, q1 1/s each", "1.60x", // 1200 / 750
		"3 (0.30%) max", "3/3",
		"50.0k/s !", "! messages were lost",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
}

func TestReadResultsRejectsGarbage(t *testing.T) {
	if _, err := ReadResults(strings.NewReader(`{"scenario":"p2p"} not json`)); err == nil {
		t.Error("ReadResults accepted trailing garbage")
	}
}
