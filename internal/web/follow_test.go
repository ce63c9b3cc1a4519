package web

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/bench"
	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// TestFollowWebView: bench.FollowWebView (mqbench webview, bench-web.sh's
// "requests" variant) makes the page's requests against this server: one
// tick a second, which carries the root branch of the tree when the
// tree's generation changed (messages arrived), as app.js's refreshTree
// uses it.
func TestFollowWebView(t *testing.T) {
	// The page still asks for what the follower asks for.
	js, err := staticFS.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`new EventSource("/api/live?limit=" + rootState.limit)`, `"/api/topics?"`, `rootState = { levels: [], limit: 200 }`, `d.gen !== treeGen`, `refreshTree(d.root)`} {
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
	// The root is fetched once at the start; the first tick carries it
	// too, and no tick without messages does.
	first := next()
	if first.Branches != 1 || first.Roots != 1 {
		t.Fatalf("first tick: %+v, want one fetch and one root from the stream", first)
	}
	var st bench.WebViewStats
	for range 2 {
		st = next()
	}
	if st.Branches != 1 || st.Roots != 1 {
		t.Fatalf("three ticks without messages: %+v, want the root once from each source", st)
	}
	// A message: a later tick carries the root again, and the follower
	// (as the page) fetches nothing.
	c, _ := connect(t, e.mqtt, &mqtt.Connect{ClientID: "pub", CleanStart: true})
	c.publish("follow/me", "x", 0, false, 0)
	for deadline := time.Now().Add(testTimeout); st.Roots == 1; {
		if time.Now().After(deadline) {
			t.Fatalf("a message arrived but no tick carried the root again: %+v", st)
		}
		st = next()
	}
	if st.Branches != 1 {
		t.Errorf("after a message: %+v, want no fetch (the tick carries the root)", st)
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

// TestLiveCarriesRoot: a /api/live tick carries the topic tree's root
// branch, as GET /api/topics lists it with the stream's limit, when the
// tree's generation changed since the stream's previous tick, and only
// then.
func TestLiveCarriesRoot(t *testing.T) {
	e := newEnv(t, broker.Options{}, Options{})
	for _, topic := range []string{"a/x", "b", "c"} {
		if _, err := e.b.Publish(topic, []byte("v"), 0, false); err != nil {
			t.Fatal(err)
		}
	}
	s := openStream(t, e.base+"/api/live?limit=2")
	if ev, _ := s.next(); ev != "hello" {
		t.Fatalf("first event %q", ev)
	}
	type tick struct {
		Gen  int64           `json:"gen"`
		Root json.RawMessage `json:"root"`
	}
	nextTick := func() (tk tick) {
		t.Helper()
		s.nextOf("tick", &tk)
		return tk
	}
	tk := nextTick()
	if tk.Root == nil {
		t.Fatal("the first tick carries no root")
	}
	var root struct {
		Children []struct {
			Name string `json:"name"`
		} `json:"children"`
		Total, Limit, Topics int
	}
	if err := json.Unmarshal(tk.Root, &root); err != nil {
		t.Fatal(err)
	}
	if root.Total != 3 || root.Limit != 2 || root.Topics != 3 || len(root.Children) != 2 || root.Children[0].Name != "a" || root.Children[1].Name != "b" {
		t.Errorf("root %s, want a and b of 3, limit 2", tk.Root)
	}
	// As /api/topics answers.
	_, body := e.get(t, "/api/topics?limit=2")
	var listed struct {
		Children json.RawMessage `json:"children"`
	}
	var carried struct {
		Children json.RawMessage `json:"children"`
	}
	if err := json.Unmarshal([]byte(body), &listed); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(tk.Root, &carried); err != nil {
		t.Fatal(err)
	}
	if string(listed.Children) != string(carried.Children) {
		t.Errorf("tick's root %s, /api/topics %s", carried.Children, listed.Children)
	}
	// Ticks: a root exactly when the generation changed.
	sawSame, sawChange := false, false // without, and after, a message
	for i := 0; i < 4 || !sawSame || !sawChange; i++ {
		if i == 10 {
			t.Fatalf("10 ticks: a tick without a change %v, a change after a message %v", sawSame, sawChange)
		}
		prev := tk.Gen
		tk = nextTick()
		if changed := tk.Gen != prev; changed != (tk.Root != nil) {
			t.Fatalf("tick %d: generation %d after %d, root %s", i, tk.Gen, prev, tk.Root)
		}
		sawSame = sawSame || tk.Gen == prev
		sawChange = sawChange || (i >= 2 && tk.Gen != prev)
		if i == 1 {
			if _, err := e.b.Publish("b", []byte("w"), 0, false); err != nil {
				t.Fatal(err)
			}
		}
	}
}
