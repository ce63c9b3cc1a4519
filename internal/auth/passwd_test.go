package auth

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The two example lines of MOSQUITTO-REFERENCE.md §2.5 (password "secret").
const (
	refAlice = `alice:$7$101$8R3XLQgpvRegCryn$m0oAquBzXG+DLKErCdwD5sHEYwjOLjFdyltyQ4Wy8gAt4fnt9SscDPIXFOVSNgBXgQr9zZFVLzeQNkpfHMyR3Q==`
	refBob   = `bob:$6$6RzPyKf89h8tRArK$ahwAD42l7sF8s4WELHe1qDAOCJ5STPaJnt8m3K+3hR+OMMrAcaz3j+puH7nulKb0NG+U/HZdYHCAXiGVx9rYRg==`
)

func loadPW(t *testing.T, body string) *PasswordFile {
	t.Helper()
	p, err := ParsePasswordFile(strings.NewReader(body), "pw")
	if err != nil {
		t.Fatalf("ParsePasswordFile: %v", err)
	}
	return p
}

func TestPasswordFileReferenceExamples(t *testing.T) {
	p := loadPW(t, "# users\n"+refAlice+"\r\n\n   \n"+refBob+"\n")
	tests := []struct {
		user, pass string
		want       bool
	}{
		{"alice", "secret", true},
		{"bob", "secret", true},
		{"alice", "Secret", false},
		{"bob", "", false},
		{"carol", "secret", false},
		{"alice ", "secret", false},
	}
	for _, tc := range tests {
		if got := p.Check(tc.user, []byte(tc.pass)); got != tc.want {
			t.Errorf("Check(%q, %q) = %v, want %v", tc.user, tc.pass, got, tc.want)
		}
	}
	if p.Len() != 2 || !p.Has("alice") || p.Has("carol") {
		t.Errorf("Len=%d Has(alice)=%v Has(carol)=%v", p.Len(), p.Has("alice"), p.Has("carol"))
	}
}

func TestHashPasswordRoundTrip(t *testing.T) {
	for _, iter := range []int{0, 1, 101, 1000} {
		h := HashPassword([]byte("pässwörd"), iter)
		want := iter
		if want < 1 {
			want = DefaultIterations
		}
		if !strings.HasPrefix(h, fmt.Sprintf("$7$%d$", want)) {
			t.Fatalf("HashPassword(iter=%d) = %q", iter, h)
		}
		parts := strings.Split(h, "$")
		if len(parts[3]) != 16 || len(parts[4]) != 88 { // 12-byte salt, 64-byte hash
			t.Errorf("salt/hash encodings %d/%d chars, want 16/88", len(parts[3]), len(parts[4]))
		}
		p := loadPW(t, "u:"+h+"\n")
		if !p.Check("u", []byte("pässwörd")) || p.Check("u", []byte("password")) {
			t.Errorf("round trip with %d iterations failed", iter)
		}
	}
	if HashPassword([]byte("x"), 0) == HashPassword([]byte("x"), 0) {
		t.Error("two hashes of the same password are equal: salt is not random")
	}
}

func TestPasswordFileErrors(t *testing.T) {
	good := strings.SplitN(refAlice, ":", 2)[1]
	tests := []struct {
		name, body string
		line       int
		want       string
	}{
		{"plain text", "a:" + good + "\nbob:secret\n", 2, "not a $6$ or $7$ hash"},
		{"no colon", "\n\nalice\n", 3, "missing ':'"},
		{"empty user", " :" + good + "\n", 1, "empty username"},
		{"empty hash", "alice:\n", 1, "empty password hash"},
		{"duplicate", "alice:" + good + "\n#\nalice:" + good + "\n", 3, "duplicate user"},
		{"short salt", "a:$7$101$AAAA$" + strings.Split(good, "$")[4] + "\n", 1, "salt"},
		{"short hash", "a:$6$8R3XLQgpvRegCryn$AAAA\n", 1, "hash must be"},
		{"zero iterations", "a:" + strings.Replace(good, "$101$", "$0$", 1) + "\n", 1, "iteration"},
		{"bad iterations", "a:" + strings.Replace(good, "$101$", "$1x$", 1) + "\n", 1, "iteration"},
		{"unknown type", "a:$5$abc$def\n", 1, "not a $6$ or $7$ hash"},
		{"7 missing field", "a:$7$101$8R3XLQgpvRegCryn\n", 1, "malformed $7$"},
		{"extra colon", "a:" + good + ":x\n", 1, "unexpected ':'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePasswordFile(strings.NewReader(tc.body), "pwfile")
			if err == nil {
				t.Fatal("want error")
			}
			prefix := fmt.Sprintf("pwfile:%d: ", tc.line)
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want prefix %q containing %q", err, prefix, tc.want)
			}
		})
	}
	_, err := ParsePasswordFile(strings.NewReader("bob:secret\n"), "f")
	if !errors.Is(err, ErrNotHashed) {
		t.Errorf("plain-text error %v does not wrap ErrNotHashed", err)
	}
	if _, err := LoadPasswordFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestMosquittoPasswdFileVerifies: a file written by the real
// mosquitto_passwd (both hash types) verifies with the right password only.
func TestMosquittoPasswdFileVerifies(t *testing.T) {
	requireTool(t, "mosquitto_passwd")
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	runOK := func(args ...string) {
		t.Helper()
		if code, out := runTool(t, "mosquitto_passwd", args...); code != 0 {
			t.Fatalf("mosquitto_passwd %v: exit %d: %s", args, code, out)
		}
	}
	runOK("-c", "-b", pw, "alice", "s3cret")
	runOK("-b", pw, "bob", "hunter2")
	runOK("-H", "sha512", "-b", pw, "carol", "pa ss:word")
	runOK("-b", pw, "dave", "")
	p, err := LoadPasswordFile(pw)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		user, pass string
		want       bool
	}{
		{"alice", "s3cret", true}, {"alice", "s3cret ", false}, {"alice", "hunter2", false},
		{"bob", "hunter2", true}, {"bob", "Hunter2", false},
		{"carol", "pa ss:word", true}, {"carol", "pa ss", false},
		{"dave", "", true}, {"dave", "x", false},
	}
	for _, tc := range tests {
		if got := p.Check(tc.user, []byte(tc.pass)); got != tc.want {
			t.Errorf("Check(%q, %q) = %v, want %v", tc.user, tc.pass, got, tc.want)
		}
	}
}
