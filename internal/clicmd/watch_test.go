package clicmd

import (
	"context"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/cliutil"
)

// fakeTerm is mqsub's stdout (and maybe stderr) pretending to be a
// terminal of a fixed size.
type fakeTerm struct {
	lockedBuffer
	cols, rows int
}

func (f *fakeTerm) termSize() (int, int) { return f.cols, f.rows }

// runWatch runs mqsub with stdout and stderr on terminals; stderr may be
// the same fakeTerm.
func runWatch(ctx context.Context, out *fakeTerm, stderr io.Writer, args ...string) int {
	e := newEnv("mqsub", strings.NewReader(""), out, stderr)
	e.getenv = func(string) string { return "" }
	e.stdoutTTY, e.stderrTTY = true, true
	return Run(ctx, newSubApp(e), append([]string{"mqsub"}, args...))
}

// queueMessages creates the durable session id subscribed to w/# at QoS
// 1 and publishes lines ("topic payload") to it, so a later mqsub -c -i
// id receives them all, in order, at once.
func queueMessages(t *testing.T, tg target, id string, lines ...string) {
	t.Helper()
	if r := sub(t, tg.args("-c", "-i", id, "-q", "1", "-t", "w/#", "-E")...); r.code != 0 {
		t.Fatalf("mqsub -E: exit %d: %s", r.code, r.stderr)
	}
	tl := &tool{name: "mqpub", stdin: strings.Join(lines, "\n") + "\n"}
	if r := tl.run(testCtx(t), tg.args("-l", "--topic-sep", " ", "-q", "1")...); r.code != 0 {
		t.Fatalf("mqpub: exit %d: %s", r.code, r.stderr)
	}
}

// watchArgs are the arguments of an mqsub -w that takes the messages
// queueMessages left for id.
func watchArgs(tg target, id string, more ...string) []string {
	return tg.args(append([]string{"-c", "-i", id, "-q", "1", "-t", "w/#", "-w"}, more...)...)
}

// vt is a tiny terminal emulator, enough to replay what mqsub -w prints:
// text, \r, \n (with scrolling), ESC[nA, ESC[nB, ESC[2K, ESC[J; colours
// (SGR) are ignored. Anything else fails the test, and so does text
// beyond the last column, where a real terminal would wrap.
type vt struct {
	cols, rows int
	screen     [][]rune
	row, col   int
}

var csiSeq = regexp.MustCompile(`^\x1b\[([0-9;]*)([A-Za-z])`)

