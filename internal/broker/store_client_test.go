package broker

import (
	"context"
	"strings"
	"sync"
	"testing"
)

// TestRestoredSessionKeepsClient (issue 12 item 3): a durable session
// restored from the store is authorized as the client that used it (user
// name, listener, certificate CN, mount point are stored with it), so
// messages published for it after a restart and before its client comes
// back are queued and delivered, not refused by the ACL and lost after
// the publisher got its PUBACK.
func TestRestoredSessionKeepsClient(t *testing.T) {
	st := NewMemoryStore()
	var mu sync.Mutex
	var seen []ClientInfo
	az := AuthorizerFunc(func(ci *ClientInfo, topic string, acc Access) bool {
		if acc == AccessWrite {
			return true
		}
		if acc == AccessRead && strings.HasPrefix(topic, "tenant/secret/") {
			mu.Lock()
			seen = append(seen, *ci)
			mu.Unlock()
		}
		return ci.Username == "bob" && ci.HasUsername && ci.Listener() == "tcp" && ci.MountPoint() == "tenant/"
	})
	opts := Options{Store: st, Authorizer: az,
		Listeners: []ListenerConfig{{Name: "tcp", Addr: "127.0.0.1:0", MountPoint: "tenant/"}}}
	start := func() (*Broker, string) {
		b, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(); err != nil {
			t.Fatal(err)
		}
		return b, b.Addr("tcp").String()
	}
	stop := func(b *Broker) {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range versions {
		b, addr := start()
		bob, _ := durableAs(t, addr, tc.v, "bob-"+tc.name, "bob")
		bob.subscribe("secret/"+tc.name+"/#", 1)
		bob.disconnect()
		stop(b)

		b, addr = start()
		mu.Lock()
		seen = nil
		mu.Unlock()
		pub := connectClient(t, addr, tc.v, "pub")
		topic := "secret/" + tc.name + "/x"
		pub.publish(topic, "after restart", 1, false)
		mu.Lock()
		if len(seen) != 1 || seen[0].Username != "bob" || seen[0].Listener() != "tcp" || seen[0].MountPoint() != "tenant/" {
			t.Errorf("%s: the restored session was authorized as %+v", tc.name, seen)
		}
		mu.Unlock()
		bob, ack := durableAs(t, addr, tc.v, "bob-"+tc.name, "bob")
		if !ack.SessionPresent {
			t.Fatalf("%s: session lost", tc.name)
		}
		bob.expectPublish(topic, "after restart")
		bob.expectNothing()
		if st := b.Stats(); st.PublishDropped != 0 || st.PublishDenied != 0 {
			t.Errorf("%s: dropped %d, denied %d", tc.name, st.PublishDropped, st.PublishDenied)
		}
		stop(b)
	}
}
