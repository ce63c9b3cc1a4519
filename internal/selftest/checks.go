package selftest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// messageExpiryWait is how long the message expiry check leaves a message
// with a 1 s Message Expiry Interval queued.
const messageExpiryWait = 2 * time.Second

// checks is the list, in the order they run.
var checks = []check{
	{name: "connect/3.1", run: checkConnect(mqtt.V31)},
	{name: "connect/3.1.1", run: checkConnect(mqtt.V311)},
	{name: "connect/5.0", run: checkConnect(mqtt.V5)},
	{name: "qos0/3.1.1", run: checkQoS(mqtt.V311, 0)},
	{name: "qos1/3.1.1", run: checkQoS(mqtt.V311, 1)},
	{name: "qos2/3.1.1", run: checkQoS(mqtt.V311, 2)},
	{name: "qos0/5.0", v5: true, run: checkQoS(mqtt.V5, 0)},
	{name: "qos1/5.0", v5: true, run: checkQoS(mqtt.V5, 1)},
	{name: "qos2/5.0", v5: true, run: checkQoS(mqtt.V5, 2)},
	{name: "qos-downgrade", run: checkDowngrade},
	{name: "retained", run: checkRetained},
	{name: "will", run: checkWill},
	{name: "session/3.1.1", run: checkSession(mqtt.V311)},
	{name: "session/5.0", v5: true, run: checkSession(mqtt.V5)},
	{name: "v5/message-expiry", v5: true, extra: messageExpiryWait, run: checkMessageExpiry},
	{name: "v5/topic-alias", v5: true, run: checkTopicAlias},
	{name: "v5/no-local", v5: true, run: checkNoLocal},
	{name: "v5/retain-as-published", v5: true, run: checkRetainAsPublished},
	{name: "v5/retain-handling", v5: true, run: checkRetainHandling},
	{name: "v5/subscription-id", v5: true, run: checkSubscriptionID},
	{name: "v5/shared-subscription", v5: true, run: checkShared},
	{name: "v5/user-properties", v5: true, run: checkUserProperties},
	{name: "v5/request-response", v5: true, run: checkRequestResponse},
	{name: "v5/receive-maximum", v5: true, run: checkReceiveMaximum},
	{name: "wildcards", run: checkWildcards},
	{name: "sys-topics", run: checkSysTopics},
	{name: "acl/subscribe", run: checkACL},
	{name: "causal-order", extra: causalExtra, run: checkCausal},
	{name: "transport/websocket", run: checkWebSocket},
}

// checkConnect: CONNECT with the version is accepted, without a session
// for a clean session [MQTT-3.2.2-1], [MQTT-3.2.2-2].
func checkConnect(v mqtt.Version) func(e *env) (string, error) {
	return func(e *env) (string, error) {
		c, err := e.dial("c", v)
		if err != nil {
			return "", err
		}
		ack := c.Connack()
		if ack.SessionPresent {
			return "", fmt.Errorf("CONNACK with Session Present 1 for a clean session [MQTT-3.2.2-1]")
		}
		if err := c.Disconnect(e.ctx, nil); err != nil {
			return "", fmt.Errorf("DISCONNECT: %w", e.explain(err, "close"))
		}
		if v != mqtt.V5 {
			return "CONNACK accepted", nil
		}
		return "CONNACK accepted" + capabilities(&ack.Props), nil
	}
}

// capabilities lists the limits a 5.0 CONNACK announced.
func capabilities(p *mqtt.Properties) string {
	var parts []string
	add := func(id mqtt.PropID, s string) {
		if p.Has(id) {
			parts = append(parts, s)
		}
	}
	yes := func(b byte) string {
		if b == 1 {
			return "yes"
		}
		return "no"
	}
	add(mqtt.PropReceiveMaximum, fmt.Sprintf("Receive Maximum %d", p.ReceiveMaximum))
	add(mqtt.PropMaximumQoS, fmt.Sprintf("Maximum QoS %d", p.MaximumQoS))
	add(mqtt.PropRetainAvailable, "Retain Available "+yes(p.RetainAvailable))
	add(mqtt.PropMaximumPacketSize, fmt.Sprintf("Maximum Packet Size %d", p.MaximumPacketSize))
	add(mqtt.PropTopicAliasMaximum, fmt.Sprintf("Topic Alias Maximum %d", p.TopicAliasMaximum))
	add(mqtt.PropWildcardSubAvailable, "Wildcards "+yes(p.WildcardSubAvailable))
	add(mqtt.PropSubIDAvailable, "Subscription Identifiers "+yes(p.SubIDAvailable))
	add(mqtt.PropSharedSubAvailable, "Shared Subscriptions "+yes(p.SharedSubAvailable))
	add(mqtt.PropServerKeepAlive, fmt.Sprintf("Server Keep Alive %d", p.ServerKeepAlive))
	add(mqtt.PropSessionExpiry, fmt.Sprintf("Session Expiry %d", p.SessionExpiry))
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, ", ")
}

