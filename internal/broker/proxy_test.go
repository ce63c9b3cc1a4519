package broker

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/mqkit/mqkit/internal/mqtt"
	"github.com/mqkit/mqkit/internal/wsconn"
)

// proxyV2 builds a PROXY v2 header.
func proxyV2(cmd, fam byte, block []byte, tlvs ...[]byte) []byte {
	b := append([]byte(nil), proxyV2Sig[:]...)
	rest := append([]byte(nil), block...)
	for _, t := range tlvs {
		rest = append(rest, t...)
	}
	b = append(b, 0x20|cmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(rest)))
	return append(b, rest...)
}

// v2Addr is the address block of a TCP4 or TCP6 header.
func v2Addr(src, dst string) []byte {
	s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
	b := append(s.Addr().AsSlice(), d.Addr().AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, s.Port())
	return binary.BigEndian.AppendUint16(b, d.Port())
}

func v2Unix(src string) []byte {
	b := make([]byte, 216)
	copy(b, src)
	return b
}

func tlv(typ byte, v []byte) []byte {
	b := []byte{typ}
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// sslTLV is a PP2_TYPE_SSL TLV: client flags, verify result, sub-TLVs.
func sslTLV(client byte, verify uint32, subs ...[]byte) []byte {
	v := binary.BigEndian.AppendUint32([]byte{client}, verify)
	for _, s := range subs {
		v = append(v, s...)
	}
	return tlv(pp2TypeSSL, v)
}

const sslVerified = pp2ClientSSL | 0x02 | pp2ClientCertSess // SSL, CERT_CONN, CERT_SESS

func TestReadProxyHeader(t *testing.T) {
	tcp4 := v2Addr("203.0.113.7:4242", "192.0.2.1:1883")
	tcp6 := v2Addr("[2001:db8::7]:5000", "[2001:db8::1]:1883")
	cn := tlv(pp2SubtypeSSLCN, []byte("device-9"))
	tests := []struct {
		name    string
		version int
		in      string
		want    proxyHeader
		err     bool
	}{
		{"v1 tcp4", 1, "PROXY TCP4 203.0.113.7 192.0.2.1 4242 1883\r\n", proxyHeader{src: "203.0.113.7:4242"}, false},
		{"v1 tcp6", 1, "PROXY TCP6 2001:db8::7 2001:db8::1 5000 1883\r\n", proxyHeader{src: "[2001:db8::7]:5000"}, false},
		{"v1 longest", 1, "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
			proxyHeader{src: "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"}, false},
		{"v1 unknown", 1, "PROXY UNKNOWN\r\n", proxyHeader{local: true}, false},
		{"v1 unknown with addresses", 1, "PROXY UNKNOWN ffff:f::1 ffff:f::2 1 2\r\n", proxyHeader{local: true}, false},
		{"v1 mqtt instead", 1, "\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00", proxyHeader{}, true},
		{"v1 lowercase", 1, "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", proxyHeader{}, true},
		{"v1 family mismatch", 1, "PROXY TCP4 2001:db8::7 192.0.2.1 1 2\r\n", proxyHeader{}, true},
		{"v1 tcp6 with ipv4", 1, "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", proxyHeader{}, true},
		{"v1 bad address", 1, "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", proxyHeader{}, true},
		{"v1 port 0", 1, "PROXY TCP4 1.2.3.4 5.6.7.8 0 2\r\n", proxyHeader{}, true},
		{"v1 port too big", 1, "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", proxyHeader{}, true},
		{"v1 signed port", 1, "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", proxyHeader{}, true},
		{"v1 missing field", 1, "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", proxyHeader{}, true},
		{"v1 extra field", 1, "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", proxyHeader{}, true},
		{"v1 double space", 1, "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", proxyHeader{}, true},
		{"v1 unknown protocol", 1, "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", proxyHeader{}, true},
		{"v1 bare LF", 1, "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n\r\n", proxyHeader{}, true},
		{"v1 CR inside", 1, "PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n", proxyHeader{}, true},
		{"v1 too long", 1, "PROXY UNKNOWN " + strings.Repeat("x", 100) + "\r\n", proxyHeader{}, true},
		{"v1 truncated", 1, "PROXY TCP4 1.2.3.4 5.6", proxyHeader{}, true},

		{"v2 tcp4", 2, string(proxyV2(proxyCmdProxy, proxyFamTCP4, tcp4)), proxyHeader{src: "203.0.113.7:4242"}, false},
		{"v2 tcp6", 2, string(proxyV2(proxyCmdProxy, proxyFamTCP6, tcp6)), proxyHeader{src: "[2001:db8::7]:5000"}, false},
		{"v2 unix", 2, string(proxyV2(proxyCmdProxy, proxyFamUnix, v2Unix("/run/client.sock"))), proxyHeader{src: "/run/client.sock"}, false},
		{"v2 local", 2, string(proxyV2(proxyCmdLocal, proxyFamUnspec, nil)), proxyHeader{local: true}, false},
		{"v2 local with addresses", 2, string(proxyV2(proxyCmdLocal, proxyFamTCP4, tcp4)), proxyHeader{local: true}, false},
		{"v2 TLVs skipped", 2, string(proxyV2(proxyCmdProxy, proxyFamTCP4, tcp4, tlv(0x04, []byte{0, 0, 0}), tlv(0xE0, []byte("custom")))),
			proxyHeader{src: "203.0.113.7:4242"}, false},
		{"v2 ssl verified", 2, string(proxyV2(proxyCmdProxy, proxyFamTCP4, tcp4,
			sslTLV(sslVerified, 0, tlv(pp2SubtypeSSLVer, []byte("TLSv1.3")), cn, tlv(pp2SubtypeSSLCipher, []byte("TLS_AES_128_GCM_SHA256"))))),
			proxyHeader{src: "203.0.113.7:4242", tls: true, cert: true, cn: "device-9", tlsVer: "TLSv1.3", tlsCiph: "TLS_AES_128_GCM_SHA256"}, false},
		{"v2 ssl not verified", 2, string(proxyV2(proxyCmdProxy, proxyFamTCP4, tcp4, sslTLV(sslVerified, 1, cn))),
			proxyHeader{src: "203.0.113.7:4242", tls: true, cn: "device-9"}, false},
		{"v2 ssl without certificate", 2, string(proxyV2(proxyCmdProxy, proxyFamTCP4, tcp4, sslTLV(pp2ClientSSL, 0))),
			proxyHeader{src: "203.0.113.7:4242", tls: true}, false},
		{"v2 mqtt instead", 2, "\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00", proxyHeader{}, true},
		{"v2 v1 header", 2, "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", proxyHeader{}, true},
		{"v2 version 1", 2, string(append(proxyV2Sig[:], 0x11, proxyFamTCP4, 0, 12)) + string(tcp4), proxyHeader{}, true},
		{"v2 command 2", 2, string(proxyV2(0x2, proxyFamTCP4, tcp4)), proxyHeader{}, true},
		{"v2 udp", 2, string(proxyV2(proxyCmdProxy, 0x12, tcp4)), proxyHeader{}, true},
		{"v2 proxy unspec", 2, string(proxyV2(proxyCmdProxy, proxyFamUnspec, nil)), proxyHeader{}, true},
		{"v2 short tcp4", 2, string(proxyV2(proxyCmdProxy, proxyFamTCP4, tcp4[:11])), proxyHeader{}, true},
		{"v2 short tcp6", 2, string(proxyV2(proxyCmdProxy, proxyFamTCP6, tcp4)), proxyHeader{}, true},
		{"v2 too long", 2, string(proxyV2(proxyCmdProxy, proxyFamTCP4, tcp4, tlv(0xE0, make([]byte, 500)))), proxyHeader{}, true},
		{"v2 truncated TLV", 2, string(proxyV2(proxyCmdProxy, proxyFamTCP4, tcp4, []byte{0xE0, 0})), proxyHeader{}, true},
		{"v2 TLV overrun", 2, string(proxyV2(proxyCmdProxy, proxyFamTCP4, tcp4, []byte{0xE0, 0, 9, 1})), proxyHeader{}, true},
		{"v2 short SSL TLV", 2, string(proxyV2(proxyCmdProxy, proxyFamTCP4, tcp4, tlv(pp2TypeSSL, []byte{1, 0}))), proxyHeader{}, true},
		{"v2 CN with NUL", 2, string(proxyV2(proxyCmdProxy, proxyFamTCP4, tcp4, sslTLV(sslVerified, 0, tlv(pp2SubtypeSSLCN, []byte("a\x00b"))))), proxyHeader{}, true},
		{"v2 truncated block", 2, string(proxyV2(proxyCmdProxy, proxyFamTCP4, tcp4))[:20], proxyHeader{}, true},
	}
	const after = "\x10\x0cMQTT..." // what follows the header must stay unread
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, split := range []bool{false, true} {
				var r io.Reader = strings.NewReader(tc.in + after)
				if strings.Contains(tc.name, "truncated") {
					r = strings.NewReader(tc.in)
				}
				if split {
					r = iotest.OneByteReader(r) // every read returns one byte
				}
				h, n, err := readProxyHeader(r, tc.version)
				if tc.err {
					if err == nil {
						t.Fatalf("no error, header %+v", h)
					}
					if !strings.Contains(tc.name, "truncated") && !errors.Is(err, errProxyHeader) {
						t.Errorf("error %v is not errProxyHeader", err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if h != tc.want {
					t.Errorf("header %+v, want %+v", h, tc.want)
				}
				if n != len(tc.in) {
					t.Errorf("read %d bytes, header has %d", n, len(tc.in))
				}
				rest, _ := io.ReadAll(r)
				if string(rest) != after {
					t.Errorf("left %q after the header, want %q", rest, after)
				}
			}
		})
	}
}

// waitMore waits until more than before logged lines contain sub.
func waitMore(t *testing.T, logs *logCapture, sub string, before int) {
	t.Helper()
	deadline := time.NewTimer(testTimeout)
	defer deadline.Stop()
	for logs.count(sub) <= before {
		select {
		case <-logs.ch:
		case <-deadline.C:
			t.Fatalf("no new log line containing %q", sub)
		}
	}
}

// infoRecorder records the ClientInfo the Authenticator and the
// Authorizer see, by client id.
type infoRecorder struct {
	mu    sync.Mutex
	auth  map[string]ClientInfo
	authz map[string]ClientInfo
}

func newInfoRecorder() *infoRecorder {
	return &infoRecorder{auth: map[string]ClientInfo{}, authz: map[string]ClientInfo{}}
}

func (r *infoRecorder) Authenticate(ci *ClientInfo, _ []byte) mqtt.ReasonCode {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.auth[ci.ClientID] = *ci
	return mqtt.Success
}

func (r *infoRecorder) Authorize(ci *ClientInfo, topic string, acc Access) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.authz[ci.ClientID] = *ci
	return true
}

