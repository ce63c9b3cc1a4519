package brokercmd

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/config"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// mosquitto 2.1 options end to end: enable_proxy_protocol,
// accept_protocol_versions, global_max_connections.
const mosquitto21Conf = `global_max_connections 2
global_max_clients 100
allow_anonymous true
listener 0 127.0.0.1
listener 0 127.0.0.1
enable_proxy_protocol 1
accept_protocol_versions 5
`

// listenerPorts returns the ports of the mqtt:// listeners in the banner.
func listenerPorts(t *testing.T, logs *syncBuffer) []int {
	t.Helper()
	var ports []int
	for _, m := range regexp.MustCompile(`listening on mqtt://127\.0\.0\.1:(\d+)`).FindAllStringSubmatch(logs.String(), -1) {
		p, _ := strconv.Atoi(m[1])
		ports = append(ports, p)
	}
	return ports
}

// waitLog waits until the log has a line containing sub.
func waitLog(t *testing.T, logs *syncBuffer, sub string) {
	t.Helper()
	deadline := time.Now().Add(bridgeTimeout)
	for !strings.Contains(logs.String(), sub) {
		if time.Now().After(deadline) {
			t.Fatalf("no log line containing %q:\n%s", sub, logs.String())
		}
		<-time.After(10 * time.Millisecond)
	}
}

// waitClosed reads nc until the broker closes it.
func waitClosed(t *testing.T, nc net.Conn) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, nc); err != nil && !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("waiting for the broker to close the connection: %v", err)
	}
}

// proxyConnect dials port, writes prefix and a CONNECT of version v, and
// returns the connection and the CONNACK (nil if the broker closed it).
func proxyConnect(t *testing.T, port int, prefix string, v mqtt.Version, id string) (net.Conn, *mqtt.Connack) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	b, err := mqtt.Append([]byte(prefix), &mqtt.Connect{Version: v, ClientID: id, CleanStart: true, KeepAlive: 30}, v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Write(b); err != nil {
		t.Fatal(err)
	}
	r := mqtt.NewReader(nc, 0)
	r.Version = v
	p, err := r.ReadPacket()
	if errors.Is(err, io.EOF) || (err != nil && strings.Contains(err.Error(), "connection reset")) {
		return nc, nil
	}
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	ack, ok := p.(*mqtt.Connack)
	if !ok {
		t.Fatalf("%s: got %s", id, mqtt.Describe(p))
	}
	return nc, ack
}

func TestMosquitto21Options(t *testing.T) {
	_, logs := startMqbroker(t, mosquitto21Conf)
	ports := listenerPorts(t, logs)
	if len(ports) != 2 {
		t.Fatalf("listener ports %v in:\n%s", ports, logs.String())
	}
	plain, proxied := ports[0], ports[1]
	const header = "PROXY TCP4 203.0.113.9 192.0.2.1 4711 1883\r\n"

	// accept_protocol_versions 5: a 3.1.1 client is refused with return
	// code 1, even through the proxy.
	old, ack := proxyConnect(t, proxied, header, mqtt.V311, "old")
	if ack == nil || ack.ReturnCodeV3 != mqtt.ConnRefusedProtocolVersion {
		t.Fatalf("3.1.1 on a v5-only listener: CONNACK %+v", ack)
	}
	// The refused connection counts against global_max_connections until
	// the broker has closed it (it leaves the count before its socket
	// closes): wait for that, or the connection without a header below
	// may be refused for the count instead of for the header.
	waitClosed(t, old)

	// enable_proxy_protocol 1: the client's address is the header's.
	_, ack = proxyConnect(t, proxied, header, mqtt.V5, "c5")
	if ack == nil || ack.Code != mqtt.Success {
		t.Fatalf("v5 through the proxy: CONNACK %+v", ack)
	}
	waitLog(t, logs, "New connection from 203.0.113.9:4711 on port "+strconv.Itoa(proxied)+".")
	waitLog(t, logs, "New client connected from 203.0.113.9:4711 as c5 ")
	// Without a header the connection is refused.
	if _, ack := proxyConnect(t, proxied, "", mqtt.V5, "direct"); ack != nil {
		t.Fatalf("connection without PROXY header: CONNACK %+v", ack)
	}
	waitLog(t, logs, "rejected, corrupt PROXY header.")

	// global_max_connections 2: c5 and one more, on any listener.
	if _, ack := proxyConnect(t, plain, "", mqtt.V311, "second"); ack == nil || ack.Code != mqtt.Success {
		t.Fatalf("second connection: CONNACK %+v", ack)
	}
	if _, ack := proxyConnect(t, plain, "", mqtt.V311, "third"); ack != nil {
		t.Fatalf("third connection: CONNACK %+v", ack)
	}
	waitLog(t, logs, "denied: max_connections exceeded.")
}