func replay(t *testing.T, cols, rows int, s string) *vt {
	t.Helper()
	v := &vt{cols: cols, rows: rows, screen: make([][]rune, rows)}
	for i := 0; i < len(s); {
		if s[i] == 0x1b {
			m := csiSeq.FindStringSubmatch(s[i:])
			if m == nil {
				t.Fatalf("unknown escape sequence at byte %d: %q", i, s[i:min(i+12, len(s))])
			}
			i += len(m[0])
			n := 1
			if m[2] != "m" && m[1] != "" {
				n, _ = strconv.Atoi(m[1])
			}
			switch {
			case m[2] == "A":
				v.row = max(v.row-n, 0)
			case m[2] == "B":
				v.row = min(v.row+n, rows-1)
			case m[2] == "K" && m[1] == "2":
				v.screen[v.row] = nil
			case m[2] == "J" && (m[1] == "" || m[1] == "0"):
				v.screen[v.row] = v.screen[v.row][:min(v.col, len(v.screen[v.row]))]
				for r := v.row + 1; r < rows; r++ {
					v.screen[r] = nil
				}
			case m[2] == "m":
			default:
				t.Fatalf("unexpected escape sequence %q", m[0])
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '\r':
			v.col = 0
		case r == '\n':
			v.col = 0
			if v.row++; v.row == rows {
				v.screen = append(v.screen[1:], nil)
				v.row = rows - 1
			}
		case r < 0x20 || r == 0x7f:
			t.Fatalf("control character %q in the output", r)
		case v.col >= cols:
			t.Fatalf("text beyond column %d (it would wrap) on row %d: %q", cols, v.row, string(v.screen[v.row]))
		default:
			line := v.screen[v.row]
			for len(line) <= v.col {
				line = append(line, ' ')
			}
			line[v.col] = r
			v.screen[v.row] = line
			v.col++
		}
	}
	return v
}

// lines returns the screen's rows, without trailing blanks and blank rows
// at the end.
func (v *vt) lines() []string {
	var out []string
	for _, l := range v.screen {
		out = append(out, strings.TrimRight(string(l), " "))
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// checkScreen replays out and checks the screen shows want, with the
// cursor at the start of the line below (where the shell prompt goes).
func checkScreen(t *testing.T, out *fakeTerm, want ...string) {
	t.Helper()
	v := replay(t, out.cols, out.rows, out.String())
	if got := v.lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("screen:\n%s\nwant:\n%s\nbytes: %q", strings.Join(got, "\n"), strings.Join(want, "\n"), out.String())
	}
	if v.row != len(want) || v.col != 0 {
		t.Errorf("cursor at row %d column %d, want row %d column 0", v.row, v.col, len(want))
	}
}

// Two topics, several messages each: one line per topic, in order of
// first arrival, each rewritten in place with its latest message (as -v
// prints it, coloured); -C ends mqsub with the cursor below.
func TestWatch(t *testing.T) {
	b := clienttest.StartBroker(t, broker.Options{})
	tg := splitAddr(t, b.Addr("tcp").String())
	queueMessages(t, tg, "watch-1", "w/a a1", "w/b b1", "w/a a2", "w/a a3", "w/b b2", "w/b b3", "w/a a4")
	out := &fakeTerm{cols: 40, rows: 10}
	var errb lockedBuffer
	if code := runWatch(testCtx(t), out, &errb, watchArgs(tg, "watch-1", "-v", "-C", "7")...); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	raw := out.String()
	// Row 0 is rewritten from two lines below it, row 1 from one; new
	// rows are appended.
	for _, seq := range []string{"\x1b[2A\r\x1b[2K", "\r\x1b[2B", "\x1b[1A\r\x1b[2K", "\r\x1b[1B", "\x1b[0m"} {
		if !strings.Contains(raw, seq) {
			t.Errorf("output lacks %q: %q", seq, raw)
		}
	}
	if n := strings.Count(raw, "\n"); n != 2 {
		t.Errorf("%d newlines, want 2 (one per topic): %q", n, raw)
	}
	checkScreen(t, out, "w/a a4", "w/b b3")
}

// Lines are cut to the terminal width (one column short of it, so no
// terminal wraps), with …; line ends in a payload or an -F format become
// ⏎, tabs spaces.
func TestWatchWidth(t *testing.T) {
	b := clienttest.StartBroker(t, broker.Options{})
	tg := splitAddr(t, b.Addr("tcp").String())
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"-v", []string{"-v"}, []string{"w/long xxxxxxxxxxx…", "w/nl one⏎two⏎three…", "w/short ok"}},
		{"-F", []string{"-F", `%t\n%p`}, []string{"w/long⏎xxxxxxxxxxx…", "w/nl⏎one⏎two⏎three…", "w/short⏎ok"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := "watch-width-" + strconv.Itoa(i)
			queueMessages(t, tg, id, "w/long "+strings.Repeat("x", 40))
			mustPub(t, tg.args("-t", "w/nl", "-m", "one\ntwo\r\nthree\tfour", "-q", "1")...)
			mustPub(t, tg.args("-t", "w/short", "-m", "ok", "-q", "1")...)
			out := &fakeTerm{cols: 20, rows: 10}
			var errb lockedBuffer
			args := watchArgs(tg, id, append(tc.args, "--no-color", "-C", "3")...)
			if code := runWatch(testCtx(t), out, &errb, args...); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			checkScreen(t, out, tc.want...)
		})
	}
}

// More topics than rows (terminal height - 1): the first topics keep
// their rows, the last row counts the others.
func TestWatchOverflow(t *testing.T) {
	b := clienttest.StartBroker(t, broker.Options{})
	tg := splitAddr(t, b.Addr("tcp").String())
	queueMessages(t, tg, "watch-more", "w/1 one", "w/2 two", "w/3 three", "w/4 four", "w/5 five", "w/1 new", "w/4 again")
	out := &fakeTerm{cols: 30, rows: 4}
	var errb lockedBuffer
	if code := runWatch(testCtx(t), out, &errb, watchArgs(tg, "watch-more", "-v", "--no-color", "-C", "7")...); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if raw := out.String(); !strings.Contains(raw, "w/3 three") || !strings.Contains(raw, "… 2 more topics") {
		t.Errorf("w/3 was not shown before the overflow row replaced it: %q", raw)
	}
	checkScreen(t, out, "w/1 new", "w/2 two", "… 3 more topics")
}

