package brokercmd

import (
	"fmt"
	"io"
	"strings"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/config"
	"github.com/mqkit/mqkit/internal/version"
)

// printConfig writes the effective configuration for --print-config, in
// mosquitto.conf syntax that -c reads back. --user passwords cannot be
// written to it: a comment says how to put those users in a password
// file. -v shows as "log_type all", which is what it means.
func printConfig(w io.Writer, cfg *config.Config, us *users, verbose bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Effective configuration of mqbroker %s (--print-config).\n", version.Version)
	b.WriteString("# Run it with: mqbroker -c FILE\n")
	if us != nil {
		pw := ""
		for _, s := range cfg.Scopes() {
			if s.PasswordFile != "" {
				pw = s.PasswordFile
				break
			}
		}
		fmt.Fprintf(&b, "#\n# Users given with --user (%s) are not in this file: command-line\n", strings.Join(us.names, ", "))
		b.WriteString("# passwords are not saved. Add them to a password file (it prompts for each password):\n")
		create, newFile := "", pw == ""
		if newFile {
			create, pw = "-c ", "passwd"
		}
		for i, n := range us.names {
			if i > 0 {
				create = ""
			}
			fmt.Fprintf(&b, "#   mqbroker passwd %s%s %s\n", create, pw, n)
		}
		if newFile {
			b.WriteString("# then add \"password_file /full/path/to/passwd\" below, or run with --password-file passwd.\n")
		}
	}
	b.WriteString("\n")
	if verbose {
		c := *cfg
		c.LogTypes = config.LogAll
		cfg = &c
	}
	if err := cfg.Format(&b); err != nil {
		return err
	}
	out := b.String()
	// The limits without a mosquitto.conf option, as comments at the end
	// of the Limits section.
	if i := strings.Index(out, "\n# Logging\n"); i >= 0 {
		out = out[:i] + builtinLimits() + out[i:]
	}
	_, err := io.WriteString(w, out)
	return err
}

// builtinLimits describes the limits that have no configuration option.
func builtinLimits() string {
	var b strings.Builder
	b.WriteString("# Built in (no option):\n")
	fmt.Fprintf(&b, "#   receive maximum (QoS 1/2 publishes a v5 client may have unacknowledged): %d\n", broker.DefaultReceiveMaximum)
	fmt.Fprintf(&b, "#   bytes held for one client before it is closed as a slow consumer: %d\n", broker.DefaultMaxOutboundBytes)
	fmt.Fprintf(&b, "#   publishers wait for a full subscriber at most %s, then it is a slow consumer\n", broker.DefaultStallTimeout)
	fmt.Fprintf(&b, "#   a slow consumer is one again at once when its queue fills, until it has kept up for %s\n", broker.DefaultSlowProbation)
	fmt.Fprintf(&b, "#   write timeout (a client that does not read): %s\n", broker.DefaultWriteTimeout)
	fmt.Fprintf(&b, "#   connect timeout (CONNECT, TLS handshake, WebSocket upgrade, PROXY header): %s\n", broker.DefaultConnectTimeout)
	return b.String()
}
