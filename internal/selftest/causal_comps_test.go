package selftest

import (
	"testing"
	"time"
)

// TestAwaitCompAfterABurst: the PUBCOMPs of many tries arriving at once
// (A's acks held up by a lost TCP segment) do not crowd out the one a try
// waits for; an id never received still times out.
func TestAwaitCompAfterABurst(t *testing.T) {
	c := &rawClient{comps: newCompSet()}
	for pid := uint16(10); pid < 60; pid++ { // 50 tries' PUBCOMPs, the last one awaited
		c.comps.add(pid)
	}
	if err := c.awaitComp(59, time.Second); err != nil {
		t.Fatalf("after a burst of 50: %v", err)
	}
	if err := c.awaitComp(59, 10*time.Millisecond); err == nil {
		t.Error("the same PUBCOMP counted twice")
	}
	c.dropComps()
	if err := c.awaitComp(30, 10*time.Millisecond); err == nil {
		t.Error("an earlier try's PUBCOMP still there after dropComps")
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		c.comps.add(61)
	}()
	if err := c.awaitComp(61, 5*time.Second); err != nil {
		t.Fatalf("a PUBCOMP arriving while waiting: %v", err)
	}
}
