package config

import (
	"reflect"
	"strings"
	"testing"
)

// mosquitto 2.1 options: enable_proxy_protocol,
// proxy_protocol_v2_require_tls, accept_protocol_versions,
// global_max_clients, global_max_connections.

func TestMosquitto21Options(t *testing.T) {
	c := parse(t, `global_max_clients 100
global_max_connections 50
listener 1883
enable_proxy_protocol 1
accept_protocol_versions 5
listener 1884
enable_proxy_protocol 2
proxy_protocol_v2_require_tls true
require_certificate true
use_identity_as_username true
accept_protocol_versions 4, 3 ,4
listener 8883
certfile /c
keyfile /k
enable_proxy_protocol 2
listener 1885
accept_protocol_versions 3
accept_protocol_versions 5 4
`)
	if c.GlobalMaxClients != 100 || c.GlobalMaxConnections != 50 {
		t.Errorf("global_max_clients %d, global_max_connections %d", c.GlobalMaxClients, c.GlobalMaxConnections)
	}
	want := []struct {
		proxy      int
		requireTLS bool
		versions   []int
	}{
		{1, false, []int{5}},
		{2, true, []int{3, 4}},
		{2, false, nil},
		{0, false, []int{4, 5}}, // the last line wins, as in mosquitto
	}
	for i, w := range want {
		l := c.Listeners[i]
		if l.ProxyProtocol != w.proxy || l.ProxyV2RequireTLS != w.requireTLS || !reflect.DeepEqual(l.AcceptProtocolVersions, w.versions) {
			t.Errorf("listener %d: proxy %d, require TLS %v, versions %v", i, l.ProxyProtocol, l.ProxyV2RequireTLS, l.AcceptProtocolVersions)
		}
	}

	d := Default()
	if d.GlobalMaxClients != -1 || d.GlobalMaxConnections != -1 || d.Listeners[0].ProxyProtocol != 0 || d.Listeners[0].AcceptProtocolVersions != nil {
		t.Errorf("defaults: %d %d %+v", d.GlobalMaxClients, d.GlobalMaxConnections, d.Listeners[0])
	}
	if c := parse(t, "global_max_clients -5\nglobal_max_connections 0\n"); c.GlobalMaxClients != -1 || c.GlobalMaxConnections != 0 {
		t.Errorf("negative: %d, zero: %d", c.GlobalMaxClients, c.GlobalMaxConnections)
	}
	// REQUIRE_LISTENER: a default-listener option counts as a listener.
	if c := parse(t, "port 1884\nenable_proxy_protocol 2\n"); c.Listeners[0].ProxyProtocol != 2 {
		t.Errorf("default listener: proxy %d", c.Listeners[0].ProxyProtocol)
	}
}

