//go:build unix

// Package scripts_test runs the tutorial scripts (scripts/demo-*.sh) as tests:
// against mosquitto's tools, which proves the scripts themselves right, and
// against mqkit's bin/ tools, which proves mqkit right.
package scripts_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/testtool"
)

// scriptTimeout bounds one script run; the slowest (demo-will.sh) takes ~12 s.
const scriptTimeout = 60 * time.Second

// toolset is one set of MQTT tools the scripts can drive.
type toolset struct {
	name   string
	env    []string // MQ_* variables
	need   []string // commands that must exist (absolute paths or PATH names)
	strict bool     // a skipped step is a failure (MQ_STRICT=1)
	hint   string   // how to get the tools
}

func toolsets(root string) []toolset {
	bin := func(name string) string { return filepath.Join(root, "bin", name) }
	return []toolset{
		{
			name: "mosquitto",
			env: []string{"MQ_PUB=mosquitto_pub", "MQ_SUB=mosquitto_sub",
				"MQ_BROKER=mosquitto", "MQ_PASSWD=mosquitto_passwd"},
			need: []string{"mosquitto", "mosquitto_pub", "mosquitto_sub", "mosquitto_passwd"},
			hint: "apt-get install mosquitto mosquitto-clients",
		},
		{
			name: "mqkit",
			env: []string{"MQ_PUB=" + bin("mqpub"), "MQ_SUB=" + bin("mqsub"),
				"MQ_BROKER=" + bin("mqbroker"), "MQ_PASSWD=" + bin("mqbroker") + " passwd"},
			need:   []string{bin("mqbroker"), bin("mqpub"), bin("mqsub")},
			strict: true,
			hint:   "make build",
		},
		// The mixed sets tell a client bug from a broker bug when "mqkit" fails.
		{
			name: "mqkit-clients+mosquitto",
			env: []string{"MQ_PUB=" + bin("mqpub"), "MQ_SUB=" + bin("mqsub"),
				"MQ_BROKER=mosquitto", "MQ_PASSWD=mosquitto_passwd"},
			need:   []string{bin("mqpub"), bin("mqsub"), "mosquitto", "mosquitto_passwd"},
			strict: true,
			hint:   "make build; apt-get install mosquitto",
		},
		{
			name: "mosquitto-clients+mqbroker",
			env: []string{"MQ_PUB=mosquitto_pub", "MQ_SUB=mosquitto_sub",
				"MQ_BROKER=" + bin("mqbroker"), "MQ_PASSWD=" + bin("mqbroker") + " passwd"},
			need: []string{bin("mqbroker"), "mosquitto_pub", "mosquitto_sub"},
			hint: "make build; apt-get install mosquitto-clients",
		},
	}
}

// missingTool names the first command that is not installed, or "".
func missingTool(cmds ...string) string { return testtool.Missing(cmds...) }

// skipOrFail skips outside CI and fails when CI=true: CI must run everything.
func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	testtool.SkipOrFail(t, msg)
}

// requireTools skips (outside CI) or fails (CI=true) when a command is missing.
func requireTools(t *testing.T, hint string, cmds ...string) {
	t.Helper()
	if m := missingTool(cmds...); m != "" {
		skipOrFail(t, fmt.Sprintf("%s (%s)", m, hint))
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "scripts", "lib.sh")); err != nil {
		t.Fatalf("repository root not found from %s: %v", root, err)
	}
	return root
}

func demoScripts(t *testing.T, root string) []string {
	t.Helper()
	scripts, err := filepath.Glob(filepath.Join(root, "scripts", "demo-*.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if len(scripts) < 7 {
		t.Fatalf("expected at least 7 demo scripts, found %d: %v", len(scripts), scripts)
	}
	return scripts
}

// cleanEnv is the test's environment without MQ_* variables (a developer's
// MQ_HOST must not redirect the scripts), with colour off and an empty
// configuration directory (a developer's ~/.config/mqsub or
// ~/.config/mosquitto_sub must not change the clients' options).
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MQ_") || strings.HasPrefix(kv, "NO_COLOR=") || strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "NO_COLOR=1", "XDG_CONFIG_HOME="+emptyConfigDir), extra...)
}

// emptyConfigDir is a configuration directory that does not exist: with
// XDG_CONFIG_HOME set, mqpub/mqsub (and mosquitto_pub/sub) look nowhere else.
const emptyConfigDir = "/nonexistent/mqkit-test-config"

// result is what one run of a bash script produced.
type result struct {
	out  string
	code int   // exit status; -1 when killed
	err  error // the script could not be run, or ran out of time
}

