package cliutil

import (
	"strconv"
	"unicode/utf8"
)

// This file reproduces, byte for byte, how mosquitto_sub builds %j and %J
// output with cJSON (1.7.x as shipped with mosquitto 2.0.11 in Debian):
// cjValue is a cJSON node (object members keep their order and duplicates),
// parseCJSON accepts exactly what cJSON_ParseWithOpts(..., true) accepts and
// appendCJSON prints like cJSON_PrintUnformatted / cJSON_Print.

type cjKind uint8

const (
	cjNull cjKind = iota
	cjFalse
	cjTrue
	cjNumber
	cjString // str is printed up to its first NUL, as cJSON strings are C strings
	cjRaw    // str is already-encoded JSON (used for fixed members)
	cjArray
	cjObject
)

type cjValue struct {
	kind cjKind
	key  string // member name when inside an object
	num  float64
	str  string
	kids []cjValue
}

func cjStr(key, s string) cjValue         { return cjValue{kind: cjString, key: key, str: s} }
func cjNum(key string, n float64) cjValue { return cjValue{kind: cjNumber, key: key, num: n} }

// cjsonNestingLimit is CJSON_NESTING_LIMIT.
const cjsonNestingLimit = 1000

type cjParser struct {
	b     []byte
	pos   int
	depth int
}

// parseCJSON parses payload the way mosquitto's %J does: cJSON_ParseWithOpts
// with require_null_terminated, then a check that parsing consumed the whole
// payload (so an embedded NUL byte makes the payload invalid). cJSON is
// lenient in ways this mirrors: a UTF-8 BOM is skipped, every byte <= 0x20
// counts as white space, numbers are whatever strtod reads from the run of
// [0-9+-.eE] characters (so "01" is 1), raw control characters are allowed
// inside strings, and a \u escape with non-hex digits decodes as U+0000.
func parseCJSON(payload []byte) (cjValue, bool) {
	for _, c := range payload {
		if c == 0 {
			return cjValue{}, false
		}
	}
	p := cjParser{b: payload}
	if len(p.b) >= 3 && p.b[0] == 0xEF && p.b[1] == 0xBB && p.b[2] == 0xBF {
		p.pos = 3
	}
	p.skipWS()
	v, ok := p.value()
	if !ok {
		return cjValue{}, false
	}
	p.skipWS()
	if p.pos != len(p.b) {
		return cjValue{}, false
	}
	return v, true
}

func (p *cjParser) skipWS() {
	for p.pos < len(p.b) && p.b[p.pos] <= 32 {
		p.pos++
	}
}

func (p *cjParser) hasPrefix(s string) bool {
	return len(p.b)-p.pos >= len(s) && string(p.b[p.pos:p.pos+len(s)]) == s
}

func (p *cjParser) value() (cjValue, bool) {
	switch {
	case p.pos >= len(p.b):
		return cjValue{}, false
	case p.hasPrefix("null"):
		p.pos += 4
		return cjValue{kind: cjNull}, true
	case p.hasPrefix("false"):
		p.pos += 5
		return cjValue{kind: cjFalse}, true
	case p.hasPrefix("true"):
		p.pos += 4
		return cjValue{kind: cjTrue}, true
	}
	switch c := p.b[p.pos]; {
	case c == '"':
		s, ok := p.str()
		return cjValue{kind: cjString, str: s}, ok
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == '[':
		return p.array()
	case c == '{':
		return p.object()
	}
	return cjValue{}, false
}

func (p *cjParser) number() (cjValue, bool) {
	end := p.pos
	for end < len(p.b) && end-p.pos < 63 {
		c := p.b[end]
		if (c >= '0' && c <= '9') || c == '+' || c == '-' || c == 'e' || c == 'E' || c == '.' {
			end++
			continue
		}
		break
	}
	n := strtodPrefix(p.b[p.pos:end])
	if n == 0 {
		return cjValue{}, false
	}
	f, err := strconv.ParseFloat(string(p.b[p.pos:p.pos+n]), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
			return cjValue{}, false
		}
		// Out of range: f is ±Inf or ±0, as strtod returns (HUGE_VAL / 0).
	}
	p.pos += n
	return cjValue{kind: cjNumber, num: f}, true
}

