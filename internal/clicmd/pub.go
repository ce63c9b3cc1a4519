package clicmd

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/cliutil"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// mqpub-only flags (mosquitto_pub names).
const (
	flagMessage     = "message"
	flagFile        = "file"
	flagStdinFile   = "stdin-file"
	flagStdinLine   = "stdin-line"
	flagNullMessage = "null-message"
	flagRetain      = "retain"
	flagRepeat      = "repeat"
	flagRepeatDelay = "repeat-delay"
	flagMaxInflight = "max-inflight"
	flagPing        = "ping"
	flagTopicSep    = "topic-sep"
	// -W is mqsub's flagTimeout; mqpub takes it with --ping and -e. -e's
	// flag and the response output options are in request.go.
)

// --ping defaults, as ping(8): five probes, one a second, each lost when
// not echoed within two seconds.
const (
	pingDefaultCount   = 5
	pingDefaultDelay   = 1.0
	pingDefaultTimeout = 2 * time.Second
)

// NewPubApp builds mqpub, the mosquitto_pub replacement, reading stdin (for
// -s and -l) and writing to stdout/stderr. Run it with Run.
func NewPubApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	e := newEnv("mqpub", stdin, stdout, stderr)
	return newPubApp(e)
}

func newPubApp(e *env) *cli.App {
	return newApp(e, appSpec{
		usage:       "publish MQTT messages (a drop-in for mosquitto_pub)",
		usageText:   pubUsageText,
		description: pubExamples,
		flags:       pubFlags(),
		action:      func(c *cli.Context) error { return runPub(c, e) },
	})
}

const pubUsageText = `mqpub [-h host] [-p port | -L URL] -t topic {-m message | -f file | -s | -l | -n} [options]
   mqpub [-h host] [-p port | -L URL] -t topic -e response-topic {-m message | -f file | -s | -n}
         [-q qos] [-W SECS] [-v | -F format | --json] [-N] [options]
   mqpub [-h host] [-p port | -L URL] --ping [-t topic] [-q qos] [--repeat N] [--repeat-delay SECS] [-W SECS]`

func pubFlags() []cli.Flag {
	return []cli.Flag{
		str(flagTopic, short("t"), catMsg, "topic to publish to (no + or # wildcards)"),
		str(flagMessage, short("m"), catMsg, "message payload"),
		str(flagFile, short("f"), catMsg, "send the contents of a file as the message"),
		boolean(flagStdinFile, short("s"), catMsg, "send all of stdin as one message"),
		boolean(flagStdinLine, short("l"), catMsg, "send each line of stdin as a message, over one connection"),
		str(flagTopicSep, nil, catMsg, "with -l: split each line at the first `SEP` into topic and payload (\\t is a tab, \\\\ a backslash); -t, if given, is the topic of lines without SEP"),
		boolean(flagNullMessage, short("n"), catMsg, "send a zero-length message (with -r: clear the retained message)"),
		str(flagQoS, short("q"), catMsg, "quality of service: 0, 1 or 2 (default 0)"),
		boolean(flagRetain, short("r"), catMsg, "retain the message"),
		str(flagRepeat, nil, catMsg, "publish the message N times"),
		str(flagRepeatDelay, nil, catMsg, "seconds (may be fractional) between one delivery and the next publish"),
		str(flagMaxInflight, short("M"), catMsg, "maximum QoS 1/2 messages in flight (default 20)"),
		boolean(flagPing, nil, catMsg, "round-trip check: send --repeat probes (default 5, one every --repeat-delay s, default 1) at -q through the broker on -t (default mqkit/ping/ID); print each echo's time and a summary"),
		str(flagTimeout, short("W"), catMsg, "with -e: seconds to wait for the response, then exit 27 (default: for ever); with --ping: seconds to wait for each probe's echo before counting it lost (default 2)"),
		str(flagResponseTopic, short("e"), catRequest, "request/response, as mosquitto_rr (MQTT 5): subscribe to `TOPIC`, publish the message with Response Topic TOPIC and a random Correlation Data, print the response (same Correlation Data, or none) and exit"),
		boolean(flagVerbose, short("v"), catRequest, "with -e: print the response's topic before its payload"),
		boolean(flagNoEOL, short("N"), catRequest, "with -e: no newline after the response"),
		str(flagFormat, short("F"), catRequest, "with -e: output format of the response (mosquitto_sub's -F: %t %p %x %j %R %D ... @H:@M:@S ... \\n)"),
		boolean(flagPretty, nil, catRequest, "with -e: pretty-print %j / %J JSON"),
		boolean(flagJSON, nil, catRequest, "with -e: print the response as one JSON object, as mqsub --json"),
	}
}

