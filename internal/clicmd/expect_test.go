package clicmd

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// The --expect* options are evaluated by mqsub, not the broker, so these
// tests use the in-process broker only.
func expectBroker(t *testing.T) target {
	t.Helper()
	b := clienttest.StartBroker(t, broker.Options{})
	return splitAddr(t, b.Addr("tcp").String())
}

// pubLines publishes each line of lines as one message, in order, with
// one mqpub -l at qos.
func pubLines(t *testing.T, tg target, topic, qos string, lines ...string) {
	t.Helper()
	stdin := strings.Join(lines, "\n") + "\n"
	r := (&tool{name: "mqpub", stdin: stdin}).run(testCtx(t), tg.args("-t", topic, "-l", "-q", qos)...)
	if r.code != 0 {
		t.Fatalf("mqpub -l: exit %d: %s", r.code, r.stderr)
	}
}

// The first message whose payload is exactly the text ends mqsub with 0;
// the ones before it are not printed.
func TestExpectExact(t *testing.T) {
	tg := expectBroker(t)
	wait := bgSub(t, tg.args("-t", "ex/t", "--expect", "ok", "-v")...)
	pubLines(t, tg, "ex/t", "0", "not ok", "ok!", "o", "ok", "ok")
	r := wait()
	if r.code != 0 || messages(r.stdout) != "ex/t ok\n" || r.stderr != "" {
		t.Errorf("exit %d, output %q, stderr %q; want 0 and only \"ex/t ok\"", r.code, messages(r.stdout), r.stderr)
	}
	// -d still traces every packet, the non-matching ones included.
	if n := strings.Count(r.stdout, "received PUBLISH"); n < 4 {
		t.Errorf("%d PUBLISH traced, want at least 4:\n%s", n, r.stdout)
	}
}

// An empty --expect matches an empty payload only.
func TestExpectEmpty(t *testing.T) {
	tg := expectBroker(t)
	wait := bgSub(t, tg.args("-t", "ex/e", "--expect", "", "-F", "%t [%p]")...)
	mustPub(t, tg.args("-t", "ex/e", "-m", "x")...)
	mustPub(t, tg.args("-t", "ex/e", "-n")...)
	if r := wait(); r.code != 0 || messages(r.stdout) != "ex/e []\n" {
		t.Errorf("exit %d, output %q", r.code, messages(r.stdout))
	}
}

func TestExpectRegex(t *testing.T) {
	tg := expectBroker(t)
	wait := bgSub(t, tg.args("-t", "ex/r", "--expect-regex", `^temp=[0-9]+$`, "--expect-regex", "7")...)
	pubLines(t, tg, "ex/r", "0", "temp=x", "temp=12", "pre temp=17", "temp=17", "temp=70")
	if r := wait(); r.code != 0 || messages(r.stdout) != "temp=17\n" {
		t.Errorf("exit %d, output %q; want only temp=17 (both regexps)", r.code, messages(r.stdout))
	}
}

