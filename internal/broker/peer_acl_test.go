package broker_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client/clienttest"
)

// ACL enforcement at delivery: a client allowed to subscribe to a filter
// receives only the messages it may read. mosquitto checks read access
// for each message it sends ("topic deny" rules filter at delivery while
// the wider subscription is accepted); a message it may not read never
// leaves the broker towards it, live or retained.

// aclBody: alice (subscribe acl/# allowed, read acl/secret denied)
// subscribes after bob published retained messages on both topics, then
// bob publishes live ones. alice's first messages must be the allowed
// ones only: the retained acl/open, then the live acl/open, and a marker.
func aclBody(t *testing.T, s *server) {
	bob := v3connectAs(t, s, "acl-bob", "bob", "bobpw")
	bob.pub(t, "acl/secret", 1, true, "retained secret")
	bob.pub(t, "acl/open", 1, true, "retained open")
	alice := v3connectAs(t, s, "acl-alice", "alice", "alicepw")
	alice.sub(t, "acl/#", 1)
	alice.expect(t, "acl/open", "retained open")
	for _, qos := range []byte{0, 1, 2} {
		bob.pub(t, "acl/secret", qos, false, "live secret")
		bob.pub(t, "acl/open", qos, false, "live open")
		m := alice.expect(t, "acl/open", "live open")
		if m.Qos() != min(qos, 1) { // the subscription's QoS 1 caps it [MQTT-3.8.4-8]
			t.Errorf("QoS %d delivered at %d", qos, m.Qos())
		}
	}
	select {
	case m := <-alice.msgs:
		t.Errorf("alice received %s %q", m.Topic(), m.Payload())
	default:
	}
}

// aclFiles writes a password file (alice, bob) and an ACL file: bob may
// do everything, alice may read and write acl/# except acl/secret.
func aclFiles(t *testing.T) (passwd, acl string) {
	dir := t.TempDir()
	passwd = clienttest.WritePasswordFile(t, dir, map[string]string{"alice": "alicepw", "bob": "bobpw"})
	acl = filepath.Join(dir, "acl")
	text := "user bob\ntopic readwrite #\n\nuser alice\ntopic readwrite acl/#\ntopic deny acl/secret\n"
	if err := os.WriteFile(acl, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return passwd, acl
}

// TestPeerACLDeliveryFile: the same password and ACL files for mqbroker
// and mosquitto.
func TestPeerACLDeliveryFile(t *testing.T) {
	passwd, acl := aclFiles(t)
	conf := "listener {port} 127.0.0.1\nallow_anonymous false\nsys_interval 0\npassword_file " + passwd + "\nacl_file " + acl + "\n"
	eachServer(t, conf, func(t *testing.T, s *server) {
		aclBody(t, s)
	})
}

// TestPeerACLDeliveryAuthorizer: the same body against mqbroker with an
// Authorizer (the broker's API) that allows every subscription and denies
// alice read access to acl/secret: only the check at delivery stands
// between her and the secret.
func TestPeerACLDeliveryAuthorizer(t *testing.T) {
	s := newInProcess(t, broker.Options{
		Authorizer: broker.AuthorizerFunc(func(ci *broker.ClientInfo, topic string, acc broker.Access) bool {
			return !(ci.Username == "alice" && acc == broker.AccessRead && topic == "acl/secret")
		}),
	})
	aclBody(t, s)
}
