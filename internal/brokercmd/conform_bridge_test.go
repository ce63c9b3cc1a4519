package brokercmd

import (
	"bufio"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/config"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// fakeRemote is the remote broker of a bridge under test: it accepts the
// bridge's connection, answers what it must, and records the filters of
// its SUBSCRIBE and UNSUBSCRIBE packets and the topics it publishes.
type fakeRemote struct {
	port               int
	mu                 sync.Mutex
	subs, unsubs, pubs []string
	changed            chan struct{}
}

func newFakeRemote(t *testing.T) *fakeRemote {
	t.Helper()
	f := &fakeRemote{changed: make(chan struct{}, 1)}
	f.port = clienttest.ServeTCP(t, f.serve).Port
	return f
}

func (f *fakeRemote) note(list *[]string, s ...string) {
	f.mu.Lock()
	*list = append(*list, s...)
	f.mu.Unlock()
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

func (f *fakeRemote) serve(c net.Conn) {
	r := mqtt.NewReader(bufio.NewReader(c), 0)
	v := mqtt.V311
	send := func(p mqtt.Packet) bool {
		b, err := mqtt.Append(nil, p, v)
		if err == nil {
			_, err = c.Write(b)
		}
		return err == nil
	}
	for {
		p, err := r.ReadPacket()
		if err != nil {
			return
		}
		var reply mqtt.Packet
		switch p := p.(type) {
		case *mqtt.Connect:
			v = p.Version
			r.Version = v
			reply = &mqtt.Connack{}
		case *mqtt.Subscribe:
			codes := make([]mqtt.ReasonCode, len(p.Subscriptions))
			for i, s := range p.Subscriptions {
				codes[i] = mqtt.ReasonCode(s.QoS)
				f.note(&f.subs, s.Filter)
			}
			reply = &mqtt.Suback{PacketID: p.PacketID, Codes: codes}
		case *mqtt.Unsubscribe:
			f.note(&f.unsubs, p.Filters...)
			reply = &mqtt.Unsuback{PacketID: p.PacketID}
		case *mqtt.Publish:
			f.note(&f.pubs, p.Topic)
			switch p.QoS {
			case 1:
				reply = &mqtt.Ack{Kind: mqtt.PUBACK, PacketID: p.PacketID}
			case 2:
				reply = &mqtt.Ack{Kind: mqtt.PUBREC, PacketID: p.PacketID}
			}
		case *mqtt.Ack:
			if p.Kind == mqtt.PUBREL {
				reply = &mqtt.Ack{Kind: mqtt.PUBCOMP, PacketID: p.PacketID}
			}
		case *mqtt.Pingreq:
			reply = &mqtt.Pingresp{}
		case *mqtt.Disconnect:
			return
		}
		if reply != nil && !send(reply) {
			return
		}
	}
}

// wait blocks until cond (called with the lists locked) holds.
func (f *fakeRemote) wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(2 * twinTimeout)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		ok := cond()
		f.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-f.changed:
		case <-deadline.C:
			f.mu.Lock()
			defer f.mu.Unlock()
			t.Fatalf("remote broker: no %s (subscribed %v, unsubscribed %v, published %v)", what, f.subs, f.unsubs, f.pubs)
		}
	}
}

// TestTwinBridgeAttemptUnsubscribe: on connecting, a bridge unsubscribes
// on the remote broker from the remote topics of its "out"-only patterns
// (mosquitto.conf(5) bridge_attempt_unsubscribe, default true: "changing
// a topic direction from in to out will not keep receiving incoming
// messages"), and does not with bridge_attempt_unsubscribe false. The
// same bridge section runs in mqbroker and in mosquitto 2.0.11 against
// a fake remote broker that records what it receives; the first
// message forwarded out is the barrier (both send their UNSUBSCRIBE
// packets while connecting, before forwarding anything).
func TestTwinBridgeAttemptUnsubscribe(t *testing.T) {
	for _, attempt := range []string{"", "true", "false"} {
		t.Run("attempt="+attempt, func(t *testing.T) {
			var remote *fakeRemote
			conf := func() string {
				c := anonConf + "connection fake\naddress 127.0.0.1:" + strconv.Itoa(remote.port) + "\n" +
					"cleansession true\nnotifications false\nrestart_timeout 1\n" +
					"topic a/# out 1\ntopic b/# in 1\ntopic c/# both 1\ntopic d/# out 1 \"\" r/\n"
				if attempt != "" {
					c += "bridge_attempt_unsubscribe " + attempt + "\n"
				}
				return c
			}
			for _, name := range []string{"mqbroker", "mosquitto"} {
				t.Run(name, func(t *testing.T) {
					remote = newFakeRemote(t)
					var b *twinBroker
					if name == "mqbroker" {
						logs := startTwinMqbroker(t, replacePorts(conf()))
						b = &twinBroker{name: name, ports: bannerPorts(t, logs.String())}
					} else {
						m := clienttest.StartMosquitto(t, conf())
						b = &twinBroker{name: name, ports: []int{m.Port}}
					}
					remote.wait(t, "SUBSCRIBE b/# and c/#", func() bool {
						return slices.Contains(remote.subs, "b/#") && slices.Contains(remote.subs, "c/#")
					})
					pub := twinLogin(t, b, mqtt.V311, "bau-pub", true)
					pub.send(&mqtt.Publish{Topic: "a/x", Payload: []byte("m"), QoS: 1, PacketID: 1})
					pub.next()
					remote.wait(t, "forwarded a/x", func() bool { return slices.Contains(remote.pubs, "a/x") })
					remote.mu.Lock()
					got := slices.Sorted(slices.Values(remote.unsubs))
					remote.mu.Unlock()
					want := []string{"a/#", "r/d/#"}
					if attempt == "false" {
						want = nil
					}
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("unsubscribed from %v on the remote broker, want %v", got, want)
					}
				})
			}
		})
	}
}

// replacePorts gives mqbroker free ports for the {port} placeholders.
func replacePorts(conf string) string {
	return strings.ReplaceAll(strings.ReplaceAll(conf, "{port}", "0"), "{port2}", "0")
}

// TestBridgeLocalCleanSessionOption: local_cleansession reaches the
// bridge (its effect is TestLocalCleanSession in internal/bridge); unset,
// the local connection follows cleansession.
func TestBridgeLocalCleanSessionOption(t *testing.T) {
	for _, tc := range []struct {
		lines string
		want  string // "nil", "true", "false"
	}{
		{"cleansession true\n", "nil"},
		{"cleansession true\nlocal_cleansession false\n", "false"},
		{"local_cleansession true\n", "true"},
	} {
		cfg, err := config.Parse(strings.NewReader("connection x\naddress 127.0.0.1\ntopic a/# out\n"+tc.lines), "test.conf")
		if err != nil {
			t.Fatal(err)
		}
		opts, err := bridgeOptions(cfg)
		if err != nil {
			t.Fatal(err)
		}
		got := "nil"
		if lc := opts[0].LocalCleanSession; lc != nil {
			got = strconv.FormatBool(*lc)
		}
		if got != tc.want || opts[0].NoAttemptUnsubscribe {
			t.Errorf("%q: local clean session %s (want %s), no attempt unsubscribe %v", tc.lines, got, tc.want, opts[0].NoAttemptUnsubscribe)
		}
	}
}
