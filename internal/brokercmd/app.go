// Package brokercmd is the mqbroker command line: it reads a mosquitto.conf
// style configuration, builds the broker, and runs it until a signal.
package brokercmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/bridge"
	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/config"
	"github.com/mqkit/mqkit/internal/store"
	"github.com/mqkit/mqkit/internal/version"
)

const examples = `EXAMPLES:
   mqbroker                          listen on 127.0.0.1:1883, anonymous, in memory
   mqbroker -p 1884 -v               another port, log every packet (like mosquitto -v)
   mqbroker --listen mqtt://0.0.0.0:1883 --user alice:s3cret
                                     reachable from the network, login required
   mqbroker --listen mqtt://:1883 --listen ws://:8080/mqtt --anonymous
                                     MQTT and WebSocket on every interface, no login
   mqbroker --listen mqtts://:8883 --cert server.crt --key server.key --password-file pw
   mqbroker --listen unix:///run/mq.sock
   mqbroker --listen mqtt://127.0.0.1:1883 --listen http://127.0.0.1:8080
                                     live web view at http://127.0.0.1:8080/, /metrics, /healthz, /readyz
   mqbroker --listen mqtt://:1883 --user alice:s3cret --print-config > my.conf
                                     write what the flags mean as a mosquitto.conf
   mqbroker --data ./data            keep retained messages and sessions in ./data (durable)
   mqbroker -c /etc/mosquitto/mosquitto.conf
   mqbroker --test-config -c my.conf check a configuration file and exit
   mqbroker passwd -c pwfile alice   create a password file (mosquitto_passwd format)
   mqbroker selftest                 check an in-process mqbroker: 27 MQTT conformance checks
   mqbroker selftest mqtt://127.0.0.1:1883   the same checks against any broker
   source <(mqbroker completion bash)         shell completion (also zsh; fish: mqbroker completion fish | source)

LISTENERS AND USERS:
   Listeners come from -c, then every --listen, then -p (-p is ignored when the file
   defines listeners, as in mosquitto 2.0). Any --listen or -p replaces the default
   127.0.0.1:1883. --listen URLs: mqtt://HOST:PORT, mqtts://HOST:PORT, ws://HOST:PORT[/PATH],
   wss://HOST:PORT[/PATH], unix:///PATH; an empty HOST means every interface, port 0 a
   free port, a ws URL without PATH accepts any path.
   Anonymous clients are allowed with --anonymous, else as the file's allow_anonymous
   says, else refused when users exist (--user, --password-file, password_file) or the
   file defines listeners, else allowed. A banner line warns when a listener reachable
   from the network allows anonymous clients.

SIGNALS:
   SIGINT, SIGTERM   graceful shutdown (v5 clients get DISCONNECT 0x8B)
   SIGHUP            reload password files, ACL files and TLS certificates
   Under systemd (Type=notify, $NOTIFY_SOCKET) mqbroker reports READY=1 once listening,
   RELOADING=1/READY=1 around a reload and STOPPING=1 at shutdown (contrib/systemd/).

EXIT STATUS:
   0 clean shutdown or valid configuration; 1 configuration or start-up error`

const usageText = "mqbroker [-c FILE] [-p PORT ...] [--listen URL ...] [--user NAME:PASSWORD ...] [--password-file FILE]\n" +
	"     [--anonymous] [--cert FILE --key FILE [--cafile FILE] [--require-certificate]]\n" +
	"     [-v] [--data DIR] [--test-config | --print-config]\n" +
	"   mqbroker passwd [options] FILE USER [PASSWORD]\n" +
	"   mqbroker selftest [options] [URL [WS-URL]]\n" +
	"   mqbroker completion bash|zsh|fish"

