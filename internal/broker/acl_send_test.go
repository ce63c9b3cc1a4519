package broker

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// userACL lets bob read and subscribe under secret/ (while bobReads is
// set) and a/, alice under a/ only, and everyone publish.
type userACL struct{ bobReads atomic.Bool }

func (u *userACL) Authorize(ci *ClientInfo, topic string, acc Access) bool {
	if acc == AccessWrite {
		return true
	}
	switch ci.Username {
	case "bob":
		return strings.HasPrefix(topic, "a/") || (u.bobReads.Load() && strings.HasPrefix(topic, "secret/"))
	case "alice":
		return strings.HasPrefix(topic, "a/")
	}
	return false
}

// durableAs connects a durable session id as user.
func durableAs(t *testing.T, addr string, v mqtt.Version, id, user string) (*tclient, *mqtt.Connack) {
	t.Helper()
	p := connectPacket(v, id, false)
	if v == mqtt.V5 {
		p.Props.SetSessionExpiry(3600)
	}
	p.HasUsername, p.Username = true, user
	return mustConnect(t, addr, p)
}

// bobLeavesMessages gives bob's durable session "victim" one inflight
// message (sent, never acknowledged) and one queued message on secret/,
// and a subscription to a/#.
func bobLeavesMessages(t *testing.T, addr string, v mqtt.Version, pub *tclient) {
	t.Helper()
	bob, _ := durableAs(t, addr, v, "victim", "bob")
	bob.subscribe("secret/#", 1)
	bob.subscribe("a/#", 1)
	pub.publish("secret/inflight", "1", 1, false)
	bob.expectPublishNoAck("secret/inflight", "1")
	bob.disconnect() // gone without acknowledging it; returns once detached
	pub.publish("secret/queued", "2", 1, false)
	pub.publish("a/queued", "3", 1, false) // bob may read it: queued too
}

// TestTakeoverByAnotherUser: alice takes over bob's durable session. She
// gets Session Present (as from mosquitto 2.0.11) but nothing she may not
// read: bob's inflight and queued messages on secret/ are dropped,
// counted and logged (mosquitto deletes them too: bob does not get them
// back either); the message on a/ she may read is delivered; new messages
// on bob's secret/# subscription are filtered for her. The same scenario
// runs against mosquitto in brokercmd (TestRefSessionACL).
func TestTakeoverByAnotherUser(t *testing.T) {
	for _, tc := range versions {
		t.Run(tc.name, func(t *testing.T) {
			acl := &userACL{}
			acl.bobReads.Store(true)
			logs := newLogCapture()
			b, addr := newTestBroker(t, Options{Authorizer: acl, Logger: logs.logger()})
			pub := connectClient(t, addr, tc.v, "pub")
			bobLeavesMessages(t, addr, tc.v, pub)
			dropped := b.Stats().PublishDropped

			alice, ack := durableAs(t, addr, tc.v, "victim", "alice")
			if !ack.SessionPresent {
				t.Error("alice: session not present")
			}
			alice.expectPublish("a/queued", "3")
			alice.expectNothing()
			if got := b.Stats().PublishDropped - dropped; got != 2 {
				t.Errorf("%d messages counted as dropped, want 2", got)
			}
			for _, topic := range []string{"secret/inflight", "secret/queued"} {
				if !logs.has("Dropped message for client victim on '" + topic + "': not authorised to read it.") {
					t.Errorf("drop of %s not logged", topic)
				}
			}
			denied := b.Stats().PublishDenied
			pub.publish("secret/new", "4", 1, false)
			pub.publish("a/new", "5", 1, false)
			alice.expectPublish("a/new", "5")
			alice.expectNothing()
			if b.Stats().PublishDenied != denied+1 {
				t.Errorf("denied deliveries %d, want %d", b.Stats().PublishDenied, denied+1)
			}
			alice.disconnect()
			bob, _ := durableAs(t, addr, tc.v, "victim", "bob")
			bob.expectNothing() // dropped for good, as mosquitto does
		})
	}
}

