// Package auth implements mosquitto-compatible security: password files
// (mosquitto_passwd format), ACL files, TLS server configuration, and a
// reloadable holder (Security) the broker consults on CONNECT, PUBLISH,
// SUBSCRIBE and delivery.
//
// The package does not import internal/broker; cmd/mqbroker adapts it.
package auth

import (
	"bufio"
	"bytes"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Hash layout constants, matching mosquitto 2.0 (security_default.c,
// mosquitto_passwd.c): a 12-byte salt and a 64-byte SHA-512 sized hash.
const (
	saltLen = 12
	hashLen = 64
	// DefaultIterations is the PBKDF2 iteration count mosquitto_passwd
	// uses by default (PW_DEFAULT_ITERATIONS).
	DefaultIterations = 101
	// maxIterations bounds the cost an edited or hostile password file can
	// impose on every CONNECT. mosquitto has no bound; 10 million PBKDF2
	// rounds already take seconds.
	maxIterations = 10_000_000
)

type hashKind int

const (
	kindSHA512 hashKind = 6 // $6$: SHA-512(password ‖ salt)
	kindPBKDF2 hashKind = 7 // $7$: PBKDF2-HMAC-SHA512
)

// pwHash is one decoded password hash.
type pwHash struct {
	kind       hashKind
	iterations int
	salt       []byte
	hash       []byte
}

// ErrNotHashed is wrapped by parse errors for a password field that is not
// a $6$ or $7$ hash (for example a plain-text password).
var ErrNotHashed = errors.New("password is not a $6$ or $7$ hash")

// parseHash decodes "$7$<iter>$<b64 salt>$<b64 hash>" or
// "$6$<b64 salt>$<b64 hash>". Like mosquitto it insists on a 12-byte salt
// and a 64-byte hash.
func parseHash(s string) (pwHash, error) {
	var h pwHash
	parts := strings.Split(s, "$")
	if len(parts) < 2 || parts[0] != "" {
		return h, ErrNotHashed
	}
	switch parts[1] {
	case "6":
		if len(parts) != 4 {
			return h, errors.New("malformed $6$ hash: want $6$<salt>$<hash>")
		}
		h.kind = kindSHA512
		parts = parts[2:]
	case "7":
		if len(parts) != 5 {
			return h, errors.New("malformed $7$ hash: want $7$<iterations>$<salt>$<hash>")
		}
		n, err := strconv.Atoi(parts[2])
		if err != nil || n < 1 || n > maxIterations {
			return h, fmt.Errorf("invalid iteration count %q (must be 1..%d)", parts[2], maxIterations)
		}
		h.kind, h.iterations = kindPBKDF2, n
		parts = parts[3:]
	default:
		return h, ErrNotHashed
	}
	var err error
	if h.salt, err = decodeB64(parts[0]); err != nil || len(h.salt) != saltLen {
		return h, fmt.Errorf("salt must be base64 of %d bytes", saltLen)
	}
	if h.hash, err = decodeB64(parts[1]); err != nil || len(h.hash) != hashLen {
		return h, fmt.Errorf("hash must be base64 of %d bytes", hashLen)
	}
	return h, nil
}

func decodeB64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	return b, err
}

// digest computes the hash of password under h's algorithm and salt.
func (h pwHash) digest(password []byte) []byte {
	if h.kind == kindSHA512 {
		d := sha512.New()
		d.Write(password)
		d.Write(h.salt)
		return d.Sum(nil)
	}
	out, err := pbkdf2.Key(sha512.New, string(password), h.salt, h.iterations, hashLen)
	if err != nil { // only in FIPS-140 only mode with a short salt/password
		return nil
	}
	return out
}

// verify compares in constant time.
func (h pwHash) verify(password []byte) bool {
	d := h.digest(password)
	return d != nil && subtle.ConstantTimeCompare(d, h.hash) == 1
}

// HashPassword returns a mosquitto "$7$" hash of password:
// PBKDF2-HMAC-SHA512 with a fresh 12-byte random salt. iterations < 1
// selects DefaultIterations (101, like mosquitto_passwd).
func HashPassword(password []byte, iterations int) string {
	if iterations < 1 {
		iterations = DefaultIterations
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		panic("auth: crypto/rand failed: " + err.Error()) // never returns an error on supported platforms
	}
	h := pwHash{kind: kindPBKDF2, iterations: iterations, salt: salt}
	return fmt.Sprintf("$7$%d$%s$%s", iterations,
		base64.StdEncoding.EncodeToString(salt),
		base64.StdEncoding.EncodeToString(h.digest(password)))
}

// PasswordFile is a parsed mosquitto password file. It is immutable after
// loading and safe for concurrent use.
type PasswordFile struct {
	users map[string]pwHash
}

// LoadPasswordFile reads and parses a mosquitto password file.
//
// Format (mosquitto 2.0): one "username:hash" per line; lines whose first
// non-blank character is '#' and blank lines are ignored; surrounding
// blanks around the username and hash are trimmed.
//
// Unlike mosquitto, which logs and drops an invalid entry, an invalid line
// (no ':', empty username, plain-text or malformed hash, duplicate user)
// is an error naming the file and line: a half-loaded password file
// silently locks users out, and a reload keeps the previous file instead.
func LoadPasswordFile(path string) (*PasswordFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("password file: %w", err)
	}
	defer f.Close()
	return ParsePasswordFile(f, path)
}

