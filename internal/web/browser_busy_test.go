package web

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// TestBrowserBusy: the view copes with 100,000 topics (a branch lists
// 200 children, "more" the next 200) and with a 10,000 msg/s stream: the
// page keeps answering while it runs, and its counts catch up (the page
// samples the tree once a second, it is never sent the messages).
func TestBrowserBusy(t *testing.T) {
	p := browserPage{t: t, ctx: browser(t)}
	e := newEnv(t, broker.Options{}, Options{})
	const many = 100_000
	for i := range many {
		if _, err := e.b.Publish(fmt.Sprintf("big/%06d", i), []byte("v"), 0, false); err != nil {
			t.Fatal(err)
		}
	}
	p.do(chromedp.Navigate(e.base+"/"), chromedp.WaitReady(chromedp.ID("tree")))
	p.click(`.row[data-topic="big"]`)
	p.wait(`#tree li.more`)
	rows := func() int {
		t.Helper()
		n, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`document.querySelectorAll('.row[data-topic^="big/"]').length`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := rows(); n != 200 {
		t.Errorf("%d rows of 100,000 topics rendered, want 200", n)
	}
	if got := p.text(`#tree li.more`); !strings.Contains(got, "99800 more") {
		t.Errorf("more: %q", got)
	}
	p.click(`#tree li.more`)
	p.do(chromedp.WaitVisible(chromedp.CSS(`.row[data-topic="big/000399"]`)))
	if n := rows(); n != 400 {
		t.Errorf("%d rows after more, want 400", n)
	}

	// While the tree refreshes (once a second during the stream below),
	// the open branch keeps its 400 rows: the page changes a list only
	// once its open branches are rendered. A MutationObserver records the
	// fewest rows the branch ever had in the DOM (CI once read 0 here,
	// between a refresh's new root and its children).
	//
	// And a refresh writes only what changed (issue 15: a browser on the
	// broker's machine draws little): the rows stay the same elements,
	// only their text changes, so no element leaves the tree during the
	// stream (a refresh that rebuilt the tree removed 400 each second).
	if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`window.bigRows = []; window.removed = [];
		window.firstRow = document.querySelector('.row[data-topic="big/000000"]');
		new MutationObserver((ms) => {
			window.bigRows.push(document.querySelectorAll('.row[data-topic^="big/"]').length);
			for (const m of ms) for (const n of m.removedNodes) if (n.nodeType === Node.ELEMENT_NODE) window.removed.push(n.outerHTML.slice(0, 80));
		}).observe(document.getElementById("tree"), {childList: true, subtree: true}); true`)); err != nil {
		t.Fatal(err)
	}

	// 10,000 msg/s for 3 s over 100 topics: 100 QoS 0 messages every
	// 10 ms.
	const rate, secs = 10_000, 3
	nc := rawConnectT(t, e.mqtt, "busy-pub")
	var batch []byte
	for i := range 100 {
		batch, _ = mqtt.Append(batch, &mqtt.Publish{Topic: fmt.Sprintf("busy/%02d", i), Payload: []byte("12.5")}, mqtt.V311)
	}
	done := make(chan error, 1)
	go func() {
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for range rate * secs / 100 {
			<-tk.C
			if _, err := nc.Write(batch); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	// The page answers while the stream runs.
	var slowest time.Duration
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running = false
		case <-time.After(200 * time.Millisecond):
			start := time.Now()
			if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`document.querySelectorAll(".row").length`)); err != nil {
				t.Fatal(err)
			}
			slowest = max(slowest, time.Since(start))
		}
	}
	t.Logf("slowest page answer during the stream: %v", slowest)
	if slowest > 2*time.Second && !raceEnabled {
		t.Errorf("the page took %v to answer during a 10,000 msg/s stream", slowest)
	}
	// Every message is counted, and the page shows it within seconds.
	want := fmt.Sprintf("%d msgs", rate*secs)
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[bool](fmt.Sprintf(
		`(document.querySelector('.row[data-topic="busy"] .count') || {}).textContent === %q`, want))); err != nil {
		t.Errorf("busy branch never showed %q: %v (shows %q)", want, err, p.text(`.row[data-topic="busy"] .count`))
	}
	seen, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]int](`window.bigRows`))
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) == 0 {
		t.Fatal("the tree never changed during the stream: no refresh to check")
	}
	for _, n := range seen {
		if n != 400 {
			t.Fatalf("the open branch had %d rows during a refresh, want 400 throughout (%d changes seen)", n, len(seen))
		}
	}
	removed, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]string](`window.removed`))
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) > 0 {
		t.Errorf("%d elements left the tree during the stream, want none (rows are updated in place); first: %q", len(removed), removed[0])
	}
	same, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`window.firstRow === document.querySelector('.row[data-topic="big/000000"]')`))
	if err != nil {
		t.Fatal(err)
	}
	if !same {
		t.Error("the row of big/000000 was replaced by a refresh, want the same element")
	}

	// Closing the branch drops its rows: the page keeps no record of
	// rows it no longer shows (100,000 topics browsed stay bounded).
	p.click(`.row[data-topic="big"]`)
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[bool](`!document.querySelector('.row[data-topic^="big/"]') && rows.size === document.querySelectorAll('.row').length`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		n, _ := chromedp.Run(p.ctx, chromedp.Evaluate[int](`rows.size`))
		t.Errorf("the page keeps %d rows after the branch closed, want only those shown: %v", n, err)
	}
	if n := rows(); n != 0 {
		t.Errorf("%d rows of the closed branch still shown", n)
	}
}

// rawConnectT dials addr and connects as a 3.1.1 client with this id.
func rawConnectT(t *testing.T, addr, id string) net.Conn {
	t.Helper()
	c, _ := connect(t, addr, &mqtt.Connect{ClientID: id, CleanStart: true, Version: mqtt.V311})
	return c.nc
}

// TestBrowserRootFromStream: with no branch open, the page redraws the
// tree from the live stream's ticks, which carry the root listing: new
// topics and counts appear without a request of the page's own after its
// first (in a browser a fetch a second cost more than the redraw; issue
// 15, a browser on the broker's machine).
func TestBrowserRootFromStream(t *testing.T) {
	p := browserPage{t: t, ctx: browser(t)}
	e := newEnv(t, broker.Options{}, Options{})
	p.do(chromedp.Navigate(e.base+"/"), chromedp.WaitReady(chromedp.ID("tree")))
	pub := rawConnectT(t, e.mqtt, "root-pub")
	publish := func(topic string) {
		t.Helper()
		b, _ := mqtt.Append(nil, &mqtt.Publish{Topic: topic, Payload: []byte("1")}, mqtt.V311)
		if _, err := pub.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	publish("first")
	p.wait(`.row[data-topic="first"]`)
	publish("second")
	publish("first")
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[bool](
		`(document.querySelector('.row[data-topic="first"] .count') || {}).textContent === "2 msgs" && !!document.querySelector('.row[data-topic="second"]')`,
		chromedp.WithPollingTimeout(testTimeout))); err != nil {
		t.Fatalf("the tree never showed second and 2 messages on first: %v", err)
	}
	fetches, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](
		`performance.getEntriesByType("resource").filter((r) => r.name.includes("/api/topics")).length`))
	if err != nil {
		t.Fatal(err)
	}
	if fetches != 1 {
		t.Errorf("the page fetched /api/topics %d times, want once (at the start; then the ticks carry the root)", fetches)
	}
}
