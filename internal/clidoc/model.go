// Package clidoc turns the urfave/cli definitions of mqbroker, mqpub and
// mqsub into their manual pages (roff) and shell completion scripts for
// bash, zsh and fish. Everything is generated from the flags the programs
// parse, so a new flag appears in the man page and in completion without
// further work (tests check that every visible flag does).
//
// The completion scripts are static: they do not run the program on each
// <TAB> (urfave/cli's --generate-bash-completion hook panics on some
// command lines, such as "mqbroker selftest --j<TAB>", and costs a process
// start per key press).
package clidoc

import (
	"regexp"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
)

// Option is one flag: every name it answers to, and what its value is.
type Option struct {
	Names   []string // with dashes: "-t", "--topic"
	Value   bool     // takes a value
	Arg     string   // the value's placeholder, e.g. FILE
	Kind    string   // "file", "dir" or "" (any text)
	Repeat  bool     // may be given several times
	Usage   string   // one line, without backquotes
	Choices []string // the accepted values, when they are a short list
}

// Command is a program or one of its subcommands.
type Command struct {
	Name        string
	Usage       string
	UsageText   string
	Description string
	Options     []Option
	Commands    []*Command
	Args        []string // choices for the positional argument (completion SHELL)
	ArgKind     string   // "file" when positional arguments are files
}

// Shells are the shells completion scripts exist for.
var Shells = []string{"bash", "zsh", "fish"}

// fileFlags and dirFlags are flag names whose value is a path, for flags
// whose usage has no FILE/DIR/PATH placeholder.
var (
	fileFlags = map[string]bool{"cafile": true, "cert": true, "key": true, "file": true, "f": true,
		"config-file": true, "password-file": true, "cpuprofile": true, "tls-keylog": true, "unix": true, "o": true}
	dirFlags = map[string]bool{"capath": true, "data": true}
)

// choices lists the values of flags that take one of a few words.
var choices = map[string][]string{
	"completion":       Shells,
	"protocol-version": {"31", "311", "5", "mqttv31", "mqttv311", "mqttv5"},
	"qos":              {"0", "1", "2"},
	"will-qos":         {"0", "1", "2"},
	"tls-version":      {"tlsv1.3", "tlsv1.2", "tlsv1.1"},
}

var placeholder = regexp.MustCompile("`([^`]*)`")

// FromApp describes an app and its visible subcommands.
func FromApp(app *cli.App) *Command {
	c := &Command{Name: app.Name, Usage: app.Usage, UsageText: app.UsageText, Description: app.Description}
	c.Options = options(app.Flags)
	for _, sub := range app.Commands {
		if sub.Hidden {
			continue
		}
		c.Commands = append(c.Commands, fromCommand(sub))
	}
	return c
}

func fromCommand(cmd *cli.Command) *Command {
	c := &Command{Name: cmd.Name, Usage: cmd.Usage, UsageText: cmd.UsageText, Description: cmd.Description,
		Options: options(cmd.Flags)}
	for _, sub := range cmd.Subcommands {
		if !sub.Hidden {
			c.Commands = append(c.Commands, fromCommand(sub))
		}
	}
	if cmd.Name == "completion" {
		c.Args = Shells
	}
	if cmd.Name == "passwd" {
		c.ArgKind = "file"
	}
	return c
}

func options(flags []cli.Flag) []Option {
	var out []Option
	for _, f := range flags {
		if vf, ok := f.(cli.VisibleFlag); ok && !vf.IsVisible() {
			continue
		}
		o := Option{}
		names := f.Names()
		for _, n := range names {
			if len(n) == 1 {
				o.Names = append(o.Names, "-"+n)
			} else {
				o.Names = append(o.Names, "--"+n)
			}
		}
		// Short names first, as help pages show them.
		sort.SliceStable(o.Names, func(i, j int) bool { return len(o.Names[i]) < len(o.Names[j]) })
		if df, ok := f.(cli.DocGenerationFlag); ok {
			o.Value = df.TakesValue()
			o.Usage = df.GetUsage()
		}
		if sf, ok := f.(cli.DocGenerationSliceFlag); ok && sf.IsSliceFlag() {
			o.Repeat = true
		}
		if strings.Contains(o.Usage, "repeatable") {
			o.Repeat = true
		}
		if m := placeholder.FindStringSubmatch(o.Usage); m != nil {
			o.Arg = m[1]
		}
		o.Usage = placeholder.ReplaceAllString(o.Usage, "$1")
		if o.Value {
			if o.Arg == "" {
				o.Arg = "VALUE"
			}
			for _, n := range names {
				switch {
				case fileFlags[n] || strings.Contains(o.Arg, "FILE") || o.Arg == "PATH":
					o.Kind = "file"
				case dirFlags[n] || o.Arg == "DIR":
					o.Kind = "dir"
				}
				if c, ok := choices[n]; ok {
					o.Choices = c
				}
			}
		}
		out = append(out, o)
	}
	return out
}

// AllOptionNames returns every option name of c and its subcommands.
func (c *Command) AllOptionNames() []string {
	var out []string
	for _, o := range c.Options {
		out = append(out, o.Names...)
	}
	for _, s := range c.Commands {
		out = append(out, s.AllOptionNames()...)
	}
	return out
}

// Script returns the completion script of c for shell ("bash", "zsh" or
// "fish"); ok is false for another shell.
func Script(c *Command, shell string) (script string, ok bool) {
	switch shell {
	case "bash":
		return Bash(c), true
	case "zsh":
		return Zsh(c), true
	case "fish":
		return Fish(c), true
	}
	return "", false
}

// funcName is a shell function name for the program.
func funcName(prog string) string {
	return "_mqkit_" + strings.NewReplacer("-", "_", ".", "_").Replace(prog)
}

// words joins option names for a shell word list.
func valueNames(opts []Option, kind string, wantValue bool) []string {
	var out []string
	for _, o := range opts {
		if o.Value == wantValue && (kind == "*" || o.Kind == kind) {
			out = append(out, o.Names...)
		}
	}
	return out
}
