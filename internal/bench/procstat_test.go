package bench

import (
	"math"
	"os"
	"testing"
	"time"
)

func TestParseVmRSS(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		want    uint64
		wantErr bool
	}{
		{"typical", "Name:\tmosquitto\nVmPeak:\t 15456 kB\nVmRSS:\t    9024 kB\nRssAnon:\t 1234 kB\n", 9024, false},
		{"missing", "Name:\tkthreadd\nState:\tS (sleeping)\n", 0, true},
		{"bad unit", "VmRSS:\t9024 MB\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseVmRSS([]byte(tt.status))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseVmRSS = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseStatCPU(t *testing.T) {
	// Fields after the command: state ppid pgrp session tty tpgid flags
	// minflt cminflt majflt cmajflt utime stime ...
	tail := " S 1 5236 5236 0 -1 4194560 120 0 0 0 250 75 0 0 20 0 1 0 123 15826944 2256"
	tests := []struct {
		name    string
		stat    string
		want    uint64
		wantErr bool
	}{
		{"plain", "5236 (mosquitto)" + tail, 325, false},
		{"name with spaces and parens", "77 (my (odd) name)" + tail, 325, false},
		{"truncated", "5236 (mosquitto) S 1 2", 0, true},
		{"no name", "5236 mosquitto S", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.stat))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseStatCPU = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestCPUPercent(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name string
		a, b ProcSample
		want float64
	}{
		{"one core busy", ProcSample{At: t0, CPUTck: 100}, ProcSample{At: t0.Add(2 * time.Second), CPUTck: 300}, 100},
		{"two cores", ProcSample{At: t0}, ProcSample{At: t0.Add(time.Second), CPUTck: 200}, 200},
		{"idle", ProcSample{At: t0, CPUTck: 5}, ProcSample{At: t0.Add(time.Second), CPUTck: 5}, 0},
		{"no time passed", ProcSample{At: t0}, ProcSample{At: t0, CPUTck: 10}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CPUPercent(tt.a, tt.b); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("CPUPercent = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReadProcSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc on this system")
	}
	s, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSSKB == 0 {
		t.Error("our own RSS reads as 0")
	}
	if _, err := ReadProc(-1); err == nil {
		t.Error("ReadProc(-1) succeeded")
	}
}

func TestRaiseFileLimit(t *testing.T) {
	n, err := RaiseFileLimit()
	if err != nil {
		t.Fatal(err)
	}
	if n < 64 {
		t.Errorf("file limit %d is implausibly low", n)
	}
}
