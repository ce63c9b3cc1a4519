package brokercmd

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/auth"
	"github.com/mqkit/mqkit/internal/config"
)

// Listeners and users from the command line (--listen, --user,
// --password-file, --anonymous and the TLS flags) become the same
// config.Listener and config.Security values a mosquitto.conf file
// gives, so limits, TLS reloads, the banner, $SYS and logs treat them
// alike, and --print-config can write them back as a file.

// multiFlag collects every value of a repeatable flag verbatim.
// cli.StringSliceFlag would split values on ',' and trim blanks, which
// corrupts passwords.
type multiFlag []string

func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
func (m *multiFlag) String() string     { return strings.Join(*m, " ") }

func multi(c *cli.Context, name string) []string {
	if m, ok := c.Generic(name).(*multiFlag); ok {
		return *m
	}
	return nil
}

// Default ports of --listen URLs without one: the ports mqpub and mqsub
// assume for the same URL.
var listenSchemes = map[string]struct {
	port    int
	tls, ws bool
}{
	"mqtt":  {1883, false, false},
	"mqtts": {8883, true, false},
	"ws":    {80, false, true},
	"wss":   {443, true, true},
	// The web view (protocol http, an mqbroker extension).
	"http":  {80, false, false},
	"https": {443, true, false},
}

// parseListenURL turns a --listen URL into a listener:
//
//	mqtt://[HOST][:PORT]          plain MQTT (port 1883)
//	mqtts://[HOST][:PORT]         MQTT over TLS (port 8883; --cert, --key)
//	ws://[HOST][:PORT][/PATH]     MQTT over WebSocket (port 80)
//	wss://[HOST][:PORT][/PATH]    MQTT over secure WebSocket (port 443)
//	unix:///PATH, unix:PATH       unix domain socket (relative to the
//	                              working directory)
//
// An empty HOST, 0.0.0.0 or [::] binds every interface. Port 0 picks a
// free port. A WebSocket listener without a PATH (or with "/") accepts
// the upgrade on any path, like a "protocol websockets" listener without
// websockets_path; with a PATH it accepts only that one. useTLS reports
// an mqtts or wss URL, whose certificate files the caller sets.
func parseListenURL(raw string) (l *config.Listener, useTLS bool, err error) {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("--listen %q: %s", raw, fmt.Sprintf(format, a...))
	}
	u, perr := url.Parse(raw)
	if perr != nil || u.Scheme == "" {
		return nil, false, fail("not a URL: want mqtt://HOST:PORT, mqtts://, ws://, wss:// or unix:///PATH")
	}
	if u.User != nil {
		return nil, false, fail("no user name in a listener URL: add users with --user NAME:PASSWORD")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, false, fail("a listener URL takes no query or fragment")
	}
	l = config.NewListener(config.Pos{File: "--listen " + raw})
	if u.Scheme == "unix" {
		path := u.Opaque
		if path == "" {
			if u.Host != "" {
				return nil, false, fail("the socket path must follow unix:// with a third '/' (unix:///run/mq.sock) or be relative (unix:mq.sock)")
			}
			path = u.Path
		}
		if path == "" {
			return nil, false, fail("missing socket path")
		}
		if l.Unix, err = filepath.Abs(path); err != nil {
			return nil, false, fail("%v", err)
		}
		return l, false, nil
	}
	sc, ok := listenSchemes[u.Scheme]
	if !ok {
		return nil, false, fail("unsupported scheme %q: use mqtt, mqtts, ws, wss, unix, or http/https (web view)", u.Scheme)
	}
	if u.Opaque != "" {
		return nil, false, fail("want %s://HOST:PORT", u.Scheme)
	}
	l.Bind, l.Port = u.Hostname(), sc.port
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n > 65535 {
			return nil, false, fail("invalid port %q: must be 0-65535", p)
		}
		l.Port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, false, fail("empty port")
	}
	if strings.ContainsAny(l.Bind, "[]") {
		return nil, false, fail("bad host %q", u.Host)
	}
	if u.Scheme == "http" || u.Scheme == "https" {
		l.Protocol = config.ProtocolHTTP
		if u.Path != "" && u.Path != "/" {
			return nil, false, fail("the web view is served at /: no path")
		}
	} else if sc.ws {
		l.Protocol = config.ProtocolWebsockets
		if u.Path != "/" {
			l.WebsocketsPath = u.Path
		}
	} else if u.Path != "" && u.Path != "/" {
		return nil, false, fail("%s:// listeners take no path", u.Scheme)
	}
	return l, sc.tls, nil
}

// tlsFlags are --cert, --key, --cafile and --require-certificate, which
// apply to every mqtts:// and wss:// --listen URL.
type tlsFlags struct {
	cert, key, ca string
	require       bool
}

func (f tlsFlags) any() bool { return f.cert != "" || f.key != "" || f.ca != "" || f.require }

