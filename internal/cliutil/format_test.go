package cliutil

import (
	"errors"
	"strings"
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

func TestFormatSpecifiers(t *testing.T) {
	full := &Message{Topic: "t/abc", Payload: []byte("abcdef"), QoS: 1, Retain: true, MID: 42, Props: fullProps(), Received: t0}
	abc := &Message{Topic: "t/abc", Payload: []byte("abc"), Received: t0}
	bare := &Message{Topic: "t/a", Payload: []byte("x"), Received: t0}
	var aliasProps mqtt.Properties
	aliasProps.SetTopicAlias(3)
	aliasProps.SetMessageExpiry(4294967295)
	alias := &Message{Topic: "t", Payload: []byte("x"), Props: aliasProps, Received: t0}
	bin := &Message{Topic: "b", Payload: []byte{0x00, 0xff, 0x10}, Received: t0}

	tests := []struct {
		name, format string
		m            *Message
		want         string
	}{
		{"percent", "%%", full, "%"},
		{"topic", "%t", full, "t/abc"},
		{"payload", "%p", full, "abcdef"},
		{"payload binary", "%p", bin, "\x00\xff\x10"},
		{"hex lower", "%x", bin, "00ff10"},
		{"hex upper", "%X", bin, "00FF10"},
		{"length", "%l", full, "6"},
		{"qos", "%q", full, "1"},
		{"retain", "%r", full, "1"},
		{"retain off", "%r", abc, "0"},
		{"mid", "%m", full, "42"},
		{"mid qos0", "%m", abc, "0"},
		{"iso8601", "%I", full, "2020-05-06T22:12:00+0100"},
		{"unix nanos", "%U", full, "1588799520.123456789"},
		{"literal text", "a b\tc", full, "a b\tc"},
		{"mixed", "%t %p %q %r", full, "t/abc abcdef 1 1"},

		// Widths, verified with mosquitto_sub 2.0.11 for payload "abcdef".
		{"hex width halves", "[%10x]", full, "[    616263]"},
		{"hex left width", "[%-10X]", full, "[616263    ]"},
		{"hex width cuts", "[%3x]", full, "[ 61]"},
		{"payload width", "[%10p]", full, "[    abcdef]"},
		{"payload left", "[%-10p]", full, "[abcdef    ]"},
		{"payload cut", "[%3p]", full, "[abc]"},
		{"int zero pad", "[%05l]", full, "[00006]"},
		{"int left", "[%-5l|]", full, "[6    |]"},
		{"str width prec", "[%5.2t]", full, "[   t/]"},
		{"str prec", "[%.2t]", full, "[t/]"},
		{"str left", "[%-8t|]", full, "[t/abc   |]"},
		{"iso width prec", "[%10.3I]", full, "[       202]"},
		// Quirks, verified with mosquitto_sub 2.0.11 for payload "abc".
		{"left no width pads", "[%-p][%-x]", abc, "[abc   ][616263   ]"},
		{"left zero", "[%-0p]", abc, "[abc   ]"},
		{"zero no width", "[%0p]", abc, "[abc]"},
		{"zero pad payload", "[%05p]", abc, "[00abc]"},
		{"left width payload", "[%-5p]", abc, "[abc  ]"},
		{"payload ignores prec", "[%5.1p]", abc, "[  abc]"},
		{"left width prec", "[%-5.3t]", abc, "[t/a  ]"},
		{"zero ignored on str", "[%0t][%05t]", abc, "[t/abc][t/abc]"},
		{"left wins over zero", "[%-05l]", abc, "[3    ]"},
		{"qos no width", "[%05q][%5r]", abc, "[0][0]"},
		{"mid width", "[%3m]", abc, "[  0]"},
		{"missing prop blank", "[%-3E|]", abc, "[   |]"},
		{"prec zero", "[%.0t][%.t][%5.t]", abc, "[][][     ]"},
		{"width 7 topic", "[%7t]", abc, "[  t/abc]"},

		// v5 properties, verified with mosquitto_sub 2.0.11.
		{"props present", "[%A][%5A][%C][%8C|][%-8C|][%.1C][%D][%5D][%E][%06E][%F][%3F][%P][%R][%8R|][%S][%-5S|][%05S]", full,
			"[][     ][ct][      ct|][ct      |][c][cd][cd][60][000060][1][  1][k:v k2:v2][rt][      rt|][7][7    |][00007]"},
		{"props absent", "[%A][%5A][%C][%8C|][%-8C|][%.1C][%D][%5D][%E][%06E][%F][%3F][%P][%R][%8R|][%S][%-5S|][%05S]", bare,
			"[][     ][][        |][        |][][][][][000000][][   ][][][|][][     |][00000]"},
		{"topic alias", "[%A][%5A][%-5A|][%05A]", alias, "[3][    3][3    |][00003]"},
		{"expiry through int", "%E", alias, "-1"},

		// Escapes.
		{"escapes", `a\\b\0c\ad\ee\nf\rg\th\vi`, full, "a\\b\x00c\ad\x1be\nf\rg\th\vi"},
		{"colour escape", `\e[92m%t\e[0m`, full, "\x1b[92mt/abc\x1b[0m"},
		{"unknown escape", `a\qb`, full, "ab"},
		{"trailing backslash", `a\`, full, "a"},
		{"trailing percent", "a%", full, "a"},
		{"trailing at", "a@", full, "a"},
		{"trailing width", "a%5", full, "a"},
		{"trailing dot", "a%5.", full, "a"},
		{"unknown specifier", "a%yb", full, "ab"},

		// strftime.
		{"at at", "@@", full, "@"},
		{"nanos", "@N", full, "123456789"},
		{"date", "@Y-@m-@dT@H:@M:@S.@N @z @Z @s", full, "2020-05-06T22:12:00.123456789 +0100 BST 1588799520"},
		{"unknown strftime", "[@Q][@E][@-][@%]", full, "[%Q][%E][%-][%]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Format([]byte("<"), tc.format, tc.m, false)
			requireNoError(t, err)
			requireEqualBytes(t, tc.format, got, []byte("<"+tc.want))
		})
	}
}

func TestFormatJSON(t *testing.T) {
	full := &Message{Topic: "t/abc", Payload: []byte("abcdef"), QoS: 1, Retain: true, MID: 42, Props: fullProps(), Received: t0}
	// The same properties in another wire order (as a broker may send
	// them); user properties interleaved with others stay together where
	// the first one came.
	reordered := *full
	reordered.Props = decodedProps(fullProps(), mqtt.PropPayloadFormat, mqtt.PropMessageExpiry, mqtt.PropContentType,
		mqtt.PropResponseTopic, mqtt.PropUserProperty, mqtt.PropCorrelationData, mqtt.PropSubscriptionID)
	// Built by code rather than decoded: identifier order.
	built := *full
	built.Props = mqtt.Properties{}
	built.Props.SetResponseTopic("rt")
	built.Props.SetPayloadFormat(0)
	tests := []struct {
		name, format string
		m            *Message
		pretty       bool
		want         string
	}{
		{"j v5 wire order", "%j", &reordered, false,
			`{"tst":"2020-05-06T22:12:00.123456+0100","topic":"t/abc","qos":1,"retain":1,"payloadlen":6,"mid":42,` +
				`"properties":{"payload-format-indicator":1,"message-expiry-interval":60,"content-type":"ct",` +
				`"response-topic":"rt","user-properties":{"k":"v","k2":"v2"},"correlation-data":"cd","subscription-identifier":7},"payload":"abcdef"}`},
		{"j v5 built", "%j", &built, false,
			`{"tst":"2020-05-06T22:12:00.123456+0100","topic":"t/abc","qos":1,"retain":1,"payloadlen":6,"mid":42,` +
				`"properties":{"payload-format-indicator":0,"response-topic":"rt"},"payload":"abcdef"}`},
		{"j v5", "%j", full, false,
			`{"tst":"2020-05-06T22:12:00.123456+0100","topic":"t/abc","qos":1,"retain":1,"payloadlen":6,"mid":42,` +
				`"properties":{"subscription-identifier":7,"user-properties":{"k":"v","k2":"v2"},"content-type":"ct",` +
				`"correlation-data":"cd","response-topic":"rt","payload-format-indicator":1,"message-expiry-interval":60},"payload":"abcdef"}`},
		{"j qos0 no mid, no props", "%j", &Message{Topic: "a", Payload: []byte("hi"), Received: t0}, false,
			`{"tst":"2020-05-06T22:12:00.123456+0100","topic":"a","qos":0,"retain":0,"payloadlen":2,"payload":"hi"}`},
		{"j empty payload is null", "%j", &Message{Topic: "a", QoS: 1, MID: 1, Received: t0}, false,
			`{"tst":"2020-05-06T22:12:00.123456+0100","topic":"a","qos":1,"retain":0,"payloadlen":0,"mid":1,"payload":null}`},
		{"j escapes like cJSON", "%j", &Message{Topic: "a", Payload: []byte("a\tb\x01\x7f\xc3\xa9\"\\/"), Received: t0}, false,
			`{"tst":"2020-05-06T22:12:00.123456+0100","topic":"a","qos":0,"retain":0,"payloadlen":10,"payload":"a\tb\u0001` + "\x7f\xc3\xa9" + `\"\\/"}`},
		{"j NUL truncates", "%j", &Message{Topic: "a", Payload: []byte("ab\x00cd"), Received: t0}, false,
			`{"tst":"2020-05-06T22:12:00.123456+0100","topic":"a","qos":0,"retain":0,"payloadlen":5,"payload":"ab"}`},
		{"j duplicate user keys", "%j", &Message{Topic: "a", Payload: []byte("x"), Props: mqtt.Properties{User: []mqtt.UserProperty{{Key: "k", Value: "v"}, {Key: "k", Value: "v2"}}}, Received: t0}, false,
			`{"tst":"2020-05-06T22:12:00.123456+0100","topic":"a","qos":0,"retain":0,"payloadlen":1,"properties":{"user-properties":{"k":"v","k":"v2"}},"payload":"x"}`},
		{"j pretty", "%j", full, true, "{\n" +
			"\t\"tst\":\t\"2020-05-06T22:12:00.123456+0100\",\n" +
			"\t\"topic\":\t\"t/abc\",\n" +
			"\t\"qos\":\t1,\n" +
			"\t\"retain\":\t1,\n" +
			"\t\"payloadlen\":\t6,\n" +
			"\t\"mid\":\t42,\n" +
			"\t\"properties\":\t{\n" +
			"\t\t\"subscription-identifier\":\t7,\n" +
			"\t\t\"user-properties\":\t{\n" +
			"\t\t\t\"k\":\t\"v\",\n" +
			"\t\t\t\"k2\":\t\"v2\"\n" +
			"\t\t},\n" +
			"\t\t\"content-type\":\t\"ct\",\n" +
			"\t\t\"correlation-data\":\t\"cd\",\n" +
			"\t\t\"response-topic\":\t\"rt\",\n" +
			"\t\t\"payload-format-indicator\":\t1,\n" +
			"\t\t\"message-expiry-interval\":\t60\n" +
			"\t},\n" +
			"\t\"payload\":\t\"abcdef\"\n" +
			"}"},
		// Verified with mosquitto_sub 2.0.11 (cJSON 1.7.15) --pretty -F %J.
		{"J pretty nested", "%J", &Message{Topic: "t/a", Payload: []byte(`{"a":[1,2.50,{"b":null}],"c":{}, "d":[], "e":"\u00e9\/"}`), Received: t0}, true, "{\n" +
			"\t\"tst\":\t\"2020-05-06T22:12:00.123456+0100\",\n" +
			"\t\"topic\":\t\"t/a\",\n" +
			"\t\"qos\":\t0,\n" +
			"\t\"retain\":\t0,\n" +
			"\t\"payloadlen\":\t56,\n" +
			"\t\"payload\":\t{\n" +
			"\t\t\"a\":\t[1, 2.5, {\n" +
			"\t\t\t\t\"b\":\tnull\n" +
			"\t\t\t}],\n" +
			"\t\t\"c\":\t{\n" +
			"\t\t},\n" +
			"\t\t\"d\":\t[],\n" +
			"\t\t\"e\":\t\"é/\"\n" +
			"\t}\n" +
			"}"},
		{"J reprints", "x%Jy", &Message{Topic: "a", Payload: []byte(" {\"a\" : [ 1 , 2.50 ] , \"a\":01} "), Received: t0}, false,
			`x{"tst":"2020-05-06T22:12:00.123456+0100","topic":"a","qos":0,"retain":0,"payloadlen":31,"payload":{"a":[1,2.5],"a":1}}y`},
		{"J empty is null", "%J", &Message{Topic: "a", Received: t0}, false,
			`{"tst":"2020-05-06T22:12:00.123456+0100","topic":"a","qos":0,"retain":0,"payloadlen":0,"payload":null}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Format(nil, tc.format, tc.m, tc.pretty)
			requireNoError(t, err)
			requireEqualBytes(t, tc.name, got, []byte(tc.want))
		})
	}
}

