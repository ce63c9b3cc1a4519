//go:build unix

package scripts_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMakeInstall: make install (PREFIX, DESTDIR) installs the three
// programs, the four man pages and the bash, zsh and fish completion
// scripts where those shells look for them; make uninstall removes them.
func TestMakeInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the programs (-short)")
	}
	root := repoRoot(t)
	requireTools(t, "make, install (coreutils) and go", "make", "install", "go")
	tmp := t.TempDir()
	dest := filepath.Join(tmp, "dest")
	args := []string{"-c", `make -s -C "$1" install PREFIX=/opt/mq DESTDIR="$2" BIN="$3/bin" DOCS="$3/build"`, "bash", root, dest, tmp}
	res := runBash(t, 5*time.Minute, cleanEnv(), args...)
	if res.code != 0 {
		t.Fatalf("make install: exit %d\n%s", res.code, res.out)
	}
	want := []string{
		"bin/mqbroker", "bin/mqpub", "bin/mqsub",
		"share/man/man1/mqbroker.1", "share/man/man1/mqpub.1", "share/man/man1/mqsub.1", "share/man/man5/mqbroker.conf.5",
		"share/bash-completion/completions/mqbroker", "share/bash-completion/completions/mqpub", "share/bash-completion/completions/mqsub",
		"share/zsh/site-functions/_mqbroker", "share/zsh/site-functions/_mqpub", "share/zsh/site-functions/_mqsub",
		"share/fish/vendor_completions.d/mqbroker.fish", "share/fish/vendor_completions.d/mqpub.fish", "share/fish/vendor_completions.d/mqsub.fish",
	}
	for _, f := range want {
		fi, err := os.Stat(filepath.Join(dest, "opt/mq", f))
		if err != nil || fi.Size() == 0 {
			t.Errorf("%s not installed: %v", f, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dest, "opt/mq/bin/mqpub")); err == nil && fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("mqpub installed without execute permission: %v", fi.Mode())
	}
	res = runBash(t, time.Minute, cleanEnv(), "-c", `"$1" --version`, "bash", filepath.Join(dest, "opt/mq/bin/mqbroker"))
	if res.code != 0 || !strings.HasPrefix(res.out, "mqbroker version ") || strings.TrimSpace(res.out) == "mqbroker version" {
		t.Errorf("installed mqbroker --version: %d %q", res.code, res.out)
	}
	res = runBash(t, time.Minute, cleanEnv(), "-c", `make -s -C "$1" uninstall PREFIX=/opt/mq DESTDIR="$2"`, "bash", root, dest)
	if res.code != 0 {
		t.Fatalf("make uninstall: exit %d\n%s", res.code, res.out)
	}
	for _, f := range want {
		if _, err := os.Stat(filepath.Join(dest, "opt/mq", f)); err == nil {
			t.Errorf("%s still there after make uninstall", f)
		}
	}
}
