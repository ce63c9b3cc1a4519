package mqtt

import (
	"errors"
	"strings"
	"testing"
)

func TestValidTopicName(t *testing.T) {
	long := strings.Repeat("a", 65535)
	tests := []struct {
		name  string
		topic string
		ok    bool
	}{
		{"simple", "a/b", true},
		{"single level", "a", true},
		{"only separator", "/", true},
		{"empty levels", "a//b/", true},
		{"leading slash", "/a", true},
		{"space", "a b", true},
		{"dollar", "$SYS/broker", true},
		{"utf8", "sport/\u00e9t\u00e9/\U0001F600", true},
		{"max length", long, true},
		{"empty", "", false},                  // [MQTT-4.7.3-1]
		{"too long", long + "a", false},       // [MQTT-4.7.3-3]
		{"plus", "a/+", false},                // [MQTT-4.7.1-1]
		{"hash", "a/#", false},                // [MQTT-4.7.1-1]
		{"plus inside level", "a+b", false},   // wildcards anywhere
		{"nul", "a\x00b", false},              // [MQTT-4.7.3-2]
		{"invalid utf8", "a\xffb", false},     // [MQTT-1.5.3-1]
		{"surrogate", "a\xed\xa0\x80", false}, // U+D800 [MQTT-1.5.3-1]
		{"overlong", "\xc0\xaf", false},       // overlong '/'
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidTopicName(tt.topic)
			if tt.ok {
				if err != nil {
					t.Fatalf("ValidTopicName(%.20q) = %v, want nil", tt.topic, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidTopicName) {
				t.Fatalf("ValidTopicName(%.20q) = %v, want ErrInvalidTopicName", tt.topic, err)
			}
			if got := CodeOf(err); got != TopicNameInvalid {
				t.Fatalf("CodeOf = %v, want %v", got, TopicNameInvalid)
			}
		})
	}
}

func TestValidTopicFilter(t *testing.T) {
	tests := []struct {
		filter string
		ok     bool
	}{
		{"a/b", true},
		{"#", true},
		{"+", true},
		{"a/#", true},
		{"+/+", true},
		{"/+", true},
		{"+/", true},
		{"a/+/c/#", true},
		{"sport/tennis/#", true},
		{"/", true},
		{"$SYS/#", true},
		{"$share/g/a/#", true},
		{"$share/g/#", true},
		{"$share/g/+", true},
		{"$share/g//", true},
		{"$shared/x", true}, // not the share prefix: a plain filter
		{"", false},         // [MQTT-4.7.3-1]
		{"a/#/b", false},    // '#' must be last [MQTT-4.7.1-2]
		{"a#", false},       // '#' must follow '/'
		{"#/", false},
		{"##", false},
		{"a/b#", false},
		{"a+", false}, // '+' must fill its level [MQTT-4.7.1-3]
		{"+a", false},
		{"a/+b/c", false},
		{"++", false},
		{"a\x00", false},          // U+0000
		{"\xff", false},           // invalid UTF-8
		{"$share/g", false},       // no filter after the share name [MQTT-4.8.2-2]
		{"$share/g/", false},      // empty filter
		{"$share//a", false},      // empty share name [MQTT-4.8.2-1]
		{"$share/g+/a", false},    // '+' in share name [MQTT-4.8.2-2]
		{"$share/g#/a", false},    // '#' in share name
		{"$share/g/a#", false},    // invalid inner filter
		{"$share/g/a/#/b", false}, // invalid inner filter
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			err := ValidTopicFilter(tt.filter)
			if tt.ok {
				if err != nil {
					t.Fatalf("ValidTopicFilter(%q) = %v, want nil", tt.filter, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidTopicFilter) {
				t.Fatalf("ValidTopicFilter(%q) = %v, want ErrInvalidTopicFilter", tt.filter, err)
			}
			if got := CodeOf(err); got != TopicFilterInvalid {
				t.Fatalf("CodeOf = %v, want %v", got, TopicFilterInvalid)
			}
		})
	}
}

