package auth

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/testtool"
)

// requireTool returns the path of an installed mosquitto tool. When it is
// missing the test is skipped, unless CI=true, where it fails: CI installs
// mosquitto, so a missing binary there is a broken setup, not a skip.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	return testtool.Require(t, name)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startMosquitto runs the real broker with the given config lines (a
// loopback listener on a free port is added, and "user root" so that a
// root test run does not drop privileges before reading 0600 files). It
// returns the port once mosquitto logs that it is running, and stops the
// broker at test cleanup.
func startMosquitto(t *testing.T, lines ...string) int {
	t.Helper()
	bin := requireTool(t, "mosquitto")
	port := freePort(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	body := fmt.Sprintf("user root\nlistener %d 127.0.0.1\nlog_dest stderr\n%s\n", port, strings.Join(lines, "\n"))
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, bin, "-c", conf)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
	})
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var log []string
		for sc.Scan() {
			log = append(log, sc.Text())
			if strings.Contains(sc.Text(), " running") {
				ready <- nil
				for sc.Scan() { // keep draining so mosquitto never blocks
				}
				return
			}
		}
		ready <- fmt.Errorf("mosquitto exited before running:\n%s", strings.Join(log, "\n"))
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("mosquitto did not report running within 15s")
	}
	return port
}

// runTool runs a mosquitto client tool with a deadline and returns its exit
// code and combined output. It may be called from any goroutine: failures
// to run the tool are reported with t.Errorf and exit code -1.
func runTool(t *testing.T, name string, args ...string) (int, string) {
	t.Helper()
	bin, err := testtool.Path(name)
	if err != nil {
		t.Errorf("%v", err) // the test required it on its own goroutine: not a skip
		return -1, ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if ctx.Err() != nil {
		t.Errorf("%s %v timed out; output:\n%s", name, args, out)
		return -1, string(out)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return -1, string(out)
	}
	return 0, string(out)
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
