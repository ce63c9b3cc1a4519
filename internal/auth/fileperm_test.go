//go:build unix

package auth

import (
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// TestFileWarnings: mosquitto 2.0's three warnings, word for word, for a
// password or ACL file that other users may access, or that is not
// owned by the broker's user or group.
func TestFileWarnings(t *testing.T) {
	me, err := user.LookupId(strconv.Itoa(os.Getuid()))
	if err != nil {
		t.Skipf("no user name for uid %d: %v", os.Getuid(), err)
	}
	grp, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Skipf("no group name for gid %d: %v", os.Getgid(), err)
	}
	dir := t.TempDir()
	private := filepath.Join(dir, "private")
	if err := os.WriteFile(private, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(private, os.Getuid(), os.Getgid()); err != nil {
		t.Fatal(err)
	}
	if w := FileWarnings(private); len(w) != 0 {
		t.Errorf("0600 file of our own: %q", w)
	}
	for _, mode := range []os.FileMode{0o604, 0o602, 0o601, 0o644, 0o640} {
		p := filepath.Join(dir, "f"+strconv.FormatUint(uint64(mode), 8))
		if err := os.WriteFile(p, []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		want := []string(nil)
		if mode&0o007 != 0 {
			want = []string{"Warning: File " + p + " has world readable permissions. Future versions will refuse to load this file.\n" +
				"To fix this, use `chmod 0700 " + p + "`."}
		}
		if got := FileWarnings(p); !slices.Equal(got, want) {
			t.Errorf("mode %o: %q, want %q", mode, got, want)
		}
	}
	// A file of another user and group: as root, make one; otherwise
	// /etc/passwd (root's, readable by all) serves.
	other := "/etc/passwd"
	if os.Getuid() == 0 {
		other = filepath.Join(dir, "other")
		if err := os.WriteFile(other, []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(other, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(other)
	if err != nil {
		t.Skip(err)
	}
	got := FileWarnings(other)
	owner := "Warning: File " + other + " owner is not " + me.Username + ". Future versions will refuse to load this file." +
		"To fix this, use `chown " + me.Username + " " + other + "`."
	group := "Warning: File " + other + " group is not " + grp.Name + ". Future versions will refuse to load this file."
	if !slices.Contains(got, owner) {
		t.Errorf("%s (%v): %q lacks %q", other, fi.Mode(), got, owner)
	}
	if !slices.Contains(got, group) {
		t.Errorf("%s: %q lacks %q", other, got, group)
	}
	if FileWarnings(filepath.Join(dir, "missing")) != nil {
		t.Error("warnings for a missing file")
	}
}