// NewApp builds the mqbroker application writing to stdout and stderr.
func NewApp(stdout, stderr io.Writer) *cli.App {
	// -v is --verbose (as in mosquitto), so --version has no short form.
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version"}
	app := &cli.App{
		Name:                   "mqbroker",
		Usage:                  "an MQTT 3.1 / 3.1.1 / 5.0 broker (mosquitto compatible)",
		UsageText:              usageText,
		Description:            examples,
		Version:                version.Version,
		Writer:                 stdout,
		ErrWriter:              stderr,
		UseShortOptionHandling: true,
		HideHelpCommand:        true,
		// Errors are returned to Main, which alone picks the exit status.
		ExitErrHandler: func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config-file", Aliases: []string{"c"}, Usage: "mosquitto.conf style configuration `FILE`"},
			&cli.IntSliceFlag{Name: "port", Aliases: []string{"p"}, Usage: "listen on `PORT` on 127.0.0.1 (repeatable; ignored when the config file defines listeners)"},
			&cli.GenericFlag{Name: "listen", Value: &multiFlag{},
				Usage: "listen on `URL`: mqtt://HOST:PORT, mqtts://, ws://HOST:PORT[/PATH], wss://, unix:///PATH, or http://HOST:PORT, https:// for the web view and /metrics (repeatable; empty HOST = every interface)"},
			&cli.StringFlag{Name: "cert", Usage: "TLS certificate `FILE` (PEM) for mqtts://, wss:// and https:// listeners"},
			&cli.StringFlag{Name: "key", Usage: "TLS private key `FILE` (PEM) for --cert"},
			&cli.StringFlag{Name: "cafile", Usage: "CA certificates `FILE` (PEM) that sign client certificates"},
			&cli.BoolFlag{Name: "require-certificate", Usage: "TLS clients must present a certificate signed by --cafile"},
			&cli.GenericFlag{Name: "user", Value: &multiFlag{},
				Usage: "accept user `NAME:PASSWORD` (repeatable; hashed in memory; other local users can read it with ps: prefer --password-file)"},
			&cli.StringFlag{Name: "password-file", Usage: "mosquitto password `FILE` (password_file; create it with 'mqbroker passwd')"},
			&cli.BoolFlag{Name: "anonymous", Usage: "allow clients without a user name, even when users exist (allow_anonymous true)"},
			&cli.BoolFlag{Name: "print-config", Usage: "print the effective configuration in mosquitto.conf syntax and exit"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log every connect, subscribe, publish and disconnect (log_type all)"},
			&cli.StringFlag{Name: "data", Usage: "turn persistence on, storing in `DIR`/mqbroker.db"},
			&cli.BoolFlag{Name: "test-config", Usage: "check the configuration (and the files it names) and exit"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no banner and no logging"},
			&cli.BoolFlag{Name: "daemon", Aliases: []string{"d"}, Usage: "not supported: run under a service manager instead"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a Go CPU profile to `FILE` until the broker stops (go tool pprof FILE)"},
		},
		Commands: []*cli.Command{passwdCommand(), selftestCommand(), completionCommand()},
		Action:   run,
	}
	app.OnUsageError = usageError("mqbroker", app.Flags)
	for _, c := range app.Commands {
		c.OnUsageError = usageError("mqbroker "+c.Name, c.Flags)
	}
	return app
}

// Main runs the app and returns the process exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	app := NewApp(stdout, stderr)
	if err := app.Run(args); err != nil {
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			if msg := ec.Error(); msg != "" {
				fmt.Fprintln(stderr, msg)
			}
			return ec.ExitCode()
		}
		fmt.Fprintf(stderr, "mqbroker: %v\n", err)
		return 1
	}
	return 0
}

// loadConfig reads -c (or the embedded defaults) and applies the other
// command-line options (see applyCommandLine) and --data.
func loadConfig(c *cli.Context) (*config.Config, *users, error) {
	cfg := config.Default()
	if f := c.String("config-file"); f != "" {
		var err error
		if cfg, err = config.LoadFile(f); err != nil {
			return nil, nil, err
		}
	}
	us, err := applyCommandLine(c, cfg)
	if err != nil {
		return nil, nil, err
	}
	if dir := c.String("data"); dir != "" {
		cfg.Persistence = true
		cfg.PersistenceLocation = dir
		cfg.PersistenceFile = "mqbroker.db"
	}
	return cfg, us, nil
}

