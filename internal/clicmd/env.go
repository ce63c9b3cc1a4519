package clicmd

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fatih/color"
	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/cliutil"
)

// env is what an app needs from its process: standard streams, the
// environment and terminal facts. Tests replace the fields.
type env struct {
	name   string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// prompt returns the password prompt for username, or nil when stdin
	// is not a terminal.
	prompt func(username string) func() (string, error)
	// colorOut/colorErr say whether stdout/stderr may be coloured (before
	// --no-color and NO_COLOR are applied).
	stdoutTTY, stderrTTY bool
}

func newEnv(name string, stdin io.Reader, stdout, stderr io.Writer) *env {
	e := &env{
		name: name, stdin: stdin, stdout: stdout, stderr: stderr,
		getenv:    os.Getenv,
		stdoutTTY: IsTerminal(stdout),
		stderrTTY: IsTerminal(stderr),
	}
	e.prompt = func(user string) func() (string, error) {
		f, _ := stdin.(*os.File)
		return cliutil.TermPrompt(f, stderr, user)
	}
	return e
}

// appGetenv returns the getenv of the env app was built with (newApp
// records it in the app's Metadata), or os.Getenv for an app built
// otherwise. Run reads the configuration file through it, so tests
// replace the environment.
func appGetenv(app *cli.App) func(string) string {
	if e, ok := app.Metadata[metaEnv].(*env); ok {
		return e.getenv
	}
	return os.Getenv
}

// reporter prints runtime errors and warnings to stderr in mosquitto's
// style ("Error: ...") with an optional hint line, in colour on a
// terminal, and nothing with --quiet.
type reporter struct {
	w     io.Writer
	quiet bool
	pal   *cliutil.Palette
}

func (r *reporter) line(c *color.Color, msg, hint string) string {
	var b strings.Builder
	b.WriteString(cliutil.Lines(c, msg))
	if hint != "" {
		b.WriteString("\n")
		b.WriteString(cliutil.Lines(r.pal.Hint, "Hint: "+hint))
	}
	return b.String()
}

// errorText formats an error message and hint for an exit error.
func (r *reporter) errorText(msg, hint string) string {
	if r.quiet {
		return ""
	}
	return r.line(r.pal.Error, msg, hint)
}

// warn prints a warning at once.
func (r *reporter) warn(msg, hint string) {
	if r.quiet {
		return
	}
	fmt.Fprintln(r.w, r.line(r.pal.Warning, msg, hint))
}
