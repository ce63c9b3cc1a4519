package brokercmd

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/config"
	"github.com/mqkit/mqkit/internal/mqtt"
)

const bridgeTimeout = 15 * time.Second

func bctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), bridgeTimeout)
	t.Cleanup(cancel)
	return ctx
}

// startMqbroker runs the mqbroker command in process with the
// configuration text and returns the port of its first listener and its
// log; it is stopped when the test ends.
func startMqbroker(t *testing.T, conf string) (port int, logs *syncBuffer) {
	t.Helper()
	path := writeFile(t, t.TempDir(), "mqbroker.conf", conf)
	var out, errb syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewApp(&out, &errb).RunContext(ctx, []string{"mqbroker", "-c", path}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(bridgeTimeout):
			t.Error("mqbroker did not stop")
		}
		if t.Failed() {
			t.Logf("mqbroker log:\n%s", errb.String())
		}
	})
	re := regexp.MustCompile(`listening on mqtt://127\.0\.0\.1:(\d+)`)
	deadline := time.Now().Add(bridgeTimeout)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(errb.String()); m != nil {
			port, _ = strconv.Atoi(m[1])
			return port, &errb
		}
		select {
		case err := <-done:
			t.Fatalf("mqbroker stopped: %v\n%s", err, errb.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("no banner: %s", errb.String())
	return 0, nil
}

type tinbox struct {
	t  *testing.T
	c  *client.Client
	ch chan *mqtt.Publish
}

// tclientOn connects a v5 client to 127.0.0.1:port, subscribed to filter
// at QoS 1 when filter is not empty.
func tclientOn(t *testing.T, port int, id, filter string) *tinbox {
	t.Helper()
	in := &tinbox{t: t, ch: make(chan *mqtt.Publish, 100)}
	c, err := client.Connect(bctx(t), client.Options{
		Endpoint: client.Endpoint{Host: "127.0.0.1", Port: port},
		Connect:  mqtt.Connect{Version: mqtt.V5, ClientID: id, CleanStart: true, KeepAlive: 30},
		OnMessage: func(p *mqtt.Publish) bool {
			in.ch <- p
			return true
		},
	})
	if err != nil {
		t.Fatalf("connect %s: %v", id, err)
	}
	t.Cleanup(func() { c.Close() })
	in.c = c
	if filter != "" {
		s := &mqtt.Subscribe{Subscriptions: []mqtt.Subscription{{Filter: filter, QoS: 1}}}
		ack, err := c.Subscribe(bctx(t), s)
		if err == nil {
			err = client.SubackErr(s, ack)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return in
}

func (in *tinbox) next() *mqtt.Publish {
	in.t.Helper()
	select {
	case p := <-in.ch:
		return p
	case <-time.After(bridgeTimeout):
		in.t.Fatal("no message within the deadline")
		return nil
	}
}

func (in *tinbox) expect(topic, payload string) {
	in.t.Helper()
	if p := in.next(); p.Topic != topic || string(p.Payload) != payload {
		in.t.Fatalf("got %q %q, want %q %q", p.Topic, p.Payload, topic, payload)
	}
}

func (in *tinbox) await(topic, payload string) {
	in.t.Helper()
	for {
		if p := in.next(); p.Topic == topic && string(p.Payload) == payload {
			return
		}
	}
}

func (in *tinbox) publish(topic, payload string) {
	in.t.Helper()
	tok, err := in.c.Publish(bctx(in.t), &mqtt.Publish{Topic: topic, Payload: []byte(payload), QoS: 1})
	if err == nil {
		err = tok.Wait(bctx(in.t))
	}
	if err != nil {
		in.t.Fatal(err)
	}
}

// crossBothWays publishes on each side of a "topic # both" bridge and
// checks each message arrives on the other side once: a marker sent back
// afterwards travels behind any echo, so it must come next.
func crossBothWays(t *testing.T, aPort, bPort int) {
	t.Helper()
	a := tclientOn(t, aPort, "a-sub", "x/#")
	b := tclientOn(t, bPort, "b-sub", "x/#")
	a.publish("x/from-a", "1")
	a.expect("x/from-a", "1")
	b.expect("x/from-a", "1")
	b.publish("x/mark-b", "m")
	b.expect("x/mark-b", "m")
	a.expect("x/mark-b", "m") // not the echo of x/from-a
	a.publish("x/mark-a", "m")
	a.expect("x/mark-a", "m")
	b.expect("x/mark-a", "m") // not the echo of x/mark-b
}

func TestBridgeConfigCommands(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.conf", `listener 0 127.0.0.1
connection east
addresses 127.0.0.1:1 127.0.0.1:2
topic sensors/# out 1 "" site/
remote_clientid edge
`)
	code, out, errs := runApp(t, "--test-config", "-c", good)
	if code != 0 || !strings.Contains(out, "Configuration OK: 1 listener(s), 1 bridge(s)") {
		t.Fatalf("--test-config: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runApp(t, "--print-config", "-c", good)
	if code != 0 {
		t.Fatalf("--print-config: exit %d: %s", code, errs)
	}
	for _, want := range []string{"connection east\n", "addresses 127.0.0.1:1 127.0.0.1:2\n", `topic sensors/# out 1 "" site/` + "\n", "remote_clientid edge\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("--print-config lacks %q:\n%s", want, out)
		}
	}
	back, err := config.Parse(strings.NewReader(out), "printed.conf")
	if err != nil || len(back.Bridges) != 1 || back.Bridges[0].Topics[0].RemotePrefix != "site/" {
		t.Fatalf("printed config does not read back: %v\n%s", err, out)
	}
	bad := writeFile(t, dir, "bad.conf", "connection east\naddress 127.0.0.1\nbridge_identity x\ntopic a\n")
	code, _, errs = runApp(t, "--test-config", "-c", bad)
	if code != 1 || !strings.Contains(errs, "bad.conf:3: bridge_identity: not supported by mqbroker") {
		t.Errorf("unsupported bridge option: exit %d: %s", code, errs)
	}
	lazy := writeFile(t, dir, "lazy.conf", "connection east\naddress 127.0.0.1\ntopic a\nstart_type lazy\nthreshold 2\n")
	code, out, errs = runApp(t, "--print-config", "-c", lazy)
	if code != 0 || !strings.Contains(out, "start_type lazy\nthreshold 2\nidle_timeout 60\n") {
		t.Errorf("start_type lazy: exit %d: %s%s", code, out, errs)
	}
}

// TestBridgeMqbrokerToMqbroker runs two mqbroker commands, one bridged to
// the other by its configuration file, and checks the banner and the log.
func TestBridgeMqbrokerToMqbroker(t *testing.T) {
	remotePort, _ := startMqbroker(t, "listener 0 127.0.0.1\nallow_anonymous true\n")
	state := tclientOn(t, remotePort, "state", "$SYS/broker/connection/#")
	localPort, logs := startMqbroker(t, fmt.Sprintf(`listener 0 127.0.0.1
allow_anonymous false
connection peer
address 127.0.0.1:%d
topic x/# both 1
remote_clientid mqb-peer
restart_timeout 1
`, remotePort))
	state.await("$SYS/broker/connection/mqb-peer/state", "1")
	if want := fmt.Sprintf("bridge peer → 127.0.0.1:%d (topics x/# both 1)", remotePort); !strings.Contains(logs.String(), want) {
		t.Errorf("banner lacks %q:\n%s", want, logs.String())
	}
	if !strings.Contains(logs.String(), fmt.Sprintf("Connecting bridge peer (127.0.0.1:%d)", remotePort)) {
		t.Errorf("no connection log line:\n%s", logs.String())
	}
	// The remote state "1" is published only once the local side is
	// connected: allow_anonymous false does not apply to the bridge's own
	// in-process connection, as in mosquitto.
	_ = localPort
}

// TestBridgeToMosquitto: an mqbroker bridge to a real mosquitto, over
// MQTT 3.1.1 with try_private and over MQTT 5.
func TestBridgeToMosquitto(t *testing.T) {
	for _, v := range []string{"mqttv311", "mqttv50"} {
		t.Run(v, func(t *testing.T) {
			m := clienttest.StartMosquitto(t, clienttest.AnonymousConf)
			state := tclientOn(t, m.Port, "state", "$SYS/broker/connection/#")
			port, _ := startMqbroker(t, fmt.Sprintf(`listener 0 127.0.0.1
allow_anonymous true
connection mosq
address 127.0.0.1:%d
topic x/# both 1
bridge_protocol_version %s
remote_clientid mqb-bridge
restart_timeout 1
`, m.Port, v))
			state.await("$SYS/broker/connection/mqb-bridge/state", "1")
			if v == "mqttv311" && !strings.Contains(m.Log(), "New bridge connected from") {
				t.Errorf("mosquitto did not see a bridge (try_private):\n%s", m.Log())
			}
			crossBothWays(t, port, m.Port)
		})
	}
}

// TestMosquittoBridgeToMqbroker: a real mosquitto bridge (its own
// "connection" section, try_private by default) connects to mqbroker;
// messages cross both ways and are not echoed back.
func TestMosquittoBridgeToMqbroker(t *testing.T) {
	clienttest.RequireBinary(t, "mosquitto")
	port, logs := startMqbroker(t, "listener 0 127.0.0.1\nallow_anonymous true\n")
	state := tclientOn(t, port, "state", "$SYS/broker/connection/#")
	m := clienttest.StartMosquitto(t, clienttest.AnonymousConf+fmt.Sprintf(`
connection tomqb
address 127.0.0.1:%d
topic x/# both 1
remote_clientid mosq-bridge
restart_timeout 1
`, port))
	state.await("$SYS/broker/connection/mosq-bridge/state", "1")
	if !strings.Contains(logs.String(), "New bridge connected from") {
		t.Errorf("mqbroker did not log a bridge connection:\n%s", logs.String())
	}
	crossBothWays(t, port, m.Port)
}
