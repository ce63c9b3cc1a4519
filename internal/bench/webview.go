package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// WebViewStats counts what FollowWebView did.
type WebViewStats struct {
	Ticks    int // "tick" events of /api/live
	Roots    int // root branch listings the ticks carried
	Branches int // fetches of the topic tree's root branch (/api/topics)
}

// FollowWebView makes the requests mqbroker's web view page makes in its
// default state (the Topics tab, no branch open, no topic selected;
// internal/web/static/app.js): the page and its files, /api/info and
// /api/history and the root branch of the topic tree
// (/api/topics?limit=200) once, then the /api/live?limit=200 stream, whose
// ticks carry the root branch when the tree's generation changed (the
// page redraws it from the tick, as refreshTree does; a tick without it
// after a change would make the page fetch it). It is the broker's work
// of serving an open page without a browser's rendering, so that
// scripts/bench-web.sh can tell the two apart. It returns when ctx ends
// (nil) or the stream fails; tick, if not nil, is called after each
// tick's requests.
func FollowWebView(ctx context.Context, base string, tick func(WebViewStats)) (WebViewStats, error) {
	var st WebViewStats
	base = strings.TrimRight(base, "/")
	get := func(path string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return nil
	}
	for _, p := range []string{"/", "/app.css", "/app.js", "/api/info", "/api/history", "/api/topics?limit=200"} {
		if err := get(p); err != nil {
			return st, ignoreDone(ctx, err)
		}
	}
	st.Branches++
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/live?limit=200", nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, ignoreDone(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET /api/live: %s", resp.Status)
	}
	gen := int64(-1)
	event := ""
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "tick":
			var d struct {
				Gen  int64           `json:"gen"`
				Root json.RawMessage `json:"root"`
			}
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &d); err != nil {
				return st, fmt.Errorf("/api/live tick: %w", err)
			}
			st.Ticks++
			if d.Gen != gen {
				gen = d.Gen
				if d.Root != nil {
					st.Roots++
				} else {
					if err := get("/api/topics?limit=200"); err != nil {
						return st, ignoreDone(ctx, err)
					}
					st.Branches++
				}
			}
			if tick != nil {
				tick(st)
			}
		case line == "":
			event = ""
		}
	}
	if err := sc.Err(); err != nil {
		return st, ignoreDone(ctx, err)
	}
	return st, ignoreDone(ctx, fmt.Errorf("/api/live ended"))
}

func ignoreDone(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}
