package cliutil

import (
	"strconv"
	"time"
)

// appendStrftime appends the expansion of the single strftime(3)
// conversion %c for t, as glibc does in the "C" locale (mosquitto_sub passes
// each "@c" of a -F format to strftime one conversion at a time and never
// calls setlocale). Conversions glibc does not know, and flag or modifier
// characters with nothing after them ("@E", "@-", "@0"), are copied through
// as "%" followed by the character, as glibc does.
//
// '@N' (nanoseconds) and '@@' are mosquitto's own and handled by the caller.
func appendStrftime(dst []byte, c byte, t time.Time) []byte {
	switch c {
	case 'a':
		return append(dst, t.Weekday().String()[:3]...)
	case 'A':
		return append(dst, t.Weekday().String()...)
	case 'b', 'h':
		return append(dst, t.Month().String()[:3]...)
	case 'B':
		return append(dst, t.Month().String()...)
	case 'c': // C locale: "%a %b %e %H:%M:%S %Y"
		return appendSeq(dst, t, "%a %b %e %H:%M:%S %Y")
	case 'C':
		return appendPadded(dst, int64(floorDiv(t.Year(), 100)), 2, '0')
	case 'd':
		return appendPadded(dst, int64(t.Day()), 2, '0')
	case 'D': // %m/%d/%y
		return appendSeq(dst, t, "%m/%d/%y")
	case 'e':
		return appendPadded(dst, int64(t.Day()), 2, ' ')
	case 'F': // %Y-%m-%d (glibc: %+4Y-%m-%d)
		return appendSeq(dst, t, "%Y-%m-%d")
	case 'g':
		y, _ := t.ISOWeek()
		return appendPadded(dst, int64(mod(y, 100)), 2, '0')
	case 'G':
		y, _ := t.ISOWeek()
		return strconv.AppendInt(dst, int64(y), 10)
	case 'H':
		return appendPadded(dst, int64(t.Hour()), 2, '0')
	case 'I':
		return appendPadded(dst, int64(hour12(t)), 2, '0')
	case 'j':
		return appendPadded(dst, int64(t.YearDay()), 3, '0')
	case 'k':
		return appendPadded(dst, int64(t.Hour()), 2, ' ')
	case 'l':
		return appendPadded(dst, int64(hour12(t)), 2, ' ')
	case 'm':
		return appendPadded(dst, int64(t.Month()), 2, '0')
	case 'M':
		return appendPadded(dst, int64(t.Minute()), 2, '0')
	case 'n':
		return append(dst, '\n')
	case 'p':
		if t.Hour() < 12 {
			return append(dst, "AM"...)
		}
		return append(dst, "PM"...)
	case 'P':
		if t.Hour() < 12 {
			return append(dst, "am"...)
		}
		return append(dst, "pm"...)
	case 'r': // C locale: "%I:%M:%S %p"
		return appendSeq(dst, t, "%I:%M:%S %p")
	case 'R':
		return appendSeq(dst, t, "%H:%M")
	case 's':
		return strconv.AppendInt(dst, t.Unix(), 10)
	case 'S':
		return appendPadded(dst, int64(t.Second()), 2, '0')
	case 't':
		return append(dst, '\t')
	case 'T', 'X': // C locale %X is %H:%M:%S
		return appendSeq(dst, t, "%H:%M:%S")
	case 'u':
		wd := int(t.Weekday())
		if wd == 0 {
			wd = 7
		}
		return strconv.AppendInt(dst, int64(wd), 10)
	case 'U': // week of year, Sunday first
		return appendPadded(dst, int64((t.YearDay()-1-int(t.Weekday())+7)/7), 2, '0')
	case 'V':
		_, w := t.ISOWeek()
		return appendPadded(dst, int64(w), 2, '0')
	case 'w':
		return strconv.AppendInt(dst, int64(t.Weekday()), 10)
	case 'W': // week of year, Monday first
		return appendPadded(dst, int64((t.YearDay()-1-(int(t.Weekday())+6)%7+7)/7), 2, '0')
	case 'x': // C locale: %m/%d/%y
		return appendSeq(dst, t, "%m/%d/%y")
	case 'y':
		return appendPadded(dst, int64(mod(t.Year(), 100)), 2, '0')
	case 'Y':
		return strconv.AppendInt(dst, int64(t.Year()), 10)
	case 'z':
		return appendZone(dst, t)
	case 'Z':
		name, _ := t.Zone()
		return append(dst, name...)
	case '%':
		return append(dst, '%')
	}
	return append(dst, '%', c)
}

// appendSeq expands a strftime format made of "%c" conversions and
// literal characters.
func appendSeq(dst []byte, t time.Time, format string) []byte {
	for i := 0; i < len(format); i++ {
		if format[i] == '%' && i+1 < len(format) {
			i++
			dst = appendStrftime(dst, format[i], t)
		} else {
			dst = append(dst, format[i])
		}
	}
	return dst
}

// appendZone appends the numeric UTC offset as +hhmm / -hhmm (strftime %z).
func appendZone(dst []byte, t time.Time) []byte {
	_, off := t.Zone()
	sign := byte('+')
	if off < 0 {
		sign = '-'
		off = -off
	}
	dst = append(dst, sign)
	dst = appendPadded(dst, int64(off/3600), 2, '0')
	return appendPadded(dst, int64(off%3600/60), 2, '0')
}

func hour12(t time.Time) int {
	h := t.Hour() % 12
	if h == 0 {
		h = 12
	}
	return h
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func mod(a, b int) int {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// appendPadded appends v right-aligned in width characters using pad, as
// printf("%0*d") / printf("%*d") do for non-negative v.
func appendPadded(dst []byte, v int64, width int, pad byte) []byte {
	var buf [24]byte
	s := strconv.AppendInt(buf[:0], v, 10)
	neg := len(s) > 0 && s[0] == '-'
	if neg && pad == '0' {
		dst = append(dst, '-')
		s = s[1:]
		width--
	}
	for n := len(s); n < width; n++ {
		dst = append(dst, pad)
	}
	return append(dst, s...)
}
