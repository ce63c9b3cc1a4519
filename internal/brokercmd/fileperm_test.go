//go:build unix

package brokercmd

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestFileWarningsAtStartup (issue 12 item 7): a password file readable
// by other users and an ACL file of another user are loaded with
// mosquitto 2.0's warnings, word for word (auth.FileWarnings), at start
// (here --test-config, which loads them the same way) and on SIGHUP.
func TestFileWarningsAtStartup(t *testing.T) {
	me, err := user.LookupId(strconv.Itoa(os.Getuid()))
	if err != nil {
		t.Skipf("no user name for uid %d", os.Getuid())
	}
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if code, _, errs := runApp(t, "passwd", "-c", "-b", pw, "alice", "secret"); code != 0 {
		t.Fatal(errs)
	}
	if err := os.Chmod(pw, 0o644); err != nil {
		t.Fatal(err)
	}
	acl := writeFile(t, dir, "acl", "user alice\ntopic read a/#\n")
	if os.Getuid() == 0 {
		if err := os.Chown(acl, 65534, os.Getgid()); err != nil {
			t.Fatal(err)
		}
	}
	conf := writeFile(t, dir, "c.conf", "listener 0 127.0.0.1\npassword_file "+pw+"\nacl_file "+acl+"\n")
	code, _, stderr := runApp(t, "--test-config", "-c", conf)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	world := "Warning: File " + pw + " has world readable permissions. Future versions will refuse to load this file.\n" +
		"To fix this, use `chmod 0700 " + pw + "`.\n"
	if !strings.Contains(stderr, world) {
		t.Errorf("no world-readable warning for the password file:\n%s", stderr)
	}
	owner := "Warning: File " + acl + " owner is not " + me.Username + ". Future versions will refuse to load this file." +
		"To fix this, use `chown " + me.Username + " " + acl + "`.\n"
	if os.Getuid() == 0 && !strings.Contains(stderr, owner) {
		t.Errorf("no owner warning for the ACL file:\n%s", stderr)
	}
	if strings.Contains(stderr, "File "+acl+" has world readable") {
		t.Errorf("a 0600 file reported as world readable:\n%s", stderr)
	}
	// Running: at start, and again when SIGHUP reloads the files.
	_, logs := startMqbroker(t, "listener 0 127.0.0.1\npassword_file "+pw+"\nacl_file "+acl+"\n")
	waitCount(t, logs.String, world, 1)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitCount(t, logs.String, world, 2)

	// A clean set of files: no warning.
	if err := os.Chmod(pw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(acl, os.Getuid(), os.Getgid()); err != nil && os.Getuid() == 0 {
		t.Fatal(err)
	}
	if _, _, stderr = runApp(t, "--test-config", "-c", conf); strings.Contains(stderr, "Warning: File") {
		t.Errorf("warnings for private files of our own:\n%s", stderr)
	}
}