// TestACLRevokedBeforeReconnect (issue 11 item 7): bob's read access to
// secret/ is withdrawn (an ACL reload) while his durable session holds an
// inflight and a queued message there: on reconnect he gets neither,
// both counted and logged, while a/ still flows.
func TestACLRevokedBeforeReconnect(t *testing.T) {
	for _, tc := range versions {
		t.Run(tc.name, func(t *testing.T) {
			acl := &userACL{}
			acl.bobReads.Store(true)
			logs := newLogCapture()
			b, addr := newTestBroker(t, Options{Authorizer: acl, Logger: logs.logger()})
			pub := connectClient(t, addr, tc.v, "pub")
			bobLeavesMessages(t, addr, tc.v, pub)
			dropped := b.Stats().PublishDropped
			acl.bobReads.Store(false) // the reload
			bob, _ := durableAs(t, addr, tc.v, "victim", "bob")
			bob.expectPublish("a/queued", "3")
			bob.expectNothing()
			if got := b.Stats().PublishDropped - dropped; got != 2 {
				t.Errorf("%d messages counted as dropped, want 2", got)
			}
			if !logs.has("Dropped message for client victim on 'secret/queued': not authorised to read it.") {
				t.Error("drop not logged")
			}
		})
	}
}

// TestACLRevokedWhileConnected: messages queued behind a full inflight
// window are checked again when they enter it.
func TestACLRevokedWhileConnected(t *testing.T) {
	acl := &userACL{}
	acl.bobReads.Store(true)
	b, addr := newTestBroker(t, Options{Authorizer: acl, MaxInflight: 1})
	pub := connectClient(t, addr, mqtt.V311, "pub")
	bob, _ := durableAs(t, addr, mqtt.V311, "victim", "bob")
	bob.subscribe("secret/#", 1)
	pub.publish("secret/1", "1", 1, false)
	pub.publish("secret/2", "2", 1, false) // queued: the window holds 1
	first := bob.expectPublishNoAck("secret/1", "1")
	dropped := b.Stats().PublishDropped
	acl.bobReads.Store(false)
	bob.ackPublish(first) // secret/2 would enter the window now
	bob.expectNothing()
	if got := b.Stats().PublishDropped - dropped; got != 1 {
		t.Errorf("%d dropped, want 1", got)
	}
}

// TestRetainedNeedsRead: retained messages sent on SUBSCRIBE are checked
// like any delivery.
func TestRetainedNeedsRead(t *testing.T) {
	az := AuthorizerFunc(func(ci *ClientInfo, topic string, acc Access) bool {
		return acc != AccessRead || !strings.HasPrefix(topic, "hidden/")
	})
	_, addr := newTestBroker(t, Options{Authorizer: az})
	pub := connectClient(t, addr, mqtt.V311, "pub")
	pub.publish("hidden/r", "h", 1, true)
	pub.publish("shown/r", "s", 1, true)
	sub := connectClient(t, addr, mqtt.V311, "sub")
	sub.subscribe("+/r", 1)
	sub.expectPublish("shown/r", "s")
	sub.expectNothing()
}

// TestEveryPathChecksRead: a will and a shared-subscription message
// handed to another member after its session ended reach only clients
// allowed to read them (mosquitto checks read access on every delivery
// too); a refused delivery is counted.
func TestEveryPathChecksRead(t *testing.T) {
	az := AuthorizerFunc(func(ci *ClientInfo, topic string, acc Access) bool {
		return acc != AccessRead || !strings.HasPrefix(topic, "secret/") || ci.Username == "reader"
	})
	b, addr := newTestBroker(t, Options{Authorizer: az})
	as := func(id, user string) *tclient {
		p := connectPacket(mqtt.V5, id, true)
		p.HasUsername, p.Username = true, user
		c, _ := mustConnect(t, addr, p)
		return c
	}
	reader, nosy := as("reader", "reader"), as("nosy", "nosy")
	reader.subscribe("secret/will", 1)
	nosy.subscribe("secret/will", 1)
	dying := dial(t, addr, mqtt.V5)
	p := connectPacket(mqtt.V5, "dying", true)
	p.Will = &mqtt.Will{Topic: "secret/will", Payload: []byte("gone"), QoS: 1}
	dying.connect(p)
	denied := b.Stats().PublishDenied
	dying.send(&mqtt.Disconnect{Code: mqtt.DisconnectWithWill})
	dying.expectClosed()
	reader.expectPublish("secret/will", "gone")
	nosy.expectNothing()
	if got := b.Stats().PublishDenied - denied; got != 1 {
		t.Errorf("will: %d deliveries denied, want 1", got)
	}

	worker := as("worker", "reader")
	worker.subscribe("$share/pool/secret/+", 1)
	pub := as("pub", "pub")
	pub.publish("secret/job", "j", 1, false)
	worker.expectPublishNoAck("secret/job", "j")
	nosy.subscribe("$share/pool/secret/+", 1)
	denied = b.Stats().PublishDenied
	worker.disconnect() // its session ends: the job goes to another member, nosy
	nosy.expectNothing()
	if got := b.Stats().PublishDenied - denied; got != 1 {
		t.Errorf("shared redelivery: %d deliveries denied, want 1", got)
	}
}
