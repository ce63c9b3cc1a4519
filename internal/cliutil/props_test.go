package cliutil

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

func TestApplyPropertyValues(t *testing.T) {
	tests := []struct {
		cmd, name string
		values    []string
		check     func(s *PropertySet) bool
	}{
		{"publish", "content-type", []string{"text/plain"}, func(s *PropertySet) bool {
			return s.Publish.Has(mqtt.PropContentType) && s.Publish.ContentType == "text/plain"
		}},
		{"Publish", "Message-Expiry-Interval", []string{"4294967295"}, func(s *PropertySet) bool { return s.Publish.MessageExpiry == 4294967295 }},
		// atol, as mosquitto: "0x10" is 0, "60s" is 60.
		{"publish", "message-expiry-interval", []string{"0x10"}, func(s *PropertySet) bool {
			return s.Publish.MessageExpiry == 0 && s.Publish.Has(mqtt.PropMessageExpiry)
		}},
		{"publish", "message-expiry-interval", []string{"60s"}, func(s *PropertySet) bool { return s.Publish.MessageExpiry == 60 }},
		{"publish", "payload-format-indicator", []string{"1"}, func(s *PropertySet) bool {
			return s.Publish.Has(mqtt.PropPayloadFormat) && s.Publish.PayloadFormat == 1
		}},
		{"publish", "correlation-data", []string{""}, func(s *PropertySet) bool {
			return s.Publish.Has(mqtt.PropCorrelationData) && len(s.Publish.CorrelationData) == 0
		}},
		{"publish", "response-topic", []string{"reply/to"}, func(s *PropertySet) bool { return s.Publish.ResponseTopic == "reply/to" }},
		{"publish", "topic-alias", []string{"65535"}, func(s *PropertySet) bool { return s.Publish.TopicAlias == 65535 }},
		{"publish", "user-property", []string{"k", "v"}, func(s *PropertySet) bool {
			return reflect.DeepEqual(s.Publish.User, []mqtt.UserProperty{{Key: "k", Value: "v"}})
		}},
		{"connect", "session-expiry-interval", []string{"3600"}, func(s *PropertySet) bool { return s.Connect.SessionExpiry == 3600 }},
		{"connect", "receive-maximum", []string{"10"}, func(s *PropertySet) bool { return s.Connect.ReceiveMaximum == 10 }},
		{"connect", "maximum-packet-size", []string{"1024"}, func(s *PropertySet) bool { return s.Connect.MaximumPacketSize == 1024 }},
		{"connect", "topic-alias-maximum", []string{"0"}, func(s *PropertySet) bool { return s.Connect.Has(mqtt.PropTopicAliasMaximum) }},
		{"connect", "request-problem-information", []string{"0"}, func(s *PropertySet) bool { return s.Connect.Has(mqtt.PropRequestProblemInfo) }},
		{"connect", "request-response-information", []string{"1"}, func(s *PropertySet) bool { return s.Connect.RequestResponseInfo == 1 }},
		{"connect", "authentication-method", []string{"SCRAM-SHA-1"}, func(s *PropertySet) bool { return s.Connect.AuthMethod == "SCRAM-SHA-1" }},
		{"connect", "authentication-data", []string{"abc"}, func(s *PropertySet) bool { return string(s.Connect.AuthData) == "abc" }},
		{"subscribe", "subscription-identifier", []string{"268435455"}, func(s *PropertySet) bool {
			return reflect.DeepEqual(s.Subscribe.SubscriptionIDs, []uint32{268435455})
		}},
		{"unsubscribe", "user-property", []string{"a", "b"}, func(s *PropertySet) bool { return len(s.Unsubscribe.User) == 1 }},
		{"disconnect", "session-expiry-interval", []string{"0"}, func(s *PropertySet) bool { return s.Disconnect.Has(mqtt.PropSessionExpiry) }},
		{"disconnect", "reason-string", []string{"bye"}, func(s *PropertySet) bool { return s.Disconnect.ReasonString == "bye" }},
		{"will", "will-delay-interval", []string{"30"}, func(s *PropertySet) bool { return s.Will.WillDelay == 30 }},
		{"will", "content-type", []string{"x"}, func(s *PropertySet) bool { return s.Will.ContentType == "x" }},
		{"auth", "authentication-method", []string{"m"}, func(s *PropertySet) bool { return s.Auth.AuthMethod == "m" }},
		{"puback", "reason-string", []string{"ok"}, func(s *PropertySet) bool { return s.Puback.ReasonString == "ok" }},
		{"pubrec", "user-property", []string{"a", "b"}, func(s *PropertySet) bool { return len(s.Pubrec.User) == 1 }},
		{"pubrel", "reason-string", []string{"x"}, func(s *PropertySet) bool { return s.Pubrel.Has(mqtt.PropReasonString) }},
		{"pubcomp", "user-property", []string{"a", "b"}, func(s *PropertySet) bool { return len(s.Pubcomp.User) == 1 }},
	}
	for _, tc := range tests {
		t.Run(tc.cmd+" "+tc.name, func(t *testing.T) {
			var s PropertySet
			requireNoError(t, ApplyProperty(&s, tc.cmd, tc.name, tc.values))
			if !tc.check(&s) {
				t.Errorf("property not set as expected: %+v", s)
			}
			if s.IsEmpty() {
				t.Errorf("IsEmpty() = true after a property")
			}
		})
	}
}

