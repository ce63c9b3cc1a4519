package web

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/clicmd"
	"github.com/mqkit/mqkit/internal/mqtt"
	"github.com/mqkit/mqkit/internal/testtool"
)

// browser starts headless Chromium (Debian's chromium package) and
// returns a chromedp context; the test skips without it (fails under
// CI=true).
func browser(t *testing.T) context.Context {
	t.Helper()
	path := testtool.Require(t, "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 800),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelT(); cancelB(); cancelA() })
	// The first call starts the browser, with the test's context: a
	// step's shorter one would stop it when the step ends.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx
}

// mqpub runs mqpub in process against addr.
func mqpub(t *testing.T, addr string, args ...string) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	var out, errOut bytes.Buffer
	app := clicmd.NewPubApp(strings.NewReader(""), &out, &errOut)
	argv := append([]string{"mqpub", "--no-config", "-h", host, "-p", port}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if code := clicmd.Run(ctx, app, argv); code != 0 {
		t.Fatalf("mqpub %v: exit %d: %s%s", args, code, out.String(), errOut.String())
	}
}

// browserPage wraps the chromedp calls of a test: each fails the test on error.
type browserPage struct {
	t   *testing.T
	ctx context.Context
}

func (p browserPage) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := p.step()
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%v; page text:\n%s", err, p.dump())
	}
}

// dump returns the page's text (for failures).
func (p browserPage) dump() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		return err.Error()
	}
	return s
}

// step bounds one step (the browser lives on after it).
func (p browserPage) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(p.ctx, 15*time.Second)
}