// seen returns what the Authenticator and the Authorizer saw of id.
func (r *infoRecorder) seen(id string) (auth, authz ClientInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.auth[id], r.authz[id]
}

// dialProxied opens a TCP connection and writes header.
func dialProxied(t *testing.T, addr string, header []byte) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	if len(header) > 0 {
		_ = nc.SetWriteDeadline(time.Now().Add(testTimeout))
		if _, err := nc.Write(header); err != nil {
			t.Fatalf("write header: %v", err)
		}
	}
	return nc
}

// connectBytes encodes a CONNECT.
func connectBytes(t *testing.T, p *mqtt.Connect) []byte {
	t.Helper()
	b, err := mqtt.Append(nil, p, p.Version)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestProxyProtocolClientAddress(t *testing.T) {
	rec := newInfoRecorder()
	logs := newLogCapture()
	b, _ := newTestBroker(t, Options{Authenticator: rec, Authorizer: rec, ConnectionMessages: true, Logger: logs.logger(),
		Listeners: []ListenerConfig{
			{Name: "v1", Addr: "127.0.0.1:0", ProxyProtocol: 1},
			{Name: "v2", Addr: "127.0.0.1:0", ProxyProtocol: 2},
		}})
	tests := []struct {
		name, listener, id string
		header             []byte
		want               string // "" = the socket's address
	}{
		{"v1 TCP4", "v1", "p1-tcp4", []byte("PROXY TCP4 203.0.113.7 192.0.2.1 4242 1883\r\n"), "203.0.113.7:4242"},
		{"v1 TCP6", "v1", "p1-tcp6", []byte("PROXY TCP6 2001:db8::7 2001:db8::1 5000 1883\r\n"), "[2001:db8::7]:5000"},
		{"v1 UNKNOWN", "v1", "p1-unknown", []byte("PROXY UNKNOWN\r\n"), ""},
		{"v2 TCP4", "v2", "p2-tcp4", proxyV2(proxyCmdProxy, proxyFamTCP4, v2Addr("198.51.100.9:6000", "192.0.2.1:1883"), tlv(0xE0, []byte("x"))), "198.51.100.9:6000"},
		{"v2 TCP6", "v2", "p2-tcp6", proxyV2(proxyCmdProxy, proxyFamTCP6, v2Addr("[2001:db8::9]:7000", "[2001:db8::1]:1883")), "[2001:db8::9]:7000"},
		{"v2 LOCAL", "v2", "p2-local", proxyV2(proxyCmdLocal, proxyFamUnspec, nil), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := b.Addr(tc.listener).String()
			// The header and CONNECT in one write: the broker must not read
			// past the header.
			in := append(append([]byte(nil), tc.header...), connectBytes(t, connectPacket(mqtt.V5, tc.id, true))...)
			nc := dialProxied(t, addr, in)
			c := newTClient(t, nc, mqtt.V5)
			if ack := expect[*mqtt.Connack](c); ack.Code != mqtt.Success {
				t.Fatalf("CONNACK %s", ack.Code)
			}
			c.subscribe("proxy/"+tc.id, 0)
			c.publish("proxy/"+tc.id, "hello", 0, false)
			c.expectPublish("proxy/"+tc.id, "hello")
			want := tc.want
			if want == "" {
				want = nc.LocalAddr().String()
			}
			auth, authz := rec.seen(tc.id)
			if auth.RemoteAddr() != want || authz.RemoteAddr() != want {
				t.Errorf("Authenticator saw %q, Authorizer %q, want %q", auth.RemoteAddr(), authz.RemoteAddr(), want)
			}
			_, port, _ := net.SplitHostPort(addr)
			logs.waitLine(t, "New connection from "+want+" on port "+port+".")
			logs.wait(t, "New client connected from "+want+" as "+tc.id+" ")
			if tc.want != "" && logs.has("New connection from "+nc.LocalAddr().String()) {
				t.Errorf("the socket's address %s was logged", nc.LocalAddr())
			}
		})
	}
}

