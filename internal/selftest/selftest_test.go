package selftest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/auth"
	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/cliutil"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// endpointOf is the client endpoint of a loopback listener address.
func endpointOf(t *testing.T, scheme string, a net.Addr) client.Endpoint {
	t.Helper()
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		t.Fatalf("listener address %v is not TCP", a)
	}
	return client.Endpoint{Scheme: scheme, Host: "127.0.0.1", Port: tcp.Port, Path: "/mqtt"}
}

// runAll runs every check and logs the outcomes.
func runAll(t *testing.T, cfg Config) []Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r := New(cfg)
	out, err := r.Run(ctx, func(o Outcome) {
		t.Logf("%s %-24s %s (%s)", o.Result, o.Name, o.Detail, o.Duration.Round(time.Millisecond))
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(out) != len(checks) {
		t.Fatalf("%d outcomes for %d checks", len(out), len(checks))
	}
	return out
}

// wantOwn is the result every check must have against our broker: PASS
// (the causal-order check included: the event loop keeps that order),
// except for checks the test skips on purpose.
func wantOwn(name string, cfg Config) Result {
	if name == "causal-order" && cfg.NoCausal {
		return Skip
	}
	return Pass
}

// selftestACL is an Authorizer enforcing ACLRules.
func selftestACL(t *testing.T) broker.Authorizer {
	t.Helper()
	acl, err := auth.ParseACL(strings.NewReader(ACLRules), "selftest-acl")
	if err != nil {
		t.Fatal(err)
	}
	return broker.AuthorizerFunc(func(ci *broker.ClientInfo, topic string, acc broker.Access) bool {
		return acl.Allowed(ci.Username, ci.HasUsername, ci.ClientID, topic, auth.Access(acc))
	})
}

// TestOwnBroker is an end-to-end conformance test of our broker: every
// check passes over TCP, and the WebSocket transport works. The broker
// enforces ACLRules, so acl/subscribe runs too.
func TestOwnBroker(t *testing.T) {
	b := clienttest.StartBroker(t, broker.Options{SysInterval: broker.DefaultSysInterval, Authorizer: selftestACL(t),
		Listeners: []broker.ListenerConfig{
			{Name: "tcp", Addr: "127.0.0.1:0"},
			{Name: "ws", Addr: "127.0.0.1:0", WebSocket: true, WSPath: "/mqtt"},
		}})
	ws := endpointOf(t, "ws", b.Addr("ws"))
	cfg := Config{Endpoint: endpointOf(t, "mqtt", b.Addr("tcp")), WebSocket: &ws, ACL: true}
	out := runAll(t, cfg)
	for _, o := range out {
		if o.Result != wantOwn(o.Name, cfg) {
			t.Errorf("%s: %s %s", o.Name, o.Result, o.Detail)
		}
	}
	if s := Summarize(out); s.Passed != len(checks) {
		t.Errorf("summary %v", s)
	}
}

// TestOwnBrokerOverWebSocket runs every check over WebSocket only.
func TestOwnBrokerOverWebSocket(t *testing.T) {
	b := clienttest.StartBroker(t, broker.Options{SysInterval: broker.DefaultSysInterval, Authorizer: selftestACL(t),
		Listeners: []broker.ListenerConfig{
			{Name: "ws", Addr: "127.0.0.1:0", WebSocket: true, WSPath: "/mqtt"},
		}})
	cfg := Config{Endpoint: endpointOf(t, "ws", b.Addr("ws")), ACL: true}
	out := runAll(t, cfg)
	for _, o := range out {
		if o.Result != wantOwn(o.Name, cfg) {
			t.Errorf("%s: %s %s", o.Name, o.Result, o.Detail)
		}
	}
}

// TestOwnBrokerCapabilities: features a broker announces as unavailable
// are skipped, not failed.
func TestOwnBrokerCapabilities(t *testing.T) {
	maxQoS := mqtt.QoS(1)
	b := clienttest.StartBroker(t, broker.Options{
		MaxQoS:        &maxQoS,
		DisableRetain: true,
		MaxTopicAlias: -1,
		SysInterval:   -1,
	})
	out := runAll(t, Config{Endpoint: endpointOf(t, "mqtt", b.Addr("tcp"))})
	wantSkip := map[string]bool{
		"qos2/3.1.1": true, "qos2/5.0": true, "qos-downgrade": true,
		"retained": true, "v5/retain-as-published": true, "v5/retain-handling": true,
		"v5/topic-alias": true, "sys-topics": true, "transport/websocket": true,
		"acl/subscribe": true, // no ACL
	}
	for _, o := range out {
		want := Pass
		if wantSkip[o.Name] {
			want = Skip
		}
		if o.Result != want {
			t.Errorf("%s: %s %s, want %s", o.Name, o.Result, o.Detail, want)
		}
	}
}

// TestMosquitto runs the checks against a real mosquitto (skipped when it
// is not installed, except in CI). mosquitto 2.0.11 with ACLRules passes
// every check, causal-order in its fresh mode (for the hot mode see
// TestMosquittoCausalHot); with features turned off in mosquitto.conf,
// the checks that need them are skipped (mosquitto announces them in
// CONNACK), not failed.
func TestMosquitto(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		acl := filepath.Join(t.TempDir(), "acl")
		if err := os.WriteFile(acl, []byte(ACLRules), 0o600); err != nil {
			t.Fatal(err)
		}
		m := clienttest.StartMosquitto(t, clienttest.AnonymousConf+"acl_file "+acl+"\n"+
			"listener {port2} 127.0.0.1\nprotocol websockets\n")
		ws := client.Endpoint{Scheme: "ws", Host: "127.0.0.1", Port: m.Port2, Path: "/mqtt"}
		out := runAll(t, Config{Endpoint: client.Endpoint{Host: "127.0.0.1", Port: m.Port}, WebSocket: &ws, ACL: true,
			CausalModes: []CausalMode{CausalFresh}})
		for _, o := range out {
			if o.Result != Pass {
				t.Errorf("%s: %s %s", o.Name, o.Result, o.Detail)
			}
		}
	})
	t.Run("restricted", func(t *testing.T) {
		m := clienttest.StartMosquitto(t, clienttest.AnonymousConf+
			"max_qos 1\nretain_available false\nmax_topic_alias 0\nsys_interval 0\n")
		out := runAll(t, Config{Endpoint: client.Endpoint{Host: "127.0.0.1", Port: m.Port}, NoCausal: true})
		wantSkip := map[string]bool{
			"qos2/3.1.1": true, "qos2/5.0": true, "qos-downgrade": true,
			"retained": true, "v5/retain-as-published": true, "v5/retain-handling": true,
			"v5/topic-alias": true, "sys-topics": true, "transport/websocket": true,
			"acl/subscribe": true, // no ACL
			"causal-order":  true, // NoCausal
		}
		for _, o := range out {
			want := Pass
			if wantSkip[o.Name] {
				want = Skip
			}
			if o.Result != want {
				t.Errorf("%s: %s %s, want %s", o.Name, o.Result, o.Detail, want)
			}
		}
	})
}

