package clicmd

import (
	"crypto/rand"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/cliutil"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// connConfig is the parsed connection part of the command line.
type connConfig struct {
	opts client.Options
	// endpoints are the brokers to try, in order: opts.Endpoint first,
	// then the others of a host list (-h a,b or -L mqtt://a,b/t).
	endpoints  []client.Endpoint
	props      cliutil.PropertySet
	version    mqtt.Version
	disconnect *mqtt.Disconnect
	urlTopic   string // topic from an mqtt(s):// -L URL
	debug      bool   // -d (mosquitto's lines), --trace or --dump
	trace      bool   // --trace or --dump: the detailed packet trace instead
	dump       bool   // --dump: with each packet's bytes
	quiet      bool
	noColor    bool
	// warnings about the command line (ignored options, numbers read
	// with atoi), printed when the command starts unless --quiet.
	warnings []string
}

func (cc *connConfig) v3() bool { return cc.version != mqtt.V5 }

// v5Only lists the given flags that need MQTT 5, by their user-facing name.
func v5Only(c *cli.Context, names map[string]string) []string {
	var given []string
	for flag, shown := range names {
		if c.IsSet(flag) {
			given = append(given, shown)
		}
	}
	return given
}

// parseConn reads the shared options. v5Flags are command-specific flags
// that need MQTT 5 (flag name -> how to show it).
func parseConn(c *cli.Context, e *env, v5Flags map[string]string) (*connConfig, error) {
	name := e.name
	cc := &connConfig{
		debug:   c.Bool(flagDebug) || c.Bool(flagTrace) || c.Bool(flagDump),
		trace:   c.Bool(flagTrace) || c.Bool(flagDump),
		dump:    c.Bool(flagDump),
		quiet:   c.Bool(flagQuiet),
		noColor: c.Bool(flagNoColor),
	}
	// -D properties, gathered by Run into single values.
	for _, spec := range c.StringSlice(flagProperty) {
		words := strings.Split(spec, propSep)
		if len(words) < 3 {
			return nil, usageErr(name, "Error: --property argument given but not enough arguments specified.")
		}
		if err := cliutil.ApplyProperty(&cc.props, words[0], words[1], words[2:]); err != nil {
			return nil, usageErr(name, "%s", err)
		}
	}
	v, err := parseProtocol(c, e, cc, v5Flags)
	if err != nil {
		return nil, err
	}
	cc.version = v
	conn := mqtt.Connect{Version: v, CleanStart: !c.Bool(flagNoClean)}
	if v == mqtt.V5 {
		conn.Props = cc.props.Connect
	}

	// Keep alive, read with atoi as mosquitto does.
	conn.KeepAlive = 60
	if c.IsSet(flagKeepalive) {
		k := cc.atoi(c, flagKeepalive, "-k")
		if k < 5 || k > 65535 {
			return nil, usageErr(name, "Error: Invalid keepalive given, it must be between 5 and 65535 inclusive.")
		}
		conn.KeepAlive = uint16(k)
	}

	// Client identifier.
	if err := parseClientID(c, e, cc, &conn); err != nil {
		return nil, err
	}

	// Session expiry (-x, -c) and the client id it needs.
	if err := parseSession(c, e, cc, &conn); err != nil {
		return nil, err
	}

	// Endpoint, credentials and TLS.
	if err := parseEndpoint(c, e, cc, &conn); err != nil {
		return nil, err
	}

	// Will.
	if err := parseWill(c, e, cc, &conn); err != nil {
		return nil, err
	}

	// Disconnect.
	if err := parseDisconnect(c, e, cc, &conn); err != nil {
		return nil, err
	}
	cc.opts.Connect = conn
	return cc, nil
}

// parseProtocol decides the protocol version as mosquitto 2.0 does: 3.1.1
// unless -V says otherwise, or a -D property (given after any -V; Run's
// resolveOrder dropped an earlier -V) switches to 5. -x never switches: on
// an MQTT 3 connection it is ignored, with a warning. mqkit's own MQTT 5
// options (v5Flags, --disconnect-reason) switch to 5 too, but cannot be
// combined with -V 31/311.
//
// When -V 31/311 comes after -D, the properties meet an MQTT 3 connection.
// mosquitto 2.0.11 then refuses CONNECT and will properties (exit 1:
// "Unable to connect (This feature is not supported.)", "Problem setting
// will") and so does mqkit. The others it ignores in a way that is a bug
// (PUBLISH properties: nothing is published and it exits 0; SUBSCRIBE,
// UNSUBSCRIBE and DISCONNECT ones: it hangs); mqkit leaves them out of
// the packets and warns.
func parseProtocol(c *cli.Context, e *env, cc *connConfig, v5Flags map[string]string) (mqtt.Version, error) {
	name := e.name
	v := mqtt.V311
	explicit := c.IsSet(flagProtocol)
	if explicit {
		var ok bool
		if v, ok = parseVersion(c.String(flagProtocol)); !ok {
			return 0, usageErr(name, "Error: Invalid protocol version argument given.")
		}
	}
	needs := v5Only(c, map[string]string{flagDisconnectReason: "--disconnect-reason"})
	needs = append(needs, v5Only(c, v5Flags)...)
	if len(needs) > 0 {
		if explicit && v != mqtt.V5 {
			return 0, usageErr(name, "Error: %s needs MQTT 5; use -V 5 (or drop -V).", needs[0])
		}
		v = mqtt.V5
	}
	props := &cc.props
	switch {
	case props.IsEmpty():
	case !explicit:
		v = mqtt.V5 // -D switches to MQTT 5, as in mosquitto 2.0
	case v != mqtt.V5:
		if !props.Connect.IsEmpty() {
			return 0, usageErr(name, "Error: CONNECT properties (-D connect) need MQTT 5, but -V %s follows them.", c.String(flagProtocol))
		}
		if !props.Will.IsEmpty() && c.IsSet(flagWillTopic) {
			return 0, usageErr(name, "Error: will properties (-D will) need MQTT 5, but -V %s follows them.", c.String(flagProtocol))
		}
		cc.warnf("Warning: -D properties ignored: they need MQTT 5, and -V %s follows them.", c.String(flagProtocol))
		*props = cliutil.PropertySet{}
	}
	return v, nil
}

// warnf records a warning about the command line, printed (unless
// --quiet) once the command starts.
func (cc *connConfig) warnf(format string, a ...any) {
	cc.warnings = append(cc.warnings, fmt.Sprintf(format, a...))
}

// atoi reads a number option with C's atoi, as mosquitto does ("-k 30s"
// is 30), and warns when the word was more than a number.
func (cc *connConfig) atoi(c *cli.Context, flag, shown string) int {
	s := c.String(flag)
	n, exact := cliutil.Atoi(s)
	if !exact {
		cc.warnf("Warning: %s '%s' read as %d.", shown, s, n)
	}
	return n
}

func parseVersion(s string) (mqtt.Version, bool) {
	switch strings.ToLower(s) {
	case "31", "mqttv31", "3.1":
		return mqtt.V31, true
	case "311", "mqttv311", "3.1.1":
		return mqtt.V311, true
	case "5", "mqttv5", "5.0":
		return mqtt.V5, true
	}
	return 0, false
}

func parseClientID(c *cli.Context, e *env, cc *connConfig, conn *mqtt.Connect) error {
	if c.IsSet(flagID) && c.IsSet(flagIDPrefix) {
		return usageErr(e.name, "Error: -i and -I argument cannot be used together.")
	}
	switch {
	case c.IsSet(flagID):
		conn.ClientID = c.String(flagID)
		if conn.ClientID == "" {
			// mosquitto: "Error: Invalid id." (exit 1).
			return usageErr(e.name, "Error: Invalid client id: it must not be empty (omit -i to let the broker assign one).")
		}
	case c.IsSet(flagIDPrefix):
		conn.ClientID = c.String(flagIDPrefix) + strconv.Itoa(os.Getpid())
	case cc.version == mqtt.V31:
		// 3.1 has no server-assigned identifiers: 1-23 characters.
		conn.ClientID = e.name + "-" + randomID(23-len(e.name)-1)
	}
	return nil
}

const idChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = idChars[int(b[i])%len(idChars)]
	}
	return string(b)
}