func TestApplyPropertyErrors(t *testing.T) {
	tests := []struct {
		cmd, name string
		values    []string
		err       string
	}{
		{"bogus", "content-type", []string{"x"}, "Error: Invalid command bogus given in --property argument."},
		{"connack", "reason-string", []string{"x"}, "Error: Invalid command connack given in --property argument."},
		{"suback", "user-property", []string{"a", "b"}, "Error: Invalid command suback given in --property argument."},
		{"publish", "bogus", []string{"x"}, "Error: Invalid property name bogus given in --property argument."},
		{"connect", "content-type", []string{"x"}, "Error: content-type property not allowed for connect in --property argument."},
		{"publish", "maximum-qos", []string{"1"}, "Error: maximum-qos property not allowed for publish in --property argument."},
		{"publish", "subscription-identifier", []string{"3"}, "Error: subscription-identifier property not supported for publish in --property argument."},
		{"publish", "topic-alias", []string{"70000"}, "Error: Property value (70000) out of range for property topic-alias."},
		{"publish", "topic-alias", []string{"-1"}, "Error: Property value (-1) out of range for property topic-alias."},
		{"publish", "topic-alias", []string{"0"}, "Error: Property value (0) out of range for property topic-alias."},
		{"publish", "topic-alias", []string{"abc"}, "Error: Property value (0) out of range for property topic-alias."},
		{"publish", "message-expiry-interval", []string{"4294967296"}, "Error: Property value (4294967296) out of range for property message-expiry-interval."},
		{"publish", "message-expiry-interval", []string{"99999999999999999999"}, "Error: Property value (9223372036854775807) out of range for property message-expiry-interval."},
		{"publish", "payload-format-indicator", []string{"256"}, "Error: Property value (256) out of range for property payload-format-indicator."},
		{"publish", "payload-format-indicator", []string{"2"}, "Error: Property value (2) out of range for property payload-format-indicator."},
		{"subscribe", "subscription-identifier", []string{"0"}, "Error: Property value (0) out of range for property subscription-identifier."},
		{"subscribe", "subscription-identifier", []string{"268435456"}, "Error: Property value (268435456) out of range for property subscription-identifier."},
		{"connect", "receive-maximum", []string{"0"}, "Error: Property value (0) out of range for property receive-maximum."},
		{"connect", "maximum-packet-size", []string{"0"}, "Error: Property value (0) out of range for property maximum-packet-size."},
		{"publish", "user-property", []string{"a"}, "Error: --property argument given but not enough arguments specified."},
		{"publish", "content-type", []string{}, "Error: --property argument given but not enough arguments specified."},
		{"publish", "content-type", []string{"a", "b"}, "Error: --property argument publish content-type given too many values."},
		{"publish", "content-type", []string{"bad\xff"}, "Error: Property value for property content-type is not valid UTF-8."},
		{"publish", "content-type", []string{"nul\x00"}, "Error: Property value for property content-type is not valid UTF-8."},
		{"publish", "correlation-data", []string{strings.Repeat("x", 65536)}, "Error: Property value too long for property correlation-data."},
		{"publish", "response-topic", []string{"a/#"}, "Error: Invalid response topic 'a/#', does it contain '+' or '#'?"},
		{"will", "topic-alias", []string{"1"}, "Error: topic-alias property not allowed for will in --property argument."},
		{"puback", "content-type", []string{"x"}, "Error: content-type property not allowed for puback in --property argument."},
	}
	for _, tc := range tests {
		t.Run(tc.cmd+" "+tc.name+" "+strings.Join(tc.values, " "), func(t *testing.T) {
			var s PropertySet
			requireErrorText(t, ApplyProperty(&s, tc.cmd, tc.name, tc.values), tc.err)
		})
	}
}

