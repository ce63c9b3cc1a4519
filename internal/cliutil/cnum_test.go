package cliutil

import (
	"math"
	"testing"
)

// The expected values are glibc's (atoi, atof, strtoll base 0), checked
// with ctypes against libc.so.6.
func TestAtoi(t *testing.T) {
	for _, tc := range []struct {
		s     string
		n     int
		exact bool
	}{
		{"1", 1, true}, {"1x", 1, false}, {"-1", -1, true}, {" 5", 5, true}, {" \t7", 7, true}, {"+5", 5, true},
		{"abc", 0, false}, {"", 0, false}, {"-", 0, false}, {"1.5s", 1, false}, {".5", 0, false},
		{"99999999999", 1215752191, true}, {"4294967297", 1, true}, {"-99999999999999999999", 0, true},
		{"99999999999999999999", -1, true}, {"010", 10, true}, {"0x10", 0, false}, {"65535", 65535, true},
	} {
		if n, exact := Atoi(tc.s); n != tc.n || exact != tc.exact {
			t.Errorf("Atoi(%q) = %d, %v; want %d, %v", tc.s, n, exact, tc.n, tc.exact)
		}
	}
}

func TestParseStrtoll(t *testing.T) {
	for _, tc := range []struct {
		s  string
		n  int64
		ok bool
	}{
		{"60", 60, true}, {"0x10", 16, true}, {"0X1f", 31, true}, {"010", 8, true}, {"08", 0, false}, {"0x", 0, false},
		{" 5", 5, true}, {"+5", 5, true}, {"-1", -1, true}, {"5 ", 5, false}, {"", 0, false}, {"abc", 0, false},
		{"1y", 1, false}, {"4294967296", 4294967296, true}, {"99999999999999999999", math.MaxInt64, true},
		{"-99999999999999999999", math.MinInt64, true},
	} {
		if n, ok := ParseStrtoll(tc.s); n != tc.n || ok != tc.ok {
			t.Errorf("ParseStrtoll(%q) = %d, %v; want %d, %v", tc.s, n, ok, tc.n, tc.ok)
		}
	}
}

func TestAtof(t *testing.T) {
	for _, tc := range []struct {
		s     string
		f     float64
		exact bool
	}{
		{"0.5", 0.5, true}, {"1.5s", 1.5, false}, {".5", 0.5, true}, {"1.", 1, true}, {"1e3x", 1000, false},
		{"1e", 1, false}, {"-0.5", -0.5, true}, {" 2", 2, true}, {"abc", 0, false}, {"", 0, false},
		{"inf", math.Inf(1), true}, {"-Infinity", math.Inf(-1), true}, {"1e400", math.Inf(1), true}, {"100", 100, true},
	} {
		if f, exact := Atof(tc.s); f != tc.f || exact != tc.exact {
			t.Errorf("Atof(%q) = %v, %v; want %v, %v", tc.s, f, exact, tc.f, tc.exact)
		}
	}
	if f, _ := Atof("nan"); !math.IsNaN(f) {
		t.Errorf("Atof(nan) = %v", f)
	}
}