// A connection without a valid header is closed (logged) within the
// connect timeout; other clients are not affected.
func TestProxyProtocolBadHeaders(t *testing.T) {
	logs := newLogCapture()
	const connectTimeout = 300 * time.Millisecond
	b, _ := newTestBroker(t, Options{ConnectTimeout: connectTimeout, ConnectionMessages: true, Logger: logs.logger(),
		Listeners: []ListenerConfig{
			{Name: "v1", Addr: "127.0.0.1:0", ProxyProtocol: 1},
			{Name: "v2", Addr: "127.0.0.1:0", ProxyProtocol: 2},
		}})
	good := dialProxied(t, b.Addr("v2").String(), proxyV2(proxyCmdProxy, proxyFamTCP4, v2Addr("203.0.113.1:1", "192.0.2.1:1883")))
	gc := newTClient(t, good, mqtt.V311)
	if ack := gc.connect(connectPacket(mqtt.V311, "good", true)); ack.Code != mqtt.Success {
		t.Fatalf("CONNACK %s", ack.Code)
	}
	connect := connectBytes(t, connectPacket(mqtt.V311, "bad", true))
	tests := []struct {
		name, listener string
		in             []byte
		closeAfter     bool   // the client closes after writing
		log            string // expected log line ("" = none checked)
	}{
		{"v1 missing", "v1", connect, false, "rejected, corrupt PROXY header."},
		{"v2 missing", "v2", connect, false, "rejected, corrupt PROXY header."},
		{"v1 garbage", "v1", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false, "rejected, corrupt PROXY header."},
		{"v1 bad address", "v1", append([]byte("PROXY TCP4 1.2.3.999 5.6.7.8 1 2\r\n"), connect...), false, "rejected, corrupt PROXY header."},
		{"v1 line too long", "v1", []byte("PROXY UNKNOWN " + strings.Repeat("a", 200)), false, "rejected, corrupt PROXY header."},
		{"v2 v1 header", "v2", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), false, "rejected, corrupt PROXY header."},
		{"v2 bad TLV", "v2", append(proxyV2(proxyCmdProxy, proxyFamTCP4, v2Addr("1.2.3.4:1", "5.6.7.8:2"), []byte{1, 0, 9}), connect...), false, "rejected, corrupt PROXY header."},
		{"v2 truncated then closed", "v2", proxyV2(proxyCmdProxy, proxyFamTCP4, v2Addr("1.2.3.4:1", "5.6.7.8:2"))[:20], true, "rejected, corrupt PROXY header."},
		{"v1 truncated, slow", "v1", []byte("PROXY TCP4 1.2."), false, "connect timeout"},
		{"v2 truncated, slow", "v2", proxyV2(proxyCmdProxy, proxyFamTCP4, v2Addr("1.2.3.4:1", "5.6.7.8:2"))[:20], false, "connect timeout"},
		{"v1 silent", "v1", nil, false, "connect timeout"},
		{"v2 silent", "v2", nil, false, "connect timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := logs.count(tc.log)
			nc := dialProxied(t, b.Addr(tc.listener).String(), tc.in)
			if tc.closeAfter {
				nc.(*net.TCPConn).CloseWrite()
			}
			c := newTClient(t, nc, mqtt.V311)
			c.expectClosed() // within testTimeout, far above the connect timeout
			waitMore(t, logs, tc.log, before)
			gc.roundTrip() // the good client is still served
		})
	}
	// New clients still get in, through the proxy.
	late := dialProxied(t, b.Addr("v1").String(), []byte("PROXY TCP4 203.0.113.2 192.0.2.1 2 1883\r\n"))
	lc := newTClient(t, late, mqtt.V311)
	if ack := lc.connect(connectPacket(mqtt.V311, "late", true)); ack.Code != mqtt.Success {
		t.Fatalf("CONNACK %s", ack.Code)
	}
	gc.subscribe("after/bad", 0)
	lc.publish("after/bad", "still here", 0, false)
	gc.expectPublish("after/bad", "still here")
}

