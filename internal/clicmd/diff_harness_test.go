package clicmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// The differential test (diff_cases_test.go) runs every command line of
// its table with mosquitto_pub/mosquitto_sub 2.0.11 and with mqpub/mqsub,
// each against a fresh broker of its own, and compares what a user sees:
// stdout (byte for byte, after normalising what must differ), the exit
// status, and every message a reference subscriber received. It does so
// against a mosquitto 2.0.11 and against mqbroker.
//
// mqpub and mqsub run as real processes, like mosquitto's tools: the test
// binary runs itself with envTestTool set (see runTestTool), so stdin,
// stdout buffering, signals and the process id (-I) behave as they do for
// the installed programs, without building them first.

// envTestTool makes the test binary act as mqpub or mqsub.
const envTestTool = "MQKIT_TEST_TOOL"

// runTestTool is main() of cmd/mqpub and cmd/mqsub, for the test binary
// started with envTestTool=mqpub or mqsub; it reports whether it ran.
func runTestTool() (int, bool) {
	var newApp func(io.Reader, io.Writer, io.Writer) *cli.App
	switch os.Getenv(envTestTool) {
	case "mqpub":
		newApp = NewPubApp
	case "mqsub":
		newApp = NewSubApp
	default:
		return 0, false
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	name := os.Getenv(envTestTool)
	return Run(ctx, newApp(os.Stdin, os.Stdout, os.Stderr), append([]string{name}, os.Args[1:]...)), true
}

// diffFamily is a pair of tools: mosquitto's or ours.
type diffFamily struct {
	name      string
	mosquitto bool
}

var (
	mosquittoTools = diffFamily{name: "mosquitto_pub/sub", mosquitto: true}
	mqkitTools     = diffFamily{name: "mqpub/mqsub"}
)

// program is the executable of a tool ("pub" or "sub") of fam, with the
// environment it needs. mqpub and mqsub are this test binary (see
// runTestTool); GORACE keeps the race detector from sleeping a second
// at exit.
func (fam diffFamily) program(tool string) (string, []string) {
	if fam.mosquitto {
		return "mosquitto_" + tool, nil
	}
	return os.Args[0], []string{envTestTool + "=mq" + tool, "GORACE=atexit_sleep_ms=0"}
}

// dmsg is a message the harness publishes (the "feeder", an MQTT 5
// client of its own), and how the reference subscriber records one.
type dmsg struct {
	topic   string
	payload string
	qos     mqtt.QoS
	retain  bool
	props   mqtt.Properties
	// mosquittoPub, if set, are mosquitto_pub's arguments (after -h/-p)
	// publishing the message instead (to send properties in a given
	// order); it must be QoS 1 or 2 so that it has arrived when
	// mosquitto_pub exits.
	mosquittoPub string
}

// record is how the reference subscriber writes down a message: topic,
// QoS, retain flag (it subscribes with Retain As Published), payload and
// the properties a publisher sets. The message expiry interval is
// recorded as present only: the broker counts it down.
func record(p *mqtt.Publish) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s q%d r%d %q", p.Topic, p.QoS, b2i(p.Retain), p.Payload)
	pr := &p.Props
	for _, u := range pr.User {
		fmt.Fprintf(&b, " user(%s=%s)", u.Key, u.Value)
	}
	if pr.Has(mqtt.PropContentType) {
		fmt.Fprintf(&b, " content-type(%s)", pr.ContentType)
	}
	if pr.Has(mqtt.PropResponseTopic) {
		fmt.Fprintf(&b, " response-topic(%s)", pr.ResponseTopic)
	}
	if pr.Has(mqtt.PropCorrelationData) {
		fmt.Fprintf(&b, " correlation-data(%q)", pr.CorrelationData)
	}
	if pr.Has(mqtt.PropPayloadFormat) {
		fmt.Fprintf(&b, " payload-format(%d)", pr.PayloadFormat)
	}
	if pr.Has(mqtt.PropMessageExpiry) {
		b.WriteString(" message-expiry")
	}
	return b.String()
}

// diffRun is what one run of a case produced.
type diffRun struct {
	steps    []stepResult
	received []string // what the reference subscriber got, in order
}

type stepResult struct {
	args           []string
	code           int
	stdout, stderr string
}

func (r *diffRun) String() string {
	var b strings.Builder
	for i, s := range r.steps {
		fmt.Fprintf(&b, "step %d: %q\n  exit %d\n  stdout: %q\n  stderr: %q\n", i+1, s.args, s.code, s.stdout, s.stderr)
	}
	fmt.Fprintf(&b, "received:\n")
	for _, m := range r.received {
		fmt.Fprintf(&b, "  %s\n", m)
	}
	return b.String()
}

