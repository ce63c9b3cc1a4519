package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func parse(t *testing.T, text string) *Config {
	t.Helper()
	c, err := Parse(strings.NewReader(text), "test.conf")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func onlyListener(t *testing.T, c *Config) *Listener {
	t.Helper()
	if len(c.Listeners) != 1 {
		t.Fatalf("%d listeners, want 1", len(c.Listeners))
	}
	return c.Listeners[0]
}

func TestDefaults(t *testing.T) {
	for name, c := range map[string]*Config{
		"empty file": parse(t, "# only a comment\n\n   \n\t# indented comment\n"),
		"Default()":  Default(),
	} {
		t.Run(name, func(t *testing.T) {
			if !c.LocalOnly {
				t.Error("not local-only")
			}
			l := onlyListener(t, c)
			if !l.Local || l.Addr() != "127.0.0.1:1883" || l.Protocol != ProtocolMQTT || l.TLS() {
				t.Errorf("local listener %+v", l)
			}
			if l.MaxConnections != -1 || l.MaxQoS != 2 || l.MaxTopicAlias != 10 {
				t.Errorf("listener limits %d %d %d", l.MaxConnections, l.MaxQoS, l.MaxTopicAlias)
			}
			s := c.SecurityFor(l)
			want := Security{AllowAnonymous: true, AllowZeroLengthClientID: true, AutoIDPrefix: "auto-"}
			if s != want {
				t.Errorf("security %+v, want %+v", s, want)
			}
			if c.Persistence || c.PersistencePath() != "mosquitto.db" || c.AutosaveInterval != 1800*time.Second {
				t.Errorf("persistence defaults %v %q %v", c.Persistence, c.PersistencePath(), c.AutosaveInterval)
			}
			if c.MaxKeepalive != 65535 || c.MaxPacketSize != 0 || c.MessageSizeLimit != 0 ||
				c.MaxInflightMessages != 20 || c.MaxQueuedMessages != 1000 || c.MaxQueuedBytes != 0 ||
				!c.RetainAvailable || c.PersistentClientExpiration != 0 || c.SysInterval != 10*time.Second {
				t.Errorf("limit defaults %+v", c)
			}
			if !reflect.DeepEqual(c.LogDest, []LogDest{{Kind: "stderr"}}) || c.LogTypes != LogDefault ||
				!c.LogTimestamp || !c.ConnectionMessages || c.SetTCPNoDelay || c.PIDFile != "" || c.User != "" {
				t.Errorf("logging defaults %+v", c)
			}
			if c.PerListenerSettings || len(c.Warnings) != 0 {
				t.Errorf("per_listener_settings %v warnings %q", c.PerListenerSettings, c.Warnings)
			}
		})
	}
}

// TestOptions has one row per supported option (and its variants).
func TestOptions(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		check func(t *testing.T, c *Config)
	}{
		{"listener port", "listener 1884", func(t *testing.T, c *Config) {
			l := onlyListener(t, c)
			if l.Addr() != ":1884" || l.Default || l.Local || c.LocalOnly || c.Security.AllowAnonymous {
				t.Errorf("%+v localOnly=%v anon=%v", l, c.LocalOnly, c.Security.AllowAnonymous)
			}
			if l.Pos != (Pos{"test.conf", 1}) {
				t.Errorf("pos %v", l.Pos)
			}
		}},
		{"listener port address", "listener 1884 127.0.0.1 # comment", func(t *testing.T, c *Config) {
			if a := onlyListener(t, c).Addr(); a != "127.0.0.1:1884" {
				t.Error(a)
			}
		}},
		{"listener ipv6", "listener 1884 ::1", func(t *testing.T, c *Config) {
			if a := onlyListener(t, c).Addr(); a != "[::1]:1884" {
				t.Error(a)
			}
		}},
		{"listener port 0", "listener 0 127.0.0.1", func(t *testing.T, c *Config) {
			if a := onlyListener(t, c).Addr(); a != "127.0.0.1:0" {
				t.Error(a)
			}
		}},
		{"two listeners in order", "listener 1 \nlistener 2\nport 3", func(t *testing.T, c *Config) {
			var got []string
			for _, l := range c.Listeners {
				got = append(got, l.Addr())
			}
			if !reflect.DeepEqual(got, []string{":1", ":2", ":3"}) || !c.Listeners[2].Default {
				t.Errorf("listeners %v", got)
			}
		}},
		{"port makes default listener", "port 1885", func(t *testing.T, c *Config) {
			l := onlyListener(t, c)
			if !l.Default || l.Addr() != ":1885" || c.LocalOnly {
				t.Errorf("%+v", l)
			}
			if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "test.conf:1: port: deprecated") {
				t.Errorf("warnings %q", c.Warnings)
			}
		}},
		{"bind_address", "bind_address 10.0.0.1", func(t *testing.T, c *Config) {
			if l := onlyListener(t, c); !l.Default || l.Addr() != "10.0.0.1:1883" {
				t.Errorf("%+v", l)
			}
		}},
		{"listener option before any listener", "max_connections 5\nlistener 1884", func(t *testing.T, c *Config) {
			if len(c.Listeners) != 2 || c.Listeners[1].Addr() != ":1883" || c.Listeners[1].MaxConnections != 5 || c.Listeners[0].MaxConnections != -1 {
				t.Errorf("%+v", c.Listeners)
			}
		}},
		{"mount_point", "listener 1883\nlistener 1884\nmount_point tenant A/ \nlistener 1885\nmount_point tenantB", func(t *testing.T, c *Config) {
			var got []string
			for _, l := range c.Listeners {
				got = append(got, l.MountPoint)
			}
			if !reflect.DeepEqual(got, []string{"", "tenant A/", "tenantB"}) {
				t.Errorf("mount points %q", got)
			}
			// Without a trailing '/' the prefix glues onto the first level.
			if len(c.Warnings) != 1 || !strings.HasPrefix(c.Warnings[0], "test.conf:5: mount_point: \"tenantB\" does not end with '/'") {
				t.Errorf("warnings %q", c.Warnings)
			}
		}},
		{"protocol websockets", "listener 8080\nprotocol websockets\nwebsockets_path /mqtt\nwebsockets_origin https://a.example\nwebsockets_origin https://b.example",
			func(t *testing.T, c *Config) {
				l := onlyListener(t, c)
				if l.Protocol != ProtocolWebsockets || l.WebsocketsPath != "/mqtt" ||
					!reflect.DeepEqual(l.WebsocketsOrigins, []string{"https://a.example", "https://b.example"}) {
					t.Errorf("%+v", l)
				}
			}},
		{"protocol mqtt", "listener 1\nprotocol mqtt", func(t *testing.T, c *Config) {
			if onlyListener(t, c).Protocol != ProtocolMQTT {
				t.Error("protocol")
			}
		}},
		{"tls listener", "listener 8883\ncertfile /c/server crt.pem\nkeyfile /c/key.pem\ncafile /c/ca.pem\ncapath /c/ca.d\n" +
			"require_certificate true\nuse_identity_as_username true\ntls_version tlsv1.3",
			func(t *testing.T, c *Config) {
				l := onlyListener(t, c)
				want := []string{"/c/server crt.pem", "/c/key.pem", "/c/ca.pem", "/c/ca.d", "tlsv1.3"}
				got := []string{l.CertFile, l.KeyFile, l.CAFile, l.CAPath, l.TLSVersion}
				if !reflect.DeepEqual(got, want) || !l.RequireCertificate || !l.UseIdentityAsUsername || !l.TLS() {
					t.Errorf("%+v", l)
				}
			}},
		{"tls options are per listener", "listener 1\ncertfile c\nkeyfile k\nlistener 2", func(t *testing.T, c *Config) {
			if !c.Listeners[0].TLS() || c.Listeners[1].TLS() {
				t.Error("TLS leaked to the next listener")
			}
		}},
		{"max_connections", "listener 1\nmax_connections 100", func(t *testing.T, c *Config) {
			if onlyListener(t, c).MaxConnections != 100 {
				t.Error("max_connections")
			}
		}},
		{"max_connections negative is unlimited", "listener 1\nmax_connections -7", func(t *testing.T, c *Config) {
			if onlyListener(t, c).MaxConnections != -1 {
				t.Error("max_connections")
			}
		}},
		{"max_qos", "listener 1\nmax_qos 1", func(t *testing.T, c *Config) {
			if onlyListener(t, c).MaxQoS != 1 {
				t.Error("max_qos")
			}
		}},
		{"maximum_qos alias", "listener 1\nmaximum_qos 0", func(t *testing.T, c *Config) {
			if onlyListener(t, c).MaxQoS != 0 {
				t.Error("maximum_qos")
			}
		}},
		{"max_topic_alias", "listener 1\nmax_topic_alias 0", func(t *testing.T, c *Config) {
			if onlyListener(t, c).MaxTopicAlias != 0 {
				t.Error("max_topic_alias")
			}
		}},
		{"global security", "listener 1\nallow_anonymous true\npassword_file /etc/pw\nacl_file /etc/acl file\n" +
			"allow_zero_length_clientid false\nauto_id_prefix gen-\nlistener 2",
			func(t *testing.T, c *Config) {
				want := Security{AllowAnonymous: true, AllowAnonymousSet: true, PasswordFile: "/etc/pw",
					ACLFile: "/etc/acl file", AutoIDPrefix: "gen-"}
				for _, l := range c.Listeners {
					if s := c.SecurityFor(l); s != want || l.Security != nil {
						t.Errorf("%s: %+v", l.Addr(), s)
					}
				}
			}},
		{"allow_anonymous defaults false with a listener", "listener 1\npassword_file p", func(t *testing.T, c *Config) {
			if s := c.SecurityFor(c.Listeners[0]); s.AllowAnonymous || s.AllowAnonymousSet {
				t.Errorf("%+v", s)
			}
		}},
		{"allow_anonymous explicit false in local-only mode", "allow_anonymous false", func(t *testing.T, c *Config) {
			if !c.LocalOnly || c.SecurityFor(c.Listeners[0]).AllowAnonymous {
				t.Error("explicit allow_anonymous false not kept in local-only mode")
			}
		}},
		{"persistence", "persistence true\npersistence_location /var/lib/mq\npersistence_file state.db\nautosave_interval 60",
			func(t *testing.T, c *Config) {
				if !c.Persistence || c.PersistencePath() != "/var/lib/mq/state.db" || c.AutosaveInterval != time.Minute {
					t.Errorf("%v %q %v", c.Persistence, c.PersistencePath(), c.AutosaveInterval)
				}
			}},
		{"retained_persistence alias", "retained_persistence 1\npersistence_location /d/", func(t *testing.T, c *Config) {
			if !c.Persistence || c.PersistencePath() != "/d/mosquitto.db" {
				t.Errorf("%v %q", c.Persistence, c.PersistencePath())
			}
		}},
		{"autosave_interval negative", "autosave_interval -5", func(t *testing.T, c *Config) {
			if c.AutosaveInterval != 0 {
				t.Error(c.AutosaveInterval)
			}
		}},
		{"limits", "max_keepalive 120\nmax_packet_size 1024\nmessage_size_limit 512\nmax_inflight_messages 1\n" +
			"max_queued_messages 0\nmax_queued_bytes 10000000000\nretain_available false\nsys_interval 0",
			func(t *testing.T, c *Config) {
				if c.MaxKeepalive != 120 || c.MaxPacketSize != 1024 || c.MessageSizeLimit != 512 || c.MaxInflightMessages != 1 ||
					c.MaxQueuedMessages != 0 || c.MaxQueuedBytes != 10000000000 || c.RetainAvailable || c.SysInterval != 0 {
					t.Errorf("%+v", c)
				}
			}},
		{"limit clamping like mosquitto", "max_inflight_messages 65535\nmax_queued_messages -1\nmax_queued_bytes -1",
			func(t *testing.T, c *Config) {
				if c.MaxInflightMessages != 0 || c.MaxQueuedMessages != 0 || c.MaxQueuedBytes != 0 {
					t.Errorf("%+v", c)
				}
			}},
		{"max_packet_size bounds", "max_packet_size 20\nmessage_size_limit 268435455", func(t *testing.T, c *Config) {
			if c.MaxPacketSize != 20 || c.MessageSizeLimit != 268435455 {
				t.Errorf("%d %d", c.MaxPacketSize, c.MessageSizeLimit)
			}
		}},
		{"persistent_client_expiration hours", "persistent_client_expiration 2h", func(t *testing.T, c *Config) {
			if c.PersistentClientExpiration != 2*time.Hour {
				t.Error(c.PersistentClientExpiration)
			}
		}},
		{"persistent_client_expiration days", "persistent_client_expiration 14d", func(t *testing.T, c *Config) {
			if c.PersistentClientExpiration != 14*24*time.Hour {
				t.Error(c.PersistentClientExpiration)
			}
		}},
		{"persistent_client_expiration weeks", "persistent_client_expiration 1w", func(t *testing.T, c *Config) {
			if c.PersistentClientExpiration != 7*24*time.Hour {
				t.Error(c.PersistentClientExpiration)
			}
		}},
		{"persistent_client_expiration months", "persistent_client_expiration 2m", func(t *testing.T, c *Config) {
			if c.PersistentClientExpiration != 60*24*time.Hour {
				t.Error(c.PersistentClientExpiration)
			}
		}},
		{"persistent_client_expiration years", "persistent_client_expiration 1y", func(t *testing.T, c *Config) {
			if c.PersistentClientExpiration != 365*24*time.Hour {
				t.Error(c.PersistentClientExpiration)
			}
		}},
		{"log_dest replaces default and accumulates", "log_dest stdout\nlog_dest file /var/log/mq broker.log\nlog_dest syslog\nlog_dest topic\nlog_dest stdout",
			func(t *testing.T, c *Config) {
				want := []LogDest{{Kind: "stdout"}, {Kind: "file", Path: "/var/log/mq broker.log"}, {Kind: "syslog"}, {Kind: "topic"}}
				if !reflect.DeepEqual(c.LogDest, want) {
					t.Errorf("%+v", c.LogDest)
				}
			}},
		{"log_dest none", "log_dest stderr\nlog_dest none", func(t *testing.T, c *Config) {
			if len(c.LogDest) != 0 {
				t.Errorf("%+v", c.LogDest)
			}
		}},
		{"log_type replaces default and accumulates", "log_type error\nlog_type subscribe", func(t *testing.T, c *Config) {
			if c.LogTypes != LogError|LogSubscribe || c.LogTypes.String() != "error,subscribe" {
				t.Errorf("%v", c.LogTypes)
			}
		}},
		{"log_type all", "log_type all", func(t *testing.T, c *Config) {
			if c.LogTypes != LogAll {
				t.Errorf("%v", c.LogTypes)
			}
		}},
		{"log_type none", "log_type all\nlog_type none", func(t *testing.T, c *Config) {
			if c.LogTypes != LogNone || c.LogTypes.String() != "none" {
				t.Errorf("%v", c.LogTypes)
			}
		}},
		{"misc booleans and strings", "log_timestamp false\nconnection_messages false\nset_tcp_nodelay true\npid_file /run/mq.pid",
			func(t *testing.T, c *Config) {
				if c.LogTimestamp || c.ConnectionMessages || !c.SetTCPNoDelay || c.PIDFile != "/run/mq.pid" {
					t.Errorf("%+v", c)
				}
			}},
		{"user is accepted with a warning", "user mosquitto", func(t *testing.T, c *Config) {
			if c.User != "mosquitto" || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "test.conf:1: user:") {
				t.Errorf("user %q warnings %q", c.User, c.Warnings)
			}
		}},
		{"blanks and CRLF", "  listener\t1884   \r\n\tmax_qos  1 \r\n", func(t *testing.T, c *Config) {
			if l := onlyListener(t, c); l.Port != 1884 || l.MaxQoS != 1 {
				t.Errorf("%+v", l)
			}
		}},
		{"bool as 0/1", "listener 1\nrequire_certificate 0\nset_tcp_nodelay 1", func(t *testing.T, c *Config) {
			if !c.SetTCPNoDelay {
				t.Error("set_tcp_nodelay 1")
			}
		}},
		{"trailing comment on a single value", "max_qos 1 # at most once or twice\nlistener 1", func(t *testing.T, c *Config) {
			if c.Listeners[1].MaxQoS != 1 {
				t.Error("max_qos with comment")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, parse(t, tc.text)) })
	}
}

