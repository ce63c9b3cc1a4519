package clicmd

// Client configuration files, as mosquitto's client_config_load: the
// options read from $XDG_CONFIG_HOME/mqsub (else ~/.config/mqsub) are
// inserted before the command-line arguments, so the command line
// overrides single-valued options and adds to repeatable ones (-t, -T,
// -U, --topic-qos, -D).

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/cliutil"
)

// Options choosing the configuration file. Run takes them off the command
// line before urfave/cli parses it; they are not allowed in a file.
const (
	flagOptionsFile = "options-file" // -o FILE (mosquitto 2.1): read FILE instead
	flagNoConfig    = "no-config"    // read no configuration file
)

// mosquittoConfigName is mosquitto's file for each command, read when
// ours does not exist.
var mosquittoConfigName = map[string]string{"mqpub": "mosquitto_pub", "mqsub": "mosquitto_sub"}

// configArgs returns args (the command line without the program name,
// -o FILE and --no-config) preceded by the options of the configuration
// file. The file is -o's FILE, else $XDG_CONFIG_HOME/NAME or
// $HOME/.config/NAME, else mosquitto's file next to it. An error in our
// own file is fatal; a mosquitto file with an option we do not support
// is ignored with a warning on app.ErrWriter.
func configArgs(app *cli.App, getenv func(string) string, args []string) ([]string, error) {
	opts := newOptionTable(app)
	sel, rest, err := takeConfigOptions(app.Name, args, opts)
	if err != nil || sel.noConfig || isCompletion(rest) {
		return rest, err
	}
	var options [][]string
	if sel.file != "" {
		data, err := os.ReadFile(sel.file)
		if err != nil {
			return nil, cli.Exit(fmt.Sprintf("Error: cannot read options file '%s': %v", sel.file, pathErr(err)), cliutil.ExitError)
		}
		if options, err = parseConfig(data, opts); err != nil {
			return nil, cli.Exit(fmt.Sprintf("Error: %s %v", sel.file, err), cliutil.ExitError)
		}
		return append(canonicalize(options, sel.forms, opts), rest...), nil
	}
	dir := configDir(getenv)
	if dir == "" {
		return rest, nil
	}
	home := getenv("HOME")
	path := filepath.Join(dir, app.Name)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if options, err = parseConfig(data, opts); err != nil {
			return nil, cli.Exit(fmt.Sprintf("Error: %s %v\nHint: fix the file, or run with --%s to ignore it.",
				tilde(path, home), err, flagNoConfig), cliutil.ExitError)
		}
	case errors.Is(err, fs.ErrNotExist):
		options = mosquittoConfig(app, dir, home, opts, sel.quiet)
	default:
		return nil, cli.Exit(fmt.Sprintf("Error: cannot read %s: %v", tilde(path, home), pathErr(err)), cliutil.ExitError)
	}
	return append(canonicalize(options, sel.forms, opts), rest...), nil
}

// mosquittoConfig reads mosquitto's configuration file in dir, in
// mosquitto's format. It returns nil, after a warning, when the file has
// an option that app does not accept, or cannot be read.
func mosquittoConfig(app *cli.App, dir, home string, opts optionTable, quiet bool) [][]string {
	name := mosquittoConfigName[app.Name]
	if name == "" {
		return nil
	}
	path := filepath.Join(dir, name)
	warn := func(format string, a ...any) {
		if !quiet {
			fmt.Fprintf(app.ErrWriter, "Warning: ignoring %s: %s (an empty %s stops this fallback)\n",
				tilde(path, home), fmt.Sprintf(format, a...), tilde(filepath.Join(dir, app.Name), home))
		}
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		warn("%v", pathErr(err))
		return nil
	}
	var options [][]string
	for n, line := range configLines(data) {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		o, err := opts.group(mosquittoWords(trimmed, opts))
		var unknown unknownOptionError
		switch {
		case errors.As(err, &unknown):
			warn("line %d: %s does not support '%s'", n+1, app.Name, string(unknown))
			return nil
		case err != nil:
			warn("line %d: %v", n+1, err)
			return nil
		}
		options = append(options, o...)
	}
	return options
}