const pubExamples = `EXAMPLES:
   mqpub -t sensors/temp -m 21.5                    publish one message (QoS 0)
   mqpub -t sensors/temp -m 21.5 -q 1 -r -d         QoS 1, retained, with the packet trace
   mqpub -t sensors/temp -r -n                      clear the retained message
   tail -f app.log | mqpub -t logs/app -l -q 1      one message per line, one connection (reconnects if lost)
   mqpub -L mqtts://alice@broker:8883/alerts -m hi  TLS with the system CAs; asks for the password
   mqpub -L ws://localhost:8080/mqtt -t a/b -m hi   MQTT over WebSocket
   mqpub -V 5 -t a/b -m hi -D publish user-property k v -D publish message-expiry-interval 60
   mqpub --ping -q 1                                round trip through the broker: 5 QoS 1 probes, times and loss
   mqpub --ping --repeat 20 --repeat-delay 0.2 -W 0.5 -L ws://localhost:8080/mqtt
                                                    20 probes over WebSocket, 5 a second, lost after 0.5 s
   printf 'a/b\t1\nc/d\t2\n' | mqpub -l --topic-sep '\t' -q 1
                                                    a topic per line: "TOPIC<TAB>PAYLOAD", one connection
   mqpub -l --topic-sep ' ' -t misc < lines.txt     "TOPIC PAYLOAD"; lines without a space go to misc
   mqpub -V 5 -i dev1 --will-topic dev1/status --will-payload offline --disconnect-reason 4 -t x -n
                                                    end with DISCONNECT 0x04: the broker publishes the will
   mqpub -t svc/time -e reply/me -m now -W 5        request/response (MQTT 5): print the reply; exit 27
                                                    when none came within 5 s, 1 on Ctrl-C before it
   mqpub -t svc/echo -e reply/me -s -q 1 -v < req.json
                                                    request from stdin at QoS 1; print "topic payload"
   mqpub -t svc/echo -e reply/me -m hi -F '%D %p' -D publish correlation-data job-42
                                                    our own Correlation Data instead of a random one
   Passwords: -P, or MQ_PASSWORD, or a prompt when -u is given without -P on a terminal.
`

// pubConfig is the parsed publish part of the command line.
type pubConfig struct {
	topic       string
	qos         mqtt.QoS
	retain      bool
	mode        string // "m", "f", "s", "l" or "n"; "" with ping
	repeat      int
	repeatDelay float64
	maxInflight int
	// ping is --ping; topic is then "" for the default probe topic.
	ping bool
	// timeout is -W: how long a --ping probe may take, or how long -e
	// waits for the response (0: for ever).
	timeout time.Duration
	// response is -e's topic: publish one request and print its
	// response (request.go); "" otherwise. out is how to print it.
	response string
	out      cliutil.OutputOptions
	// topicSep is --topic-sep, unescaped ("" when not given); topic is
	// then "" when neither -t nor the URL gave one.
	topicSep string
}

func parsePub(c *cli.Context, e *env, cc *connConfig) (*pubConfig, error) {
	name := e.name
	pc := &pubConfig{retain: c.Bool(flagRetain), repeat: 1, maxInflight: 20}
	pc.topic = cc.urlTopic
	if c.IsSet(flagTopic) {
		pc.topic = c.String(flagTopic)
	}
	topicGiven := c.IsSet(flagTopic) || cc.urlTopic != ""
	modes := 0
	for _, m := range []struct{ flag, mode string }{
		{flagMessage, "m"}, {flagFile, "f"}, {flagStdinFile, "s"}, {flagStdinLine, "l"}, {flagNullMessage, "n"},
	} {
		if c.IsSet(m.flag) {
			modes++
			pc.mode = m.mode
		}
	}
	pc.ping = c.Bool(flagPing)
	request := c.IsSet(flagResponseTopic)
	switch {
	case pc.ping && request:
		return nil, usageErr(name, "Error: -e and --ping cannot be used together.")
	case pc.ping && (modes > 0 || c.IsSet(flagRetain)):
		return nil, usageErr(name, "Error: --ping cannot be used with -m, -f, -s, -l, -n or -r: it sends its own probes.")
	case request && (pc.mode == "l" || c.IsSet(flagRetain) || c.IsSet(flagRepeat) || c.IsSet(flagRepeatDelay)):
		return nil, usageErr(name, "Error: -e cannot be used with -l, -r, --repeat or --repeat-delay: it sends one request and waits for its response.")
	case c.IsSet(flagTimeout) && !pc.ping && !request:
		return nil, usageErr(name, "Error: -W can only be used with --ping or -e.")
	case !request && anySet(c, responseOutputFlags):
		return nil, usageErr(name, "Error: -v, -N, -F, --pretty and --json can only be used with -e: they print the response.")
	case c.IsSet(flagTopicSep) && pc.mode != "l":
		return nil, usageErr(name, "Error: --topic-sep can only be used with -l.")
	case modes > 1:
		return nil, usageErr(name, "Error: Only one type of message can be sent at once.")
	case pc.ping:
	case request && (modes == 0 || !topicGiven):
		return nil, usageErr(name, "Error: All of topic, message, and response topic must be supplied.")
	case modes == 0 || !topicGiven && !c.IsSet(flagTopicSep):
		return nil, usageErr(name, "Error: Both topic and message must be supplied.")
	}
	if c.IsSet(flagTopicSep) {
		sep, err := unescapeSep(c.String(flagTopicSep))
		if err != nil {
			return nil, usageErr(name, "Error: Invalid --topic-sep: %v.", err)
		}
		pc.topicSep = sep
	}
	// [MQTT-3.3.2-2]: a topic name has no wildcards.
	if topicGiven {
		if err := mqtt.ValidTopicName(pc.topic); err != nil {
			return nil, usageErr(name, "Error: Invalid publish topic '%s', does it contain '+' or '#'?", pc.topic)
		}
	}
	if pc.ping {
		if err := parsePing(c, e, cc, pc); err != nil {
			return nil, err
		}
	}
	if request {
		if err := parseRequest(c, e, cc, pc); err != nil {
			return nil, err
		}
	}
	// Numbers are read with atoi/atof, as mosquitto_pub does.
	if c.IsSet(flagQoS) {
		q, err := cc.parseQoS(c, name)
		if err != nil {
			return nil, err
		}
		pc.qos = q
	}
	if c.IsSet(flagRepeat) {
		n := cc.atoi(c, flagRepeat, "--repeat")
		if n < 1 {
			return nil, usageErr(name, "Error: --repeat argument must be >0.")
		}
		if pc.mode == "l" {
			return nil, usageErr(name, "Error: --repeat cannot be used with -l.")
		}
		pc.repeat = n
	}
	if c.IsSet(flagRepeatDelay) {
		s := c.String(flagRepeatDelay)
		d, exact := cliutil.Atof(s)
		if !exact {
			cc.warnf("Warning: --repeat-delay '%s' read as %g.", s, d)
		}
		if !(d >= 0) || d > 1e9 {
			return nil, usageErr(name, "Error: --repeat-delay argument must be >=0.0.")
		}
		pc.repeatDelay = d
	}
	if c.IsSet(flagMaxInflight) {
		n := cc.atoi(c, flagMaxInflight, "-M")
		if n < 1 {
			return nil, usageErr(name, "Error: Maximum inflight messages must be greater than 0.")
		}
		pc.maxInflight = min(n, 65535)
	}
	return pc, nil
}

