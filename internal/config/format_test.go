package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// normalized drops what Format does not (and need not) preserve: file
// positions, warnings, the local-only marks and whether allow_anonymous
// was explicit (Format always writes it).
func normalized(c *Config) Config {
	n := *c
	n.Files, n.Warnings, n.User, n.LocalOnly, n.strPos = nil, nil, "", false, nil
	n.Security.AllowAnonymousSet = false
	n.Listeners = nil
	for _, l := range c.Listeners {
		m := *l
		m.Pos, m.set, m.Default, m.Local = Pos{}, nil, false, false
		if m.Security != nil {
			s := *m.Security
			s.AllowAnonymousSet = false
			m.Security = &s
		}
		n.Listeners = append(n.Listeners, &m)
	}
	return n
}

func TestFormatRoundTrip(t *testing.T) {
	rich := parse(t, `allow_anonymous false
password_file /etc/mq/pw
acl_file /etc/mq/acl
allow_zero_length_clientid false
auto_id_prefix gen-
listener 1883
mount_point tenant a/
listener 8883 10.0.0.1
mount_point $tenants/b
certfile /etc/mq/server.crt
keyfile /etc/mq/server.key
cafile /etc/mq/ca.crt
require_certificate true
use_identity_as_username true
tls_version tlsv1.3
max_connections 50
listener 9001 ::1
protocol websockets
websockets_path /mqtt
websockets_origin https://example.com
websockets_origin https://other.example
listener 0 /run/mq.sock
persistence true
persistence_location /var/lib/mq/
persistence_file mq.db
autosave_interval 60
persistent_client_expiration 2w
max_keepalive 120
max_packet_size 4096
message_size_limit 1000
max_inflight_messages 0
max_queued_messages 50
max_queued_bytes 1000000
retain_available false
sys_interval 0
log_dest stdout
log_dest file /var/log/mq.log
log_type error
log_type subscribe
log_timestamp false
connection_messages false
set_tcp_nodelay true
pid_file /run/mq.pid
`)
	perListener := parse(t, `per_listener_settings true
listener 1883 127.0.0.1
allow_anonymous true
auto_id_prefix a-
listener 1884
password_file /etc/pw
listener 1885
acl_file /etc/acl
allow_zero_length_clientid false
log_dest none
log_type none
`)
	for name, c := range map[string]*Config{
		"defaults":     Default(),
		"rich":         rich,
		"per listener": perListener,
		"all logs":     parse(t, "log_type all\nlistener 0\n"),
		"expiry hours": parse(t, "persistent_client_expiration 36h\n"),
	} {
		t.Run(name, func(t *testing.T) {
			var b strings.Builder
			if err := c.Format(&b); err != nil {
				t.Fatal(err)
			}
			back, err := Parse(strings.NewReader(b.String()), "printed.conf")
			if err != nil {
				t.Fatalf("output does not parse: %v\n%s", err, b.String())
			}
			if got, want := normalized(back), normalized(c); !reflect.DeepEqual(got, want) {
				t.Errorf("round trip changed the configuration\n got %+v\nwant %+v\n%s", got, want, b.String())
			}
			for i, l := range back.Listeners {
				if a, b := c.SecurityFor(c.Listeners[i]).AllowAnonymous, back.SecurityFor(l).AllowAnonymous; a != b {
					t.Errorf("listener %d: allow_anonymous %v, was %v", i, b, a)
				}
			}
			var again strings.Builder
			back.Format(&again)
			if again.String() != b.String() {
				t.Errorf("Format is not stable:\n%s\n---\n%s", b.String(), again.String())
			}
		})
	}
}

func TestFormatMountPoint(t *testing.T) {
	c := parse(t, "listener 1883\nlistener 1884\nmount_point tenantA/\n")
	var b strings.Builder
	c.Format(&b)
	if !strings.Contains(b.String(), "listener 1884\n") || !strings.Contains(b.String(), "max_topic_alias 10\nmount_point tenantA/\n") ||
		strings.Count(b.String(), "mount_point") != 1 {
		t.Errorf("output:\n%s", b.String())
	}
}

