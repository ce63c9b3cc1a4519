package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTrailingComment: mosquitto 2.0.11 reads everything after a string
// option's name as its value, so "password_file /etc/pw # users" names the
// file "/etc/pw # users" (mosquitto: Error: Unable to open pwfile
// "/etc/pw # users"). mqbroker reads it the same way and says so: an error
// at that line for a file that does not exist, a warning otherwise.
func TestTrailingComment(t *testing.T) {
	dir := t.TempDir()
	odd := filepath.Join(dir, "pw # really")
	if err := os.WriteFile(odd, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		text    string
		wantErr string // substring of the error; "" = no error
		warn    string // substring of a warning; "" = none expected
	}{
		{"password_file", "listener 1\n\npassword_file /nonexistent/pw   # users", `test.conf:3: password_file: cannot read "/nonexistent/pw   # users": no such file or directory. As in mosquitto, everything after the option name is its value, '#' included`, ""},
		{"bridge_cafile", "connection c\naddress h:1\ntopic # out\nbridge_cafile /x/ca.pem  # turns TLS on", `test.conf:4: bridge_cafile: cannot read "/x/ca.pem  # turns TLS on"`, ""},
		{"include_dir", "include_dir /nonexistent # more", `test.conf:1: include_dir: cannot read "/nonexistent # more"`, ""},
		{"existing file with a hash", "password_file " + odd, "", `includes "# really"`},
		{"mount point name", "listener 1\nauto_id_prefix x # y", "", `test.conf:2: auto_id_prefix: the value "x # y" includes "# y"`},
		{"hash inside a word", "listener 1\nauto_id_prefix a#b", "", ""},
		{"single-token option", "listener 1883 # MQTT\nallow_anonymous true # anyone\nmax_inflight_messages 10 # c", "", ""},
		{"password never shown", "connection c\naddress h:1\ntopic # out\nremote_username u\nremote_password s3 #cret", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(strings.NewReader(tc.text), "test.conf")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			all := strings.Join(c.Warnings, "\n")
			if tc.warn == "" && strings.Contains(all, "includes") {
				t.Errorf("unexpected warning: %s", all)
			}
			if tc.warn != "" && !strings.Contains(all, tc.warn) {
				t.Errorf("warnings %q, want one containing %q", all, tc.warn)
			}
			if strings.Contains(all, "s3 #cret") {
				t.Errorf("a warning shows the password: %s", all)
			}
		})
	}
}

// TestOptionPos: file errors found after parsing (a missing certfile,
// password file or bridge CA) are reported at the option's own line.
func TestOptionPos(t *testing.T) {
	text := "per_listener_settings true\nlistener 8883\n\ncertfile /a.crt\nkeyfile /a.key\npassword_file /pw\n" +
		"listener 1883\nacl_file /acl\nconnection c\naddress h:1\ntopic # out\n\nbridge_cafile /ca\n"
	c, err := Parse(strings.NewReader(text), "t.conf")
	if err != nil {
		t.Fatal(err)
	}
	l0, l1 := c.Listeners[0], c.Listeners[1]
	for _, tc := range []struct {
		got  Pos
		want string
	}{
		{l0.OptionPos("certfile"), "t.conf:4"},
		{l0.OptionPos("keyfile"), "t.conf:5"},
		{l0.OptionPos("cafile"), "t.conf:2"}, // not set: the listener line
		{c.PasswordFilePos(l0), "t.conf:6"},
		{c.ACLFilePos(l1), "t.conf:8"},
		{c.PasswordFilePos(l1), ""},
		{c.Bridges[0].OptionPos("bridge_cafile"), "t.conf:13"},
		{c.Bridges[0].OptionPos("bridge_certfile"), "t.conf:9"},
	} {
		if tc.got.String() != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	// Global security settings (no per_listener_settings).
	c, err = Parse(strings.NewReader("listener 1\n\npassword_file /pw\n"), "g.conf")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.PasswordFilePos(c.Listeners[0]).String(); got != "g.conf:3" {
		t.Errorf("global password_file at %q, want g.conf:3", got)
	}
}
