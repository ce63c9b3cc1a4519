package clicmd

import (
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/cliutil"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// mqsub-only flags (mosquitto_sub's letters; long names are ours where
// mosquitto has none).
const (
	flagTopicQoS          = "topic-qos"
	flagFilterOut         = "filter-out"
	flagUnsubscribe       = "unsubscribe"
	flagCount             = "count"
	flagTimeout           = "timeout"
	flagExitAfterSub      = "exit-after-subscribe"
	flagSkipRetained      = "skip-retained"
	flagRetainedOnly      = "retained-only"
	flagRemoveRetained    = "remove-retained"
	flagVerbose           = "verbose"
	flagNoEOL             = "no-eol"
	flagFormat            = "format"
	flagPretty            = "pretty"
	flagJSON              = "json"
	flagRandomFilter      = "random-filter"
	flagNoLocal           = "no-local"
	flagRetainAsPublished = "retain-as-published"
	flagRetainHandling    = "retain-handling"
	flagSubID             = "sub-id"
	flagWatch             = "watch"
	flagURLTopicAt        = "url-topic-at"
)

// catExpect is the help category of the --expect* options (expect.go).
const catExpect = "Assertions (smoke tests)"

// NewSubApp builds mqsub, the mosquitto_sub replacement, writing messages
// to stdout and diagnostics to stderr. Run it with Run.
func NewSubApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	return newSubApp(newEnv("mqsub", stdin, stdout, stderr))
}

func newSubApp(e *env) *cli.App {
	return newApp(e, appSpec{
		usage:       "subscribe to MQTT topics and print the messages (a drop-in for mosquitto_sub)",
		usageText:   "mqsub [-h host] [-p port | -L URL] -t filter [-t filter ...] [options]",
		description: subExamples,
		flags:       subFlags(),
		action:      func(c *cli.Context) error { return runSub(c, e) },
	})
}

func subFlags() []cli.Flag {
	slice := func(name string, aliases []string, usage string) *cli.StringSliceFlag {
		return &cli.StringSliceFlag{Name: name, Aliases: aliases, Category: catSub, Usage: usage}
	}
	expect := func(name, usage string) *cli.StringSliceFlag {
		return &cli.StringSliceFlag{Name: name, Category: catExpect, Usage: usage}
	}
	return []cli.Flag{
		slice(flagTopic, short("t"), "topic filter to subscribe to (repeatable)"),
		slice(flagTopicQoS, nil, "FILTER=QOS: subscribe to FILTER at its own QoS (repeatable)"),
		str(flagQoS, short("q"), catSub, "QoS of the -t subscriptions: 0, 1 or 2 (default 0)"),
		slice(flagFilterOut, short("T"), "do not print messages whose topic matches this filter (repeatable)"),
		slice(flagUnsubscribe, short("U"), "unsubscribe from this filter after subscribing (repeatable)"),
		str(flagCount, short("C"), catSub, "exit after N messages (also caps MQTT 5 receive-maximum at N)"),
		str(flagTimeout, short("W"), catSub, "exit with status 27 after SECS seconds"),
		boolean(flagExitAfterSub, short("E"), catSub, "exit once subscribed (with -c: create a durable session)"),
		boolean(flagSkipRetained, short("R"), catSub, "do not print retained (stale) messages"),
		boolean(flagRetainedOnly, nil, catSub, "print only retained messages; exit at the first live one"),
		boolean(flagRemoveRetained, nil, catSub, "clear every retained message received (except -T topics)"),
		str(flagRandomFilter, nil, catSub, "print only about PCT percent of the messages (0.1-100)"),
		&cli.IntFlag{Name: flagURLTopicAt, Hidden: true}, // set by Run: where -L stood among the -t
		boolean(flagNoLocal, nil, catV5, "do not receive our own publishes (MQTT 5)"),
		boolean(flagRetainAsPublished, nil, catV5, "keep the publisher's retain flag (MQTT 5)"),
		str(flagRetainHandling, nil, catV5, "0 send retained messages, 1 only for new subscriptions, 2 never (MQTT 5)"),
		str(flagSubID, nil, catV5, "subscription identifier, 1-268435455, shown by %S (MQTT 5)"),
		expect(flagExpect, "only print and count (-C, default 1) messages whose payload is exactly `TEXT`; every --expect* must hold"),
		expect(flagExpectRegex, "as --expect, for payloads matching the Go regexp `RE` (unanchored: ^...$ for the whole payload)"),
		expect(flagExpectJSON, "as --expect, for JSON payloads where `EXPR` holds: a path (. .a.b .list[0] .\"a b\") alone (present, not null/false), or with == != < <= > >= ~ and a JSON literal"),
		boolean(flagVerbose, short("v"), catOutput, "print the topic before the payload"),
		boolean(flagNoEOL, short("N"), catOutput, "no newline after each message"),
		str(flagFormat, short("F"), catOutput, "output format (mosquitto_sub's -F: %t %p %x %j ... @H:@M:@S ... \\n)"),
		boolean(flagPretty, nil, catOutput, "pretty-print %j / %J JSON"),
		boolean(flagJSON, nil, catOutput, "one JSON object per message; JSON payloads embedded, binary as payload_b64"),
		boolean(flagWatch, short("w"), catOutput, "live view on a terminal: one line per topic, updated in place (mosquitto 2.1); prints normally when stdout is not a terminal"),
	}
}

