package client_test

import (
	"crypto/tls"
	"testing"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/client/clienttest"
)

func TestBrokerPubSub(t *testing.T) {
	b := clienttest.StartBroker(t, broker.Options{})
	pubSubRoundTrip(t, endpoint(t, b.Addr("tcp").String()))
}

func TestBrokerWebSocket(t *testing.T) {
	certs := clienttest.NewTLSFiles(t)
	pair, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	b := clienttest.StartBroker(t, broker.Options{Listeners: []broker.ListenerConfig{
		{Name: "ws", Addr: "127.0.0.1:0", WebSocket: true, WSPath: "/mqtt"},
		{Name: "wss", Addr: "127.0.0.1:0", WebSocket: true, WSPath: "/mqtt",
			TLS: &tls.Config{Certificates: []tls.Certificate{pair}}},
	}})
	t.Run("ws", func(t *testing.T) {
		ep := endpoint(t, b.Addr("ws").String())
		ep.Scheme, ep.Path = "ws", "/mqtt"
		pubSubRoundTrip(t, ep)
	})
	t.Run("wss", func(t *testing.T) {
		cfg, err := client.TLSOptions{CAFile: certs.CACert}.Config()
		if err != nil {
			t.Fatal(err)
		}
		ep := endpoint(t, b.Addr("wss").String())
		ep.Scheme, ep.Path, ep.TLS = "wss", "/mqtt", cfg
		pubSubRoundTrip(t, ep)
	})
}
