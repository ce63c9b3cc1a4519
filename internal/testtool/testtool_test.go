package testtool

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestRequireFindsAndPassesPaths: a name with a slash is used as given,
// and a name found in PATH returns its absolute path.
func TestRequireFindsAndPassesPaths(t *testing.T) {
	if got := Require(t, os.Args[0]); got != os.Args[0] {
		t.Errorf("Require(%q) = %q", os.Args[0], got)
	}
	if msg := Missing(os.Args[0]); msg != "" {
		t.Errorf("Missing(test binary) = %q", msg)
	}
	if msg := Missing("mqkit-no-such-tool"); !strings.Contains(msg, "mqkit-no-such-tool not installed") {
		t.Errorf("Missing(absent tool) = %q", msg)
	}
}

// TestChildRequireMissing is run by TestMissingToolSkipsLocallyFailsInCI in a
// child process only.
func TestChildRequireMissing(t *testing.T) {
	if os.Getenv("TESTTOOL_CHILD") != "1" {
		t.Skip("only run as a child of TestMissingToolSkipsLocallyFailsInCI")
	}
	Require(t, "mqkit-no-such-tool")
	t.Log("REACHED AFTER REQUIRE")
}

// TestMissingToolSkipsLocallyFailsInCI runs a test that requires a missing
// tool, with and without CI=true, and checks the verdicts.
func TestMissingToolSkipsLocallyFailsInCI(t *testing.T) {
	for _, ci := range []string{"", "true"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestChildRequireMissing$", "-test.v")
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "CI=") {
				env = append(env, kv)
			}
		}
		cmd.Env = append(env, "TESTTOOL_CHILD=1", "CI="+ci)
		out, err := cmd.CombinedOutput()
		s := string(out)
		if strings.Contains(s, "REACHED AFTER REQUIRE") {
			t.Errorf("CI=%q: the test went on after a missing tool:\n%s", ci, s)
		}
		switch ci {
		case "":
			if err != nil || !strings.Contains(s, "--- SKIP: TestChildRequireMissing") {
				t.Errorf("CI unset: want a skip, got %v:\n%s", err, s)
			}
		case "true":
			if err == nil || !strings.Contains(s, "--- FAIL: TestChildRequireMissing") ||
				!strings.Contains(s, "apt-get") && !strings.Contains(s, "not installed") {
				t.Errorf("CI=true: want a failure naming the tool, got %v:\n%s", err, s)
			}
		}
	}
}

// TestNoOtherLookPath enforces the rule: no Go file of the repository
// looks a program up except this package, so every test that needs an
// external tool skips locally and fails under CI=true the same way.
func TestNoOtherLookPath(t *testing.T) {
	root := moduleRoot(t)
	banned := []string{
		"exec." + "LookPath(", // use testtool.Require / testtool.Missing
		"Have" + "Binary(",    // a silent "if installed" drops tests in CI
	}
	self := filepath.Join(root, "internal", "testtool", "testtool.go")
	var bad []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "bin", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || p == self {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, w := range banned {
				if strings.Contains(line, w) {
					rel, _ := filepath.Rel(root, p)
					bad = append(bad, rel+":"+strconv.Itoa(i+1)+": "+strings.TrimSpace(line))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Errorf("look external tools up with testtool.Require (skips locally, fails under CI=true), not:\n%s",
			strings.Join(bad, "\n"))
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the package directory")
		}
		dir = parent
	}
}
