package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func endpoint(t *testing.T, addr string) client.Endpoint {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return client.Endpoint{Host: host, Port: p}
}

// inbox collects messages delivered to a client.
type inbox chan *mqtt.Publish

func (in inbox) handler(p *mqtt.Publish) bool { in <- p; return true }

func (in inbox) next(t *testing.T) *mqtt.Publish {
	t.Helper()
	select {
	case p := <-in:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
		return nil
	}
}

func connect(t *testing.T, ep client.Endpoint, v mqtt.Version, id string, tweak func(*client.Options)) *client.Client {
	t.Helper()
	o := client.Options{Endpoint: ep, Connect: mqtt.Connect{Version: v, ClientID: id, CleanStart: true, KeepAlive: 30}}
	if tweak != nil {
		tweak(&o)
	}
	c, err := client.Connect(ctxT(t), o)
	if err != nil {
		t.Fatalf("connect %s: %v", id, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func subscribe(t *testing.T, c *client.Client, filter string, qos mqtt.QoS) {
	t.Helper()
	s := &mqtt.Subscribe{Subscriptions: []mqtt.Subscription{{Filter: filter, QoS: qos}}}
	ack, err := c.Subscribe(ctxT(t), s)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.SubackErr(s, ack); err != nil {
		t.Fatal(err)
	}
}

// pubSubRoundTrip publishes at every QoS through the broker at ep and
// checks what a QoS 2 subscriber receives.
func pubSubRoundTrip(t *testing.T, ep client.Endpoint) {
	for _, v := range []mqtt.Version{mqtt.V31, mqtt.V311, mqtt.V5} {
		for _, qos := range []mqtt.QoS{0, 1, 2} {
			t.Run(fmt.Sprintf("%s/q%d", v, qos), func(t *testing.T) {
				in := make(inbox, 4)
				sub := connect(t, ep, v, "sub-"+t.Name()[len(t.Name())-4:], func(o *client.Options) { o.OnMessage = in.handler })
				subscribe(t, sub, "rt/#", 2)
				pub := connect(t, ep, v, "pub-"+t.Name()[len(t.Name())-4:], nil)
				tok, err := pub.Publish(ctxT(t), &mqtt.Publish{Topic: "rt/x", Payload: []byte("hello"), QoS: qos})
				if err != nil {
					t.Fatal(err)
				}
				if err := tok.Wait(ctxT(t)); err != nil {
					t.Fatal(err)
				}
				m := in.next(t)
				if m.Topic != "rt/x" || string(m.Payload) != "hello" || m.QoS != qos {
					t.Errorf("received %s", mqtt.Describe(m))
				}
				if err := pub.Disconnect(ctxT(t), nil); err != nil {
					t.Error(err)
				}
				if err := sub.Disconnect(ctxT(t), nil); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

func TestMosquittoPubSub(t *testing.T) {
	m := clienttest.StartMosquitto(t, clienttest.AnonymousConf)
	pubSubRoundTrip(t, endpoint(t, m.Addr()))
}

func TestMosquittoWebSocketViaProxy(t *testing.T) {
	m := clienttest.StartMosquitto(t, clienttest.AnonymousConf)
	ws := clienttest.WebSocketProxy(t, m.Addr())
	ep := endpoint(t, ws)
	ep.Scheme, ep.Path = "ws", "/mqtt"
	pubSubRoundTrip(t, ep)
}

func TestWill(t *testing.T) {
	m := clienttest.StartMosquitto(t, clienttest.AnonymousConf)
	ep := endpoint(t, m.Addr())
	tests := []struct {
		name     string
		v        mqtt.Version
		end      func(c *client.Client) error
		wantWill bool
	}{
		{"abrupt close v311", mqtt.V311, (*client.Client).Close, true},
		{"normal disconnect v311", mqtt.V311, func(c *client.Client) error { return c.Disconnect(context.Background(), nil) }, false},
		{"normal disconnect v5", mqtt.V5, func(c *client.Client) error { return c.Disconnect(context.Background(), nil) }, false},
		{"disconnect with will v5", mqtt.V5, func(c *client.Client) error {
			return c.Disconnect(context.Background(), &mqtt.Disconnect{Code: mqtt.DisconnectWithWill})
		}, true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			topic := fmt.Sprintf("will/%d", i)
			in := make(inbox, 4)
			watcher := connect(t, ep, mqtt.V311, fmt.Sprintf("watch%d", i), func(o *client.Options) { o.OnMessage = in.handler })
			subscribe(t, watcher, topic, 1)
			dying := connect(t, ep, tc.v, fmt.Sprintf("dying%d", i), func(o *client.Options) {
				o.Connect.Will = &mqtt.Will{Topic: topic, Payload: []byte("gone"), QoS: 1}
			})
			if err := tc.end(dying); err != nil {
				t.Fatal(err)
			}
			// A marker published afterwards proves the will's absence.
			marker := connect(t, ep, mqtt.V311, fmt.Sprintf("marker%d", i), nil)
			tok, _ := marker.Publish(ctxT(t), &mqtt.Publish{Topic: topic, Payload: []byte("marker"), QoS: 1})
			if err := tok.Wait(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			first := string(in.next(t).Payload)
			if tc.wantWill && first != "gone" {
				t.Errorf("first message %q, want the will", first)
			}
			if !tc.wantWill && first != "marker" {
				t.Errorf("first message %q, want no will", first)
			}
		})
	}
}

func TestMosquittoTLSAndPasswords(t *testing.T) {
	certs := clienttest.NewTLSFiles(t)
	pw := clienttest.WritePasswordFile(t, certs.Dir, map[string]string{"alice": "secret"})
	m := clienttest.StartMosquitto(t, fmt.Sprintf(
		"listener {port} 127.0.0.1\ncertfile %s\nkeyfile %s\npassword_file %s\nallow_anonymous false\n",
		certs.ServerCert, certs.ServerKey, pw))
	base := endpoint(t, m.Addr())
	base.Scheme = "mqtts"
	tests := []struct {
		name  string
		tls   client.TLSOptions
		host  string
		user  string
		pass  string
		v     mqtt.Version
		check func(t *testing.T, err error)
	}{
		{"right password", client.TLSOptions{CAFile: certs.CACert}, "127.0.0.1", "alice", "secret", mqtt.V311, wantNoErr},
		{"localhost name", client.TLSOptions{CAFile: certs.CACert}, "localhost", "alice", "secret", mqtt.V5, wantNoErr},
		{"wrong password v311", client.TLSOptions{CAFile: certs.CACert}, "127.0.0.1", "alice", "nope", mqtt.V311, wantConnack(5)},
		{"wrong password v5", client.TLSOptions{CAFile: certs.CACert}, "127.0.0.1", "alice", "nope", mqtt.V5, wantConnack(135)},
		{"unknown CA", client.TLSOptions{CAFile: certs.OtherCACert}, "127.0.0.1", "alice", "secret", mqtt.V311, wantTLS},
		{"capath", client.TLSOptions{CAPath: certs.Dir}, "127.0.0.1", "alice", "secret", mqtt.V311, wantNoErr},
		{"name mismatch", client.TLSOptions{CAFile: certs.CACert, ServerName: "wrong.example"}, "127.0.0.1", "alice", "secret", mqtt.V311, wantTLS},
		{"name mismatch insecure", client.TLSOptions{CAFile: certs.CACert, ServerName: "wrong.example", Insecure: true}, "127.0.0.1", "alice", "secret", mqtt.V311, wantNoErr},
		{"insecure still checks CA", client.TLSOptions{CAFile: certs.OtherCACert, Insecure: true}, "127.0.0.1", "alice", "secret", mqtt.V311, wantTLS},
		{"client certificate", client.TLSOptions{CAFile: certs.CACert, CertFile: certs.ClientCert, KeyFile: certs.ClientKey, Version: "tlsv1.3"}, "127.0.0.1", "alice", "secret", mqtt.V311, wantNoErr},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := tc.tls.Config()
			if err != nil {
				t.Fatal(err)
			}
			ep := base
			ep.Host, ep.TLS = tc.host, cfg
			c, err := client.Connect(ctxT(t), client.Options{Endpoint: ep, Connect: mqtt.Connect{
				Version: tc.v, ClientID: "tls-test", CleanStart: true,
				HasUsername: true, Username: tc.user, HasPassword: true, Password: []byte(tc.pass),
			}})
			if err == nil {
				defer c.Close()
			}
			tc.check(t, err)
		})
	}
}

func wantNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func wantTLS(t *testing.T, err error) {
	t.Helper()
	var te *client.TLSError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want *TLSError", err)
	}
}

func wantConnack(code int) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var ce *client.ConnackError
		if !errors.As(err, &ce) || ce.ExitCode() != code {
			t.Fatalf("err = %v, want ConnackError with exit code %d", err, code)
		}
	}
}