// parseSession applies -x and -c as mosquitto 2.0 does. -x is read (and
// checked) whatever the protocol, but only MQTT 5 has a session expiry:
// on 3.1/3.1.1 it is ignored, with a warning. With -c and no -x, an MQTT 5
// session never expires. A session that never expires (MQTT 5) or -c
// (MQTT 3) needs -i: with no client id, or one made from -I's prefix, the
// next connection could not find the session. A finite expiry without -i
// is fine: the broker assigns an identifier.
func parseSession(c *cli.Context, e *env, cc *connConfig, conn *mqtt.Connect) error {
	var x uint32
	xSet := c.IsSet(flagSessionExpiry)
	if xSet {
		s := c.String(flagSessionExpiry)
		n, ok := int64(math.MaxUint32), s == "∞"
		if !ok {
			if n, ok = cliutil.ParseStrtoll(s); !ok {
				return usageErr(e.name, "Error: session-expiry-interval not a number.")
			}
		}
		if n < -1 || n > math.MaxUint32 {
			return usageErr(e.name, "Error: session-expiry-interval out of range.")
		}
		if n == -1 {
			n = math.MaxUint32
		}
		x = uint32(n)
	}
	ownID := c.IsSet(flagID)
	if cc.version != mqtt.V5 {
		if xSet {
			cc.warnf("Warning: -x ignored: the session expiry interval needs MQTT 5 (-V 5).")
		}
		if !conn.CleanStart && !ownID {
			return usageErr(e.name, "Error: You must provide a client id if you are using the -c option.")
		}
		return nil
	}
	if !xSet && !conn.CleanStart {
		x, xSet = math.MaxUint32, true // -c: the session never expires
	}
	if x == math.MaxUint32 && !ownID {
		return usageErr(e.name, "Error: You must provide a client id if you are using an infinite session expiry interval.")
	}
	if !conn.CleanStart && conn.ClientID == "" {
		// mosquitto: "Error: Invalid id." [MQTT-3.1.3-7]: an empty client
		// id needs Clean Start.
		return usageErr(e.name, "Error: You must provide a client id if you are using the -c option.")
	}
	if xSet && x > 0 {
		if conn.Props.Has(mqtt.PropSessionExpiry) {
			return usageErr(e.name, "Error in CONNECT properties: Duplicate property in property list.")
		}
		conn.Props.SetSessionExpiry(x)
	}
	return nil
}

