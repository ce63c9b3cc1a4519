package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/clidoc"
	"github.com/mqkit/mqkit/internal/config"
	"github.com/mqkit/mqkit/internal/testtool"
)

// visibleFlagNames lists every name of every visible flag of the app and
// of its visible subcommands, as typed (-p, --port).
func visibleFlagNames(app *cli.App) []string {
	var out []string
	add := func(flags []cli.Flag) {
		for _, f := range flags {
			if vf, ok := f.(cli.VisibleFlag); ok && !vf.IsVisible() {
				continue
			}
			for _, n := range f.Names() {
				if len(n) == 1 {
					out = append(out, "-"+n)
				} else {
					out = append(out, "--"+n)
				}
			}
		}
	}
	add(app.Flags)
	for _, c := range app.Commands {
		if !c.Hidden {
			add(c.Flags)
		}
	}
	return out
}

func roffName(n string) string { return strings.ReplaceAll(n, "-", `\-`) }

// TestEveryFlagDocumented: each visible flag of each program appears in
// its man page and in its bash, zsh and fish completion scripts.
func TestEveryFlagDocumented(t *testing.T) {
	fs := files()
	for _, app := range apps() {
		names := visibleFlagNames(app)
		if len(names) < 10 {
			t.Fatalf("%s: only %d flags found", app.Name, len(names))
		}
		man := fs["man/man1/"+app.Name+".1"]
		bash := fs["completion/bash/"+app.Name]
		zsh := fs["completion/zsh/_"+app.Name]
		fish := fs["completion/fish/"+app.Name+".fish"]
		for _, n := range names {
			if !strings.Contains(man, `\fB`+roffName(n)+`\fR`) {
				t.Errorf("%s.1 lacks %s", app.Name, n)
			}
			if !strings.Contains(bash, " "+n+" ") && !strings.Contains(bash, "'"+n+" ") && !strings.Contains(bash, " "+n+"'") {
				t.Errorf("bash completion of %s lacks %s", app.Name, n)
			}
			if !strings.Contains(zsh, "'"+n+"[") && !strings.Contains(zsh, "'*"+n+"[") {
				t.Errorf("zsh completion of %s lacks %s", app.Name, n)
			}
			fishOpt := " -l " + strings.TrimPrefix(n, "--")
			if len(n) == 2 {
				fishOpt = " -s " + n[1:]
			}
			if !strings.Contains(fish, fishOpt+" ") {
				t.Errorf("fish completion of %s lacks %s", app.Name, n)
			}
		}
		for _, c := range app.Commands {
			if !c.Hidden && !strings.Contains(man, ".SS mqbroker "+c.Name) {
				t.Errorf("%s.1 lacks the %s command", app.Name, c.Name)
			}
		}
	}
	conf := fs["man/man5/mqbroker.conf.5"]
	for _, k := range config.Keywords() {
		if !strings.Contains(conf, ".B "+roffName(k)+"\n") {
			t.Errorf("mqbroker.conf.5 lacks %s", k)
		}
	}
}

// TestManPagesRender: groff formats every page without a warning.
func TestManPagesRender(t *testing.T) {
	groff := testtool.Require(t, "groff")
	for name, text := range files() {
		if !strings.HasPrefix(name, "man/") {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, groff, "-man", "-Tutf8", "-ww", "-z")
		cmd.Stdin = strings.NewReader(text)
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil || len(out) > 0 {
			t.Errorf("groff %s: %v\n%s", name, err, out)
		}
	}
}

// TestBrokerCompletionInBash: the command lines on which urfave/cli's
// --generate-bash-completion printed a nil-pointer panic (issue 14)
// complete in a real bash with the generated script.
func TestBrokerCompletionInBash(t *testing.T) {
	bash := testtool.Require(t, "bash")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "my.conf"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fs := files()
	for _, tc := range []struct {
		script, line string
		want         []string
	}{
		{"mqbroker", "mqbroker selftest --j", []string{"--json"}},
		{"mqbroker", "mqbroker -c ", []string{"my.conf"}},
		{"mqbroker", "mqbroker --pro", []string{}},
		{"mqbroker", "mqbroker --po", []string{"--port"}},
		{"mqbroker", "mqbroker completion ", []string{"bash", "fish", "zsh"}},
		{"mqbroker", "mqbroker pa", []string{"passwd"}},
		{"mqpub", "mqpub --qo", []string{"--qos"}},
		{"mqpub", "mqpub -q ", []string{"0", "1", "2"}},
		{"mqsub", "mqsub --cafile my", []string{"my.conf"}},
		{"mqsub", "mqsub -V ", []string{"31", "311", "5", "mqttv31", "mqttv311", "mqttv5"}},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		got, err := clidoc.BashCompletions(ctx, bash, fs["completion/bash/"+tc.script], dir, tc.line)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if got == nil {
			got = []string{}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %q, want %q", tc.line, got, tc.want)
		}
	}
}

