package cliutil

import (
	"errors"
	"strconv"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Message is one received PUBLISH as the output functions see it.
type Message struct {
	Topic    string
	Payload  []byte
	QoS      byte
	Retain   bool
	MID      uint16          // packet identifier; 0 for QoS 0
	Props    mqtt.Properties // v5 properties; empty for 3.1/3.1.1
	Received time.Time       // arrival time in the zone to print (usually time.Local); zero means now
}

// MessageFromPublish builds a Message from a decoded PUBLISH.
func MessageFromPublish(p *mqtt.Publish, received time.Time) *Message {
	return &Message{
		Topic:    p.Topic,
		Payload:  p.Payload,
		QoS:      byte(p.QoS),
		Retain:   p.Retain,
		MID:      p.PacketID,
		Props:    p.Props,
		Received: received,
	}
}

func (m *Message) now() time.Time {
	if m.Received.IsZero() {
		return time.Now()
	}
	return m.Received
}

// maxFieldWidth caps -F field widths and precisions ("%99999999999t" would
// otherwise ask for gigabytes of padding).
const maxFieldWidth = 1 << 16

// ErrInvalidJSONPayload is wrapped by the error Format returns when a %J
// payload is not JSON.
var ErrInvalidJSONPayload = errors.New("message payload is not valid JSON")

// JSONPayloadError is returned by Format for %J with a payload that is not
// JSON. Its text is mosquitto_sub's stderr line (without the newline).
type JSONPayloadError struct{ Topic string }

func (e *JSONPayloadError) Error() string {
	return "Error: Message payload is not valid JSON on topic " + e.Topic + "."
}

func (e *JSONPayloadError) Unwrap() error { return ErrInvalidJSONPayload }

// ValidateFormat checks a -F format string as mosquitto_sub does when it
// parses its arguments, and returns mosquitto's error text:
// "Error: Incomplete format specifier.", "Error: Invalid format specifier 'c'.",
// "Error: Incomplete escape specifier." or "Error: Invalid escape specifier 'c'.".
// Any character is accepted after '@' (it goes to strftime).
func ValidateFormat(format string) error {
	n := len(format)
	for i := 0; i < n; i++ {
		switch format[i] {
		case '%':
			if i == n-1 {
				return errors.New("Error: Incomplete format specifier.")
			}
			if format[i+1] == '0' || format[i+1] == '-' {
				i++
				if i == n-1 {
					return errors.New("Error: Incomplete format specifier.")
				}
			}
			for isDigit(format[i+1]) {
				i++
				if i == n-1 {
					return errors.New("Error: Incomplete format specifier.")
				}
			}
			if format[i+1] == '.' {
				i++
				if i == n-1 {
					return errors.New("Error: Incomplete format specifier.")
				}
				for isDigit(format[i+1]) {
					i++
					if i == n-1 {
						return errors.New("Error: Incomplete format specifier.")
					}
				}
			}
			switch format[i+1] {
			case '%', 'A', 'C', 'D', 'E', 'F', 'I', 'l', 'm', 'P', 'p', 'q', 'R', 'S', 'r', 't', 'j', 'J', 'U', 'x', 'X':
			default:
				return errors.New("Error: Invalid format specifier '" + string(format[i+1]) + "'.")
			}
			i++
		case '@':
			if i == n-1 {
				return errors.New("Error: Incomplete format specifier.")
			}
			i++
		case '\\':
			if i == n-1 {
				return errors.New("Error: Incomplete escape specifier.")
			}
			switch format[i+1] {
			case '\\', '0', 'a', 'e', 'n', 'r', 't', 'v':
			default:
				return errors.New("Error: Invalid escape specifier '" + string(format[i+1]) + "'.")
			}
			i++
		}
	}
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Format appends m rendered with a mosquitto_sub -F format to dst. It
// mirrors client/sub_client_output.c of mosquitto 2.0.11 byte for byte,
// including its quirks (see the tests), with one deliberate difference:
// the "tst" member of %j/%J uses the corrected layout of mosquitto >= 2.0.12,
// "2020-05-06T22:12:00.000000+0100"; 2.0.11 printed "...000000Z+0000"
// (a literal Z followed by the offset, eclipse/mosquitto#2353).
//
// The end-of-line newline is not included: mosquitto_sub adds "\n" after
// each message unless -N is given, and so must the caller.
//
// Specifiers: %% %t %p %x %X %l %q %r %m %I %U %j %J and the v5 property
// ones %A %C %D %E %F %P %R %S; flags '-' (left align) and '0' (zero pad),
// a field width and a ".precision". As in mosquitto, widths apply to
// %A %C %E %F %I %l %m %p %R %S %t %x %X, precision to %C %I %R %t, and
// %p/%x/%X truncate the payload to the width. '@c' expands strftime(3) %c
// for m.Received ('@N' nanoseconds, '@@' a literal '@'); '\' introduces
// the escapes \\ \0 \a \e \n \r \t \v. Unknown specifiers print nothing
// (ValidateFormat rejects them up front).
//
// pretty selects cJSON's indented layout for %j and %J (--pretty).
//
// Colour is never applied here. The only error is a *JSONPayloadError for
// %J with a non-JSON payload; like mosquitto, Format still renders the rest
// of the format, so callers should print the returned bytes to stdout and
// the error to stderr.
func Format(dst []byte, format string, m *Message, pretty bool) ([]byte, error) {
	var err error
	n := len(format)
	for i := 0; i < n; i++ {
		switch format[i] {
		case '%':
			if i >= n-1 {
				continue
			}
			i++
			var align, pad byte = 0, ' '
			width, prec := 0, -1
			if format[i] == '-' {
				align = '-'
				if i < n-1 {
					i++
				}
			}
			if format[i] == '0' {
				pad = '0'
				if i < n-1 {
					i++
				}
			}
			for i < n-1 && isDigit(format[i]) {
				width = min(width*10+int(format[i]-'0'), maxFieldWidth)
				i++
			}
			if format[i] == '.' && i < n-1 {
				i++
				prec = 0
				for i < n-1 && isDigit(format[i]) {
					prec = min(prec*10+int(format[i]-'0'), maxFieldWidth)
					i++
				}
			}
			var e error
			dst, e = formatPercent(dst, format[i], m, align, pad, width, prec, pretty)
			if e != nil && err == nil {
				err = e
			}
		case '@':
			if i >= n-1 {
				continue
			}
			i++
			switch c := format[i]; c {
			case '@':
				dst = append(dst, '@')
			case 'N':
				dst = appendPadded(dst, int64(m.now().Nanosecond()), 9, '0')
			default:
				dst = appendStrftime(dst, c, m.now())
			}
		case '\\':
			if i >= n-1 {
				continue
			}
			i++
			switch format[i] {
			case '\\':
				dst = append(dst, '\\')
			case '0':
				dst = append(dst, 0)
			case 'a':
				dst = append(dst, '\a')
			case 'e':
				dst = append(dst, 0x1B)
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'v':
				dst = append(dst, '\v')
			}
		default:
			dst = append(dst, format[i])
		}
	}
	return dst, err
}

func formatPercent(dst []byte, c byte, m *Message, align, pad byte, width, prec int, pretty bool) ([]byte, error) {
	p := &m.Props
	switch c {
	case '%':
		dst = append(dst, '%')
	case 'A':
		if p.Has(mqtt.PropTopicAlias) {
			dst = appendInt(dst, int64(p.TopicAlias), align, pad, width)
		} else {
			dst = appendBlank(dst, pad, width)
		}
	case 'C':
		if p.Has(mqtt.PropContentType) {
			dst = appendStr(dst, p.ContentType, align, width, prec)
		} else {
			dst = appendBlank(dst, ' ', width)
		}
	case 'D':
		if p.Has(mqtt.PropCorrelationData) {
			dst = append(dst, p.CorrelationData...)
		}
	case 'E':
		if p.Has(mqtt.PropMessageExpiry) {
			// mosquitto prints the uint32 through an int cast.
			dst = appendInt(dst, int64(int32(p.MessageExpiry)), align, pad, width)
		} else {
			dst = appendBlank(dst, pad, width)
		}
	case 'F':
		if p.Has(mqtt.PropPayloadFormat) {
			dst = appendInt(dst, int64(p.PayloadFormat), align, pad, width)
		} else {
			dst = appendBlank(dst, pad, width)
		}
	case 'I':
		dst = appendStr(dst, string(appendSeq(nil, m.now(), "%Y-%m-%dT%H:%M:%S%z")), align, width, prec)
	case 'j', 'J':
		var ok bool
		dst, ok = appendMosquittoJSON(dst, m, c == 'j', pretty)
		if !ok {
			return dst, &JSONPayloadError{Topic: m.Topic}
		}
	case 'l':
		dst = appendInt(dst, int64(len(m.Payload)), align, pad, width)
	case 'm':
		dst = appendInt(dst, int64(m.MID), align, pad, width)
	case 'P':
		for i, u := range p.User {
			if i > 0 {
				dst = append(dst, ' ')
			}
			dst = append(dst, u.Key...)
			dst = append(dst, ':')
			dst = append(dst, u.Value...)
		}
	case 'p':
		dst = appendPayload(dst, m.Payload, 0, align, pad, width)
	case 'q':
		dst = append(dst, '0'+m.QoS)
	case 'R':
		// mosquitto prints no padding when the property is absent.
		if p.Has(mqtt.PropResponseTopic) {
			dst = appendStr(dst, p.ResponseTopic, align, width, prec)
		}
	case 'r':
		if m.Retain {
			dst = append(dst, '1')
		} else {
			dst = append(dst, '0')
		}
	case 'S':
		if len(p.SubscriptionIDs) > 0 {
			dst = appendInt(dst, int64(int32(p.SubscriptionIDs[0])), align, pad, width)
		} else {
			dst = appendBlank(dst, pad, width)
		}
	case 't':
		dst = appendStr(dst, m.Topic, align, width, prec)
	case 'U':
		t := m.now()
		dst = strconv.AppendInt(dst, t.Unix(), 10)
		dst = append(dst, '.')
		dst = appendPadded(dst, int64(t.Nanosecond()), 9, '0')
	case 'x':
		dst = appendPayload(dst, m.Payload, 1, align, pad, width)
	case 'X':
		dst = appendPayload(dst, m.Payload, 2, align, pad, width)
	}
	return dst, nil
}

// appendBlank is formatted_print_blank: width copies of pad.
func appendBlank(dst []byte, pad byte, width int) []byte {
	for ; width > 0; width-- {
		dst = append(dst, pad)
	}
	return dst
}

// appendInt is formatted_print_int: printf %d, %-*d, %0*d or %*d.
func appendInt(dst []byte, v int64, align, pad byte, width int) []byte {
	if align == '-' {
		start := len(dst)
		dst = strconv.AppendInt(dst, v, 10)
		return appendBlank(dst, ' ', width-(len(dst)-start))
	}
	return appendPadded(dst, v, width, pad)
}

// appendStr is formatted_print_str: printf %s with optional width and
// precision, both counted in bytes as C does.
func appendStr(dst []byte, s string, align byte, width, prec int) []byte {
	if prec >= 0 && len(s) > prec {
		s = s[:prec]
	}
	fill := width - len(s)
	if align != '-' {
		dst = appendBlank(dst, ' ', fill)
	}
	dst = append(dst, s...)
	if align == '-' {
		dst = appendBlank(dst, ' ', fill)
	}
	return dst
}

// appendPayload is mosquitto's write_payload, quirks included: with a
// field width the payload is cut to the width, and for hex (1 lower, 2
// upper) the cut length is then halved; with '-' and no width, the
// negative pad length given to printf("%*s") still pads with as many
// spaces as there are payload bytes.
func appendPayload(dst []byte, payload []byte, hex int, align, pad byte, width int) []byte {
	n := len(payload)
	var padlen int
	if width > 0 {
		if n > width {
			n = width
		}
		if hex > 0 {
			n /= 2
			padlen = width - n*2
		} else {
			padlen = width - n
		}
	} else {
		padlen = width - n
	}
	if align != '-' {
		dst = appendBlank(dst, pad, padlen)
	}
	switch hex {
	case 0:
		dst = append(dst, payload[:n]...)
	case 1:
		dst = appendHex(dst, payload[:n], "0123456789abcdef")
	case 2:
		dst = appendHex(dst, payload[:n], "0123456789ABCDEF")
	}
	if align == '-' {
		if padlen < 0 {
			padlen = -padlen
		}
		dst = appendBlank(dst, ' ', padlen)
	}
	return dst
}

func appendHex(dst, b []byte, digits string) []byte {
	for _, c := range b {
		dst = append(dst, digits[c>>4], digits[c&0xF])
	}
	return dst
}

// Plain appends m as mosquitto_sub prints it without -F, including the
// end-of-line newline: "payload\n", or with verbose (-v) "topic payload\n".
// As in mosquitto, a message with an empty payload prints nothing at all
// in plain mode and "topic (null)\n" in verbose mode.
func Plain(dst []byte, m *Message, verbose bool) []byte {
	return plain(dst, m, verbose, true)
}

// PlainNoEOL is Plain for -N (no newline after each message). An empty
// payload then prints nothing in verbose mode either, as in mosquitto.
func PlainNoEOL(dst []byte, m *Message, verbose bool) []byte {
	return plain(dst, m, verbose, false)
}

func plain(dst []byte, m *Message, verbose, eol bool) []byte {
	if len(m.Payload) == 0 {
		if verbose && eol {
			dst = append(dst, m.Topic...)
			dst = append(dst, " (null)\n"...)
		}
		return dst
	}
	if verbose {
		dst = append(dst, m.Topic...)
		dst = append(dst, ' ')
	}
	dst = append(dst, m.Payload...)
	if eol {
		dst = append(dst, '\n')
	}
	return dst
}

// OutputOptions selects how mqsub prints each message.
type OutputOptions struct {
	Format string // -F; overrides Verbose
	// FormatSet is true when -F was given, even empty: mosquitto_sub
	// then prints the format (nothing) and the end of line.
	FormatSet bool
	JSON      bool // --json (our NDJSON, see JSONLine); overrides Format and Verbose
	Verbose   bool // -v
	NoEOL     bool // -N (ignored by JSON, which is one object per line)
	Pretty    bool // --pretty for %j / %J
	// Palette colours the default (plain / -v) output only; nil or a
	// disabled palette gives mosquitto's exact bytes.
	Palette *Palette
}

// Render appends m as selected by o, end of line included. Errors are as
// for Format; the returned bytes are still meant to be printed.
func Render(dst []byte, o *OutputOptions, m *Message) ([]byte, error) {
	switch {
	case o.JSON:
		dst = JSONLine(dst, m)
		return append(dst, '\n'), nil
	case o.Format != "" || o.FormatSet:
		dst, err := Format(dst, o.Format, m, o.Pretty)
		if !o.NoEOL {
			dst = append(dst, '\n')
		}
		return dst, err
	default:
		return o.Palette.Human(dst, m, o.Verbose, !o.NoEOL), nil
	}
}