// Each row publishes its payloads in order; want is the only one printed.
func TestExpectJSON(t *testing.T) {
	tg := expectBroker(t)
	tests := []struct {
		name    string
		exprs   []string
		payload []string
		want    string
	}{
		{"number >", []string{".temp > 20"},
			[]string{`{"temp": 19.5}`, `not json`, `{"temp": "25"}`, `{"temp": 20}`, `{"temp": 20.5}`}, `{"temp": 20.5}`},
		{"number <= negative", []string{".v <= -1.5"},
			[]string{`{"v": -1}`, `{"v": null}`, `{"v": -1.5}`}, `{"v": -1.5}`},
		{"string ==", []string{`.status == "online"`},
			[]string{`{"status": "offline"}`, `{"status": "Online"}`, `"online"`, `{"status": "online"}`}, `{"status": "online"}`},
		{"!=", []string{`.state != "idle"`},
			[]string{`{}`, `{"state": "idle"}`, `{"state": "busy"}`}, `{"state": "busy"}`},
		{"nested path and array index", []string{".dev.readings[1] >= 3"},
			[]string{`{"dev": {"readings": [5]}}`, `{"dev": {"readings": [5, 2]}}`, `{"dev": [3, 3]}`, `{"dev": {"readings": [5, 3]}}`}, `{"dev": {"readings": [5, 3]}}`},
		{"regexp ~", []string{`.name ~ "^sensor-[0-9]+$"`},
			[]string{`{"name": "sensor-x"}`, `{"name": 7}`, `{"name": "sensor-7"}`}, `{"name": "sensor-7"}`},
		{"bare path", []string{".ok"},
			[]string{`{"ok": false}`, `{"ok": null}`, `{}`, `[1]`, `{"ok": 0}`}, `{"ok": 0}`},
		{"bool and quoted key", []string{`."is up" == true`},
			[]string{`{"is up": "true"}`, `{"is up": false}`, `{"is up": true}`}, `{"is up": true}`},
		{"root array", []string{".[-1] == null"},
			[]string{`[]`, `[null, 1]`, `[1, null]`}, `[1, null]`},
		{"two expressions (AND)", []string{".temp > 20", `.unit == "C"`},
			[]string{`{"temp": 25, "unit": "F"}`, `{"temp": 15, "unit": "C"}`, `{"temp": 25, "unit": "C"}`}, `{"temp": 25, "unit": "C"}`},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			topic := "ex/j/" + strconv.Itoa(i)
			args := []string{"-t", topic}
			for _, e := range tc.exprs {
				args = append(args, "--expect-json", e)
			}
			wait := bgSub(t, tg.args(args...)...)
			pubLines(t, tg, topic, "0", tc.payload...)
			if r := wait(); r.code != 0 || messages(r.stdout) != tc.want+"\n" {
				t.Errorf("exit %d, output %q, want %q\nstderr: %s", r.code, messages(r.stdout), tc.want, r.stderr)
			}
		})
	}
}

// -C counts matching messages only; with several -t filters and -v the
// matches are printed as usual.
func TestExpectCount(t *testing.T) {
	tg := expectBroker(t)
	wait := bgSub(t, tg.args("-t", "ex/a", "-t", "ex/b", "--expect", "ok", "-C", "2", "-v")...)
	pubLines(t, tg, "ex/a", "0", "no", "no")
	pubLines(t, tg, "ex/b", "0", "ok", "no")
	pubLines(t, tg, "ex/a", "0", "no", "ok")
	if r := wait(); r.code != 0 || messages(r.stdout) != "ex/b ok\nex/a ok\n" {
		t.Errorf("exit %d, output %q", r.code, messages(r.stdout))
	}
}

// --json and -F render the matching messages as without --expect.
func TestExpectOutputFormats(t *testing.T) {
	tg := expectBroker(t)
	wait := bgSub(t, tg.args("-t", "ex/o", "--expect-json", ".temp > 20", "--json")...)
	pubLines(t, tg, "ex/o", "0", `{"temp":1}`, `{"temp":21}`)
	r := wait()
	if out := messages(r.stdout); r.code != 0 || strings.Count(out, "\n") != 1 ||
		!strings.Contains(out, `"topic":"ex/o","qos":0,"retain":0,"payloadlen":11,"payload":{"temp":21}}`) {
		t.Errorf("--json: exit %d, output %q", r.code, out)
	}
	wait = bgSub(t, tg.args("-t", "ex/o", "--expect-regex", "b", "-F", "%t|%p|%l")...)
	pubLines(t, tg, "ex/o", "0", "a", "abc")
	if r := wait(); r.code != 0 || messages(r.stdout) != "ex/o|abc|3\n" {
		t.Errorf("-F: exit %d, output %q", r.code, messages(r.stdout))
	}
}

// Non-matching QoS 1 and 2 messages are acknowledged: with MQTT 5 and -C
// 1 the receive maximum is 1, so the broker sends the match only after
// the earlier messages were acknowledged [MQTT-3.3.4-9].
func TestExpectQoSAcknowledged(t *testing.T) {
	tg := expectBroker(t)
	for _, q := range []string{"1", "2"} {
		t.Run("q"+q, func(t *testing.T) {
			topic := "ex/q/" + q
			wait := bgSub(t, tg.args("-V", "5", "-t", topic, "-q", q, "--expect", "ok", "-F", "%p %q")...)
			pubLines(t, tg, topic, q, "no", "no", "ok")
			r := wait()
			if r.code != 0 || messages(r.stdout) != "ok "+q+"\n" {
				t.Fatalf("exit %d, output %q\nstderr: %s", r.code, messages(r.stdout), r.stderr)
			}
			ack := map[string]string{"1": "sending PUBACK", "2": "sending PUBCOMP"}[q]
			if n := strings.Count(r.stdout, ack); n != 3 {
				t.Errorf("%d %q, want 3:\n%s", n, ack, r.stdout)
			}
		})
	}
}

