//go:build unix

package scripts_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/testtool"
)

func readRepoFile(t *testing.T, root, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDockerfile checks what the issue asks of the image (no Docker
// daemon is needed): multi-stage, static binary, non-root user, /data
// volume, the three ports, a health check with the tools themselves.
func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	d := readRepoFile(t, root, "Dockerfile")
	for _, re := range []string{
		`(?m)^FROM golang:1\.26\.8\S* AS build$`,
		`(?m)^FROM scratch$`,
		`(?m)^ENV CGO_ENABLED=0$`,
		`(?m)^USER 10001:10001$`,
		`(?m)^VOLUME /data$`,
		`(?m)^EXPOSE 1883 8883 8080$`,
		`(?m)^HEALTHCHECK .*\n\s+CMD \["/usr/local/bin/mqpub", "--ping"`,
		`(?m)^ENTRYPOINT \["/usr/local/bin/mqbroker"\]$`,
	} {
		if !regexp.MustCompile(re).MatchString(d) {
			t.Errorf("Dockerfile does not match %s", re)
		}
	}
	// The Go version is go.mod's.
	if !strings.Contains(readRepoFile(t, root, "go.mod"), "\ngo 1.26.8\n") {
		t.Error("go.mod's go line changed: update the Dockerfile's golang image")
	}
	if di := readRepoFile(t, root, ".dockerignore"); !strings.Contains(di, "bin/") {
		t.Errorf(".dockerignore does not leave out bin/:\n%s", di)
	}
}

// TestSystemdUnit: the unit waits for mqbroker's READY=1, reloads with
// SIGHUP, and systemd itself accepts it (systemd-analyze verify, with
// the binary path pointing at bin/mqbroker).
func TestSystemdUnit(t *testing.T) {
	root := repoRoot(t)
	u := readRepoFile(t, root, "contrib/systemd/mqbroker.service")
	for _, want := range []string{"\nType=notify\n", "\nExecReload=/bin/kill -HUP $MAINPID\n", "\nNoNewPrivileges=yes\n",
		"\nProtectSystem=strict\n", "\nUser=mqkit\n", "\nStateDirectory=mqkit\n"} {
		if !strings.Contains(u, want) {
			t.Errorf("mqbroker.service lacks %q", strings.TrimSpace(want))
		}
	}
	conf := filepath.Join(root, "contrib", "systemd", "mqbroker.conf")
	if _, err := os.Stat(conf); err != nil {
		t.Fatal(err)
	}
	analyze := testtool.Require(t, "systemd-analyze")
	bin := filepath.Join(root, "bin", "mqbroker")
	if _, err := os.Stat(bin); err != nil {
		skipOrFail(t, "bin/mqbroker missing (make build)")
	}
	dir := t.TempDir()
	unit := strings.ReplaceAll(u, "/usr/local/bin/mqbroker", bin)
	unit = strings.ReplaceAll(unit, "Documentation=man:mqbroker(1) man:mqbroker.conf(5)\n", "")
	path := filepath.Join(dir, "mqbroker.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The configuration it starts with is valid (its password file aside).
	text := strings.ReplaceAll(readRepoFile(t, root, "contrib/systemd/mqbroker.conf"), "/etc/mqkit/passwd", filepath.Join(dir, "passwd"))
	text = strings.ReplaceAll(text, "/var/lib/mqkit/", dir+"/")
	if err := os.WriteFile(filepath.Join(dir, "passwd"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cf := filepath.Join(dir, "mqbroker.conf")
	if err := os.WriteFile(cf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(ctx, bin, "--test-config", "-c", cf).CombinedOutput(); err != nil {
		t.Errorf("mqbroker --test-config contrib/systemd/mqbroker.conf: %v\n%s", err, out)
	}
}

// TestLicense: the MIT licence text is there.
func TestLicense(t *testing.T) {
	if l := readRepoFile(t, repoRoot(t), "LICENSE"); !strings.HasPrefix(l, "MIT License\n") {
		t.Errorf("LICENSE:\n%s", l)
	}
}
