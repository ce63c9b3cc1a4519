package cliutil

import (
	"os"
	"strings"

	"github.com/fatih/color"
	"golang.org/x/term"
)

// ColorEnabled decides whether human-readable output is coloured: not with
// --no-color, not when NO_COLOR is set to a non-empty value (any value;
// https://no-color.org, and what fatih/color itself checks), not when
// TERM is "dumb", and only when the output is a terminal (never in pipes).
func ColorEnabled(noColorFlag bool, getenv func(string) string, isTerminal bool) bool {
	if noColorFlag || !isTerminal {
		return false
	}
	if getenv != nil && (getenv("NO_COLOR") != "" || getenv("TERM") == "dumb") {
		return false
	}
	return true
}

// SetupColor sets fatih/color's global switch (color.NoColor) once, at
// start-up, from --no-color, the environment and whether out is a terminal.
// Call it from the app's Before hook with os.Stdout.
func SetupColor(noColorFlag bool, out *os.File) {
	tty := out != nil && term.IsTerminal(int(out.Fd()))
	color.NoColor = !ColorEnabled(noColorFlag, os.Getenv, tty)
}

// Palette holds the colours of mqsub/mqpub human output and diagnostics.
// Its colours are switched on or off explicitly, so a Palette does not
// depend on the color.NoColor global after it is made. Payloads have no
// colour: they are shown in the terminal's own foreground colour, readable
// on dark and light backgrounds alike (a white payload is not).
type Palette struct {
	enabled bool
	Topic   *color.Color
	Null    *color.Color // "(null)" for an empty payload
	Error   *color.Color
	Warning *color.Color
	Hint    *color.Color
}

// NewPalette returns the palette, coloured or not.
func NewPalette(enabled bool) *Palette {
	p := &Palette{
		enabled: enabled,
		Topic:   color.New(color.FgCyan, color.Bold),
		Null:    color.New(color.FgHiBlack),
		Error:   color.New(color.FgRed, color.Bold),
		Warning: color.New(color.FgYellow),
		Hint:    color.New(color.FgHiBlack),
	}
	for _, c := range []*color.Color{p.Topic, p.Null, p.Error, p.Warning, p.Hint} {
		if enabled {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
	}
	return p
}

// DefaultPalette follows the color.NoColor global (set by SetupColor).
func DefaultPalette() *Palette { return NewPalette(!color.NoColor) }

// Enabled reports whether the palette colours its output.
func (p *Palette) Enabled() bool { return p != nil && p.enabled }

// Human appends m as mosquitto_sub prints it without -F (see Plain): the
// same bytes on a terminal as in a pipe, except that on a terminal (palette
// enabled) the topic of -v and "(null)" are coloured, each colour reset
// right after its text (so before any newline). The payload keeps the
// terminal's colour. -F, %j and --json output never go through here.
func (p *Palette) Human(dst []byte, m *Message, verbose, eol bool) []byte {
	if !p.Enabled() {
		return plain(dst, m, verbose, eol)
	}
	if len(m.Payload) == 0 && !(verbose && eol) {
		return dst
	}
	if verbose {
		dst = append(dst, p.Topic.Sprint(m.Topic)...)
		dst = append(dst, ' ')
		if len(m.Payload) == 0 {
			dst = append(dst, p.Null.Sprint("(null)")...)
			return append(dst, '\n')
		}
	}
	dst = append(dst, m.Payload...)
	if eol {
		dst = append(dst, '\n')
	}
	return dst
}

// Lines colours each line of s on its own, so that every colour is reset
// before the newline that ends its line (a terminal then never carries a
// colour into the next line, or into the prompt after the last).
func Lines(c *color.Color, s string) string {
	parts := strings.Split(s, "\n")
	for i, l := range parts {
		if l != "" {
			parts[i] = c.Sprint(l)
		}
	}
	return strings.Join(parts, "\n")
}
