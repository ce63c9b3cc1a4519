package config

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// LoadFile reads and checks the configuration file at path.
func LoadFile(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{Pos: Pos{File: path}, Msg: fmt.Sprintf("cannot open config file: %v", err)}
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, &Error{Pos: Pos{File: path}, Msg: "config file is a directory"}
	}
	return Parse(f, path)
}

// Parse reads a configuration from r and checks it (Validate). name is the
// file name used in error messages; include_dir directories are read
// relative to the process's working directory, as mosquitto does.
func Parse(r io.Reader, name string) (*Config, error) {
	cfg := newConfig()
	p := &parser{
		cfg:    cfg,
		main:   name,
		strPos: cfg.strPos,
	}
	p.def = newListener(Pos{})
	p.def.Default = true
	p.cur = p.def
	if err := p.read(r, name, 0); err != nil {
		return nil, err
	}
	return p.done()
}

type parser struct {
	cfg  *Config
	main string

	def     *Listener // staging area for the default listener
	defMade bool      // a default-listener option was given
	cur     *Listener // listener that listener options apply to

	curBridge *Bridge // bridge that bridge options apply to (nil before "connection")

	secSeen    bool // a security option was given (per_listener_settings order)
	defSecPos  Pos  // first per-listener security option on the default listener
	logDestSet bool
	logTypeSet bool
	logFileSet bool
	strPos     map[*string]Pos // where each string option was set
}

// args is one configuration line being applied.
type args struct {
	pos    Pos
	name   string   // option name
	rest   string   // everything after the name, blanks trimmed
	fields []string // rest split on blanks
	level  int      // 0 for the main file, 1 for include_dir files
}

func (a *args) errf(format string, v ...any) error {
	return &Error{Pos: a.pos, Option: a.name, Msg: fmt.Sprintf(format, v...)}
}

// oneOf returns the single value of an option, which must be one of
// choices ("invalid value "x": must be a, b or c" otherwise).
func (a *args) oneOf(choices ...string) (string, error) {
	v, err := a.one()
	if err != nil {
		return "", err
	}
	if slices.Contains(choices, v) {
		return v, nil
	}
	last := len(choices) - 1
	return "", a.errf("invalid value %q: must be %s or %s", v, strings.Join(choices[:last], ", "), choices[last])
}

// one returns the single value of an option. A trailing token that starts
// with '#' is a comment (mosquitto accepts "listener 1883 # comment").
func (a *args) one() (string, error) {
	f := a.values()
	switch {
	case len(f) == 0:
		return "", a.errf("missing value")
	case len(f) > 1:
		return "", a.errf("unexpected extra value %q", f[1])
	}
	return f[0], nil
}

// values returns the fields before a '#' comment token.
func (a *args) values() []string {
	for i, f := range a.fields {
		if strings.HasPrefix(f, "#") {
			return a.fields[:i]
		}
	}
	return a.fields
}

// str returns the rest of the line as a string value (paths may contain
// spaces, so no comment is stripped, like mosquitto).
func (a *args) str() (string, error) {
	if a.rest == "" {
		return "", a.errf("missing value")
	}
	if !utf8.ValidString(a.rest) {
		return "", a.errf("value is not valid UTF-8")
	}
	return a.rest, nil
}

func (a *args) bool() (bool, error) {
	v, err := a.one()
	if err != nil {
		return false, err
	}
	switch v {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, a.errf("invalid value %q: must be true or false", v)
}

func (a *args) int() (int, error) {
	v, err := a.one()
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, a.errf("invalid value %q: must be an integer", v)
	}
	return n, nil
}

// intRange parses an integer and checks lo <= n <= hi.
func (a *args) intRange(lo, hi int) (int, error) {
	n, err := a.int()
	if err != nil {
		return 0, err
	}
	if n < lo || n > hi {
		return 0, a.errf("must be between %d and %d, got %d", lo, hi, n)
	}
	return n, nil
}

func (p *parser) read(r io.Reader, file string, level int) error {
	p.cfg.Files = append(p.cfg.Files, file)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		t := strings.Trim(strings.TrimRight(sc.Text(), "\r"), " \t")
		if t == "" || t[0] == '#' {
			continue
		}
		name, rest := t, ""
		if i := strings.IndexAny(t, " \t"); i >= 0 {
			name, rest = t[:i], strings.Trim(t[i:], " \t")
		}
		a := &args{pos: Pos{File: file, Line: line}, name: name, rest: rest, fields: strings.Fields(rest), level: level}
		if err := p.apply(a); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return &Error{Pos: Pos{File: file, Line: line + 1}, Msg: err.Error()}
	}
	return nil
}

func (p *parser) apply(a *args) error {
	if h, ok := options[a.name]; ok {
		return h(p, a)
	}
	if why := unsupportedReason(a.name); why != "" {
		return a.errf("not supported by mqbroker (%s)", why)
	}
	return a.errf("unknown option")
}