func TestMosquitto21Errors(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"proxy 0", "listener 1\nenable_proxy_protocol 0", "test.conf:2: enable_proxy_protocol: must be 1 or 2"},
		{"proxy 3", "listener 1\nenable_proxy_protocol 3", "test.conf:2: enable_proxy_protocol: must be 1 or 2"},
		{"proxy missing", "listener 1\nenable_proxy_protocol", "test.conf:2: enable_proxy_protocol: missing value"},
		{"proxy before a listener", "enable_proxy_protocol 1", "test.conf:1: enable_proxy_protocol: requires a listener to be defined first"},
		{"require_tls before a listener", "proxy_protocol_v2_require_tls true", "test.conf:1: proxy_protocol_v2_require_tls: requires a listener to be defined first"},
		{"require_tls bool", "listener 1\nproxy_protocol_v2_require_tls yes", `test.conf:2: proxy_protocol_v2_require_tls: invalid value "yes": must be true or false`},
		{"require_tls without proxy", "listener 1\nproxy_protocol_v2_require_tls true", "test.conf:2: proxy_protocol_v2_require_tls: needs enable_proxy_protocol 2 (listener :1 at test.conf:1)"},
		{"require_tls with v1", "listener 1\nenable_proxy_protocol 1\nproxy_protocol_v2_require_tls true", "test.conf:3: proxy_protocol_v2_require_tls: needs enable_proxy_protocol 2 (listener :1 at test.conf:1)"},
		{"require_tls with TLS", "listener 1\ncertfile /c\nkeyfile /k\nenable_proxy_protocol 2\nproxy_protocol_v2_require_tls true",
			"test.conf:5: proxy_protocol_v2_require_tls: is for TLS terminated by the proxy; this listener has certfile and keyfile (listener :1 at test.conf:1)"},
		{"require_certificate with v1", "listener 1\nenable_proxy_protocol 1\nrequire_certificate true",
			"test.conf:3: require_certificate: needs certfile and keyfile on the same listener, or enable_proxy_protocol 2 (TLS terminated by the proxy) (listener :1 at test.conf:1)"},
		{"cafile with v2", "listener 1\nenable_proxy_protocol 2\ncafile /ca", "test.conf:3: cafile: needs certfile and keyfile on the same listener (listener :1 at test.conf:1)"},
		{"identity without certificate", "listener 1\nenable_proxy_protocol 2\nuse_identity_as_username true", "test.conf:3: use_identity_as_username: needs require_certificate true (listener :1 at test.conf:1)"},
		{"versions before a listener", "accept_protocol_versions 5", `test.conf:1: accept_protocol_versions: must follow a "listener" line`},
		{"versions on the default listener", "port 1884\naccept_protocol_versions 5", `test.conf:2: accept_protocol_versions: must follow a "listener" line`},
		{"versions empty", "listener 1\naccept_protocol_versions", "test.conf:2: accept_protocol_versions: missing value"},
		{"versions commas only", "listener 1\naccept_protocol_versions ,,", "test.conf:2: accept_protocol_versions: missing value"},
		{"versions 6", "listener 1\naccept_protocol_versions 5,6", `test.conf:2: accept_protocol_versions: invalid value "6": must be 3 (MQTT 3.1), 4 (3.1.1) or 5 (5.0)`},
		{"versions name", "listener 1\naccept_protocol_versions mqttv5", `test.conf:2: accept_protocol_versions: invalid value "mqttv5": must be 3 (MQTT 3.1), 4 (3.1.1) or 5 (5.0)`},
		{"global clients", "global_max_clients many", `test.conf:1: global_max_clients: invalid value "many": must be an integer`},
		{"global connections", "global_max_connections 1 2", `test.conf:1: global_max_connections: unexpected extra value "2"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.text), "test.conf")
			if err == nil || err.Error() != tc.want {
				t.Errorf("error\n got %v\nwant %q", err, tc.want)
			}
		})
	}
}

func TestMosquitto21Validate(t *testing.T) {
	c := Default()
	l := c.Listeners[0]
	for _, set := range []func(){
		func() { l.ProxyProtocol = 4 },
		func() { l.ProxyProtocol, l.ProxyV2RequireTLS = 1, true },
		func() { l.ProxyProtocol, l.ProxyV2RequireTLS, l.AcceptProtocolVersions = 0, false, []int{} },
		func() { l.AcceptProtocolVersions = []int{2} },
	} {
		set()
		if err := c.Validate(); err == nil {
			t.Errorf("accepted: %+v", l)
		}
	}
	l.AcceptProtocolVersions = []int{4}
	l.ProxyProtocol, l.ProxyV2RequireTLS, l.RequireCertificate = 2, true, true
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestMosquitto21FormatRoundTrip(t *testing.T) {
	c := parse(t, `global_max_clients 1000
global_max_connections 10
listener 1883
enable_proxy_protocol 1
accept_protocol_versions 3,5
listener 1884 127.0.0.1
enable_proxy_protocol 2
proxy_protocol_v2_require_tls true
require_certificate true
use_identity_as_username true
listener 9001
protocol websockets
enable_proxy_protocol 2
accept_protocol_versions 4
`)
	var b strings.Builder
	if err := c.Format(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"global_max_clients 1000\nglobal_max_connections 10\n",
		"listener 1883\nmax_connections -1\nmax_qos 2\nmax_topic_alias 10\nenable_proxy_protocol 1\naccept_protocol_versions 3,5\n",
		"enable_proxy_protocol 2\nproxy_protocol_v2_require_tls true\n",
		"require_certificate true\nuse_identity_as_username true\n",
		"protocol websockets\nmax_connections -1\nmax_qos 2\nmax_topic_alias 10\nenable_proxy_protocol 2\naccept_protocol_versions 4\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	back, err := Parse(strings.NewReader(out), "printed.conf")
	if err != nil {
		t.Fatalf("output does not parse: %v\n%s", err, out)
	}
	if got, want := normalized(back), normalized(c); !reflect.DeepEqual(got, want) {
		t.Errorf("round trip changed the configuration\n got %+v\nwant %+v", got, want)
	}
	var d strings.Builder
	Default().Format(&d)
	if !strings.Contains(d.String(), "global_max_clients -1\nglobal_max_connections -1\n") ||
		strings.Contains(d.String(), "enable_proxy_protocol") || strings.Contains(d.String(), "accept_protocol_versions") {
		t.Errorf("defaults:\n%s", d.String())
	}
}
