// Command gendocs writes the manual pages and shell completion scripts of
// mqbroker, mqpub and mqsub, generated from their flag definitions
// (internal/clidoc), for make man and make install:
//
//	DIR/man/man1/{mqbroker,mqpub,mqsub}.1
//	DIR/man/man5/mqbroker.conf.5
//	DIR/completion/bash/{mqbroker,mqpub,mqsub}
//	DIR/completion/zsh/_{mqbroker,mqpub,mqsub}
//	DIR/completion/fish/{mqbroker,mqpub,mqsub}.fish
//
// Usage: go run ./internal/tools/gendocs [-out DIR] (default build).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/brokercmd"
	"github.com/mqkit/mqkit/internal/clicmd"
	"github.com/mqkit/mqkit/internal/clidoc"
	"github.com/mqkit/mqkit/internal/cliutil"
	"github.com/mqkit/mqkit/internal/config"
	"github.com/mqkit/mqkit/internal/version"
)

func main() {
	out := flag.String("out", "build", "output directory")
	flag.Parse()
	if err := generate(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

// apps returns the three programs' apps (writing nowhere).
func apps() []*cli.App {
	return []*cli.App{
		brokercmd.NewApp(io.Discard, io.Discard),
		clicmd.NewPubApp(strings.NewReader(""), io.Discard, io.Discard),
		clicmd.NewSubApp(strings.NewReader(""), io.Discard, io.Discard),
	}
}

// files returns every generated file, path relative to the output
// directory -> content.
func files() map[string]string {
	out := map[string]string{}
	see := map[string][]string{
		"mqbroker": {"mqbroker.conf(5)", "mqpub(1)", "mqsub(1)", "mosquitto(8)"},
		"mqpub":    {"mqsub(1)", "mqbroker(1)", "mosquitto_pub(1)"},
		"mqsub":    {"mqpub(1)", "mqbroker(1)", "mosquitto_sub(1)"},
	}
	for _, app := range apps() {
		c := clidoc.FromApp(app)
		p := clidoc.Page{Section: 1, Version: version.Version, SeeAlso: see[c.Name]}
		if c.Name != "mqbroker" {
			p.Sections = append(p.Sections, clidoc.Section{Title: "Exit status", Text: strings.TrimPrefix(cliutil.ExitCodesHelp(), "EXIT STATUS:\n")})
		}
		p.Sections = append(p.Sections, clidoc.Section{Title: "Shell completion", Text: completionHelp(c.Name)})
		out["man/man1/"+c.Name+".1"] = clidoc.Man(c, p)
		out["completion/bash/"+c.Name] = clidoc.Bash(c)
		out["completion/zsh/_"+c.Name] = clidoc.Zsh(c)
		out["completion/fish/"+c.Name+".fish"] = clidoc.Fish(c)
	}
	out["man/man5/mqbroker.conf.5"] = confPage()
	return out
}

func completionHelp(name string) string {
	how := name + " --completion"
	if name == "mqbroker" {
		how = name + " completion"
	}
	return fmt.Sprintf("make install puts the scripts where bash-completion, zsh and fish look for them.\n"+
		"To load them by hand:\n  source <(%[1]s bash)      # bash\n  source <(%[1]s zsh)       # zsh\n  %[1]s fish | source      # fish", how)
}

// confPage is mqbroker.conf(5): every keyword the parser accepts and every
// mosquitto keyword it refuses, from internal/config's own tables.
func confPage() string {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH MQBROKER.CONF 5 \"\" \"mqkit %s\" \"mqkit manual\"\n", clidoc.Roff(version.Version))
	b.WriteString(".SH NAME\nmqbroker.conf \\- the configuration file of mqbroker (mosquitto.conf syntax)\n")
	b.WriteString(".SH DESCRIPTION\n" +
		"mqbroker reads mosquitto 2.0 configuration files (\\fBmqbroker \\-c FILE\\fR): one \\fIname value\\fR per line, " +
		"a line starting with \\fB#\\fR is a comment, \\fBinclude_dir DIR\\fR reads DIR/*.conf. " +
		"As in mosquitto, everything after a string option's name is its value, \\fB#\\fR included: " +
		"\\fBpassword_file /etc/pw # users\\fR names the file \"/etc/pw # users\" (mqbroker says so in its error); " +
		"put comments on lines of their own. " +
		"Every option has mosquitto's meaning (see \\fBmosquitto.conf\\fR(5)); an option mqbroker does not support is an " +
		"error naming the file, line and option, never silently ignored. " +
		"\\fBmqbroker \\-\\-test\\-config \\-c FILE\\fR checks a file and every file it names.\n")
	b.WriteString(".SH KEYWORDS\nThe options mqbroker accepts:\n.PP\n")
	for _, k := range config.Keywords() {
		fmt.Fprintf(&b, ".B %s\n.br\n", clidoc.Roff(k))
	}
	b.WriteString(".SH REFUSED OPTIONS\nmosquitto options mqbroker refuses, with the reason it gives " +
		"(also every \\fBplugin_opt_*\\fR, \\fBauth_opt_*\\fR and unsupported \\fBbridge_*\\fR option):\n")
	refused := config.Refused()
	keys := make([]string, 0, len(refused))
	for k := range refused {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, ".TP\n.B %s\n%s\n", clidoc.Roff(k), clidoc.Roff(refused[k]))
	}
	b.WriteString(".SH SEE ALSO\n.BR mqbroker (1),\n.BR mosquitto.conf (5)\n")
	return b.String()
}

func generate(dir string) error {
	fs := files()
	names := make([]string, 0, len(fs))
	for n := range fs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(fs[n]), 0o644); err != nil {
			return err
		}
	}
	return nil
}
