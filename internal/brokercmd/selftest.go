package brokercmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/cliutil"
	"github.com/mqkit/mqkit/internal/config"
	"github.com/mqkit/mqkit/internal/selftest"
	"github.com/mqkit/mqkit/internal/version"
)

// selftestCommand is `mqbroker selftest [URL [WS-URL]]`: a pass/fail
// conformance check of a broker, ours in process by default.
func selftestCommand() *cli.Command {
	return &cli.Command{
		Name:  "selftest",
		Usage: "check that a broker (by default an in-process mqbroker) behaves as MQTT 3.1/3.1.1/5.0 requires",
		UsageText: `mqbroker selftest [options]                 start an mqbroker in process (TCP + WebSocket) and check it
   mqbroker selftest [options] URL [WS-URL]    check the broker at URL: mqtt://HOST:PORT, mqtts://, ws://HOST:PORT/PATH, wss://
                                               (WS-URL: the same broker's ws:// or wss:// listener, for the WebSocket check)
   Every check uses its own connections and topics under mqkit-selftest/<random>/, has its own deadline
   (--timeout), and removes the retained messages and sessions it created. The sys-topics check subscribes to '#'.
   The acl/subscribe check needs the broker's ACL to hold, for the checks' client, the rules (mosquitto acl_file syntax)
     topic deny ` + selftest.ACLDenied + `
     topic readwrite #
   and --acl; the in-process broker runs with them. The causal-order check (a QoS 1 PUBLISH written right after another
   client's SUBSCRIBE must reach it; 50 tries with a fresh and 50 with a busy subscriber) is skipped with --no-causal.
   Exit status: 0 when no check failed, 1 otherwise (or when the broker cannot be reached).`,
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "timeout", Value: selftest.DefaultTimeout, Usage: "deadline of each check"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object per check (name, result, detail, duration_ms) instead of text"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print what each passing check verified, and durations"},
			&cli.StringFlag{Name: "username", Aliases: []string{"u"}, Usage: "user `NAME` for every connection"},
			&cli.StringFlag{Name: "password", Aliases: []string{"P"}, Usage: "`PASSWORD` for every connection"},
			&cli.StringFlag{Name: "cafile", Usage: "CA certificates `FILE` (PEM) that sign the server certificate (mqtts://, wss://)"},
			&cli.StringFlag{Name: "cert", Usage: "client certificate `FILE` (PEM)"},
			&cli.StringFlag{Name: "key", Usage: "client private key `FILE` (PEM)"},
			&cli.BoolFlag{Name: "insecure", Usage: "do not check that the server certificate matches the host name"},
			&cli.BoolFlag{Name: "acl", Usage: "the broker's ACL denies " + selftest.ACLDenied + " to the checks' client and grants it the rest (as the Paho test suite's ACL); without it the acl/subscribe check is skipped (the in-process broker has such an ACL)"},
			&cli.BoolFlag{Name: "no-causal", Usage: "skip the causal-order check (mosquitto 2.0.11 fails its busy-subscriber half)"},
			&cli.BoolFlag{Name: "no-color", Usage: "no colours (also: NO_COLOR set, or output not a terminal)"},
		},
		Action: runSelftest,
	}
}

