package clicmd

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client/clienttest"
)

func startTarget(t *testing.T) target {
	t.Helper()
	return splitAddr(t, clienttest.StartBroker(t, broker.Options{}).Addr("tcp").String())
}

// writeConfig writes a configuration file, creating its directory.
func writeConfig(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// unusedPort is a port nothing listens on: connecting there fails.
func unusedPort(t *testing.T) string { return strconv.Itoa(clienttest.FreePort(t)) }

// -h, -p and -v come from $XDG_CONFIG_HOME/mqsub; comments, blank lines
// and CRLF line ends are allowed; $HOME/.config is not read when
// XDG_CONFIG_HOME is set.
func TestConfigFileXDG(t *testing.T) {
	tg := startTarget(t)
	xdg, home := t.TempDir(), t.TempDir()
	writeConfig(t, filepath.Join(xdg, "mqsub"),
		"# mqsub defaults\n-h "+tg.host+"\r\n\n   # indented comment\n-p "+tg.port+"\r\n\t\n-v\n")
	writeConfig(t, filepath.Join(home, ".config", "mqsub"), "--bogus\n")
	tl := &tool{name: "mqsub", env: map[string]string{"XDG_CONFIG_HOME": xdg, "HOME": home}}
	wait := subWith(t, tl, "-t", "cfg/xdg", "-C", "1")
	mustPub(t, tg.args("-t", "cfg/xdg", "-m", "hi", "-q", "1")...)
	if r := wait(); r.code != 0 || messages(r.stdout) != "cfg/xdg hi\n" || r.stderr != "" {
		t.Errorf("exit %d, output %q, stderr %q", r.code, messages(r.stdout), r.stderr)
	}
}

// Without XDG_CONFIG_HOME the file is $HOME/.config/mqsub.
func TestConfigFileHOME(t *testing.T) {
	tg := startTarget(t)
	home := t.TempDir()
	writeConfig(t, filepath.Join(home, ".config", "mqsub"), "-h "+tg.host+"\n-p "+tg.port+"\n-v\n")
	tl := &tool{name: "mqsub", env: map[string]string{"HOME": home}}
	wait := subWith(t, tl, "-t", "cfg/home", "-C", "1")
	mustPub(t, tg.args("-t", "cfg/home", "-m", "hi", "-q", "1")...)
	if r := wait(); r.code != 0 || messages(r.stdout) != "cfg/home hi\n" {
		t.Errorf("exit %d, output %q, stderr %q", r.code, messages(r.stdout), r.stderr)
	}
}

// The command line overrides a single-valued option of the file (here
// under another name: --port in the file, -p on the command line) and
// adds to a repeatable one: -t in the file and --topic on the command
// line subscribe to both.
func TestConfigFileCommandLine(t *testing.T) {
	tg := startTarget(t)
	xdg := t.TempDir()
	writeConfig(t, filepath.Join(xdg, "mqsub"),
		"-h "+tg.host+"\n--port "+unusedPort(t)+"\n-t cfg/a\n-F %t=%p\n")
	tl := &tool{name: "mqsub", env: map[string]string{"XDG_CONFIG_HOME": xdg}}
	wait := subWith(t, tl, "-p", tg.port, "--topic", "cfg/b", "-C", "2")
	mustPub(t, tg.args("-t", "cfg/a", "-m", "1", "-q", "1")...)
	mustPub(t, tg.args("-t", "cfg/b", "-m", "2", "-q", "1")...)
	if r := wait(); r.code != 0 || sortedLines(messages(r.stdout)) != "cfg/a=1\ncfg/b=2\n" {
		t.Errorf("exit %d, output %q, stderr %q", r.code, messages(r.stdout), r.stderr)
	}
}

// A quoted value keeps its spaces; mqpub's -t on the command line
// replaces the file's.
func TestConfigFileQuotedValue(t *testing.T) {
	tg := startTarget(t)
	xdg := t.TempDir()
	writeConfig(t, filepath.Join(xdg, "mqpub"), "-h "+tg.host+" -p "+tg.port+"\n-m \"hello world\" -t 'cfg/wrong'\n")
	wait := bgSub(t, tg.args("-t", "cfg/#", "-C", "1", "-v")...)
	p := &tool{name: "mqpub", env: map[string]string{"XDG_CONFIG_HOME": xdg}}
	if r := p.run(testCtx(t), "-t", "cfg/q", "-q", "1"); r.code != 0 {
		t.Fatalf("mqpub: exit %d: %s", r.code, r.stderr)
	}
	if r := wait(); r.code != 0 || messages(r.stdout) != "cfg/q hello world\n" {
		t.Errorf("exit %d, output %q, stderr %q", r.code, messages(r.stdout), r.stderr)
	}
}

// -D in a file goes through the same gathering as on the command line;
// a command-line -D adds to it.
func TestConfigFileProperty(t *testing.T) {
	tg := startTarget(t)
	xdg := t.TempDir()
	writeConfig(t, filepath.Join(xdg, "mqpub"), "-V 5\n"+
		"-D publish user-property \"the key\" 'a value'\n"+
		"--property publish content-type text/plain\n")
	wait := bgSub(t, tg.args("-V", "5", "-t", "cfg/d", "-C", "1", "-F", "%P|%C|%p")...)
	p := &tool{name: "mqpub", env: map[string]string{"XDG_CONFIG_HOME": xdg}}
	if r := p.run(testCtx(t), tg.args("-t", "cfg/d", "-m", "x", "-q", "1", "-D", "publish", "user-property", "k2", "v2")...); r.code != 0 {
		t.Fatalf("mqpub: exit %d: %s", r.code, r.stderr)
	}
	if r := wait(); r.code != 0 || messages(r.stdout) != "the key:a value k2:v2|text/plain|x\n" {
		t.Errorf("exit %d, output %q, stderr %q", r.code, messages(r.stdout), r.stderr)
	}
}

// -o FILE is read instead of the default file (which here would fail);
// --no-config reads no file at all.
func TestConfigFileOptionsFileAndNoConfig(t *testing.T) {
	tg := startTarget(t)
	xdg := t.TempDir()
	writeConfig(t, filepath.Join(xdg, "mqsub"), "--bogus\n")
	other := filepath.Join(t.TempDir(), "other.conf")
	writeConfig(t, other, "-h "+tg.host+"\n-p "+tg.port+"\n-v\n")
	env := map[string]string{"XDG_CONFIG_HOME": xdg}

	wait := subWith(t, &tool{name: "mqsub", env: env}, "-o", other, "-t", "cfg/o", "-C", "1")
	mustPub(t, tg.args("-t", "cfg/o", "-m", "hi", "-q", "1")...)
	if r := wait(); r.code != 0 || messages(r.stdout) != "cfg/o hi\n" {
		t.Errorf("-o: exit %d, output %q, stderr %q", r.code, messages(r.stdout), r.stderr)
	}
	r := (&tool{name: "mqsub", env: env}).run(testCtx(t), tg.args("--no-config", "-t", "cfg/n", "-E")...)
	if r.code != 0 || r.stderr != "" {
		t.Errorf("--no-config: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestConfigFileSelectionErrors(t *testing.T) {
	dir := t.TempDir()
	inFile := filepath.Join(dir, "with-o")
	writeConfig(t, inFile, "-v\n-o other\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", filepath.Join(dir, "missing")}, "Error: cannot read options file '" + filepath.Join(dir, "missing") + "': no such file or directory\n"},
		{[]string{"-t", "x", "-o"}, "Error: -o argument given but no options file specified.\n\nUse 'mqsub --help' to see usage.\n"},
		{[]string{"-o", "a", "--options-file=b"}, "Error: Duplicate -o argument given.\n\nUse 'mqsub --help' to see usage.\n"},
		{[]string{"-o", "a", "--no-config"}, "Error: -o and --no-config cannot be used together.\n\nUse 'mqsub --help' to see usage.\n"},
		{[]string{"-o", inFile}, "Error: " + inFile + " line 2: -o cannot be used in a configuration file.\n"},
	} {
		r := (&tool{name: "mqsub"}).run(testCtx(t), tc.args...)
		if r.code != 1 || r.stderr != tc.want {
			t.Errorf("%q: exit %d, stderr %q; want 1, %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// An error in our own file stops the command with exit status 1 and
// names the file and line.
func TestConfigFileErrors(t *testing.T) {
	const hint = "\nHint: fix the file, or run with --no-config to ignore it.\n"
	for _, tc := range []struct {
		name, content, want string
	}{
		{"unknown", "-v\n\n--bogus\n", "Error: ~/.config/mqsub line 3: Unknown option '--bogus'."},
		{"pub only", "# sub has no -m\n-m hi\n", "Error: ~/.config/mqsub line 2: Unknown option '-m'."},
		{"unquoted", "-F %t %p\n", "Error: ~/.config/mqsub line 1: '%p' is not an option (quote a value that contains spaces)."},
		{"no value", "-v -p\n", "Error: ~/.config/mqsub line 1: -p argument given but no value specified."},
		{"value on next line", "-p\n1883\n", "Error: ~/.config/mqsub line 1: -p argument given but no value specified."},
		{"quote", "-F \"%t\n", "Error: ~/.config/mqsub line 1: missing closing \" quote."},
		{"property", "-D subscribe user-property k\n", "Error: ~/.config/mqsub line 1: -D argument given but not enough arguments specified."},
		{"no-config", "--no-config\n", "Error: ~/.config/mqsub line 1: --no-config cannot be used in a configuration file."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			writeConfig(t, filepath.Join(home, ".config", "mqsub"), tc.content)
			r := (&tool{name: "mqsub", env: map[string]string{"HOME": home}}).run(testCtx(t), "-t", "x")
			if r.code != 1 || r.stderr != tc.want+hint {
				t.Errorf("exit %d, stderr %q; want 1, %q", r.code, r.stderr, tc.want+hint)
			}
		})
	}
}

// Without our file, mosquitto's is read in mosquitto's format (the value
// is the rest of the line) when every option in it is one we accept.
func TestMosquittoConfigFallback(t *testing.T) {
	tg := startTarget(t)
	xdg := t.TempDir()
	writeConfig(t, filepath.Join(xdg, "mosquitto_sub"), "-h "+tg.host+"\n-p "+tg.port+"\n# comment\n-F %t says %p\n")
	tl := &tool{name: "mqsub", env: map[string]string{"XDG_CONFIG_HOME": xdg}}
	wait := subWith(t, tl, "-t", "cfg/m", "-C", "1")
	mustPub(t, tg.args("-t", "cfg/m", "-m", "hi", "-q", "1")...)
	if r := wait(); r.code != 0 || messages(r.stdout) != "cfg/m says hi\n" || r.stderr != "" {
		t.Errorf("exit %d, output %q, stderr %q", r.code, messages(r.stdout), r.stderr)
	}
}

// A mosquitto file with an option we lack is ignored with a warning; once
// our own file exists, mosquitto's is not read at all.
func TestMosquittoConfigUnsupported(t *testing.T) {
	tg := startTarget(t)
	home := t.TempDir()
	writeConfig(t, filepath.Join(home, ".config", "mosquitto_sub"), "-F IGNORED %p\n--tls-engine pkcs11\n")
	env := map[string]string{"HOME": home}
	wait := subWith(t, &tool{name: "mqsub", env: env}, tg.args("-t", "cfg/u", "-C", "1")...)
	mustPub(t, tg.args("-t", "cfg/u", "-m", "hi", "-q", "1")...)
	const warning = "Warning: ignoring ~/.config/mosquitto_sub: line 2: mqsub does not support '--tls-engine' (an empty ~/.config/mqsub stops this fallback)\n"
	if r := wait(); r.code != 0 || messages(r.stdout) != "hi\n" || r.stderr != warning {
		t.Errorf("exit %d, output %q, stderr %q; want %q", r.code, messages(r.stdout), r.stderr, warning)
	}
	if r := (&tool{name: "mqsub", env: env}).run(testCtx(t), tg.args("--quiet", "-t", "cfg/u", "-E")...); r.code != 0 || r.stderr != "" {
		t.Errorf("--quiet: exit %d, stderr %q", r.code, r.stderr)
	}
	writeConfig(t, filepath.Join(home, ".config", "mqsub"), "")
	if r := (&tool{name: "mqsub", env: env}).run(testCtx(t), tg.args("-t", "cfg/u", "-E")...); r.code != 0 || r.stderr != "" {
		t.Errorf("with ~/.config/mqsub: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestSplitWords(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
		err  string
	}{
		{"-p 1883", []string{"-p", "1883"}, ""},
		{" -t\ta/#   -v ", []string{"-t", "a/#", "-v"}, ""},
		{`-m "hello world"`, []string{"-m", "hello world"}, ""},
		{`-m 'it is "quoted"'`, []string{"-m", `it is "quoted"`}, ""},
		{`-m "say \"hi\" \\ \n"`, []string{"-m", `say "hi" \ \n`}, ""},
		{`-F %t\n`, []string{"-F", `%t\n`}, ""},
		{`-m ""`, []string{"-m", ""}, ""},
		{`-m a'b c'"d e"`, []string{"-m", "ab cd e"}, ""},
		{`-m 'open`, nil, "missing closing ' quote."},
		{`-m "open \"`, nil, `missing closing " quote.`},
	} {
		got, err := splitWords(tc.line)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%s: error %v, want %q", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
}

func TestMosquittoWords(t *testing.T) {
	opts := newOptionTable((&tool{name: "mqsub"}).app())
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"-F %t says %p", []string{"-F", "%t says %p"}},
		{`-F "quoted"  `, []string{"-F", `"quoted"`}},
		{"-v -d", []string{"-v", "-d"}},
		{"-D subscribe user-property a b", []string{"-D", "subscribe", "user-property", "a", "b"}},
		{"--tls-engine pkcs11", []string{"--tls-engine", "pkcs11"}},
	} {
		if got := mosquittoWords(tc.line, opts); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.line, got, tc.want)
		}
	}
	if got := strings.Join(canonicalize([][]string{{"--port", "1"}, {"-t", "a"}, {"--qos=1"}}, map[string]string{"port": "p"}, opts), " "); got != "-p 1 -t a --qos=1" {
		t.Errorf("canonicalize: %q", got)
	}
}

// FuzzSplitWords: any line splits or fails cleanly; the words, each put
// back in double quotes (escaping " and \), split into the same words.
func FuzzSplitWords(f *testing.F) {
	for _, s := range []string{`-h broker -p 1883`, `-m "hello world"`, `-P 's3 cret'`, `-F %t\n`, `-m "a\"b\\c"`, `'unclosed`, "\t-v\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		words, err := splitWords(line)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, w := range words {
			b.WriteString(` "`)
			b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(w))
			b.WriteString(`"`)
		}
		again, err := splitWords(b.String())
		if err != nil || !slices.Equal(again, words) {
			t.Fatalf("%q split into %q; requoted %q split into %q, %v", line, words, b.String(), again, err)
		}
	})
}
