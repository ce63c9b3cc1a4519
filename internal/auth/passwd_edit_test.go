package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkMode0600(t *testing.T, p string) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v, want 0600", p, fi.Mode().Perm())
	}
}

func TestValidateUsername(t *testing.T) {
	tests := []struct {
		u  string
		ok bool
	}{
		{"alice", true}, {"ali ce", true}, {"élodie", true}, {"a+b#c", true},
		{"", false}, {"a:b", false}, {"a\tb", false}, {"a\nb", false}, {" a", false}, {"a ", false},
		{"\xff", false}, {strings.Repeat("x", 65536), false},
	}
	for _, tc := range tests {
		if err := ValidateUsername(tc.u); (err == nil) != tc.ok {
			t.Errorf("ValidateUsername(%.20q) = %v, want ok=%v", tc.u, err, tc.ok)
		}
	}
}

func TestUpdatePasswordFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pw")

	if err := UpdatePasswordFile(p, false, "alice", []byte("x")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("update of a missing file without create: %v", err)
	}
	if err := UpdatePasswordFile(p, true, "alice", []byte("one")); err != nil {
		t.Fatal(err)
	}
	checkMode0600(t, p)
	if got := readFile(t, p); !strings.HasPrefix(got, "alice:$7$101$") || strings.Count(got, "\n") != 1 {
		t.Fatalf("created file %q", got)
	}

	// Hand-edited file: comments, CRLF, a blank line, no final newline.
	body := "# header\r\n" + refBob + "\r\n\n" + "alice:" + strings.SplitN(refAlice, ":", 2)[1]
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := UpdatePasswordFile(p, false, "carol", []byte("three")); err != nil {
		t.Fatal(err)
	}
	if err := UpdatePasswordFile(p, false, "bob", []byte("two")); err != nil {
		t.Fatal(err)
	}
	checkMode0600(t, p)
	lines := strings.Split(readFile(t, p), "\n")
	if len(lines) != 6 || lines[0] != "# header\r" || lines[2] != "" || lines[5] != "" ||
		!strings.HasPrefix(lines[1], "bob:$7$") || !strings.HasSuffix(lines[1], "\r") ||
		lines[3] != refAlice || !strings.HasPrefix(lines[4], "carol:$7$") {
		t.Fatalf("edited file lines %q", lines)
	}
	pf, err := LoadPasswordFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for user, pass := range map[string]string{"alice": "secret", "bob": "two", "carol": "three"} {
		if !pf.Check(user, []byte(pass)) {
			t.Errorf("%s does not verify after edits", user)
		}
	}

	if err := UpdatePasswordFile(p, false, "a:b", []byte("x")); err == nil {
		t.Error("username with ':' accepted")
	}
	if err := os.WriteFile(p, []byte("ok:"+strings.SplitN(refAlice, ":", 2)[1]+"\ncorrupt\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := UpdatePasswordFile(p, false, "x", []byte("x")); err == nil || !strings.Contains(err.Error(), p+":2:") {
		t.Errorf("corrupt line: %v, want error naming line 2", err)
	}
}

func TestUpdatePasswordFileDropsDuplicates(t *testing.T) {
	p := writeFile(t, t.TempDir(), "pw", refAlice+"\n"+refBob+"\n"+refAlice+"\n")
	if err := UpdatePasswordFile(p, false, "alice", []byte("new")); err != nil {
		t.Fatal(err)
	}
	pf, err := LoadPasswordFile(p) // would fail on a duplicate
	if err != nil {
		t.Fatal(err)
	}
	if !pf.Check("alice", []byte("new")) || !pf.Check("bob", []byte("secret")) || pf.Len() != 2 {
		t.Error("duplicate alice lines not collapsed into the new entry")
	}
}