func runSelftest(c *cli.Context) error {
	fail := func(format string, a ...any) error {
		return cli.Exit("mqbroker selftest: "+fmt.Sprintf(format, a...), 1)
	}
	cfg, err := selftestConfig(c)
	if err != nil {
		return fail("%v", err)
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()

	where := cfg.Endpoint.String()
	if c.NArg() == 0 {
		b, err := startSelftestBroker(&cfg)
		if err != nil {
			return fail("in-process broker: %v", err)
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = b.Shutdown(sctx)
		}()
		where = fmt.Sprintf("in-process mqbroker %s on %s and %s", version.Version, cfg.Endpoint, cfg.WebSocket)
	} else if cfg.WebSocket != nil {
		where += " and " + cfg.WebSocket.String()
	}

	r := selftest.New(cfg)
	var p *selftest.Printer
	if c.Bool("json") {
		p = selftest.NewJSONPrinter(c.App.Writer)
	} else {
		tty := false
		if f, ok := c.App.Writer.(*os.File); ok {
			tty = term.IsTerminal(int(f.Fd()))
		}
		pal := cliutil.NewPalette(cliutil.ColorEnabled(c.Bool("no-color"), os.Getenv, tty))
		p = selftest.NewTextPrinter(c.App.Writer, pal, c.Bool("verbose"))
		fmt.Fprintf(c.App.Writer, "Checking %s (topics under %s/, %s per check)\n", where, r.Prefix(), cfg.Timeout)
	}
	out, err := r.Run(ctx, p.Print)
	var ue *selftest.UnreachableError
	if errors.As(err, &ue) {
		return fail("%v", err)
	}
	s := selftest.Summarize(out)
	p.Summary(s)
	if err != nil {
		return fail("interrupted: %v", err)
	}
	if s.Failed > 0 {
		return cli.Exit("", 1)
	}
	return nil
}

// selftestConfig reads the URLs and options.
func selftestConfig(c *cli.Context) (selftest.Config, error) {
	cfg := selftest.Config{Timeout: c.Duration("timeout"), ACL: c.Bool("acl"), NoCausal: c.Bool("no-causal")}
	if cfg.Timeout <= 0 {
		return cfg, fmt.Errorf("--timeout must be positive")
	}
	args := c.Args().Slice()
	tlsSet := c.IsSet("cafile") || c.IsSet("cert") || c.IsSet("key") || c.Bool("insecure")
	switch len(args) {
	case 0:
		if tlsSet || c.IsSet("username") || c.IsSet("password") {
			return cfg, fmt.Errorf("credentials and TLS options need a URL (the in-process broker is anonymous, without TLS)")
		}
		return cfg, nil
	case 1, 2:
	default:
		return cfg, fmt.Errorf("at most two URLs: URL [WS-URL] (see --help)")
	}
	var tlsOpts *client.TLSOptions
	if tlsSet {
		tlsOpts = &client.TLSOptions{CAFile: c.String("cafile"), CertFile: c.String("cert"),
			KeyFile: c.String("key"), Insecure: c.Bool("insecure")}
	}
	usedTLS := false
	for i, raw := range args {
		t, err := cliutil.ParseURL(raw)
		if err != nil {
			return cfg, fmt.Errorf("%s: %v", raw, trimError(err))
		}
		if t.Topic != "" {
			return cfg, fmt.Errorf("%s: the URL names no topic (the checks choose their own)", raw)
		}
		if i == 1 && !t.WebSocket {
			return cfg, fmt.Errorf("%s: the second URL must be a ws:// or wss:// one", raw)
		}
		ep := client.Endpoint{Scheme: t.Scheme, Host: t.Host, Port: t.Port, Path: t.WSPath}
		if t.TLS {
			usedTLS = true
			if tlsOpts != nil {
				tc, err := tlsOpts.Config()
				if err != nil {
					return cfg, err
				}
				ep.TLS = tc
			}
		}
		if i == 0 {
			cfg.Endpoint = ep
			if t.HasUser {
				cfg.Username, cfg.HasUsername = t.Username, true
			}
			if t.HasPass {
				cfg.Password, cfg.HasPassword = []byte(t.Password), true
			}
		} else {
			cfg.WebSocket = &ep
		}
	}
	if tlsSet && !usedTLS {
		return cfg, fmt.Errorf("TLS options need an mqtts:// or wss:// URL")
	}
	if c.IsSet("username") {
		cfg.Username, cfg.HasUsername = c.String("username"), true
	}
	if c.IsSet("password") {
		cfg.Password, cfg.HasPassword = []byte(c.String("password")), true
	}
	return cfg, nil
}

// trimError drops cliutil's mosquitto-style "Error: " prefix.
func trimError(err error) string {
	s := err.Error()
	if len(s) > 7 && s[:7] == "Error: " {
		return s[7:]
	}
	return s
}

// startSelftestBroker starts an mqbroker with its defaults (as built from
// an empty configuration, anonymous access, $SYS on) on two free loopback
// ports, plain MQTT and WebSocket at /mqtt, and points cfg at them.
func startSelftestBroker(cfg *selftest.Config) (*broker.Broker, error) {
	conf := config.Default()
	var ls []*config.Listener
	for _, u := range []string{"mqtt://127.0.0.1:0", "ws://127.0.0.1:0/mqtt"} {
		l, _, err := parseListenURL(u)
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
	}
	conf.AddListeners(ls...)
	// The selftest ACL (selftest.ACLRules), so that acl/subscribe runs.
	f, err := os.CreateTemp("", "mqbroker-selftest-acl-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name()) // read once, by buildPlan
	_, err = f.WriteString(selftest.ACLRules)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	for _, s := range conf.Scopes() {
		s.AllowAnonymous, s.AllowAnonymousSet = true, true
		s.ACLFile = f.Name()
	}
	cfg.ACL = true
	p, err := buildPlan(conf, nil, slog.New(slog.DiscardHandler), false)
	if err != nil {
		return nil, err
	}
	b, err := broker.New(p.opts)
	if err != nil {
		return nil, err
	}
	if err := b.Start(); err != nil {
		return nil, err
	}
	tcp, ws := b.Addr(p.names[0]), b.Addr(p.names[1])
	cfg.Endpoint = client.Endpoint{Scheme: "mqtt", Host: "127.0.0.1", Port: portOf(tcp)}
	cfg.WebSocket = &client.Endpoint{Scheme: "ws", Host: "127.0.0.1", Port: portOf(ws), Path: "/mqtt"}
	return b, nil
}

func portOf(a net.Addr) int {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.Port
	}
	return 0
}
