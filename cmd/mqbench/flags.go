package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/bench"
	"github.com/mqkit/mqkit/internal/cliutil"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// Flag names.
const (
	flagHost        = "host"
	flagPort        = "port"
	flagProtocol    = "protocol"
	flagQoS         = "qos"
	flagSize        = "size"
	flagCount       = "count"
	flagDuration    = "duration"
	flagPubs        = "pubs"
	flagSubs        = "subs"
	flagInflight    = "inflight"
	flagRate        = "rate"
	flagWarmup      = "warmup"
	flagConnections = "connections"
	flagHold        = "hold"
	flagParallel    = "parallel"
	flagRatePerConn = "rate-per-conn"
	flagPause       = "pause"
	flagDrain       = "drain"
	flagStall       = "stall"
	flagConnTimeout = "connect-timeout"
	flagPID         = "pid"
	flagAllowRemote = "allow-remote"
	flagTopic       = "topic-prefix"
	flagDurable     = "durable"
	flagLabel       = "label"
	flagJSON        = "json"
	flagStrict      = "strict"
	flagNoProgress  = "no-progress"
	flagNoColor     = "no-color"
)

// flags have no Value where the default depends on the scenario; the
// usage text gives the defaults and bench.Defaults applies them.
func flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagHost, Value: "127.0.0.1", Usage: "broker host (loopback only unless --allow-remote); a list a,b:1884,c spreads the connections over the nodes of a cluster"},
		&cli.IntFlag{Name: flagPort, Aliases: []string{"p"}, Value: 1883, Usage: "broker port"},
		&cli.StringFlag{Name: flagProtocol, Aliases: []string{"V"}, Value: "311", Usage: "MQTT version: 31, 311 or 5"},
		&cli.IntFlag{Name: flagQoS, Aliases: []string{"q"}, Usage: "QoS of publications and subscriptions: 0, 1 or 2 (fanout: 0 or 1)"},
		&cli.IntFlag{Name: flagSize, Aliases: []string{"s"}, Usage: "payload size in bytes, at least 26", DefaultText: "64"},
		&cli.Uint64Flag{Name: flagCount, Aliases: []string{"n"}, Usage: fmt.Sprintf(
			"messages over all publishers, 0 = until --duration (cap %d)", bench.MaxCount),
			DefaultText: "p2p 200000, fanout 10000, latency 0"},
		&cli.DurationFlag{Name: flagDuration, Aliases: []string{"d"}, Usage: fmt.Sprintf(
			"publishing time limit (cap %s; slow: per phase)", bench.MaxDuration), DefaultText: "30s, latency and slow 10s"},
		&cli.IntFlag{Name: flagPubs, Usage: "publishers (p2p, latency: also the number of subscribers)", DefaultText: "p2p 10, others 1"},
		&cli.IntFlag{Name: flagSubs, Usage: "subscribers of the fanout topic", DefaultText: "100"},
		&cli.IntFlag{Name: flagInflight, Usage: "unacknowledged QoS 1/2 messages per publisher (a v5 broker's Receive Maximum lowers it)", DefaultText: "100"},
		&cli.Float64Flag{Name: flagRate, Usage: "messages/s over all publishers, 0 = as fast as possible", DefaultText: "0, latency 1000"},
		&cli.DurationFlag{Name: flagWarmup, Usage: "drop the latency samples of messages sent in the first WARMUP", DefaultText: "latency 500ms, others 0"},
		&cli.IntFlag{Name: flagConnections, Aliases: []string{"c"}, Usage: "idle: connections to open", DefaultText: "10000"},
		&cli.DurationFlag{Name: flagHold, Usage: "idle: how long to hold the connections", DefaultText: "3s"},
		&cli.IntFlag{Name: flagParallel, Usage: "idle: connections opened concurrently", DefaultText: "64"},
		&cli.Float64Flag{Name: flagRatePerConn, Usage: "idle: messages/s each connection publishes during the hold (at --qos 0 or 1, --size bytes, a topic per connection), 0 = none", DefaultText: "0"},
		&cli.DurationFlag{Name: flagPause, Usage: "slow: how long the slow subscriber stops reading each time", DefaultText: "2.3s"},
		&cli.DurationFlag{Name: flagDrain, Usage: "slow: how long it then reads as fast as it can", DefaultText: "200ms"},
		&cli.DurationFlag{Name: flagStall, Usage: "stop and report the loss when nothing progresses for this long", DefaultText: "3s"},
		&cli.DurationFlag{Name: flagConnTimeout, Usage: "timeout of each connect and subscribe", DefaultText: "5s"},
		&cli.IntFlag{Name: flagPID, Usage: "broker process id: report its CPU% and RSS from /proc"},
		&cli.BoolFlag{Name: flagAllowRemote, Usage: "allow a broker that is not on a loopback address"},
		&cli.StringFlag{Name: flagTopic, Usage: "topic prefix", DefaultText: "bench"},
		&cli.BoolFlag{Name: flagDurable, Usage: "durable subscribers (clean session 0; QoS 1/2): a persistent broker stores each message until it is acknowledged; their sessions are removed at the end"},
		&cli.StringFlag{Name: flagLabel, Usage: "a name for the broker, copied into the result (for mqbench table)"},
		&cli.BoolFlag{Name: flagJSON, Usage: "print the result as one JSON object instead of text"},
		&cli.BoolFlag{Name: flagStrict, Usage: "exit 3 when messages were lost, QoS 2 duplicated, or errors occurred"},
		&cli.BoolFlag{Name: flagNoProgress, Usage: "no progress line (it is shown only when stderr is a terminal)"},
		&cli.BoolFlag{Name: flagNoColor, Usage: "no colour in the text report (also NO_COLOR)"},
	}
}