func TestFormatJSONPayloadError(t *testing.T) {
	m := &Message{Topic: "t/a", Payload: []byte("notjson"), Received: t0}
	got, err := Format(nil, "x%Jy%t", m, false)
	requireErrorText(t, err, "Error: Message payload is not valid JSON on topic t/a.")
	if !errors.Is(err, ErrInvalidJSONPayload) {
		t.Errorf("errors.Is(err, ErrInvalidJSONPayload) = false")
	}
	// Like mosquitto, the rest of the format is still printed.
	requireEqualBytes(t, "output", got, []byte("xyt/a"))
}

func TestValidateFormat(t *testing.T) {
	tests := []struct{ format, err string }{
		{"%t %p %x %X %l %q %r %m %I %U %j %J %A %C %D %E %F %P %R %S %%", ""},
		{"%-10t %010l %10.5t %-0p %.3C", ""},
		{"@Y @Q @@ \\\\ \\0 \\a \\e \\n \\r \\t \\v", ""},
		{"", ""},
		{"%", "Error: Incomplete format specifier."},
		{"%-", "Error: Incomplete format specifier."},
		{"%10", "Error: Incomplete format specifier."},
		{"%1.", "Error: Incomplete format specifier."},
		{"%1.2", "Error: Incomplete format specifier."},
		{"@", "Error: Incomplete format specifier."},
		{"%y", "Error: Invalid format specifier 'y'."},
		{"%5.2Z", "Error: Invalid format specifier 'Z'."},
		{"\\", "Error: Incomplete escape specifier."},
		{"\\q", "Error: Invalid escape specifier 'q'."},
	}
	for _, tc := range tests {
		err := ValidateFormat(tc.format)
		if tc.err == "" {
			if err != nil {
				t.Errorf("ValidateFormat(%q) = %v, want nil", tc.format, err)
			}
			continue
		}
		if err == nil || err.Error() != tc.err {
			t.Errorf("ValidateFormat(%q) = %v, want %q", tc.format, err, tc.err)
		}
	}
}