func TestParseShared(t *testing.T) {
	tests := []struct {
		filter       string
		group, inner string
		ok, err      bool
	}{
		{filter: "a/b", inner: "a/b"},
		{filter: "#", inner: "#"},
		{filter: "$SYS/#", inner: "$SYS/#"},
		{filter: "$share/g/a/b", group: "g", inner: "a/b", ok: true},
		{filter: "$share/group-1/#", group: "group-1", inner: "#", ok: true},
		{filter: "$share/g//", group: "g", inner: "/", ok: true},
		{filter: "$share/g/$SYS/#", group: "g", inner: "$SYS/#", ok: true},
		{filter: "$share/g", ok: true, err: true},
		{filter: "$share/", ok: true, err: true},
		{filter: "$share//a", ok: true, err: true},
		{filter: "$share/+/a", ok: true, err: true},
		{filter: "$share/#/a", ok: true, err: true},
		{filter: "$share/g/", ok: true, err: true},
		{filter: "$share/g/a+", ok: true, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			group, inner, ok, err := ParseShared(tt.filter)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if tt.err {
				if !errors.Is(err, ErrInvalidTopicFilter) {
					t.Fatalf("err = %v, want ErrInvalidTopicFilter", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if group != tt.group || inner != tt.inner {
				t.Fatalf("ParseShared(%q) = (%q, %q), want (%q, %q)", tt.filter, group, inner, tt.group, tt.inner)
			}
		})
	}
}

// matchCases are the examples of MQTT 3.1.1/5.0 section 4.7 and the edge
// cases around '$' topics, empty levels and the parent match of '#'.
var matchCases = []struct {
	filter, topic string
	want          bool
}{
	{"sport/tennis/player1/#", "sport/tennis/player1", true},
	{"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
	{"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
	{"sport/#", "sport", true},
	{"sport/#", "sport/", true},
	{"sport/#", "sports", false},
	{"#", "sport", true},
	{"#", "/", true},
	{"#", "a/b/c", true},
	{"sport/tennis/+", "sport/tennis/player1", true},
	{"sport/tennis/+", "sport/tennis/player2", true},
	{"sport/tennis/+", "sport/tennis/player1/ranking", false},
	{"sport/+", "sport", false},
	{"sport/+", "sport/", true},
	{"+", "sport", true},
	{"+", "/finance", false},
	{"+/+", "/finance", true},
	{"/+", "/finance", true},
	{"+/#", "a", true},
	{"+/#", "a/b/c", true},
	{"a/+/c", "a//c", true},
	{"a/+/c", "a/b/c", true},
	{"a/+/c", "a/b/d", false},
	{"a/+/+", "a/b", false},
	{"a/b", "a/b", true},
	{"a/b", "a/b/", false},
	{"a/b", "A/b", false},
	{"a/b/", "a/b/", true},
	{"/", "/", true},
	{"a", "a/b", false},
	{"a/b/c", "a/b", false},
	// [MQTT-4.7.2-1]: no leading wildcard match on '$' topics.
	{"#", "$SYS/broker/uptime", false},
	{"+/monitor/Clients", "$SYS/monitor/Clients", false},
	{"+", "$SYS", false},
	{"$SYS/#", "$SYS/broker/uptime", true},
	{"$SYS/monitor/+", "$SYS/monitor/Clients", true},
	{"$SYS/#", "$SYS", true},
	{"a/#", "a/$b", true}, // '$' only matters at the start of the topic
	{"+/$b", "a/$b", true},
}

func TestMatchTopic(t *testing.T) {
	for _, tt := range matchCases {
		if got := MatchTopic(tt.filter, tt.topic); got != tt.want {
			t.Errorf("MatchTopic(%q, %q) = %v, want %v", tt.filter, tt.topic, got, tt.want)
		}
	}
}