// mosquittoWords splits a line of a mosquitto configuration file as
// mosquitto does: the option, then the rest of the line as its value
// (so a value may contain spaces, and quotes are part of it). After an
// option without a value the rest is read as another option; the words
// of -D are separated by spaces (mosquitto cannot read -D from a file).
func mosquittoWords(line string, opts optionTable) []string {
	opt, rest := line, ""
	if i := strings.IndexAny(line, " \t"); i >= 0 {
		opt, rest = line[:i], strings.TrimSpace(line[i+1:])
	}
	if rest == "" {
		return []string{opt}
	}
	name, _, inline, _ := parseOption(opt)
	switch {
	case inline:
	case isPropertyName(name):
		return append([]string{opt}, strings.Fields(rest)...)
	case opts.takesValue(name):
		return []string{opt, rest}
	}
	return append([]string{opt}, mosquittoWords(rest, opts)...)
}

// parseConfig reads our configuration format: one or more options a line,
// split into words at spaces and tabs, where '...' and "..." keep spaces
// in a word (in "...", \" and \\ stand for " and \); a line whose first
// non-blank character is # is a comment. An option's values must be on
// its line.
func parseConfig(data []byte, opts optionTable) ([][]string, error) {
	var options [][]string
	for n, line := range configLines(data) {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		words, err := splitWords(trimmed)
		if err == nil {
			var o [][]string
			if o, err = opts.group(words); err == nil {
				options = append(options, o...)
				continue
			}
		}
		return nil, fmt.Errorf("line %d: %w", n+1, err)
	}
	return options, nil
}

