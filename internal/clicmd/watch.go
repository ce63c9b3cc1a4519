package clicmd

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/fatih/color"
	"golang.org/x/term"
)

// mqsub -w/--watch (mosquitto 2.1): on a terminal, each topic keeps one
// line, in order of first arrival, showing its latest message as mqsub
// would print it (-v, -F, --json, colours). The dashboard is drawn where
// the cursor is, with relative cursor movements only, so the scrollback
// above it stays intact; the cursor always rests at the start of the line
// below it, so whatever ends mqsub (-C, -W, Ctrl-C, an error) leaves the
// shell prompt there. Unlike mosquitto_sub 2.1, which clears the screen
// and moves the cursor to absolute rows, mqsub prints normally when
// stdout is not a terminal (or TERM is dumb).

const (
	// watchMaxCols bounds the line kept for each topic (a terminal is
	// never that wide), so big payloads are not kept whole.
	watchMaxCols = 1024
	// watchMaxRows bounds the topics that get a line of their own (a
	// terminal is never that tall); later ones are only counted.
	watchMaxRows = 500
	// Size assumed when the terminal cannot tell its own.
	defaultCols, defaultRows = 80, 24
)

// canWatch reports whether mqsub's stdout takes the dashboard.
func canWatch(e *env) bool {
	return e.stdoutTTY && e.getenv("TERM") != "dumb"
}

// termSizer is implemented by test writers that pretend to be terminals.
type termSizer interface {
	termSize() (cols, rows int)
}

// terminalSize returns the size of the terminal w writes to, or 80×24.
func terminalSize(w io.Writer) (cols, rows int) {
	switch t := w.(type) {
	case termSizer:
		cols, rows = t.termSize()
	case *os.File:
		cols, rows, _ = term.GetSize(int(t.Fd()))
	}
	if cols <= 0 || rows <= 0 {
		return defaultCols, defaultRows
	}
	return cols, rows
}

// watchSession sets up the dashboard on s's stdout. Everything else s
// prints (the -d trace, warnings on stderr when it is a terminal too) goes
// through the dashboard, which then starts again below that output.
func watchSession(s *session) *dashboard {
	e := s.e
	d := &dashboard{
		w:     e.stdout,
		size:  func() (int, int) { return terminalSize(e.stdout) },
		more:  s.pal.Hint,
		order: map[string]int{},
	}
	s.out = &syncWriter{w: otherOutput{d, e.stdout}}
	if e.stderrTTY {
		s.rep.w = otherOutput{d, e.stderr}
	}
	return d
}

// dashboard is the -w display: one row per topic, rewritten in place.
type dashboard struct {
	w    io.Writer
	size func() (cols, rows int)
	more *color.Color // the "… N more topics" row

	mu     sync.Mutex
	order  map[string]int // topic → row, in order of first arrival
	lines  [][]byte       // latest line of the first watchMaxRows topics
	screen [][]byte       // the rows as drawn, above the cursor
	cols   int            // terminal size when screen was drawn
	rows   int
	// detached: something else was printed since the last draw, so the
	// next one starts a new dashboard below it; midLine: that output did
	// not end its line.
	detached, midLine bool
	row               []byte // one row being drawn
	out               []byte // the bytes of one update
}

// show makes line (no newline) the latest line of topic and updates the
// terminal.
func (d *dashboard) show(topic string, line []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	i, ok := d.order[topic]
	if !ok {
		i = len(d.order)
		d.order[topic] = i
		if i < watchMaxRows {
			d.lines = append(d.lines, nil)
		}
	}
	if i < len(d.lines) {
		d.lines[i] = fitLine(d.lines[i][:0], line, watchMaxCols)
	}
	return d.draw()
}

