package brokercmd

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/store"
)

// TestUsageErrors: a mistyped option gets one error on stderr with the
// closest option and a pointer to --help, not the whole help on stdout.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--prot", "1883"}, "mqbroker: unknown option --prot\nDid you mean --port?\nRun 'mqbroker --help' for the options.\n"},
		{[]string{"--lisen", "mqtt://:1"}, "mqbroker: unknown option --lisen\nDid you mean --listen?\n"},
		{[]string{"--zzzzzz"}, "mqbroker: unknown option --zzzzzz\nRun 'mqbroker --help' for the options.\n"},
		{[]string{"-p"}, "mqbroker: option -p needs a value\n"},
		{[]string{"selftest", "--jsn"}, "mqbroker selftest: unknown option --jsn\nDid you mean --json?\nRun 'mqbroker selftest --help' for the options.\n"},
		{[]string{"passwd", "-x"}, "mqbroker passwd: unknown option -x\n"},
		{[]string{"--user", "alice"}, "mqbroker: --user takes NAME:PASSWORD, with a colon between the user name and the password"},
	}
	for _, tc := range tests {
		code, stdout, stderr := runApp(t, tc.args...)
		if code != 1 || stdout != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 1, nothing, %q", tc.args, code, stdout, stderr, tc.want)
		}
	}
}

// TestPortInUse: the error names the port, the likely cause and the way out.
func TestPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	code, _, stderr := runApp(t, "-q", "-p", port)
	want := "mqbroker: port " + port + " on 127.0.0.1 is already in use (listener from -p " + port + "): another MQTT broker (mosquitto or mqbroker) is probably running there.\n" +
		"Stop it, or pick another port: mqbroker -p 1884, or -p 0 for any free port\n"
	if code != 1 || stderr != want {
		t.Errorf("exit %d, stderr %q; want 1, %q", code, stderr, want)
	}
}

// TestDataDirInUse: a second broker on the same --data directory says
// that another mqbroker holds it (make run twice).
func TestDataDirInUse(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "mqbroker.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	code, _, stderr := runApp(t, "-q", "-p", "0", "--data", dir)
	if code != 1 || !strings.Contains(stderr, "data file is in use by another process") ||
		!strings.Contains(stderr, "Another mqbroker is using this data directory") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestPasswdMissingDirectory names the directory, not a temporary file.
func TestPasswdMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nodir", "pw")
	code, _, stderr := runApp(t, "passwd", "-c", "-b", path, "alice", "s3cret")
	want := "Error: password file " + path + ": directory " + filepath.Dir(path) + ": no such file or directory\n"
	if code != 1 || stderr != want {
		t.Errorf("exit %d, stderr %q; want %q", code, stderr, want)
	}
}

// TestCompletionCommand prints each shell's script; others are refused.
func TestCompletionCommand(t *testing.T) {
	for shell, want := range map[string]string{
		"bash": "complete -o filenames -F _mqkit_mqbroker mqbroker\n",
		"zsh":  "#compdef mqbroker\n",
		"fish": "complete -c mqbroker -n '__fish_seen_subcommand_from selftest' -l json",
	} {
		code, stdout, stderr := runApp(t, "completion", shell)
		if code != 0 || !strings.Contains(stdout, want) || stderr != "" {
			t.Errorf("completion %s: exit %d, stderr %q, stdout lacks %q", shell, code, stderr, want)
		}
	}
	if code, _, stderr := runApp(t, "completion", "tcsh"); code != 1 || !strings.Contains(stderr, "want one of bash, zsh or fish") {
		t.Errorf("completion tcsh: exit %d, %q", code, stderr)
	}
	// urfave/cli's hook is off: it panicked on "selftest --j".
	if code, _, stderr := runApp(t, "selftest", "--j", "--generate-bash-completion"); code != 1 || strings.Contains(stderr, "panic") {
		t.Errorf("--generate-bash-completion: exit %d, %q", code, stderr)
	}
}
