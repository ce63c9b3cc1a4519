package selftest

import (
	"fmt"
	"strings"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// ACLDenied is the topic pattern the acl/subscribe check needs the
// broker's ACL to deny (all access) for the client it connects as.
const ACLDenied = TopicRoot + "/+/acl/subscribe/denied"

// ACLRules is an ACL (mosquitto acl_file syntax, rules for anonymous
// clients) under which every check passes, acl/subscribe included: the
// Eclipse Paho interoperability suite's pattern (a deny, then readwrite
// #) plus read access to $SYS for the sys-topics check. For a broker with
// users, give the selftest's user the same lines and run with --acl.
const ACLRules = "topic deny " + ACLDenied + "\ntopic readwrite #\ntopic read $SYS/#\n"

// checkACL: with a deny rule on one topic and readwrite # (ACLRules), a
// broker grants the subscriptions #, +/+/+/+/+ and <check>/# — they can
// deliver allowed messages — and delivers nothing on the denied topic
// through them. A SUBSCRIBE to the denied topic itself can deliver
// nothing: refusing it (mqbroker, what the Paho suite expects) and
// granting it (mosquitto 2.0) both pass, as long as nothing arrives.
// ACLs are not part of MQTT: the check only runs when Config.ACL says
// the broker has the rules (the in-process broker does).
func checkACL(e *env) (string, error) {
	if !e.r.cfg.ACL {
		return "", skipf("needs an ACL denying %s (and granting the rest) on the broker: see --acl", ACLDenied)
	}
	denied, ok := e.topic+"/denied", e.topic+"/ok"
	// The "#" subscriber sees the whole broker: only this check's topics
	// are buffered.
	all, err := e.dialInbox("all", mqtt.V311, keepOnly(func(p *mqtt.Publish) bool {
		return strings.HasPrefix(p.Topic, e.topic+"/")
	}))
	if err != nil {
		return "", err
	}
	filters := []string{"#", "+/+/+/+/+", e.topic + "/#"}
	var subs []mqtt.Subscription
	for _, f := range filters {
		subs = append(subs, mqtt.Subscription{Filter: f, QoS: 1})
	}
	if _, err := e.subscribe(all, nil, subs...); err != nil {
		return "", fmt.Errorf("%w: a filter may only be refused when the ACL lets it deliver nothing", err)
	}
	cs, err := e.dialAll(mqtt.V311, "probe", "pub")
	if err != nil {
		return "", err
	}
	probe, pub := cs[0], cs[1]
	s := &mqtt.Subscribe{Subscriptions: []mqtt.Subscription{{Filter: denied, QoS: 1}}}
	ack, err := probe.Subscribe(e.ctx, s)
	if err != nil {
		return "", fmt.Errorf("subscribe %s: %w", denied, e.connErr(probe, err, "SUBACK"))
	}
	verdict := "granted (it delivers nothing)"
	if len(ack.Codes) == 1 && ack.Codes[0].IsError() {
		verdict = "refused"
	}
	// 3.1.1: a denied publish is acknowledged and dropped.
	for _, t := range []string{denied, ok} {
		if err := e.publish(pub, &mqtt.Publish{Topic: t, Payload: []byte("acl"), QoS: 1}); err != nil {
			return "", err
		}
	}
	got, err := e.until(all, "message on "+ok, func(p *mqtt.Publish) bool { return p.Topic == ok })
	if err != nil {
		return "", err
	}
	e.quiet() // copies for the other subscriptions, or a late denied one
	for more := true; more; {
		select {
		case p := <-all.in.ch:
			got = append(got, p)
		default:
			more = false
		}
	}
	for _, p := range got {
		if p.Topic == denied {
			return "", fmt.Errorf("the ACL denies %s, yet it was delivered to %s", denied, strings.Join(filters, ", "))
		}
	}
	select {
	case p := <-probe.in.ch:
		return "", fmt.Errorf("the subscription to the denied topic delivered %s", describe(p))
	default:
	}
	return fmt.Sprintf("%s granted and deliver %s only; SUBSCRIBE %s %s",
		strings.Join(filters, ", "), ok, denied, verdict), nil
}