func newLogger(cfg *config.Config, c *cli.Context) (*slog.Logger, io.Closer, error) {
	types := cfg.LogTypes
	if c.Bool("verbose") {
		types = config.LogAll
	}
	var out io.Writer
	var closer io.Closer
	for _, d := range cfg.LogDest {
		switch d.Kind {
		case "stdout":
			out = c.App.Writer
		case "stderr":
			out = c.App.ErrWriter
		case "file":
			f, err := os.OpenFile(d.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
			if err != nil {
				return nil, nil, fmt.Errorf("log_dest file: %w", err)
			}
			out, closer = f, f
		}
	}
	if c.Bool("quiet") {
		out = nil
	}
	h := newLogHandler(out, types, cfg.LogTimestamp)
	return slog.New(h), closer, nil
}

func run(c *cli.Context) error {
	if c.Args().Present() {
		return cli.Exit(fmt.Sprintf("mqbroker: unexpected argument %q (see --help)", c.Args().First()), 1)
	}
	if c.Bool("daemon") {
		return cli.Exit("mqbroker: -d/--daemon is not supported: run mqbroker under systemd, a container or '&'", 1)
	}
	cfg, us, err := loadConfig(c)
	if err != nil {
		return cli.Exit("mqbroker: "+err.Error(), 1)
	}
	if c.Bool("print-config") {
		if err := cfg.Validate(); err != nil {
			return cli.Exit("mqbroker: "+err.Error(), 1)
		}
		for _, w := range cfg.Warnings {
			fmt.Fprintln(c.App.ErrWriter, "Warning: "+w)
		}
		if err := printConfig(c.App.Writer, cfg, us, c.Bool("verbose")); err != nil {
			return cli.Exit("mqbroker: "+err.Error(), 1)
		}
		return nil
	}
	logger, closer, err := newLogger(cfg, c)
	if err != nil {
		return cli.Exit("mqbroker: "+err.Error(), 1)
	}
	if closer != nil {
		defer closer.Close()
	}
	verbose := c.Bool("verbose") || cfg.LogTypes&config.LogDebug != 0
	p, err := buildPlan(cfg, us, logger, verbose)
	if err != nil {
		return cli.Exit("mqbroker: "+err.Error(), 1)
	}
	for _, w := range cfg.Warnings {
		logger.Warn("Warning: " + w)
	}
	for _, w := range p.guard.fileWarnings() {
		logger.Warn(w)
	}
	if c.Bool("test-config") {
		if n := len(cfg.Bridges); n > 0 {
			fmt.Fprintf(c.App.Writer, "Configuration OK: %d listener(s), %d bridge(s)\n", len(cfg.Listeners), n)
		} else {
			fmt.Fprintf(c.App.Writer, "Configuration OK: %d listener(s)\n", len(cfg.Listeners))
		}
		return nil
	}
	var commit *broker.Histogram // store commit latency, for /metrics
	if cfg.Persistence {
		path := cfg.PersistencePath()
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return cli.Exit("mqbroker: persistence: "+err.Error(), 1)
		}
		var latency func(time.Duration)
		if len(p.web) > 0 {
			commit = &broker.Histogram{}
			latency = commit.Observe
		}
		st, err := store.Open(path, store.Options{Logf: func(f string, a ...any) { logger.Error(fmt.Sprintf(f, a...)) },
			CommitLatency: latency})
		if err != nil {
			return cli.Exit("mqbroker: "+startError(err, cfg, p.names).Error(), 1)
		}
		defer st.Close()
		p.opts.Store = st
	}
	if f := c.String("cpuprofile"); f != "" {
		stopProfile, err := startCPUProfile(f)
		if err != nil {
			return cli.Exit("mqbroker: --cpuprofile: "+err.Error(), 1)
		}
		defer stopProfile()
	}
	if cfg.PIDFile != "" {
		if err := os.WriteFile(cfg.PIDFile, fmt.Appendf(nil, "%d\n", os.Getpid()), 0o644); err != nil {
			return cli.Exit("mqbroker: pid_file: "+err.Error(), 1)
		}
		defer os.Remove(cfg.PIDFile)
	}
	// Signals are caught before the listeners open, so a SIGHUP or SIGTERM
	// that follows the banner is never fatal.
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer func() { signal.Stop(hup); close(hup) }()
	go func() {
		for range hup {
			_ = sdNotify("RELOADING=1")
			reload(logger, p)
			_ = sdNotify("READY=1")
		}
	}()
	b, err := broker.New(p.opts)
	if err != nil {
		return cli.Exit("mqbroker: "+err.Error(), 1)
	}
	var bridges atomic.Pointer[[]*bridge.Bridge]
	ws, err := newWebServer(p, cfg, b, &bridges, commit)
	if err != nil {
		return cli.Exit("mqbroker: "+err.Error(), 1)
	}
	if err := b.Start(); err != nil {
		return cli.Exit("mqbroker: "+startError(err, cfg, p.names).Error(), 1)
	}
	v6, stopV6 := listenIPv6Loopback(ctx, b, cfg, p.names, logger)
	defer stopV6()
	p.loopback6 = v6
	if ws != nil {
		if err := ws.Start(); err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = b.Shutdown(sctx)
			return cli.Exit("mqbroker: "+err.Error(), 1)
		}
		defer ws.Close()
	}
	if !c.Bool("quiet") {
		printBanner(c.App.ErrWriter, cfg, p, func(i int) net.Addr {
			if a := b.Addr(p.names[i]); a != nil {
				return a
			}
			return webAddr(ws, p.names[i])
		})
	}
	notify := func(state string) {
		if err := sdNotify(state); err != nil {
			logger.Warn("Warning: sd_notify " + strings.SplitN(state, "\n", 2)[0] + ": " + err.Error())
		}
	}
	notify(fmt.Sprintf("READY=1\nSTATUS=%d listener(s) open\nMAINPID=%d", len(cfg.Listeners), os.Getpid()))
	go func() {
		<-ctx.Done()
		notify("STOPPING=1")
	}()
	// Bridges stop with the broker, whatever ends it.
	bctx, stopBridges := context.WithCancel(ctx)
	defer stopBridges()
	waitBridges, brs, err := startBridges(bctx, b, p.bridges, logger)
	if err != nil {
		return cli.Exit("mqbroker: "+err.Error(), 1)
	}
	bridges.Store(&brs)
	err = b.Serve(ctx)
	stopBridges()
	waitBridges()
	if err != nil && !errors.Is(err, context.Canceled) {
		return cli.Exit("mqbroker: "+err.Error(), 1)
	}
	logger.Info("mqbroker " + version.Version + " terminating")
	return nil
}

// reload re-reads password files, ACLs and certificates (SIGHUP).
func reload(logger *slog.Logger, p *plan) {
	err := p.guard.Reload()
	for _, r := range p.reloaders {
		err = errors.Join(err, r.Reload())
	}
	if err != nil {
		logger.Error("Error: reload failed, keeping the previous files: " + err.Error())
		return
	}
	for _, w := range p.guard.fileWarnings() {
		logger.Warn(w)
	}
	logger.Info("Reloaded password, ACL and certificate files.")
}

// startCPUProfile starts writing a CPU profile to path; the returned
// function stops it and closes the file.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
