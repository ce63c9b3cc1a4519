package cliutil

import (
	"os"

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
// depend on the color.NoColor global after it is made.
type Palette struct {
	enabled  bool
	Topic    *color.Color
	Payload  *color.Color
	QoS      *color.Color // "q1"/"q2" marker in verbose output
	Retained *color.Color // "retained" marker in verbose output
	Null     *color.Color // "(null)" for an empty payload
	Error    *color.Color
	Warning  *color.Color
	Hint     *color.Color
}

// NewPalette returns the palette, coloured or not.
func NewPalette(enabled bool) *Palette {
	p := &Palette{
		enabled:  enabled,
		Topic:    color.New(color.FgCyan, color.Bold),
		Payload:  color.New(color.FgWhite),
		QoS:      color.New(color.FgMagenta),
		Retained: color.New(color.FgYellow),
		Null:     color.New(color.FgHiBlack),
		Error:    color.New(color.FgRed, color.Bold),
		Warning:  color.New(color.FgYellow),
		Hint:     color.New(color.FgHiBlack),
	}
	for _, c := range []*color.Color{p.Topic, p.Payload, p.QoS, p.Retained, p.Null, p.Error, p.Warning, p.Hint} {
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

// Human appends m as mosquitto_sub prints it without -F (see Plain). When
// the palette is enabled the topic and payload are coloured and, with
// verbose, QoS and retained markers are added between them:
// "topic q1 retained payload". Disabled (or nil), the output is exactly
// Plain/PlainNoEOL's, byte for byte. -F, %j and --json output never go
// through here.
func (p *Palette) Human(dst []byte, m *Message, verbose, eol bool) []byte {
	if !p.Enabled() {
		return plain(dst, m, verbose, eol)
	}
	if len(m.Payload) == 0 && !(verbose && eol) {
		return dst
	}
	if verbose {
		dst = append(dst, p.Topic.Sprint(m.Topic)...)
		if m.QoS > 0 {
			dst = append(dst, ' ')
			dst = append(dst, p.QoS.Sprint("q"+string('0'+rune(m.QoS)))...)
		}
		if m.Retain {
			dst = append(dst, ' ')
			dst = append(dst, p.Retained.Sprint("retained")...)
		}
		dst = append(dst, ' ')
		if len(m.Payload) == 0 {
			dst = append(dst, p.Null.Sprint("(null)")...)
			return append(dst, '\n')
		}
	}
	dst = append(dst, p.Payload.Sprint(string(m.Payload))...)
	if eol {
		dst = append(dst, '\n')
	}
	return dst
}
