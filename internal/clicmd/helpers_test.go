package clicmd

import (
	"bytes"
	"context"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// lockedBuffer is a bytes.Buffer safe for concurrent use that can signal
// when its content first contains a given string.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	want   string
	notify chan struct{}
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.b.Write(p)
	if l.notify != nil && strings.Contains(l.b.String(), l.want) {
		close(l.notify)
		l.notify = nil
	}
	return n, err
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// when returns a channel closed once the buffer contains s.
func (l *lockedBuffer) when(s string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch := make(chan struct{})
	if strings.Contains(l.b.String(), s) {
		close(ch)
		return ch
	}
	l.want, l.notify = s, ch
	return ch
}

type result struct {
	code           int
	stdout, stderr string
}

// tool describes one in-process run of mqpub or mqsub.
type tool struct {
	name   string // "mqpub" or "mqsub"
	stdin  string
	in     io.Reader // stdin instead of the string, when set
	env    map[string]string
	prompt func() (string, error)
	tty    bool // pretend stdout and stderr are terminals
	out    lockedBuffer
	errb   lockedBuffer
}

func (tl *tool) app() *cli.App {
	var in io.Reader = strings.NewReader(tl.stdin)
	if tl.in != nil {
		in = tl.in
	}
	e := newEnv(tl.name, in, &tl.out, &tl.errb)
	e.getenv = func(k string) string { return tl.env[k] }
	e.prompt = func(string) func() (string, error) { return tl.prompt }
	e.stdoutTTY, e.stderrTTY = tl.tty, tl.tty
	if tl.name == "mqpub" {
		return newPubApp(e)
	}
	return newSubApp(e)
}

func (tl *tool) run(ctx context.Context, args ...string) result {
	code := Run(ctx, tl.app(), append([]string{tl.name}, args...))
	return result{code: code, stdout: tl.out.String(), stderr: tl.errb.String()}
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// pub runs mqpub to completion.
func pub(t *testing.T, args ...string) result {
	t.Helper()
	return (&tool{name: "mqpub"}).run(testCtx(t), args...)
}

// sub runs mqsub to completion.
func sub(t *testing.T, args ...string) result {
	t.Helper()
	return (&tool{name: "mqsub"}).run(testCtx(t), args...)
}

// mustPub runs mqpub and fails the test unless it exits 0.
func mustPub(t *testing.T, args ...string) {
	t.Helper()
	if r := pub(t, args...); r.code != 0 {
		t.Fatalf("mqpub %q: exit %d\nstderr: %s", args, r.code, r.stderr)
	}
}

// bgSub starts mqsub with -d in the background and returns once it has
// its SUBACK; wait returns the result.
func bgSub(t *testing.T, args ...string) (wait func() result) {
	t.Helper()
	return subWith(t, &tool{name: "mqsub"}, args...)
}

// subWith starts tl (mqsub) with -d in the background, as bgSub does,
// and returns once it has its SUBACK.
func subWith(t *testing.T, tl *tool, args ...string) (wait func() result) {
	t.Helper()
	subscribed := tl.out.when("Subscribed (mid:")
	done := make(chan result, 1)
	ctx := testCtx(t)
	go func() { done <- tl.run(ctx, append([]string{"-d"}, args...)...) }()
	select {
	case <-subscribed:
	case r := <-done:
		t.Fatalf("mqsub ended before subscribing: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	case <-time.After(10 * time.Second):
		t.Fatalf("mqsub did not subscribe:\n%s\n%s", tl.out.String(), tl.errb.String())
	}
	return func() result {
		t.Helper()
		select {
		case r := <-done:
			return r
		case <-time.After(15 * time.Second):
			t.Fatalf("mqsub did not finish:\n%s\n%s", tl.out.String(), tl.errb.String())
			return result{}
		}
	}
}

// messages drops the -d trace lines from mqsub output.
func messages(out string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(out, "\n") {
		if strings.HasPrefix(l, "Client ") || strings.HasPrefix(l, "Subscribed (mid:") || strings.HasPrefix(l, "    0") {
			continue
		}
		b.WriteString(l)
	}
	return b.String()
}

func mkdirTemp() (string, error) { return os.MkdirTemp("", "clicmd-bin-") }

func TestMain(m *testing.M) {
	if code, ran := runTestTool(); ran {
		os.Exit(code) // the test binary acting as mqpub or mqsub
	}
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// sortedLines sorts the lines of s (for messages whose order is not
// specified, such as several retained messages).
func sortedLines(s string) string {
	lines := strings.SplitAfter(s, "\n")
	sort.Strings(lines)
	return strings.Join(lines, "")
}