// bash runs `bash args...` in its own process group, killed as a whole on
// timeout or when it ends (so no broker or subscriber outlives the test).
// It does not touch testing.T, so it may run on any goroutine.
func bash(timeout time.Duration, env []string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", args...)
	cmd.Env = env
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // leftovers, if any
	}
	res := result{out: buf.String()}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		res.err = fmt.Errorf("did not finish within %v", timeout)
	case err == nil:
	case errors.As(err, &exitErr):
		res.code = exitErr.ExitCode()
	default:
		res.err = err
	}
	return res
}

// runBash is bash for the test goroutine: it fails the test when the script
// could not run or timed out.
func runBash(t *testing.T, timeout time.Duration, env []string, args ...string) result {
	t.Helper()
	res := bash(timeout, env, args...)
	if res.err != nil {
		t.Fatalf("bash %v: %v\n%s", args, res.err, res.out)
	}
	return res
}

// maxConcurrent bounds how many demo scripts run at once. They mostly wait
// (keepalive expiry, -W timeouts), so more than GOMAXPROCS pays off.
const maxConcurrent = 8

// job is a script run started in the background; done is closed when res is set.
type job struct {
	done chan struct{}
	res  result
}

// startJobs runs each script (bounded by maxConcurrent) and returns one job
// per script, in order.
func startJobs(env []string, scripts []string, sem chan struct{}) []*job {
	jobs := make([]*job, len(scripts))
	for i, s := range scripts {
		j := &job{done: make(chan struct{})}
		jobs[i] = j
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			j.res = bash(scriptTimeout, env, s)
			close(j.done)
		}()
	}
	return jobs
}

// wait returns the job's result, failing the test if the script did not run.
func (j *job) wait(t *testing.T, script string) result {
	t.Helper()
	<-j.done
	if j.res.err != nil {
		t.Fatalf("%s: %v\n%s", filepath.Base(script), j.res.err, j.res.out)
	}
	return j.res
}

// checkPass requires a successful run that reached finish ("PASS demo-x.sh").
func checkPass(t *testing.T, script string, res result, strict bool) {
	t.Helper()
	name := filepath.Base(script)
	if res.code != 0 {
		t.Fatalf("%s exited %d:\n%s", name, res.code, res.out)
	}
	if !strings.Contains(res.out, "PASS "+name+":") {
		t.Fatalf("%s exited 0 without its closing PASS line:\n%s", name, res.out)
	}
	for _, line := range strings.Split(res.out, "\n") {
		if strings.Contains(line, "[skip]") {
			if strict {
				t.Errorf("%s skipped a step: %s", name, strings.TrimSpace(line))
			} else {
				t.Logf("%s: %s", name, strings.TrimSpace(line))
			}
		}
	}
}

// TestDemos runs every demo script with each tool set. All runs start at
// once (bounded by maxConcurrent); the subtests report them in order.
func TestDemos(t *testing.T) {
	root := repoRoot(t)
	scripts := demoScripts(t, root)
	requireTools(t, "bash, timeout and stdbuf from coreutils; openssl", "bash", "timeout", "stdbuf", "openssl")
	sem := make(chan struct{}, maxConcurrent)
	type run struct {
		ts   toolset
		skip string // why the tool set cannot run
		jobs []*job
	}
	var runs []run
	for _, ts := range toolsets(root) {
		r := run{ts: ts, skip: missingTool(ts.need...)}
		if r.skip == "" {
			env := cleanEnv(ts.env...)
			if ts.strict {
				env = append(env, "MQ_STRICT=1")
			}
			r.jobs = startJobs(env, scripts, sem)
		}
		runs = append(runs, r)
	}
	for _, r := range runs {
		t.Run(r.ts.name, func(t *testing.T) {
			if r.skip != "" {
				skipOrFail(t, fmt.Sprintf("%s (%s)", r.skip, r.ts.hint))
			}
			for i, s := range scripts {
				t.Run(strings.TrimSuffix(filepath.Base(s), ".sh"), func(t *testing.T) {
					checkPass(t, s, r.jobs[i].wait(t, s), r.ts.strict)
				})
			}
		})
	}
}