func TestFormatShowsURLs(t *testing.T) {
	c := parse(t, "listener 8080\nprotocol websockets\nlistener 1883 127.0.0.1\n")
	var b strings.Builder
	c.Format(&b)
	for _, want := range []string{"# ws://0.0.0.0:8080/mqtt\nlistener 8080\nprotocol websockets\n",
		"# mqtt://127.0.0.1:1883\nlistener 1883 127.0.0.1\n", "allow_anonymous false\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}

func TestFormatExpiration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Hour: "1h", 36 * time.Hour: "36h", 48 * time.Hour: "2d", 14 * 24 * time.Hour: "2w",
		30 * 24 * time.Hour: "1m", 365 * 24 * time.Hour: "1y",
	} {
		if got := formatExpiration(d); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}

func TestAddListeners(t *testing.T) {
	t.Run("local-only listener replaced", func(t *testing.T) {
		c := Default()
		l := NewListener(Pos{File: "--listen mqtt://:1884"})
		l.Port = 1884
		c.AddListeners(l)
		if len(c.Listeners) != 1 || c.Listeners[0] != l || c.LocalOnly {
			t.Fatalf("listeners %v, local-only %v", c.Listeners, c.LocalOnly)
		}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("loopback listeners keep local-only mode", func(t *testing.T) {
		c := Default()
		l := NewListener(Pos{})
		l.Port, l.Bind, l.Local = 1884, "127.0.0.1", true
		c.AddListeners(l)
		if len(c.Listeners) != 1 || !c.LocalOnly {
			t.Fatalf("listeners %v, local-only %v", c.Listeners, c.LocalOnly)
		}
	})
	t.Run("file listeners kept", func(t *testing.T) {
		c := parse(t, "listener 1883\n")
		l := NewListener(Pos{})
		l.Port = 1884
		c.AddListeners(l)
		if len(c.Listeners) != 2 || c.Listeners[0].Port != 1883 || c.LocalOnly {
			t.Fatalf("listeners %v", c.Listeners)
		}
	})
	t.Run("per listener settings copied from the implicit listener", func(t *testing.T) {
		c := parse(t, "per_listener_settings true\npassword_file /etc/pw\n")
		a, b := NewListener(Pos{}), NewListener(Pos{})
		a.Port, b.Port = 1884, 1885
		c.AddListeners(a, b)
		for _, l := range c.Listeners {
			if l.Security == nil || l.Security.PasswordFile != "/etc/pw" {
				t.Fatalf("listener %d: security %+v", l.Port, l.Security)
			}
		}
		if a.Security == b.Security {
			t.Error("listeners share one Security value")
		}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		if n := len(c.Scopes()); n != 3 {
			t.Errorf("%d scopes, want 3", n)
		}
	})
}

func TestListenerURL(t *testing.T) {
	l := NewListener(Pos{})
	for _, tc := range []struct {
		set  func(*Listener)
		want string
	}{
		{func(l *Listener) { l.Port = 1883 }, "mqtt://0.0.0.0:1883"},
		{func(l *Listener) { l.Bind = "::1" }, "mqtt://[::1]:1883"},
		{func(l *Listener) { l.CertFile, l.KeyFile = "c", "k" }, "mqtts://[::1]:1883"},
		{func(l *Listener) { l.Protocol = ProtocolWebsockets }, "wss://[::1]:1883/mqtt"},
		{func(l *Listener) { l.CertFile, l.KeyFile, l.WebsocketsPath = "", "", "/ws" }, "ws://[::1]:1883/ws"},
		{func(l *Listener) { l.Unix = "/run/mq.sock" }, "unix:/run/mq.sock"},
	} {
		tc.set(l)
		if got := l.URL(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
