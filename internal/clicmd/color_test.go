package clicmd

import (
	"regexp"
	"strings"
	"testing"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client/clienttest"
)

// Colour only on a terminal, never with --no-color or NO_COLOR, never for
// -F or --json output.
func TestColour(t *testing.T) {
	b := clienttest.StartBroker(t, broker.Options{})
	tg := splitAddr(t, b.Addr("tcp").String())
	mustPub(t, tg.args("-t", "col/a", "-m", "hi", "-r", "-q", "1")...)
	const esc = "\x1b["
	tests := []struct {
		name      string
		tty       bool
		env       map[string]string
		args      []string
		wantColor bool
	}{
		{"pipe", false, nil, []string{"-v"}, false},
		{"terminal", true, nil, []string{"-v"}, true},
		{"--no-color", true, nil, []string{"-v", "--no-color"}, false},
		{"NO_COLOR", true, map[string]string{"NO_COLOR": "1"}, []string{"-v"}, false},
		{"-F on a terminal", true, nil, []string{"-F", "%t %p"}, false},
		{"--json on a terminal", true, nil, []string{"--json"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tl := &tool{name: "mqsub", tty: tc.tty, env: tc.env}
			r := tl.run(testCtx(t), tg.args(append(tc.args, "-t", "col/#", "-C", "1")...)...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if got := strings.Contains(r.stdout, esc); got != tc.wantColor {
				t.Errorf("colour %v, want %v: %q", got, tc.wantColor, r.stdout)
			}
			// The same text as in a pipe, apart from the colour (issue 14):
			// the retained QoS 1 message is "col/a hi", and the payload
			// keeps the terminal's colour.
			if got := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(r.stdout, ""); tc.args[0] == "-v" && got != "col/a hi\n" {
				t.Errorf("-v output without colour %q, want %q", got, "col/a hi\n")
			}
			if tc.wantColor && !strings.HasSuffix(r.stdout, "\x1b[0;22m hi\n") {
				t.Errorf("payload coloured, or topic colour not reset before it: %q", r.stdout)
			}
		})
	}
	// Errors are coloured on a terminal too.
	r := (&tool{name: "mqpub", tty: true}).run(testCtx(t), "-h", "127.0.0.1", "-p", "1", "-t", "a", "-m", "x")
	if r.code != 1 || !strings.Contains(r.stderr, esc) {
		t.Errorf("terminal error output not coloured: %q", r.stderr)
	}
}