// listenFlags parses the --listen URLs and applies the TLS flags.
func listenFlags(c *cli.Context) ([]*config.Listener, error) {
	var t tlsFlags
	for _, p := range []struct {
		flag string
		dst  *string
	}{{"cert", &t.cert}, {"key", &t.key}, {"cafile", &t.ca}} {
		if v := c.String(p.flag); v != "" {
			abs, err := filepath.Abs(v)
			if err != nil {
				return nil, fmt.Errorf("--%s: %w", p.flag, err)
			}
			*p.dst = abs
		}
	}
	t.require = c.Bool("require-certificate")
	switch {
	case (t.cert == "") != (t.key == ""):
		return nil, errors.New("--cert and --key must be given together")
	case t.require && t.ca == "":
		return nil, errors.New("--require-certificate needs --cafile to verify client certificates")
	}
	var ls []*config.Listener
	anyTLS := false
	for _, raw := range multi(c, "listen") {
		l, useTLS, err := parseListenURL(raw)
		if err != nil {
			return nil, err
		}
		if useTLS {
			if t.cert == "" {
				return nil, fmt.Errorf("--listen %q: TLS needs --cert FILE and --key FILE", raw)
			}
			l.CertFile, l.KeyFile = t.cert, t.key
			if l.Protocol != config.ProtocolHTTP { // the web view takes no client certificates
				l.CAFile, l.RequireCertificate = t.ca, t.require
			}
			anyTLS = true
		}
		ls = append(ls, l)
	}
	if t.any() && !anyTLS {
		return nil, errors.New("--cert, --key, --cafile and --require-certificate apply to mqtts:// and wss:// --listen URLs, and none was given")
	}
	return ls, nil
}

// portListeners are the -p listeners: loopback only, as in mosquitto 2.0.
func portListeners(ports []int) ([]*config.Listener, error) {
	var ls []*config.Listener
	for _, p := range ports {
		if p < 0 || p > 65535 {
			return nil, fmt.Errorf("-p %d: port out of range", p)
		}
		l := config.NewListener(config.Pos{File: "-p " + strconv.Itoa(p)})
		l.Port, l.Bind, l.Local = p, "127.0.0.1", true
		ls = append(ls, l)
	}
	return ls, nil
}

// users are the accounts given with --user, hashed in memory. They are
// checked before the password file (a user in both logs in with the
// command-line password).
type users struct {
	names []string
	pw    *auth.PasswordFile
}

// userFlags parses --user NAME:PASSWORD values. Errors never show the
// password.
func userFlags(values []string) (*users, error) {
	if len(values) == 0 {
		return nil, nil
	}
	u := &users{}
	var text strings.Builder
	seen := map[string]bool{}
	for _, v := range values {
		name, password, ok := strings.Cut(v, ":")
		if !ok { // v may be a mistyped secret: do not echo it
			return nil, fmt.Errorf("--user takes NAME:PASSWORD, with a colon between the user name and the password "+
				"(the value of --user number %d has none; it is not shown, in case it is a password)", len(u.names)+1)
		}
		if err := auth.ValidateUsername(name); err != nil {
			return nil, fmt.Errorf("--user %q: %w", name, err)
		}
		if len(password) > 65535 {
			return nil, fmt.Errorf("--user %q: password must be less than 65536 bytes long", name)
		}
		if seen[name] {
			return nil, fmt.Errorf("--user %q: given twice", name)
		}
		seen[name] = true
		u.names = append(u.names, name)
		fmt.Fprintf(&text, "%s:%s\n", name, auth.HashPassword([]byte(password), 0))
	}
	var err error
	if u.pw, err = auth.ParsePasswordFile(strings.NewReader(text.String()), "--user"); err != nil {
		return nil, err
	}
	return u, nil
}

// applyCommandLine adds the command line's listeners and security
// settings to cfg (read from -c, or the defaults):
//
//   - listeners: those of the file, then every --listen, then the -p
//     ones. -p is ignored when the file defines listeners (mosquitto 2.0).
//     Any --listen or -p listener replaces the implicit 127.0.0.1:1883 one.
//   - --password-file sets password_file (replacing the file's, with a
//     warning), in every scope when per_listener_settings is true; --user
//     accounts apply in every scope too.
//   - allow_anonymous: true with --anonymous; else the file's value when
//     it sets one; else false when users exist (--user or a password
//     file) or the file defines listeners (mosquitto 2.0); else true.
func applyCommandLine(c *cli.Context, cfg *config.Config) (*users, error) {
	fileListeners := !cfg.LocalOnly
	added, err := listenFlags(c)
	if err != nil {
		return nil, err
	}
	if ports := c.IntSlice("port"); len(ports) > 0 {
		if fileListeners {
			cfg.Warnings = append(cfg.Warnings, "-p ignored: the configuration file defines listeners")
		} else {
			pl, err := portListeners(ports)
			if err != nil {
				return nil, err
			}
			added = append(added, pl...)
		}
	}
	cfg.AddListeners(added...)

	us, err := userFlags(multi(c, "user"))
	if err != nil {
		return nil, err
	}
	pwFile := c.String("password-file")
	if pwFile != "" {
		if pwFile, err = filepath.Abs(pwFile); err != nil {
			return nil, fmt.Errorf("--password-file: %w", err)
		}
	}
	for _, s := range cfg.Scopes() {
		if pwFile != "" {
			if s.PasswordFile != "" && s.PasswordFile != pwFile {
				cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("--password-file %s replaces password_file %s", pwFile, s.PasswordFile))
			}
			s.PasswordFile = pwFile
		}
		switch {
		case c.Bool("anonymous"):
			s.AllowAnonymous, s.AllowAnonymousSet = true, true
		case s.AllowAnonymousSet:
		default:
			s.AllowAnonymous = !fileListeners && s.PasswordFile == "" && us == nil
		}
	}
	return us, nil
}
