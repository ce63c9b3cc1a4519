package brokercmd

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/clidoc"
	"github.com/mqkit/mqkit/internal/config"
	"github.com/mqkit/mqkit/internal/store"
)

// usageError turns a command-line parse error into one short message on
// stderr: what was wrong, the closest option for a typo, and a pointer to
// --help (urfave/cli would print the whole help on stdout, scrolling the
// error away).
func usageError(prog string, flags []cli.Flag) cli.OnUsageErrorFunc {
	return func(_ *cli.Context, err error, _ bool) error {
		msg := err.Error()
		var text string
		switch {
		case strings.HasPrefix(msg, "flag provided but not defined: -"):
			name := strings.TrimPrefix(msg, "flag provided but not defined: -")
			text = fmt.Sprintf("%s: unknown option %s", prog, dashed(name))
			if s := closestFlag(flags, name); s != "" {
				text += "\nDid you mean " + s + "?"
			}
		case strings.HasPrefix(msg, "flag needs an argument: -"):
			name := strings.TrimPrefix(msg, "flag needs an argument: -")
			text = fmt.Sprintf("%s: option %s needs a value", prog, dashed(name))
		default:
			text = prog + ": " + msg
		}
		return cli.Exit(text+"\nRun '"+prog+" --help' for the options.", 1)
	}
}

// dashed shows a flag name as typed: -p, --port.
func dashed(name string) string {
	name = strings.TrimLeft(name, "-")
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// closestFlag returns the visible option closest to name ("--prot" ->
// "--port"), or "" when none is close.
func closestFlag(flags []cli.Flag, name string) string {
	name = strings.ToLower(strings.TrimLeft(name, "-"))
	if len(name) < 2 {
		return ""
	}
	best, bestScore := "", 1<<30
	for _, f := range flags {
		if vf, ok := f.(cli.VisibleFlag); ok && !vf.IsVisible() {
			continue
		}
		for _, n := range f.Names() {
			if len(n) < 2 {
				continue
			}
			score := -1
			switch d := levenshtein(name, n); {
			case d <= max(1, len(name)/3):
				score = d
			case len(name) >= 3 && strings.HasPrefix(n, name):
				score = 10 + len(n) - len(name)
			}
			if score >= 0 && score < bestScore {
				best, bestScore = "--"+n, score
			}
		}
	}
	return best
}

// levenshtein is the edit distance between a and b, a swap of two
// neighbouring letters counting as one edit ("prot" is 1 from "port").
func levenshtein(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// completionCommand is "mqbroker completion bash|zsh|fish".
func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh or fish",
		UsageText: "mqbroker completion bash|zsh|fish\n   source <(mqbroker completion bash)   # or zsh; fish: mqbroker completion fish | source",
		Action: func(c *cli.Context) error {
			shell := c.Args().First()
			script, ok := clidoc.Script(clidoc.FromApp(c.App), shell)
			if !ok || c.Args().Len() != 1 {
				return cli.Exit("mqbroker completion: want one of bash, zsh or fish\nRun 'mqbroker completion --help' for usage.", 1)
			}
			_, err := io.WriteString(c.App.Writer, script)
			return err
		},
	}
}

// startError explains the start-up errors a newcomer meets: a port that
// another program (most likely another broker) holds, and a data
// directory that another mqbroker has open.
func startError(err error, cfg *config.Config, names []string) error {
	var oe *net.OpError
	if errors.Is(err, syscall.EADDRINUSE) && errors.As(err, &oe) && oe.Addr != nil {
		host, port, _ := net.SplitHostPort(oe.Addr.String())
		where := ""
		for i, n := range names {
			if strings.Contains(err.Error(), fmt.Sprintf("%q", n)) && i < len(cfg.Listeners) {
				if p := cfg.Listeners[i].Pos; p.Line > 0 || p.File != "" {
					where = fmt.Sprintf(" (listener from %s)", p)
				}
			}
		}
		return fmt.Errorf("port %s on %s is already in use%s: another MQTT broker (mosquitto or mqbroker) is probably running there.\n"+
			"Stop it, or pick another port: mqbroker -p 1884, or -p 0 for any free port", port, host, where)
	}
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("%v\nAnother mqbroker is using this data directory (a 'make run' in another terminal?): stop it, or give another --data DIR", err)
	}
	return err
}