// checkQoS: a message published at qos reaches a subscriber at qos, with
// the full acknowledgement flow on both sides [MQTT-4.3.2], [MQTT-4.3.3].
func checkQoS(v mqtt.Version, qos mqtt.QoS) func(e *env) (string, error) {
	return func(e *env) (string, error) {
		if max := e.r.maxQoS(); qos > max {
			return "", skipf("broker's Maximum QoS is %d", max)
		}
		sub, err := e.dial("sub", v)
		if err != nil {
			return "", err
		}
		pub, err := e.dial("pub", v)
		if err != nil {
			return "", err
		}
		topic := e.topic + "/t"
		granted, err := e.subscribe(sub, nil, mqtt.Subscription{Filter: topic, QoS: qos})
		if err != nil {
			return "", err
		}
		if mqtt.QoS(granted[0]) != qos {
			return "", fmt.Errorf("SUBACK granted QoS %d for a QoS %d subscription", granted[0], qos)
		}
		data := payload("qos")
		if err := e.publish(pub, &mqtt.Publish{Topic: topic, Payload: data, QoS: qos}); err != nil {
			return "", err
		}
		m, err := e.expect(sub, topic, data)
		if err != nil {
			return "", err
		}
		if m.QoS != qos {
			return "", fmt.Errorf("delivered at QoS %d, want %d", m.QoS, qos)
		}
		switch qos {
		case 0:
			return "PUBLISH delivered", nil
		case 1:
			if pub.rec.count(false, mqtt.PUBACK) != 1 {
				return "", fmt.Errorf("publisher received %d PUBACK", pub.rec.count(false, mqtt.PUBACK))
			}
			if err := e.waitPacket(sub, true, mqtt.PUBACK, 1); err != nil {
				return "", err
			}
			return "PUBLISH→PUBACK from publisher to broker and broker to subscriber", nil
		}
		// The publisher's token completed on PUBCOMP, after PUBREC and
		// PUBREL; the subscriber answers PUBREC, gets PUBREL, sends PUBCOMP.
		for _, st := range []struct {
			c    *conn
			sent bool
			kind mqtt.PacketType
		}{
			{pub, false, mqtt.PUBREC}, {pub, true, mqtt.PUBREL}, {pub, false, mqtt.PUBCOMP},
			{sub, true, mqtt.PUBREC}, {sub, false, mqtt.PUBREL}, {sub, true, mqtt.PUBCOMP},
		} {
			if err := e.waitPacket(st.c, st.sent, st.kind, 1); err != nil {
				return "", err
			}
		}
		return "PUBLISH→PUBREC→PUBREL→PUBCOMP from publisher to broker and broker to subscriber", nil
	}
}

// checkDowngrade: a QoS 2 message reaches a QoS 1 subscription at QoS 1
// [MQTT-3.8.4-8] (3.1.1: the minimum of the two QoS).
func checkDowngrade(e *env) (string, error) {
	if max := e.r.maxQoS(); max < 2 {
		return "", skipf("broker's Maximum QoS is %d", max)
	}
	cs, err := e.dialAll(mqtt.V311, "sub", "pub")
	if err != nil {
		return "", err
	}
	sub, pub := cs[0], cs[1]
	topic := e.topic + "/t"
	if err := e.sub(sub, topic, 1); err != nil {
		return "", err
	}
	data := payload("downgrade")
	if err := e.publish(pub, &mqtt.Publish{Topic: topic, Payload: data, QoS: 2}); err != nil {
		return "", err
	}
	m, err := e.expect(sub, topic, data)
	if err != nil {
		return "", err
	}
	if m.QoS != 1 {
		return "", fmt.Errorf("QoS 2 message delivered at QoS %d to a QoS 1 subscription", m.QoS)
	}
	return "QoS 2 publish delivered at QoS 1", nil
}

