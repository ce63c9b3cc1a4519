package cliutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// This file is the tiny expression language of mqsub --expect-json:
//
//	expr    = path [ op literal ]
//	path    = "." | ( "." key | "." "[" index "]" | "[" index "]" | "[" string "]" )+
//	key     = bare | string        bare: any run of characters but space . [ ] " ' = ! < > ~
//	index   = [ "-" ] digits       negative counts from the end, as in jq
//	op      = "==" | "!=" | "<" | "<=" | ">" | ">=" | "~"
//	literal = a JSON number, string, true, false or null
//
// A bare path holds when the value exists and is neither null nor false
// (jq's truthiness). A path that does not exist makes every comparison
// false, != included, so ".error != null" means "error is present and not
// null". Numbers compare as float64 (as jq); strings compare byte-wise;
// == and != compare values of the same JSON type and are false/true for
// different types. <, <=, >, >= need two numbers or two strings and are
// false otherwise. ~ is a Go regexp match (unanchored) on a string value.

// JSONExpr is a compiled --expect-json expression.
type JSONExpr struct {
	src  string
	path []pathStep
	op   string // "" for a bare path
	lit  any    // float64, string, bool or nil
	re   *regexp.Regexp
}

// pathStep is one member name or array index.
type pathStep struct {
	key   string
	index int
	isIdx bool
}

// JSONExprError is a malformed expression. Its text says what is wrong and
// where, e.g. `expected a JSON literal after ">" at offset 7`.
type JSONExprError struct {
	Offset int // byte offset in the expression
	Msg    string
}

func (e *JSONExprError) Error() string {
	return e.Msg + " at offset " + strconv.Itoa(e.Offset)
}

// ParseJSONExpr compiles s.
func ParseJSONExpr(s string) (*JSONExpr, error) {
	p := exprParser{s: s}
	e, err := p.parse()
	if err != nil {
		return nil, err
	}
	e.src = s
	return e, nil
}

// String is the expression as given.
func (e *JSONExpr) String() string { return e.src }

// Eval reports whether the expression holds for doc, a value returned by
// DecodeJSON.
func (e *JSONExpr) Eval(doc any) bool {
	v, ok := lookup(doc, e.path)
	if !ok {
		return false
	}
	switch e.op {
	case "":
		return v != nil && v != false
	case "~":
		s, ok := v.(string)
		return ok && e.re.MatchString(s)
	case "==":
		return jsonEqual(v, e.lit)
	case "!=":
		return !jsonEqual(v, e.lit)
	}
	c, ok := jsonOrder(v, e.lit)
	if !ok {
		return false
	}
	switch e.op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	default: // ">="
		return c >= 0
	}
}

// DecodeJSON parses payload as exactly one JSON value (white space around
// it allowed), keeping numbers as json.Number so that values beyond
// float64's range still parse.
func DecodeJSON(payload []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

func lookup(v any, path []pathStep) (any, bool) {
	for _, st := range path {
		if st.isIdx {
			a, ok := v.([]any)
			if !ok {
				return nil, false
			}
			i := st.index
			if i < 0 {
				i += len(a)
			}
			if i < 0 || i >= len(a) {
				return nil, false
			}
			v = a[i]
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[st.key]; !ok {
			return nil, false
		}
	}
	return v, true
}

// number returns v as a float64 when it is a JSON number. A number beyond
// float64's range becomes ±Inf (strconv's result with ErrRange).
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, _ := strconv.ParseFloat(string(n), 64)
		return f, true
	case float64:
		return n, true
	}
	return 0, false
}

func jsonEqual(v, lit any) bool {
	if a, ok := number(v); ok {
		b, ok := number(lit)
		return ok && a == b
	}
	switch v.(type) {
	case string, bool, nil:
		return v == lit
	}
	return false // objects and arrays equal no literal
}

// jsonOrder compares two numbers or two strings.
func jsonOrder(v, lit any) (int, bool) {
	if a, ok := number(v); ok {
		b, ok := number(lit)
		switch {
		case !ok:
			return 0, false
		case a < b:
			return -1, true
		case a > b:
			return 1, true
		}
		return 0, true
	}
	a, ok1 := v.(string)
	b, ok2 := lit.(string)
	if !ok1 || !ok2 {
		return 0, false
	}
	return strings.Compare(a, b), true
}

type exprParser struct {
	s   string
	pos int
}

func (p *exprParser) fail(format string, a ...any) error {
	return &JSONExprError{Offset: p.pos, Msg: fmt.Sprintf(format, a...)}
}

func (p *exprParser) skipSpace() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

// found describes what is at the current position, for error messages.
func (p *exprParser) found() string {
	if p.pos >= len(p.s) {
		return "the end"
	}
	rest := p.s[p.pos:]
	if len(rest) > 20 {
		rest = rest[:20] + "..."
	}
	return strconv.Quote(rest)
}

