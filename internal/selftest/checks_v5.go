package selftest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// checkMessageExpiry: a queued message whose Message Expiry Interval has
// passed is not delivered [MQTT-3.3.2-5]; the one still valid is, with
// the interval reduced by the time it waited [MQTT-3.3.2-6].
func checkMessageExpiry(e *env) (string, error) {
	const expiry = 300
	const waitS = int(messageExpiryWait / time.Second)
	topic, gone := e.topic+"/t", e.topic+"/gone"
	pub, err := e.dial("pub", mqtt.V5)
	if err != nil {
		return "", err
	}
	if err := e.sub(pub, gone, 1); err != nil {
		return "", err
	}
	e.keepSession("s", mqtt.V5)
	s, err := e.dial("s", mqtt.V5, sessionExpiry(expiry), will(gone, "gone", 1))
	if err != nil {
		return "", err
	}
	if p := s.Connack().Props; p.Has(mqtt.PropSessionExpiry) && p.SessionExpiry == 0 {
		return "", skipf("broker caps the session expiry interval at 0")
	}
	if err := e.sub(s, topic, 1); err != nil {
		return "", err
	}
	// The will (DISCONNECT 0x04) tells when the broker has processed the
	// disconnection: a message routed before would count as "onward
	// delivery started" and could be sent again despite its expiry.
	if err := s.Disconnect(e.ctx, &mqtt.Disconnect{Code: mqtt.DisconnectWithWill}); err != nil {
		return "", fmt.Errorf("DISCONNECT: %w", e.explain(err, "close"))
	}
	if _, err := e.expect(pub, gone, []byte("gone")); err != nil {
		return "", fmt.Errorf("will of DISCONNECT 0x04 (to know the subscriber is offline): %w", err)
	}
	expiring, kept := payload("expiring"), payload("kept")
	p1 := &mqtt.Publish{Topic: topic, Payload: expiring, QoS: 1}
	p1.Props.SetMessageExpiry(1)
	p2 := &mqtt.Publish{Topic: topic, Payload: kept, QoS: 1}
	p2.Props.SetMessageExpiry(expiry)
	for _, p := range []*mqtt.Publish{p1, p2} {
		if err := e.publish(pub, p); err != nil {
			return "", err
		}
	}
	if err := e.sleep(messageExpiryWait); err != nil {
		return "", err
	}
	s2, err := e.dial("s", mqtt.V5, cleanStart(false), sessionExpiry(expiry))
	if err != nil {
		return "", err
	}
	got, err := e.until(s2, "unexpired queued message", func(p *mqtt.Publish) bool { return bytes.Equal(p.Payload, kept) })
	for _, p := range got {
		if bytes.Equal(p.Payload, expiring) {
			return "", fmt.Errorf("message with Message Expiry Interval 1 s delivered after %d s offline [MQTT-3.3.2-5]", waitS)
		}
	}
	if err != nil {
		return "", err
	}
	m := got[len(got)-1]
	if !m.Props.Has(mqtt.PropMessageExpiry) {
		return "", fmt.Errorf("Message Expiry Interval not forwarded [MQTT-3.3.2-6]")
	}
	if m.Props.MessageExpiry >= expiry {
		return "", fmt.Errorf("Message Expiry Interval forwarded as %d s, not reduced by the %d s the message waited [MQTT-3.3.2-6]",
			m.Props.MessageExpiry, waitS)
	}
	return fmt.Sprintf("1 s message dropped after %d s offline; %d s message delivered with %d s left",
		waitS, expiry, m.Props.MessageExpiry), nil
}