// brokenBroker accepts connections and acknowledges every packet, but
// never delivers a message: each check that waits for one must fail by
// its deadline.
func brokenBroker(t *testing.T) client.Endpoint {
	t.Helper()
	addr := clienttest.ServeTCP(t, serveBroken)
	return client.Endpoint{Host: "127.0.0.1", Port: addr.Port}
}

func serveBroken(c net.Conn) {
	r := mqtt.NewReader(bufio.NewReader(c), 0)
	var v mqtt.Version = mqtt.V311
	send := func(p mqtt.Packet) bool {
		raw, err := mqtt.Append(nil, p, v)
		if err != nil {
			return false
		}
		_, err = c.Write(raw)
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
			ack := &mqtt.Connack{}
			if v == mqtt.V5 {
				ack.Props.SetTopicAliasMaximum(10)
			}
			reply = ack
		case *mqtt.Publish:
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
		case *mqtt.Subscribe:
			codes := make([]mqtt.ReasonCode, len(p.Subscriptions))
			for i, s := range p.Subscriptions {
				codes[i] = mqtt.ReasonCode(s.QoS)
			}
			reply = &mqtt.Suback{PacketID: p.PacketID, Codes: codes}
		case *mqtt.Unsubscribe:
			reply = &mqtt.Unsuback{PacketID: p.PacketID}
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

// TestBrokenBroker: against a broker that never delivers, the delivery
// checks fail within their deadline.
func TestBrokenBroker(t *testing.T) {
	const timeout = 500 * time.Millisecond
	out := runAll(t, Config{Endpoint: brokenBroker(t), Timeout: timeout})
	want := map[string]Result{
		"connect/3.1": Pass, "connect/3.1.1": Pass, "connect/5.0": Pass,
		"transport/websocket": Skip, "acl/subscribe": Skip,
	}
	for _, o := range out {
		w, ok := want[o.Name]
		if !ok {
			w = Fail
		}
		if o.Result != w {
			t.Errorf("%s: %s %s, want %s", o.Name, o.Result, o.Detail, w)
		}
		// Deadline plus the cleanup's (closing connections, removing
		// sessions and retained messages) plus slack for a busy machine.
		limit := 2*timeout + 2*time.Second
		switch o.Name {
		case "v5/message-expiry":
			limit += messageExpiryWait
		case "causal-order":
			// It stops at the first lost message, which costs LateGrace.
			limit += LateGrace
			if !strings.Contains(o.Detail, "fresh mode: the QoS 1 message of try 1 of 50 was lost") {
				t.Errorf("causal-order: %q", o.Detail)
			}
		}
		if o.Duration > limit {
			t.Errorf("%s took %s, more than %s", o.Name, o.Duration, limit)
		}
	}
	if s := Summarize(out); s.Failed == 0 {
		t.Errorf("summary %v: no failure", s)
	}
}

// TestUnreachable: a refused connection is reported once, no check runs.
func TestUnreachable(t *testing.T) {
	port := clienttest.FreePort(t)
	r := New(Config{Endpoint: client.Endpoint{Host: "127.0.0.1", Port: port}, Timeout: time.Second})
	out, err := r.Run(context.Background(), nil)
	var ue *UnreachableError
	if !errors.As(err, &ue) || len(out) != 0 {
		t.Fatalf("Run = %d outcomes, %v; want an UnreachableError", len(out), err)
	}
}

func TestPrinter(t *testing.T) {
	outcomes := []Outcome{
		{Name: "connect/3.1", Result: Pass, Detail: "CONNACK accepted", Duration: 3 * time.Millisecond},
		{Name: "retained", Result: Fail, Detail: "no message", Duration: 5 * time.Second},
		{Name: "v5/topic-alias", Result: Skip, Detail: "broker announces Topic Alias Maximum 0"},
	}
	var text bytes.Buffer
	p := NewTextPrinter(&text, nil, false)
	for _, o := range outcomes {
		p.Print(o)
	}
	p.Summary(Summarize(outcomes))
	want := "PASS  connect/3.1\n" +
		"FAIL  retained                no message\n" +
		"SKIP  v5/topic-alias          broker announces Topic Alias Maximum 0\n" +
		"1 passed, 1 failed, 1 skipped\n"
	if text.String() != want {
		t.Errorf("text output:\n%s\nwant:\n%s", text.String(), want)
	}

	text.Reset()
	p = NewTextPrinter(&text, nil, true)
	p.Print(outcomes[0])
	if got := text.String(); got != "PASS  connect/3.1             CONNACK accepted (3ms)\n" {
		t.Errorf("verbose line %q", got)
	}

	text.Reset()
	p = NewTextPrinter(&text, cliutil.NewPalette(true), false)
	p.Print(outcomes[1])
	if got := text.String(); !strings.Contains(got, "\x1b[") || !strings.Contains(got, "FAIL") {
		t.Errorf("coloured line %q", got)
	}

	var js bytes.Buffer
	p = NewJSONPrinter(&js)
	for _, o := range outcomes {
		p.Print(o)
	}
	p.Summary(Summarize(outcomes))
	lines := strings.Split(strings.TrimSuffix(js.String(), "\n"), "\n")
	if len(lines) != len(outcomes) {
		t.Fatalf("%d JSON lines, want %d:\n%s", len(lines), len(outcomes), js.String())
	}
	for i, l := range lines {
		var got struct {
			Name       string  `json:"name"`
			Result     string  `json:"result"`
			Detail     string  `json:"detail"`
			DurationMS float64 `json:"duration_ms"`
		}
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
		o := outcomes[i]
		if got.Name != o.Name || got.Result != string(o.Result) || got.Detail != o.Detail ||
			got.DurationMS != float64(o.Duration.Milliseconds()) {
			t.Errorf("line %d = %+v, want %+v", i, got, o)
		}
	}
}

// TestClientIDs: identifiers fit 3.1's 23 characters [MQTT-3.1.3-5].
func TestClientIDs(t *testing.T) {
	r := New(Config{})
	for _, role := range []string{"probe", "member2", "abrupt", "normal", "clean"} {
		if id := r.clientID(len(checks), role); len(id) > 23 {
			t.Errorf("client id %q has %d characters", id, len(id))
		}
	}
}

// sloppyBroker delivers every message to every matching subscription,
// the publisher's own included, ignoring No Local and the client's
// Receive Maximum, publishes the will however the connection ends, and
// never sends PUBREL for its QoS 2 deliveries.
type sloppyBroker struct {
	mu    sync.Mutex
	conns map[*sloppyConn]bool
}

type sloppyConn struct {
	c    net.Conn
	v    mqtt.Version
	wmu  sync.Mutex
	id   uint16
	subs []mqtt.Subscription // guarded by sloppyBroker.mu
}

func (s *sloppyConn) send(p mqtt.Packet) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if p, ok := p.(*mqtt.Publish); ok && p.QoS > 0 {
		s.id++
		p.PacketID = s.id
	}
	if raw, err := mqtt.Append(nil, p, s.v); err == nil {
		s.c.Write(raw)
	}
}

func startSloppyBroker(t *testing.T) client.Endpoint {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &sloppyBroker{conns: map[*sloppyConn]bool{}}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		for c := range b.conns {
			c.c.Close()
		}
		b.mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			sc := &sloppyConn{c: c, v: mqtt.V311}
			b.mu.Lock()
			b.conns[sc] = true
			b.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				b.serve(sc)
			}()
		}
	}()
	return client.Endpoint{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port}
}