// A connection waiting for its header holds up neither the accept loop
// nor other clients, and Shutdown closes it.
func TestProxyProtocolPendingHeader(t *testing.T) {
	b, err := New(Options{Listeners: []ListenerConfig{{Name: "v2", Addr: "127.0.0.1:0", ProxyProtocol: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	addr := b.Addr("v2").String()
	pending := make([]*tclient, 3)
	for i := range pending {
		pending[i] = newTClient(t, dialProxied(t, addr, proxyV2Sig[:5]), mqtt.V311) // a header begun, never finished
	}
	hdr := proxyV2(proxyCmdProxy, proxyFamTCP4, v2Addr("203.0.113.3:3", "192.0.2.1:1883"))
	c := newTClient(t, dialProxied(t, addr, hdr), mqtt.V311)
	if ack := c.connect(connectPacket(mqtt.V311, "meanwhile", true)); ack.Code != mqtt.Success {
		t.Fatalf("CONNACK %s", ack.Code)
	}
	c.roundTrip()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil { // the default connect timeout is 10s
		t.Fatalf("Shutdown: %v", err)
	}
	for _, p := range pending {
		p.expectClosed()
	}
}

// On a TLS listener the header comes before the TLS handshake.
func TestProxyProtocolTLS(t *testing.T) {
	pki := newTestPKI(t)
	rec := newInfoRecorder()
	logs := newLogCapture()
	b, addr := newTestBroker(t, Options{Authenticator: rec, ConnectionMessages: true, Logger: logs.logger(),
		Listeners: []ListenerConfig{{Name: "tls", Addr: "127.0.0.1:0", TLS: pki.serverConfig(true), ProxyProtocol: 2}}})
	_ = b
	raw := dialProxied(t, addr, proxyV2(proxyCmdProxy, proxyFamTCP6, v2Addr("[2001:db8::42]:4100", "[2001:db8::1]:8883")))
	tc := tls.Client(raw, pki.clientConfig())
	_ = tc.SetDeadline(time.Now().Add(testTimeout))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake after the PROXY header: %v", err)
	}
	c := newTClient(t, tc, mqtt.V5)
	if ack := c.connect(connectPacket(mqtt.V5, "tls-proxied", true)); ack.Code != mqtt.Success {
		t.Fatalf("CONNACK %s", ack.Code)
	}
	c.roundTrip()
	auth, _ := rec.seen("tls-proxied")
	if auth.RemoteAddr() != "[2001:db8::42]:4100" || auth.CertCommonName != "device-7" {
		t.Errorf("ClientInfo: remote %q, certificate %q", auth.RemoteAddr(), auth.CertCommonName)
	}
	logs.wait(t, "New connection from [2001:db8::42]:4100 on port")

	// A TLS client that sends no header is refused: its ClientHello is not
	// a PROXY header.
	direct, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	dc := tls.Client(direct, pki.clientConfig())
	_ = dc.SetDeadline(time.Now().Add(testTimeout))
	if err := dc.Handshake(); err == nil {
		t.Fatal("TLS handshake without a PROXY header succeeded")
	}
	logs.wait(t, "rejected, corrupt PROXY header.")
}

// On a WebSocket listener the header comes before the HTTP request.
func TestProxyProtocolWebSocket(t *testing.T) {
	pki := newTestPKI(t)
	rec := newInfoRecorder()
	logs := newLogCapture()
	b, _ := newTestBroker(t, Options{Authenticator: rec, ConnectionMessages: true, Logger: logs.logger(),
		Listeners: []ListenerConfig{
			{Name: "ws", Addr: "127.0.0.1:0", WebSocket: true, ProxyProtocol: 1},
			{Name: "wss", Addr: "127.0.0.1:0", WebSocket: true, ProxyProtocol: 2, TLS: pki.serverConfig(true)},
		}})
	addr := b.Addr("ws").String()
	// The dialer writes the header on the TCP connection, before the TLS
	// handshake (wss) and the HTTP request.
	dialURL := func(url, header string, tc *tls.Config) (*tclient, error) {
		d := websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: testTimeout, TLSClientConfig: tc,
			NetDialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
				nc, err := (&net.Dialer{}).DialContext(ctx, network, a)
				if err == nil && header != "" {
					_, err = io.WriteString(nc, header)
				}
				return nc, err
			}}
		ws, _, err := d.Dial(url, nil)
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { ws.Close() })
		return newTClient(t, wsconn.New(ws, nil, time.Second), mqtt.V311), nil
	}
	dialWS := func(header string) (*tclient, error) { return dialURL("ws://"+addr+"/mqtt", header, nil) }
	sc, err := dialURL("wss://"+b.Addr("wss").String()+"/mqtt",
		string(proxyV2(proxyCmdProxy, proxyFamTCP6, v2Addr("[2001:db8::5]:443", "[2001:db8::1]:8884"))), pki.clientConfig())
	if err != nil {
		t.Fatalf("secure WebSocket through the proxy: %v", err)
	}
	if ack := sc.connect(connectPacket(mqtt.V311, "wss-proxied", true)); ack.Code != mqtt.Success {
		t.Fatalf("CONNACK %s", ack.Code)
	}
	if auth, _ := rec.seen("wss-proxied"); auth.RemoteAddr() != "[2001:db8::5]:443" || auth.CertCommonName != "device-7" {
		t.Errorf("wss ClientInfo: remote %q, certificate %q", auth.RemoteAddr(), auth.CertCommonName)
	}
	c, err := dialWS("PROXY TCP4 198.51.100.4 192.0.2.1 1234 80\r\n")
	if err != nil {
		t.Fatalf("WebSocket through the proxy: %v", err)
	}
	if ack := c.connect(connectPacket(mqtt.V311, "ws-proxied", true)); ack.Code != mqtt.Success {
		t.Fatalf("CONNACK %s", ack.Code)
	}
	c.roundTrip()
	if auth, _ := rec.seen("ws-proxied"); auth.RemoteAddr() != "198.51.100.4:1234" {
		t.Errorf("RemoteAddr %q", auth.RemoteAddr())
	}
	_, port, _ := net.SplitHostPort(addr)
	logs.waitLine(t, "New connection from 198.51.100.4:1234 on port "+port+".")
	if _, err := dialWS(""); err == nil {
		t.Error("WebSocket without a PROXY header was accepted")
	}
	logs.wait(t, "rejected, corrupt PROXY header.")
	c.roundTrip()
}

