package selftest

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/fatih/color"

	"github.com/mqkit/mqkit/internal/cliutil"
)

// Printer writes outcomes as they come: one text line per check, or one
// JSON object per line with --json.
type Printer struct {
	w       io.Writer
	json    bool
	verbose bool
	pal     *cliutil.Palette
	pass    *color.Color // cliutil's palette has no "good" colour
	width   int          // name column
}

// NewTextPrinter prints "PASS  name  detail" lines; the detail of a
// passing check only when verbose. pal colours the result (nil: none).
func NewTextPrinter(w io.Writer, pal *cliutil.Palette, verbose bool) *Printer {
	if pal == nil {
		pal = cliutil.NewPalette(false)
	}
	pass := color.New(color.FgGreen, color.Bold)
	if pal.Enabled() {
		pass.EnableColor()
	} else {
		pass.DisableColor()
	}
	width := 0
	for _, n := range Names() {
		width = max(width, len(n))
	}
	return &Printer{w: w, verbose: verbose, pal: pal, pass: pass, width: width}
}

// NewJSONPrinter prints one JSON object per check: name, result, detail,
// duration_ms.
func NewJSONPrinter(w io.Writer) *Printer { return &Printer{w: w, json: true} }

type jsonOutcome struct {
	Name       string `json:"name"`
	Result     Result `json:"result"`
	Detail     string `json:"detail"`
	DurationMS int64  `json:"duration_ms"`
}

// Print writes one outcome.
func (p *Printer) Print(o Outcome) {
	if p.json {
		b, _ := json.Marshal(jsonOutcome{o.Name, o.Result, o.Detail, o.Duration.Milliseconds()})
		p.w.Write(append(b, '\n'))
		return
	}
	var res string
	switch o.Result {
	case Pass:
		res = p.pass.Sprint(o.Result)
	case Fail:
		res = p.pal.Error.Sprint(o.Result)
	default:
		res = p.pal.Warning.Sprint(o.Result)
	}
	detail := o.Detail
	if o.Result == Pass && !p.verbose {
		detail = ""
	}
	if p.verbose {
		if detail != "" {
			detail += " "
		}
		detail += p.pal.Hint.Sprintf("(%s)", o.Duration.Round(time.Millisecond))
	}
	if detail == "" {
		fmt.Fprintf(p.w, "%s  %s\n", res, o.Name)
		return
	}
	fmt.Fprintf(p.w, "%s  %-*s  %s\n", res, p.width, o.Name, detail)
}

// Summary writes "N passed, M failed, K skipped" (text mode only).
func (p *Printer) Summary(s Summary) {
	if p.json {
		return
	}
	line := s.String()
	if s.Failed > 0 {
		line = p.pal.Error.Sprint(line)
	} else {
		line = p.pass.Sprint(line)
	}
	fmt.Fprintln(p.w, line)
}
