package brokercmd

import (
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/config"
	"github.com/mqkit/mqkit/internal/version"
)

// printBanner names every listener (with its real port) and prints a
// ready-to-paste mqsub/mqpub pair for the first one.
func printBanner(w io.Writer, cfg *config.Config, p *plan, b *broker.Broker) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "mqbroker %s ready\n", version.Version)
	for i, l := range cfg.Listeners {
		u := p.urls[i]
		if a, ok := b.Addr(p.names[i]).(*net.TCPAddr); ok && l.Port == 0 {
			u = strings.Replace(u, ":0", fmt.Sprintf(":%d", a.Port), 1)
		}
		sec := cfg.SecurityFor(l)
		var notes []string
		if sec.AllowAnonymous {
			notes = append(notes, "anonymous allowed")
		} else {
			notes = append(notes, "login required")
		}
		if l.Local {
			notes = append(notes, "local only: use -c with a 'listener' line for remote access")
		}
		fmt.Fprintf(&sb, "  listening on %-28s (%s)\n", u, strings.Join(notes, ", "))
	}
	if cfg.Persistence {
		fmt.Fprintf(&sb, "  persistence: %s\n", cfg.PersistencePath())
	} else {
		fmt.Fprintf(&sb, "  persistence: off (in memory; --data DIR to keep messages across restarts)\n")
	}
	if len(cfg.Listeners) > 0 {
		a, _ := b.Addr(p.names[0]).(*net.TCPAddr)
		host, port := "127.0.0.1", 1883
		if a != nil {
			port = a.Port
			if !a.IP.IsUnspecified() {
				host = a.IP.String()
			}
		}
		target := fmt.Sprintf("-h %s -p %d", host, port)
		switch l := cfg.Listeners[0]; {
		case l.Unix != "":
			target = "--unix " + l.Unix
		case l.Protocol == config.ProtocolWebsockets || l.TLS():
			target = "-L " + strings.Replace(p.urls[0], ":0", fmt.Sprintf(":%d", port), 1)
		}
		fmt.Fprintf(&sb, "Try it in two other terminals:\n")
		fmt.Fprintf(&sb, "  mqsub %s -t 'hello/#' -v\n", target)
		fmt.Fprintf(&sb, "  mqpub %s -t hello/world -m 'Hello, MQTT'\n", target)
	}
	io.WriteString(w, sb.String())
}
