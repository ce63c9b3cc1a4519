package clicmd

import (
	"io"
	"strconv"

	"github.com/urfave/cli/v2"

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
		usageText:   "mqpub [-h host] [-p port | -L URL] -t topic {-m message | -f file | -s | -l | -n} [options]",
		description: pubExamples,
		flags:       pubFlags(),
		action:      func(c *cli.Context) error { return runPub(c, e) },
	})
}

func pubFlags() []cli.Flag {
	return []cli.Flag{
		str(flagTopic, short("t"), catMsg, "topic to publish to (no + or # wildcards)"),
		str(flagMessage, short("m"), catMsg, "message payload"),
		str(flagFile, short("f"), catMsg, "send the contents of a file as the message"),
		boolean(flagStdinFile, short("s"), catMsg, "send all of stdin as one message"),
		boolean(flagStdinLine, short("l"), catMsg, "send each line of stdin as a message, over one connection"),
		boolean(flagNullMessage, short("n"), catMsg, "send a zero-length message (with -r: clear the retained message)"),
		str(flagQoS, short("q"), catMsg, "quality of service: 0, 1 or 2 (default 0)"),
		boolean(flagRetain, short("r"), catMsg, "retain the message"),
		str(flagRepeat, nil, catMsg, "publish the message N times"),
		str(flagRepeatDelay, nil, catMsg, "seconds (may be fractional) between one delivery and the next publish"),
		str(flagMaxInflight, short("M"), catMsg, "maximum QoS 1/2 messages in flight (default 20)"),
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
   mqpub -V 5 -i dev1 --will-topic dev1/status --will-payload offline --disconnect-reason 4 -t x -n
                                                    end with DISCONNECT 0x04: the broker publishes the will
   Passwords: -P, or MQ_PASSWORD, or a prompt when -u is given without -P on a terminal.
`

// pubConfig is the parsed publish part of the command line.
type pubConfig struct {
	topic       string
	qos         mqtt.QoS
	retain      bool
	mode        string // "m", "f", "s", "l" or "n"
	repeat      int
	repeatDelay float64
	maxInflight int
}

func parsePub(c *cli.Context, e *env, cc *connConfig) (*pubConfig, error) {
	name := e.name
	pc := &pubConfig{retain: c.Bool(flagRetain), repeat: 1, maxInflight: 20}
	pc.topic = cc.urlTopic
	if c.IsSet(flagTopic) {
		pc.topic = c.String(flagTopic)
	}
	modes := 0
	for _, m := range []struct{ flag, mode string }{
		{flagMessage, "m"}, {flagFile, "f"}, {flagStdinFile, "s"}, {flagStdinLine, "l"}, {flagNullMessage, "n"},
	} {
		if c.IsSet(m.flag) {
			modes++
			pc.mode = m.mode
		}
	}
	if modes > 1 {
		return nil, usageErr(name, "Error: Only one type of message can be sent at once.")
	}
	if !c.IsSet(flagTopic) && cc.urlTopic == "" || modes == 0 {
		return nil, usageErr(name, "Error: Both topic and message must be supplied.")
	}
	// [MQTT-3.3.2-2]: a topic name has no wildcards.
	if err := mqtt.ValidTopicName(pc.topic); err != nil {
		return nil, usageErr(name, "Error: Invalid publish topic '%s', does it contain '+' or '#'?", pc.topic)
	}
	if c.IsSet(flagQoS) {
		q, err := parseQoS(c.String(flagQoS))
		if err != nil {
			return nil, usageErr(name, "Error: Invalid QoS given: %s", c.String(flagQoS))
		}
		pc.qos = q
	}
	if c.IsSet(flagRepeat) {
		n, err := strconv.Atoi(c.String(flagRepeat))
		if err != nil || n < 1 {
			return nil, usageErr(name, "Error: --repeat argument must be a positive integer.")
		}
		if pc.mode == "l" {
			return nil, usageErr(name, "Error: --repeat cannot be used with -l.")
		}
		pc.repeat = n
	}
	if c.IsSet(flagRepeatDelay) {
		d, err := strconv.ParseFloat(c.String(flagRepeatDelay), 64)
		if err != nil || d < 0 || d > 1e9 {
			return nil, usageErr(name, "Error: --repeat-delay argument must be a number of seconds, 0 or more.")
		}
		pc.repeatDelay = d
	}
	if c.IsSet(flagMaxInflight) {
		n, err := strconv.Atoi(c.String(flagMaxInflight))
		if err != nil || n < 1 || n > 65535 {
			return nil, usageErr(name, "Error: -M argument must be between 1 and 65535.")
		}
		pc.maxInflight = n
	}
	return pc, nil
}
