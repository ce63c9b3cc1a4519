package cliutil

import (
	"bytes"
	"os"
	"regexp"
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
		// The topic coloured, the payload in the terminal's colour, and
		// nothing added: the same text as in a pipe.
		{"on verbose", on, m, true, true, "\x1b[36;1ma/b\x1b[0;22m hi\n"},
		{"on plain", on, m, false, false, "hi"},
		{"on plain eol", on, m, false, true, "hi\n"},
		{"on empty verbose", on, empty, true, true, "\x1b[36;1ma/b\x1b[0;22m \x1b[90m(null)\x1b[0m\n"},
		{"on empty plain", on, empty, false, true, ""},
	}
	for _, tc := range tests {
		got := tc.p.Human(nil, tc.m, tc.verbose, tc.eol)
		requireEqualBytes(t, tc.name, got, []byte(tc.want))
	}
}

// TestHumanSameTextAsPipe: with the colour escapes removed, the terminal
// output is the pipe output, byte for byte (issue 14), and every colour is
// reset before the newline.
func TestHumanSameTextAsPipe(t *testing.T) {
	esc := regexp.MustCompile("\x1b\\[[0-9;]*m")
	msgs := []*Message{
		{Topic: "a/b", Payload: []byte("hi"), QoS: 2, Retain: true},
		{Topic: "a/b", Payload: []byte("two\nlines\n")},
		{Topic: "a/b"},
		{Topic: "x", Payload: []byte("\x1b[31mred")},
	}
	for _, m := range msgs {
		for _, verbose := range []bool{false, true} {
			for _, eol := range []bool{false, true} {
				tty := NewPalette(true).Human(nil, m, verbose, eol)
				pipe := NewPalette(false).Human(nil, m, verbose, eol)
				stripped := esc.ReplaceAll(tty, nil)
				if m.Topic == "x" {
					stripped = tty // the payload's own escapes are its bytes
					if !bytes.HasSuffix(tty, pipe[max(0, len(pipe)-len(m.Payload)-1):]) {
						t.Errorf("payload changed: %q / %q", tty, pipe)
					}
					continue
				}
				if !bytes.Equal(stripped, pipe) {
					t.Errorf("%q verbose=%v eol=%v: terminal %q, pipe %q", m.Payload, verbose, eol, tty, pipe)
				}
				if i := bytes.IndexByte(tty, '\n'); verbose && i >= 0 && bytes.LastIndex(tty[:i], []byte("\x1b[")) > bytes.LastIndex(tty[:i], []byte("m")) {
					t.Errorf("escape open at the newline: %q", tty)
				}
			}
		}
	}
}

func TestLines(t *testing.T) {
	c := NewPalette(true).Error
	got := Lines(c, "one\ntwo\n")
	want := "\x1b[31;1mone\x1b[0;22m\n\x1b[31;1mtwo\x1b[0;22m\n"
	if got != want {
		t.Errorf("Lines = %q, want %q", got, want)
	}
	if got := Lines(NewPalette(false).Error, "a\nb"); got != "a\nb" {
		t.Errorf("disabled: %q", got)
	}
}
