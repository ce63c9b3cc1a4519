package broker

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Issue 12 item 4: the codec decodes strings without copying them, so a
// string that outlives its packet keeps the whole packet alive (payload,
// password...). These tests replay the sequences with 1 MiB
// packets and check that the live heap afterwards does not hold them:
// each sequence would pin n MiB; the bound is a third of that.

// liveHeap returns the live heap after full collections (sync.Pools are
// emptied by the second one).
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

const pinN = 24 // packets of 1 MiB per sequence

func checkNotPinned(t *testing.T, what string, before int64) {
	t.Helper()
	grown := liveHeap() - before
	t.Logf("%s: live heap +%.1f MiB after %d packets of 1 MiB", what, float64(grown)/(1<<20), pinN)
	if grown > pinN<<20/3 {
		t.Errorf("%s: live heap grew by %.1f MiB: packets are kept alive", what, float64(grown)/(1<<20))
	}
}

func TestOutboundAliasesDoNotPin(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	sub := dial(t, addr, mqtt.V5)
	cp := connectPacket(mqtt.V5, "alias-sub", true)
	cp.Props.SetTopicAliasMaximum(65535)
	sub.connect(cp)
	sub.subscribe("big/#", 0)
	pub := connectClient(t, addr, mqtt.V5, "alias-pub")
	payload := bytes.Repeat([]byte("x"), 1<<20)
	before := liveHeap()
	for i := 0; i < pinN; i++ {
		// QoS 1: the PUBACK comes once the message is queued for sub.
		pub.publish(fmt.Sprintf("big/%d", i), string(payload), 1, false)
		p := expect[*mqtt.Publish](sub)
		if !p.Props.Has(mqtt.PropTopicAlias) || len(p.Payload) != 1<<20 {
			t.Fatalf("got %s", mqtt.Describe(p))
		}
	}
	sub.roundTrip()
	checkNotPinned(t, "outbound topic aliases", before)
}

func TestInboundAliasesDoNotPin(t *testing.T) {
	_, addr := newTestBroker(t, Options{MaxTopicAlias: 1000})
	pub := connectClient(t, addr, mqtt.V5, "alias-pub")
	payload := bytes.Repeat([]byte("x"), 1<<20)
	before := liveHeap()
	for i := 0; i < pinN; i++ {
		p := &mqtt.Publish{Topic: fmt.Sprintf("in/%d", i), Payload: payload, QoS: 1}
		p.Props.SetTopicAlias(uint16(i + 1))
		pub.publishPacket(p)
	}
	checkNotPinned(t, "inbound topic aliases", before)
	// The aliases still work.
	sub := connectClient(t, addr, mqtt.V5, "alias-sub")
	sub.subscribe("in/3", 0)
	p := &mqtt.Publish{QoS: 0, Payload: []byte("by alias")}
	p.Props.SetTopicAlias(4)
	pub.publishPacket(p)
	sub.expectPublish("in/3", "by alias")
}

func TestRetainedOverwriteDoesNotPin(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	pub := connectClient(t, addr, mqtt.V311, "ret-pub")
	payload := string(bytes.Repeat([]byte("x"), 1<<20))
	before := liveHeap()
	for i := 0; i < pinN; i++ {
		pub.publish(fmt.Sprintf("ret/%d/a/b", i), payload, 1, true)
	}
	for i := 0; i < pinN; i++ {
		pub.publish(fmt.Sprintf("ret/%d/a/b", i), "1", 1, true) // the big one is replaced
	}
	checkNotPinned(t, "retained messages overwritten", before)
	sub := connectClient(t, addr, mqtt.V311, "ret-sub")
	sub.subscribe("ret/7/#", 0)
	sub.expectPublish("ret/7/a/b", "1")
}

// TestKeptConnectStringsDoNotPin: a durable session keeps its client id,
// user name and will; none may keep the CONNECT (here 1 MiB of user
// properties, and the password).
func TestKeptConnectStringsDoNotPin(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	big := strings.Repeat("p", 60000)
	before := liveHeap()
	for i := 0; i < pinN; i++ {
		cp := connectPacket(mqtt.V5, fmt.Sprintf("durable-%d", i), true)
		cp.Props.SetSessionExpiry(3600)
		cp.HasUsername, cp.Username, cp.HasPassword, cp.Password = true, "user", true, []byte("secret")
		for k := 0; k < 17; k++ { // about 1 MiB of CONNECT
			cp.Props.User = append(cp.Props.User, mqtt.UserProperty{Key: "k", Value: big})
		}
		cp.Will = &mqtt.Will{Topic: "will/t", Payload: []byte("w")}
		cp.Will.Props.SetWillDelay(3600)
		c, _ := mustConnect(t, addr, cp)
		c.send(&mqtt.Disconnect{Code: mqtt.DisconnectWithWill}) // the delayed will stays
		c.expectClosed()
	}
	checkNotPinned(t, "client ids, user names and wills", before)
}

// TestKeptFiltersDoNotPin: a SUBSCRIBE larger than the codec's scratch
// buffer is decoded without copying its strings; the subscription keeps a
// copy of its filter.
func TestKeptFiltersDoNotPin(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	c := connectClient(t, addr, mqtt.V5, "filters")
	big := strings.Repeat("p", 60000)
	before := liveHeap()
	for i := 0; i < pinN; i++ {
		p := &mqtt.Subscribe{PacketID: uint16(i + 1), Subscriptions: []mqtt.Subscription{{Filter: fmt.Sprintf("f/%d/#", i)}}}
		for k := 0; k < 17; k++ {
			p.Props.User = append(p.Props.User, mqtt.UserProperty{Key: "k", Value: big})
		}
		c.send(p)
		expect[*mqtt.Suback](c)
	}
	checkNotPinned(t, "subscription filters", before)
}
