package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestSecurityAuthenticate(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, dir, "pw", refAlice+"\n"+refBob+"\n")
	type cred struct {
		user    string
		hasUser bool
		pass    string
		hasPass bool
	}
	anon := cred{}
	alice := cred{"alice", true, "secret", true}
	aliceWrong := cred{"alice", true, "nope", true}
	aliceNoPass := cred{"alice", true, "", false}
	mallory := cred{"mallory", true, "secret", true}
	tests := []struct {
		name      string
		opts      Options
		c         cred
		wantErr   error
		wantNoErr bool
	}{
		// mosquitto 2.0: without a password file, allow_anonymous decides for everybody.
		{"no file, anon allowed", Options{AllowAnonymous: true}, anon, nil, true},
		{"no file, anon denied", Options{}, anon, ErrNotAuthorized, false},
		{"no file, username denied too", Options{}, mallory, ErrNotAuthorized, false},
		{"no file, username allowed", Options{AllowAnonymous: true}, mallory, nil, true},
		// With a password file.
		{"file, anon denied", Options{PasswordFile: pw}, anon, ErrNotAuthorized, false},
		{"file, anon allowed", Options{PasswordFile: pw, AllowAnonymous: true}, anon, nil, true},
		{"file, good password", Options{PasswordFile: pw}, alice, nil, true},
		{"file, wrong password", Options{PasswordFile: pw}, aliceWrong, ErrBadCredentials, false},
		{"file, wrong password even if anon allowed", Options{PasswordFile: pw, AllowAnonymous: true}, aliceWrong, ErrBadCredentials, false},
		{"file, no password", Options{PasswordFile: pw}, aliceNoPass, ErrBadCredentials, false},
		{"file, unknown user", Options{PasswordFile: pw, AllowAnonymous: true}, mallory, ErrBadCredentials, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSecurity(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Authenticate(tc.c.user, tc.c.hasUser, []byte(tc.c.pass), tc.c.hasPass)
			if tc.wantNoErr {
				if err != nil {
					t.Fatalf("Authenticate: %v, want success", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Authenticate: %v, want %v", err, tc.wantErr)
			}
			if tc.c.pass != "" && strings.Contains(err.Error(), tc.c.pass) {
				t.Errorf("error %q reveals the password", err)
			}
		})
	}
}

func TestSecurityReload(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, dir, "pw", refAlice+"\n")
	acl := writeFile(t, dir, "acl", "user alice\ntopic read a/#\n")
	s, err := NewSecurity(Options{PasswordFile: pw, ACLFile: acl})
	if err != nil {
		t.Fatal(err)
	}
	if !s.HasACL() || !s.HasPasswordFile() || s.AllowAnonymous() {
		t.Fatal("state not loaded")
	}
	if !s.Allowed("alice", true, "c", "a/x", Read) || s.Allowed("alice", true, "c", "b/x", Read) {
		t.Fatal("initial ACL wrong")
	}

	// A broken ACL must not replace the loaded one.
	writeFile(t, dir, "acl", "user alice\ntopic bogus a\n")
	if err := s.Reload(); err == nil || !strings.Contains(err.Error(), "acl:2:") {
		t.Fatalf("Reload with broken ACL: %v", err)
	}
	if !s.Allowed("alice", true, "c", "a/x", Read) {
		t.Fatal("failed reload dropped the old ACL")
	}
	// A broken password file neither.
	writeFile(t, dir, "acl", "user alice\ntopic read b/#\n")
	writeFile(t, dir, "pw", "alice:plain\n")
	if err := s.Reload(); err == nil {
		t.Fatal("Reload with plain-text password file succeeded")
	}
	if !s.Allowed("alice", true, "c", "a/x", Read) || s.Authenticate("alice", true, []byte("secret"), true) != nil {
		t.Fatal("failed reload changed the state (it must swap both files or neither)")
	}
	// A good reload swaps both.
	if err := UpdatePasswordFile(pw, true, "alice", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if s.Allowed("alice", true, "c", "a/x", Read) || !s.Allowed("alice", true, "c", "b/x", Read) {
		t.Error("ACL not reloaded")
	}
	if s.Authenticate("alice", true, []byte("new"), true) != nil || s.Authenticate("alice", true, []byte("secret"), true) == nil {
		t.Error("password file not reloaded")
	}
	if _, err := NewSecurity(Options{ACLFile: filepath.Join(dir, "missing")}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing ACL file: %v", err)
	}
}

func TestSecurityNoACLAllowsAll(t *testing.T) {
	s, err := NewSecurity(Options{AllowAnonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Allowed("", false, "c", "any/thing", Write) || !s.Allowed("u", true, "c", "#", Subscribe) {
		t.Error("without an ACL file everything must be allowed")
	}
	if s.Warnings() != nil {
		t.Error("warnings without ACL")
	}
}

// TestSecurityConcurrentReload exercises checks racing with reloads; run
// under -race it proves the holder is safe for concurrent use.
func TestSecurityConcurrentReload(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, dir, "pw", refAlice+"\n")
	acl := writeFile(t, dir, "acl", "user alice\ntopic read a/#\n")
	s, err := NewSecurity(Options{PasswordFile: pw, ACLFile: acl})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				if !s.Allowed("alice", true, "c", "a/x", Read) {
					errs <- errors.New("ACL check failed during reload")
					return
				}
				if j%50 == 0 && s.Authenticate("alice", true, []byte("secret"), true) != nil {
					errs <- errors.New("authentication failed during reload")
					return
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		if err := s.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