func TestPlain(t *testing.T) {
	m := &Message{Topic: "a/b", Payload: []byte("hi there")}
	empty := &Message{Topic: "a/b"}
	tests := []struct {
		name    string
		m       *Message
		verbose bool
		noEOL   bool
		want    string
	}{
		{"plain", m, false, false, "hi there\n"},
		{"verbose", m, true, false, "a/b hi there\n"},
		{"plain -N", m, false, true, "hi there"},
		{"verbose -N", m, true, true, "a/b hi there"},
		{"empty plain prints nothing", empty, false, false, ""},
		{"empty verbose", empty, true, false, "a/b (null)\n"},
		{"empty verbose -N prints nothing", empty, true, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []byte
			if tc.noEOL {
				got = PlainNoEOL(nil, tc.m, tc.verbose)
			} else {
				got = Plain(nil, tc.m, tc.verbose)
			}
			requireEqualBytes(t, tc.name, got, []byte(tc.want))
			o := &OutputOptions{Verbose: tc.verbose, NoEOL: tc.noEOL, Palette: NewPalette(false)}
			got, err := Render(nil, o, tc.m)
			requireNoError(t, err)
			requireEqualBytes(t, "Render "+tc.name, got, []byte(tc.want))
		})
	}
}

func TestRender(t *testing.T) {
	m := &Message{Topic: "a", Payload: []byte(`{"x":1}`), Received: t0}
	tests := []struct {
		name string
		o    OutputOptions
		want string
	}{
		{"format overrides verbose", OutputOptions{Format: "%t=%p", Verbose: true}, "a={\"x\":1}\n"},
		{"format -N", OutputOptions{Format: "%t", NoEOL: true}, "a"},
		{"json overrides format", OutputOptions{JSON: true, Format: "%t", NoEOL: true},
			`{"tst":"2020-05-06T22:12:00.123456+0100","topic":"a","qos":0,"retain":0,"payloadlen":7,"payload":{"x":1}}` + "\n"},
		{"colour never in -F", OutputOptions{Format: "%t", Palette: NewPalette(true)}, "a\n"},
		{"colour never in json", OutputOptions{JSON: true, Palette: NewPalette(true)},
			`{"tst":"2020-05-06T22:12:00.123456+0100","topic":"a","qos":0,"retain":0,"payloadlen":7,"payload":{"x":1}}` + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Render(nil, &tc.o, m)
			requireNoError(t, err)
			requireEqualBytes(t, tc.name, got, []byte(tc.want))
		})
	}
}

