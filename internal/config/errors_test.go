package config

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string // exact error text
	}{
		// Unknown and unsupported options.
		{"unknown", "listener 1\n\nfrobnicate yes", "test.conf:3: frobnicate: unknown option"},
		{"case sensitive", "Listener 1", "test.conf:1: Listener: unknown option"},
		{"bridge prefix", "connection r\nbridge_alpn mqtt", "test.conf:2: bridge_alpn: not supported by mqbroker (this bridge option is not implemented; see the README for the supported ones)"},
		{"bridge topic outside a bridge", "topic # both", `test.conf:1: topic: bridge option before any "connection NAME" line`},
		{"plugin", "plugin /usr/lib/x.so", "test.conf:1: plugin: not supported by mqbroker (plugins are not supported)"},
		{"plugin opt", "plugin_opt_x y", "test.conf:1: plugin_opt_x: not supported by mqbroker (plugins are not supported)"},
		{"auth opt", "auth_opt_x y", "test.conf:1: auth_opt_x: not supported by mqbroker (plugins are not supported)"},
		{"psk", "listener 1\npsk_hint h", "test.conf:2: psk_hint: not supported by mqbroker (TLS-PSK is not supported)"},
		{"ciphers", "ciphers HIGH", "test.conf:1: ciphers: not supported by mqbroker (OpenSSL cipher lists are not supported; Go's TLS defaults apply)"},
		{"unix socket with a port", "listener 1883 /run/mq.sock", "test.conf:1: listener: a unix socket listener takes port 0: listener 0 /run/mq.sock"},
		{"unix socket over websockets", "listener 0 /run/mq.sock\nprotocol websockets", "test.conf:2: protocol: a unix socket listener speaks plain MQTT only (listener /run/mq.sock at test.conf:1)"},
		{"log_dest dlt", "log_dest dlt", "test.conf:1: log_dest: dlt is not supported"},

		// Bad values.
		{"max_qos", "listener 1\nmax_qos 3", "test.conf:2: max_qos: must be 0, 1 or 2"},
		{"max_qos text", "max_qos two", "test.conf:1: max_qos: must be 0, 1 or 2"},
		{"bool", "allow_anonymous yes", `test.conf:1: allow_anonymous: invalid value "yes": must be true or false`},
		{"bool missing", "retain_available", "test.conf:1: retain_available: missing value"},
		{"int", "max_queued_messages 10x", `test.conf:1: max_queued_messages: invalid value "10x": must be an integer`},
		{"extra value", "max_queued_messages 10 20", `test.conf:1: max_queued_messages: unexpected extra value "20"`},
		{"listener port", "listener 65536", `test.conf:1: listener: invalid port "65536": must be 0-65535`},
		{"listener no port", "listener", "test.conf:1: listener: missing port"},
		{"listener extra", "listener 1 a b", `test.conf:1: listener: unexpected extra value "b" (want: listener PORT [ADDRESS])`},
		{"port 0", "port 0", "test.conf:1: port: must be between 1 and 65535, got 0"},
		{"protocol", "listener 1\nprotocol mqttsn", `test.conf:2: protocol: invalid value "mqttsn": must be mqtt, websockets or http`},
		{"tls_version", "listener 1\ntls_version tlsv1", `test.conf:2: tls_version: invalid value "tlsv1": must be tlsv1.3, tlsv1.2 or tlsv1.1`},
		{"max_keepalive low", "max_keepalive 5", "test.conf:1: max_keepalive: must be between 10 and 65535, got 5"},
		{"max_keepalive high", "max_keepalive 65536", "test.conf:1: max_keepalive: must be between 10 and 65535, got 65536"},
		{"max_packet_size", "max_packet_size 19", "test.conf:1: max_packet_size: must be between 20 and 268435460, got 19"},
		{"message_size_limit", "message_size_limit 268435456", "test.conf:1: message_size_limit: must be between 0 and 268435455, got 268435456"},
		{"max_inflight_messages", "max_inflight_messages 65536", "test.conf:1: max_inflight_messages: must be at most 65535, got 65536"},
		{"max_topic_alias", "max_topic_alias 70000", "test.conf:1: max_topic_alias: must be between 0 and 65535, got 70000"},
		{"sys_interval", "sys_interval -1", "test.conf:1: sys_interval: must be between 0 and 65535, got -1"},
		{"expiration unit", "persistent_client_expiration 10s", `test.conf:1: persistent_client_expiration: invalid duration "10s": want a positive number followed by h, d, w, m or y`},
		{"expiration zero", "persistent_client_expiration 0d", `test.conf:1: persistent_client_expiration: invalid duration "0d": want a positive number followed by h, d, w, m or y`},
		{"log_dest", "log_dest printer", `test.conf:1: log_dest: invalid value "printer": must be stdout, stderr, syslog, topic, file PATH or none`},
		{"log_dest file empty", "log_dest file", `test.conf:1: log_dest: missing file name after "file"`},
		{"log_dest file twice", "log_dest file a\nlog_dest file b", `test.conf:2: log_dest: duplicate "log_dest file" value`},
		{"log_type", "log_type verbose", `test.conf:1: log_type: invalid value "verbose"`},
		{"websockets_path", "listener 1\nprotocol websockets\nwebsockets_path mqtt", `test.conf:3: websockets_path: must start with '/', got "mqtt"`},
		{"empty string", "password_file", "test.conf:1: password_file: missing value"},
		{"mount_point before a listener", "mount_point a/", `test.conf:1: mount_point: must follow a "listener" line`},
		{"mount_point missing", "listener 1\nmount_point", "test.conf:2: mount_point: missing value"},
		{"mount_point +", "listener 1\nmount_point a/+/", `test.conf:2: mount_point: invalid value "a/+/": a mount point must not contain the wildcards '+' and '#'`},
		{"mount_point #", "listener 1\nmount_point a/#", `test.conf:2: mount_point: invalid value "a/#": a mount point must not contain the wildcards '+' and '#'`},
		{"mount_point comment", "listener 1\nmount_point a/ # tenant a", `test.conf:2: mount_point: invalid value "a/ # tenant a": a mount point must not contain the wildcards '+' and '#'`},
		{"mount_point NUL", "listener 1\nmount_point a\x00/", `test.conf:2: mount_point: invalid value "a\x00/": a mount point must be a valid topic name (UTF-8 without U+0000, at most 65535 bytes)`},
		{"mount_point $share", "listener 1\nmount_point $share/g/", `test.conf:2: mount_point: invalid value "$share/g/": a mount point must not start with "$share/"`},
		{"bad utf8", "password_file \xff", "test.conf:1: password_file: value is not valid UTF-8"},

		// Duplicates (as mosquitto: string options once per scope).
		{"duplicate password_file", "password_file a\n#\npassword_file b", "test.conf:3: password_file: duplicate value (already set at test.conf:1)"},
		{"duplicate certfile", "listener 1\ncertfile a\ncertfile b", "test.conf:3: certfile: duplicate value (already set at test.conf:2)"},
		{"duplicate mount_point", "listener 1\nmount_point a/\nmount_point b/", "test.conf:3: mount_point: duplicate value (already set at test.conf:2)"},
		{"duplicate listener", "listener 1883\nlistener 1883", "test.conf:2: listener: :1883 is already configured at test.conf:1"},
		{"listener clashes with port", "listener 1883\nport 1883", "test.conf:2: listener: :1883 is already configured at test.conf:1"},

		// Ordering rules.
		{"per_listener_settings late", "allow_anonymous true\nper_listener_settings true",
			"test.conf:2: per_listener_settings: must be set before any other security settings"},
		{"per-listener option with no default listener", "per_listener_settings true\nallow_anonymous true\nlistener 1",
			"test.conf:2: with per_listener_settings true, security options before the first listener apply to the default listener, which is not configured; move this option after a listener line"},
		{"include_dir missing", "include_dir /nonexistent/dir", "test.conf:1: include_dir: cannot read directory: open /nonexistent/dir: no such file or directory"},

		// Cross-option checks (Validate).
		{"certfile without keyfile", "listener 8883\ncertfile c", "test.conf:2: certfile: keyfile is required with certfile (listener :8883 at test.conf:1)"},
		{"keyfile without certfile", "listener 8883\nkeyfile k", "test.conf:2: keyfile: certfile is required with keyfile (listener :8883 at test.conf:1)"},
		{"cafile without TLS", "listener 1\ncafile ca", "test.conf:2: cafile: needs certfile and keyfile on the same listener (listener :1 at test.conf:1)"},
		{"require_certificate without TLS", "listener 1\nrequire_certificate true", "test.conf:2: require_certificate: needs certfile and keyfile on the same listener (listener :1 at test.conf:1)"},
		{"tls_version without TLS", "listener 1\ntls_version tlsv1.2", "test.conf:2: tls_version: needs certfile and keyfile on the same listener (listener :1 at test.conf:1)"},
		{"require_certificate without CA", "listener 1\ncertfile c\nkeyfile k\nrequire_certificate true",
			"test.conf:4: require_certificate: needs cafile or capath to verify client certificates (listener :1 at test.conf:1)"},
		{"websockets option on mqtt", "listener 1\nwebsockets_origin https://x", "test.conf:2: websockets_origin: only valid with protocol websockets (listener :1 at test.conf:1)"},
		{"default listener TLS", "certfile c\nport 8883", "test.conf:1: certfile: keyfile is required with certfile (default listener :8883)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.text), "test.conf")
			if err == nil {
				t.Fatalf("want error %q", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got %q\nwant %q", err, tc.want)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *config.Error", err)
			}
		})
	}
}

func TestValidateProgrammatic(t *testing.T) {
	c := Default()
	c.Listeners[0].CertFile = "x"
	err := c.Validate()
	if err == nil || err.Error() != "certfile: keyfile is required with certfile (local-only listener)" {
		t.Errorf("Validate: %v", err)
	}
	c.Listeners[0].KeyFile = "y"
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	c.Listeners[0].MaxQoS = 3
	if err := c.Validate(); err == nil {
		t.Error("max_qos 3 accepted")
	}
	c.Listeners[0].MaxQoS = 2
	for _, m := range []string{"a/#", "+", "$share/g/"} {
		c.Listeners[0].MountPoint = m
		if err := c.Validate(); err == nil {
			t.Errorf("mount_point %q accepted", m)
		}
	}
	c.Listeners[0].MountPoint = "tenant/"
	if err := c.Validate(); err != nil {
		t.Errorf("mount_point tenant/: %v", err)
	}
}
