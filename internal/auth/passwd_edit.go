package auth

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds the file-editing logic behind `mqbroker passwd`, the
// equivalent of mosquitto_passwd. Every edit rewrites the whole file
// atomically (temporary file in the same directory, fsync, rename) with
// mode 0600, and preserves every line it does not change — comments,
// blank lines, order and line endings included.

// ErrUserNotFound is returned by DeleteUser when the file has no such user.
var ErrUserNotFound = errors.New("user not found in password file")

// ValidateUsername checks a username before it is written to a password
// file: non-empty, valid UTF-8, at most 65535 bytes (the MQTT string
// limit), no ':' (the field separator), no control characters (as
// mosquitto_passwd), and no leading or trailing blanks (mosquitto trims
// them when it reads the file, so such a user could never log in).
func ValidateUsername(u string) error {
	switch {
	case u == "":
		return errors.New("username must not be empty")
	case !utf8.ValidString(u):
		return errors.New("username must be valid UTF-8")
	case len(u) > 65535:
		return errors.New("username must be less than 65536 bytes long")
	case strings.Contains(u, ":"):
		return errors.New("username must not contain the ':' character")
	case strings.IndexFunc(u, unicode.IsControl) >= 0:
		return errors.New("username must not contain control characters")
	case strings.Trim(u, " \t") != u:
		return errors.New("username must not start or end with blanks")
	}
	return nil
}

func validatePassword(p []byte) error {
	if len(p) > 65535 {
		return errors.New("password must be less than 65536 bytes long")
	}
	return nil
}

// UpdatePasswordFile sets username's password to a fresh $7$ hash of
// password. With create, the file is created or truncated first (like
// mosquitto_passwd -c) and holds only this user; without it the file must
// exist, the user's line is replaced in place (a later duplicate line for
// the same user is dropped), or appended when the user is new.
func UpdatePasswordFile(path string, create bool, username string, password []byte) error {
	if err := ValidateUsername(username); err != nil {
		return err
	}
	if err := validatePassword(password); err != nil {
		return err
	}
	entry := username + ":" + HashPassword(password, DefaultIterations)
	if create {
		return writeFileAtomic(path, []byte(entry+"\n"))
	}
	lines, err := readPasswordLines(path)
	if err != nil {
		return err
	}
	found := false
	out := lines[:0:0]
	for _, l := range lines {
		if l.user != username {
			out = append(out, l)
			continue
		}
		if !found {
			found = true
			out = append(out, pwLine{text: entry, eol: l.eol, user: username})
		}
	}
	if !found {
		out = appendLine(out, pwLine{text: entry, eol: "\n", user: username})
	}
	return writeFileAtomic(path, joinLines(out))
}

// DeleteUser removes every line for username. It returns an error
// wrapping ErrUserNotFound (and leaves the file untouched) when there is
// none.
func DeleteUser(path, username string) error {
	lines, err := readPasswordLines(path)
	if err != nil {
		return err
	}
	found := false
	out := lines[:0:0]
	for _, l := range lines {
		if l.user == username {
			found = true
			continue
		}
		out = append(out, l)
	}
	if !found {
		return fmt.Errorf("%s: %q: %w", path, username, ErrUserNotFound)
	}
	return writeFileAtomic(path, joinLines(out))
}

// HashPlainFile converts a file of "user:plaintext" lines to hashed form
// (like mosquitto_passwd -U). Unlike mosquitto_passwd (issue #2211), a line
// whose password field already starts with "$6$" or "$7$" is NEVER hashed
// again; such a line must hold a valid hash, or the call fails naming the
// line and the file is left untouched.
func HashPlainFile(path string) error {
	lines, err := readPasswordLines(path)
	if err != nil {
		return err
	}
	for i, l := range lines {
		if l.user == "" { // comment or blank
			continue
		}
		_, pw, _ := strings.Cut(l.text, ":")
		pw = strings.Trim(pw, " \t")
		if strings.HasPrefix(pw, "$6$") || strings.HasPrefix(pw, "$7$") {
			if _, err := parseHash(pw); err != nil {
				return fmt.Errorf("%s:%d: user %q: %w", path, l.n, l.user, err)
			}
			continue
		}
		if err := validatePassword([]byte(pw)); err != nil {
			return fmt.Errorf("%s:%d: user %q: %w", path, l.n, l.user, err)
		}
		lines[i].text = l.user + ":" + HashPassword([]byte(pw), DefaultIterations)
	}
	return writeFileAtomic(path, joinLines(lines))
}

// pwLine is one physical line of a password file.
type pwLine struct {
	n    int    // 1-based line number in the file read
	text string // the line without its terminator
	eol  string // "\n", "\r\n" or "" (last line without newline)
	user string // username; "" for comments and blank lines
}

// readPasswordLines splits the file into lines, keeping terminators, and
// validates every entry line has a non-empty username and password field
// (mosquitto_passwd's "Corrupt password file at line N").
func readPasswordLines(path string) ([]pwLine, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("password file: %w", err)
	}
	var lines []pwLine
	for n := 1; len(data) > 0; n++ {
		l := pwLine{n: n}
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			l.text, data = string(data), nil
		} else {
			l.text, l.eol, data = string(data[:i]), "\n", data[i+1:]
			if strings.HasSuffix(l.text, "\r") {
				l.text, l.eol = l.text[:len(l.text)-1], "\r\n"
			}
		}
		if !isBlankOrComment(l.text) {
			user, _, err := splitPasswordLine(l.text)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, n, err)
			}
			l.user = user
		}
		lines = append(lines, l)
	}
	return lines, nil
}

// appendLine appends l, first terminating a last line that had no newline.
func appendLine(lines []pwLine, l pwLine) []pwLine {
	if k := len(lines); k > 0 && lines[k-1].eol == "" {
		lines[k-1].eol = "\n"
	}
	return append(lines, l)
}

func joinLines(lines []pwLine) []byte {
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString(l.text)
		b.WriteString(l.eol)
	}
	return b.Bytes()
}

// writeFileAtomic replaces path (following a symlink to its target) with
// data: a 0600 temporary file in the same directory is written, synced and
// renamed over the target, so readers see the old or the new file, never
// a partial one.
func writeFileAtomic(path string, data []byte) error {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		// Name the directory, not the temporary file the user never asked for.
		if _, serr := os.Stat(dir); serr != nil {
			return fmt.Errorf("password file %s: directory %s: %w", path, dir, errors.Unwrap(serr))
		}
		return fmt.Errorf("password file %s: cannot write in directory %s: %w", path, dir, unwrapPath(err))
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("password file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("password file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("password file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("password file: %w", err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("password file: %w", err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil { // persist the rename; best effort
		d.Sync()
		d.Close()
	}
	return nil
}

// unwrapPath drops the path of an *fs.PathError, keeping its cause.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
