package broker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/mqkit/mqkit/internal/mqtt"
	"github.com/mqkit/mqkit/internal/wsconn"
)

// testPKI is a throwaway CA with a server and a client certificate.
type testPKI struct {
	pool   *x509.CertPool
	server tls.Certificate
	client tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(cn string, usage x509.ExtKeyUsage, serial int64) tls.Certificate {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
			KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &testPKI{pool: pool, server: leaf("127.0.0.1", x509.ExtKeyUsageServerAuth, 2),
		client: leaf("device-7", x509.ExtKeyUsageClientAuth, 3)}
}

func (p *testPKI) serverConfig(requireClient bool) *tls.Config {
	c := &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12}
	if requireClient {
		c.ClientCAs = p.pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c
}

func (p *testPKI) clientConfig() *tls.Config {
	return &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{p.client}, ServerName: "127.0.0.1"}
}

func TestTLSListener(t *testing.T) {
	pki := newTestPKI(t)
	var gotCN string
	auth := AuthenticatorFunc(func(ci *ClientInfo, password []byte) mqtt.ReasonCode {
		gotCN = ci.CertCommonName
		return mqtt.Success
	})
	_, addr := newTestBroker(t, Options{Authenticator: auth,
		Listeners: []ListenerConfig{{Name: "tls", Addr: "127.0.0.1:0", TLS: pki.serverConfig(true)}}})
	nc, err := tls.Dial("tcp", addr, pki.clientConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := newTClient(t, nc, mqtt.V5)
	if ack := c.connect(connectPacket(mqtt.V5, "tls-client", true)); ack.Code != mqtt.Success {
		t.Fatalf("CONNACK %s", ack.Code)
	}
	if gotCN != "device-7" {
		t.Errorf("certificate CN %q", gotCN)
	}
	c.subscribe("tls/t", 1)
	c.publish("tls/t", "secure", 1, false)
	c.expectPublish("tls/t", "secure")
	// A plain TCP client on the TLS port does not get in.
	plain := dial(t, addr, mqtt.V311)
	plain.send(connectPacket(mqtt.V311, "plain", true))
	if _, err := plain.read(testTimeout); err == nil {
		t.Error("plain client got a packet from a TLS listener")
	}
}

// wsDial connects a WebSocket client and wraps it as a tclient.
func wsDial(t *testing.T, url string, hdr http.Header, tlsConf *tls.Config) (*tclient, error) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}, TLSClientConfig: tlsConf, HandshakeTimeout: testTimeout}
	ws, resp, err := d.Dial(url, hdr)
	if err != nil {
		return nil, err
	}
	if resp.Header.Get("Sec-WebSocket-Protocol") != "mqtt" {
		t.Errorf("subprotocol %q, want mqtt", resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	wc := wsconn.New(ws, nil, time.Second)
	t.Cleanup(func() { ws.Close() })
	return newTClient(t, wc, mqtt.V311), nil
}

func TestWebSocket(t *testing.T) {
	pki := newTestPKI(t)
	b, _ := newTestBroker(t, Options{Listeners: []ListenerConfig{
		{Name: "ws", Addr: "127.0.0.1:0", WebSocket: true, WSPath: "/mqtt"},
		{Name: "wss", Addr: "127.0.0.1:0", WebSocket: true, TLS: pki.serverConfig(false)},
		{Name: "tcp", Addr: "127.0.0.1:0"},
	}})
	ws := "ws://" + b.Addr("ws").String()
	wss := "wss://" + b.Addr("wss").String()
	tcp := b.Addr("tcp").String()

	sub := connectClient(t, tcp, mqtt.V311, "ws-sub")
	sub.subscribe("ws/#", 1)
	for _, tc := range []struct {
		name, url string
		tls       *tls.Config
	}{{"ws", ws + "/mqtt", nil}, {"wss", wss + "/any/path", pki.clientConfig()}} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := wsDial(t, tc.url, nil, tc.tls)
			if err != nil {
				t.Fatal(err)
			}
			if ack := c.connect(connectPacket(mqtt.V311, "ws-"+tc.name, true)); ack.Code != mqtt.Success {
				t.Fatalf("CONNACK %s", ack.Code)
			}
			c.subscribe("back/"+tc.name, 1)
			c.publish("ws/"+tc.name, "over websocket", 1, false)
			sub.expectPublish("ws/"+tc.name, "over websocket")
			sub.publish("back/"+tc.name, "to websocket", 1, false)
			c.expectPublish("back/"+tc.name, "to websocket")
			c.expectNothing() // PINGREQ/PINGRESP over WebSocket
		})
	}
	t.Run("wrong path", func(t *testing.T) {
		if _, err := wsDial(t, ws+"/other", nil, nil); err == nil {
			t.Error("upgrade on a wrong path succeeded")
		}
	})
	t.Run("foreign origin", func(t *testing.T) {
		if _, err := wsDial(t, ws+"/mqtt", http.Header{"Origin": {"http://evil.example"}}, nil); err == nil {
			t.Error("cross-origin upgrade succeeded")
		}
		c, err := wsDial(t, ws+"/mqtt", http.Header{"Origin": {"http://" + b.Addr("ws").String()}}, nil)
		if err != nil {
			t.Fatalf("same-origin upgrade failed: %v", err)
		}
		c.connect(connectPacket(mqtt.V311, "ws-origin", true))
	})
	t.Run("text frame", func(t *testing.T) {
		d := websocket.Dialer{Subprotocols: []string{"mqtt"}}
		conn, _, err := d.Dial(ws+"/mqtt", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		buf, _ := mqtt.Append(nil, connectPacket(mqtt.V311, "ws-text", true), mqtt.V311)
		if err := conn.WriteMessage(websocket.TextMessage, buf); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(testTimeout))
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatal("connection not closed after a text frame")
				}
				break // closed [MQTT-6.0.0-1]
			}
		}
	})
}