func (p browserPage) text(sel string) string {
	p.t.Helper()
	ctx, cancel := p.step()
	defer cancel()
	// One evaluation finds the node and reads it: the page re-renders its
	// lists every second, and a node looked up first and read after may
	// be gone by then (CI: "No node with given id found").
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? e.innerText : null })()`, sel)
	v, err := chromedp.Run(ctx, chromedp.Poll[string](js))
	if err != nil {
		p.t.Fatalf("text of %s: %v", sel, err)
	}
	return v
}

func (p browserPage) click(sel string) { p.t.Helper(); p.do(chromedp.Click(chromedp.CSS(sel))) }
func (p browserPage) wait(sel string)  { p.t.Helper(); p.do(chromedp.WaitVisible(chromedp.CSS(sel))) }

// shot saves a screenshot to $MQKIT_SCREENSHOTS/name.png when that
// variable is set (how the README's screenshots are made).
func (p browserPage) shot(name string) {
	p.t.Helper()
	dir := os.Getenv("MQKIT_SCREENSHOTS")
	if dir == "" {
		return
	}
	p.do(chromedp.Sleep(300 * time.Millisecond))
	png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// TestBrowserView drives the web view in headless Chromium: a message
// published with mqpub appears in the topic tree with its retained
// marker, its payload shows as text, JSON and hex (and HTML in a payload
// stays text), the client list shows a client, and the flow view of a
// client shows its QoS 2 exchange and, after an abrupt close, its will,
// then its DISCONNECT with the reason code.
func TestBrowserView(t *testing.T) {
	p := browserPage{t: t, ctx: browser(t)}
	e := newEnv(t, broker.Options{}, Options{AllowPublish: true})
	viewer, _ := connect(t, e.mqtt, &mqtt.Connect{ClientID: "viewer", CleanStart: true, KeepAlive: 60})
	viewer.subscribe("tut/#", 1)
	p.do(chromedp.Navigate(e.base+"/"), chromedp.WaitReady(chromedp.ID("tree")))
	mqpub(t, e.mqtt, "-t", "tut/room1/temp", "-m", `{"celsius":21.5,"sensor":"a1"}`, "-r", "-q", "1")
	mqpub(t, e.mqtt, "-t", "tut/room1/html", "-m", `<img src=x onerror="document.title='pwned'">`)
	mqpub(t, e.mqtt, "-t", "tut/room2/temp", "-m", "19.0")

	// The tree refreshes on the next tick (at most a second).
	p.click(`.row[data-topic="tut"]`)
	p.click(`.row[data-topic="tut/room1"]`)
	if m := p.text(`.row[data-topic="tut/room1/temp"] .retained`); m != "R" {
		t.Errorf("retained marker %q", m)
	}
	if p.text(`.row[data-topic="tut/room1/temp"] .count`) != "1 msgs" {
		t.Errorf("count %q", p.text(`.row[data-topic="tut/room1/temp"] .count`))
	}
	p.click(`.row[data-topic="tut/room1/temp"]`)
	p.wait(`#payload`)
	if got := p.text("#payload"); got != `{"celsius":21.5,"sensor":"a1"}` {
		t.Errorf("text view: %q", got)
	}
	p.click(`#detail button[data-view="json"]`)
	p.wait(`#detail button[data-view="json"].active`)
	if got := p.text("#payload"); !strings.Contains(got, `"celsius": 21.5`) {
		t.Errorf("JSON view: %q", got)
	}
	p.shot("web-topics")
	p.click(`#detail button[data-view="hex"]`)
	p.wait(`#detail button[data-view="hex"].active`)
	if got := p.text("#payload"); !strings.HasPrefix(got, "00000000  7b 22 63 65") {
		t.Errorf("hex view: %q", got)
	}
	p.click(`#detail button[data-view="text"]`)
	p.click(`.row[data-topic="tut/room1/html"]`)
	p.wait(`.row.sel[data-topic="tut/room1/html"]`)
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[bool](`document.getElementById("payload").textContent.startsWith("<img")`)); err != nil {
		t.Fatal(err)
	}
	imgs, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`document.querySelectorAll("img").length`))
	if err != nil {
		t.Fatal(err)
	}
	title, _ := chromedp.Run(p.ctx, chromedp.Title())
	if imgs != 0 || title == "pwned" {
		t.Errorf("a payload was rendered as HTML: %d img elements, title %q", imgs, title)
	}

	// The client list.
	p.click(`nav button[data-tab="clients"]`)
	row := p.text(`#clients tr[data-client="viewer"]`)
	if !strings.Contains(row, "tut/# (1)") || !strings.Contains(row, "5.0") || !strings.Contains(row, "60 s") {
		t.Errorf("client row %q", row)
	}
	p.shot("web-clients")

	// The flow view of a client, watched before it connects.
	p.click(`nav button[data-tab="flow"]`)
	p.do(chromedp.SendKeys(chromedp.ID("flow-client"), "sensor-7"))
	p.click("#flow-watch")
	p.wait(`#flow-state[data-watching="sensor-7"]`)
	c, _ := connect(t, e.mqtt, &mqtt.Connect{ClientID: "sensor-7", CleanStart: true, KeepAlive: 30,
		Will: &mqtt.Will{Topic: "tut/sensor-7/status", Payload: []byte("offline"), QoS: 1, Retain: true}})
	c.publish("tut/sensor-7/reading", "42", 2, false, 1)
	c.nc.Close() // abrupt: the will is published
	p.wait(`#flow li[data-packet="WILL"]`)
	flow := p.text("#flow")
	for _, w := range []string{"CONNECT", "CONNACK", "PUBLISH (id 1, QoS 2) tut/sensor-7/reading", "PUBREC (id 1)",
		"PUBREL (id 1)", "PUBCOMP (id 1)", "connection closed: connection closed by peer",
		"will published: WILL (QoS 1, retain) tut/sensor-7/status"} {
		if !strings.Contains(flow, w) {
			t.Errorf("flow view lacks %q:\n%s", w, flow)
		}
	}
	if i1, i2 := strings.Index(flow, "PUBREC"), strings.Index(flow, "PUBCOMP"); i1 < 0 || i2 < i1 {
		t.Errorf("PUBREC does not come before PUBCOMP:\n%s", flow)
	}
	// Back, then a normal DISCONNECT: shown with its reason code, 0x00
	// too.
	c, _ = connect(t, e.mqtt, &mqtt.Connect{ClientID: "sensor-7", CleanStart: true})
	c.send(&mqtt.Disconnect{Code: mqtt.Success})
	p.wait(`#flow li[data-packet="DISCONNECT"]`)
	if flow := p.text("#flow"); !strings.Contains(flow, "DISCONNECT (rc 0x00)") || !strings.Contains(flow, "normal disconnection") {
		t.Errorf("flow view lacks the client's DISCONNECT with its reason code:\n%s", flow)
	}
	p.shot("web-flow")
	if os.Getenv("MQKIT_SCREENSHOTS") != "" {
		for i := range 20 { // some traffic for the charts
			mqpub(t, e.mqtt, "-t", "tut/room2/temp", "-m", "19."+itoa(i%10))
			time.Sleep(150 * time.Millisecond)
		}
		p.click(`nav button[data-tab="charts"]`)
		p.do(chromedp.Sleep(1500 * time.Millisecond))
		p.shot("web-charts")
	}
}