// -W expiring first exits 27 with one line saying what arrived instead.
// The subtests wait for -W in parallel (TestExpectationsUnmet covers the
// other wordings without a broker).
func TestExpectTimeout(t *testing.T) {
	tg := expectBroker(t)
	tests := []struct {
		name    string
		args    []string
		publish [][2]string // topic, payload
		stderr  string
	}{
		{"json", []string{"-t", "ex/w/1/#", "--expect-json", ".temp > 20"},
			[][2]string{{"ex/w/1/a", `{"temp": 18}`}, {"ex/w/1/a", "x"}, {"ex/w/1/b", `{"temp": 19.5}`}},
			"Error: timed out after 4 s: no message matched --expect-json '.temp > 20' (3 received; last: ex/w/1/b {\"temp\": 19.5})\n"},
		{"some matched", []string{"-t", "ex/w/5", "--expect", "ok", "-C", "3"},
			[][2]string{{"ex/w/5", "ok"}, {"ex/w/5", ""}, {"ex/w/5", "ok"}},
			"Error: timed out after 4 s: only 2 of 3 messages matched --expect 'ok' (1 other received; last: ex/w/5 (empty payload))\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tl := &tool{name: "mqsub"}
			subscribed := tl.out.when("Subscribed (mid:")
			done := make(chan result, 1)
			go func() { done <- tl.run(testCtx(t), tg.args(append([]string{"-d", "-W", "4"}, tc.args...)...)...) }()
			waitFor(t, subscribed, done, tl, "SUBACK")
			for _, p := range tc.publish {
				mustPub(t, tg.args("-t", p[0], "-m", p[1])...)
			}
			var r result
			select {
			case r = <-done:
			case <-time.After(15 * time.Second):
				t.Fatalf("mqsub did not finish:\n%s\n%s", tl.out.String(), tl.errb.String())
			}
			if n := strings.Count(r.stdout, "received PUBLISH"); n != len(tc.publish) {
				t.Fatalf("%d messages arrived before -W, want %d (machine too slow?):\n%s", n, len(tc.publish), r.stdout)
			}
			if r.code != 27 || r.stderr != tc.stderr {
				t.Errorf("exit %d, stderr\n%q, want 27 and\n%q", r.code, r.stderr, tc.stderr)
			}
		})
	}
}

func TestExpectTimeoutQuiet(t *testing.T) {
	tg := expectBroker(t)
	mustPub(t, tg.args("-t", "ex/quiet", "-m", "no", "-r", "-q", "1")...)
	r := sub(t, tg.args("-t", "ex/quiet", "--expect", "ok", "-W", "0.5", "--quiet")...)
	if r.code != 27 || r.stderr != "" || r.stdout != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 27 and nothing", r.code, r.stdout, r.stderr)
	}
}