// parsePing applies --ping's defaults and -W.
func parsePing(c *cli.Context, e *env, cc *connConfig, pc *pubConfig) error {
	// The probe topic is also the subscription's filter: "$share/g/t"
	// would be a shared subscription to t, which the probes never reach.
	if strings.HasPrefix(pc.topic, mqtt.SharePrefix) {
		return usageErr(e.name, "Error: --ping topic '%s' cannot start with %s.", pc.topic, mqtt.SharePrefix)
	}
	if !c.IsSet(flagRepeat) {
		pc.repeat = pingDefaultCount
	}
	if !c.IsSet(flagRepeatDelay) {
		pc.repeatDelay = pingDefaultDelay
	}
	pc.timeout = pingDefaultTimeout
	if c.IsSet(flagTimeout) {
		w, err := parseWait(c, e, cc)
		if err != nil {
			return err
		}
		pc.timeout = w
	}
	return nil
}

// parseWait reads -W: a positive number of seconds. Beyond mosquitto,
// which reads whole seconds with atoi ("-W 5s" is 5 s, "-W 0.5" an
// error), it may be fractional.
func parseWait(c *cli.Context, e *env, cc *connConfig) (time.Duration, error) {
	s := c.String(flagTimeout)
	w, err := strconv.ParseFloat(s, 64)
	if err != nil {
		w = float64(cc.atoi(c, flagTimeout, "-W"))
	}
	if !(w > 0) || w > 1e9 {
		return 0, usageErr(e.name, "Error: Invalid timeout \"%s\".", s)
	}
	return time.Duration(w * float64(time.Second)), nil
}

// anySet reports whether any of the flags was given.
func anySet(c *cli.Context, flags []string) bool {
	for _, f := range flags {
		if c.IsSet(f) {
			return true
		}
	}
	return false
}

// unescapeSep decodes --topic-sep: \t is a tab and \\ a backslash, so a
// tab can be given from a shell without $'\t'. A newline cannot separate
// anything within a line.
func unescapeSep(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch {
		case i == len(s):
			return "", fmt.Errorf("it ends with a lone backslash (write \\\\ for one)")
		case s[i] == 't':
			b.WriteByte('\t')
		case s[i] == '\\':
			b.WriteByte('\\')
		default:
			return "", fmt.Errorf("unknown escape '\\%c' (only \\t and \\\\ are known)", s[i])
		}
	}
	switch sep := b.String(); {
	case sep == "":
		return "", fmt.Errorf("the separator must not be empty")
	case strings.Contains(sep, "\n"):
		return "", fmt.Errorf("the separator cannot contain a newline: stdin is split into lines first")
	default:
		return sep, nil
	}
}
