package clidoc

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

	"github.com/mqkit/mqkit/internal/testtool"
)

// demoApp has what the real apps have: short and long names, file, dir
// and choice values, a repeatable flag, hidden flags and subcommands.
func demoApp() *cli.App {
	return &cli.App{
		Name: "demo", Usage: "a demo", UsageText: "demo [options]\n.starts with a dot",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config-file", Aliases: []string{"c"}, Usage: "configuration `FILE`"},
			&cli.StringFlag{Name: "data", Usage: "data `DIR`"},
			&cli.IntSliceFlag{Name: "port", Aliases: []string{"p"}, Usage: "listen on `PORT` (repeatable)"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "say more: [a] b:c 'q'"},
			&cli.StringFlag{Name: "qos", Usage: "QoS"},
			&cli.StringFlag{Name: "secret", Hidden: true},
		},
		Commands: []*cli.Command{
			{Name: "selftest", Usage: "check a broker", Flags: []cli.Flag{
				&cli.BoolFlag{Name: "json", Usage: "JSON output"},
				&cli.StringFlag{Name: "cafile", Usage: "CA file"},
			}},
			{Name: "completion", Usage: "print a completion script"},
			{Name: "hidden", Hidden: true},
		},
	}
}

func TestModel(t *testing.T) {
	c := FromApp(demoApp())
	names := c.AllOptionNames()
	for _, want := range []string{"-c", "--config-file", "--data", "-p", "--port", "-v", "--verbose", "--qos", "--json", "--cafile"} {
		if !slices.Contains(names, want) {
			t.Errorf("option %s missing from %v", want, names)
		}
	}
	if slices.Contains(names, "--secret") {
		t.Error("hidden flag listed")
	}
	if len(c.Commands) != 2 {
		t.Errorf("commands %d, want 2 (hidden left out)", len(c.Commands))
	}
	o := c.Options
	if o[0].Kind != "file" || o[1].Kind != "dir" || !o[2].Repeat || o[3].Value || o[4].Choices == nil {
		t.Errorf("options %+v", o)
	}
	if c.Commands[1].Args == nil {
		t.Error("completion has no shell choices")
	}
}

func TestMan(t *testing.T) {
	page := Man(FromApp(demoApp()), Page{Section: 1, Version: "v1", SeeAlso: []string{"mqsub(1)"},
		Sections: []Section{{Title: "Exit status", Text: "0 ok"}}})
	for _, want := range []string{".TH DEMO 1", `\fB\-c\fR, \fB\-\-config\-file\fR \fIFILE\fR`, `\fB\-\-json\fR`,
		".SS demo selftest", "\\&.starts with a dot", ".SH EXIT STATUS", ".BR mqsub (1)"} {
		if !strings.Contains(page, want) {
			t.Errorf("man page lacks %q:\n%s", want, page)
		}
	}
	if groff := testtool.Missing("groff"); groff == "" {
		out := runShell(t, "groff", "-man -Tutf8 -ww -z", page)
		if out != "" {
			t.Errorf("groff warnings:\n%s", out)
		}
	}
}

// runShell runs a shell (or other tool) with args and stdin, bounded.
func runShell(t *testing.T, tool, args, stdin string) string {
	t.Helper()
	path := testtool.Require(t, tool)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, strings.Fields(args)...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, args, err, out)
	}
	return string(out)
}

// bashComplete returns the completions of line with script loaded in a
// real bash, in a directory holding server.conf, notes.txt and datadir/.
func bashComplete(t *testing.T, script, line string) []string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"server.conf", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "datadir"), 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := BashCompletions(ctx, testtool.Require(t, "bash"), script, dir, line)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestBash(t *testing.T) {
	script := Bash(FromApp(demoApp()))
	tests := []struct {
		line string
		want []string
	}{
		{"demo --con", []string{"--config-file"}},
		{"demo -c ", []string{"datadir", "notes.txt", "server.conf"}},
		{"demo --config-file ser", []string{"server.conf"}},
		{"demo --data ", []string{"datadir"}},
		{"demo --qos ", []string{"0", "1", "2"}},
		{"demo -p ", nil},
		{"demo ", []string{"completion", "selftest"}},
		{"demo selftest --j", []string{"--json"}},
		{"demo -c server.conf selftest --", []string{"--json", "--cafile"}},
		{"demo completion ", []string{"bash", "fish", "zsh"}},
	}
	for _, tc := range tests {
		got := bashComplete(t, script, tc.line)
		slices.Sort(got)
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%q: got %q, want %q", tc.line, got, want)
		}
	}
}

func TestZsh(t *testing.T) {
	script := Zsh(FromApp(demoApp()))
	if !strings.HasPrefix(script, "#compdef demo\n") {
		t.Errorf("no #compdef line:\n%s", script)
	}
	for _, want := range []string{`'--config-file[configuration FILE]:file:_files'`, `'--data[data DIR]:dir:_files -/'`,
		`'*--port[listen on PORT]:port: '`, `'--verbose[say more\: \[a\] b\:c '\''q'\'']'`, `'--qos[QoS]:value:(0 1 2)'`} {
		if !strings.Contains(script, want) {
			t.Errorf("zsh script lacks %s:\n%s", want, script)
		}
	}
	// Syntax, then a load with compinit: the function defines and registers.
	runShell(t, "zsh", "-n", script)
	out := runShell(t, "zsh", "-f", "autoload -U compinit && compinit -u -D\n"+script+"\nprint -r -- ${_comps[demo]}\n")
	if strings.TrimSpace(out) != "_mqkit_demo" {
		t.Errorf("zsh: demo completes with %q, want _mqkit_demo", out)
	}
}

func TestFish(t *testing.T) {
	script := Fish(FromApp(demoApp()))
	dir := t.TempDir()
	for _, f := range []string{"server.conf", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	complete := func(line string) []string {
		t.Helper()
		out := runShell(t, "fish", "--no-config", "cd "+dir+"\n"+script+"\ncomplete -C '"+line+"'\n")
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if l != "" {
				got = append(got, strings.SplitN(l, "\t", 2)[0])
			}
		}
		slices.Sort(got)
		return got
	}
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"demo --con", []string{"--config-file"}},
		{"demo --config-file ser", []string{"server.conf"}},
		{"demo --qos ", []string{"0", "1", "2"}},
		{"demo sel", []string{"selftest"}},
		{"demo selftest --j", []string{"--json"}},
		{"demo completion ", []string{"bash", "fish", "zsh"}},
	} {
		if got := complete(tc.line); !slices.Equal(got, tc.want) {
			t.Errorf("fish %q: got %q, want %q", tc.line, got, tc.want)
		}
	}
}