// TestDemosExternalBroker runs the demos that need no special listener
// against a broker the test starts itself, through MQ_HOST/MQ_PORT.
func TestDemosExternalBroker(t *testing.T) {
	root := repoRoot(t)
	requireTools(t, "bash, timeout and stdbuf from coreutils", "bash", "timeout", "stdbuf")
	names := []string{"demo-retain.sh", "demo-status.sh", "demo-durable-session.sh"}
	for _, ts := range toolsets(root) {
		if strings.Contains(ts.name, "+") {
			continue // the mixed sets add nothing here
		}
		t.Run(ts.name, func(t *testing.T) {
			requireTools(t, ts.hint, ts.need...)
			port := startBroker(t, ts)
			env := cleanEnv(ts.env...)
			env = append(env, "MQ_HOST=127.0.0.1", fmt.Sprintf("MQ_PORT=%d", port))
			var scripts []string
			for _, n := range names {
				scripts = append(scripts, filepath.Join(root, "scripts", n))
			}
			jobs := startJobs(env, scripts, make(chan struct{}, len(scripts)))
			for i, s := range scripts {
				t.Run(strings.TrimSuffix(names[i], ".sh"), func(t *testing.T) {
					res := jobs[i].wait(t, s)
					checkPass(t, s, res, false)
					if strings.Contains(res.out, "mqbroker -p") {
						t.Errorf("%s started its own broker although MQ_HOST was set:\n%s", names[i], res.out)
					}
				})
			}
		})
	}
}

// startBroker starts the tool set's broker on a free loopback port and waits
// (bounded) until it accepts connections; it is killed when the test ends.
func startBroker(t *testing.T, ts toolset) int {
	t.Helper()
	var broker []string
	for _, kv := range ts.env {
		if v, ok := strings.CutPrefix(kv, "MQ_BROKER="); ok {
			broker = strings.Fields(v)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var log bytes.Buffer
	cmd := exec.Command(broker[0], append(broker[1:], "-p", fmt.Sprint(port))...)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return port
		}
		select {
		case <-done:
			t.Fatalf("%s exited before listening on %d:\n%s", broker[0], port, log.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening on %d after 10s", broker[0], port)
		}
	}
}

// TestDemosCatchMisbehaviour runs demos against mosquitto configured to break
// the rule each demo teaches, and requires the demo to fail with the check
// that names the problem: a demo that passes against a bad broker tests nothing.
func TestDemosCatchMisbehaviour(t *testing.T) {
	root := repoRoot(t)
	requireTools(t, "apt-get install mosquitto mosquitto-clients", "bash", "timeout", "stdbuf",
		"mosquitto", "mosquitto_pub", "mosquitto_sub")
	tests := []struct {
		script  string
		conf    string // the misbehaviour, as a mosquitto.conf line
		wantOut string // the failing check
	}{
		{"demo-qos.sh", "upgrade_outgoing_qos true", "[FAIL] QoS 1 subscriber: the QoS 2 publish arrives at QoS 1"},
		{"demo-retain.sh", "retain_available false", "[FAIL] mqpub exited"},
		{"demo-durable-session.sh", "max_queued_messages 2", "[FAIL] mqsub exited 27, expected 0"},
	}
	for _, tc := range tests {
		t.Run(tc.script+"/"+strings.Fields(tc.conf)[0], func(t *testing.T) {
			t.Parallel()
			broker := badBroker(t, tc.conf)
			env := cleanEnv("MQ_PUB=mosquitto_pub", "MQ_SUB=mosquitto_sub", "MQ_BROKER="+broker)
			res := runBash(t, scriptTimeout, env, filepath.Join(root, "scripts", tc.script))
			if res.code == 0 {
				t.Fatalf("%s passed against a broker with %q:\n%s", tc.script, tc.conf, res.out)
			}
			if !strings.Contains(res.out, tc.wantOut) {
				t.Errorf("%s failed, but without %q:\n%s", tc.script, tc.wantOut, res.out)
			}
		})
	}
}

// badBroker writes a broker command that accepts "-p PORT" like mqbroker and
// runs mosquitto on that port with one extra configuration line.
func badBroker(t *testing.T, confLine string) string {
	t.Helper()
	dir := t.TempDir()
	user := ""
	if os.Getuid() == 0 {
		user = "user root\n" // else mosquitto drops to its own user
	}
	script := fmt.Sprintf(`#!/usr/bin/env bash
[[ $1 == -p ]] || { echo "usage: $0 -p PORT" >&2; exit 2; }
printf 'listener %%s 127.0.0.1\nallow_anonymous true\n%s%s\n' "$2" >%[3]s
exec mosquitto -c %[3]s
`, user, confLine, shellQuote(filepath.Join(dir, "bad.conf")))
	path := filepath.Join(dir, "badbroker")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestScriptsSyntax checks every script parses (bash -n); needs no broker.
func TestScriptsSyntax(t *testing.T) {
	root := repoRoot(t)
	requireTools(t, "bash", "bash")
	files := append(demoScripts(t, root), filepath.Join(root, "scripts", "lib.sh"))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out, err := exec.Command("bash", "-n", f).CombinedOutput()
			if err != nil {
				t.Fatalf("bash -n %s: %v\n%s", f, err, out)
			}
		})
	}
	t.Run("shellcheck", func(t *testing.T) {
		// A lint, but CI installs it: skipped locally, a failure under
		// CI=true when it is missing.
		shellcheck := testtool.Require(t, "shellcheck")
		args := []string{"-x", "-s", "bash"}
		for _, f := range files {
			rel, err := filepath.Rel(root, f)
			if err != nil {
				t.Fatal(err)
			}
			args = append(args, rel)
		}
		cmd := exec.Command(shellcheck, args...)
		cmd.Dir = root // the demos' "# shellcheck source=scripts/lib.sh" is relative to it
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("shellcheck: %v\n%s", err, out)
		}
	})
}