func TestFormatZeroTimeUsesNow(t *testing.T) {
	m := &Message{Topic: "a"}
	got, err := Format(nil, "@Y", m, false)
	requireNoError(t, err)
	if len(got) != 4 || got[0] != '2' {
		t.Errorf("@Y with zero Received = %q, want the current year", got)
	}
}

func TestFormatWidthCapped(t *testing.T) {
	m := &Message{Topic: "a", Received: t0}
	got, err := Format(nil, "%99999999999999999999t", m, false)
	requireNoError(t, err)
	if len(got) != maxFieldWidth {
		t.Errorf("len = %d, want cap %d", len(got), maxFieldWidth)
	}
}

func FuzzFormat(f *testing.F) {
	for _, s := range []string{"%t %p", "%-10.3t", "%J", "@Y@N", `\e[1m%x\n`, "%0", "%", "@", "%-0.9x"} {
		f.Add(s, []byte("payload"))
	}
	f.Fuzz(func(t *testing.T, format string, payload []byte) {
		m := &Message{Topic: "a/b", Payload: payload, QoS: 1, MID: 9, Props: fullProps(), Received: t0}
		out, err := Format(nil, format, m, false)
		if err != nil && !strings.Contains(format, "J") {
			t.Fatalf("error without %%J: %v", err)
		}
		if ValidateFormat(format) == nil && !strings.ContainsAny(format, "%@\\") && string(out) != format {
			t.Fatalf("plain text %q rendered as %q", format, out)
		}
	})
}
