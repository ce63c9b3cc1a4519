// Package clienttest holds test helpers shared by the client and CLI
// tests: a real mosquitto broker started on a free loopback port, TLS
// certificates and password files made on the fly.
package clienttest

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/testtool"
)

// Mosquitto is a running mosquitto broker.
type Mosquitto struct {
	Port  int    // first listener port ({port} in the configuration)
	Port2 int    // second listener port ({port2}), 0 when unused
	Dir   string // directory holding the configuration
	PID   int    // the broker's process id (for /proc figures)
	mu    sync.Mutex
	log   strings.Builder

	cmd      *exec.Cmd
	stopOnce sync.Once
	exited   chan struct{} // closed once the process has been waited for
}

// Stop terminates the broker (SIGTERM, then SIGKILL after 5 s) and waits
// until it has exited, so that its port is free again. It is called at
// the end of the test too; calling it more than once is harmless.
func (m *Mosquitto) Stop() {
	m.stopOnce.Do(func() {
		m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.exited:
		case <-time.After(5 * time.Second):
			m.cmd.Process.Kill()
			<-m.exited
		}
	})
}

// Addr is 127.0.0.1:Port.
func (m *Mosquitto) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.Port)) }

// Addr2 is 127.0.0.1:Port2.
func (m *Mosquitto) Addr2() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.Port2)) }

// Log returns what the broker logged so far.
func (m *Mosquitto) Log() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.log.String()
}

// RequireBinary returns the path of name, or skips the test when it is not
// installed, or fails it when the environment variable CI is "true"
// (testtool.Require).
func RequireBinary(t testing.TB, name string) string {
	t.Helper()
	return testtool.Require(t, name)
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// AnonymousConf is a plain listener on {port} that allows anonymous clients.
const AnonymousConf = "listener {port} 127.0.0.1\nallow_anonymous true\n"

// StartMosquitto runs mosquitto with conf, where each "{port}" is replaced
// by a free port and "{port2}" by a second one, and waits until it reports
// it is running. The broker is stopped when the test ends.
//
// A port that was free may be taken before mosquitto binds it (another
// test's outgoing connection gets its local port from the same range):
// on "Address already in use" it starts again on new ports, up to three
// times (CI saw it once).
func StartMosquitto(t testing.TB, conf string) *Mosquitto {
	t.Helper()
	for try := 1; ; try++ {
		m, inUse := startMosquitto(t, conf, FreePort(t), try < 3)
		if !inUse {
			return m
		}
		t.Logf("mosquitto: a port was taken before it bound it (try %d): again on new ports", try)
	}
}

// StartMosquittoOn is StartMosquitto on a given first port (to restart a
// broker where its clients expect it).
func StartMosquittoOn(t testing.TB, conf string, port int) *Mosquitto {
	t.Helper()
	m, _ := startMosquitto(t, conf, port, false)
	return m
}

// startMosquitto starts mosquitto on port; with retry, a start that failed
// because a port was in use returns nil and true instead of failing t.
func startMosquitto(t testing.TB, conf string, port int, retry bool) (*Mosquitto, bool) {
	t.Helper()
	bin := RequireBinary(t, "mosquitto")
	m := &Mosquitto{Port: port, Dir: t.TempDir(), exited: make(chan struct{})}
	conf = strings.ReplaceAll(conf, "{port}", strconv.Itoa(m.Port))
	if strings.Contains(conf, "{port2}") {
		for m.Port2 == 0 || m.Port2 == m.Port {
			m.Port2 = FreePort(t)
		}
		conf = strings.ReplaceAll(conf, "{port2}", strconv.Itoa(m.Port2))
	}
	if os.Geteuid() == 0 {
		// As root mosquitto drops to user "mosquitto", which cannot read
		// the test's private temporary files.
		conf = "user root\n" + conf
	}
	confPath := filepath.Join(m.Dir, "mosquitto.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", confPath, "-v")
	cmd.Dir = m.Dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m.PID = cmd.Process.Pid
	m.cmd = cmd
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			m.mu.Lock()
			m.log.WriteString(line + "\n")
			m.mu.Unlock()
			if !sent && strings.Contains(line, " running") {
				ready <- true
				sent = true
			}
		}
		if !sent {
			ready <- false
		}
		cmd.Wait()
		close(m.exited)
	}()
	t.Cleanup(func() {
		m.Stop()
		if t.Failed() {
			t.Logf("mosquitto log:\n%s", m.Log())
		}
	})
	select {
	case ok := <-ready:
		if !ok {
			if retry && strings.Contains(m.Log(), "Address already in use") {
				return nil, true
			}
			t.Fatalf("mosquitto exited during start-up:\n%s\nconfiguration:\n%s", m.Log(), conf)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("mosquitto did not start within 10s:\n%s", m.Log())
	}
	return m, false
}

// Path returns a file name inside the broker's directory.
func (m *Mosquitto) Path(name string) string { return filepath.Join(m.Dir, name) }