func (b *sloppyBroker) route(p *mqtt.Publish) {
	b.mu.Lock()
	var out []func()
	for c := range b.conns {
		for _, s := range c.subs {
			if mqtt.MatchTopic(s.Filter, p.Topic) {
				q := &mqtt.Publish{Topic: p.Topic, Payload: p.Payload, QoS: min(p.QoS, s.QoS)}
				out = append(out, func() { c.send(q) })
				break
			}
		}
	}
	b.mu.Unlock()
	for _, f := range out {
		f()
	}
}

func (b *sloppyBroker) serve(c *sloppyConn) {
	var w *mqtt.Will
	defer func() {
		b.mu.Lock()
		delete(b.conns, c)
		b.mu.Unlock()
		c.c.Close()
		if w != nil {
			b.route(&mqtt.Publish{Topic: w.Topic, Payload: w.Payload, QoS: w.QoS})
		}
	}()
	r := mqtt.NewReader(bufio.NewReader(c.c), 0)
	for {
		p, err := r.ReadPacket()
		if err != nil {
			return
		}
		switch p := p.(type) {
		case *mqtt.Connect:
			c.v, r.Version, w = p.Version, p.Version, p.Will
			c.send(&mqtt.Connack{})
		case *mqtt.Subscribe:
			codes := make([]mqtt.ReasonCode, len(p.Subscriptions))
			for i, s := range p.Subscriptions {
				codes[i] = mqtt.ReasonCode(s.QoS)
			}
			b.mu.Lock()
			c.subs = append(c.subs, p.Subscriptions...)
			b.mu.Unlock()
			c.send(&mqtt.Suback{PacketID: p.PacketID, Codes: codes})
		case *mqtt.Publish:
			q := *p
			b.route(&q)
			switch p.QoS {
			case 1:
				c.send(&mqtt.Ack{Kind: mqtt.PUBACK, PacketID: p.PacketID})
			case 2:
				c.send(&mqtt.Ack{Kind: mqtt.PUBREC, PacketID: p.PacketID})
			}
		case *mqtt.Ack:
			if p.Kind == mqtt.PUBREL {
				c.send(&mqtt.Ack{Kind: mqtt.PUBCOMP, PacketID: p.PacketID})
			}
		case *mqtt.Pingreq:
			c.send(&mqtt.Pingresp{})
		case *mqtt.Disconnect:
			return // the will is published anyway
		}
	}
}