// --retained-only checks the retained state: 0 once enough retained
// messages matched, 1 when the first live message comes first.
func TestExpectRetainedOnly(t *testing.T) {
	tg := expectBroker(t)
	// QoS 1: the broker has stored the retained message when mqpub exits
	// (at QoS 0 the subscriber could get there first and receive it live).
	mustPub(t, tg.args("-t", "ex/ret", "-m", `{"v":1}`, "-r", "-q", "1")...)
	r := sub(t, tg.args("-t", "ex/ret", "--retained-only", "--expect-json", ".v == 1", "-W", "10")...)
	if r.code != 0 || r.stdout != "{\"v\":1}\n" {
		t.Errorf("match: exit %d, output %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	wait := bgSub(t, tg.args("-t", "ex/ret", "--retained-only", "--expect-json", ".v == 2", "-W", "10")...)
	mustPub(t, tg.args("-t", "ex/ret", "-m", "live")...)
	r = wait()
	want := "Error: --retained-only ended: no message matched --expect-json '.v == 2' (1 received; last: ex/ret {\"v\":1})\n"
	if r.code != 1 || r.stderr != want || messages(r.stdout) != "" {
		t.Errorf("no match: exit %d, output %q, stderr\n%q, want 1 and\n%q", r.code, messages(r.stdout), r.stderr, want)
	}
}

// Matching survives a reconnection: the message before the broker went
// away did not match, the retained one after it does.
func TestExpectAcrossReconnect(t *testing.T) {
	withReconnectDelay(t, 20*time.Millisecond)
	rb := restartables[0]
	port := clienttest.FreePort(t)
	stop := rb.start(t, port, broker.Options{})
	tg := target{host: "127.0.0.1", port: strconv.Itoa(port)}
	tl := &tool{name: "mqsub"}
	subscribed := tl.out.when("Subscribed (mid:")
	done := make(chan result, 1)
	go func() { done <- tl.run(testCtx(t), tg.args("-d", "-t", "re/x", "--expect", "two", "-W", "15")...) }()
	waitFor(t, subscribed, done, tl, "first SUBACK")
	got := tl.out.when("received PUBLISH")
	mustPub(t, tg.args("-t", "re/x", "-m", "one")...)
	waitFor(t, got, done, tl, "first message")
	lost := tl.errb.when("reconnecting")
	stop()
	waitFor(t, lost, done, tl, "the warning")
	rb.start(t, port, broker.Options{})
	mustPub(t, tg.args("-t", "re/x", "-m", "two", "-r")...)
	select {
	case r := <-done:
		if r.code != 0 || messages(r.stdout) != "two\n" {
			t.Errorf("exit %d, messages %q\nstderr: %s", r.code, messages(r.stdout), r.stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("mqsub did not finish:\n%s\n%s", tl.out.String(), tl.errb.String())
	}
}

// Bad --expect* options are usage errors (exit 1) found before connecting.
func TestExpectUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--expect-regex", "a("}, "Error: invalid --expect-regex 'a(': missing closing ): `a(`."},
		{[]string{"--expect-regex", "x", "--expect-regex", "[z-a]"}, "Error: invalid --expect-regex '[z-a]': invalid character class range: `z-a`."},
		{[]string{"--expect-json", "temp > 20"}, `Error: invalid --expect-json 'temp > 20': expected a path starting with "." (e.g. .temp, .a.b, .list[0]), found "temp > 20" at offset 0.`},
		{[]string{"--expect-json", ".status == online"}, `Error: invalid --expect-json '.status == online': expected a JSON literal (a number, "string", true, false or null), found "online" (strings need double quotes) at offset 11.`},
		{[]string{"--expect-json", ".a ~ \"(\""}, "Error: invalid --expect-json '.a ~ \"(\"': invalid regexp: missing closing ): `(` at offset 5."},
		{[]string{"--expect", "a", "--expect", "b"}, "Error: --expect given twice with different texts ('a' and 'b'); a payload cannot equal both. For either, use --expect-regex '^(a|b)$'."},
		{[]string{"--expect", "a", "-E"}, "Error: -E and --expect* cannot be used together (-E exits before any message)."},
		{[]string{"--expect", "a", "-C", "0"}, `Error: Invalid message count "0".`},
	}
	for _, tc := range tests {
		// Port 1: nothing listens there, so a run that got past parsing
		// would fail differently.
		r := sub(t, append([]string{"-h", "127.0.0.1", "-p", "1", "-t", "a"}, tc.args...)...)
		want := tc.want + "\n\nUse 'mqsub --help' to see usage.\n"
		if r.code != 1 || r.stderr != want {
			t.Errorf("%q: exit %d, stderr\n%q, want 1 and\n%q", tc.args, r.code, r.stderr, want)
		}
	}
}

// With --expect*, -C defaults to 1 and caps the MQTT 5 receive maximum
// like an explicit -C; repeating the same --expect text is allowed.
func TestParseExpect(t *testing.T) {
	cc, sc, _ := parsed(t, "mqsub", []string{"-V", "5", "-t", "a", "--expect", "x", "--expect", "x"}, nil)
	if sc.count != 1 || sc.expect == nil || len(sc.expect.conds) != 2 || cc.opts.Connect.Props.ReceiveMaximum != 1 {
		t.Errorf("count %d, expect %v, receive maximum %d", sc.count, sc.expect, cc.opts.Connect.Props.ReceiveMaximum)
	}
	_, sc, _ = parsed(t, "mqsub", []string{"-t", "a", "--expect-json", ".a", "-C", "5"}, nil)
	if sc.count != 5 || sc.expect.String() != "--expect-json '.a'" {
		t.Errorf("count %d, expect %q", sc.count, sc.expect.String())
	}
	_, sc, _ = parsed(t, "mqsub", []string{"-t", "a"}, nil)
	if sc.count != 0 || sc.expect != nil {
		t.Errorf("without --expect: count %d, expect %v", sc.count, sc.expect)
	}
}

func TestExpectHelp(t *testing.T) {
	r := (&tool{name: "mqsub"}).run(testCtx(t), "--help")
	for _, want := range []string{"Assertions (smoke tests):", "--expect TEXT", "--expect-regex RE", "--expect-json EXPR",
		"mqsub -t 'dev/+/status' --expect online -W 10"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--help lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestPrintable(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 60, "plain"},
		{"a\nb\r\tc", 60, `a\nb\r\tc`},
		{"nul\x00 del\x7f bad\xff", 60, `nul\x00 del\x7f bad\xff`},
		{"température", 60, "température"},
		{"abcdef", 3, "abc..."},
		{"aé", 2, "a..."}, // never cuts a character in two
		{"aé", 3, "aé"},
	}
	for _, tc := range tests {
		if got := printable([]byte(tc.in), tc.max); got != tc.want {
			t.Errorf("printable(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

// The wordings of the timeout message, built without a broker: each row
// feeds the messages (topic, payload) to the conditions.
func TestExpectationsUnmet(t *testing.T) {
	type cond struct{ flag, arg string }
	tests := []struct {
		name  string
		conds []cond
		want  int // -C
		msgs  [][2]string
		text  string
	}{
		{"nothing received", []cond{{flagExpect, "ok"}}, 1, nil,
			"no message matched --expect 'ok' (no message received)"},
		{"not JSON", []cond{{flagExpectJSON, "."}}, 1, [][2]string{{"a", "line 1\nline 2"}},
			"no message matched --expect-json '.' (1 received; last: a line 1\\nline 2, not JSON)"},
		{"shortened", []cond{{flagExpectRegex, "^y"}}, 1, [][2]string{{"a\nb", strings.Repeat("é", 40)}},
			"no message matched --expect-regex '^y' (1 received; last: a\\nb " + strings.Repeat("é", 30) + "... (80 bytes))"},
		{"60 bytes are not shortened", []cond{{flagExpect, "ok"}}, 1, [][2]string{{"a", strings.Repeat("x", 60)}},
			"no message matched --expect 'ok' (1 received; last: a " + strings.Repeat("x", 60) + ")"},
		{"which condition failed", []cond{{flagExpect, "it's"}, {flagExpectRegex, "^y"}}, 1, [][2]string{{"a", "it's"}},
			"no message matched --expect 'it'\\''s' --expect-regex '^y' (1 received; last: a it's, failed --expect-regex '^y')"},
		{"last one wins", []cond{{flagExpectJSON, ".v > 1"}}, 1, [][2]string{{"a", "{\"v\":0}"}, {"b", "{\"v\":1}"}},
			"no message matched --expect-json '.v > 1' (2 received; last: b {\"v\":1})"},
		{"all that came matched", []cond{{flagExpect, "ok"}}, 2, [][2]string{{"a", "ok"}},
			"only 1 of 2 messages matched --expect 'ok' (no other message received)"},
		{"some matched", []cond{{flagExpect, "ok"}}, 3, [][2]string{{"a", "ok"}, {"b", "no"}, {"c", "no"}, {"d", "ok"}},
			"only 2 of 3 messages matched --expect 'ok' (2 others received; last: c no)"},
	}
	for _, tc := range tests {
		x := &expectations{}
		for _, c := range tc.conds {
			cond, err := newCondition(c.flag, c.arg)
			if err != nil {
				t.Fatal(err)
			}
			x.conds = append(x.conds, cond)
			x.needJSON = x.needJSON || c.flag == flagExpectJSON
		}
		for _, m := range tc.msgs {
			if x.match(&mqtt.Publish{Topic: m[0], Payload: []byte(m[1])}) {
				x.count()
			}
		}
		want := "Error: timed out after 0.25 s: " + tc.text
		if got := x.timeoutText(250*time.Millisecond, tc.want); got != want {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.name, got, want)
		}
	}
}