// draw brings the terminal up to date, rewriting only the rows that
// changed, with the cursor left at the start of the line below the
// dashboard. Called with mu held.
func (d *dashboard) draw() error {
	cols, rows := d.size()
	d.out = d.out[:0]
	switch {
	case d.detached:
		if d.midLine {
			d.out = append(d.out, '\n')
		}
		d.screen = d.screen[:0]
		d.detached, d.midLine = false, false
	case len(d.screen) > 0 && (cols != d.cols || rows != d.rows):
		// Resized: rows may have wrapped, or no longer fit; start again
		// from the top of the dashboard, clearing everything below.
		d.out = fmt.Appendf(d.out, "\x1b[%dA\r\x1b[J", len(d.screen))
		d.screen = d.screen[:0]
	}
	d.cols, d.rows = cols, rows

	// At most rows-1 rows, so the cursor line below fits on the screen
	// too and moving up always reaches the first row. When there are more
	// topics, the first ones keep their rows and the last row counts the
	// others.
	height := min(max(rows-1, 1), watchMaxRows)
	n := len(d.order)
	shown := min(n, height)
	if n > height {
		shown = height - 1
	}
	for r := range min(n, height) {
		if r < shown {
			d.row = fitLine(d.row[:0], d.lines[r], cols-1)
		} else {
			d.row = fitLine(d.row[:0], []byte(d.more.Sprintf("… %d more topics", n-shown)), cols-1)
		}
		if r >= len(d.screen) {
			d.out = append(d.out, "\r\x1b[2K"...)
			d.out = append(d.out, d.row...)
			d.out = append(d.out, '\n')
			d.screen = append(d.screen, bytes.Clone(d.row))
			continue
		}
		if bytes.Equal(d.screen[r], d.row) {
			continue
		}
		up := strconv.Itoa(len(d.screen) - r)
		d.out = append(d.out, "\x1b["+up+"A\r\x1b[2K"...)
		d.out = append(d.out, d.row...)
		d.out = append(d.out, "\r\x1b["+up+"B"...)
		d.screen[r] = append(d.screen[r][:0], d.row...)
	}
	if len(d.out) == 0 {
		return nil
	}
	_, err := d.w.Write(d.out)
	return err
}

// otherOutput is the rest of mqsub's output to the dashboard's terminal:
// it is written between two updates, and the next update starts a new
// dashboard below it.
type otherOutput struct {
	d *dashboard
	w io.Writer
}

func (o otherOutput) Write(p []byte) (int, error) {
	o.d.mu.Lock()
	defer o.d.mu.Unlock()
	if len(p) > 0 {
		o.d.detached = true
		o.d.midLine = p[len(p)-1] != '\n'
	}
	return o.w.Write(p)
}

// fitLine appends line to dst as one terminal line of at most width
// columns: SGR sequences (colours) are kept, other escape sequences
// dropped; line ends (\n, \r\n, \r) become ⏎, tabs a space, other control
// characters and invalid UTF-8 U+FFFD. A longer line is cut, with … as its
// last column. Colours are reset at the end if the line leaves one on.
func fitLine(dst, line []byte, width int) []byte {
	if width < 1 {
		return dst
	}
	cols := 0
	cut := len(dst) // dst up to width-1 columns, where … goes
	sgr, open := false, false
	for i := 0; i < len(line); {
		if line[i] == 0x1b {
			if n, final := csiLen(line[i:]); n > 0 {
				if final == 'm' {
					seq := line[i : i+n]
					dst = append(dst, seq...)
					sgr = true
					open = string(seq) != "\x1b[0m" && string(seq) != "\x1b[m"
					if cols < width {
						cut = len(dst)
					}
				}
				i += n
				continue
			}
		}
		r, size := utf8.DecodeRune(line[i:])
		i += size
		switch {
		case r == '\r' && i < len(line) && line[i] == '\n':
			continue // the \n stands for both
		case r == '\n' || r == '\r':
			r = '⏎'
		case r == '\t':
			r = ' '
		case r < 0x20 || (r >= 0x7f && r < 0xa0):
			r = utf8.RuneError
		}
		w := runeWidth(r)
		if cols+w > width {
			dst = append(dst[:cut], "…"...)
			if sgr {
				dst = append(dst, "\x1b[0m"...)
			}
			return dst
		}
		dst = utf8.AppendRune(dst, r)
		cols += w
		if cols < width {
			cut = len(dst)
		}
	}
	if open {
		dst = append(dst, "\x1b[0m"...)
	}
	return dst
}