func TestPerListenerSettings(t *testing.T) {
	c := parse(t, `per_listener_settings true
port 1883
allow_anonymous true
listener 8883
password_file /etc/pw
acl_file /etc/acl
auto_id_prefix tls-
listener 9001
protocol websockets
allow_zero_length_clientid false
`)
	if !c.PerListenerSettings || len(c.Listeners) != 3 {
		t.Fatalf("per_listener_settings %v, %d listeners", c.PerListenerSettings, len(c.Listeners))
	}
	byPort := map[int]Security{}
	for _, l := range c.Listeners {
		if l.Security == nil {
			t.Fatalf("listener %s has no security", l.Addr())
		}
		byPort[l.Port] = c.SecurityFor(l)
	}
	want := map[int]Security{
		1883: {AllowAnonymous: true, AllowAnonymousSet: true, AllowZeroLengthClientID: true, AutoIDPrefix: "auto-"},
		8883: {PasswordFile: "/etc/pw", ACLFile: "/etc/acl", AllowZeroLengthClientID: true, AutoIDPrefix: "tls-"},
		9001: {AllowZeroLengthClientID: false, AutoIDPrefix: "auto-"},
	}
	if !reflect.DeepEqual(byPort, want) {
		t.Errorf("security by port\n got %+v\nwant %+v", byPort, want)
	}
	if c.Security != (Security{AllowZeroLengthClientID: true, AutoIDPrefix: "auto-"}) {
		t.Errorf("global security touched: %+v", c.Security)
	}

	// The same file without per_listener_settings: the security options are global.
	g := parse(t, "port 1883\nallow_anonymous true\nlistener 8883\npassword_file /etc/pw\n")
	for _, l := range g.Listeners {
		if s := g.SecurityFor(l); !s.AllowAnonymous || s.PasswordFile != "/etc/pw" {
			t.Errorf("%s: %+v", l.Addr(), s)
		}
	}

	// Local-only mode keeps security given before any listener.
	lo := parse(t, "per_listener_settings true\npassword_file /etc/pw\n")
	if s := lo.SecurityFor(lo.Listeners[0]); !lo.LocalOnly || s.PasswordFile != "/etc/pw" || !s.AllowAnonymous {
		t.Errorf("local-only per-listener security %+v", s)
	}
}