// checkTopicAlias: the broker resolves a client→server topic alias
// [MQTT-3.3.2-12].
func checkTopicAlias(e *env) (string, error) {
	if !e.r.caps.Has(mqtt.PropTopicAliasMaximum) || e.r.caps.TopicAliasMaximum == 0 {
		return "", skipf("broker announces Topic Alias Maximum 0")
	}
	cs, err := e.dialAll(mqtt.V5, "sub", "pub")
	if err != nil {
		return "", err
	}
	sub, pub := cs[0], cs[1]
	topic := e.topic + "/t"
	if err := e.sub(sub, topic, 1); err != nil {
		return "", err
	}
	first, second := payload("alias-set"), payload("alias-used")
	for _, data := range [][]byte{first, second} {
		p := &mqtt.Publish{Topic: topic, Payload: data, QoS: 1}
		p.Props.SetTopicAlias(1)
		if err := e.publish(pub, p); err != nil {
			return "", err
		}
	}
	if n := pub.rec.aliasOnlySent(); n != 1 {
		return "", fmt.Errorf("internal: %d PUBLISH sent with the alias alone, want 1", n)
	}
	for _, data := range [][]byte{first, second} {
		if _, err := e.expect(sub, topic, data); err != nil {
			return "", err
		}
	}
	return "PUBLISH with topic and alias 1, then alias 1 alone: both delivered on the topic", nil
}

// checkNoLocal: a No Local subscription does not get the client's own
// messages [MQTT-3.8.3-3].
func checkNoLocal(e *env) (string, error) {
	cs, err := e.dialAll(mqtt.V5, "a", "b")
	if err != nil {
		return "", err
	}
	a, b := cs[0], cs[1]
	topic := e.topic + "/t"
	if _, err := e.subscribe(a, nil, mqtt.Subscription{Filter: topic, QoS: 1, NoLocal: true}); err != nil {
		return "", err
	}
	own, other := payload("own"), payload("other")
	if err := e.publish(a, &mqtt.Publish{Topic: topic, Payload: own, QoS: 1}); err != nil {
		return "", err
	}
	if err := e.publish(b, &mqtt.Publish{Topic: topic, Payload: other, QoS: 1}); err != nil {
		return "", err
	}
	m, err := e.next(a, "message from the other client")
	if err != nil {
		return "", err
	}
	if bytes.Equal(m.Payload, own) {
		return "", fmt.Errorf("own message delivered to a No Local subscription [MQTT-3.8.3-3]")
	}
	if !bytes.Equal(m.Payload, other) {
		return "", fmt.Errorf("unexpected %s", describe(m))
	}
	return "own message not delivered back, another client's delivered", nil
}

// checkRetainAsPublished: a live retained message keeps its retain flag
// for a Retain As Published subscription [MQTT-3.3.1-13] and loses it
// for the others [MQTT-3.3.1-12].
func checkRetainAsPublished(e *env) (string, error) {
	if !e.r.retainAvailable() {
		return "", skipf("broker announces Retain Available 0")
	}
	cs, err := e.dialAll(mqtt.V5, "rap", "plain", "pub")
	if err != nil {
		return "", err
	}
	rap, plain, pub := cs[0], cs[1], cs[2]
	topic := e.topic + "/t"
	if _, err := e.subscribe(rap, nil, mqtt.Subscription{Filter: topic, QoS: 1, RetainAsPublished: true}); err != nil {
		return "", err
	}
	if err := e.sub(plain, topic, 1); err != nil {
		return "", err
	}
	data, err := e.publishRetained(pub, topic, "rap")
	if err != nil {
		return "", err
	}
	m, err := e.expect(rap, topic, data)
	if err != nil {
		return "", err
	}
	if !m.Retain {
		return "", fmt.Errorf("retain flag cleared for a Retain As Published subscription [MQTT-3.3.1-13]")
	}
	if m, err = e.expect(plain, topic, data); err != nil {
		return "", err
	}
	if m.Retain {
		return "", fmt.Errorf("retain flag kept on a live message for a subscription without Retain As Published [MQTT-3.3.1-12]")
	}
	return "retain=1 with Retain As Published, retain=0 without", nil
}