func TestWebSocketOrigins(t *testing.T) {
	b, _ := newTestBroker(t, Options{Listeners: []ListenerConfig{
		{Name: "ws", Addr: "127.0.0.1:0", WebSocket: true, WSOrigins: []string{"https://app.example"}}}})
	url := "ws://" + b.Addr("ws").String() + "/"
	if _, err := wsDial(t, url, http.Header{"Origin": {"https://app.example"}}, nil); err != nil {
		t.Errorf("listed origin refused: %v", err)
	}
	if _, err := wsDial(t, url, http.Header{"Origin": {"https://other.example"}}, nil); err == nil {
		t.Error("unlisted origin accepted")
	}
}

func TestServeConnPipe(t *testing.T) {
	b, addr := newTestBroker(t, Options{})
	srv, cli := net.Pipe()
	if err := b.ServeConn(srv, "pipe"); err != nil {
		t.Fatal(err)
	}
	c := newTClient(t, cli, mqtt.V5)
	t.Cleanup(func() { cli.Close() })
	if ack := c.connect(connectPacket(mqtt.V5, "piped", true)); ack.Code != mqtt.Success {
		t.Fatalf("CONNACK %s", ack.Code)
	}
	c.subscribe("pipe/t", 0)
	pub := connectClient(t, addr, mqtt.V311, "pipe-pub")
	pub.publish("pipe/t", "through a pipe", 0, false)
	c.expectPublish("pipe/t", "through a pipe")
}

func TestMaxConnections(t *testing.T) {
	_, addr := newTestBroker(t, Options{Listeners: []ListenerConfig{{Name: "tcp", Addr: "127.0.0.1:0", MaxConnections: 2}}})
	a := connectClient(t, addr, mqtt.V311, "mc-a")
	connectClient(t, addr, mqtt.V311, "mc-b")
	third := dial(t, addr, mqtt.V311)
	third.expectClosed() // closed at accept, before any packet
	a.disconnect()
	// A slot is free again once a connection has ended.
	connectClient(t, addr, mqtt.V311, "mc-d")
}

func TestUnixListener(t *testing.T) {
	path := t.TempDir() + "/mq.sock"
	b, _ := newTestBroker(t, Options{Listeners: []ListenerConfig{{Name: "unix", Network: "unix", Addr: path}}})
	nc, err := net.Dial("unix", b.Addr("unix").String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := newTClient(t, nc, mqtt.V311)
	if ack := c.connect(connectPacket(mqtt.V311, "unix", true)); ack.Code != mqtt.Success {
		t.Fatalf("CONNACK %s", ack.Code)
	}
	c.subscribe("u", 0)
	c.publish("u", "over a unix socket", 0, false)
	c.expectPublish("u", "over a unix socket")
}

// A socket file left by a killed broker is replaced; the socket of a
// running broker is not taken over.
func TestUnixListenerStaleSocket(t *testing.T) {
	path := t.TempDir() + "/mq.sock"
	// A stale socket: bound, then abandoned without unlinking.
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	b, _ := newTestBroker(t, Options{Listeners: []ListenerConfig{{Name: "unix", Network: "unix", Addr: path}}})
	nc, err := net.Dial("unix", b.Addr("unix").String())
	if err != nil {
		t.Fatalf("dial after replacing the stale socket: %v", err)
	}
	nc.Close()
	// A second broker on the same path must fail, not steal the socket.
	b2, err := New(Options{Listeners: []ListenerConfig{{Name: "unix", Network: "unix", Addr: path}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b2.Start(); err == nil {
		t.Fatal("a second broker bound the socket of a running one")
	}
	if nc, err := net.Dial("unix", path); err != nil {
		t.Fatalf("the running broker lost its socket: %v", err)
	} else {
		nc.Close()
	}
}