// TLS terminated by the proxy: the v2 SSL TLV says whether the client used
// TLS and had its certificate verified (mosquitto 2.1's
// proxy_protocol_v2_require_tls and require_certificate).
func TestProxyProtocolSSLTLV(t *testing.T) {
	rec := newInfoRecorder()
	logs := newLogCapture()
	b, addr := newTestBroker(t, Options{Authenticator: rec, Logger: logs.logger(),
		Listeners: []ListenerConfig{{Name: "v2", Addr: "127.0.0.1:0", ProxyProtocol: 2,
			ProxyRequireTLS: true, ProxyRequireCertificate: true}}})
	_ = b
	block := v2Addr("203.0.113.50:5050", "192.0.2.1:1883")
	cn := tlv(pp2SubtypeSSLCN, []byte("device-9"))
	hdr := proxyV2(proxyCmdProxy, proxyFamTCP4, block, sslTLV(sslVerified, 0, cn))
	c := newTClient(t, dialProxied(t, addr, hdr), mqtt.V5)
	if ack := c.connect(connectPacket(mqtt.V5, "behind-tls", true)); ack.Code != mqtt.Success {
		t.Fatalf("CONNACK %s", ack.Code)
	}
	if auth, _ := rec.seen("behind-tls"); auth.CertCommonName != "device-9" || auth.RemoteAddr() != "203.0.113.50:5050" {
		t.Errorf("ClientInfo: certificate %q, remote %q", auth.CertCommonName, auth.RemoteAddr())
	}
	for _, tc := range []struct {
		name string
		hdr  []byte
		log  string
	}{
		{"no TLS", proxyV2(proxyCmdProxy, proxyFamTCP4, block), "Connection from 203.0.113.50:5050 rejected, client did not connect using TLS."},
		{"TLS flag clear", proxyV2(proxyCmdProxy, proxyFamTCP4, block, sslTLV(0, 0, cn)), "rejected, client did not connect using TLS."},
		{"unverified", proxyV2(proxyCmdProxy, proxyFamTCP4, block, sslTLV(sslVerified, 18, cn)), "Connection from 203.0.113.50:5050 rejected, client did not provide a certificate."},
		{"no certificate", proxyV2(proxyCmdProxy, proxyFamTCP4, block, sslTLV(pp2ClientSSL, 0)), "rejected, client did not provide a certificate."},
		{"LOCAL", proxyV2(proxyCmdLocal, proxyFamUnspec, nil), "rejected, client did not connect using TLS."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := logs.count(tc.log)
			in := append(append([]byte(nil), tc.hdr...), connectBytes(t, connectPacket(mqtt.V5, "refused", true))...)
			newTClient(t, dialProxied(t, addr, in), mqtt.V5).expectClosed()
			waitMore(t, logs, tc.log, before)
		})
	}
	if auth, _ := rec.seen("refused"); auth.ClientID != "" {
		t.Error("a refused connection reached the Authenticator")
	}
	c.roundTrip()
}

