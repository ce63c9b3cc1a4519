package clicmd

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/cliutil"
	"github.com/mqkit/mqkit/internal/version"
)

const flagCompletion = "completion"

// metaEnv is the app Metadata key holding the *env the app was built with.
const metaEnv = "env"

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
	flags = append(flags, &cli.StringFlag{Name: flagCompletion, Hidden: true,
		Usage: "print the shell completion script (bash or zsh)"})
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
			return usageErr(e.name, "%s", flagErrorText(err))
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
			return printCompletion(c.App.Writer, e.name, c.String(flagCompletion))
		case c.Args().Present():
			return usageErr(e.name, "Error: Unknown option '%s'.", c.Args().First())
		}
		return spec.action(c)
	}
	return app
}

// flagErrorText rewrites the flag package's messages in mosquitto's words.
func flagErrorText(err error) string {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "flag provided but not defined: "):
		return fmt.Sprintf("Error: Unknown option '%s'.", strings.TrimPrefix(msg, "flag provided but not defined: "))
	case strings.HasPrefix(msg, "flag needs an argument: "):
		return fmt.Sprintf("Error: %s argument given but no value specified.", strings.TrimPrefix(msg, "flag needs an argument: "))
	}
	return "Error: " + msg
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

func printCompletion(w io.Writer, prog, shell string) error {
	switch shell {
	case "bash":
		fmt.Fprintf(w, bashCompletion, prog, prog)
	case "zsh":
		fmt.Fprintf(w, "autoload -U +X bashcompinit && bashcompinit\n"+bashCompletion, prog, prog)
	default:
		return usageErr(prog, "Error: --completion takes bash or zsh.")
	}
	return nil
}

// bashCompletion asks the program itself for candidates (urfave/cli's
// --generate-bash-completion).
const bashCompletion = `# %s completion; load with: source <(%[1]s --completion bash)
_%[2]s_complete() {
  local cur="${COMP_WORDS[COMP_CWORD]}"
  local opts
  opts=$("${COMP_WORDS[0]}" --generate-bash-completion 2>/dev/null)
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
  else
    COMPREPLY=()
  fi
}
complete -o bashdefault -o default -F _%[2]s_complete %[2]s
`

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
