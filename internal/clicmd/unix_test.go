package clicmd

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client/clienttest"
)

// unixBrokers start a broker listening on a unix socket and return its
// path: mqbroker's library (Network "unix") and the real mosquitto
// ("listener 0 PATH").
var unixBrokers = []struct {
	name  string
	start func(t *testing.T) string
}{
	{"mqkit", func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "mq.sock")
		clienttest.StartBroker(t, broker.Options{Listeners: []broker.ListenerConfig{{Name: "unix", Network: "unix", Addr: path}}})
		return path
	}},
	{"mosquitto", func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "mq.sock")
		clienttest.StartMosquitto(t, "listener 0 "+path+"\nallow_anonymous true\n")
		return path
	}},
}

// mqpub and mqsub --unix talk to a broker on a unix domain socket.
func TestUnixSocket(t *testing.T) {
	for _, ub := range unixBrokers {
		t.Run(ub.name, func(t *testing.T) {
			path := ub.start(t)
			wait := bgSub(t, "--unix", path, "-t", "u/#", "-v", "-C", "1", "-W", "10")
			mustPub(t, "--unix", path, "-t", "u/x", "-m", "over a unix socket", "-q", "1")
			if r := wait(); r.code != 0 || messages(r.stdout) != "u/x over a unix socket\n" {
				t.Fatalf("mqsub: exit %d, %q\nstderr: %s", r.code, messages(r.stdout), r.stderr)
			}
		})
	}
}

// -L unix:///PATH (the form mqbroker --listen takes) works in both tools,
// with the topic from -t (issue 13); mosquitto 2.0 has only --unix.
func TestUnixSocketURL(t *testing.T) {
	for _, ub := range unixBrokers {
		t.Run(ub.name, func(t *testing.T) {
			path := ub.start(t)
			url := "unix://" + path // path is absolute: unix:///tmp/...
			wait := bgSub(t, "-L", url, "-t", "u/#", "-v", "-C", "1", "-W", "10")
			mustPub(t, "-L", url, "-t", "u/y", "-m", "via a unix URL", "-q", "1")
			if r := wait(); r.code != 0 || messages(r.stdout) != "u/y via a unix URL\n" {
				t.Fatalf("mqsub: exit %d, %q\nstderr: %s", r.code, messages(r.stdout), r.stderr)
			}
		})
	}
}

// mosquitto_pub --unix reaches mqbroker's unix socket listener.
func TestUnixSocketMosquittoClients(t *testing.T) {
	bin := clienttest.RequireBinary(t, "mosquitto_pub")
	path := unixBrokers[0].start(t)
	wait := bgSub(t, "--unix", path, "-t", "u/m", "-C", "1", "-W", "10")
	out, err := exec.Command(bin, "--unix", path, "-t", "u/m", "-m", "from mosquitto_pub").CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_pub --unix: %v\n%s", err, out)
	}
	if r := wait(); r.code != 0 || messages(r.stdout) != "from mosquitto_pub\n" {
		t.Fatalf("mqsub: exit %d, %q", r.code, messages(r.stdout))
	}
}

// --unix replaces -h/-p/-L and takes no TLS options; a missing socket is
// a connection error with the path in the message.
func TestUnixSocketUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--unix", "/tmp/x.sock", "-h", "localhost"},
		{"--unix", "/tmp/x.sock", "-p", "1883"},
		{"--unix", "/tmp/x.sock", "-L", "mqtt://localhost/t"},
		{"--unix", "/tmp/x.sock", "--cafile", "/etc/ssl/ca.pem"},
		{"-L", "unix:///tmp/x.sock", "-p", "1883"},
		{"-L", "unix:///tmp/x.sock", "--ws"},
	} {
		r := pub(t, append(args, "-t", "t", "-m", "m")...)
		if r.code != 1 || !strings.Contains(r.stderr, "unix") {
			t.Errorf("mqpub %q: exit %d, stderr %q; want a usage error naming --unix", args, r.code, r.stderr)
		}
	}
	missing := filepath.Join(t.TempDir(), "absent.sock")
	r := pub(t, "--unix", missing, "-t", "t", "-m", "m")
	if r.code != 1 || !strings.Contains(r.stderr, missing) {
		t.Errorf("absent socket: exit %d, stderr %q", r.code, r.stderr)
	}
}
