package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/bench"
	"github.com/mqkit/mqkit/internal/testtool"
)

// mosquittoPort starts mosquitto on a free loopback port (skipping when it
// is not installed and CI is unset) and waits until it accepts.
func mosquittoPort(t *testing.T) int {
	t.Helper()
	bin := testtool.Require(t, "mosquitto")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-p", strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
			return port
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto did not accept connections within 10s: %v", err)
		}
		// Polling a port has no event to wait on; this is a retry interval.
		time.Sleep(20 * time.Millisecond)
	}
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code = run(ctx, append([]string{"mqbench"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLIRunsScenarioWithFlagsEitherSide(t *testing.T) {
	port := strconv.Itoa(mosquittoPort(t))
	tests := []struct {
		name string
		args []string
	}{
		{"flags first", []string{"-p", port, "--json", "-q", "1", "--pubs", "2", "-n", "100", "--label", "mosq", "p2p"}},
		{"flags after the scenario", []string{"p2p", "-p", port, "--json", "-q", "1", "--pubs", "2", "-n", "100", "--label", "mosq"}},
		{"mixed", []string{"-p", port, "p2p", "--json", "--qos=1", "--pubs=2", "-n", "100", "--label", "mosq"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tt.args...)
			if code != exitOK {
				t.Fatalf("exit %d, stderr %s", code, errs)
			}
			var r bench.Result
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("output is not one JSON result: %v\n%s", err, out)
			}
			if r.Scenario != "p2p" || r.QoS != 1 || r.Pubs != 2 || r.Subs != 2 || r.Sent != 100 ||
				r.Received != 100 || r.Label != "mosq" {
				t.Errorf("result %+v", r)
			}
		})
	}
}

func TestCLITextReportAndTable(t *testing.T) {
	port := strconv.Itoa(mosquittoPort(t))
	code, out, errs := runCLI(t, "-p", port, "--no-color", "-n", "50", "--pubs", "1", "p2p")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"mqbench p2p", "sent", "received", "LOSS       0", "latency µs", "stop       complete"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	// Two labelled JSON runs summarised by "table".
	file := filepath.Join(t.TempDir(), "runs.jsonl")
	var all bytes.Buffer
	for _, label := range []string{"a", "b", "a", "b"} {
		code, out, errs := runCLI(t, "-p", port, "--json", "-n", "50", "--pubs", "1", "--label", label, "p2p")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errs)
		}
		all.WriteString(out)
	}
	if err := os.WriteFile(file, all.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runCLI(t, "table", file)
	if code != exitOK {
		t.Fatalf("table: exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "a/b") || !strings.Contains(out, "p2p q0 1->1 64B") || !strings.Contains(out, "2/2") {
		t.Errorf("table output:\n%s", out)
	}
}

// The slow scenario's own flags reach its configuration, after the
// scenario name too.
func TestCLISlowScenario(t *testing.T) {
	port := strconv.Itoa(mosquittoPort(t))
	code, out, errs := runCLI(t, "-p", port, "slow", "--json", "-d", "500ms", "--pause", "200ms", "--drain", "100ms")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	var r bench.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("output is not one JSON result: %v\n%s", err, out)
	}
	if r.Scenario != "slow" || r.Slow == nil || r.Slow.PauseSeconds != 0.2 || r.Slow.DrainSeconds != 0.1 ||
		r.Slow.PhaseSeconds != 0.5 || r.Slow.Baseline.Sent == 0 || r.Slow.WithSlow.Sent == 0 {
		t.Errorf("result %+v, slow %+v", r, r.Slow)
	}
}

func TestCLIUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown scenario", []string{"bogus"}, "unknown scenario"},
		{"qos 3", []string{"-q", "3", "p2p"}, "--qos"},
		{"fanout qos 2", []string{"-q", "2", "fanout"}, "fanout runs at QoS 0 or 1"},
		{"slow with a count", []string{"-n", "100", "slow"}, "no --count"},
		{"small payload", []string{"-s", "10", "p2p"}, "--size"},
		{"remote host", []string{"--host", "192.0.2.1", "p2p"}, "loopback"},
		{"bad protocol", []string{"-V", "7", "p2p"}, "protocol version"},
		{"extra argument", []string{"p2p", "latency"}, "unexpected arguments"},
		{"table without files", []string{"table"}, "table"},
		{"webview without a URL", []string{"webview"}, "web view's URL"},
		{"webview of a remote host", []string{"webview", "http://192.0.2.1:8080"}, "loopback"},
		{"webview of no URL", []string{"webview", "127.0.0.1:8080"}, "not an http"},
		{"webview with nothing listening", []string{"-d", "5s", "webview", "http://127.0.0.1:1"}, "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runCLI(t, tt.args...)
			if code != exitError || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, errs, exitError, tt.want)
			}
		})
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]string{"31": "3.1", "mqttv31": "3.1", "311": "3.1.1", "3.1.1": "3.1.1",
		"mqttv311": "3.1.1", "5": "5.0", "mqttv5": "5.0", "MQTTv5": "5.0"} {
		v, err := parseVersion(in)
		if err != nil || v.String() != want {
			t.Errorf("parseVersion(%q) = %v, %v; want %s", in, v, err, want)
		}
	}
	if _, err := parseVersion("6"); err == nil {
		t.Error(fmt.Sprint("parseVersion(6) succeeded"))
	}
}