// Without a terminal (or with TERM=dumb), -w prints as usual.
func TestWatchNotATerminal(t *testing.T) {
	b := clienttest.StartBroker(t, broker.Options{})
	tg := splitAddr(t, b.Addr("tcp").String())
	tests := []struct {
		name string
		tty  bool
		env  map[string]string
	}{
		{"pipe", false, nil},
		{"TERM=dumb", true, map[string]string{"TERM": "dumb"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := "watch-pipe-" + strconv.Itoa(i)
			queueMessages(t, tg, id, "w/a a1", "w/b b1", "w/a a2")
			tl := &tool{name: "mqsub", tty: tc.tty, env: tc.env}
			r := tl.run(testCtx(t), watchArgs(tg, id, "-v", "-C", "3")...)
			if want := "w/a a1\nw/b b1\nw/a a2\n"; r.code != 0 || r.stdout != want {
				t.Errorf("exit %d, stdout %q, want %q\nstderr: %s", r.code, r.stdout, want, r.stderr)
			}
		})
	}
}

// Ctrl-C and -W end mqsub -w with the cursor below the dashboard.
func TestWatchEnds(t *testing.T) {
	b := clienttest.StartBroker(t, broker.Options{})
	tg := splitAddr(t, b.Addr("tcp").String())
	tests := []struct {
		name      string
		args      []string
		interrupt bool
		code      int
	}{
		{"Ctrl-C", nil, true, 0},
		{"-W", []string{"-W", "1"}, false, 27},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := "watch-end-" + strconv.Itoa(i)
			queueMessages(t, tg, id, "w/a a1", "w/b b1", "w/a a2")
			out := &fakeTerm{cols: 40, rows: 10}
			var errb lockedBuffer
			shown := out.when("a2")
			ctx, cancel := context.WithCancel(testCtx(t))
			defer cancel()
			done := make(chan int, 1)
			go func() {
				done <- runWatch(ctx, out, &errb, watchArgs(tg, id, append(tc.args, "-v", "--no-color")...)...)
			}()
			if tc.interrupt {
				select {
				case <-shown:
					cancel()
				case code := <-done:
					t.Fatalf("mqsub ended first: exit %d: %s", code, errb.String())
				case <-time.After(10 * time.Second):
					t.Fatalf("the last message was not shown: %q", out.String())
				}
			}
			select {
			case code := <-done:
				if code != tc.code {
					t.Fatalf("exit %d, want %d: %s", code, tc.code, errb.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatal("mqsub did not end")
			}
			checkScreen(t, out, "w/a a2", "w/b b1")
		})
	}
}

// Other output on the terminal (here a warning on stderr) goes below the
// dashboard, which starts again under it.
func TestWatchOtherOutput(t *testing.T) {
	b := clienttest.StartBroker(t, broker.Options{})
	tg := splitAddr(t, b.Addr("tcp").String())
	queueMessages(t, tg, "watch-other", "w/a 1", "w/b not-json", "w/a 2", "w/c 3", "w/a 4")
	out := &fakeTerm{cols: 160, rows: 10}
	if code := runWatch(testCtx(t), out, out, watchArgs(tg, "watch-other", "-F", "%t %J", "-C", "5")...); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	v := replay(t, out.cols, out.rows, out.String())
	lines := v.lines()
	// As mosquitto_sub, a payload that is not JSON prints the error and
	// the rest of the line ("w/b ").
	ok := len(lines) == 5 &&
		strings.HasPrefix(lines[0], `w/a {"tst":`) && // the first dashboard, left above
		lines[1] == "Error: Message payload is not valid JSON on topic w/b." &&
		strings.HasPrefix(lines[2], `w/a {"tst":`) && strings.HasSuffix(lines[2], `"payload":4}`) &&
		strings.TrimSpace(lines[3]) == "w/b" &&
		strings.HasPrefix(lines[4], `w/c {"tst":`) && strings.HasSuffix(lines[4], `"payload":3}`)
	if !ok || v.row != 5 || v.col != 0 {
		t.Errorf("cursor row %d col %d; screen:\n%s\nbytes: %q", v.row, v.col, strings.Join(lines, "\n"), out.String())
	}
}