// strtodPrefix returns how many bytes of s C's strtod would consume as a
// decimal floating-point number (0 when none): [+-] digits [. digits]
// [(e|E) [+-] digits], with at least one mantissa digit.
func strtodPrefix(s []byte) int {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		j := i + 1
		frac := 0
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
			frac++
		}
		if digits+frac > 0 {
			i = j
			digits += frac
		}
	}
	if digits == 0 {
		return 0
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		k := j
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k > j {
			i = k
		}
	}
	return i
}

func (p *cjParser) str() (string, bool) {
	// p.b[p.pos] == '"'
	start := p.pos + 1
	end := start
	for end < len(p.b) && p.b[end] != '"' {
		if p.b[end] == '\\' {
			if end+1 >= len(p.b) {
				return "", false
			}
			end++
		}
		end++
	}
	if end >= len(p.b) {
		return "", false
	}
	out := make([]byte, 0, end-start)
	for i := start; i < end; {
		c := p.b[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch p.b[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case '"', '\\', '/':
			out = append(out, p.b[i+1])
		case 'u':
			n, r, ok := cjUTF16(p.b[i:end])
			if !ok {
				return "", false
			}
			out = utf8.AppendRune(out, r)
			i += n
			continue
		default:
			return "", false
		}
		i += 2
	}
	p.pos = end + 1
	return string(out), true
}

// cjUTF16 decodes a \uXXXX escape (or surrogate pair) at the start of s,
// which ends at the closing quote. It returns the bytes consumed.
func cjUTF16(s []byte) (int, rune, bool) {
	if len(s) < 6 {
		return 0, 0, false
	}
	first := cjHex4(s[2:6])
	if first >= 0xDC00 && first <= 0xDFFF {
		return 0, 0, false
	}
	if first >= 0xD800 && first <= 0xDBFF {
		if len(s) < 12 || s[6] != '\\' || s[7] != 'u' {
			return 0, 0, false
		}
		second := cjHex4(s[8:12])
		if second < 0xDC00 || second > 0xDFFF {
			return 0, 0, false
		}
		return 12, 0x10000 + (((first & 0x3FF) << 10) | (second & 0x3FF)), true
	}
	return 6, first, true
}

// cjHex4 is cJSON's parse_hex4: four hex digits, or 0 if any is not hex.
func cjHex4(s []byte) rune {
	var h rune
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			h = h<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			h = h<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			h = h<<4 | rune(c-'A'+10)
		default:
			return 0
		}
	}
	return h
}

func (p *cjParser) array() (cjValue, bool) {
	if p.depth >= cjsonNestingLimit {
		return cjValue{}, false
	}
	p.depth++
	defer func() { p.depth-- }()
	p.pos++ // '['
	v := cjValue{kind: cjArray}
	p.skipWS()
	if p.pos < len(p.b) && p.b[p.pos] == ']' {
		p.pos++
		return v, true
	}
	for {
		p.skipWS()
		item, ok := p.value()
		if !ok {
			return cjValue{}, false
		}
		v.kids = append(v.kids, item)
		p.skipWS()
		if p.pos < len(p.b) && p.b[p.pos] == ',' {
			p.pos++
			continue
		}
		break
	}
	if p.pos >= len(p.b) || p.b[p.pos] != ']' {
		return cjValue{}, false
	}
	p.pos++
	return v, true
}

func (p *cjParser) object() (cjValue, bool) {
	if p.depth >= cjsonNestingLimit {
		return cjValue{}, false
	}
	p.depth++
	defer func() { p.depth-- }()
	p.pos++ // '{'
	v := cjValue{kind: cjObject}
	p.skipWS()
	if p.pos < len(p.b) && p.b[p.pos] == '}' {
		p.pos++
		return v, true
	}
	for {
		p.skipWS()
		if p.pos >= len(p.b) || p.b[p.pos] != '"' {
			return cjValue{}, false
		}
		key, ok := p.str()
		if !ok {
			return cjValue{}, false
		}
		p.skipWS()
		if p.pos >= len(p.b) || p.b[p.pos] != ':' {
			return cjValue{}, false
		}
		p.pos++
		p.skipWS()
		item, ok := p.value()
		if !ok {
			return cjValue{}, false
		}
		item.key = key
		v.kids = append(v.kids, item)
		p.skipWS()
		if p.pos < len(p.b) && p.b[p.pos] == ',' {
			p.pos++
			continue
		}
		break
	}
	if p.pos >= len(p.b) || p.b[p.pos] != '}' {
		return cjValue{}, false
	}
	p.pos++
	return v, true
}