func TestProxyOptionsValidation(t *testing.T) {
	pki := newTestPKI(t)
	for _, lc := range []ListenerConfig{
		{Name: "x", Addr: "127.0.0.1:0", ProxyProtocol: 3},
		{Name: "x", Addr: "127.0.0.1:0", ProxyProtocol: 1, ProxyRequireTLS: true},
		{Name: "x", Addr: "127.0.0.1:0", ProxyRequireCertificate: true},
		{Name: "x", Addr: "127.0.0.1:0", ProxyProtocol: 2, ProxyRequireTLS: true, TLS: pki.serverConfig(false)},
		{Name: "x", Addr: "127.0.0.1:0", AcceptVersions: []mqtt.Version{6}},
		{Name: "x", Addr: "127.0.0.1:0", AcceptVersions: []mqtt.Version{}},
	} {
		if _, err := New(Options{Listeners: []ListenerConfig{lc}}); err == nil {
			t.Errorf("%+v accepted", lc)
		}
	}
}

func TestAcceptVersions(t *testing.T) {
	b, _ := newTestBroker(t, Options{Listeners: []ListenerConfig{
		{Name: "v5only", Addr: "127.0.0.1:0", AcceptVersions: []mqtt.Version{mqtt.V5}},
		{Name: "v3only", Addr: "127.0.0.1:0", AcceptVersions: []mqtt.Version{mqtt.V31, mqtt.V311}},
	}})
	v5only, v3only := b.Addr("v5only").String(), b.Addr("v3only").String()
	for _, v := range []mqtt.Version{mqtt.V311, mqtt.V31} {
		c := dial(t, v5only, v)
		ack := c.connect(connectPacket(v, "old", true))
		if ack.ReturnCodeV3 != mqtt.ConnRefusedProtocolVersion { // 0x01 [MQTT-3.1.2-2]
			t.Errorf("v%d on a v5-only listener: CONNACK return code %d", v, ack.ReturnCodeV3)
		}
		c.expectClosed()
	}
	c := dial(t, v3only, mqtt.V5)
	if ack := c.connect(connectPacket(mqtt.V5, "new", true)); ack.Code != mqtt.UnsupportedProtocolVersion {
		t.Errorf("v5 on a 3.x-only listener: CONNACK %s, want 0x84", ack.Code)
	}
	c.expectClosed()
	// The accepted versions connect.
	connectClient(t, v5only, mqtt.V5, "new").roundTrip()
	connectClient(t, v3only, mqtt.V311, "old").roundTrip()
	connectClient(t, v3only, mqtt.V31, "older").roundTrip()
}

