package config

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestBridgeParse(t *testing.T) {
	c := parse(t, `listener 1883
connection east
addresses broker1.example:1884 10.0.0.2 [::1]:1885
topic sensors/# out 1
topic # both 2 local/ remote/
topic "" in 0 here/state there/state
topic cmd/+ IN
topic a/b
bridge_protocol_version mqttv50
cleansession true
remote_clientid edge-1
remote_username u
remote_password p w
keepalive_interval 30
restart_timeout 2 20
try_private false
notifications false
notification_topic bridges/east/state
notifications_local_only true
bridge_outgoing_retain false
bridge_attempt_unsubscribe false
local_cleansession false
bridge_cafile /ca.pem
bridge_capath /certs
bridge_certfile /c.pem
bridge_keyfile /k.pem
bridge_insecure true
bridge_tls_version tlsv1.3
start_type lazy
threshold 3
idle_timeout 15
round_robin true
local_clientid edge-1-here
local_username bridge
local_password secret

connection west
address 127.0.0.1
topic x/# both
restart_timeout 7
`)
	if len(c.Bridges) != 2 {
		t.Fatalf("%d bridges, want 2", len(c.Bridges))
	}
	e := c.Bridges[0]
	want := &Bridge{
		Name: "east", Pos: Pos{"test.conf", 2},
		Addresses: []BridgeAddress{{"broker1.example", 1884}, {"10.0.0.2", 1883}, {"::1", 1885}},
		Topics: []BridgeTopic{
			{Pattern: "sensors/#", Direction: "out", QoS: 1, Pos: Pos{"test.conf", 4}},
			{Pattern: "#", Direction: "both", QoS: 2, LocalPrefix: "local/", RemotePrefix: "remote/", Pos: Pos{"test.conf", 5}},
			{Pattern: "", Direction: "in", LocalPrefix: "here/state", RemotePrefix: "there/state", Pos: Pos{"test.conf", 6}},
			{Pattern: "cmd/+", Direction: "in", Pos: Pos{"test.conf", 7}},
			{Pattern: "a/b", Direction: "out", Pos: Pos{"test.conf", 8}},
		},
		ProtocolVersion: "mqttv50", CleanSession: true, RemoteClientID: "edge-1",
		RemoteUsername: "u", RemotePassword: "p w", HasRemotePassword: true, KeepaliveInterval: 30,
		RestartBase: 2 * time.Second, RestartCap: 20 * time.Second,
		NotificationTopic: "bridges/east/state", NotificationsLocalOnly: true,
		AttemptUnsubscribe: false, LocalCleanSession: false, LocalCleanSessionSet: true,
		CAFile: "/ca.pem", CAPath: "/certs", CertFile: "/c.pem", KeyFile: "/k.pem", Insecure: true, TLSVersion: "tlsv1.3",
		StartType: "lazy", Threshold: 3, IdleTimeout: 15, RoundRobin: true,
		LocalClientID: "edge-1-here", LocalUsername: "bridge", LocalPassword: "secret", HasLocalPassword: true,
	}
	e.set = nil
	if !reflect.DeepEqual(e, want) {
		t.Errorf("bridge east\n got %+v\nwant %+v", *e, *want)
	}
	if got := e.Topics[1].LocalTopic(); got != "local/#" {
		t.Errorf("local topic %q", got)
	}
	if got := e.Topics[2].RemoteTopic(); got != "there/state" {
		t.Errorf("remote topic %q", got)
	}
	w := c.Bridges[1]
	host, _ := os.Hostname()
	if w.ProtocolVersion != "mqttv311" || w.CleanSession || !w.TryPrivate || !w.Notifications || !w.OutgoingRetain ||
		w.KeepaliveInterval != 60 || w.RestartBase != 7*time.Second || w.RestartCap != 0 || w.TLS() ||
		w.ClientID() != host+".west" || w.StateTopic() != "$SYS/broker/connection/"+host+".west/state" ||
		w.Addresses[0] != (BridgeAddress{"127.0.0.1", 1883}) || w.Topics[0].QoS != 0 ||
		!w.AttemptUnsubscribe || w.LocalClean() != w.CleanSession || w.StartType != "automatic" || w.RoundRobin ||
		w.Threshold != 10 || w.IdleTimeout != 60 || w.LocalID() != "local."+host+".west" {
		t.Errorf("bridge west defaults: %+v", *w)
	}
	// Global options after a bridge section still apply globally.
	c = parse(t, "connection a\naddress h\ntopic t\nmax_queued_messages 5\n")
	if c.MaxQueuedMessages != 5 {
		t.Errorf("max_queued_messages %d", c.MaxQueuedMessages)
	}
}

