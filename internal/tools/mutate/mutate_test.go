package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMutationsApply checks the list against the current code, cheaply
// (it runs in make test, the mutation check itself does not): every
// enabled mutation's snippet occurs exactly once in its file, names are
// unique, every entry says what it breaks, and pending ones say why they
// wait. A failure here means the code under a mutation moved: update the
// entry.
func TestMutationsApply(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	enabled := 0
	for _, m := range mutations {
		if names[m.Name] {
			t.Errorf("duplicate mutation name %q", m.Name)
		}
		names[m.Name] = true
		if m.Why == "" {
			t.Errorf("%s: no Why", m.Name)
		}
		if m.Pending != "" {
			continue
		}
		enabled++
		src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(m.File)))
		if err != nil {
			t.Errorf("%s: %v", m.Name, err)
			continue
		}
		if _, err := m.mutate(src); err != nil {
			t.Errorf("%s: %v", m.Name, err)
		}
	}
	// The four mutations issue 18 requires must stay on the list.
	for _, n := range []string{"will-delay-x1000", "max-packet-size-out-le-to-lt", "delivery-acl-ignored", "clean-start-takeover-resumes"} {
		if !names[n] {
			t.Errorf("required mutation %q missing", n)
		}
	}
	if enabled < 20 {
		t.Errorf("only %d enabled mutations", enabled)
	}
}

func TestMutateSnippetRules(t *testing.T) {
	m := mutation{Name: "x", File: "f.go", Original: "a < b", Replace: "a <= b"}
	got, err := m.mutate([]byte("if a < b {}"))
	if err != nil || string(got) != "if a <= b {}" {
		t.Errorf("mutate: %q, %v", got, err)
	}
	if _, err := m.mutate([]byte("if a > b {}")); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing snippet: %v", err)
	}
	if _, err := m.mutate([]byte("a < b; a < b")); err == nil || !strings.Contains(err.Error(), "2 times") {
		t.Errorf("repeated snippet: %v", err)
	}
}

// TestRunOnScratchModule runs the whole tool on a tiny module of its own:
// one mutation its test kills, one it does not (a survivor: exit 1), one
// whose snippet is gone (stale: exit 1), one pending.
func TestRunOnScratchModule(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test in a scratch module")
	}
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/m\n\ngo 1.22\n")
	write("m.go", "package m\n\nfunc Max(a, b int) int {\n\tif a > b {\n\t\treturn a\n\t}\n\treturn b\n}\n\nfunc Unused() int { return 1 }\n")
	write("m_test.go", "package m\n\nimport \"testing\"\n\nfunc TestMax(t *testing.T) {\n\tif Max(2, 1) != 2 || Max(1, 2) != 2 {\n\t\tt.Fatal(\"Max\")\n\t}\n}\n")
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}} {
		if out, err := gitCmd(dir, args...); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	saved := mutations
	defer func() { mutations = saved }()
	mutations = []mutation{
		{Name: "flip", File: "m.go", Original: "if a > b {", Replace: "if a < b {", Packages: []string{"./"}, Why: "w"},
		{Name: "survivor", File: "m.go", Original: "return 1 }", Replace: "return 2 }", Packages: []string{"./"}, Why: "w"},
		{Name: "stale", File: "m.go", Original: "no such code", Replace: "x", Why: "w"},
		{Name: "later", File: "m.go", Pending: "not merged", Why: "w"},
	}
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	var out, errb bytes.Buffer
	code := run([]string{"-timeout", time.Minute.String()}, &out, &errb)
	s := out.String()
	if code != 1 {
		t.Errorf("exit %d, want 1 (a survivor and a stale entry)\n%s%s", code, s, errb.String())
	}
	for _, want := range []string{"flip ... killed by TestMax", "survivor ... SURVIVED", "stale ... STALE", "later ... pending",
		"1 killed, 1 survived, 1 stale, 0 invalid, 1 pending"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	// The original tree is untouched.
	if b, _ := os.ReadFile(filepath.Join(dir, "m.go")); !bytes.Contains(b, []byte("if a > b {")) {
		t.Errorf("the module itself was modified")
	}
}