func TestGlobalMaxConnections(t *testing.T) {
	logs := newLogCapture()
	b, _ := newTestBroker(t, Options{MaxConnections: 2, ConnectionMessages: true, Logger: logs.logger(),
		Listeners: []ListenerConfig{
			{Name: "a", Addr: "127.0.0.1:0", MaxConnections: 1},
			{Name: "b", Addr: "127.0.0.1:0"},
			{Name: "ws", Addr: "127.0.0.1:0", WebSocket: true},
		}})
	a, bb := b.Addr("a").String(), b.Addr("b").String()
	a1 := connectClient(t, a, mqtt.V311, "a1")
	dial(t, a, mqtt.V311).expectClosed() // the listener's own limit
	b1 := connectClient(t, bb, mqtt.V311, "b1")
	dial(t, bb, mqtt.V311).expectClosed() // the broker's: 2 connections
	if _, err := wsDial(t, "ws://"+b.Addr("ws").String()+"/mqtt", nil, nil); err == nil {
		t.Error("WebSocket connection beyond global max connections accepted")
	}
	if n := logs.count("denied: max_connections exceeded."); n < 2 {
		t.Errorf("%d denials logged", n)
	}
	a1.disconnect()
	b2 := connectClient(t, bb, mqtt.V311, "b2") // a slot is free again
	b1.roundTrip()
	b2.roundTrip()
	b1.disconnect()
	ws, err := wsDial(t, "ws://"+b.Addr("ws").String()+"/mqtt", nil, nil)
	if err != nil {
		t.Fatalf("WebSocket below the limit: %v", err)
	}
	if ack := ws.connect(connectPacket(mqtt.V311, "ws1", true)); ack.Code != mqtt.Success {
		t.Fatalf("CONNACK %s", ack.Code)
	}
}

