// Command mqbench is mqkit's MQTT load generator: it measures a broker's
// throughput, loss, latency and memory per connection, speaking MQTT
// directly over TCP. See internal/bench and PERFORMANCE.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/fatih/color"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/mqkit/mqkit/internal/version"
)

// Exit codes.
const (
	exitOK     = 0
	exitError  = 1 // bad usage, broker unreachable
	exitStrict = 3 // --strict and the run lost, duplicated (QoS 2) or failed
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args, os.Stdout, os.Stderr))
}

// run builds and runs the app and maps the outcome to an exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	app.Metadata = map[string]any{"args": args}
	err := app.RunContext(ctx, args)
	var ec cli.ExitCoder
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ec):
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(stderr, "mqbench:", msg)
		}
		return ec.ExitCode()
	default:
		fmt.Fprintln(stderr, "mqbench:", err)
		return exitError
	}
}

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:    "mqbench",
		Usage:   "MQTT load generator: throughput, loss, latency and memory of a broker",
		Version: version.Version,
		UsageText: "mqbench [flags] p2p|fanout|latency|idle|slow\n" +
			"mqbench table RESULTS.jsonl...   (medians and ratios of --json results by --label)\n" +
			"mqbench [-d D] webview URL       (make the requests of an open mqbroker web view page, without a browser)",
		Description: "Scenarios:\n" +
			"  p2p      N publishers -> N subscribers, publisher i on topic bench/i (default 10 pairs, 200000 msgs)\n" +
			"  fanout   1 publisher -> M subscribers of one topic, QoS 0 or 1 (default 100 subscribers, 10000 msgs)\n" +
			"  latency  publish at a fixed rate (default 1000 msgs/s for 10s), report publish->deliver percentiles\n" +
			"  idle     open C idle connections (default 10000), hold them, report broker RSS per connection (--pid)\n" +
			"  slow     1 publisher flat out for --duration (10s) with a normal subscriber, then as long with a slow one\n" +
			"           too (--pause 2.3s without reading, --drain 200ms reading): the publisher's msgs/s and longest stall\n\n" +
			"Every run is bounded in count and time, and stops when nothing progresses for --stall.\n" +
			"Only loopback brokers are accepted unless --allow-remote is given.",
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		Flags:           flags(),
		Before: func(c *cli.Context) error {
			if c.Bool(flagNoColor) || os.Getenv("NO_COLOR") != "" || c.Bool(flagJSON) {
				color.NoColor = true
			}
			return nil
		},
		Action: action,
		// Errors are mapped to exit codes by run, not by os.Exit in the
		// library, so tests can call run.
		ExitErrHandler: func(*cli.Context, error) {},
	}
}

// action runs the scenario named by the first argument. Flags may also
// follow the scenario name ("mqbench p2p -q 1"): urfave/cli stops parsing
// at the first argument, so the command line is parsed again with the
// scenario moved to the end.
func action(c *cli.Context) error {
	if c.NArg() == 0 {
		cli.ShowAppHelp(c)
		return cli.Exit("", exitError)
	}
	scenario := c.Args().First()
	if scenario == "table" {
		return tableAction(c, c.Args().Tail())
	}
	if scenario == "webview" {
		return webviewAction(c, c.Args().Tail())
	}
	if c.NArg() > 1 {
		if c.App.Metadata["reparsed"] != nil {
			return cli.Exit(fmt.Sprintf("unexpected arguments after %s: %v", scenario, c.Args().Tail()), exitError)
		}
		all := os.Args
		if a, ok := c.App.Metadata["args"].([]string); ok {
			all = a
		}
		i := len(all) - c.NArg()
		again := append(append(append([]string{}, all[:i]...), all[i+1:]...), scenario)
		c.App.Metadata = map[string]any{"reparsed": true}
		return c.App.RunContext(c.Context, again)
	}
	return scenarioAction(c, scenario)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