// checkRetainHandling: Retain Handling 2 sends no retained message on
// subscribe [MQTT-3.3.1-11] (while Retain Handling 0 does).
func checkRetainHandling(e *env) (string, error) {
	if !e.r.retainAvailable() {
		return "", skipf("broker announces Retain Available 0")
	}
	pub, err := e.dial("pub", mqtt.V5)
	if err != nil {
		return "", err
	}
	topic := e.topic + "/t"
	data, err := e.publishRetained(pub, topic, "retained")
	if err != nil {
		return "", err
	}
	rh0, err := e.dial("rh0", mqtt.V5)
	if err != nil {
		return "", err
	}
	if err := e.sub(rh0, topic, 1); err != nil {
		return "", err
	}
	if m, err := e.expect(rh0, topic, data); err != nil {
		return "", fmt.Errorf("retain handling 0: %w", err)
	} else if !m.Retain {
		return "", fmt.Errorf("retained message sent to a new subscriber without the retain flag")
	}
	rh2, err := e.dial("rh2", mqtt.V5)
	if err != nil {
		return "", err
	}
	if _, err := e.subscribe(rh2, nil, mqtt.Subscription{Filter: topic, QoS: 1, RetainHandling: 2}); err != nil {
		return "", err
	}
	live := payload("live")
	if err := e.publish(pub, &mqtt.Publish{Topic: topic, Payload: live, QoS: 1}); err != nil {
		return "", err
	}
	m, err := e.next(rh2, "live message")
	if err != nil {
		return "", err
	}
	if !bytes.Equal(m.Payload, live) {
		return "", fmt.Errorf("retain handling 2 subscription received %s [MQTT-3.3.1-11]", describe(m))
	}
	return "retained message sent for Retain Handling 0, not for 2", nil
}

// checkSubscriptionID: a PUBLISH carries the identifiers of every
// matching subscription [MQTT-3.3.4-3].
func checkSubscriptionID(e *env) (string, error) {
	if !e.r.available(mqtt.PropSubIDAvailable, e.r.caps.SubIDAvailable) {
		return "", skipf("broker announces Subscription Identifier Available 0")
	}
	cs, err := e.dialAll(mqtt.V5, "sub", "pub")
	if err != nil {
		return "", err
	}
	s, pub := cs[0], cs[1]
	x, y := e.topic+"/x", e.topic+"/y"
	for _, sub := range []struct {
		filter string
		id     uint32
	}{{x, 5}, {e.topic + "/+", 6}} {
		props := &mqtt.Properties{SubscriptionIDs: []uint32{sub.id}}
		if _, err := e.subscribe(s, props, mqtt.Subscription{Filter: sub.filter, QoS: 1}); err != nil {
			return "", err
		}
	}
	for _, t := range []string{x, y} {
		if err := e.publish(pub, &mqtt.Publish{Topic: t, Payload: []byte("id"), QoS: 1}); err != nil {
			return "", err
		}
	}
	got, err := e.until(s, "message on "+y, func(p *mqtt.Publish) bool { return p.Topic == y })
	if err != nil {
		return "", err
	}
	var xIDs, yIDs []uint32
	for _, p := range got {
		if p.Topic == x {
			xIDs = append(xIDs, p.Props.SubscriptionIDs...)
		} else {
			yIDs = append(yIDs, p.Props.SubscriptionIDs...)
		}
	}
	slices.Sort(xIDs)
	xIDs = slices.Compact(xIDs)
	if !slices.Equal(xIDs, []uint32{5, 6}) {
		return "", fmt.Errorf("message matching subscriptions 5 and 6 carried identifiers %v [MQTT-3.3.4-3]", xIDs)
	}
	if !slices.Equal(yIDs, []uint32{6}) {
		return "", fmt.Errorf("message matching subscription 6 only carried identifiers %v [MQTT-3.3.4-3]", yIDs)
	}
	return "identifiers 5 and 6 on a message matching both subscriptions, 6 alone on one matching only 6", nil
}

