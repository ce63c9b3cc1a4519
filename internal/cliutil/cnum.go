package cliutil

import (
	"math"
	"strconv"
	"strings"
)

// mosquitto_pub and mosquitto_sub read most numbers with C's atoi and
// atof, which take the longest number at the start of the word and ignore
// the rest ("-q 1x" is QoS 1, "-W 5s" five seconds, "-k abc" zero), and
// -x with strtoll in base 0 ("0x10" is 16, "010" is 8). A drop-in must
// accept what they accept, so the commands parse those options with
// these functions; exact reports whether the whole word was the number,
// so the caller can warn about the rest.

// isCSpace is C's isspace in the "C" locale.
func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// Atoi is glibc's atoi: strtol(s, NULL, 10) converted to a 32-bit int
// (out-of-range values saturate to the 64-bit limits first, then keep
// their low 32 bits, as the conversion does).
func Atoi(s string) (n int, exact bool) {
	v, end := strtoll(s, 10)
	return int(int32(uint32(v))), end == len(s) && end > 0
}

// Atol is glibc's atol: strtol(s, NULL, 10) on 64 bits, saturating.
func Atol(s string) (n int64, exact bool) {
	v, end := strtoll(s, 10)
	return v, end == len(s) && end > 0
}

// ParseStrtoll is strtoll(s, &end, 0) as mosquitto reads -x: a decimal,
// 0x hexadecimal or 0 octal integer after optional blanks and sign that
// must take up the whole word (ok false otherwise); out-of-range values
// saturate to the int64 limits.
func ParseStrtoll(s string) (n int64, ok bool) {
	v, end := strtoll(s, 0)
	return v, end == len(s) && end > 0
}

// strtoll parses an integer at the start of s like C's strtoll and returns
// it with the number of bytes used (0 when there is no number).
func strtoll(s string, base int) (int64, int) {
	i := 0
	for i < len(s) && isCSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	if base == 0 {
		switch {
		case i+1 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && i+2 < len(s) && hexDigit(s[i+2]) >= 0:
			base, i, start = 16, i+2, i+2
		case i < len(s) && s[i] == '0':
			base = 8
		default:
			base = 10
		}
	}
	var v uint64
	overflow := false
	for ; i < len(s); i++ {
		d := hexDigit(s[i])
		if d < 0 || d >= base {
			break
		}
		if v > (math.MaxUint64-uint64(d))/uint64(base) {
			overflow = true
		} else {
			v = v*uint64(base) + uint64(d)
		}
	}
	if i == start {
		return 0, 0
	}
	switch {
	case neg && (overflow || v > 1<<63):
		return math.MinInt64, i
	case neg:
		return -int64(v), i
	case overflow || v > math.MaxInt64:
		return math.MaxInt64, i
	}
	return int64(v), i
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return -1
}

// Atof is C's atof (strtod) for decimal numbers: blanks, a sign, digits
// with an optional fraction and exponent, or "inf", "infinity" or "nan";
// 0 when the word does not start with a number.
func Atof(s string) (f float64, exact bool) {
	i := 0
	for i < len(s) && isCSpace(s[i]) {
		i++
	}
	j := i
	if j < len(s) && (s[j] == '+' || s[j] == '-') {
		j++
	}
	lower := strings.ToLower(s[j:])
	for _, w := range []string{"infinity", "inf", "nan"} {
		if strings.HasPrefix(lower, w) {
			f, _ := strconv.ParseFloat(s[i:j+len(w)], 64)
			return f, j+len(w) == len(s)
		}
	}
	digits := 0
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j, digits = j+1, digits+1
	}
	if j < len(s) && s[j] == '.' {
		j++
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j, digits = j+1, digits+1
		}
	}
	if digits == 0 {
		return 0, false
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if k < len(s) && s[k] >= '0' && s[k] <= '9' {
			for k < len(s) && s[k] >= '0' && s[k] <= '9' {
				k++
			}
			j = k
		}
	}
	f, _ = strconv.ParseFloat(s[i:j], 64) // ±Inf on overflow, as strtod
	return f, j == len(s)
}