// ParsePasswordFile parses password-file text from r; name is used in
// error messages.
func ParsePasswordFile(r io.Reader, name string) (*PasswordFile, error) {
	p := &PasswordFile{users: make(map[string]pwHash)}
	firstLine := make(map[string]int)
	err := eachLine(r, func(n int, line string) error {
		if isBlankOrComment(line) {
			return nil
		}
		user, hash, err := splitPasswordLine(line)
		if err != nil {
			return err
		}
		if prev, dup := firstLine[user]; dup {
			return fmt.Errorf("duplicate user %q (first defined on line %d)", user, prev)
		}
		h, err := parseHash(hash)
		if err != nil {
			if errors.Is(err, ErrNotHashed) {
				return fmt.Errorf("user %q: %w (hash the file with 'mqbroker passwd -U')", user, err)
			}
			return fmt.Errorf("user %q: %w", user, err)
		}
		p.users[user] = h
		firstLine[user] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s:%w", name, err)
	}
	return p, nil
}

// splitPasswordLine splits "user:hash" and validates both halves. The
// password field never contains ':' (mosquitto stops it at the next ':').
func splitPasswordLine(line string) (user, hash string, err error) {
	u, h, ok := strings.Cut(line, ":")
	if !ok {
		return "", "", errors.New("missing ':' between username and password hash")
	}
	user, hash = strings.Trim(u, " \t"), strings.Trim(h, " \t")
	if user == "" {
		return "", "", errors.New("empty username")
	}
	if !utf8.ValidString(user) {
		return "", "", errors.New("username is not valid UTF-8")
	}
	if hash == "" {
		return "", "", fmt.Errorf("user %q: empty password hash", user)
	}
	if strings.Contains(hash, ":") {
		return "", "", fmt.Errorf("user %q: unexpected ':' in password hash", user)
	}
	return user, hash, nil
}

// dummyHash is verified against when the user is unknown, so that the time
// a failed CONNECT takes does not reveal whether the username exists.
var dummyHash = pwHash{kind: kindPBKDF2, iterations: DefaultIterations,
	salt: make([]byte, saltLen), hash: make([]byte, hashLen)}

// Check reports whether username exists and password matches its hash.
// The comparison is constant-time; an unknown user costs the same work
// as a known one hashed with the default parameters.
func (p *PasswordFile) Check(username string, password []byte) bool {
	h, ok := p.users[username]
	if !ok {
		dummyHash.verify(password)
		return false
	}
	return h.verify(password)
}

// Has reports whether username has an entry.
func (p *PasswordFile) Has(username string) bool {
	_, ok := p.users[username]
	return ok
}

// Len returns the number of users.
func (p *PasswordFile) Len() int { return len(p.users) }

// eachLine calls fn for every line of r (without the line terminator,
// "\r\n" or "\n"), numbering from 1. An error from fn is returned as
// "<line>: <err>" so callers can prefix the file name.
func eachLine(r io.Reader, fn func(n int, line string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := string(bytes.TrimRight(sc.Bytes(), "\r"))
		if err := fn(n, line); err != nil {
			return fmt.Errorf("%d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%d: %w", n+1, err)
	}
	return nil
}

func isBlankOrComment(line string) bool {
	t := strings.TrimLeft(line, " \t")
	return t == "" || t[0] == '#'
}