// diffEnv is what every run of a case shares: fixture files.
type diffEnv struct {
	dir    string // holds the fixtures named in diffFixtures
	passwd string // mosquitto password file of diffUsers
}

// diffUsers may log in to the brokers of the cases that need passwords
// (dcase.auth); diff-ref is the reference client.
var diffUsers = map[string]string{"alice": "secret", "diff-ref": "diff-ref"}

// diffFixtures are files the command lines name as {NAME}.
var diffFixtures = map[string]string{
	"empty":  "",
	"text":   "line one\nline two\n",
	"json":   `{"a":[1,2,{"b":null}],"c":"d"}`,
	"binary": "\x00\x01\xfe\xffx",
	"noeol":  "no newline at the end",
	"big":    strings.Repeat("0123456789abcdef", 8192),
}

// expand splits a command line into words (spaces separate words; '...'
// quotes, as in a shell, and ” is an empty word) and fills in {port}
// and fixture names.
func (e *diffEnv) expand(line string, port int) []string {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\'':
			quoted, inWord = !quoted, true
		case c == ' ' && !quoted:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	for i, w := range words {
		w = strings.ReplaceAll(w, "{port}", strconv.Itoa(port))
		for name := range diffFixtures {
			w = strings.ReplaceAll(w, "{"+name+"}", filepath.Join(e.dir, name))
		}
		w = strings.ReplaceAll(w, "{ca}", filepath.Join(e.dir, "ca"))
		w = strings.ReplaceAll(w, "{dir}", e.dir)
		words[i] = w
	}
	return words
}

