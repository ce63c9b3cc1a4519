// Package testtool is the one place where tests look up the external
// programs they drive (mosquitto, mosquitto_pub/sub, shellcheck, bash,
// nats-server, ...). The project rule it enforces: a test that needs a tool
// skips with a clear message when the tool is missing on a developer's
// machine, and FAILS when the environment variable CI is "true", because CI
// installs every tool and a missing one there is a broken setup, not a
// reason to skip. TestNoOtherLookPath fails when a Go file of the
// repository calls exec.LookPath anywhere else.
package testtool

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sbinDirs are searched after PATH: Debian installs the mosquitto broker
// in /usr/sbin, which is not in an ordinary user's PATH.
var sbinDirs = []string{"/usr/sbin", "/usr/local/sbin"}

// packages says how to get a tool (Debian package names).
var packages = map[string]string{
	"mosquitto":        "apt-get install mosquitto",
	"mosquitto_pub":    "apt-get install mosquitto-clients",
	"mosquitto_sub":    "apt-get install mosquitto-clients",
	"mosquitto_rr":     "apt-get install mosquitto-clients",
	"mosquitto_passwd": "apt-get install mosquitto",
	"shellcheck":       "apt-get install shellcheck",
	"nats-server":      "apt-get install nats-server",
	"openssl":          "apt-get install openssl",
	"timeout":          "apt-get install coreutils",
	"stdbuf":           "apt-get install coreutils",
	"bash":             "apt-get install bash",
	"chromium":         "apt-get install chromium",
}

// InCI reports whether the tests run under CI=true, where nothing may be
// skipped for a missing tool.
func InCI() bool { return os.Getenv("CI") == "true" }

// find returns the path of name: a name with a slash is checked as it is,
// other names are looked up in PATH, then in /usr/sbin and
// /usr/local/sbin. Callers that must decide before a subtest exists (to
// start work early) use Missing instead; everything else uses Require.
func find(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil {
		return p, nil
	}
	if !strings.Contains(name, "/") {
		for _, dir := range sbinDirs {
			c := filepath.Join(dir, name)
			if fi, serr := os.Stat(c); serr == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				return c, nil
			}
		}
	}
	return "", err
}

// Require returns the path of the program name, or ends the test when it
// is not installed: skipped locally, failed under CI=true.
func Require(t testing.TB, name string) string {
	t.Helper()
	p, err := find(name)
	if err != nil {
		SkipOrFail(t, why(name, err))
	}
	return p
}

// RequireAll is Require for several programs.
func RequireAll(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		Require(t, n)
	}
}

// Path returns the path of name, or an error naming the missing program,
// for code that cannot skip (a goroutine other than the test's): the test
// must have called Require for it first, so an error here is a failure.
func Path(name string) (string, error) {
	p, err := find(name)
	if err != nil {
		return "", fmt.Errorf("%s", why(name, err))
	}
	return p, nil
}

// Missing returns "" when every program in names is installed, else a
// message naming the first missing one. Its result must reach SkipOrFail
// (a test that decides up front, e.g. to start jobs in parallel, then
// reports in the subtest).
func Missing(names ...string) string {
	for _, n := range names {
		if _, err := find(n); err != nil {
			return why(n, err)
		}
	}
	return ""
}

// SkipOrFail skips the test with msg, or fails it under CI=true. An empty
// msg does nothing.
func SkipOrFail(t testing.TB, msg string) {
	t.Helper()
	if msg == "" {
		return
	}
	if InCI() {
		t.Fatalf("%s; CI=true requires it, so this is a failure, not a skip", msg)
	}
	t.Skipf("%s; skipping (this fails under CI=true)", msg)
}

func why(name string, err error) string {
	msg := fmt.Sprintf("%s not installed (%v)", name, err)
	if hint := packages[name]; hint != "" {
		msg += ": " + hint
	}
	return msg
}