// "listener 0 PATH" is a unix socket listener, as in mosquitto; its
// security settings and duplicates work as for TCP listeners.
func TestUnixSocketListener(t *testing.T) {
	cfg, err := Parse(strings.NewReader("listener 0 /run/mq.sock\nmax_connections 5\nlistener 1883\n"), "test.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Listeners) != 2 {
		t.Fatalf("%d listeners", len(cfg.Listeners))
	}
	u := cfg.Listeners[0]
	if u.Unix != "/run/mq.sock" || u.Network() != "unix" || u.Addr() != "/run/mq.sock" || u.MaxConnections != 5 {
		t.Errorf("unix listener: %+v (network %s, addr %s)", u, u.Network(), u.Addr())
	}
	if tcp := cfg.Listeners[1]; tcp.Network() != "tcp" || tcp.Addr() != ":1883" {
		t.Errorf("tcp listener: network %s, addr %s", tcp.Network(), tcp.Addr())
	}
	_, err = Parse(strings.NewReader("listener 0 /run/mq.sock\nlistener 0 /run/mq.sock\n"), "test.conf")
	if err == nil || !strings.Contains(err.Error(), "already configured") {
		t.Errorf("duplicate socket path: %v", err)
	}
}

// TestIdentityWithoutRequireCertificate: mosquitto 2.0 accepts
// use_identity_as_username without require_certificate on a TLS listener
// (it then requests no certificate and refuses every client; mqbroker
// does the same and warns), so the configuration parses.
func TestIdentityWithoutRequireCertificate(t *testing.T) {
	c, err := Parse(strings.NewReader("listener 1\ncertfile c\nkeyfile k\ncafile ca\nuse_identity_as_username true\n"), "test.conf")
	if err != nil {
		t.Fatal(err)
	}
	if l := c.Listeners[0]; !l.UseIdentityAsUsername || l.RequireCertificate {
		t.Errorf("listener: identity %v, require %v", l.UseIdentityAsUsername, l.RequireCertificate)
	}
}