func TestMosquitto21PrintConfig(t *testing.T) {
	path := writeFile(t, t.TempDir(), "m21.conf", mosquitto21Conf+"listener 0 127.0.0.1\nenable_proxy_protocol 2\nproxy_protocol_v2_require_tls true\nrequire_certificate true\n")
	code, out, errs := runApp(t, "--print-config", "-c", path)
	if code != 0 {
		t.Fatalf("--print-config: exit %d: %s", code, errs)
	}
	for _, want := range []string{"\nglobal_max_connections 2\n", "\nglobal_max_clients 100\n", "\nenable_proxy_protocol 1\naccept_protocol_versions 5\n",
		"\nrequire_certificate true\n", "\nenable_proxy_protocol 2\nproxy_protocol_v2_require_tls true\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("--print-config lacks %q:\n%s", want, out)
		}
	}
	again := writeFile(t, filepath.Dir(path), "printed.conf", out)
	code, out2, errs := runApp(t, "--print-config", "-c", again)
	if code != 0 || out2 != out {
		t.Fatalf("printed configuration does not read back (exit %d: %s):\n%s\n---\n%s", code, errs, out, out2)
	}
	for _, tc := range []struct{ text, want string }{
		{"listener 0 127.0.0.1\nenable_proxy_protocol 3\n", "bad.conf:2: enable_proxy_protocol: must be 1 or 2"},
		{"listener 0 127.0.0.1\naccept_protocol_versions 3,6\n", "bad.conf:2: accept_protocol_versions:"},
		{"listener 0 127.0.0.1\nproxy_protocol_v2_require_tls true\n", "bad.conf:2: proxy_protocol_v2_require_tls: needs enable_proxy_protocol 2"},
	} {
		bad := writeFile(t, filepath.Dir(path), "bad.conf", tc.text)
		if code, _, errs := runApp(t, "--test-config", "-c", bad); code != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("--test-config %q: exit %d: %s", tc.text, code, errs)
		}
	}
}

// buildPlan maps the options to the broker's.
func TestMosquitto21Plan(t *testing.T) {
	cfg, err := config.Parse(strings.NewReader(mosquitto21Conf+`listener 0 127.0.0.1
enable_proxy_protocol 2
proxy_protocol_v2_require_tls true
require_certificate true
use_identity_as_username true
accept_protocol_versions 3 4
`), "m21.conf")
	if err != nil {
		t.Fatal(err)
	}
	p, err := buildPlan(cfg, nil, slog.New(slog.DiscardHandler), false)
	if err != nil {
		t.Fatal(err)
	}
	o := p.opts
	if o.MaxConnections != 2 || o.MaxClients != 100 {
		t.Errorf("MaxConnections %d, MaxClients %d", o.MaxConnections, o.MaxClients)
	}
	ls := o.Listeners
	if ls[0].ProxyProtocol != 0 || ls[0].AcceptVersions != nil {
		t.Errorf("plain listener: %+v", ls[0])
	}
	if ls[1].ProxyProtocol != 1 || ls[1].ProxyRequireTLS || ls[1].ProxyRequireCertificate ||
		!reflect.DeepEqual(ls[1].AcceptVersions, []mqtt.Version{mqtt.V5}) {
		t.Errorf("PROXY v1 listener: %+v", ls[1])
	}
	if ls[2].ProxyProtocol != 2 || !ls[2].ProxyRequireTLS || !ls[2].ProxyRequireCertificate || ls[2].TLS != nil ||
		!reflect.DeepEqual(ls[2].AcceptVersions, []mqtt.Version{mqtt.V31, mqtt.V311}) {
		t.Errorf("PROXY v2 listener: %+v", ls[2])
	}
	cfg, err = config.Parse(strings.NewReader("global_max_connections -1\nglobal_max_clients 0\n"), "d.conf")
	if err != nil {
		t.Fatal(err)
	}
	if p, err = buildPlan(cfg, nil, slog.New(slog.DiscardHandler), false); err != nil || p.opts.MaxConnections > 0 || p.opts.MaxClients > 0 {
		t.Errorf("unlimited: %v %d %d", err, p.opts.MaxConnections, p.opts.MaxClients)
	}
}