func TestGlobalMaxClients(t *testing.T) {
	_, addr := newTestBroker(t, Options{MaxClients: 2})
	durable := func(id string) *mqtt.Connect {
		p := connectPacket(mqtt.V5, id, false)
		p.Props.SetSessionExpiry(60)
		return p
	}
	k1, _ := mustConnect(t, addr, durable("k1"))
	k2, _ := mustConnect(t, addr, durable("k2"))
	k1.disconnect()
	k2.disconnect() // two offline sessions still count

	c := dial(t, addr, mqtt.V5)
	if ack := c.connect(durable("k3")); ack.Code != mqtt.ServerBusy {
		t.Fatalf("third client: CONNACK %s, want 0x89 server busy", ack.Code)
	}
	c.expectClosed()
	old := dial(t, addr, mqtt.V311)
	old.send(connectPacket(mqtt.V311, "k3", true))
	old.expectClosed() // 3.1.1: no CONNACK, as mosquitto

	// A client whose session exists gets in; a clean session ends it.
	k1, ack := mustConnect(t, addr, connectPacket(mqtt.V5, "k1", true))
	if ack.SessionPresent {
		t.Error("clean start resumed the session")
	}
	k1.disconnect() // session expiry 0: the session ends
	connectClient(t, addr, mqtt.V5, "k3").roundTrip()
}

// Shutdown must not wait for WebSocket connections still sending their
// PROXY header.
func TestProxyProtocolWebSocketShutdown(t *testing.T) {
	b, err := New(Options{Listeners: []ListenerConfig{{Name: "ws", Addr: "127.0.0.1:0", WebSocket: true, ProxyProtocol: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	nc := dialProxied(t, b.Addr("ws").String(), bytes.Repeat([]byte{'\r'}, 2))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(testTimeout))
	if _, err := nc.Read(make([]byte, 1)); err == nil {
		t.Error("connection still open after Shutdown")
	}
}

// A WebSocket connection whose PROXY header does not come is closed
// within the connect timeout.
func TestProxyProtocolWebSocketTimeout(t *testing.T) {
	b, _ := newTestBroker(t, Options{ConnectTimeout: 200 * time.Millisecond,
		Listeners: []ListenerConfig{{Name: "ws", Addr: "127.0.0.1:0", WebSocket: true, ProxyProtocol: 1}}})
	for _, in := range []string{"", "PROXY TCP4 1.2"} {
		nc := dialProxied(t, b.Addr("ws").String(), []byte(in))
		_ = nc.SetReadDeadline(time.Now().Add(testTimeout))
		if n, err := nc.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("header %q: read %d bytes, %v; want the connection closed", in, n, err)
		}
	}
}
