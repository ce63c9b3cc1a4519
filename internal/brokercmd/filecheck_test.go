package brokercmd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/testtool"
)

// TestFileErrorsAtTheirLine: a file the broker cannot read is reported at
// the line of the option that names it (issue 14), not at the listener or
// connection line, and a trailing "# comment" glued into a path (as
// mosquitto reads it) is said to be part of the value.
func TestFileErrorsAtTheirLine(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, conf, want string
	}{
		{"certfile", "listener 8883 127.0.0.1\n\ncertfile /nonexistent/s.crt\nkeyfile /nonexistent/s.key\n",
			`c.conf:3: certfile: cannot read "/nonexistent/s.crt": no such file or directory`},
		{"keyfile", "listener 8883 127.0.0.1\ncertfile " + writeFile(t, dir, "s.crt", "x") + "\n\nkeyfile /nonexistent/s.key\n",
			`c.conf:4: keyfile: cannot read "/nonexistent/s.key": no such file or directory`},
		{"password_file", "listener 1883\nallow_anonymous false\n\npassword_file /nonexistent/pw\n",
			`c.conf:4: password_file: cannot read "/nonexistent/pw": no such file or directory`},
		{"acl_file", "listener 1883\nacl_file /nonexistent/acl\n",
			`c.conf:2: acl_file: cannot read "/nonexistent/acl": no such file or directory`},
		{"bridge_cafile with a comment", "connection cloud\naddress broker.example.com:8883   # or: addresses h1 h2\n" +
			"topic sensors/# out 1\n\n\n\n\n\n\nbridge_cafile /etc/mq/ca.pem            # turns TLS on\n",
			`c.conf:10: bridge_cafile: cannot read "/etc/mq/ca.pem            # turns TLS on": no such file or directory. As in mosquitto`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conf := writeFile(t, dir, "c.conf", tc.conf)
			code, _, stderr := runApp(t, "--test-config", "-c", conf)
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want 1 and %q", code, stderr, tc.want)
			}
		})
	}
}

// TestTrailingCommentLikeMosquitto: mosquitto 2.0.11 also takes the
// comment as part of the password file's name, and fails to start.
func TestTrailingCommentLikeMosquitto(t *testing.T) {
	mosquitto := testtool.Require(t, "mosquitto")
	dir := t.TempDir()
	pw := writeFile(t, dir, "pw", "")
	conf := "listener 0 " + filepath.Join(dir, "s.sock") + "\npassword_file " + pw + " # users\n"
	if os.Getuid() == 0 {
		conf = "user root\n" + conf
	}
	path := writeFile(t, dir, "m.conf", conf)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, mosquitto, "-c", path).CombinedOutput()
	if err == nil || !strings.Contains(string(out), `"`+pw+` # users"`) {
		t.Fatalf("mosquitto: %v\n%s", err, out)
	}
	code, _, stderr := runApp(t, "--test-config", "-c", path)
	if code != 1 || !strings.Contains(stderr, `password_file: cannot read "`+pw+` # users"`) {
		t.Fatalf("mqbroker: exit %d: %s", code, stderr)
	}
}