// TestGenerate writes the files where make install takes them from.
func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	if err := generate(dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"man/man1/mqbroker.1", "man/man1/mqpub.1", "man/man1/mqsub.1", "man/man5/mqbroker.conf.5",
		"completion/bash/mqsub", "completion/zsh/_mqpub", "completion/fish/mqbroker.fish"} {
		if fi, err := os.Stat(filepath.Join(dir, p)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// TestCompletionInZshAndFish: every generated zsh and fish script parses,
// zsh registers it with compinit, and fish completes the real command
// lines of the issue.
func TestCompletionInZshAndFish(t *testing.T) {
	zsh := testtool.Require(t, "zsh")
	fish := testtool.Require(t, "fish")
	fs := files()
	run := func(tool string, args []string, stdin string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, tool, args...)
		cmd.Stdin = strings.NewReader(stdin)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
		}
		return string(out)
	}
	for _, name := range []string{"mqbroker", "mqpub", "mqsub"} {
		z := fs["completion/zsh/_"+name]
		run(zsh, []string{"-n"}, z)
		if got := strings.TrimSpace(run(zsh, []string{"-f"}, "autoload -U compinit && compinit -u -D\n"+z+"\nprint -r -- ${_comps["+name+"]}\n")); got != "_mqkit_"+name {
			t.Errorf("zsh: %s completes with %q", name, got)
		}
		run(fish, []string{"--no-config", "--no-execute"}, fs["completion/fish/"+name+".fish"])
	}
	for _, tc := range []struct{ prog, line, want string }{
		{"mqbroker", "mqbroker selftest --j", "--json"},
		{"mqbroker", "mqbroker compl", "completion"},
		{"mqpub", "mqpub --qo", "--qos"},
		{"mqsub", "mqsub --retained-o", "--retained-only"},
	} {
		out := run(fish, []string{"--no-config"}, fs["completion/fish/"+tc.prog+".fish"]+"\ncomplete -C '"+tc.line+"'\n")
		if first := strings.SplitN(strings.TrimSpace(out), "\t", 2)[0]; first != tc.want {
			t.Errorf("fish %q: %q, want %s first", tc.line, out, tc.want)
		}
	}
}

// zptyDriver types a command line and <TAB> into an interactive zsh (on a
// pseudo-terminal, zsh's zpty module) with the completion script loaded,
// and prints what the line became.
const zptyDriver = `zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "cd ${(q)2}; PS1='> '; autoload -U compinit; compinit -u -D; source ${(q)1}"
sleep 0.3
zpty -w -n z "$3"$'\t'
out=''
for i in {1..50}; do
	sleep 0.1
	while zpty -rt z chunk; do out+=$chunk; done
	[[ $out == *"$4"* ]] && break
done
zpty -d z
print -r -- "$out"
`

// TestCompletionInteractiveZsh: <TAB> in a real interactive zsh completes
// what the generated scripts promise.
func TestCompletionInteractiveZsh(t *testing.T) {
	zsh := testtool.Require(t, "zsh")
	fs := files()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "my.conf"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ prog, line, want string }{
		{"mqbroker", "mqbroker selftest --j", "mqbroker selftest --json"},
		{"mqbroker", "mqbroker -c my", "mqbroker -c my.conf"},
		{"mqpub", "mqpub --qo", "mqpub --qos"},
		{"mqsub", "mqsub --will-re", "mqsub --will-retain"},
	} {
		script := filepath.Join(t.TempDir(), "_"+tc.prog)
		if err := os.WriteFile(script, []byte(fs["completion/zsh/_"+tc.prog]), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, zsh, "-f", "-c", zptyDriver, "zsh", script, dir, tc.line, tc.want)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "TERM=dumb")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("zsh: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("zsh: %q<TAB> did not become %q:\n%q", tc.line, tc.want, out)
		}
	}
}