// runDiff runs c with the tools of fam against a fresh broker started
// by start.
func runDiff(ctx context.Context, e *diffEnv, c *dcase, fam diffFamily, start brokerStarter) (*diffRun, error) {
	b, err := start(ctx, e, c.auth)
	if err != nil {
		return nil, err
	}
	defer b.stop()
	ep := client.Endpoint{Host: "127.0.0.1", Port: b.port}

	run := &diffRun{}
	var mu sync.Mutex
	const barrier = "zz-diff-barrier"
	sawBarrier := make(chan struct{})
	// routed is a marker the feeder publishes after a feed between steps:
	// once the reference subscriber has it, the broker has routed the
	// whole feed (one connection, in order), QoS 0 messages included.
	const routed = "zz-diff-routed"
	sawRouted := make(chan struct{}, 1)
	// One MQTT 5 client records every message (it subscribes to "#" with
	// Retain As Published) and publishes the setup and feed messages.
	conn := mqtt.Connect{Version: mqtt.V5, ClientID: "diff-ref", CleanStart: true, KeepAlive: 60}
	if c.auth {
		conn.HasUsername, conn.Username = true, "diff-ref"
		conn.HasPassword, conn.Password = true, []byte(diffUsers["diff-ref"])
	}
	ref, err := client.Connect(ctx, client.Options{Endpoint: ep, Connect: conn,
		OnMessage: func(p *mqtt.Publish) bool {
			if p.Topic == barrier {
				close(sawBarrier)
				return true
			}
			if p.Topic == routed {
				sawRouted <- struct{}{}
				return true
			}
			mu.Lock()
			run.received = append(run.received, record(p))
			mu.Unlock()
			return true
		}})
	if err != nil {
		return nil, fmt.Errorf("reference client: %w\nbroker log:\n%s", err, b.logText())
	}
	defer ref.Close()
	if _, err := ref.Subscribe(ctx, &mqtt.Subscribe{Subscriptions: []mqtt.Subscription{
		{Filter: "#", QoS: 2, RetainAsPublished: true}}}); err != nil {
		return nil, fmt.Errorf("reference subscription: %w", err)
	}
	feed := ref
	publish := func(msgs []dmsg) error {
		for _, m := range msgs {
			if m.mosquittoPub != "" {
				// Published by mosquitto_pub, in the wire order of its -D.
				args := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(b.port)}, e.expand(m.mosquittoPub, b.port)...)
				if out, err := exec.CommandContext(ctx, "mosquitto_pub", args...).CombinedOutput(); err != nil {
					return fmt.Errorf("feeding with mosquitto_pub %q: %v: %s", args, err, out)
				}
				continue
			}
			tok, err := feed.Publish(ctx, &mqtt.Publish{Topic: m.topic, Payload: []byte(m.payload),
				QoS: m.qos, Retain: m.retain, Props: m.props})
			if err != nil {
				return err
			}
			if err := tok.Wait(ctx); err != nil {
				return fmt.Errorf("feeding %s: %w", m.topic, err)
			}
		}
		return nil
	}
	// The setup is acknowledged (QoS 1) before the first step starts, so
	// the broker has stored what is retained.
	for _, m := range c.setup {
		if m.qos == 0 {
			m.qos = 1
		}
		if err := publish([]dmsg{m}); err != nil {
			return nil, err
		}
	}
	const baseline = 1 // the reference client
	// mosquitto's log comes through a pipe: wait until it shows the
	// reference client's connection and SUBACK, so that later counts only
	// see the tools.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = until(wctx, func() bool { return b.open() == baseline && b.subacks() == 1 })
	cancel()
	if err != nil {
		return nil, fmt.Errorf("the broker log does not show the reference clients:\n%s", b.logText())
	}
	for _, s := range c.steps {
		if s.tool == "" {
			// A tool that ended (-E) has sent DISCONNECT: wait until the
			// broker has handled it, so that the feed finds the session
			// offline with both tools (mqbroker may otherwise route the
			// feed before it reads the DISCONNECT: issue 11 item 1).
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := until(wctx, func() bool { return b.open() == baseline })
			cancel()
			if err != nil {
				return nil, fmt.Errorf("the broker log does not show the tool's disconnection:\n%s", b.logText())
			}
			if err := publish(s.feed); err != nil {
				return nil, err
			}
			// The next step's CONNECT must not overtake a QoS 0 message
			// of the feed, which has no acknowledgement: a broker that
			// reads both in one pass may handle the CONNECT first (the
			// event loop does, issue 11 item 1) and deliver the message
			// live instead of dropping it for the offline session.
			if err := publish([]dmsg{{topic: routed, payload: "x"}}); err != nil {
				return nil, err
			}
			select {
			case <-sawRouted:
			case <-ctx.Done():
				return nil, fmt.Errorf("the feed was not routed: %w", ctx.Err())
			}
			continue
		}
		res, err := runStep(ctx, e, b, fam, s, publish)
		if err != nil {
			return nil, err
		}
		run.steps = append(run.steps, res)
		// Before the next step (or the end), the broker has handled
		// everything the tool sent: its connection is closed.
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = until(wctx, func() bool { return b.open() <= baseline })
		cancel()
		if err != nil {
			return nil, fmt.Errorf("the broker still has a connection of the tool:\n%s", b.logText())
		}
	}
	// Everything published before the barrier reaches the reference
	// subscriber before it (one connection, in order).
	tok, err := feed.Publish(ctx, &mqtt.Publish{Topic: barrier, QoS: 1})
	if err == nil {
		err = tok.Wait(ctx)
	}
	if err != nil {
		return nil, err
	}
	select {
	case <-sawBarrier:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	mu.Lock()
	defer mu.Unlock()
	return run, nil
}

// subAcks is the number of SUBACK and UNSUBACK packets a subscriber with
// args gets before it settles: one SUBSCRIBE for all its -t, then one
// UNSUBSCRIBE for all its -U (both tools send them in that order, the
// UNSUBSCRIBE once the SUBACK came). The feed waits for both, or a message
// published between them reaches one tool and not the other by timing.
func subAcks(args []string) int {
	var sub, unsub bool
	for _, a := range args {
		switch a {
		case "-t", "--topic":
			sub = true
		case "-U", "--unsubscribe":
			unsub = true
		}
	}
	if sub && unsub {
		return 2
	}
	return 1
}