// TestLibHelpers checks that lib.sh's checks fail loudly and pass quietly,
// with no broker involved.
func TestLibHelpers(t *testing.T) {
	root := repoRoot(t)
	requireTools(t, "bash, timeout and stdbuf from coreutils", "bash", "timeout", "stdbuf")
	lib := filepath.Join(root, "scripts", "lib.sh")
	tests := []struct {
		name     string
		body     string
		env      []string
		wantCode int
		wantOut  []string
	}{
		{"pass reaches finish", `ok "fine"; finish`, nil, 0,
			[]string{"[ok] fine", "PASS "}},
		{"fail exits 1", `fail "the broker misbehaved"; finish`, nil, 1,
			[]string{"[FAIL] the broker misbehaved"}},
		{"skip is allowed by default", `skip "no ws"; finish`, nil, 0,
			[]string{"[skip] no ws", "1 skipped"}},
		{"skip fails with MQ_STRICT=1", `skip "no ws"; finish`, []string{"MQ_STRICT=1"}, 1,
			[]string{"MQ_STRICT=1: skipping is not allowed"}},
		{"expect_rc matches a regex", `expect_rc '3|27' bash -c 'exit 27'; finish`, nil, 0,
			[]string{"exited 27"}},
		{"expect_rc mismatch fails", `expect_rc 0 bash -c 'echo boom; exit 5'; finish`, nil, 1,
			[]string{"| boom", "exited 5, expected 0"}},
		{"expect_lines equal", `printf 'x: 1\nnoise\nx: 2\n' >f; expect_lines "two" f 'x: ' 'x: 1' 'x: 2'; finish`, nil, 0,
			[]string{"[ok] two"}},
		{"expect_lines order matters", `printf 'x: 2\nx: 1\n' >f; expect_lines "two" f 'x: ' 'x: 1' 'x: 2'; finish`, nil, 1,
			[]string{"[FAIL] two"}},
		{"expect_lines none wanted", `printf 'other\n' >f; expect_lines "none" f 'x: '; finish`, nil, 0,
			[]string{"[ok] none"}},
		{"expect_lines_any_order", `printf 'x: 2\nx: 1\n' >f; expect_lines_any_order "set" f 'x: ' 'x: 1' 'x: 2'; finish`, nil, 0,
			[]string{"[ok] set"}},
		{"expect_sequence in order", `printf 'a\nb\nc\n' >f; expect_sequence f "abc" a c; finish`, nil, 0,
			[]string{"[ok] abc"}},
		{"expect_sequence out of order", `printf 'a\nb\nc\n' >f; expect_sequence f "ca" c a; finish`, nil, 1,
			[]string{"no line matching /a/"}},
		{"wait_for sees a line", `bg p bash -c 'echo ready; exec sleep 30'; wait_for p '^ready$' 5 "ready"; finish`, nil, 0,
			[]string{"[ok] p: ready"}},
		{"wait_for notices an early exit", `bg p bash -c 'echo nope'; wait_for p '^ready$' 5 "ready"; finish`, nil, 1,
			[]string{"p exited before ready"}},
		{"wait_for deadline", `bg p sleep 30; wait_for p '^ready$' 1 "ready"; finish`, nil, 1,
			[]string{"no ready within 1s"}},
		{"wait_exit status", `bg p bash -c 'exit 27'; wait_exit p 27 5; finish`, nil, 0,
			[]string{"[ok] p exited 27"}},
		{"missing tool has a hint", `use_broker; finish`, []string{"MQ_BROKER=/nonexistent/mqbroker"}, 1,
			[]string{"not found: run 'make build', or set MQ_BROKER"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			script := "source " + shellQuote(lib) + "\n" + tc.body + "\n"
			res := runBash(t, 20*time.Second, cleanEnv(tc.env...), "-c", script, "test-lib")
			if res.code != tc.wantCode {
				t.Errorf("exit %d, want %d\n%s", res.code, tc.wantCode, res.out)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(res.out, w) {
					t.Errorf("output lacks %q:\n%s", w, res.out)
				}
			}
		})
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