// checkRetained: a retained message reaches a new subscriber with the
// retain flag [MQTT-3.3.1-6], [MQTT-3.3.1-8]; an empty retained message
// removes it [MQTT-3.3.1-10].
func checkRetained(e *env) (string, error) {
	if !e.r.retainAvailable() {
		return "", skipf("broker announces Retain Available 0")
	}
	pub, err := e.dial("pub", mqtt.V311)
	if err != nil {
		return "", err
	}
	topic := e.topic + "/t"
	data, err := e.publishRetained(pub, topic, "retained")
	if err != nil {
		return "", err
	}
	s1, err := e.dial("sub1", mqtt.V311)
	if err != nil {
		return "", err
	}
	if err := e.sub(s1, topic, 1); err != nil {
		return "", err
	}
	m, err := e.expect(s1, topic, data)
	if err != nil {
		return "", err
	}
	if !m.Retain {
		return "", fmt.Errorf("retained message sent to a new subscriber without the retain flag [MQTT-3.3.1-8]")
	}
	if err := e.publish(pub, &mqtt.Publish{Topic: topic, QoS: 1, Retain: true}); err != nil {
		return "", err
	}
	s2, err := e.dial("sub2", mqtt.V311)
	if err != nil {
		return "", err
	}
	if err := e.sub(s2, topic, 1); err != nil {
		return "", err
	}
	// A retained message would come before this live one.
	live := payload("live")
	if err := e.publish(pub, &mqtt.Publish{Topic: topic, Payload: live, QoS: 1}); err != nil {
		return "", err
	}
	m, err = e.next(s2, "live message")
	if err != nil {
		return "", err
	}
	if m.Retain || !bytes.Equal(m.Payload, live) {
		return "", fmt.Errorf("after an empty retained publish a new subscriber received %s [MQTT-3.3.1-10]", describe(m))
	}
	return "set, sent with retain=1 to a new subscriber, cleared by an empty retained message", nil
}

// checkWill: the will is published when the connection closes without
// DISCONNECT [MQTT-3.1.2-8], and not after DISCONNECT [MQTT-3.1.2-10].
func checkWill(e *env) (string, error) {
	sub, err := e.dial("sub", mqtt.V311)
	if err != nil {
		return "", err
	}
	if err := e.sub(sub, e.topic+"/#", 1); err != nil {
		return "", err
	}
	abrupt, normal := e.topic+"/abrupt", e.topic+"/normal"
	a, err := e.dial("abrupt", mqtt.V311, will(abrupt, "gone", 1))
	if err != nil {
		return "", err
	}
	a.Close() // no DISCONNECT
	m, err := e.next(sub, "will after the connection was dropped")
	if err != nil {
		return "", err
	}
	if m.Topic != abrupt || string(m.Payload) != "gone" {
		return "", fmt.Errorf("expected the will, received %s", describe(m))
	}
	n, err := e.dial("normal", mqtt.V311, will(normal, "gone", 1))
	if err != nil {
		return "", err
	}
	if err := n.Disconnect(e.ctx, nil); err != nil {
		return "", fmt.Errorf("DISCONNECT: %w", e.explain(err, "close"))
	}
	e.quiet()
	marker := e.topic + "/marker"
	if err := e.publish(sub, &mqtt.Publish{Topic: marker, Payload: []byte("marker"), QoS: 1}); err != nil {
		return "", err
	}
	got, err := e.until(sub, "marker message", func(p *mqtt.Publish) bool { return p.Topic == marker })
	for _, p := range got {
		if p.Topic == normal {
			return "", fmt.Errorf("will published after a normal DISCONNECT [MQTT-3.1.2-10]")
		}
	}
	if err != nil {
		return "", err
	}
	return "published when the socket closed without DISCONNECT, not after DISCONNECT", nil
}

// checkSession: a persistent session keeps its subscription and queues a
// QoS 1 message while offline; the reconnection gets Session Present 1
// [MQTT-3.2.2-2] and the message [MQTT-3.1.2-5].
func checkSession(v mqtt.Version) func(e *env) (string, error) {
	return func(e *env) (string, error) {
		const expiry = 300
		first, again := []option{cleanStart(false)}, []option{cleanStart(false)}
		how := "clean session 0"
		if v == mqtt.V5 {
			first = []option{cleanStart(true), sessionExpiry(expiry)}
			again = []option{cleanStart(false), sessionExpiry(expiry)}
			how = fmt.Sprintf("session expiry %d s", expiry)
		}
		e.keepSession("s", v)
		s, err := e.dial("s", v, first...)
		if err != nil {
			return "", err
		}
		if p := s.Connack().Props; v == mqtt.V5 && p.Has(mqtt.PropSessionExpiry) && p.SessionExpiry == 0 {
			return "", skipf("broker caps the session expiry interval at 0")
		}
		topic := e.topic + "/t"
		if err := e.sub(s, topic, 1); err != nil {
			return "", err
		}
		if err := s.Disconnect(e.ctx, nil); err != nil {
			return "", fmt.Errorf("DISCONNECT: %w", e.explain(err, "close"))
		}
		pub, err := e.dial("pub", v)
		if err != nil {
			return "", err
		}
		data := payload("offline")
		if err := e.publish(pub, &mqtt.Publish{Topic: topic, Payload: data, QoS: 1}); err != nil {
			return "", err
		}
		s2, err := e.dial("s", v, again...)
		if err != nil {
			return "", err
		}
		if !s2.Connack().SessionPresent {
			return "", fmt.Errorf("reconnection got Session Present 0 (%s)", how)
		}
		m, err := e.expect(s2, topic, data)
		if err != nil {
			return "", err
		}
		if m.QoS != 1 {
			return "", fmt.Errorf("queued message delivered at QoS %d, want 1", m.QoS)
		}
		return how + ": Session Present 1 and the QoS 1 message queued offline delivered", nil
	}
}

