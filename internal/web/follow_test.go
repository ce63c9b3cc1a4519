package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/bench"
	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// TestFollowWebView: bench.FollowWebView (mqbench webview, bench-web.sh's
// "requests" variant) makes the page's requests against this server: one
// tick a second, and the root branch of the tree again only when the
// tree's generation changed (messages arrived), as app.js's refreshTree.
func TestFollowWebView(t *testing.T) {
	// The page still asks for what the follower asks for.
	js, err := staticFS.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`new EventSource("/api/live")`, `"/api/topics?"`, `rootState = { levels: [], limit: 200 }`, `d.gen !== treeGen`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("app.js no longer has %s: bench.FollowWebView follows the page's old requests", want)
		}
	}

	e := newEnv(t, broker.Options{}, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stats := make(chan bench.WebViewStats, 100)
	done := make(chan error, 1)
	go func() {
		_, err := bench.FollowWebView(ctx, e.base, func(st bench.WebViewStats) { stats <- st })
		done <- err
	}()
	next := func() bench.WebViewStats {
		t.Helper()
		select {
		case st := <-stats:
			return st
		case err := <-done:
			t.Fatalf("FollowWebView ended: %v", err)
		case <-time.After(testTimeout):
			t.Fatal("no tick")
		}
		return bench.WebViewStats{}
	}
	// No messages: after the first tick, the tree is not fetched again.
	first := next()
	if first.Branches != 1 {
		t.Fatalf("first tick: %+v, want one branch fetch", first)
	}
	var st bench.WebViewStats
	for range 2 {
		st = next()
	}
	if st.Branches != 1 {
		t.Fatalf("three ticks without messages: %+v, want the branch fetched once", st)
	}
	// A message: a later tick fetches the branch again.
	c, _ := connect(t, e.mqtt, &mqtt.Connect{ClientID: "pub", CleanStart: true})
	c.publish("follow/me", "x", 0, false, 0)
	for deadline := time.Now().Add(testTimeout); st.Branches == 1; {
		if time.Now().After(deadline) {
			t.Fatalf("a message arrived but no tick fetched the branch again: %+v", st)
		}
		st = next()
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("FollowWebView after cancel: %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("FollowWebView did not return after cancel")
	}
}
