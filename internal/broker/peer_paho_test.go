package broker_test

// The Eclipse Paho clients as peers: paho.mqtt.golang (MQTT 3.1.1) and
// paho.golang (MQTT 5.0).

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	pahov3 "github.com/eclipse/paho.mqtt.golang"
)

// v3client is a paho.mqtt.golang client and the messages it received.
type v3client struct {
	c       pahov3.Client
	msgs    chan pahov3.Message
	lost    chan error // the broker closed the connection
	present bool       // CONNACK session present
}

// v3connect connects a paho.mqtt.golang client (3.1.1, no reconnect, no
// persistence of its own beyond memory). It is disconnected at the end of
// the test.
func v3connect(t *testing.T, s *server, id string, clean bool) *v3client {
	t.Helper()
	return v3connectWith(t, s, id, clean, func(*pahov3.ClientOptions) {})
}

// v3connectAs is v3connect (clean session) with a username and password.
func v3connectAs(t *testing.T, s *server, id, user, password string) *v3client {
	t.Helper()
	return v3connectWith(t, s, id, true, func(o *pahov3.ClientOptions) { o.SetUsername(user).SetPassword(password) })
}

func v3connectWith(t *testing.T, s *server, id string, clean bool, tune func(*pahov3.ClientOptions)) *v3client {
	t.Helper()
	vc := &v3client{msgs: make(chan pahov3.Message, 1000), lost: make(chan error, 1)}
	opts := pahov3.NewClientOptions().AddBroker(s.url()).SetClientID(id).
		SetCleanSession(clean).SetAutoReconnect(false).SetConnectRetry(false).
		SetProtocolVersion(4).SetConnectTimeout(peerTimeout).SetKeepAlive(30 * time.Second).
		SetOrderMatters(true).
		SetDefaultPublishHandler(func(_ pahov3.Client, m pahov3.Message) { vc.msgs <- m }).
		SetConnectionLostHandler(func(_ pahov3.Client, err error) { vc.lost <- err })
	tune(opts)
	vc.c = pahov3.NewClient(opts)
	tok := vc.c.Connect()
	if !tok.WaitTimeout(peerTimeout) || tok.Error() != nil {
		t.Fatalf("paho v3 connect %q: %v", id, tok.Error())
	}
	vc.present = tok.(*pahov3.ConnectToken).SessionPresent()
	t.Cleanup(func() { vc.c.Disconnect(0) })
	return vc
}

