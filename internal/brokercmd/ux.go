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
	"github.com/mqkit/mqkit/internal/cliutil"
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
			switch d := cliutil.EditDistance(name, n); {
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
