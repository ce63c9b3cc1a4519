package config

import (
	"strings"
	"testing"
)

// TestHTTPListener: "protocol http" (an mqbroker extension) parses, takes
// certfile/keyfile, and refuses the options of MQTT listeners;
// http_allow_publish is a global boolean, false by default.
func TestHTTPListener(t *testing.T) {
	c := parse(t, "listener 1883\nlistener 8080 127.0.0.1\nprotocol http\ncertfile c\nkeyfile k\nhttp_allow_publish true\n")
	if l := c.Listeners[1]; l.Protocol != ProtocolHTTP || !l.TLS() || l.URL() != "https://127.0.0.1:8080" {
		t.Errorf("listener %+v, URL %s", l, l.URL())
	}
	if !c.HTTPAllowPublish {
		t.Error("http_allow_publish not set")
	}
	if parse(t, "listener 8080\nprotocol http\n").HTTPAllowPublish {
		t.Error("http_allow_publish defaults to true")
	}
	for _, tc := range []struct{ text, want string }{
		{"listener 0 /tmp/s\nprotocol http", "protocol: an http listener needs a TCP port"},
		{"listener 8080\nprotocol http\nmount_point a/", "mount_point: not valid on a protocol http listener"},
		{"listener 8080\nprotocol http\nwebsockets_path /x", "websockets_path: not valid on a protocol http listener"},
		{"listener 8080\nprotocol http\ncertfile c\nkeyfile k\ncafile ca", "cafile: not valid on a protocol http listener"},
		{"listener 8080\nprotocol http\ncertfile c", "certfile: keyfile is required with certfile"},
		{"listener 8080\nprotocol http\ntls_version tlsv1.2", "tls_version: needs certfile and keyfile"},
		{"http_allow_publish maybe", "http_allow_publish"},
	} {
		_, err := Parse(strings.NewReader(tc.text), "test.conf")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.text, err, tc.want)
		}
	}
}