// configLines splits a file into lines, without a UTF-8 byte order mark
// and the \r of CRLF line ends.
func configLines(data []byte) []string {
	lines := strings.Split(strings.TrimPrefix(string(data), "\ufeff"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// splitWords splits line into words at spaces and tabs; single quotes
// keep everything up to the next ', double quotes everything up to the
// next unescaped " (with \" and \\ escapes); a backslash anywhere else is
// an ordinary character (so -F '%t\n' and -F %t\n are the same).
func splitWords(line string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; c {
		case ' ', '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("missing closing ' quote.")
			}
			w.WriteString(line[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && (line[i+1] == '"' || line[i+1] == '\\') {
					i++
				}
				w.WriteByte(line[i])
			}
			if i == len(line) {
				return nil, errors.New(`missing closing " quote.`)
			}
			inWord = true
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// configDir is $XDG_CONFIG_HOME, else $HOME/.config, else "".
func configDir(getenv func(string) string) string {
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		return d
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config")
	}
	return ""
}

// tilde abbreviates a path under home to ~/... for messages.
func tilde(path, home string) string {
	if home != "" {
		if rel, ok := strings.CutPrefix(path, strings.TrimSuffix(home, "/")+"/"); ok {
			return "~/" + rel
		}
	}
	return path
}

// pathErr drops the path from an *fs.PathError (the message names it).
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// isCompletion reports whether urfave/cli is asked for shell completion,
// which does not depend on the configuration.
func isCompletion(args []string) bool {
	return len(args) > 0 && args[len(args)-1] == "--generate-bash-completion"
}

// configSelection is what the command line says about the configuration
// file.
type configSelection struct {
	file     string // -o FILE
	noConfig bool   // --no-config
	quiet    bool   // --quiet: no warning about mosquitto's file
	// forms maps each option used on the command line (by its first
	// name) to the name it was given as.
	forms map[string]string
}

// takeConfigOptions removes -o FILE, --options-file FILE and --no-config
// from args (up to "--"), skipping the values of other options.
func takeConfigOptions(prog string, args []string, opts optionTable) (configSelection, []string, error) {
	sel := configSelection{forms: map[string]string{}}
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, val, inline, ok := parseOption(a)
		switch {
		case !ok:
			rest = append(rest, a)
			continue
		case name == "o" || name == flagOptionsFile:
			if sel.file != "" {
				return sel, nil, usageErr(prog, "Error: Duplicate -o argument given.")
			}
			if !inline && i+1 < len(args) {
				i++
				val = args[i]
			}
			if val == "" {
				return sel, nil, usageErr(prog, "Error: -o argument given but no options file specified.")
			}
			sel.file = val
			continue
		case name == flagNoConfig:
			b, err := strconv.ParseBool(val)
			if inline && err != nil {
				return sel, nil, usageErr(prog, "Error: invalid value %q for --%s.", val, flagNoConfig)
			}
			sel.noConfig = !inline || b
			continue
		case name == flagQuiet:
			sel.quiet = true
		}
		if primary := opts.primary(name); primary != "" {
			if _, seen := sel.forms[primary]; !seen {
				sel.forms[primary] = name
			}
		}
		rest = append(rest, a)
		if !inline {
			n := min(opts.valueCount(name, args[i+1:]), len(args)-i-1)
			rest = append(rest, args[i+1:i+1+n]...)
			i += n
		}
	}
	if sel.file != "" && sel.noConfig {
		return sel, nil, usageErr(prog, "Error: -o and --%s cannot be used together.", flagNoConfig)
	}
	return sel, rest, nil
}

// canonicalize joins the options read from a file, giving each the name
// it has on the command line (or its first name in the file):
// urfave/cli refuses an option given under two names, such as -p in the
// file and --port on the command line.
func canonicalize(options [][]string, forms map[string]string, opts optionTable) []string {
	var words []string
	for _, o := range options {
		name, val, inline, _ := parseOption(o[0])
		primary := opts.primary(name)
		form, seen := forms[primary]
		if !seen {
			form = name
			forms[primary] = name
		}
		opt := "--" + form
		if len(form) == 1 {
			opt = "-" + form
		}
		if inline {
			opt += "=" + val
		}
		words = append(words, opt)
		words = append(words, o[1:]...)
	}
	return words
}

// parseOption splits -name, --name, -name=value or --name=value (the
// forms Go's flag package accepts); ok is false for any other word.
func parseOption(word string) (name, value string, inline, ok bool) {
	s, ok := strings.CutPrefix(word, "-")
	if !ok {
		return "", "", false, false
	}
	s = strings.TrimPrefix(s, "-")
	if s == "" || s[0] == '-' || s[0] == '=' {
		return "", "", false, false
	}
	name, value, inline = strings.Cut(s, "=")
	return name, value, inline, true
}

func isPropertyName(name string) bool { return name == flagProperty || name == "property" }

// optionTable knows the options of an app.
type optionTable struct {
	first    map[string]string // any name -> first name
	hasValue map[string]bool   // names of options that take a value
}

func newOptionTable(app *cli.App) optionTable {
	t := optionTable{first: map[string]string{}, hasValue: map[string]bool{}}
	for _, f := range app.Flags {
		names := f.Names()
		isBool := isBoolFlag(f)
		for _, n := range names {
			t.first[n] = names[0]
			t.hasValue[n] = !isBool
		}
	}
	return t
}

// primary returns the first name of the option called name, or "".
func (t optionTable) primary(name string) string { return t.first[name] }

func (t optionTable) takesValue(name string) bool { return t.hasValue[name] }

// valueCount is the number of words after option name that are its
// values: 3 or 4 for -D (CMD NAME VALUE, or CMD user-property KEY
// VALUE), 1 for other options with a value. rest is what follows.
func (t optionTable) valueCount(name string, rest []string) int {
	switch {
	case isPropertyName(name):
		if len(rest) > 1 && strings.EqualFold(rest[1], "user-property") {
			return 4
		}
		return 3
	case t.hasValue[name]:
		return 1
	}
	return 0
}

// unknownOptionError is an option the app does not have.
type unknownOptionError string

func (e unknownOptionError) Error() string { return fmt.Sprintf("Unknown option '%s'.", string(e)) }

// group splits the words of one line of a configuration file into
// options, each with its values.
func (t optionTable) group(words []string) ([][]string, error) {
	var options [][]string
	for i := 0; i < len(words); i++ {
		w := words[i]
		name, _, inline, ok := parseOption(w)
		switch {
		case !ok:
			return nil, fmt.Errorf("'%s' is not an option (quote a value that contains spaces).", w)
		case name == "o" || name == flagOptionsFile || name == flagNoConfig:
			return nil, fmt.Errorf("%s cannot be used in a configuration file.", w)
		case t.primary(name) == "":
			return nil, unknownOptionError(w)
		}
		n := 0
		if !inline {
			n = t.valueCount(name, words[i+1:])
		}
		if i+n >= len(words) {
			if isPropertyName(name) {
				return nil, fmt.Errorf("%s argument given but not enough arguments specified.", w)
			}
			return nil, fmt.Errorf("%s argument given but no value specified.", w)
		}
		options = append(options, words[i:i+1+n])
		i += n
	}
	return options, nil
}