// TestSloppyBroker: the checks of things that must not happen catch a
// broker that does them.
func TestSloppyBroker(t *testing.T) {
	out := runAll(t, Config{Endpoint: startSloppyBroker(t), Timeout: time.Second})
	want := map[string]struct {
		result Result
		detail string
	}{
		"qos1/3.1.1":         {Pass, ""},
		"qos2/5.0":           {Fail, "no PUBREL"}, // deliveries stop at PUBREC
		"wildcards":          {Pass, ""},
		"will":               {Fail, "[MQTT-3.1.2-10]"},
		"v5/no-local":        {Fail, "[MQTT-3.8.3-3]"},
		"v5/receive-maximum": {Fail, "[MQTT-3.3.4-7]"},
		"retained":           {Fail, "no message"},
	}
	for _, o := range out {
		w, ok := want[o.Name]
		if !ok {
			continue
		}
		if o.Result != w.result || !strings.Contains(o.Detail, w.detail) {
			t.Errorf("%s: %s %q, want %s containing %q", o.Name, o.Result, o.Detail, w.result, w.detail)
		}
	}
}

// TestInterrupted: cancelling stops the run after the current check.
func TestInterrupted(t *testing.T) {
	b := clienttest.StartBroker(t, broker.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := New(Config{Endpoint: endpointOf(t, "mqtt", b.Addr("tcp"))})
	out, err := r.Run(ctx, func(Outcome) { cancel() })
	if !errors.Is(err, context.Canceled) || len(out) != 1 || out[0].Result != Pass {
		t.Fatalf("Run = %v, %v; want one outcome and context.Canceled", out, err)
	}
}

// TestMosquittoCausalHot: the causal-order check's hot mode against
// mosquitto 2.0.11, which loses QoS 1 messages there (its loop handles
// one packet per socket per pass: B's PUBACK in one pass, then A's
// PUBLISH before B's SUBSCRIBE when A's socket comes first; see
// internal/broker/causal_test.go; 18 of 20 tries lost here). That is a
// documented mosquitto limitation: the check must FAIL, and the failure
// must be a lost message, found and reported as such within the check's
// deadline (a lost try costs Timeout + LateGrace), never a protocol or
// network error.
func TestMosquittoCausalHot(t *testing.T) {
	m := clienttest.StartMosquitto(t, clienttest.AnonymousConf)
	r := New(Config{Endpoint: client.Endpoint{Host: "127.0.0.1", Port: m.Port},
		CausalModes: []CausalMode{CausalHot}})
	if err := r.probe(t.Context()); err != nil {
		t.Fatal(err)
	}
	var o Outcome
	for i, c := range checks {
		if c.name == "causal-order" {
			o = r.runCheck(t.Context(), i, c)
		}
	}
	t.Logf("mosquitto: %s %s (%s)", o.Result, o.Detail, o.Duration.Round(time.Millisecond))
	if o.Result != Fail || !strings.HasPrefix(o.Detail, "hot mode: the QoS 1 message of try ") ||
		!strings.Contains(o.Detail, " of 50 was lost") {
		t.Errorf("causal-order (hot) against mosquitto: %s %q, want the documented loss", o.Result, o.Detail)
	}
	if limit := DefaultTimeout + causalExtra + time.Second; o.Duration > limit {
		t.Errorf("took %s, deadline %s", o.Duration, limit)
	}
}
