package clicmd

import (
	"io"
	"strings"
	"testing"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client/clienttest"
)

// mqpub -l --topic-sep sends each line to the topic before its first
// separator, over one connection; bad lines are reported with their
// number and skipped, the rest is sent, and the exit status is 1.
func TestTopicSep(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tg target) {
		wait := bgSub(t, tg.args("-t", "ts/#", "-C", "3", "-q", "1", "-F", "%t|%p")...)
		stdin := "ts/a\tone\n" +
			"ts/b\ttwo\twith a tab\n" + // split at the first tab only
			"\tno topic\n" +
			"ts/+\twildcard\n" +
			"no separator\n" +
			"ts/c\t"
		tl := &tool{name: "mqpub", stdin: stdin}
		r := tl.run(testCtx(t), tg.args("-l", "--topic-sep", `\t`, "-q", "1")...)
		wantErr := "Error: line 3: empty topic before the \"\\t\" separator\n" +
			"Error: line 4: invalid topic 'ts/+', does it contain '+' or '#'?\n" +
			"Error: line 5: no \"\\t\" separator and no -t topic\n"
		if r.code != 1 || r.stderr != wantErr {
			t.Errorf("exit %d, stderr %q; want 1 and\n%q", r.code, r.stderr, wantErr)
		}
		sr := wait()
		if want := "ts/a|one\nts/b|two\twith a tab\nts/c|\n"; sr.code != 0 || messages(sr.stdout) != want {
			t.Errorf("received %q, want %q\nstderr: %s", messages(sr.stdout), want, sr.stderr)
		}
	})
}

// With -t as well, a line without the separator goes to -t whole; a
// multi-character separator and "\\" work; all is well, so exit 0.
func TestTopicSepDefaultTopic(t *testing.T) {
	b := clienttest.StartBroker(t, broker.Options{})
	tg := splitAddr(t, b.Addr("tcp").String())
	wait := bgSub(t, tg.args("-t", "td/#", "-C", "3", "-q", "1", "-F", "%t|%p")...)
	stdin := `td/x\ x` + "\n" + "plain line\n" + `td/y\ a\ b` + "\n"
	tl := &tool{name: "mqpub", stdin: stdin}
	if r := tl.run(testCtx(t), tg.args("-l", "--topic-sep", `\\ `, "-t", "td/default", "-q", "1")...); r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	sr := wait()
	if want := "td/x|x\ntd/default|plain line\ntd/y|a\\ b\n"; sr.code != 0 || messages(sr.stdout) != want {
		t.Errorf("received %q, want %q", messages(sr.stdout), want)
	}
}

// --quiet hides the line errors but not the exit status.
func TestTopicSepQuiet(t *testing.T) {
	b := clienttest.StartBroker(t, broker.Options{})
	tg := splitAddr(t, b.Addr("tcp").String())
	tl := &tool{name: "mqpub", stdin: "no separator\n"}
	if r := tl.run(testCtx(t), tg.args("-l", "--topic-sep", ":", "--quiet")...); r.code != 1 || r.stderr != "" {
		t.Errorf("exit %d, stderr %q; want 1 and nothing", r.code, r.stderr)
	}
}

func TestTopicSepUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-t", "a", "-m", "x", "--topic-sep", ":"}, "--topic-sep can only be used with -l"},
		{[]string{"--topic-sep", ":"}, "--topic-sep can only be used with -l"},
		{[]string{"-l", "--topic-sep", ""}, "the separator must not be empty"},
		{[]string{"-l", "--topic-sep", `\n`}, `unknown escape '\n'`},
		{[]string{"-l", "--topic-sep", `a\`}, "lone backslash"},
		{[]string{"-l", "--topic-sep", ":", "-t", "a/#"}, "Invalid publish topic 'a/#'"},
		{[]string{"-l"}, "Both topic and message must be supplied"},
	}
	for _, tc := range tests {
		r := pub(t, append([]string{"-p", "1"}, tc.args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "Use 'mqpub --help'") {
			t.Errorf("mqpub %q: exit %d, stderr %q; want a usage error with %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

func TestUnescapeSep(t *testing.T) {
	for in, want := range map[string]string{`\t`: "\t", `\\`: `\`, `,`: ",", ` => `: " => ", `\t\\\t`: "\t\\\t", "\t": "\t"} {
		if got, err := unescapeSep(in); err != nil || got != want {
			t.Errorf("unescapeSep(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", `\`, `\x`, "a\nb"} {
		if got, err := unescapeSep(in); err == nil {
			t.Errorf("unescapeSep(%q) = %q, want an error", in, got)
		}
	}
}

// mqpub -l --topic-sep keeps sending after a broker restart, and a QoS 1
// line the first broker never acknowledged is sent again to its own
// topic, not to -t (there is none here).
func TestTopicSepReconnectResends(t *testing.T) {
	tg, pw, done, tl := pubLinesAcrossRestart(t, "re/sep/a=unacked\n", "re/sep/a", "-l", "--topic-sep", "=", "-r", "-q", "1")
	expectRetained(t, tg, "re/sep/a", "unacked")
	io.WriteString(pw, "re/sep/b=after\n")
	pw.Close()
	if r := waitResult(t, done, tl); r.code != 0 {
		t.Fatalf("mqpub -l: exit %d\nstderr: %s", r.code, r.stderr)
	}
	expectRetained(t, tg, "re/sep/b", "after")
}