func TestApplyPropertyDuplicates(t *testing.T) {
	var s PropertySet
	requireNoError(t, ApplyProperty(&s, "publish", "content-type", []string{"a"}))
	requireErrorText(t, ApplyProperty(&s, "publish", "content-type", []string{"b"}),
		"Error in PUBLISH properties: Duplicate property in property list.")
	// User properties repeat, in order [MQTT-3.3.2-18].
	requireNoError(t, ApplyProperty(&s, "publish", "user-property", []string{"k", "1"}))
	requireNoError(t, ApplyProperty(&s, "publish", "user-property", []string{"k", "2"}))
	want := []mqtt.UserProperty{{Key: "k", Value: "1"}, {Key: "k", Value: "2"}}
	if !reflect.DeepEqual(s.Publish.User, want) {
		t.Errorf("User = %v, want %v", s.Publish.User, want)
	}
	// The same property for another command is independent.
	requireNoError(t, ApplyProperty(&s, "will", "content-type", []string{"c"}))
	requireNoError(t, ApplyProperty(&s, "subscribe", "subscription-identifier", []string{"1"}))
	requireErrorText(t, ApplyProperty(&s, "subscribe", "subscription-identifier", []string{"2"}),
		"Error in SUBSCRIBE properties: Duplicate property in property list.")
}

func TestPropertySetEmpty(t *testing.T) {
	var s PropertySet
	if !s.IsEmpty() {
		t.Fatal("zero PropertySet not empty")
	}
	for c := Command(0); c < numCommands; c++ {
		if s.For(c) == nil {
			t.Errorf("For(%v) = nil", c)
		}
		if got, ok := ParseCommand(strings.ToUpper(c.String())); !ok || got != c {
			t.Errorf("ParseCommand(%q) = %v, %v", strings.ToUpper(c.String()), got, ok)
		}
	}
}

func TestPropertyNames(t *testing.T) {
	tests := []struct {
		cmd  Command
		want string
	}{
		{CmdPublish, "content-type correlation-data message-expiry-interval payload-format-indicator response-topic topic-alias user-property"},
		{CmdSubscribe, "subscription-identifier user-property"},
		{CmdUnsubscribe, "user-property"},
		{CmdWill, "content-type correlation-data message-expiry-interval payload-format-indicator response-topic user-property will-delay-interval"},
		{CmdConnect, "authentication-data authentication-method maximum-packet-size receive-maximum request-problem-information request-response-information session-expiry-interval topic-alias-maximum user-property"},
	}
	for _, tc := range tests {
		if got := strings.Join(PropertyNames(tc.cmd), " "); got != tc.want {
			t.Errorf("PropertyNames(%v) = %q, want %q", tc.cmd, got, tc.want)
		}
	}
}

func TestSplitPropertyArgs(t *testing.T) {
	takes := func(f string) bool { return f == "-m" || f == "-t" }
	tests := []struct {
		name  string
		args  []string
		rest  []string
		specs [][]string
		err   string
	}{
		{"none", []string{"-t", "a", "-m", "b"}, []string{"-t", "a", "-m", "b"}, nil, ""},
		{"three and four words",
			[]string{"-t", "a", "-D", "publish", "content-type", "x", "--property", "publish", "User-Property", "k", "v", "-q", "1"},
			[]string{"-t", "a", "-q", "1"},
			[][]string{{"publish", "content-type", "x"}, {"publish", "User-Property", "k", "v"}}, ""},
		{"value of another flag", []string{"-m", "-D", "-t", "x"}, []string{"-m", "-D", "-t", "x"}, nil, ""},
		{"after --", []string{"--", "-D", "a", "b", "c"}, []string{"--", "-D", "a", "b", "c"}, nil, ""},
		{"short", []string{"-D", "publish", "content-type"}, nil, nil, "Error: --property argument given but not enough arguments specified."},
		{"short user property", []string{"-D", "publish", "user-property", "k"}, nil, nil, "Error: --property argument given but not enough arguments specified."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rest, specs, err := SplitPropertyArgs(tc.args, takes)
			if tc.err != "" {
				requireErrorText(t, err, tc.err)
				return
			}
			requireNoError(t, err)
			if !reflect.DeepEqual(rest, tc.rest) || !reflect.DeepEqual(specs, tc.specs) {
				t.Errorf("got %q %q, want %q %q", rest, specs, tc.rest, tc.specs)
			}
		})
	}
}