// checkShared: a shared subscription delivers each message to one member
// of the group (MQTT 5.0 section 4.8.2).
func checkShared(e *env) (string, error) {
	if !e.r.available(mqtt.PropSharedSubAvailable, e.r.caps.SharedSubAvailable) {
		return "", skipf("broker announces Shared Subscription Available 0")
	}
	const n = 6
	topic, end := e.topic+"/t", e.topic+"/end"
	shared := "$share/mqst" + e.r.run + "/" + topic
	var members [2]*conn
	for i := range members {
		c, err := e.dial("member"+strconv.Itoa(i+1), mqtt.V5)
		if err != nil {
			return "", err
		}
		if _, err := e.subscribe(c, nil, mqtt.Subscription{Filter: shared, QoS: 1}, mqtt.Subscription{Filter: end, QoS: 1}); err != nil {
			return "", err
		}
		members[i] = c
	}
	pub, err := e.dial("pub", mqtt.V5)
	if err != nil {
		return "", err
	}
	for i := range n {
		if err := e.publish(pub, &mqtt.Publish{Topic: topic, Payload: []byte("shared-" + strconv.Itoa(i)), QoS: 1}); err != nil {
			return "", err
		}
	}
	if err := e.publish(pub, &mqtt.Publish{Topic: end, Payload: []byte("end"), QoS: 1}); err != nil {
		return "", err
	}
	seen := map[string]int{}
	var split [2]int
	for i, c := range members {
		got, err := e.until(c, "message on "+end, func(p *mqtt.Publish) bool { return p.Topic == end })
		if err != nil {
			return "", err
		}
		for _, p := range got {
			if p.Topic == topic {
				seen[string(p.Payload)]++
				split[i]++
			}
		}
	}
	for i := range n {
		switch seen["shared-"+strconv.Itoa(i)] {
		case 0:
			return "", fmt.Errorf("message %d of %d reached no member of the group", i+1, n)
		case 1:
		default:
			return "", fmt.Errorf("message %d of %d delivered to both members of the group", i+1, n)
		}
	}
	return fmt.Sprintf("%d messages split %d/%d between the two members of $share/…", n, split[0], split[1]), nil
}

// checkUserProperties: user properties are forwarded unchanged and in
// order [MQTT-3.3.2-17], [MQTT-3.3.2-18].
func checkUserProperties(e *env) (string, error) {
	cs, err := e.dialAll(mqtt.V5, "sub", "pub")
	if err != nil {
		return "", err
	}
	sub, pub := cs[0], cs[1]
	topic := e.topic + "/t"
	if err := e.sub(sub, topic, 1); err != nil {
		return "", err
	}
	want := []mqtt.UserProperty{{Key: "k", Value: "1"}, {Key: "other", Value: "x"}, {Key: "k", Value: "2"}}
	data := payload("props")
	p := &mqtt.Publish{Topic: topic, Payload: data, QoS: 1}
	p.Props.User = want
	if err := e.publish(pub, p); err != nil {
		return "", err
	}
	m, err := e.expect(sub, topic, data)
	if err != nil {
		return "", err
	}
	if !slices.Equal(m.Props.User, want) {
		return "", fmt.Errorf("user properties %v forwarded as %v [MQTT-3.3.2-17/18]", want, m.Props.User)
	}
	return "3 user properties (one key twice) forwarded in order", nil
}