const subExamples = `EXAMPLES:
   mqsub -t 'sensors/#' -v                          print topic and payload of every message
   mqsub -t a/b -t 'alerts/#' -q 1 -C 10            two filters at QoS 1; exit after 10 messages
   mqsub -t a/b --topic-qos 'alerts/#=2'            a/b at -q's QoS, alerts/# at QoS 2
   mqsub -t 'sensors/#' -W 5 -C 1                   wait at most 5 s for one message (exit 27 on timeout)
   mqsub -c -i dash1 -q 1 -t 'orders/#' -E          create a durable session and exit
   mqsub -c -i dash1 -q 1 -t 'orders/#' -C 5        later: receive what was published meanwhile
   mqsub -t '#' --retained-only --remove-retained -W 2   clear every retained message you can see
   mqsub -t 'sensors/#' -F '@H:@M:@S %t %p'         timestamped output; %j for JSON, %x for hex
   mqsub -t 'sensors/#' --json | jq .payload        NDJSON, JSON payloads embedded
   mqsub -t 'sensors/#' -v -w                       live view: one line per topic, each showing its latest message
   mqsub -V 5 -t a/b --no-local --retain-handling 2 --sub-id 7 -F '%S %t %p'
   mqsub -L wss://user@broker/mqtt -t 'a/#' -d --dump    WebSocket over TLS, packet trace with bytes
   mqsub -t 'dev/+/status' --expect online -W 10   smoke test: exit 0 at the first "online", 27 after 10 s
   mqsub -t sensors/t --expect-json '.temp > 20' -C 3 -W 30 -v   three readings above 20 within 30 s
   mqsub -t ci/result --expect-json '.status == "passed"' --expect-json '.failed == 0' -W 60

   When the connection is lost, mqsub reconnects every second and subscribes again, as mosquitto_sub.
`

// subConfig is the parsed subscribe part of the command line.
type subConfig struct {
	subs           []mqtt.Subscription
	subProps       mqtt.Properties
	unsubs         []string
	filterOut      []string
	count          int
	timeout        time.Duration
	exitAfterSub   bool
	skipRetained   bool
	retainedOnly   bool
	removeRetained bool
	randomPct      float64       // 0 = print all
	expect         *expectations // nil without --expect*
	out            cliutil.OutputOptions
	watch          bool // -w: one line per topic on a terminal (watch.go)
}

