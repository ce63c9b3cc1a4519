package clicmd

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/clidoc"
	"github.com/mqkit/mqkit/internal/cliutil"
	"github.com/mqkit/mqkit/internal/version"
)

const flagCompletion = "completion"

// metaEnv is the app Metadata key holding the *env the app was built with;
// metaArgs the words Run hands to urfave/cli (without the program name).
const (
	metaEnv  = "env"
	metaArgs = "args"
)

// appSpec describes one of the two commands.
type appSpec struct {
	usage       string
	usageText   string
	description string
	flags       []cli.Flag
	action      func(c *cli.Context) error
}

// newApp builds a mosquitto-compatible app: -h is --host (not help) and
// -v is --verbose (not version), so urfave's help and version flags are
// replaced by our own --help and --version; errors are returned, never
// passed to os.Exit.
func newApp(e *env, spec appSpec) *cli.App {
	flags := append(spec.flags, commonFlags()...)
	flags = append(flags, &cli.StringFlag{Name: flagCompletion, Category: catOutput,
		Usage: "print the completion script for `SHELL`: bash, zsh or fish (source <(" + e.name + " --completion bash))"})
	flags = withFixedNames(flags)
	app := &cli.App{
		Name:                      e.name,
		Usage:                     spec.usage,
		UsageText:                 spec.usageText,
		Description:               spec.description,
		Version:                   version.Version,
		Flags:                     flags,
		HideHelp:                  true,
		HideHelpCommand:           true,
		HideVersion:               true,
		EnableBashCompletion:      true,
		DisableSliceFlagSeparator: true,
		Reader:                    e.stdin,
		Writer:                    e.stdout,
		ErrWriter:                 e.stderr,
		CustomAppHelpTemplate:     helpTemplate,
		ExitErrHandler:            func(*cli.Context, error) {},
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return usageErr(e.name, "%s", flagErrorText(c.App, err))
		},
		BashComplete: func(c *cli.Context) { completeFlags(c.App.Writer, c.App.Flags) },
		Metadata:     map[string]any{metaEnv: e},
	}
	app.Action = func(c *cli.Context) error {
		switch {
		case c.Bool(flagHelp):
			return cli.ShowAppHelp(c)
		case c.Bool(flagVersion):
			fmt.Fprintf(c.App.Writer, "%s version %s (mqkit; MQTT 3.1, 3.1.1 and 5.0)\n", e.name, version.Version)
			return nil
		case c.IsSet(flagCompletion):
			return printCompletion(c.App, c.String(flagCompletion))
		case c.Args().Present():
			return usageErr(e.name, "Error: Unknown option '%s'.", c.Args().First())
		}
		return spec.action(c)
	}
	return app
}

// flagErrorText rewrites the flag package's messages in mosquitto's words.
// An unknown option is shown as it was typed ("--bogus", not the flag
// package's "-bogus"), with the closest option name when there is one.
func flagErrorText(app *cli.App, err error) string {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "flag provided but not defined: -"):
		name := strings.TrimPrefix(msg, "flag provided but not defined: -")
		text := fmt.Sprintf("Error: Unknown option '%s'.", typedOption(app, name))
		if s := suggestOption(app, name); s != "" {
			text += "\nDid you mean '" + s + "'?"
		}
		return text
	case strings.HasPrefix(msg, "flag needs an argument: "):
		return fmt.Sprintf("Error: %s argument given but no value specified.", strings.TrimPrefix(msg, "flag needs an argument: "))
	}
	return "Error: " + msg
}

// typedOption finds the word of the command line that named the unknown
// option name: the first option word (not an option's value) with that
// name, dashes and all.
func typedOption(app *cli.App, name string) string {
	words, _ := app.Metadata[metaArgs].([]string)
	opts := newOptionTable(app)
	for i := 0; i < len(words); i++ {
		n, _, inline, ok := parseOption(words[i])
		if !ok {
			continue
		}
		if n == name {
			return words[i]
		}
		if !inline {
			i += min(opts.valueCount(n, words[i+1:]), len(words)-i-1)
		}
	}
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// suggestOption returns the visible option closest to the unknown name
// ("--retained" -> "--retained-only", "--qoss" -> "--qos"), or "".
func suggestOption(app *cli.App, name string) string {
	name = strings.ToLower(name)
	if len(name) < 2 {
		return ""
	}
	best, bestScore := "", 1<<30
	for _, f := range app.Flags {
		if vf, ok := f.(cli.VisibleFlag); ok && !vf.IsVisible() {
			continue
		}
		for _, n := range f.Names() {
			if len(n) < 2 {
				continue
			}
			score := -1
			switch d := cliutil.EditDistance(name, n); {
			case d <= max(1, len(name)/4):
				score = d
			case len(name) >= 3 && strings.HasPrefix(n, name):
				score = 10 + len(n) - len(name) // a prefix: the shortest wins
			}
			if score >= 0 && score < bestScore {
				best, bestScore = "--"+n, score
			}
		}
	}
	return best
}

// completeFlags prints every option for shell completion.
func completeFlags(w io.Writer, flags []cli.Flag) {
	for _, f := range flags {
		if vf, ok := f.(cli.VisibleFlag); ok && !vf.IsVisible() {
			continue
		}
		for _, n := range f.Names() {
			if len(n) == 1 {
				fmt.Fprintln(w, "-"+n)
			} else {
				fmt.Fprintln(w, "--"+n)
			}
		}
	}
}

// printCompletion prints the completion script of the app for shell,
// generated from its flags (internal/clidoc).
func printCompletion(app *cli.App, shell string) error {
	script, ok := clidoc.Script(clidoc.FromApp(app), shell)
	if !ok {
		return usageErr(app.Name, "Error: --completion takes bash, zsh or fish.")
	}
	_, err := io.WriteString(app.Writer, script)
	return err
}

// helpTemplate is urfave's app template without the commands section, with
// our description (examples) and the exit codes at the end.
var helpTemplate = `NAME:
   {{.Name}} - {{.Usage}}

USAGE:
   {{.UsageText}}
{{if .VisibleFlagCategories}}
OPTIONS:{{range .VisibleFlagCategories}}
   {{if .Name}}{{.Name}}:
{{end}}{{range .Flags}}   {{.}}
{{end}}{{end}}{{end}}
{{.Description}}
` + cliutil.ExitCodesHelp()

// syncWriter serialises writes from the client's reader and writer
// goroutines (packet trace) and the message output.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
