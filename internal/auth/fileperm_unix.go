//go:build unix

package auth

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// FileWarnings returns the warnings mosquitto 2.0 logs when it opens a
// password or ACL file (mosquitto__fopen with restrict_read, in
// lib/misc_mosq.c of the later 2.0.x releases; 2.0.11 predates them),
// word for word: the file may be accessed by other users (any of
// the "other" permission bits), it is not owned by the user the broker
// runs as, or not by its group. path is given as configured. A file that
// cannot be examined gives none (loading it reports the error), and, as
// in mosquitto, the owner and group warnings need the broker's user and
// group names.
func FileWarnings(path string) []string {
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	var out []string
	if fi.Mode().Perm()&0o007 != 0 {
		out = append(out, fmt.Sprintf("Warning: File %s has world readable permissions. Future versions will refuse to load this file.\n"+
			"To fix this, use `chmod 0700 %s`.", path, path))
	}
	if uid := os.Getuid(); int(st.Uid) != uid {
		if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
			// mosquitto's two strings are joined without a space.
			out = append(out, fmt.Sprintf("Warning: File %s owner is not %s. Future versions will refuse to load this file."+
				"To fix this, use `chown %s %s`.", path, u.Username, u.Username, path))
		}
	}
	if gid := os.Getgid(); int(st.Gid) != gid {
		if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
			out = append(out, fmt.Sprintf("Warning: File %s group is not %s. Future versions will refuse to load this file.", path, g.Name))
		}
	}
	return out
}
