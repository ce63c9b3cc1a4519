package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/bench"
)

// webviewMax bounds a webview run without --duration.
const webviewMax = time.Hour

// webviewAction: mqbench webview URL makes the requests of an open web
// view page (bench.FollowWebView) until --duration, SIGINT or SIGTERM,
// then prints what it did. scripts/bench-web.sh runs it as its
// "requests" variant: the broker's work of serving a page, without a
// browser's rendering.
func webviewAction(c *cli.Context, args []string) error {
	if len(args) != 1 {
		return cli.Exit("webview: give the web view's URL (http://127.0.0.1:PORT)", exitError)
	}
	u, err := url.Parse(args[0])
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cli.Exit(fmt.Sprintf("webview: %q is not an http:// or https:// URL", args[0]), exitError)
	}
	hostport := u.Host
	if u.Port() == "" {
		hostport = net.JoinHostPort(u.Hostname(), "80")
	}
	if err := bench.CheckLoopback(hostport, c.Bool(flagAllowRemote)); err != nil {
		return cli.Exit("webview: "+err.Error(), exitError)
	}
	d := c.Duration(flagDuration)
	if d <= 0 {
		d = webviewMax
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	st, err := bench.FollowWebView(ctx, u.String(), nil)
	if err != nil {
		return cli.Exit("webview: "+err.Error(), exitError)
	}
	if c.Bool(flagJSON) {
		return json.NewEncoder(c.App.Writer).Encode(map[string]int{"ticks": st.Ticks, "roots": st.Roots, "branches": st.Branches})
	}
	fmt.Fprintf(c.App.Writer, "webview: %d ticks (%d with the topic tree's root), %d fetches of the tree\n", st.Ticks, st.Roots, st.Branches)
	return nil
}