// parseVersion accepts mosquitto_pub's spellings too.
func parseVersion(s string) (mqtt.Version, error) {
	switch strings.ToLower(strings.TrimPrefix(strings.ToLower(s), "mqttv")) {
	case "31", "3.1", "3":
		return mqtt.V31, nil
	case "311", "3.1.1", "4":
		return mqtt.V311, nil
	case "5", "5.0":
		return mqtt.V5, nil
	}
	return 0, fmt.Errorf("unknown protocol version %q (want 31, 311 or 5)", s)
}

// config applies the flags that were given over the scenario's defaults.
func config(c *cli.Context, scenario string) (bench.Config, error) {
	cfg := bench.Defaults(scenario)
	v, err := parseVersion(c.String(flagProtocol))
	if err != nil {
		return cfg, err
	}
	cfg.Version = v
	hosts, err := cliutil.SplitHostList(c.String(flagHost))
	if err != nil {
		return cfg, fmt.Errorf("--host: %w", err)
	}
	addrs := make([]string, len(hosts))
	for i, h := range hosts {
		port := c.Int(flagPort)
		if h.Port != 0 {
			port = h.Port
		}
		addrs[i] = net.JoinHostPort(h.Host, strconv.Itoa(port))
	}
	cfg.Addr = strings.Join(addrs, ",")
	set := c.IsSet
	if set(flagQoS) {
		q := c.Int(flagQoS)
		if q < 0 || q > 2 {
			return cfg, fmt.Errorf("--qos must be 0, 1 or 2")
		}
		cfg.QoS = mqtt.QoS(q)
	}
	if set(flagSize) {
		cfg.PayloadSize = c.Int(flagSize)
	}
	if set(flagDuration) {
		cfg.Duration = c.Duration(flagDuration)
	}
	if set(flagRate) {
		cfg.Rate = c.Float64(flagRate)
	}
	if set(flagCount) {
		cfg.Count = c.Uint64(flagCount)
	} else if scenario == bench.Latency {
		cfg.Count = 0 // rate x duration
	}
	if set(flagPubs) {
		cfg.Pubs = c.Int(flagPubs)
		if scenario != bench.Fanout && scenario != bench.Slow {
			cfg.Subs = cfg.Pubs
		}
	}
	if set(flagSubs) {
		cfg.Subs = c.Int(flagSubs)
	}
	ints := []struct {
		name string
		dst  *int
	}{{flagInflight, &cfg.Inflight}, {flagConnections, &cfg.Connections}, {flagParallel, &cfg.Parallel}, {flagPID, &cfg.PID}}
	for _, f := range ints {
		if set(f.name) {
			*f.dst = c.Int(f.name)
		}
	}
	durs := []struct {
		name string
		dst  *time.Duration
	}{{flagWarmup, &cfg.Warmup}, {flagHold, &cfg.Hold}, {flagStall, &cfg.Stall}, {flagConnTimeout, &cfg.ConnectTimeout},
		{flagPause, &cfg.Pause}, {flagDrain, &cfg.Drain}}
	for _, f := range durs {
		if set(f.name) {
			*f.dst = c.Duration(f.name)
		}
	}
	if set(flagTopic) {
		cfg.TopicPrefix = c.String(flagTopic)
	}
	if set(flagRatePerConn) {
		cfg.RatePerConn = c.Float64(flagRatePerConn)
	}
	cfg.Label = c.String(flagLabel)
	cfg.AllowRemote = c.Bool(flagAllowRemote)
	cfg.Durable = c.Bool(flagDurable)
	return cfg, cfg.Validate()
}

func scenarioAction(c *cli.Context, scenario string) error {
	cfg, err := config(c, scenario)
	if err != nil {
		return cli.Exit(err, exitError)
	}
	var progress *os.File
	if !c.Bool(flagNoProgress) && isTerminal(c.App.ErrWriter) {
		progress = c.App.ErrWriter.(*os.File)
	}
	var res *bench.Result
	if progress != nil {
		res, err = bench.Run(c.Context, cfg, progress)
	} else {
		res, err = bench.Run(c.Context, cfg, nil)
	}
	if err != nil {
		return cli.Exit(err, exitError)
	}
	if c.Bool(flagJSON) {
		enc := json.NewEncoder(c.App.Writer)
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		bench.WriteText(c.App.Writer, res)
	}
	if c.Bool(flagStrict) && (res.Lost > 0 || res.DupQoS2 > 0 || len(res.Errors) > 0 || res.Stop == "interrupted") {
		return cli.Exit("", exitStrict)
	}
	return nil
}

func tableAction(c *cli.Context, files []string) error {
	if len(files) == 0 {
		return cli.Exit("table: give one or more files of --json results", exitError)
	}
	var all []*bench.Result
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return cli.Exit(err, exitError)
		}
		rs, err := bench.ReadResults(f)
		f.Close()
		if err != nil {
			return cli.Exit(fmt.Errorf("%s: %w", name, err), exitError)
		}
		all = append(all, rs...)
	}
	labels, rows := bench.Summarize(all)
	bench.WriteTable(c.App.Writer, labels, rows)
	return nil
}
