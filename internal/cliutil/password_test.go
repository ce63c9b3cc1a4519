package cliutil

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestResolvePassword(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == PasswordEnv {
				return v
			}
			return ""
		}
	}
	prompt := func(pw string, err error) func() (string, error) {
		return func() (string, error) { return pw, err }
	}
	boom := errors.New("boom")
	tests := []struct {
		name    string
		flag    string
		flagSet bool
		env     func(string) string
		prompt  func() (string, error)
		want    string
		ok      bool
		err     error
	}{
		{"flag wins", "f", true, env("e"), prompt("p", nil), "f", true, nil},
		{"empty flag still wins", "", true, env("e"), prompt("p", nil), "", true, nil},
		{"env", "", false, env("e"), prompt("p", nil), "e", true, nil},
		{"empty env falls through", "", false, env(""), prompt("p", nil), "p", true, nil},
		{"prompt", "", false, nil, prompt("p", nil), "p", true, nil},
		{"prompt error", "", false, env(""), prompt("", boom), "", false, boom},
		{"nothing", "", false, env(""), nil, "", false, nil},
	}
	for _, tc := range tests {
		got, ok, err := ResolvePassword(tc.flag, tc.flagSet, tc.env, tc.prompt)
		if got != tc.want || ok != tc.ok || !errors.Is(err, tc.err) {
			t.Errorf("%s: got %q %v %v, want %q %v %v", tc.name, got, ok, err, tc.want, tc.ok, tc.err)
		}
	}
}

func TestTermPromptNotATerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "in")
	requireNoError(t, err)
	defer f.Close()
	if TermPrompt(f, os.Stderr, "alice") != nil {
		t.Error("TermPrompt returned a prompt for a regular file")
	}
	if TermPrompt(nil, os.Stderr, "alice") != nil {
		t.Error("TermPrompt returned a prompt for nil")
	}
}

func TestPasswordFromFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		requireNoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	tests := []struct {
		name, content, want string
		wantErr             bool
	}{
		{"plain", "s3cret", "s3cret", false},
		{"newline", "s3cret\n", "s3cret", false},
		{"crlf and more lines", "s3 cret\r\nignored\n", "s3 cret", false},
		{"empty", "", "", true},
		{"blank line", "\n", "", true},
	}
	for _, tc := range tests {
		got, err := PasswordFromFile(write(tc.name, tc.content))
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%s: got %q, %v", tc.name, got, err)
		}
	}
	if _, err := PasswordFromFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file: no error")
	}
}
