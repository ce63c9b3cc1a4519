// Package clicmd builds the mqpub and mqsub command-line applications
// (urfave/cli/v2). The apps take their standard streams as arguments and
// never call os.Exit, so tests run them in-process; Run maps the outcome
// to mosquitto's exit codes.
package clicmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/mqkit/mqkit/internal/cliutil"
)

// propSep joins the words of one -D property into a single flag value.
const propSep = "\x00"

// Run runs app with args (args[0] is the program name) and returns the
// exit status. It first inserts the options of the configuration file
// (~/.config/mqpub or mqsub, or -o FILE; none with --no-config) before
// the command-line arguments, then gathers the multi-word
// "-D CMD NAME VALUE" options, which urfave/cli cannot parse, into single
// -D values.
func Run(ctx context.Context, app *cli.App, args []string) int {
	if len(args) == 0 {
		args = []string{app.Name}
	}
	words, err := configArgs(app, appGetenv(app), args[1:])
	if err != nil {
		return ExitCode(app.ErrWriter, err)
	}
	words = resolveOrder(app, words)
	if app.Metadata != nil {
		app.Metadata[metaArgs] = words // for the unknown-option message
	}
	rest, specs, err := cliutil.SplitPropertyArgs(words, valueFlags(app))
	if err != nil {
		fmt.Fprintf(app.ErrWriter, "%s\n\n%s", err, useHelp(app.Name))
		return cliutil.ExitError
	}
	argv := append([]string{args[0]}, rest...)
	for _, s := range specs {
		argv = append(argv, "-"+flagProperty, strings.Join(s, propSep))
	}
	return ExitCode(app.ErrWriter, app.RunContext(ctx, argv))
}

// ExitCode turns the error returned by a clicmd app into the exit status,
// printing its message (if any) to w.
func ExitCode(w io.Writer, err error) int {
	if err == nil {
		return cliutil.ExitOK
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := ec.Error(); msg != "" {
			fmt.Fprintln(w, msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintf(w, "Error: %v\n", err)
	return cliutil.ExitError
}

// valueFlags returns a predicate telling which command-line words are
// flags that take a value (so SplitPropertyArgs skips their value).
func valueFlags(app *cli.App) func(string) bool {
	names := map[string]bool{}
	for _, f := range app.Flags {
		if isBoolFlag(f) {
			continue
		}
		for _, n := range f.Names() {
			names["-"+n] = true
			names["--"+n] = true
		}
	}
	return func(s string) bool { return names[s] }
}

func useHelp(name string) string {
	return fmt.Sprintf("Use '%s --help' to see usage.", name)
}

// usageErr is an argument error: mosquitto's message, a blank line and the
// pointer to --help; exit status 1. Bad-argument errors are printed even
// with --quiet, as in mosquitto.
func usageErr(name string, format string, a ...any) error {
	msg := fmt.Sprintf(format, a...)
	if !strings.HasPrefix(msg, "Error") {
		msg = "Error: " + msg
	}
	return cli.Exit(msg+"\n\n"+useHelp(name), cliutil.ExitError)
}

// IsTerminal reports whether r or w is an *os.File attached to a terminal.
func IsTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}
