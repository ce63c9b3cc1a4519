package cliutil

import (
	"strconv"
	"strings"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Exit codes of mqpub and mqsub. The first three and the CONNACK codes are
// mosquitto_pub/mosquitto_sub's (verified against mosquitto 2.0.11); the
// reason-code exits for PUBACK/PUBREC/SUBACK/DISCONNECT are ours (mosquitto
// exits 0 after a refused v5 publish, printing only a warning).
const (
	ExitOK      = 0  // success; also -C count reached, -E, --retained-only done, SIGINT
	ExitError   = 1  // bad arguments, network/TLS failure, lost connection, lost ping probe, skipped -l line, any other error
	ExitTimeout = 27 // mqsub -W expired (mosquitto: MOSQ_ERR_TIMEOUT)

	// 3.1/3.1.1 CONNACK refusals exit with the return code itself.
	ExitV3UnacceptableProtocol = 1
	ExitV3IdentifierRejected   = 2
	ExitV3ServerUnavailable    = 3
	ExitV3BadCredentials       = 4
	ExitV3NotAuthorized        = 5

	// v5 refusals exit with the reason code (0x80-0xA2 = 128-162), e.g.:
	ExitV5BadCredentials = int(mqtt.BadUserNameOrPassword) // 134
	ExitV5NotAuthorized  = int(mqtt.NotAuthorized)         // 135
	ExitSubackFailureV3  = 0x80                            // 3.1.1 SUBACK "Failure" return code
)

// ConnackExitCode is the exit status for a refused CONNACK, as mosquitto:
// the 3.1/3.1.1 return code (c.ReturnCodeV3) or the v5 reason code. It is
// 0 when the connection was accepted.
func ConnackExitCode(c *mqtt.Connack, v3 bool) int {
	if v3 {
		if c.ReturnCodeV3 != 0 {
			return int(c.ReturnCodeV3)
		}
		return int(mqtt.ConnackCodeV3(c.Code))
	}
	if c.Code.IsError() {
		return int(c.Code)
	}
	return ExitOK
}

// ReasonExitCode is the exit status for a reason code in PUBACK, PUBREC,
// PUBCOMP, SUBACK, UNSUBACK or a server DISCONNECT: the code itself when
// it signals failure (>= 0x80), else 0. 0x10 "no matching subscribers" is
// success. A 3.1.1 SUBACK failure (0x80) gives 128.
func ReasonExitCode(code mqtt.ReasonCode) int {
	if code.IsError() {
		return int(code)
	}
	return ExitOK
}

// exitRows is the one source for ExitCodesHelp and ExitCodesMarkdown.
var exitRows = [][2]string{
	{"0", "success; also when -C's count is reached, after -E, when --retained-only ends, and on Ctrl-C"},
	{"1", "any other error: invalid arguments, connection failed or lost, TLS error, invalid topic; mqpub --ping: a probe got no echo within -W; mqpub -l --topic-sep: a line was skipped; mqsub --retained-only --expect*: a live message came before enough retained ones matched; mqpub -e: interrupted (Ctrl-C) before the response"},
	{"1-5", "MQTT 3.1/3.1.1: the broker's CONNACK return code when it refuses the connection (4 bad user name or password, 5 not authorised)"},
	{"27", "mqsub -W: the timeout expired (with --expect*: before -C messages, default 1, matched); mqpub -e -W: no response in time (as mosquitto_rr)"},
	{"128-162", "MQTT 5: the broker's reason code when it refuses the connection (134 bad user name or password, 135 not authorized), refuses a publish in PUBACK/PUBREC (mqpub; mosquitto_pub exits 0), refuses a subscription in SUBACK (mqsub, mqpub --ping, mqpub -e; also 128 for an MQTT 3.1.1 SUBACK failure), or ends the connection with DISCONNECT (e.g. 142 session taken over)"},
}

// ExitCodesHelp is the exit-status section for --help output.
func ExitCodesHelp() string {
	var b strings.Builder
	b.WriteString("EXIT STATUS:\n")
	for _, r := range exitRows {
		b.WriteString("   ")
		b.WriteString(r[0])
		b.WriteString(strings.Repeat(" ", 9-len(r[0])))
		b.WriteString(wrap(r[1], 68, "            "))
		b.WriteByte('\n')
	}
	b.WriteString("   A refused subscription prints a warning; mqsub exits at once when every\n")
	b.WriteString("   filter was refused, otherwise it keeps running and exits with the first\n")
	b.WriteString("   refusal code instead of 0.\n")
	return b.String()
}

// ExitCodesMarkdown is the same table as a Markdown table, for the README.
func ExitCodesMarkdown() string {
	var b strings.Builder
	b.WriteString("| Exit status | Meaning |\n|---|---|\n")
	for _, r := range exitRows {
		b.WriteString("| " + r[0] + " | " + r[1] + " |\n")
	}
	return b.String()
}

// wrap breaks s into lines of at most width bytes, indenting continuation
// lines with indent.
func wrap(s string, width int, indent string) string {
	var b strings.Builder
	n := 0
	for i, w := range strings.Fields(s) {
		if i > 0 {
			if n+1+len(w) > width {
				b.WriteString("\n")
				b.WriteString(indent)
				n = 0
			} else {
				b.WriteByte(' ')
				n++
			}
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}

// connackV3Strings are mosquitto_connack_string's texts.
var connackV3Strings = [...]string{
	"Connection Accepted.",
	"Connection Refused: unacceptable protocol version.",
	"Connection Refused: identifier rejected.",
	"Connection Refused: broker unavailable.",
	"Connection Refused: bad user name or password.",
	"Connection Refused: not authorised.",
}

// reasonStrings are mosquitto_reason_string's texts where they differ from
// a capitalised mqtt.ReasonCode.String().
var reasonStrings = map[mqtt.ReasonCode]string{
	mqtt.DisconnectWithWill:                "Disconnect with Will Message",
	mqtt.SharedSubscriptionsNotSupported:   "Shared Subscriptions not supported",
	mqtt.WildcardSubscriptionsNotSupported: "Wildcard Subscriptions not supported",
}

// ReasonString is the text mosquitto prints for a v5 reason code, e.g.
// "Not authorized" (mosquitto_reason_string).
func ReasonString(code mqtt.ReasonCode) string {
	if s, ok := reasonStrings[code]; ok {
		return s
	}
	s := code.String()
	if strings.HasPrefix(s, "reason 0x") {
		return "Unknown reason"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// ConnackMessage is mosquitto's stderr line for a refused connection:
// "Connection error: Connection Refused: not authorised." for 3.1/3.1.1
// (code is then the raw return code, 1-5) or "Connection error: Not
// authorized" for v5.
func ConnackMessage(code mqtt.ReasonCode, v3 bool) string {
	if v3 {
		if int(code) < len(connackV3Strings) {
			return "Connection error: " + connackV3Strings[code]
		}
		return "Connection error: Connection Refused: unknown reason."
	}
	return "Connection error: " + ReasonString(code)
}

// Describe is a one-line description of a reason code with its number,
// e.g. "not authorized (0x87 = 135)"; for v3 (a CONNACK return code
// 1-5, or 0x80 for a SUBACK failure) e.g. "not authorised (return code 5)".
func Describe(code mqtt.ReasonCode, v3 bool) string {
	if v3 {
		switch {
		case code >= 1 && int(code) < len(connackV3Strings):
			s := strings.TrimSuffix(strings.TrimPrefix(connackV3Strings[code], "Connection Refused: "), ".")
			return s + " (return code " + strconv.Itoa(int(code)) + ")"
		case code == 0x80:
			return "failure (return code 128)"
		}
	}
	return code.String() + " (0x" + strings.ToUpper(strconv.FormatUint(uint64(code), 16)) + " = " + strconv.Itoa(int(code)) + ")"
}