func (p *exprParser) parse() (*JSONExpr, error) {
	e := &JSONExpr{}
	p.skipSpace()
	if p.pos >= len(p.s) || p.s[p.pos] != '.' {
		return nil, p.fail("expected a path starting with \".\" (e.g. .temp, .a.b, .list[0]), found %s", p.found())
	}
	if err := p.parsePath(e); err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos == len(p.s) {
		return e, nil
	}
	for _, op := range []string{"==", "!=", "<=", ">=", "<", ">", "~"} {
		if strings.HasPrefix(p.s[p.pos:], op) {
			e.op = op
			break
		}
	}
	if e.op == "" {
		return nil, p.fail("expected an operator (==, !=, <, <=, >, >=, ~) or the end after the path, found %s", p.found())
	}
	p.pos += len(e.op)
	p.skipSpace()
	return e, p.parseLiteral(e)
}

func (p *exprParser) parsePath(e *JSONExpr) error {
	root := p.pos
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case '.':
			p.pos++
			switch {
			case p.pos < len(p.s) && p.s[p.pos] == '"':
				k, err := p.parseString()
				if err != nil {
					return err
				}
				e.path = append(e.path, pathStep{key: k})
			case p.pos < len(p.s) && p.s[p.pos] == '[':
				continue // ".[0]" is "[0]"
			case p.pos < len(p.s) && bareKeyByte(p.s[p.pos]):
				start := p.pos
				for p.pos < len(p.s) && bareKeyByte(p.s[p.pos]) {
					p.pos++
				}
				e.path = append(e.path, pathStep{key: p.s[start:p.pos]})
			case p.pos == root+1:
				// "." alone is the root; what follows must end the path.
				if p.pos < len(p.s) && p.s[p.pos] != ' ' && p.s[p.pos] != '\t' && !strings.ContainsRune("=!<>~", rune(p.s[p.pos])) {
					return p.fail("expected a key after \".\", found %s", p.found())
				}
				return nil
			default:
				return p.fail("expected a key after \".\", found %s", p.found())
			}
		case '[':
			if err := p.parseBracket(e); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	return nil
}

// bareKeyByte reports whether c may appear in an unquoted key. Bytes of
// multi-byte UTF-8 characters may, so .température works.
func bareKeyByte(c byte) bool {
	return c > ' ' && !strings.ContainsRune(`.[]"'=!<>~`, rune(c))
}

// parseBracket parses "[index]" or `["key"]`.
func (p *exprParser) parseBracket(e *JSONExpr) error {
	p.pos++ // '['
	p.skipSpace()
	if p.pos < len(p.s) && p.s[p.pos] == '"' {
		k, err := p.parseString()
		if err != nil {
			return err
		}
		e.path = append(e.path, pathStep{key: k})
	} else {
		start := p.pos
		if p.pos < len(p.s) && p.s[p.pos] == '-' {
			p.pos++
		}
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
		}
		i, err := strconv.Atoi(p.s[start:p.pos])
		if err != nil {
			p.pos = start
			return p.fail("expected an array index or a \"key\" after \"[\", found %s", p.found())
		}
		e.path = append(e.path, pathStep{index: i, isIdx: true})
	}
	p.skipSpace()
	if p.pos >= len(p.s) || p.s[p.pos] != ']' {
		return p.fail("expected \"]\", found %s", p.found())
	}
	p.pos++
	return nil
}

// parseString parses a JSON string starting at the current '"'.
func (p *exprParser) parseString() (string, error) {
	start := p.pos
	i := p.pos + 1
	for i < len(p.s) && p.s[i] != '"' {
		if p.s[i] == '\\' {
			i++
		}
		i++
	}
	if i >= len(p.s) {
		return "", p.fail("unterminated string")
	}
	var k string
	if err := json.Unmarshal([]byte(p.s[start:i+1]), &k); err != nil {
		return "", p.fail("invalid string %s", p.s[start:i+1])
	}
	p.pos = i + 1
	return k, nil
}

func (p *exprParser) parseLiteral(e *JSONExpr) error {
	text := strings.TrimRight(p.s[p.pos:], " \t")
	if text == "" {
		return p.fail("expected a JSON literal after %q", e.op)
	}
	v, err := DecodeJSON([]byte(text))
	switch v.(type) {
	case json.Number:
		e.lit, _ = number(v)
	case string, bool, nil:
		e.lit = v
	default:
		err = errors.New("not a literal")
	}
	if err != nil {
		msg := "expected a JSON literal (a number, \"string\", true, false or null), found %s"
		if strings.IndexAny(text[:1], `"-0123456789[{`) < 0 {
			msg += " (strings need double quotes)"
		}
		return p.fail(msg, p.found())
	}
	switch e.op {
	case "~":
		s, ok := e.lit.(string)
		if !ok {
			return p.fail("~ needs a \"regexp\" string, found %s", p.found())
		}
		if e.re, err = regexp.Compile(s); err != nil {
			return p.fail("invalid regexp: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
	case "<", "<=", ">", ">=":
		switch e.lit.(type) {
		case float64, string:
		default:
			return p.fail("%s needs a number or a \"string\", found %s", e.op, p.found())
		}
	}
	return nil
}