var subV5Flags = map[string]string{
	flagNoLocal: "--no-local", flagRetainAsPublished: "--retain-as-published",
	flagRetainHandling: "--retain-handling", flagSubID: "--sub-id",
}

func parseSub(c *cli.Context, e *env, cc *connConfig) (*subConfig, error) {
	name := e.name
	sc := &subConfig{
		exitAfterSub: c.Bool(flagExitAfterSub), skipRetained: c.Bool(flagSkipRetained),
		retainedOnly: c.Bool(flagRetainedOnly), removeRetained: c.Bool(flagRemoveRetained),
		unsubs: c.StringSlice(flagUnsubscribe), filterOut: c.StringSlice(flagFilterOut),
	}
	var qos mqtt.QoS
	if c.IsSet(flagQoS) {
		q, err := cc.parseQoS(c, name)
		if err != nil {
			return nil, err
		}
		qos = q
	}
	opts := mqtt.Subscription{NoLocal: c.Bool(flagNoLocal), RetainAsPublished: c.Bool(flagRetainAsPublished)}
	if sc.skipRetained && cc.version == mqtt.V5 {
		// -R on MQTT 5 asks the broker not to send retained messages at
		// all (Retain Handling 2), as mosquitto_sub does.
		opts.RetainHandling = 2
	}
	if c.IsSet(flagRetainHandling) {
		rh, err := strconv.Atoi(c.String(flagRetainHandling))
		if err != nil || rh < 0 || rh > 2 {
			return nil, usageErr(name, "Error: --retain-handling must be 0, 1 or 2.")
		}
		opts.RetainHandling = byte(rh)
	}
	// The URL's topic is subscribed to where -L stood among the -t
	// options (resolveOrder counted the -t before it).
	filters := c.StringSlice(flagTopic)
	if cc.urlTopic != "" {
		at := min(max(c.Int(flagURLTopicAt), 0), len(filters))
		filters = append(filters[:at:at], append([]string{cc.urlTopic}, filters[at:]...)...)
	}
	for _, f := range filters {
		s := opts
		s.Filter, s.QoS = f, qos
		sc.subs = append(sc.subs, s)
	}
	for _, tq := range c.StringSlice(flagTopicQoS) {
		i := strings.LastIndexByte(tq, '=')
		q, err := parseQoSWord(tq[i+1:])
		if i <= 0 || err != nil {
			return nil, usageErr(name, "Error: --topic-qos takes FILTER=QOS with QOS 0, 1 or 2, not '%s'.", tq)
		}
		s := opts
		s.Filter, s.QoS = tq[:i], q
		sc.subs = append(sc.subs, s)
	}
	if len(sc.subs) == 0 && len(sc.unsubs) == 0 {
		return nil, usageErr(name, "Error: You must specify a topic to subscribe to.")
	}
	for _, s := range sc.subs {
		if mqtt.ValidTopicFilter(s.Filter) != nil {
			return nil, usageErr(name, "Error: Invalid subscription topic '%s', are all '+' and '#' wildcards correct?", s.Filter)
		}
		if _, _, shared, _ := mqtt.ParseShared(s.Filter); shared && s.NoLocal {
			// [MQTT-3.8.3-4]: No Local on a shared subscription is a protocol error.
			return nil, usageErr(name, "Error: --no-local cannot be used with the shared subscription '%s'.", s.Filter)
		}
	}
	for _, f := range sc.unsubs {
		if mqtt.ValidTopicFilter(f) != nil {
			return nil, usageErr(name, "Error: Invalid unsubscribe topic '%s', are all '+' and '#' wildcards correct?", f)
		}
	}
	for _, f := range sc.filterOut {
		if mqtt.ValidTopicFilter(f) != nil {
			return nil, usageErr(name, "Error: Invalid filter topic '%s', are all '+' and '#' wildcards correct?", f)
		}
	}
	if cc.version == mqtt.V5 {
		sc.subProps = cc.props.Subscribe
	}
	if c.IsSet(flagSubID) {
		id, err := strconv.ParseUint(c.String(flagSubID), 10, 32)
		if err != nil || id < 1 || id > 268435455 {
			return nil, usageErr(name, "Error: --sub-id must be between 1 and 268435455.")
		}
		if sc.subProps.Has(mqtt.PropSubscriptionID) {
			return nil, usageErr(name, "Error: --sub-id and -D subscribe subscription-identifier both given.")
		}
		sc.subProps.SubscriptionIDs = []uint32{uint32(id)}
	}
	x, err := parseExpect(c, name)
	if err != nil {
		return nil, err
	}
	sc.expect = x
	if x != nil && sc.exitAfterSub {
		return nil, usageErr(name, "Error: -E and --expect* cannot be used together (-E exits before any message).")
	}
	if err := parseSubExit(c, e, cc, sc); err != nil {
		return nil, err
	}
	return sc, parseSubOutput(c, e, sc)
}