// csiLen returns the length and final byte of the CSI escape sequence
// (ESC [ parameters intermediates final) at the start of b, or 0.
func csiLen(b []byte) (int, byte) {
	if len(b) < 2 || b[0] != 0x1b || b[1] != '[' {
		return 0, 0
	}
	j := 2
	for j < len(b) && b[j] >= 0x30 && b[j] <= 0x3f {
		j++
	}
	for j < len(b) && b[j] >= 0x20 && b[j] <= 0x2f {
		j++
	}
	if j < len(b) && b[j] >= 0x40 && b[j] <= 0x7e {
		return j + 1, b[j]
	}
	return 0, 0
}

// wideRanges are the code points terminals draw two columns wide (East
// Asian Wide and Fullwidth, and emoji), approximately: counting a narrow
// character as wide only shortens a line, the reverse would wrap it.
var wideRanges = [][2]rune{
	{0x1100, 0x115f}, {0x231a, 0x231b}, {0x2329, 0x232a}, {0x23e9, 0x23ec},
	{0x23f0, 0x23f0}, {0x23f3, 0x23f3}, {0x25fd, 0x25fe}, {0x2614, 0x2615},
	{0x2648, 0x2653}, {0x267f, 0x267f}, {0x2693, 0x2693}, {0x26a1, 0x26a1},
	{0x26aa, 0x26ab}, {0x26bd, 0x26be}, {0x26c4, 0x26c5}, {0x26ce, 0x26ce},
	{0x26d4, 0x26d4}, {0x26ea, 0x26ea}, {0x26f2, 0x26f5}, {0x26fa, 0x26fd},
	{0x2705, 0x2705}, {0x270a, 0x270b}, {0x2728, 0x2728}, {0x274c, 0x274c},
	{0x2753, 0x2757}, {0x2795, 0x2797}, {0x27b0, 0x27b0}, {0x27bf, 0x27bf},
	{0x2b1b, 0x2b1c}, {0x2b50, 0x2b55}, {0x2e80, 0x303e}, {0x3041, 0x33ff},
	{0x3400, 0x4dbf}, {0x4e00, 0x9fff}, {0xa000, 0xa4cf}, {0xa960, 0xa97f},
	{0xac00, 0xd7a3}, {0xf900, 0xfaff}, {0xfe10, 0xfe19}, {0xfe30, 0xfe6f},
	{0xff00, 0xff60}, {0xffe0, 0xffe6}, {0x16fe0, 0x18cff}, {0x1b000, 0x1b2ff},
	{0x1f004, 0x1f004}, {0x1f0cf, 0x1f0cf}, {0x1f18e, 0x1f18e}, {0x1f191, 0x1f19a},
	{0x1f200, 0x1f2ff}, {0x1f300, 0x1f64f}, {0x1f680, 0x1f6ff}, {0x1f7e0, 0x1f7eb},
	{0x1f90c, 0x1f9ff}, {0x1fa70, 0x1faff}, {0x20000, 0x2fffd}, {0x30000, 0x3fffd},
}

// runeWidth is the number of terminal columns r takes: 0 for combining
// and format characters, 2 for wide ones, else 1.
func runeWidth(r rune) int {
	if r < 0x300 {
		return 1
	}
	if unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf) {
		return 0
	}
	for _, wr := range wideRanges {
		if r < wr[0] {
			break
		}
		if r <= wr[1] {
			return 2
		}
	}
	return 1
}