func TestDeleteUser(t *testing.T) {
	p := writeFile(t, t.TempDir(), "pw", "# c\n"+refAlice+"\n"+refBob+"\n")
	if err := DeleteUser(p, "alice"); err != nil {
		t.Fatal(err)
	}
	if got, want := readFile(t, p), "# c\n"+refBob+"\n"; got != want {
		t.Errorf("after delete %q, want %q", got, want)
	}
	if err := DeleteUser(p, "alice"); !errors.Is(err, ErrUserNotFound) {
		t.Errorf("second delete: %v, want ErrUserNotFound", err)
	}
	if got, want := readFile(t, p), "# c\n"+refBob+"\n"; got != want {
		t.Errorf("failed delete changed the file: %q", got)
	}
}

func TestHashPlainFileNeverRehashes(t *testing.T) {
	p := writeFile(t, t.TempDir(), "pw",
		"# plain and hashed mixed\n"+refAlice+"\n"+"carol: pw with spaces \n"+refBob+"\n"+"dave:x\n")
	if err := HashPlainFile(p); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(readFile(t, p), "\n")
	if lines[0] != "# plain and hashed mixed" || lines[1] != refAlice || lines[3] != refBob {
		t.Errorf("hashed or comment lines changed: %q", lines)
	}
	pf, err := LoadPasswordFile(p)
	if err != nil {
		t.Fatal(err)
	}
	// Blanks around the password field are trimmed, as mosquitto does.
	for user, pass := range map[string]string{"alice": "secret", "bob": "secret", "carol": "pw with spaces", "dave": "x"} {
		if !pf.Check(user, []byte(pass)) {
			t.Errorf("%s does not verify after -U", user)
		}
	}
	before := readFile(t, p)
	if err := HashPlainFile(p); err != nil { // idempotent
		t.Fatal(err)
	}
	if readFile(t, p) != before {
		t.Error("second HashPlainFile changed an already hashed file")
	}

	bad := writeFile(t, t.TempDir(), "pw", "a:plain\nb:$7$101$short$x\n")
	if err := HashPlainFile(bad); err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Errorf("malformed hash: %v, want error naming line 2", err)
	}
	if readFile(t, bad) != "a:plain\nb:$7$101$short$x\n" {
		t.Error("failed HashPlainFile modified the file")
	}
}

func TestWriteFileAtomicFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	target := writeFile(t, dir, "real", refBob+"\n")
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Skip("symlinks unsupported:", err)
	}
	if err := UpdatePasswordFile(link, false, "alice", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("symlink replaced by a file")
	}
	if !strings.Contains(readFile(t, target), "alice:$7$") {
		t.Error("target not updated")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

// TestFilesWeWriteWorkWithMosquitto: the real broker accepts a password
// file produced by UpdatePasswordFile and HashPlainFile; mosquitto_pub
// succeeds with the right password and is refused (exit 5 for 3.1.1, 135
// for 5.0) with a wrong one.
func TestFilesWeWriteWorkWithMosquitto(t *testing.T) {
	requireTool(t, "mosquitto_pub")
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := UpdatePasswordFile(pw, true, "alice", []byte("secret")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pw, append([]byte(readFile(t, pw)), "bob:plain pw\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := HashPlainFile(pw); err != nil {
		t.Fatal(err)
	}
	port := startMosquitto(t, "allow_anonymous false", "password_file "+pw)
	tests := []struct {
		name, user, pass, version string
		want                      int
	}{
		{"alice ok", "alice", "secret", "mqttv311", 0},
		{"bob ok", "bob", "plain pw", "mqttv311", 0},
		{"alice v5 ok", "alice", "secret", "mqttv5", 0},
		{"wrong password", "alice", "wrong", "mqttv311", 5},
		{"unknown user", "mallory", "secret", "mqttv311", 5},
		{"wrong password v5", "alice", "wrong", "mqttv5", 135},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runTool(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(port),
				"-V", tc.version, "-u", tc.user, "-P", tc.pass, "-t", "t", "-m", "x")
			if code != tc.want {
				t.Errorf("mosquitto_pub exit %d, want %d; output: %s", code, tc.want, out)
			}
		})
	}
}