func TestBridgeParseErrors(t *testing.T) {
	const head = "connection b\naddress h\n"
	tests := []struct{ name, text, want string }{
		{"option before connection", "address h", `test.conf:1: address: bridge option before any "connection NAME" line`},
		{"duplicate name", head + "topic t\nconnection b", `test.conf:4: connection: duplicate bridge name "b" (already at test.conf:1)`},
		{"no name", "connection", "test.conf:1: connection: missing value"},
		{"no address", "connection b\ntopic t", "test.conf:1: connection: bridge b has no address"},
		{"no topic", head, "test.conf:1: connection: bridge b has no topic"},
		{"address twice", head + "address g", `test.conf:3: address: duplicate address/addresses value in bridge "b"`},
		{"bad port", "connection b\naddress h:99999", `test.conf:2: address: invalid address "h:99999": want HOST[:PORT]`},
		{"direction", head + "topic t sideways", `test.conf:3: topic: invalid direction "sideways": must be in, out or both`},
		{"qos", head + "topic t in 3", `test.conf:3: topic: invalid QoS "3": must be 0, 1 or 2`},
		{"too many", head + "topic t in 1 a/ b/ c/", `test.conf:3: topic: unexpected extra value "c/" (want: topic PATTERN [in|out|both [QOS [LOCAL-PREFIX REMOTE-PREFIX]]])`},
		{"wildcard prefix", head + "topic t in 1 a/# b/", `test.conf:3: topic: invalid local prefix "a/#": no wildcards allowed`},
		{"empty pattern", head + `topic "" in 1 a ""`, `test.conf:3: topic: an empty pattern ("") needs a local and a remote prefix`},
		{"bad filter", head + "topic a/#/b", `test.conf:3: topic: invalid topic filter "a/#/b"`},
		{"missing pattern", head + "topic", "test.conf:3: topic: missing topic pattern"},
		{"protocol", head + "topic t\nbridge_protocol_version mqttv4", `test.conf:4: bridge_protocol_version: invalid value "mqttv4": must be mqttv311, mqttv31 or mqttv50`},
		{"restart", head + "topic t\nrestart_timeout 0", `test.conf:4: restart_timeout: invalid value "0": must be a positive number of seconds`},
		{"restart cap", head + "topic t\nrestart_timeout 10 5", "test.conf:4: restart_timeout: cap 5 is below base 10"},
		{"start_type", head + "topic t\nstart_type sometimes", `test.conf:4: start_type: invalid value "sometimes": must be automatic, lazy or once`},
		{"threshold", head + "topic t\nthreshold 0", "test.conf:4: threshold: must be between 1 and 2147483647, got 0"},
		{"same client ids", head + "topic t\nremote_clientid x\nlocal_clientid x", `test.conf:5: local_clientid: is the same as the remote client id "x" (bridge b)`},
		{"duplicate clientid", head + "topic t\nremote_clientid a\nremote_clientid b", "test.conf:5: remote_clientid: duplicate value (already set at test.conf:4)"},
		{"password without user", head + "topic t\nremote_password p", "test.conf:4: remote_password: needs remote_username (bridge b)"},
		{"cert without key", head + "topic t\nbridge_cafile ca\nbridge_certfile c", "test.conf:5: bridge_certfile: bridge_keyfile is required with bridge_certfile (bridge b)"},
		{"insecure without TLS", head + "topic t\nbridge_insecure true", "test.conf:4: bridge_insecure: needs bridge_cafile or bridge_capath (which turn TLS on) (bridge b)"},
		{"notification topic", head + "topic t\nnotification_topic a/+", `test.conf:4: notification_topic: invalid topic "a/+"`},
		{"unsupported clientid", head + "clientid x", "test.conf:3: clientid: not supported by mqbroker (this bridge option is not implemented; see the README for the supported ones)"},
		{"unsupported bridge_identity", head + "bridge_identity x", "test.conf:3: bridge_identity: not supported by mqbroker (this bridge option is not implemented; see the README for the supported ones)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.text), "test.conf")
			var ce *Error
			if err == nil || !errors.As(err, &ce) {
				t.Fatalf("error %v, want *Error %q", err, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got %q\nwant %q", err, tc.want)
			}
		})
	}
}

func TestBridgeFormatRoundTrip(t *testing.T) {
	c := parse(t, `connection east
addresses a.example:1884 b.example
topic sensors/# out 1
topic # both 2 local/ remote/
topic "" in 0 here/state there/state
remote_clientid edge-1
remote_username u
remote_password secret
restart_timeout 3
bridge_protocol_version mqttv50
bridge_cafile /ca.pem
bridge_insecure true
connection west
address 127.0.0.1:1883
topic # in
`)
	var b strings.Builder
	if err := c.Format(&b); err != nil {
		t.Fatal(err)
	}
	back, err := Parse(strings.NewReader(b.String()), "formatted.conf")
	if err != nil {
		t.Fatalf("Parse(Format()): %v\n%s", err, b.String())
	}
	strip := func(c *Config) []Bridge {
		var out []Bridge
		for _, br := range c.Bridges {
			m := *br
			m.Pos, m.set = Pos{}, nil
			m.Topics = nil
			for _, t := range br.Topics {
				t.Pos = Pos{}
				m.Topics = append(m.Topics, t)
			}
			out = append(out, m)
		}
		return out
	}
	if got, want := strip(back), strip(c); !reflect.DeepEqual(got, want) {
		t.Errorf("round trip\n got %+v\nwant %+v\n%s", got, want, b.String())
	}
	for _, line := range []string{`topic "" in 0 here/state there/state`, "topic # both 2 local/ remote/", "addresses a.example:1884 b.example:1883"} {
		if !strings.Contains(b.String(), line+"\n") {
			t.Errorf("formatted config lacks %q:\n%s", line, b.String())
		}
	}
}