func TestFitLine(t *testing.T) {
	tests := []struct {
		in    string
		width int
		want  string
	}{
		{"hello", 5, "hello"},
		{"hello!", 5, "hell…"},
		{"hello", 0, ""},
		{"hello", 1, "…"},
		{"a\nb\r\nc\rd\te", 20, "a⏎b⏎c⏎d e"},
		{"bell\a nul\x00 del\x7f", 20, "bell\ufffd nul\ufffd del\ufffd"},
		{"bad \xff utf8", 20, "bad \ufffd utf8"},
		{"\x1b[2Jclear \x1b[5;1Hmove", 20, "clear move"},
		{"lone \x1b esc", 20, "lone \ufffd esc"},
		{"\x1b[36mcyan\x1b[0m ok", 20, "\x1b[36mcyan\x1b[0m ok"},
		{"\x1b[36mcyan without reset", 20, "\x1b[36mcyan without reset\x1b[0m"},
		{"\x1b[36mcyan\x1b[0m and more", 8, "\x1b[36mcyan\x1b[0m an…\x1b[0m"},
		{"日本語", 6, "日本語"},
		{"日本語", 5, "日本…"},
		{"e\u0301e\u0301e\u0301", 3, "e\u0301e\u0301e\u0301"},
	}
	for _, tc := range tests {
		if got := string(fitLine(nil, []byte(tc.in), tc.width)); got != tc.want {
			t.Errorf("fitLine(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
	}
}

// The dashboard and other output may be written from different
// goroutines (the client's reader and writer); run under -race.
func TestDashboardConcurrentOutput(t *testing.T) {
	out := &fakeTerm{cols: 40, rows: 10}
	d := &dashboard{w: out, size: out.termSize, more: cliutil.NewPalette(false).Hint, order: map[string]int{}}
	other := otherOutput{d, out}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 50 {
			if err := d.show("t/"+strconv.Itoa(i%3), []byte("v"+strconv.Itoa(i))); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for range 20 {
			io.WriteString(other, "trace line\n")
		}
	}()
	wg.Wait()
	// Whatever the interleaving, the last dashboard is complete.
	if err := d.show("t/0", []byte("last")); err != nil {
		t.Fatal(err)
	}
	v := replay(t, out.cols, out.rows, out.String())
	lines := v.lines()
	n := len(lines)
	if n < 3 || strings.Join(lines[n-3:], "|") != "last|v49|v47" || v.row != n || v.col != 0 {
		t.Errorf("cursor row %d col %d; screen:\n%s", v.row, v.col, strings.Join(lines, "\n"))
	}
}

// After a resize the dashboard is drawn again from its first row, cut to
// the new width.
func TestDashboardResize(t *testing.T) {
	out := &fakeTerm{cols: 40, rows: 10}
	d := &dashboard{w: out, size: out.termSize, more: cliutil.NewPalette(false).Hint, order: map[string]int{}}
	long := []byte("a line that is longer than twenty columns")
	for _, topic := range []string{"t/a", "t/b"} {
		if err := d.show(topic, long); err != nil {
			t.Fatal(err)
		}
	}
	before := out.String()
	out.cols = 20
	if err := d.show("t/a", []byte("short")); err != nil {
		t.Fatal(err)
	}
	if redraw := strings.TrimPrefix(out.String(), before); !strings.HasPrefix(redraw, "\x1b[2A\r\x1b[J") {
		t.Errorf("no redraw from the first row: %q", redraw)
	}
	v := replay(t, 40, 10, out.String())
	if got, want := strings.Join(v.lines(), "|"), "short|a line that is lon…"; got != want || v.row != 2 || v.col != 0 {
		t.Errorf("screen %q, cursor row %d col %d; want %q, row 2 col 0", got, v.row, v.col, want)
	}
}