// runStep runs one tool invocation; a subscriber that subscribes gets the
// step's messages once its SUBACK is sent, then runs to its end (or is
// killed with SIGKILL when the step says so).
//
// mosquitto's tools run as processes; ours run in this process (the
// clicmd app, as cmd/mqpub and cmd/mqsub run it, with its own streams
// and environment), which is much cheaper under the race detector, except
// when the step kills the tool: then the test binary runs as mqpub or
// mqsub (runTestTool).
func runStep(ctx context.Context, e *diffEnv, b *diffBroker, fam diffFamily, s dstep, publish func([]dmsg) error) (stepResult, error) {
	args := e.expand(s.args, b.port)
	res := stepResult{args: args}
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	// No options file of the user applies: HOME is an empty directory.
	home := filepath.Join(e.dir, "home-"+strconv.Itoa(b.port))
	if err := os.MkdirAll(home, 0o700); err != nil {
		return res, err
	}
	before := b.subacks()
	var p *running
	var err error
	if fam.mosquitto || s.kill {
		p, err = startProcess(sctx, e, fam, s, args, home)
	} else {
		p = startInProcess(sctx, s, args, home)
	}
	if err != nil {
		return res, err
	}
	if s.tool == "sub" && (s.feed != nil || s.kill) {
		acks := subAcks(args)
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		err := until(wctx, func() bool {
			select {
			case <-p.exited:
				return true
			default:
				return b.subacks() >= before+acks
			}
		})
		wcancel()
		if err != nil {
			p.kill()
			<-p.exited
			return res, fmt.Errorf("%q did not subscribe: stdout %q stderr %q", args, p.stdout(), p.stderr())
		}
		// The feed goes out whether the tool subscribed or already ended
		// (-E, -C met by retained messages): the same for both tools.
		if err := publish(s.feed); err != nil {
			p.kill()
			<-p.exited
			return res, err
		}
		if s.kill {
			p.kill()
		}
	}
	<-p.exited
	res.stdout, res.stderr, res.code = p.stdout(), p.stderr(), p.code
	if sctx.Err() != nil {
		res.code = -1 // did not end within 15 s
	}
	return res, p.err
}

// running is a tool started by runStep.
type running struct {
	exited         chan struct{} // closed when it has ended; then:
	code           int
	err            error // it could not be run
	stdout, stderr func() string
	kill           func()
}

func startProcess(ctx context.Context, e *diffEnv, fam diffFamily, s dstep, args []string, home string) (*running, error) {
	bin, env := fam.program(s.tool)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "TZ=UTC", "LANG=C"}, env...)
	cmd.Dir = e.dir
	cmd.Stdin = strings.NewReader(s.stdin)
	var out, errb lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &running{exited: make(chan struct{}), stdout: out.String, stderr: errb.String,
		kill: func() { cmd.Process.Kill() }}
	go func() {
		defer close(p.exited)
		err := cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			p.code = ee.ExitCode()
		default:
			p.err = err
		}
	}()
	return p, nil
}

func startInProcess(ctx context.Context, s dstep, args []string, home string) *running {
	tctx, cancel := context.WithCancel(ctx)
	tl := &tool{name: "mq" + s.tool, stdin: s.stdin, env: map[string]string{"HOME": home}}
	p := &running{exited: make(chan struct{}), stdout: tl.out.String, stderr: tl.errb.String, kill: cancel}
	go func() {
		defer close(p.exited)
		defer cancel()
		p.code = tl.run(tctx, args...).code
	}()
	return p
}

// Normalisation: only what differs between any two runs of the same tool.
var (
	// Client identifiers the broker assigns (v5, empty -i): a random UUID.
	reAssignedID = regexp.MustCompile(`auto-[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}`)
	// Random MQTT 3.1 client identifiers (3.1 has no assigned ones):
	// mosquitto's "mosq-" and ours "mqpub-"/"mqsub-" plus random letters.
	reRandomID = regexp.MustCompile(`\b(mosq|mqpub|mqsub)-[A-Za-z0-9]{16,18}\b`)
)

func normalize(s string, extra []*regexp.Regexp) string {
	s = reAssignedID.ReplaceAllString(s, "auto-<uuid>")
	s = reRandomID.ReplaceAllString(s, "<random-id>")
	for _, re := range extra {
		s = re.ReplaceAllString(s, "<varies>")
	}
	return s
}

// compareRuns reports every difference between want (mosquitto's tools)
// and got (ours).
func compareRuns(c *dcase, want, got *diffRun) []string {
	var diffs []string
	if c.extension {
		// One step; mosquitto refuses, mqkit accepts (documented).
		if w := want.steps[0].code; w != 1 {
			diffs = append(diffs, fmt.Sprintf("mosquitto exits %d, not 1: not an extension any more", w))
		}
		if g := got.steps[0].code; g != c.extensionCode {
			diffs = append(diffs, fmt.Sprintf("mqkit exits %d, want %d", g, c.extensionCode))
		}
		return diffs
	}
	if len(want.steps) != len(got.steps) {
		return []string{fmt.Sprintf("%d steps ran, want %d", len(got.steps), len(want.steps))}
	}
	for i := range want.steps {
		w, g := want.steps[i], got.steps[i]
		if w.code != g.code && !c.skipExit {
			diffs = append(diffs, fmt.Sprintf("step %d: exit %d, mosquitto %d", i+1, g.code, w.code))
		}
		switch {
		case c.usage:
			if !strings.Contains(w.stdout, " is a simple mqtt client") || g.stdout != "" {
				diffs = append(diffs, fmt.Sprintf("step %d: mosquitto does not print its usage, or mqkit prints something:\n    mqkit:     %q\n    mosquitto: %q", i+1, g.stdout, w.stdout))
			}
		case c.skipStdout:
		default:
			ws, gs := normalize(w.stdout, c.norm), normalize(g.stdout, c.norm)
			if c.unordered {
				ws, gs = sortedLines(ws), sortedLines(gs)
			}
			if ws != gs {
				diffs = append(diffs, fmt.Sprintf("step %d: stdout\n    mqkit:     %q\n    mosquitto: %q", i+1, gs, ws))
			}
		}
	}
	wr, gr := slices.Clone(want.received), slices.Clone(got.received)
	if c.unordered {
		slices.Sort(wr)
		slices.Sort(gr)
	}
	if !c.skipReceived && !slices.Equal(wr, gr) {
		diffs = append(diffs, fmt.Sprintf("received\n    mqkit:\n      %s\n    mosquitto:\n      %s",
			strings.Join(got.received, "\n      "), strings.Join(want.received, "\n      ")))
	}
	return diffs
}

