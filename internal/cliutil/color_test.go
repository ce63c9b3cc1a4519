package cliutil

import (
	"os"
	"testing"

	"github.com/fatih/color"
)

func TestColorEnabled(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name    string
		noColor bool
		env     map[string]string
		tty     bool
		want    bool
	}{
		{"terminal", false, nil, true, true},
		{"pipe", false, nil, false, false},
		{"--no-color", true, nil, true, false},
		{"NO_COLOR=1", false, map[string]string{"NO_COLOR": "1"}, true, false},
		{"NO_COLOR=false still disables", false, map[string]string{"NO_COLOR": "false"}, true, false},
		{"NO_COLOR empty is unset", false, map[string]string{"NO_COLOR": ""}, true, true},
		{"TERM=dumb", false, map[string]string{"TERM": "dumb"}, true, false},
	}
	for _, tc := range tests {
		if got := ColorEnabled(tc.noColor, env(tc.env), tc.tty); got != tc.want {
			t.Errorf("%s: ColorEnabled = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSetupColorNotATerminal(t *testing.T) {
	saved := color.NoColor
	t.Cleanup(func() { color.NoColor = saved })
	f, err := os.CreateTemp(t.TempDir(), "out")
	requireNoError(t, err)
	defer f.Close()
	color.NoColor = false
	SetupColor(false, f)
	if !color.NoColor {
		t.Error("colour left on for a regular file")
	}
	if DefaultPalette().Enabled() {
		t.Error("DefaultPalette enabled with color.NoColor set")
	}
}

func TestPaletteHuman(t *testing.T) {
	m := &Message{Topic: "a/b", Payload: []byte("hi"), QoS: 1, Retain: true}
	empty := &Message{Topic: "a/b"}
	on := NewPalette(true)
	tests := []struct {
		name    string
		p       *Palette
		m       *Message
		verbose bool
		eol     bool
		want    string
	}{
		{"off equals Plain", NewPalette(false), m, true, true, "a/b hi\n"},
		{"nil equals Plain", nil, m, false, true, "hi\n"},
		{"on verbose", on, m, true, true, "\x1b[36;1ma/b\x1b[0;22m \x1b[35mq1\x1b[0m \x1b[33mretained\x1b[0m \x1b[37mhi\x1b[0m\n"},
		{"on plain", on, m, false, false, "\x1b[37mhi\x1b[0m"},
		{"on empty verbose", on, empty, true, true, "\x1b[36;1ma/b\x1b[0;22m \x1b[90m(null)\x1b[0m\n"},
		{"on empty plain", on, empty, false, true, ""},
	}
	for _, tc := range tests {
		got := tc.p.Human(nil, tc.m, tc.verbose, tc.eol)
		requireEqualBytes(t, tc.name, got, []byte(tc.want))
	}
}
