package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func write(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func ports(c *Config) []int {
	var p []int
	for _, l := range c.Listeners {
		p = append(p, l.Port)
	}
	return p
}

func TestIncludeDirOrder(t *testing.T) {
	root := t.TempDir()
	d1 := filepath.Join(root, "conf.d")
	d2 := filepath.Join(root, "more.d")
	write(t, filepath.Join(d1, "b.conf"), "listener 3\n")
	write(t, filepath.Join(d1, "a.conf"), "listener 2\n")
	write(t, filepath.Join(d1, "B.conf"), "listener 1\n") // capital letters sort first
	write(t, filepath.Join(d1, "notes.txt"), "this is not a config file\n")
	write(t, filepath.Join(d1, ".conf"), "garbage\n")
	write(t, filepath.Join(d1, "x.conf", "inner.conf"), "listener 99\n") // a directory named *.conf
	write(t, filepath.Join(d2, "0.conf"), "listener 4\n")
	main := write(t, filepath.Join(root, "main.conf"),
		"listener 10\ninclude_dir "+d1+"\nlistener 11\ninclude_dir "+d2+"\n")

	c, err := LoadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ports(c), []int{10, 1, 2, 3, 11, 4}; !reflect.DeepEqual(got, want) {
		t.Errorf("listener order %v, want %v", got, want)
	}
	wantFiles := []string{main, filepath.Join(d1, "B.conf"), filepath.Join(d1, "a.conf"),
		filepath.Join(d1, "b.conf"), filepath.Join(d2, "0.conf")}
	if !reflect.DeepEqual(c.Files, wantFiles) {
		t.Errorf("files %v, want %v", c.Files, wantFiles)
	}
	// Included files continue the current state: a listener option in an
	// included file applies to the listener declared before include_dir.
	write(t, filepath.Join(root, "tls.d", "tls.conf"), "certfile /c\nkeyfile /k\n")
	main2 := write(t, filepath.Join(root, "main2.conf"), "listener 8883\ninclude_dir "+filepath.Join(root, "tls.d")+"\n")
	c2, err := LoadFile(main2)
	if err != nil {
		t.Fatal(err)
	}
	if l := onlyListener(t, c2); !l.TLS() || l.set["certfile"] != (Pos{filepath.Join(root, "tls.d", "tls.conf"), 1}) {
		t.Errorf("included listener options: %+v", l)
	}
}

func TestIncludeDirErrors(t *testing.T) {
	root := t.TempDir()
	bad := filepath.Join(root, "bad.d")
	write(t, filepath.Join(bad, "a.conf"), "listener 1\n")
	write(t, filepath.Join(bad, "b.conf"), "# ok\n\nmax_qos 7\n")
	nested := filepath.Join(root, "nested.d")
	write(t, filepath.Join(nested, "a.conf"), "include_dir "+bad+"\n")
	self := filepath.Join(root, "self.d")
	selfMain := write(t, filepath.Join(self, "main.conf"), "include_dir "+self+"\n")

	tests := []struct {
		name, main, want string
	}{
		{"error in included file names that file",
			write(t, filepath.Join(root, "m1.conf"), "include_dir "+bad+"\n"),
			filepath.Join(bad, "b.conf") + ":3: max_qos: must be 0, 1 or 2"},
		{"include_dir only in the main file",
			write(t, filepath.Join(root, "m2.conf"), "\ninclude_dir "+nested+"\n"),
			filepath.Join(nested, "a.conf") + ":1: include_dir: only allowed in the main configuration file"},
		{"directory holding the main file",
			selfMain,
			selfMain + ":1: include_dir: directory " + self + " contains the main configuration file"},
		{"missing main file", filepath.Join(root, "none.conf"), filepath.Join(root, "none.conf") + ": cannot open config file"},
		{"main file is a directory", root, root + ": config file is a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadFile(tc.main)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error\n got %v\nwant prefix %q", err, tc.want)
			}
		})
	}
}

// TestIncludeDirRelative: like mosquitto, a relative include_dir is taken
// relative to the working directory, not to the including file.
func TestIncludeDirRelative(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "cwd", "conf.d", "a.conf"), "listener 7\n")
	write(t, filepath.Join(root, "etc", "conf.d", "a.conf"), "listener 8\n")
	main := write(t, filepath.Join(root, "etc", "main.conf"), "include_dir conf.d\n")
	t.Chdir(filepath.Join(root, "cwd"))
	c, err := LoadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	if got := ports(c); !reflect.DeepEqual(got, []int{7}) {
		t.Errorf("listeners %v, want [7] (from the working directory)", got)
	}
}

func TestExampleConfigs(t *testing.T) {
	c, err := LoadFile("testdata/tls-and-websockets.conf")
	if err != nil {
		t.Fatal(err)
	}
	if got := ports(c); !reflect.DeepEqual(got, []int{1883, 8883, 9001}) {
		t.Fatalf("listeners %v", got)
	}
	tls, ws := c.Listeners[1], c.Listeners[2]
	if !tls.TLS() || !tls.UseIdentityAsUsername || tls.MaxConnections != 10000 || ws.Protocol != ProtocolWebsockets || ws.MaxQoS != 1 {
		t.Errorf("listeners %+v %+v", tls, ws)
	}
	if s := c.SecurityFor(ws); s.AllowAnonymous || s.PasswordFile != "/etc/mqbroker/passwd" {
		t.Errorf("security %+v", s)
	}
	if c.LogTypes != LogError|LogWarning|LogNotice || len(c.LogDest) != 2 || c.PersistencePath() != "/var/lib/mqbroker/mosquitto.db" {
		t.Errorf("config %+v", c)
	}

	p, err := LoadFile("testdata/per-listener.conf")
	if err != nil {
		t.Fatal(err)
	}
	if s := p.SecurityFor(p.Listeners[0]); !s.AllowAnonymous || s.ACLFile == "" || s.PasswordFile != "" {
		t.Errorf("1883 security %+v", s)
	}
	if s := p.SecurityFor(p.Listeners[1]); s.AllowAnonymous || s.PasswordFile == "" || s.AutoIDPrefix != "secure-" || s.AllowZeroLengthClientID {
		t.Errorf("8883 security %+v", s)
	}
}

// TestMosquittoShippedConfigs parses the configuration files the mosquitto
// package installs: the Debian default (with its include_dir) and the
// fully commented reference example.
func TestMosquittoShippedConfigs(t *testing.T) {
	files := []string{"/etc/mosquitto/mosquitto.conf", "/usr/share/doc/mosquitto/examples/mosquitto.conf"}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s missing but CI=true (mosquitto is installed in CI): %v", f, err)
			}
			t.Skipf("%s not present (mosquitto not installed); skipping", f)
		}
	}
	deb, err := LoadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if !deb.Persistence || deb.PersistencePath() != "/var/lib/mosquitto/mosquitto.db" || deb.PIDFile != "/run/mosquitto/mosquitto.pid" ||
		!reflect.DeepEqual(deb.LogDest, []LogDest{{Kind: "file", Path: "/var/log/mosquitto/mosquitto.log"}}) {
		t.Errorf("Debian default config: %+v", deb)
	}
	ex, err := LoadFile(files[1])
	if err != nil {
		t.Fatal(err)
	}
	def := Default()
	ex.Files, def.Files = nil, nil
	if !reflect.DeepEqual(ex, def) {
		t.Errorf("the commented example does not give the defaults:\n got %+v\nwant %+v", ex, def)
	}
}