// appendCJSON prints v like cJSON_PrintUnformatted (pretty false) or
// cJSON_Print (pretty true: tab indentation, "key":<TAB>value, ", " between
// array items). depth is the nesting depth of v (0 for the root).
func appendCJSON(dst []byte, v *cjValue, pretty bool, depth int) []byte {
	switch v.kind {
	case cjNull:
		return append(dst, "null"...)
	case cjFalse:
		return append(dst, "false"...)
	case cjTrue:
		return append(dst, "true"...)
	case cjNumber:
		return appendCJSONNumber(dst, v.num)
	case cjString:
		return appendCJSONString(dst, v.str)
	case cjRaw:
		return append(dst, v.str...)
	case cjArray:
		dst = append(dst, '[')
		for i := range v.kids {
			if i > 0 {
				dst = append(dst, ',')
				if pretty {
					dst = append(dst, ' ')
				}
			}
			dst = appendCJSON(dst, &v.kids[i], pretty, depth+1)
		}
		return append(dst, ']')
	case cjObject:
		dst = append(dst, '{')
		if pretty {
			dst = append(dst, '\n')
		}
		for i := range v.kids {
			if pretty {
				dst = appendTabs(dst, depth+1)
			}
			dst = appendCJSONString(dst, v.kids[i].key)
			dst = append(dst, ':')
			if pretty {
				dst = append(dst, '\t')
			}
			dst = appendCJSON(dst, &v.kids[i], pretty, depth+1)
			if i < len(v.kids)-1 {
				dst = append(dst, ',')
			}
			if pretty {
				dst = append(dst, '\n')
			}
		}
		if pretty {
			dst = appendTabs(dst, depth)
		}
		return append(dst, '}')
	}
	return dst
}

func appendTabs(dst []byte, n int) []byte {
	for ; n > 0; n-- {
		dst = append(dst, '\t')
	}
	return dst
}

// appendCJSONNumber is cJSON's print_number: "null" for NaN/Inf, else C's
// "%1.15g", or "%1.17g" when the 15-digit form does not read back as the
// same double (compared with cJSON's relative epsilon).
func appendCJSONNumber(dst []byte, f float64) []byte {
	if f != f || f > maxFloat || f < -maxFloat {
		return append(dst, "null"...)
	}
	start := len(dst)
	dst = appendCg(dst, f, 15)
	back, err := strconv.ParseFloat(string(dst[start:]), 64)
	if err != nil || !cjCompareDouble(back, f) {
		dst = appendCg(dst[:start], f, 17)
	}
	return dst
}

const maxFloat = 1.7976931348623157e308

func cjCompareDouble(a, b float64) bool {
	abs := func(x float64) float64 {
		if x < 0 {
			return -x
		}
		return x
	}
	maxVal := abs(a)
	if abs(b) > maxVal {
		maxVal = abs(b)
	}
	const dblEpsilon = 2.220446049250313e-16
	return abs(a-b) <= maxVal*dblEpsilon
}

// appendCg formats f as C's printf("%1.<prec>g"). Go's 'g' verb with an
// explicit precision follows the same rules (exponent form when exp < -4 or
// exp >= prec, trailing zeros removed, at least two exponent digits).
func appendCg(dst []byte, f float64, prec int) []byte {
	return strconv.AppendFloat(dst, f, 'g', prec, 64)
}

// appendCJSONString is cJSON's print_string_ptr: the string up to its first
// NUL, with " \ \b \f \n \r \t escaped by name, other bytes below 0x20 as
// \u00xx, and every other byte (including invalid UTF-8) copied raw.
func appendCJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case 0:
			return append(dst, '"')
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			if c < 0x20 {
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			} else {
				dst = append(dst, c)
			}
		}
	}
	return append(dst, '"')
}
