package auth

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// Authentication outcomes. The broker maps both to CONNACK 0x05 "not
// authorized" for MQTT 3.1/3.1.1; for MQTT 5.0, ErrBadCredentials maps to
// 0x86 "Bad User Name or Password" and ErrNotAuthorized to 0x87 "Not
// authorized" (mosquitto 2.0 sends 0x87 for both).
var (
	// ErrNotAuthorized: anonymous access while allow_anonymous is false.
	ErrNotAuthorized = errors.New("not authorized")
	// ErrBadCredentials: unknown user, missing or wrong password.
	ErrBadCredentials = errors.New("bad username or password")
)

// Options configures a Security. The paths are re-read by Reload.
type Options struct {
	// PasswordFile is a mosquitto password file; "" means none.
	PasswordFile string
	// ACLFile is a mosquitto ACL file; "" means no ACL (everything allowed).
	ACLFile string
	// AllowAnonymous admits clients that send no username (and, when there
	// is no password file, every client): mosquitto's allow_anonymous.
	AllowAnonymous bool
}

type secState struct {
	pw  *PasswordFile // nil: no password file
	acl *ACL          // nil: no ACL file
}

// Security holds the password file and ACL for one security scope (the
// whole broker, or one listener with per_listener_settings). It is safe
// for concurrent use; Reload swaps the loaded files atomically, so a
// SIGHUP handler can call it while connections are being checked.
type Security struct {
	opts  Options
	state atomic.Pointer[secState]
}

// NewSecurity loads the configured files.
func NewSecurity(opts Options) (*Security, error) {
	s := &Security{opts: opts}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload re-reads the password and ACL files. On any error the previous
// state stays in force and the error is returned; otherwise both files
// are replaced at once.
func (s *Security) Reload() error {
	var st secState
	var err error
	if s.opts.PasswordFile != "" {
		if st.pw, err = LoadPasswordFile(s.opts.PasswordFile); err != nil {
			return err
		}
	}
	if s.opts.ACLFile != "" {
		if st.acl, err = LoadACLFile(s.opts.ACLFile); err != nil {
			return err
		}
	}
	s.state.Store(&st)
	return nil
}

// Warnings returns the current ACL's parse warnings.
func (s *Security) Warnings() []string {
	if acl := s.state.Load().acl; acl != nil {
		return acl.Warnings()
	}
	return nil
}

// Authenticate decides a CONNECT the way mosquitto 2.0's default security
// does:
//
//   - no password file: every client is admitted iff AllowAnonymous, with
//     or without a username;
//   - a client without a username: admitted iff AllowAnonymous;
//   - a client with a username: admitted iff the user is in the password
//     file and a password was sent that matches.
//
// The password never appears in the returned error.
func (s *Security) Authenticate(username string, hasUsername bool, password []byte, hasPassword bool) error {
	pw := s.state.Load().pw
	if pw == nil || !hasUsername {
		if s.opts.AllowAnonymous {
			return nil
		}
		return ErrNotAuthorized
	}
	if !hasPassword {
		pw.Check(username, nil) // same work as a failed check
		return fmt.Errorf("user %q: %w", username, ErrBadCredentials)
	}
	if !pw.Check(username, password) {
		return fmt.Errorf("user %q: %w", username, ErrBadCredentials)
	}
	return nil
}

// Allowed checks the ACL (see (*ACL).Allowed); with no ACL file every
// access is allowed.
func (s *Security) Allowed(username string, hasUsername bool, clientID, topic string, acc Access) bool {
	acl := s.state.Load().acl
	if acl == nil {
		return true
	}
	return acl.Allowed(username, hasUsername, clientID, topic, acc)
}

// HasACL reports whether an ACL file is loaded.
func (s *Security) HasACL() bool { return s.state.Load().acl != nil }

// HasPasswordFile reports whether a password file is loaded.
func (s *Security) HasPasswordFile() bool { return s.state.Load().pw != nil }

// AllowAnonymous reports the configured allow_anonymous.
func (s *Security) AllowAnonymous() bool { return s.opts.AllowAnonymous }