// checkWildcards: '+' matches one level (also an empty one), '#' any
// number including the parent level [MQTT-4.7.1-2], [MQTT-4.7.1-3].
func checkWildcards(e *env) (string, error) {
	if !e.r.available(mqtt.PropWildcardSubAvailable, e.r.caps.WildcardSubAvailable) {
		return "", skipf("broker announces Wildcard Subscription Available 0")
	}
	b := e.topic
	cs, err := e.dialAll(mqtt.V311, "plus", "hash", "pub")
	if err != nil {
		return "", err
	}
	plus, hash, pub := cs[0], cs[1], cs[2]
	if err := e.sub(plus, b+"/+/b", 1); err != nil {
		return "", err
	}
	if err := e.sub(hash, b+"/a/#", 1); err != nil {
		return "", err
	}
	last := b + "/a/b" // matched by both: the barrier
	for _, t := range []string{b + "/a", b + "/x/y/b", b + "/x/b", b + "//b", b + "/a/c/d", b + "/ab", last} {
		if err := e.publish(pub, &mqtt.Publish{Topic: t, Payload: []byte("w"), QoS: 1}); err != nil {
			return "", err
		}
	}
	for _, w := range []struct {
		c      *conn
		filter string
		want   []string
	}{
		{plus, b + "/+/b", []string{b + "/x/b", b + "//b", last}},
		{hash, b + "/a/#", []string{b + "/a", b + "/a/c/d", last}},
	} {
		got, err := e.until(w.c, "message on "+last, func(p *mqtt.Publish) bool { return p.Topic == last })
		topics := make([]string, len(got))
		for i, p := range got {
			topics[i] = p.Topic
			if !slices.Contains(w.want, p.Topic) {
				return "", fmt.Errorf("%s matched %s", w.filter, p.Topic)
			}
		}
		if err != nil {
			return "", err
		}
		for _, t := range w.want {
			if !slices.Contains(topics, t) {
				return "", fmt.Errorf("%s did not match %s", w.filter, t)
			}
		}
	}
	return "'+' matches one (also empty) level, '#' matches the parent level and below", nil
}

