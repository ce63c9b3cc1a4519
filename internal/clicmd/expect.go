package clicmd

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/cliutil"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// mqsub's assertion mode for smoke tests: only messages that meet every
// --expect* condition are printed and counted by -C (1 by default), and
// the -W timeout explains what arrived instead.
const (
	flagExpect      = "expect"
	flagExpectRegex = "expect-regex"
	flagExpectJSON  = "expect-json"
)

// lastShown is how many payload bytes the timeout message quotes.
const lastShown = 60

// condition is one --expect* option.
type condition struct {
	flag  string // "--expect", "--expect-regex" or "--expect-json"
	arg   string
	exact []byte
	re    *regexp.Regexp
	expr  *cliutil.JSONExpr
}

func (c *condition) String() string { return c.flag + " " + shellQuote(c.arg) }

// expectations are the --expect* conditions and what the messages that
// failed them looked like. match runs on the client's reader goroutine;
// the timeout message is built on the run goroutine, hence the mutex.
type expectations struct {
	conds    []condition
	needJSON bool

	mu        sync.Mutex
	counted   int // matching messages counted towards -C
	missed    int // messages that reached the check and failed it
	lastTopic string
	lastLoad  []byte // first lastShown+utf8.UTFMax bytes of the last one
	lastSize  int
	lastWhy   string // why the last one failed, when not obvious
}

// parseExpect returns nil when no --expect* option is given.
func parseExpect(c *cli.Context, name string) (*expectations, error) {
	x := &expectations{}
	var text *string
	for _, t := range c.StringSlice(flagExpect) {
		if text != nil && *text != t {
			// All conditions must hold for one message (AND), so two
			// different texts would wait forever (or until -W).
			return nil, usageErr(name, "Error: --expect given twice with different texts (%s and %s); a payload cannot equal both. "+
				"For either, use --expect-regex '^(a|b)$'.", shellQuote(*text), shellQuote(t))
		}
		text = &t
		cond, _ := newCondition(flagExpect, t)
		x.conds = append(x.conds, cond)
	}
	for _, s := range c.StringSlice(flagExpectRegex) {
		cond, err := newCondition(flagExpectRegex, s)
		if err != nil {
			return nil, usageErr(name, "Error: invalid --expect-regex %s: %v.", shellQuote(s), err)
		}
		x.conds = append(x.conds, cond)
	}
	for _, s := range c.StringSlice(flagExpectJSON) {
		cond, err := newCondition(flagExpectJSON, s)
		if err != nil {
			return nil, usageErr(name, "Error: invalid --expect-json %s: %v.", shellQuote(s), err)
		}
		x.conds = append(x.conds, cond)
		x.needJSON = true
	}
	if len(x.conds) == 0 {
		return nil, nil
	}
	return x, nil
}

// newCondition compiles the argument of the option flag (flagExpect,
// flagExpectRegex or flagExpectJSON).
func newCondition(flag, arg string) (condition, error) {
	c := condition{flag: "--" + flag, arg: arg}
	var err error
	switch flag {
	case flagExpectRegex:
		if c.re, err = regexp.Compile(arg); err != nil {
			// Our message says "invalid --expect-regex" already.
			err = errors.New(strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
	case flagExpectJSON:
		c.expr, err = cliutil.ParseJSONExpr(arg)
	default:
		c.exact = []byte(arg)
	}
	return c, err
}

// match reports whether p meets every condition, and remembers it when it
// does not.
func (x *expectations) match(p *mqtt.Publish) bool {
	ok, why := x.check(p.Payload)
	if ok {
		return true
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.missed++
	x.lastTopic, x.lastSize, x.lastWhy = p.Topic, len(p.Payload), why
	n := min(len(p.Payload), lastShown+utf8.UTFMax)
	x.lastLoad = append(x.lastLoad[:0], p.Payload[:n]...)
	return false
}

// check evaluates the conditions in order; why names the failure when it
// is not obvious from the payload: "not JSON", or with several conditions
// the first one that failed.
func (x *expectations) check(payload []byte) (ok bool, why string) {
	var doc any
	if x.needJSON {
		var err error
		if doc, err = cliutil.DecodeJSON(payload); err != nil {
			return false, "not JSON"
		}
	}
	for i := range x.conds {
		c := &x.conds[i]
		switch {
		case c.expr != nil:
			ok = c.expr.Eval(doc)
		case c.re != nil:
			ok = c.re.Match(payload)
		default:
			ok = bytes.Equal(payload, c.exact)
		}
		if !ok {
			if len(x.conds) > 1 {
				why = "failed " + c.String()
			}
			return false, why
		}
	}
	return true, ""
}

// count records a matching message counted towards -C.
func (x *expectations) count() {
	x.mu.Lock()
	x.counted++
	x.mu.Unlock()
}

func (x *expectations) String() string {
	s := make([]string, len(x.conds))
	for i := range x.conds {
		s[i] = x.conds[i].String()
	}
	return strings.Join(s, " ")
}

// timeoutText is the -W message, e.g. "Error: timed out after 5 s: no
// message matched --expect-json '.temp > 20' (3 received; last: sensors/t
// {"temp": 19.5})".
func (x *expectations) timeoutText(after time.Duration, want int) string {
	return "Error: timed out after " + strconv.FormatFloat(after.Seconds(), 'f', -1, 64) + " s: " + x.unmet(want)
}

// unmet says how far the messages were from the expectations.
func (x *expectations) unmet(want int) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	var b strings.Builder
	if x.counted == 0 {
		b.WriteString("no message matched ")
	} else {
		fmt.Fprintf(&b, "only %d of %d messages matched ", x.counted, want)
	}
	b.WriteString(x.String())
	switch {
	case x.missed == 0 && x.counted == 0:
		b.WriteString(" (no message received)")
	case x.missed == 0:
		b.WriteString(" (no other message received)")
	default:
		others := ""
		switch {
		case x.counted > 0 && x.missed == 1:
			others = " other"
		case x.counted > 0:
			others = " others"
		}
		fmt.Fprintf(&b, " (%d%s received; last: %s %s", x.missed, others, printable([]byte(x.lastTopic), len(x.lastTopic)), x.lastPayload())
		if x.lastWhy != "" {
			b.WriteString(", " + x.lastWhy)
		}
		b.WriteString(")")
	}
	return b.String()
}

func (x *expectations) lastPayload() string {
	if x.lastSize == 0 {
		return "(empty payload)"
	}
	s := printable(x.lastLoad, lastShown)
	if x.lastSize > lastShown {
		s += " (" + strconv.Itoa(x.lastSize) + " bytes)"
	}
	return s
}

// printable renders up to max bytes of b on one line: valid UTF-8 as is,
// control characters and invalid bytes escaped (\n, \x00), "..." when cut.
func printable(b []byte, max int) string {
	var s strings.Builder
	used := 0
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if used+size > max {
			s.WriteString("...")
			break
		}
		switch {
		case r == '\n':
			s.WriteString(`\n`)
		case r == '\r':
			s.WriteString(`\r`)
		case r == '\t':
			s.WriteString(`\t`)
		case r == utf8.RuneError && size == 1, r < ' ', r == 0x7f:
			fmt.Fprintf(&s, `\x%02x`, b[0])
		default:
			s.Write(b[:size])
		}
		used += size
		b = b[size:]
	}
	return s.String()
}

// shellQuote quotes s for a shell command line, as the user would type it.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