func parseSubExit(c *cli.Context, e *env, cc *connConfig, sc *subConfig) error {
	name := e.name
	if sc.expect != nil {
		sc.count = 1 // a smoke test ends at the first matching message
	}
	if c.IsSet(flagCount) {
		n := cc.atoi(c, flagCount, "-C")
		if n < 1 {
			return usageErr(name, "Error: Invalid message count \"%d\".", n)
		}
		sc.count = n
	}
	if n := sc.count; n > 0 {
		// Cap Receive Maximum so the broker sends no more than we print:
		// it must not have more unacknowledged QoS 1/2 publishes in flight
		// to us [MQTT-3.3.4-9]. With --expect* the non-matching messages
		// are acknowledged as they come, so the cap still only leaves what
		// follows the last match in a durable session.
		p := &cc.opts.Connect.Props
		if cc.version == mqtt.V5 && n < 65535 && (!p.Has(mqtt.PropReceiveMaximum) || int(p.ReceiveMaximum) > n) {
			p.SetReceiveMaximum(uint16(n))
		}
	}
	if c.IsSet(flagTimeout) {
		w, err := parseWait(c, e, cc)
		if err != nil {
			return err
		}
		sc.timeout = w
	}
	if sc.skipRetained && sc.retainedOnly {
		return usageErr(name, "Error: Combining '-R' and '--retained-only' makes no sense.")
	}
	if c.IsSet(flagRandomFilter) {
		// mosquitto reads the chance with atof in tenths of a percent and
		// accepts 0.1 to 1000 (beyond 100 everything is printed).
		s := c.String(flagRandomFilter)
		f, exact := cliutil.Atof(s)
		if !exact {
			cc.warnf("Warning: --random-filter '%s' read as %g.", s, f)
		}
		tenths := 0
		if f > -1e9 && f < 1e9 {
			tenths = int(10 * f)
		}
		if tenths < 1 || tenths > 10000 {
			return usageErr(name, "Error: --random-filter chance must be between 0.1-100.0")
		}
		if tenths < 1000 {
			sc.randomPct = float64(tenths) / 10
		}
	}
	return nil
}

func parseSubOutput(c *cli.Context, e *env, sc *subConfig) error {
	sc.out = cliutil.OutputOptions{
		Format: c.String(flagFormat), JSON: c.Bool(flagJSON), Verbose: c.Bool(flagVerbose),
		NoEOL: c.Bool(flagNoEOL), Pretty: c.Bool(flagPretty),
	}
	sc.watch = c.Bool(flagWatch)
	if sc.out.JSON && c.IsSet(flagFormat) {
		return usageErr(e.name, "Error: --json and -F cannot be used together.")
	}
	if c.IsSet(flagFormat) {
		// An empty format prints an empty line per message (-N: nothing),
		// as in mosquitto_sub.
		sc.out.FormatSet = true
		if err := cliutil.ValidateFormat(sc.out.Format); err != nil {
			return usageErr(e.name, "%s", err)
		}
	}
	return nil
}
