// Command mutate is the mutation check of the test suite (make mutate).
//
// Each mutation of the list (mutations.go) is a small, meaningful defect
// planted in internal/mqtt or internal/broker: a comparison flipped, a
// check skipped, an off-by-one, a flag dropped, or the inverse of a bug
// fixed earlier. For each one, mutate copies the module into a scratch
// directory, replaces the exact original snippet of the named file by the
// replacement, and runs the tests of the relevant packages (go test
// -failfast, with a timeout). A failing test run kills the mutation; one
// that passes is a survivor: a defect the tests would not notice. The
// exit status is 1 when anything survived, when a mutation no longer
// applies (its snippet is not found exactly once: the code moved, update
// the entry) or does not compile.
//
// Pending mutations (bugs fixed on other branches, whose fixed code is
// not here yet) are listed, not applied.
//
// Usage:
//
//	go run ./internal/tools/mutate [-run REGEXP] [-timeout 10m] [-list] [-keep]
//
// It is not part of make test: it runs the broker tests once per
// mutation (about half a minute each).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// result is what happened to one mutation.
type result struct {
	m       mutation
	verdict string // killed, SURVIVED, STALE, INVALID, pending
	by      string // the first failing test, or why
	took    time.Duration
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mutate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	runRe := fs.String("run", "", "only the mutations whose name matches this regular expression")
	timeout := fs.Duration("timeout", 10*time.Minute, "go test -timeout for one mutation's tests")
	list := fs.Bool("list", false, "list the mutations and exit")
	keep := fs.Bool("keep", false, "keep the scratch copy (its path is printed)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var sel *regexp.Regexp
	if *runRe != "" {
		var err error
		if sel, err = regexp.Compile(*runRe); err != nil {
			fmt.Fprintf(stderr, "mutate: -run: %v\n", err)
			return 2
		}
	}
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintf(stderr, "mutate: %v\n", err)
		return 2
	}
	var todo []mutation
	for _, m := range mutations {
		if sel == nil || sel.MatchString(m.Name) {
			todo = append(todo, m)
		}
	}
	if *list {
		for _, m := range todo {
			state := "enabled"
			if m.Pending != "" {
				state = "pending: " + m.Pending
			}
			fmt.Fprintf(stdout, "%-40s %-36s %s\n", m.Name, m.File, state)
		}
		return 0
	}
	scratch, err := os.MkdirTemp("", "mqkit-mutate-")
	if err != nil {
		fmt.Fprintf(stderr, "mutate: %v\n", err)
		return 2
	}
	if *keep {
		fmt.Fprintf(stdout, "scratch copy: %s\n", scratch)
	} else {
		defer os.RemoveAll(scratch)
	}
	if err := copyModule(root, scratch); err != nil {
		fmt.Fprintf(stderr, "mutate: copying the module: %v\n", err)
		return 2
	}
	start := time.Now()
	var results []result
	for i, m := range todo {
		fmt.Fprintf(stdout, "[%d/%d] %s ... ", i+1, len(todo), m.Name)
		r := apply(scratch, m, *timeout)
		results = append(results, r)
		fmt.Fprintf(stdout, "%s %s (%s)\n", r.verdict, r.by, r.took.Round(time.Second))
	}
	return report(stdout, results, time.Since(start))
}

// report prints the summary; the exit status is 1 unless every enabled
// mutation was killed.
func report(w io.Writer, results []result, took time.Duration) int {
	counts := map[string]int{}
	var bad []result
	for _, r := range results {
		counts[r.verdict]++
		if r.verdict != "killed" && r.verdict != "pending" {
			bad = append(bad, r)
		}
	}
	fmt.Fprintf(w, "\nmutations: %d killed, %d survived, %d stale, %d invalid, %d pending; %s\n",
		counts["killed"], counts["SURVIVED"], counts["STALE"], counts["INVALID"], counts["pending"], took.Round(time.Second))
	for _, r := range bad {
		fmt.Fprintf(w, "  %s %s: %s\n    %s: %q -> %q\n", r.verdict, r.m.Name, r.by, r.m.File, r.m.Original, r.m.Replace)
	}
	if len(bad) > 0 {
		return 1
	}
	return 0
}

// apply plants m in the scratch copy, runs its packages' tests and puts
// the file back.
func apply(scratch string, m mutation, timeout time.Duration) (r result) {
	r.m = m
	start := time.Now()
	defer func() { r.took = time.Since(start) }()
	if m.Pending != "" {
		r.verdict, r.by = "pending", m.Pending
		return r
	}
	path := filepath.Join(scratch, filepath.FromSlash(m.File))
	orig, err := os.ReadFile(path)
	if err != nil {
		r.verdict, r.by = "STALE", err.Error()
		return r
	}
	mutated, err := m.mutate(orig)
	if err != nil {
		r.verdict, r.by = "STALE", err.Error()
		return r
	}
	if err := os.WriteFile(path, mutated, 0o644); err != nil {
		r.verdict, r.by = "INVALID", err.Error()
		return r
	}
	defer os.WriteFile(path, orig, 0o644)

	pkgs := m.Packages
	if len(pkgs) == 0 {
		pkgs = []string{"./" + filepath.ToSlash(filepath.Dir(m.File)) + "/"}
	}
	if out, err := goCmd(scratch, 5*time.Minute, append([]string{"vet"}, pkgs...)...); err != nil {
		r.verdict, r.by = "INVALID", "does not build: "+firstLines(out, 3)
		return r
	}
	args := append([]string{"test", "-count=1", "-failfast", "-timeout", timeout.String()}, pkgs...)
	out, err := goCmd(scratch, timeout+2*time.Minute, args...)
	if err == nil {
		r.verdict, r.by = "SURVIVED", "every test passed"
		return r
	}
	r.verdict, r.by = "killed", "by "+firstFailure(out)
	return r
}

// mutate returns src with the mutation applied; the original snippet must
// occur exactly once.
func (m mutation) mutate(src []byte) ([]byte, error) {
	if m.Original == "" || m.Original == m.Replace {
		return nil, errors.New("empty or no-op mutation")
	}
	switch n := bytes.Count(src, []byte(m.Original)); n {
	case 1:
		return bytes.Replace(src, []byte(m.Original), []byte(m.Replace), 1), nil
	case 0:
		return nil, fmt.Errorf("snippet not found in %s: the code moved, update the entry", m.File)
	default:
		return nil, fmt.Errorf("snippet found %d times in %s: make it unique", n, m.File)
	}
}

func goCmd(dir string, d time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

var failRe = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)

// firstFailure names the first failing test of a go test output, or its
// first lines (a build failure, a panic, a timeout).
func firstFailure(out string) string {
	if m := failRe.FindStringSubmatch(out); m != nil {
		return m[1]
	}
	if strings.Contains(out, "panic: test timed out") {
		return "a test timeout"
	}
	return firstLines(out, 2)
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(strings.TrimSpace(s), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " | ")
}

// moduleRoot is the directory holding go.mod, from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found: run from inside the module")
		}
		dir = parent
	}
}

// copyModule copies the module's files (what git tracks, plus files not
// ignored) from root to dst, so the scratch copy has the working tree's
// uncommitted changes too.
func copyModule(root, dst string) error {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("git ls-files: %w", err)
	}
	for _, rel := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if rel == "" {
			continue
		}
		src := filepath.Join(root, rel)
		fi, err := os.Lstat(src)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the working tree, or not a plain file
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(to, b, fi.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

func gitCmd(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}
