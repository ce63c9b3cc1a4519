package clicmd

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// builtMqpub compiles cmd/mqpub once per test binary.
func builtMqpub(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds cmd/mqpub; skipped with -short")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = mkdirTemp()
		if buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", buildDir, "github.com/mqkit/mqkit/cmd/mqpub").CombinedOutput()
		if err != nil {
			buildErr = &buildError{err: err, out: string(out)}
		}
	})
	if buildErr != nil {
		t.Fatalf("go build cmd/mqpub: %v", buildErr)
	}
	return filepath.Join(buildDir, "mqpub")
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// The will is published when the mqpub process dies without DISCONNECT.
func TestWillOnAbruptClose(t *testing.T) {
	bin := builtMqpub(t)
	forEachBroker(t, func(t *testing.T, tg target) {
		wait := bgSub(t, tg.args("-t", "will/abrupt", "-C", "1", "-v")...)
		cmd := exec.Command(bin, tg.args("-d", "-i", "victim", "-l", "-t", "x",
			"--will-topic", "will/abrupt", "--will-payload", "died", "--will-qos", "1")...)
		cmd.Args = append(cmd.Args, "--no-config") // a developer's ~/.config/mqpub must not apply
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		defer stdin.Close()
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		connected := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if strings.Contains(sc.Text(), "received CONNACK (0)") {
					connected <- true
					break
				}
			}
			close(connected)
		}()
		select {
		case ok := <-connected:
			if !ok {
				t.Fatal("mqpub exited before CONNACK")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("mqpub did not connect")
		}
		cmd.Process.Kill()
		cmd.Wait()
		if r := wait(); r.code != 0 || messages(r.stdout) != "will/abrupt died\n" {
			t.Errorf("exit %d output %q", r.code, messages(r.stdout))
		}
	})
}