func waitTok(t *testing.T, what string, tok pahov3.Token) {
	t.Helper()
	if !tok.WaitTimeout(peerTimeout) {
		t.Fatalf("%s: timeout", what)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func (vc *v3client) sub(t *testing.T, filter string, qos byte) {
	t.Helper()
	tok := vc.c.Subscribe(filter, qos, nil)
	waitTok(t, "subscribe "+filter, tok)
	// One filter: one result (paho keys it by the filter without any
	// $share/GROUP/ prefix).
	res := tok.(*pahov3.SubscribeToken).Result()
	if len(res) != 1 {
		t.Fatalf("subscribe %s: results %v", filter, res)
	}
	for _, got := range res {
		if got != qos {
			t.Fatalf("subscribe %s: granted 0x%02x, want QoS %d", filter, got, qos)
		}
	}
}

func (vc *v3client) pub(t *testing.T, topic string, qos byte, retain bool, payload string) {
	t.Helper()
	waitTok(t, "publish "+topic, vc.c.Publish(topic, qos, retain, payload))
}

// recv returns the next message.
func (vc *v3client) recv(t *testing.T) pahov3.Message {
	t.Helper()
	select {
	case m := <-vc.msgs:
		return m
	case <-time.After(peerTimeout):
		t.Fatal("paho v3: no message")
	}
	return nil
}

// expect receives the next message and checks topic and payload.
func (vc *v3client) expect(t *testing.T, topic, payload string) pahov3.Message {
	t.Helper()
	m := vc.recv(t)
	if m.Topic() != topic || string(m.Payload()) != payload {
		t.Fatalf("paho v3 got %s %q, want %s %q", m.Topic(), m.Payload(), topic, payload)
	}
	return m
}

// v5client is a paho.golang client and what it received.
type v5client struct {
	c     *paho.Client
	ack   *paho.Connack
	msgs  chan *paho.Publish
	disc  chan *paho.Disconnect // DISCONNECT from the broker
	errs  chan error
	alias map[uint16]string // inbound topic aliases resolved (resolve)
}

// v5opts tunes a paho.golang client.
type v5opts struct {
	manualAck bool        // never acknowledge unless c.Ack is called
	router    paho.Router // also route received messages (paho's alias resolution)
}

// v5connect connects a paho.golang client with CONNECT cp; it is
// disconnected at the end of the test.
func v5connect(t *testing.T, s *server, cp *paho.Connect, o *v5opts) *v5client {
	t.Helper()
	if o == nil {
		o = &v5opts{}
	}
	nc, err := net.DialTimeout("tcp", s.addr(), peerTimeout)
	if err != nil {
		t.Fatal(err)
	}
	vc := &v5client{msgs: make(chan *paho.Publish, 1000), disc: make(chan *paho.Disconnect, 1),
		errs: make(chan error, 10), alias: map[uint16]string{}}
	vc.c = paho.NewClient(paho.ClientConfig{
		Conn:                       nc,
		EnableManualAcknowledgment: o.manualAck,
		Router:                     o.router,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			vc.msgs <- pr.Packet
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) { vc.disc <- d },
		OnClientError: func(err error) {
			select {
			case vc.errs <- err:
			default:
			}
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	vc.ack, err = vc.c.Connect(ctx, cp)
	if err != nil {
		t.Fatalf("paho v5 connect %q: %v", cp.ClientID, err)
	}
	t.Cleanup(func() {
		vc.c.Disconnect(&paho.Disconnect{})
		select {
		case <-vc.c.Done():
		case <-time.After(peerTimeout):
		}
	})
	return vc
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	t.Cleanup(cancel)
	return ctx
}

func (vc *v5client) sub(t *testing.T, filter string, qos byte) {
	t.Helper()
	sa, err := vc.c.Subscribe(ctxT(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}})
	if err != nil {
		t.Fatalf("paho v5 subscribe %s: %v", filter, err)
	}
	if len(sa.Reasons) != 1 || sa.Reasons[0] != qos {
		t.Fatalf("paho v5 subscribe %s: reasons %v, want [%d]", filter, sa.Reasons, qos)
	}
}

// pub publishes and returns the PUBACK/PUBCOMP reason code (0 for QoS 0).
func (vc *v5client) pub(t *testing.T, p *paho.Publish) byte {
	t.Helper()
	r, err := vc.c.Publish(ctxT(t), p)
	if err != nil {
		t.Fatalf("paho v5 publish %s: %v", p.Topic, err)
	}
	if r == nil {
		return 0
	}
	return r.ReasonCode
}

// recv returns the next PUBLISH received, with an inbound topic alias
// resolved as a client must (MQTT 5.0 section 3.3.2.3.4).
func (vc *v5client) recv(t *testing.T) *paho.Publish {
	t.Helper()
	select {
	case m := <-vc.msgs:
		if m.Properties != nil && m.Properties.TopicAlias != nil {
			a := *m.Properties.TopicAlias
			if m.Topic != "" {
				vc.alias[a] = m.Topic
			} else if tp, ok := vc.alias[a]; ok {
				m.Topic = tp
			} else {
				t.Fatalf("paho v5: PUBLISH with unknown topic alias %d", a)
			}
		}
		return m
	case <-time.After(peerTimeout):
		t.Fatal("paho v5: no message")
	}
	return nil
}

func (vc *v5client) expect(t *testing.T, topic, payload string) *paho.Publish {
	t.Helper()
	m := vc.recv(t)
	if m.Topic != topic || string(m.Payload) != payload {
		t.Fatalf("paho v5 got %s %q, want %s %q", m.Topic, m.Payload, topic, payload)
	}
	return m
}

func u32p(v uint32) *uint32 { return &v }
func u16p(v uint16) *uint16 { return &v }