func parseWill(c *cli.Context, e *env, cc *connConfig, conn *mqtt.Connect) error {
	var qos int
	if c.IsSet(flagWillQoS) {
		// Checked even without a will, as in mosquitto.
		if qos = cc.atoi(c, flagWillQoS, "--will-qos"); qos < 0 || qos > 2 {
			return usageErr(e.name, "Error: Invalid will QoS %d.", qos)
		}
	}
	if !c.IsSet(flagWillTopic) {
		switch {
		case c.IsSet(flagWillPayload):
			return usageErr(e.name, "Error: Will payload given, but no will topic given.")
		case c.IsSet(flagWillRetain):
			return usageErr(e.name, "Error: Will retain given, but no will topic given.")
		case c.IsSet(flagWillQoS):
			cc.warnf("Warning: --will-qos ignored: there is no --will-topic.")
		case !cc.props.Will.IsEmpty():
			cc.warnf("Warning: -D will properties ignored: there is no --will-topic.")
		}
		return nil
	}
	topic := c.String(flagWillTopic)
	if mqtt.ValidTopicName(topic) != nil {
		return usageErr(e.name, "Error: Invalid will topic '%s', does it contain '+' or '#'?", topic)
	}
	w := &mqtt.Will{Topic: topic, Payload: []byte(c.String(flagWillPayload)), Retain: c.Bool(flagWillRetain), QoS: mqtt.QoS(qos)}
	if cc.version == mqtt.V5 {
		w.Props = cc.props.Will
	}
	conn.Will = w
	return nil
}

// parseQoS reads -q with atoi, as mosquitto does ("-q 1x" is 1, with a
// warning); the error carries mosquitto's message.
func (cc *connConfig) parseQoS(c *cli.Context, name string) (mqtt.QoS, error) {
	n := cc.atoi(c, flagQoS, "-q")
	if n < 0 || n > 2 {
		return 0, usageErr(name, "Error: Invalid QoS given: %d", n)
	}
	return mqtt.QoS(n), nil
}

// parseQoSWord reads a QoS that is not an option value (--topic-qos).
func parseQoSWord(s string) (mqtt.QoS, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 2 {
		return 0, fmt.Errorf("invalid QoS %q", s)
	}
	return mqtt.QoS(n), nil
}

// clientDisconnectCodes are the DISCONNECT reason codes a client may send
// (MQTT 5.0 table 3-10, "Sent by" Client).
var clientDisconnectCodes = map[mqtt.ReasonCode]bool{
	0x00: true, 0x04: true, 0x80: true, 0x81: true, 0x82: true, 0x83: true,
	0x90: true, 0x93: true, 0x94: true, 0x95: true, 0x96: true, 0x97: true, 0x98: true, 0x99: true,
}

func parseDisconnect(c *cli.Context, e *env, cc *connConfig, conn *mqtt.Connect) error {
	d := &mqtt.Disconnect{}
	if cc.version == mqtt.V5 {
		d.Props = cc.props.Disconnect
	}
	if c.IsSet(flagDisconnectReason) {
		s := c.String(flagDisconnectReason)
		n, err := strconv.ParseUint(s, 0, 8)
		if err != nil || !clientDisconnectCodes[mqtt.ReasonCode(n)] {
			return usageErr(e.name, "Error: Invalid --disconnect-reason '%s': a client may send 0, 4 (with will), 128-131, 144 or 147-153.", s)
		}
		d.Code = mqtt.ReasonCode(n)
	}
	// Raising the session expiry from 0 at DISCONNECT is a protocol error
	// [MQTT-3.14.2-2].
	if d.Props.Has(mqtt.PropSessionExpiry) && d.Props.SessionExpiry != 0 && conn.Props.SessionExpiry == 0 {
		return usageErr(e.name, "Error: -D disconnect session-expiry-interval needs a non-zero session expiry at connect (-x or -c) [MQTT-3.14.2-2].")
	}
	cc.disconnect = d
	return nil
}