func skipped(c *dcase) string {
	var what []string
	for _, w := range []struct {
		skip bool
		name string
	}{{c.skipExit, "exit status"}, {c.skipStdout, "stdout"}, {c.skipReceived, "messages received"}} {
		if w.skip {
			what = append(what, w.name)
		}
	}
	return strings.Join(what, ", ")
}

// TestDifferentialMosquittoClients is the differential test: see
// diff_cases_test.go for the table.
func TestDifferentialMosquittoClients(t *testing.T) {
	for _, bin := range []string{"mosquitto", "mosquitto_pub", "mosquitto_sub"} {
		clienttest.RequireBinary(t, bin)
	}
	if testing.Short() {
		t.Skip("runs a few hundred processes; skipped with -short")
	}
	e := &diffEnv{dir: t.TempDir()}
	for name, content := range diffFixtures {
		if err := os.WriteFile(filepath.Join(e.dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.passwd = clienttest.WritePasswordFile(t, e.dir, diffUsers)
	tlsFiles := clienttest.NewTLSFiles(t)
	if err := os.Link(tlsFiles.CACert, filepath.Join(e.dir, "ca")); err != nil {
		t.Fatal(err)
	}
	brokers := []struct {
		name  string
		start brokerStarter
	}{{"mosquitto", startDiffMosquitto}, {"mqbroker", startDiffMqbroker}}

	type job struct {
		c      *dcase
		broker int
	}
	type outcome struct {
		want, got *diffRun
		err       error
	}
	cases := diffCases()
	if re := os.Getenv("MQKIT_DIFF_RUN"); re != "" {
		// Only the cases whose name matches (for working on a few).
		keep := regexp.MustCompile(re)
		cases = slices.DeleteFunc(cases, func(c dcase) bool { return !keep.MatchString(c.name) })
	}
	results := make([][2]outcome, len(cases))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Bounded parallelism: most of a run is waiting for processes.
	sem := make(chan struct{}, 6)
	var wg sync.WaitGroup
	for i := range cases {
		c := &cases[i]
		for bi, bk := range brokers {
			if bk.name == "mqbroker" && c.mosquittoOnly {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				o := &results[i][bi]
				var werr, gerr error
				done := make(chan struct{})
				go func() {
					defer close(done)
					o.want, werr = runDiff(ctx, e, c, mosquittoTools, bk.start)
				}()
				o.got, gerr = runDiff(ctx, e, c, mqkitTools, bk.start)
				<-done
				o.err = errors.Join(werr, gerr)
			}()
		}
	}
	wg.Wait()
	names := map[string]bool{}
	for i := range cases {
		c := &cases[i]
		if names[c.name] {
			t.Fatalf("two cases named %q", c.name)
		}
		names[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			for bi, bk := range brokers {
				o := results[i][bi]
				if o.want == nil && o.got == nil && o.err == nil {
					continue // not run against this broker
				}
				if o.err != nil {
					t.Errorf("%s: %v", bk.name, o.err)
					continue
				}
				if c.why != "" {
					t.Logf("not compared (%s): %s", skipped(c), c.why)
				}
				if diffs := compareRuns(c, o.want, o.got); len(diffs) > 0 {
					t.Errorf("against %s:\n  %s\nmosquitto's tools:\n%smqkit:\n%s", bk.name,
						strings.Join(diffs, "\n  "), o.want, o.got)
				}
			}
		})
	}
}
