package cliutil

import (
	"os"
	"strings"
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

func TestConnackExitCode(t *testing.T) {
	tests := []struct {
		name string
		c    mqtt.Connack
		v3   bool
		want int
	}{
		{"v3 accepted", mqtt.Connack{}, true, 0},
		{"v3 not authorised", mqtt.Connack{Code: mqtt.NotAuthorized, ReturnCodeV3: 5}, true, 5},
		{"v3 bad credentials", mqtt.Connack{Code: mqtt.BadUserNameOrPassword, ReturnCodeV3: 4}, true, 4},
		{"v3 code only", mqtt.Connack{Code: mqtt.NotAuthorized}, true, 5},
		{"v5 accepted", mqtt.Connack{}, false, 0},
		{"v5 not authorized", mqtt.Connack{Code: mqtt.NotAuthorized}, false, 135},
		{"v5 bad credentials", mqtt.Connack{Code: mqtt.BadUserNameOrPassword}, false, 134},
		{"v5 banned", mqtt.Connack{Code: mqtt.Banned}, false, 138},
	}
	for _, tc := range tests {
		if got := ConnackExitCode(&tc.c, tc.v3); got != tc.want {
			t.Errorf("%s: ConnackExitCode = %d, want %d", tc.name, got, tc.want)
		}
	}
	if ExitV3NotAuthorized != 5 || ExitV5NotAuthorized != 135 || ExitTimeout != 27 || ExitError != 1 {
		t.Error("exit code constants changed")
	}
}

func TestReasonExitCode(t *testing.T) {
	tests := []struct {
		code mqtt.ReasonCode
		want int
	}{
		{mqtt.Success, 0},
		{mqtt.GrantedQoS2, 0},
		{mqtt.NoMatchingSubscribers, 0},
		{mqtt.UnspecifiedError, 128},
		{mqtt.NotAuthorized, 135},
		{mqtt.QuotaExceeded, 151},
		{mqtt.SessionTakenOver, 142},
	}
	for _, tc := range tests {
		if got := ReasonExitCode(tc.code); got != tc.want {
			t.Errorf("ReasonExitCode(%v) = %d, want %d", tc.code, got, tc.want)
		}
	}
}

func TestExitCodesHelp(t *testing.T) {
	h := ExitCodesHelp()
	for _, want := range []string{"EXIT STATUS:", "\n   0 ", "\n   1 ", "\n   27 ", "\n   128-162 ", "not authorised", "135"} {
		if !strings.Contains(h, want) {
			t.Errorf("ExitCodesHelp lacks %q:\n%s", want, h)
		}
	}
	for _, line := range strings.Split(h, "\n") {
		if len(line) > 80 {
			t.Errorf("help line longer than 80 columns: %q", line)
		}
	}
	md := ExitCodesMarkdown()
	if !strings.HasPrefix(md, "| Exit status | Meaning |\n|---|---|\n| 0 |") || strings.Count(md, "\n") != len(exitRows)+2 {
		t.Errorf("ExitCodesMarkdown:\n%s", md)
	}
}

func TestConnackMessage(t *testing.T) {
	tests := []struct {
		code mqtt.ReasonCode
		v3   bool
		want string
	}{
		// Verified against mosquitto_pub/mosquitto_sub 2.0.11.
		{5, true, "Connection error: Connection Refused: not authorised."},
		{4, true, "Connection error: Connection Refused: bad user name or password."},
		{1, true, "Connection error: Connection Refused: unacceptable protocol version."},
		{9, true, "Connection error: Connection Refused: unknown reason."},
		{mqtt.NotAuthorized, false, "Connection error: Not authorized"},
		{mqtt.BadUserNameOrPassword, false, "Connection error: Bad user name or password"},
		{mqtt.SharedSubscriptionsNotSupported, false, "Connection error: Shared Subscriptions not supported"},
		{0xF0, false, "Connection error: Unknown reason"},
	}
	for _, tc := range tests {
		if got := ConnackMessage(tc.code, tc.v3); got != tc.want {
			t.Errorf("ConnackMessage(%d, %v) = %q, want %q", tc.code, tc.v3, got, tc.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		code mqtt.ReasonCode
		v3   bool
		want string
	}{
		{5, true, "not authorised (return code 5)"},
		{0x80, true, "failure (return code 128)"},
		{mqtt.NotAuthorized, false, "not authorized (0x87 = 135)"},
		{mqtt.QuotaExceeded, false, "quota exceeded (0x97 = 151)"},
	}
	for _, tc := range tests {
		if got := Describe(tc.code, tc.v3); got != tc.want {
			t.Errorf("Describe(%d, %v) = %q, want %q", tc.code, tc.v3, got, tc.want)
		}
	}
}

func TestHint(t *testing.T) {
	tests := []struct {
		code mqtt.ReasonCode
		v3   bool
		want string // substring
	}{
		{mqtt.NotAuthorized, false, "check -u/-P, or allow_anonymous / the ACL on the broker"},
		{5, true, "check -u/-P, or allow_anonymous / the ACL on the broker"},
		{4, true, "password file"},
		{mqtt.BadUserNameOrPassword, false, "password file"},
		{1, true, "-V 311 or -V 5"},
		{2, true, "-i"},
		{3, true, "retry later"},
		{0x80, true, "ACL"},
		{mqtt.UnspecifiedError, false, "ACL"},
		{mqtt.QoSNotSupported, false, "lower -q"},
		{mqtt.RetainNotSupported, false, "drop -r"},
		{mqtt.SessionTakenOver, false, "same client id"},
		{mqtt.PacketTooLarge, false, "maximum packet size"},
		{mqtt.SubscriptionIdentifiersNotSupported, false, "--sub-id"},
	}
	for _, tc := range tests {
		if got := Hint(tc.code, tc.v3); !strings.Contains(got, tc.want) {
			t.Errorf("Hint(%d, %v) = %q, want it to contain %q", tc.code, tc.v3, got, tc.want)
		}
	}
	if Hint(mqtt.Success, false) != "" {
		t.Error("Hint(Success) not empty")
	}
	// Every error reason code has a hint.
	for c := mqtt.ReasonCode(0x80); c <= 0xA2; c++ {
		if c.String()[:6] == "reason" {
			continue
		}
		if Hint(c, false) == "" {
			t.Errorf("no hint for %v", c)
		}
	}
}

// The README's exit-code table is ExitCodesMarkdown, so the README and
// --help cannot drift apart.
func TestReadmeExitCodes(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), ExitCodesMarkdown()) {
		t.Errorf("README.md does not contain the exit-code table; paste:\n%s", ExitCodesMarkdown())
	}
}
