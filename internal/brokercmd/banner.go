package brokercmd

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/mqkit/mqkit/internal/config"
	"github.com/mqkit/mqkit/internal/version"
)

// printBanner names every listener (with its real port) and who may log
// in, warns about listeners reachable from the network that allow
// anonymous clients, and prints a ready-to-paste mqsub/mqpub pair for the
// first listener.
func printBanner(w io.Writer, cfg *config.Config, p *plan, addrOf func(i int) net.Addr) {
	var names []string
	if p.users != nil {
		names = p.users.names
	}
	var sb strings.Builder
	var warnings, webs []string
	fmt.Fprintf(&sb, "mqbroker %s ready\n", version.Version)
	for i, l := range cfg.Listeners {
		bound, ip := boundListener(l, addrOf(i))
		u := bound.URL()
		sec := cfg.SecurityFor(l)
		if l.Protocol == config.ProtocolHTTP {
			webs = append(webs, webLine(&bound, ip))
			continue
		}
		var notes []string
		if cfg.PerListenerSettings {
			notes = append(notes, authSummary(sec, names, l.UseIdentityAsUsername))
		}
		if l.MountPoint != "" {
			notes = append(notes, fmt.Sprintf("mount point %q", l.MountPoint))
		}
		if l.Local {
			also := ""
			v6 := net.JoinHostPort("::1", strconv.Itoa(bound.Port))
			if slices.Contains(p.loopback6, v6) {
				also = ", also on " + v6
			}
			notes = append(notes, fmt.Sprintf("local only%s; --listen mqtt://0.0.0.0:%d for remote access", also, bound.Port))
		}
		if len(notes) > 0 {
			fmt.Fprintf(&sb, "  listening on %-28s (%s)\n", u, strings.Join(notes, "; "))
		} else {
			fmt.Fprintf(&sb, "  listening on %s\n", u)
		}
		if sec.AllowAnonymous && reachable(l, ip) {
			warnings = append(warnings, fmt.Sprintf("  WARNING: %s is reachable from other machines and allows anonymous clients: "+
				"anyone can publish and subscribe. Add --user NAME:PASSWORD (or password_file), or listen on 127.0.0.1.\n", u))
		}
	}
	if !cfg.PerListenerSettings {
		certs := false
		for _, l := range cfg.Listeners {
			certs = certs || l.UseIdentityAsUsername
		}
		fmt.Fprintf(&sb, "  auth: %s\n", authSummary(cfg.Security, names, certs))
	}
	for _, w := range webs {
		sb.WriteString(w)
	}
	for _, w := range warnings {
		sb.WriteString(w)
	}
	for _, br := range cfg.Bridges {
		fmt.Fprintf(&sb, "  %s\n", bridgeSummary(br))
	}
	if cfg.Persistence {
		fmt.Fprintf(&sb, "  persistence: %s\n", cfg.PersistencePath())
	} else {
		fmt.Fprintf(&sb, "  persistence: off (in memory; --data DIR to keep messages across restarts)\n")
	}
	first := -1
	for i, l := range cfg.Listeners {
		if l.Protocol != config.ProtocolHTTP {
			first = i
			break
		}
	}
	if first >= 0 {
		l := cfg.Listeners[first]
		bound, ip := boundListener(l, addrOf(first))
		host := "127.0.0.1"
		if ip != nil && !ip.IsUnspecified() {
			host = ip.String()
		}
		bound.Bind = host
		target := fmt.Sprintf("-h %s -p %d", host, bound.Port)
		switch {
		case l.Unix != "":
			target = "--unix " + l.Unix
		case l.Protocol == config.ProtocolWebsockets || l.TLS():
			target = "-L " + bound.URL()
		}
		if l.TLS() {
			// The clients must trust the CA that signed the server's certificate.
			target += " --cafile CA.crt"
		}
		sec := cfg.SecurityFor(l)
		switch {
		case sec.AllowAnonymous:
		case len(names) > 0:
			target += " -u " + names[0] // mqsub and mqpub then ask for the password
		case sec.PasswordFile != "":
			target += " -u USER -P PASSWORD"
		case l.UseIdentityAsUsername:
			target += " --cert CLIENT.crt --key CLIENT.key"
		default:
			// No user exists and anonymous clients are refused: no pair works.
			sb.WriteString("Nobody can log in yet: add --user NAME:PASSWORD, a password_file, or --anonymous.\n")
			io.WriteString(w, sb.String())
			return
		}
		if l.TLS() {
			fmt.Fprintf(&sb, "Try it in two other terminals (CA.crt: the CA that signed the server certificate):\n")
		} else {
			fmt.Fprintf(&sb, "Try it in two other terminals:\n")
		}
		fmt.Fprintf(&sb, "  mqsub %s -t 'hello/#' -v\n", target)
		fmt.Fprintf(&sb, "  mqpub %s -t hello/world -m 'Hello, MQTT'\n", target)
	}
	io.WriteString(w, sb.String())
}

// boundListener returns a copy of l with the port it really got (port 0
// picks one), and the IP address it is bound to (nil for unix sockets).
func boundListener(l *config.Listener, a net.Addr) (config.Listener, net.IP) {
	bound := *l
	if ta, ok := a.(*net.TCPAddr); ok {
		bound.Port = ta.Port
		return bound, ta.IP
	}
	return bound, nil
}

// reachable reports whether other machines can connect to l: a TCP
// listener not bound to a loopback address.
func reachable(l *config.Listener, ip net.IP) bool {
	if l.Unix != "" {
		return false
	}
	if ip == nil {
		ip = net.ParseIP(l.Bind)
		if ip == nil {
			return l.Bind != "localhost"
		}
	}
	return !ip.IsLoopback()
}

// authSummary says who may connect, e.g. "anonymous not allowed; users:
// alice, bob". certs reports that client certificates name users
// (use_identity_as_username).
func authSummary(s config.Security, users []string, certs bool) string {
	parts := []string{"anonymous allowed"}
	if !s.AllowAnonymous {
		parts[0] = "anonymous not allowed"
	}
	if len(users) > 0 {
		parts = append(parts, "users: "+strings.Join(users, ", "))
	}
	if s.PasswordFile != "" {
		parts = append(parts, "password file "+s.PasswordFile)
	}
	if certs {
		parts = append(parts, "certificate names are user names")
	} else if !s.AllowAnonymous && len(users) == 0 && s.PasswordFile == "" {
		parts = append(parts, "no users either, so every client is refused (add --user NAME:PASSWORD)")
	}
	if s.ACLFile != "" {
		parts = append(parts, "ACL file "+s.ACLFile)
	}
	return strings.Join(parts, "; ")
}

// webLine is the banner line of a web view listener: its URL, a link to
// open in a browser.
func webLine(l *config.Listener, ip net.IP) string {
	host := l.Bind
	if ip != nil && !ip.IsUnspecified() {
		host = ip.String()
	} else if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	shown := *l
	shown.Bind = host
	u := shown.URL() + "/"
	notes := "/metrics, /healthz, /readyz"
	if reachable(l, ip) {
		notes += "; login required"
		if !l.TLS() {
			notes += "; WARNING: passwords cross the network in clear text, add certfile/keyfile (https)"
		}
	}
	return fmt.Sprintf("  web view on  %s (%s)\n", u, notes)
}
