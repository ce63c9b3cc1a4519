package brokercmd

import (
	"errors"
	"fmt"
	"slices"

	"github.com/mqkit/mqkit/internal/auth"
	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/config"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// scope is the security in force for the clients of one listener.
type scope struct {
	sec              *auth.Security
	users            *auth.PasswordFile // --user accounts, nil if none
	identityAsUser   bool               // use_identity_as_username
	requireClientCrt bool
}

// guard adapts auth.Security scopes to the broker's Authenticator and
// Authorizer, choosing the scope by the listener a client came in on.
type guard struct {
	byListener map[string]*scope
	all        []*auth.Security // distinct Security values, for Reload
	files      []string         // the password and ACL files, each once
	anyACL     bool
}

func newGuard(cfg *config.Config, names []string, us *users) (*guard, error) {
	g := &guard{byListener: map[string]*scope{}}
	var cliUsers *auth.PasswordFile
	if us != nil {
		cliUsers = us.pw
	}
	shared := map[config.Security]*auth.Security{}
	for i, l := range cfg.Listeners {
		s := cfg.SecurityFor(l)
		sec, ok := shared[s]
		if !ok {
			var err error
			sec, err = auth.NewSecurity(auth.Options{
				PasswordFile:   s.PasswordFile,
				ACLFile:        s.ACLFile,
				AllowAnonymous: s.AllowAnonymous,
			})
			if err != nil {
				return nil, err
			}
			shared[s] = sec
			g.all = append(g.all, sec)
			for _, f := range []string{s.PasswordFile, s.ACLFile} {
				if f != "" && !slices.Contains(g.files, f) {
					g.files = append(g.files, f)
				}
			}
		}
		g.anyACL = g.anyACL || sec.HasACL()
		g.byListener[names[i]] = &scope{sec: sec, users: cliUsers, identityAsUser: l.UseIdentityAsUsername,
			requireClientCrt: l.RequireCertificate}
	}
	return g, nil
}

// fileWarnings returns mosquitto's warnings about the password and ACL
// files that other users may read or that belong to another user or
// group (auth.FileWarnings), logged when they are loaded: at start and on
// every reload, as mosquitto does.
func (g *guard) fileWarnings() []string {
	var out []string
	for _, f := range g.files {
		out = append(out, auth.FileWarnings(f)...)
	}
	return out
}

// Reload re-reads every password and ACL file (SIGHUP).
func (g *guard) Reload() error {
	var errs []error
	for _, s := range g.all {
		errs = append(errs, s.Reload())
	}
	return errors.Join(errs...)
}

func (g *guard) Authenticate(ci *broker.ClientInfo, password []byte) mqtt.ReasonCode {
	if ci.Listener() == bridgeListener {
		return mqtt.Success // our own bridges, in process
	}
	sc := g.byListener[ci.Listener()]
	if sc == nil {
		return mqtt.NotAuthorized
	}
	if sc.identityAsUser {
		// use_identity_as_username: the certificate's Common Name is the
		// username and the password file is not consulted (mosquitto).
		// Without one (none sent, none requested, or no CN) mosquitto
		// 2.0.11 answers "bad user name or password": 3.1.1 return code
		// 4, v5 0x86.
		if ci.CertCommonName == "" {
			return mqtt.BadUserNameOrPassword
		}
		ci.Username, ci.HasUsername = ci.CertCommonName, true
		return mqtt.Success
	}
	err := sc.authenticate(ci.Username, ci.HasUsername, password, ci.HasPassword)
	switch {
	case err == nil:
		return mqtt.Success
	case errors.Is(err, auth.ErrBadCredentials) && ci.Version == mqtt.V5:
		// v5 gets the precise 0x86; 3.1/3.1.1 clients get return code 5
		// "not authorised" as mosquitto sends (scripts test for exit 5).
		return mqtt.BadUserNameOrPassword
	default:
		return mqtt.NotAuthorized
	}
}

// authenticate checks the --user accounts, then the password file and
// allow_anonymous (auth.Security). A user name that is neither a --user
// account nor in a password file is refused as bad credentials, as an
// unknown user of a password file is.
func (sc *scope) authenticate(username string, hasUsername bool, password []byte, hasPassword bool) error {
	if sc.users == nil || !hasUsername ||
		(!sc.users.Has(username) && sc.sec.HasPasswordFile()) {
		return sc.sec.Authenticate(username, hasUsername, password, hasPassword)
	}
	// Check even without a password, so the work done (and time taken)
	// does not depend on it; an empty password must still be sent.
	if ok := sc.users.Check(username, password); !ok || !hasPassword {
		return fmt.Errorf("user %q: %w", username, auth.ErrBadCredentials)
	}
	return nil
}

func (g *guard) Authorize(ci *broker.ClientInfo, topic string, acc broker.Access) bool {
	if ci.Listener() == bridgeListener {
		return true // as mosquitto, bridges are not subject to ACLs
	}
	sc := g.byListener[ci.Listener()]
	if sc == nil {
		return false
	}
	var a auth.Access
	switch acc {
	case broker.AccessRead:
		a = auth.Read
	case broker.AccessWrite:
		a = auth.Write
	case broker.AccessSubscribe:
		a = auth.Subscribe
	default:
		panic(fmt.Sprintf("brokercmd: unknown access %d", acc))
	}
	return sc.sec.Allowed(ci.Username, ci.HasUsername, ci.ClientID, topic, a)
}
