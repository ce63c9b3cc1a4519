package clicmd

import (
	"crypto/tls"
	"fmt"
	"net"
	"testing"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// target is a running broker the commands are pointed at.
type target struct {
	host, port string
	mosquitto  bool
}

// args returns the -h/-p arguments followed by more.
func (tg target) args(more ...string) []string {
	return append([]string{"-h", tg.host, "-p", tg.port}, more...)
}

func splitAddr(t *testing.T, addr string) target {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return target{host: h, port: p}
}

// brokerKinds starts an anonymous broker of each kind: our in-process
// broker and the real mosquitto (skipped when not installed, unless CI).
var brokerKinds = []struct {
	name  string
	start func(t *testing.T) target
}{
	{"mqkit", func(t *testing.T) target {
		b := clienttest.StartBroker(t, broker.Options{})
		return splitAddr(t, b.Addr("tcp").String())
	}},
	{"mosquitto", func(t *testing.T) target {
		m := clienttest.StartMosquitto(t, clienttest.AnonymousConf)
		tg := splitAddr(t, m.Addr())
		tg.mosquitto = true
		return tg
	}},
}

// forEachBroker runs fn as a subtest against each kind of broker.
func forEachBroker(t *testing.T, fn func(t *testing.T, tg target)) {
	for _, k := range brokerKinds {
		t.Run(k.name, func(t *testing.T) { fn(t, k.start(t)) })
	}
}

// secureBroker is a broker with a TLS listener and the user alice/secret;
// the plain listener allows no anonymous clients either.
type secureBroker struct {
	plain, tls target
	certs      *clienttest.TLSFiles
}

var secureKinds = []struct {
	name  string
	start func(t *testing.T) secureBroker
}{
	{"mqkit", func(t *testing.T) secureBroker {
		certs := clienttest.NewTLSFiles(t)
		pair, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
		if err != nil {
			t.Fatal(err)
		}
		b := clienttest.StartBroker(t, broker.Options{
			Listeners: []broker.ListenerConfig{
				{Name: "tcp", Addr: "127.0.0.1:0"},
				{Name: "tls", Addr: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{pair}}},
			},
			Authenticator: broker.AuthenticatorFunc(func(ci *broker.ClientInfo, password []byte) mqtt.ReasonCode {
				if ci.Username == "alice" && string(password) == "secret" {
					return mqtt.Success
				}
				return mqtt.NotAuthorized // as mosquitto, also for a wrong password
			}),
		})
		return secureBroker{plain: splitAddr(t, b.Addr("tcp").String()), tls: splitAddr(t, b.Addr("tls").String()), certs: certs}
	}},
	{"mosquitto", func(t *testing.T) secureBroker {
		certs := clienttest.NewTLSFiles(t)
		pw := clienttest.WritePasswordFile(t, certs.Dir, map[string]string{"alice": "secret"})
		m := clienttest.StartMosquitto(t, fmt.Sprintf("per_listener_settings false\nallow_anonymous false\npassword_file %s\n"+
			"listener {port} 127.0.0.1\nlistener {port2} 127.0.0.1\ncertfile %s\nkeyfile %s\n",
			pw, certs.ServerCert, certs.ServerKey))
		plain := splitAddr(t, m.Addr())
		plain.mosquitto = true
		tlsT := splitAddr(t, m.Addr2())
		tlsT.mosquitto = true
		return secureBroker{plain: plain, tls: tlsT, certs: certs}
	}},
}
