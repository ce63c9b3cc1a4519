package clicmd

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client/clienttest"
)

// mqpub with a host list (-h and -L): the first broker refuses, the
// second one gets the message.
func TestPubHostListInOrder(t *testing.T) {
	dead := strconv.Itoa(clienttest.FreePort(t))
	b := clienttest.StartBroker(t, broker.Options{})
	live := b.Addr("tcp").String()
	for _, args := range [][]string{
		{"-h", "127.0.0.1:" + dead + "," + live, "-t", "hl/a"},
		{"-L", "mqtt://127.0.0.1:" + dead + "," + live + "/hl/a"},
	} {
		tl := &tool{name: "mqsub"}
		subscribed := tl.out.when("Subscribed (mid:")
		done := make(chan result, 1)
		go func() { done <- tl.run(testCtx(t), "-L", "mqtt://"+live+"/hl/#", "-v", "-d", "-C", "1", "-W", "10") }()
		waitFor(t, subscribed, done, tl, "SUBACK")
		r := pub(t, append(args, "-m", "one", "-q", "1")...)
		if r.code != 0 || !strings.Contains(r.stderr, "Warning: cannot connect to 127.0.0.1:"+dead) {
			t.Fatalf("mqpub %q: exit %d, stderr %q", args, r.code, r.stderr)
		}
		select {
		case r := <-done:
			if r.code != 0 || !strings.Contains(r.stdout, "hl/a one") {
				t.Fatalf("mqsub: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("mqsub did not get the message")
		}
	}
}

// mqsub with a host list: connected to the first broker; when it goes
// away mqsub reconnects to the next one (not waiting for the first) and
// subscribes there; -C counts across both.
func TestSubHostListFailover(t *testing.T) {
	withReconnectDelay(t, 20*time.Millisecond)
	a := clienttest.StartBroker(t, broker.Options{})
	b := clienttest.StartBroker(t, broker.Options{})
	aa, ba := a.Addr("tcp").String(), b.Addr("tcp").String()
	tl := &tool{name: "mqsub"}
	subscribed := tl.out.when("Subscribed (mid:")
	done := make(chan result, 1)
	go func() {
		done <- tl.run(testCtx(t), "-h", aa+","+ba, "-d", "-t", "fo/t", "-q", "1", "-C", "2", "-W", "15")
	}()
	waitFor(t, subscribed, done, tl, "first SUBACK")
	got := tl.out.when("one")
	mustPub(t, splitAddr(t, aa).args("-t", "fo/t", "-m", "one", "-q", "1")...)
	waitFor(t, got, done, tl, "first message")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// Retained: it arrives whenever mqsub has subscribed on b.
	mustPub(t, splitAddr(t, ba).args("-t", "fo/t", "-m", "two", "-q", "1", "-r")...)
	var r result
	select {
	case r = <-done:
	case <-time.After(15 * time.Second):
		t.Fatalf("mqsub did not finish:\n%s\n%s", tl.out.String(), tl.errb.String())
	}
	if r.code != 0 || messages(r.stdout) != "one\ntwo\n" {
		t.Fatalf("exit %d, messages %q, want 0 and one, two\nstderr: %s", r.code, messages(r.stdout), r.stderr)
	}
}
