package cliutil

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// PasswordEnv is the environment variable ResolvePassword reads.
const PasswordEnv = "MQ_PASSWORD"

// ResolvePassword picks the password to send, so it need not appear on the
// command line (where ps and shell history show it):
//
//  1. -P/--pw when given (flagSet), even if empty;
//  2. else $MQ_PASSWORD when set to a non-empty value (env is os.Getenv in
//     production, a map lookup in tests);
//  3. else prompt, when prompt is non-nil. Pass a prompt only when -u was
//     given and stdin is a terminal — TermPrompt returns nil otherwise.
//
// ok is false when no password was found (send none). A prompt error
// (e.g. Ctrl-D) is returned as is.
func ResolvePassword(flag string, flagSet bool, env func(string) string, prompt func() (string, error)) (string, bool, error) {
	if flagSet {
		return flag, true, nil
	}
	if env != nil {
		if v := env(PasswordEnv); v != "" {
			return v, true, nil
		}
	}
	if prompt != nil {
		pw, err := prompt()
		if err != nil {
			return "", false, err
		}
		return pw, true, nil
	}
	return "", false, nil
}

// TermPrompt returns a prompt for ResolvePassword that writes
// "Password for USER: " to out (use os.Stderr, so stdout stays clean) and
// reads a line from in without echo. It returns nil when in is not a
// terminal, so scripts never block on a prompt.
func TermPrompt(in *os.File, out io.Writer, username string) func() (string, error) {
	if in == nil || !term.IsTerminal(int(in.Fd())) {
		return nil
	}
	return func() (string, error) {
		fmt.Fprintf(out, "Password for %s: ", username)
		pw, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(out)
		if err != nil {
			return "", fmt.Errorf("Error: reading password: %w", err)
		}
		return string(pw), nil
	}
}

// PasswordFromFile reads a password from the first line of a file (for a
// --password-file flag); the line ending is not part of the password.
func PasswordFromFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("Error: reading password file: %w", err)
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) == 0 {
		return "", errors.New("Error: password file " + path + " is empty")
	}
	return string(b), nil
}