// checkRequestResponse: Response Topic and Correlation Data are forwarded
// [MQTT-3.3.2-15], [MQTT-3.3.2-16], and a reply on the response topic
// reaches the requester.
func checkRequestResponse(e *env) (string, error) {
	cs, err := e.dialAll(mqtt.V5, "req", "resp")
	if err != nil {
		return "", err
	}
	requester, responder := cs[0], cs[1]
	topic, reply := e.topic+"/request", e.topic+"/reply"
	if err := e.sub(responder, topic, 1); err != nil {
		return "", err
	}
	if err := e.sub(requester, reply, 1); err != nil {
		return "", err
	}
	corr := payload("correlation")
	req := &mqtt.Publish{Topic: topic, Payload: []byte("request"), QoS: 1}
	req.Props.SetResponseTopic(reply)
	req.Props.SetCorrelationData(corr)
	if err := e.publish(requester, req); err != nil {
		return "", err
	}
	m, err := e.expect(responder, topic, []byte("request"))
	if err != nil {
		return "", err
	}
	if !m.Props.Has(mqtt.PropResponseTopic) || m.Props.ResponseTopic != reply {
		return "", fmt.Errorf("Response Topic not forwarded (received %q) [MQTT-3.3.2-15]", m.Props.ResponseTopic)
	}
	if !m.Props.Has(mqtt.PropCorrelationData) || !bytes.Equal(m.Props.CorrelationData, corr) {
		return "", fmt.Errorf("Correlation Data not forwarded (received %q) [MQTT-3.3.2-16]", m.Props.CorrelationData)
	}
	resp := &mqtt.Publish{Topic: m.Props.ResponseTopic, Payload: []byte("response"), QoS: 1}
	resp.Props.SetCorrelationData(m.Props.CorrelationData)
	if err := e.publish(responder, resp); err != nil {
		return "", err
	}
	r, err := e.expect(requester, reply, []byte("response"))
	if err != nil {
		return "", err
	}
	if !bytes.Equal(r.Props.CorrelationData, corr) {
		return "", fmt.Errorf("Correlation Data of the response not forwarded [MQTT-3.3.2-16]")
	}
	return "Response Topic and Correlation Data forwarded; the response came back", nil
}

// checkReceiveMaximum: the broker never has more unacknowledged QoS 1
// messages in flight to a client than the client's Receive Maximum
// [MQTT-3.3.4-7]; it sends the next one after each PUBACK.
func checkReceiveMaximum(e *env) (string, error) {
	const n = 3
	s, err := e.dial("sub", mqtt.V5, receiveMaximum(1), manualAck())
	if err != nil {
		return "", err
	}
	pub, err := e.dial("pub", mqtt.V5)
	if err != nil {
		return "", err
	}
	topic := e.topic + "/t"
	if err := e.sub(s, topic, 1); err != nil {
		return "", err
	}
	for i := range n {
		if err := e.publish(pub, &mqtt.Publish{Topic: topic, Payload: []byte("rm-" + strconv.Itoa(i)), QoS: 1}); err != nil {
			return "", err
		}
	}
	exceeded := func() error {
		var pe *client.ProtocolError
		if errors.As(s.Err(), &pe) && pe.Code == mqtt.ReceiveMaximumExceeded {
			return fmt.Errorf("broker sent a second QoS 1 message before the first was acknowledged (Receive Maximum 1) [MQTT-3.3.4-7]")
		}
		return nil
	}
	m, err := e.next(s, "first message")
	if err != nil {
		if x := exceeded(); x != nil {
			return "", x
		}
		return "", err
	}
	// Barrier: the SUBACK comes after anything the broker had already
	// queued for this client; then wait a little more.
	if err := e.sub(s, e.topic+"/barrier", 0); err != nil {
		if x := exceeded(); x != nil {
			return "", x
		}
		return "", err
	}
	e.quiet()
	if x := exceeded(); x != nil {
		return "", x
	}
	if got := s.rec.count(false, mqtt.PUBLISH); got > 1 {
		return "", fmt.Errorf("%d of %d unacknowledged QoS 1 messages sent (Receive Maximum 1) [MQTT-3.3.4-7]", got, n)
	}
	for i := range n {
		want := "rm-" + strconv.Itoa(i)
		if string(m.Payload) != want || m.QoS != 1 {
			return "", fmt.Errorf("message %d: expected %q at QoS 1, received %s", i+1, want, describe(m))
		}
		s.Ack(m)
		if i == n-1 {
			break
		}
		if m, err = e.next(s, fmt.Sprintf("message %d after PUBACK", i+2)); err != nil {
			if x := exceeded(); x != nil {
				return "", x
			}
			return "", err
		}
	}
	return fmt.Sprintf("%d queued QoS 1 messages sent one at a time, each after the PUBACK of the previous", n), nil
}