// checkSysTopics: topics starting with '$' are not matched by a filter
// starting with a wildcard [MQTT-4.7.2-1]. It needs the broker to have
// retained $SYS topics, which it finds by subscribing to $SYS/#.
func checkSysTopics(e *env) (string, error) {
	probe, err := e.dial("sys", mqtt.V311)
	if err != nil {
		return "", err
	}
	m1 := e.topic + "/m1"
	if _, err := e.subscribe(probe, nil, mqtt.Subscription{Filter: "$SYS/#"}, mqtt.Subscription{Filter: m1}); err != nil {
		return "", err
	}
	if err := e.publish(probe, &mqtt.Publish{Topic: m1, Payload: []byte("m"), QoS: 1}); err != nil {
		return "", err
	}
	got, err := e.until(probe, "message on "+m1, func(p *mqtt.Publish) bool { return p.Topic == m1 })
	if err != nil {
		return "", err
	}
	sys := ""
	for _, p := range got {
		if strings.HasPrefix(p.Topic, "$SYS/") {
			sys = p.Topic
			break
		}
	}
	if sys == "" {
		return "", skipf("broker has no retained $SYS topic to test with")
	}
	// The "#" subscriber sees every retained message of the broker: only
	// this check's topics are buffered, '$' topics are remembered.
	all, err := e.dialInbox("all", mqtt.V311, keepOnly(func(p *mqtt.Publish) bool {
		return strings.HasPrefix(p.Topic, "$") || strings.HasPrefix(p.Topic, e.topic+"/")
	}))
	if err != nil {
		return "", err
	}
	if _, err := e.subscribe(all, nil, mqtt.Subscription{Filter: "#"}, mqtt.Subscription{Filter: "+/#"}); err != nil {
		return "", err
	}
	m2 := e.topic + "/m2"
	if err := e.publish(probe, &mqtt.Publish{Topic: m2, Payload: []byte("m"), QoS: 1}); err != nil {
		return "", err
	}
	got, err = e.until(all, "message on "+m2, func(p *mqtt.Publish) bool { return p.Topic == m2 })
	for _, p := range got {
		if strings.HasPrefix(p.Topic, "$") {
			return "", fmt.Errorf("'#' or '+/#' matched %s [MQTT-4.7.2-1]", p.Topic)
		}
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s is not sent to '#' and '+/#' subscribers", sys), nil
}

// checkWebSocket: MQTT over WebSocket carries a round trip.
func checkWebSocket(e *env) (string, error) {
	primary := e.r.cfg.Endpoint
	ws := primary
	if e.r.cfg.WebSocket != nil {
		ws = *e.r.cfg.WebSocket
	}
	if ws.Scheme != "ws" && ws.Scheme != "wss" {
		return "", skipf("no ws:// or wss:// URL given")
	}
	sub, err := e.dial("ws", mqtt.V311, endpoint(ws))
	if err != nil {
		return "", err
	}
	pub, err := e.dial("pub", mqtt.V311)
	if err != nil {
		return "", err
	}
	topic := e.topic + "/t"
	if err := e.sub(sub, topic, 1); err != nil {
		return "", err
	}
	data := payload("ws")
	if err := e.publish(pub, &mqtt.Publish{Topic: topic, Payload: data, QoS: 1}); err != nil {
		return "", err
	}
	if _, err := e.expect(sub, topic, data); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s: subscribed and received a message published over %s", ws, primary), nil
}

// causalExtra is added to the causal-order check's deadline: 2 x 50
// tries take well under a second on loopback, and the probe stops at the
// first lost message (which costs LateGrace).
const causalExtra = 20 * time.Second

// checkCausal (issue 11 item 1): client B writes SUBSCRIBE t (QoS 1) and,
// once that write has returned, client A writes PUBLISH t (QoS 1): B must
// receive it (selftest.CausalOrder), with B freshly connected (fresh) and
// with B busy acknowledging a message as it subscribes (hot). No
// specification clause orders packets of different connections, but
// nothing lets a broker reorder them against their arrival, and test
// suites (Paho's) and applications subscribe and publish this way without
// waiting for SUBACK. It fails at the first lost message. mqbroker keeps
// this order (its event loop, internal/broker/doc.go "Order"); mosquitto
// 2.0.11 keeps it in the fresh mode but loses messages in the hot mode at
// QoS 1 (its loop handles one packet per socket per pass; see
// internal/broker/causal_test.go): Config.NoCausal skips the check.
func checkCausal(e *env) (string, error) {
	cfg := &e.r.cfg
	if cfg.NoCausal {
		return "", skipf("--no-causal")
	}
	if e.r.maxQoS() < 1 {
		return "", skipf("broker's Maximum QoS is 0")
	}
	modes := cfg.CausalModes
	if len(modes) == 0 {
		modes = []CausalMode{CausalFresh, CausalHot}
	}
	tries := cfg.CausalTries
	if tries <= 0 {
		tries = DefaultCausalTries
	}
	var done []string
	for _, mode := range modes {
		res, err := CausalOrder(e.ctx, CausalConfig{
			Endpoint: cfg.Endpoint, Username: cfg.Username, HasUsername: cfg.HasUsername,
			Password: cfg.Password, HasPassword: cfg.HasPassword,
			Version: mqtt.V311, QoS: 1, Mode: mode, Tries: tries,
			Topic: e.topic + "/" + string(mode), Timeout: cfg.Timeout, StopAtLoss: true,
		})
		if err != nil {
			return "", fmt.Errorf("%s mode: %w", mode, err)
		}
		if res.Lost > 0 {
			msg := fmt.Sprintf("%s mode: the QoS 1 message of try %d of %d was lost: published after the subscriber's SUBSCRIBE was written, never delivered",
				mode, res.Tries, tries)
			if len(done) > 0 {
				msg += " (" + strings.Join(done, "; ") + ")"
			}
			return "", errors.New(msg)
		}
		done = append(done, fmt.Sprintf("%s: %s", mode, res))
	}
	return "QoS 1, 3.1.1, PUBLISH written right after another client's SUBSCRIBE: " + strings.Join(done, "; "), nil
}