// listener returns the listener that listener options apply to, noting
// that the default listener is wanted when none was declared yet.
func (p *parser) listener(a *args) *Listener {
	l := p.cur
	if l == p.def {
		if !p.defMade {
			p.def.Pos = a.pos
		}
		p.defMade = true
	}
	l.set[a.name] = a.pos
	return l
}

// security returns the settings security options apply to: the current
// listener's with per_listener_settings, the global ones otherwise.
func (p *parser) security(a *args) *Security {
	p.secSeen = true
	if !p.cfg.PerListenerSettings {
		return &p.cfg.Security
	}
	l := p.cur
	if l.Security == nil {
		s := defaultSecurity()
		l.Security = &s
	}
	if l == p.def && p.defSecPos == (Pos{}) {
		p.defSecPos = a.pos
	}
	return l.Security
}

// setString stores a string option; like mosquitto, giving the same
// string option twice in one scope is an error.
func (p *parser) setString(a *args, dst *string) error {
	v, err := a.str()
	if err != nil {
		return err
	}
	if prev, dup := p.strPos[dst]; dup {
		return a.errf("duplicate value (already set at %s)", prev)
	}
	if err := p.checkTrailingComment(a, v); err != nil {
		return err
	}
	p.strPos[dst] = a.pos
	*dst = v
	return nil
}

// pathOptions are the string options whose value names a file or a
// directory.
var pathOptions = map[string]bool{
	"certfile": true, "keyfile": true, "cafile": true, "capath": true, "crlfile": true,
	"password_file": true, "acl_file": true, "persistence_location": true, "persistence_file": true,
	"pid_file": true, "bridge_cafile": true, "bridge_capath": true, "bridge_certfile": true,
	"bridge_keyfile": true, "include_dir": true,
}

// trailingComment returns the " # ..." part of a string value, or "".
func trailingComment(v string) string {
	for i := 1; i < len(v); i++ {
		if v[i] == '#' && (v[i-1] == ' ' || v[i-1] == '\t') {
			return strings.TrimLeft(v[i-1:], " \t")
		}
	}
	return ""
}

// checkTrailingComment handles a string value that looks like it ends
// with a comment ("password_file /etc/pw   # users"). mosquitto reads the
// whole rest of the line as the value (2.0.11: it then fails to open
// "/etc/pw   # users"); so does mqbroker, to read files the same way.
// For a file option whose value, comment included, names nothing, that
// is an error saying so at this line; any other value keeps the text and
// gets a warning.
func (p *parser) checkTrailingComment(a *args, v string) error {
	c := trailingComment(v)
	if c == "" || a.name == "remote_password" { // a password may hold " #", and is never shown
		return nil
	}
	const why = "as in mosquitto, everything after the option name is its value, '#' included: put the comment on a line of its own"
	if pathOptions[a.name] {
		if _, err := os.Stat(v); err != nil {
			return a.errf("cannot read %q: no such file or directory. %s", v, capitalize(why))
		}
	}
	p.warnf(a, "the value %q includes %q: %s", v, c, why)
	return nil
}

func (p *parser) warnf(a *args, format string, v ...any) {
	p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: %s: %s", a.pos, a.name, fmt.Sprintf(format, v...)))
}

// includeDir reads every "*.conf" regular file of dir, sorted by name in
// byte order (capital letters first), as mosquitto does.
func (p *parser) includeDir(a *args) error {
	if a.level > 0 {
		return a.errf("only allowed in the main configuration file")
	}
	dir, err := a.str()
	if err != nil {
		return err
	}
	if err := p.checkTrailingComment(a, dir); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return a.errf("cannot read directory: %v", err)
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if len(n) <= len(".conf") || !strings.HasSuffix(n, ".conf") {
			continue
		}
		path := filepath.Join(dir, n)
		if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		files = append(files, path)
	}
	sort.Strings(files)
	mainInfo, mainErr := os.Stat(p.main)
	for _, path := range files {
		if err := p.includeFile(a, path, mainInfo, mainErr); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) includeFile(a *args, path string, mainInfo os.FileInfo, mainErr error) error {
	f, err := os.Open(path)
	if err != nil {
		return a.errf("cannot open %s: %v", path, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && mainErr == nil && os.SameFile(fi, mainInfo) {
		return a.errf("directory %s contains the main configuration file", filepath.Dir(path))
	}
	return p.read(f, path, a.level+1)
}

func (p *parser) done() (*Config, error) {
	c := p.cfg
	if c.PerListenerSettings && p.defSecPos != (Pos{}) && !p.defMade && len(c.Listeners) > 0 {
		return nil, &Error{Pos: p.defSecPos, Msg: "with per_listener_settings true, security options before the " +
			"first listener apply to the default listener, which is not configured; move this option after a listener line"}
	}
	if p.defMade && p.def.Port == 0 {
		p.def.Port = 1883 // mosquitto's default listener port
	}
	c.finish(p.def, p.defMade)
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func capitalize(s string) string { return strings.ToUpper(s[:1]) + s[1:] }
