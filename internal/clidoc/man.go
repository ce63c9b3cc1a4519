package clidoc

import (
	"fmt"
	"strings"
)

// Page is the extra text of a manual page, beyond what the flags say.
type Page struct {
	Section  int
	Version  string
	Sections []Section // after OPTIONS (and COMMANDS)
	SeeAlso  []string  // e.g. "mqpub(1)"
}

// Section is a titled block of text; lines are kept as written.
type Section struct {
	Title string
	Text  string
}

// Man renders c as a roff manual page (man(7) macros).
func Man(c *Command, p Page) string {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH %s %d \"\" \"mqkit %s\" \"mqkit manual\"\n", strings.ToUpper(roff(c.Name)), p.Section, roff(p.Version))
	b.WriteString(".SH NAME\n")
	fmt.Fprintf(&b, "%s \\- %s\n", roff(c.Name), roff(c.Usage))
	if c.UsageText != "" {
		b.WriteString(".SH SYNOPSIS\n")
		verbatim(&b, c.UsageText)
	}
	if len(c.Options) > 0 {
		b.WriteString(".SH OPTIONS\n")
		manOptions(&b, c.Options)
	}
	if len(c.Commands) > 0 {
		b.WriteString(".SH COMMANDS\n")
		for _, s := range c.Commands {
			fmt.Fprintf(&b, ".SS %s %s\n", roff(c.Name), roff(s.Name))
			fmt.Fprintf(&b, "%s\n", roff(s.Usage))
			if s.UsageText != "" {
				verbatim(&b, s.UsageText)
			}
			if len(s.Args) > 0 {
				fmt.Fprintf(&b, ".PP\n\\fISHELL\\fR is one of: %s.\n", roff(strings.Join(s.Args, ", ")))
			}
			manOptions(&b, s.Options)
		}
	}
	if c.Description != "" {
		b.WriteString(".SH DESCRIPTION\n")
		verbatim(&b, c.Description)
	}
	for _, s := range p.Sections {
		fmt.Fprintf(&b, ".SH %s\n", roff(strings.ToUpper(s.Title)))
		verbatim(&b, s.Text)
	}
	if len(p.SeeAlso) > 0 {
		b.WriteString(".SH SEE ALSO\n")
		var refs []string
		for _, r := range p.SeeAlso {
			name, sec, ok := strings.Cut(strings.TrimSuffix(r, ")"), "(")
			if ok {
				refs = append(refs, fmt.Sprintf(".BR %s (%s)", roff(name), sec))
			} else {
				refs = append(refs, roff(r))
			}
		}
		b.WriteString(strings.Join(refs, " ,\n") + "\n")
	}
	return b.String()
}

func manOptions(b *strings.Builder, opts []Option) {
	for _, o := range opts {
		b.WriteString(".TP\n")
		var names []string
		for _, n := range o.Names {
			names = append(names, `\fB`+roff(n)+`\fR`)
		}
		line := strings.Join(names, ", ")
		if o.Value {
			line += ` \fI` + roff(o.Arg) + `\fR`
		}
		b.WriteString(line + "\n")
		b.WriteString(roffLine(o.Usage) + "\n")
		if len(o.Choices) > 0 && o.Kind == "" {
			fmt.Fprintf(b, "(%s)\n", roff(strings.Join(o.Choices, ", ")))
		}
	}
}

// verbatim writes text as lines kept as written (no filling).
func verbatim(b *strings.Builder, text string) {
	b.WriteString(".nf\n")
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		b.WriteString(roffLine(l) + "\n")
	}
	b.WriteString(".fi\n")
}

// Roff escapes text for roff (see roff).
func Roff(s string) string { return roff(s) }

// roff escapes text for roff: backslashes, dashes and non-ASCII characters.
func roff(s string) string {
	s = strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(s)
	var b strings.Builder
	for _, r := range s {
		if r > 126 {
			fmt.Fprintf(&b, `\[u%04X]`, r) // groff's escape for a Unicode character
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// roffLine escapes a whole output line: also a leading "." or "'"
// (which roff would take for a request).
func roffLine(s string) string {
	s = roff(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
