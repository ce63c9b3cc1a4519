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
	opts       client.Options
	props      cliutil.PropertySet
	version    mqtt.Version
	disconnect *mqtt.Disconnect
	urlTopic   string // topic from an mqtt(s):// -L URL
	debug      bool
	dump       bool
	quiet      bool
	noColor    bool
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
		debug:   c.Bool(flagDebug) || c.Bool(flagDump),
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

	// Protocol version. -D, -x and the other MQTT 5 options switch to v5
	// (as -D does in mosquitto 2.0 and -x in 2.1), but conflict with an
	// explicit -V 31/311.
	v := mqtt.V311
	if c.IsSet(flagProtocol) {
		var ok bool
		if v, ok = parseVersion(c.String(flagProtocol)); !ok {
			return nil, usageErr(name, "Error: Invalid protocol version argument given.")
		}
	}
	needs := v5Only(c, map[string]string{flagSessionExpiry: "-x", flagDisconnectReason: "--disconnect-reason"})
	needs = append(needs, v5Only(c, v5Flags)...)
	if !cc.props.IsEmpty() {
		needs = append(needs, "-D")
	}
	if len(needs) > 0 {
		if c.IsSet(flagProtocol) && v != mqtt.V5 {
			return nil, usageErr(name, "Error: %s needs MQTT 5; use -V 5 (or drop -V).", needs[0])
		}
		v = mqtt.V5
	}
	cc.version = v
	conn := mqtt.Connect{Version: v, CleanStart: !c.Bool(flagNoClean)}
	if v == mqtt.V5 {
		conn.Props = cc.props.Connect
	}

	// Keep alive.
	conn.KeepAlive = 60
	if c.IsSet(flagKeepalive) {
		k, err := strconv.Atoi(c.String(flagKeepalive))
		if err != nil || k < 5 || k > 65535 {
			return nil, usageErr(name, "Error: Invalid keepalive given, it must be between 5 and 65535 inclusive.")
		}
		conn.KeepAlive = uint16(k)
	}

	// Client identifier.
	if err := parseClientID(c, e, cc, &conn); err != nil {
		return nil, err
	}

	// Session expiry (v5).
	if err := parseSessionExpiry(c, e, cc, &conn); err != nil {
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
			return usageErr(e.name, "Error: Invalid client id: it must not be empty (omit -i to let the broker assign one).")
		}
	case c.IsSet(flagIDPrefix):
		conn.ClientID = c.String(flagIDPrefix) + strconv.Itoa(os.Getpid())
	case cc.version == mqtt.V31:
		// 3.1 has no server-assigned identifiers: 1-23 characters.
		conn.ClientID = e.name + "-" + randomID(23-len(e.name)-1)
	}
	// [MQTT-3.1.3-7]: an empty id needs a clean session.
	if !conn.CleanStart && conn.ClientID == "" {
		return usageErr(e.name, "Error: You must provide a client id if you are using the -c option.")
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

// parseSessionExpiry applies -x and -c's default (never expire) for v5.
func parseSessionExpiry(c *cli.Context, e *env, cc *connConfig, conn *mqtt.Connect) error {
	if cc.version != mqtt.V5 {
		return nil
	}
	if c.IsSet(flagSessionExpiry) {
		x, err := parseExpiry(c.String(flagSessionExpiry))
		if err != nil {
			return usageErr(e.name, "Error: Invalid session-expiry-interval '%s': use 0-4294967295, -1 or ∞.", c.String(flagSessionExpiry))
		}
		conn.Props.SetSessionExpiry(x)
	} else if !conn.CleanStart && !conn.Props.Has(mqtt.PropSessionExpiry) {
		conn.Props.SetSessionExpiry(math.MaxUint32) // -c: the session never expires
	}
	if conn.Props.SessionExpiry > 0 && conn.ClientID == "" {
		return usageErr(e.name, "Error: You must provide a client id if you are using a session expiry interval (-x).")
	}
	return nil
}

func parseExpiry(s string) (uint32, error) {
	switch s {
	case "-1", "∞":
		return math.MaxUint32, nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err
}

func parseWill(c *cli.Context, e *env, cc *connConfig, conn *mqtt.Connect) error {
	if !c.IsSet(flagWillTopic) {
		switch {
		case c.IsSet(flagWillPayload):
			return usageErr(e.name, "Error: Will payload given, but no will topic given.")
		case c.IsSet(flagWillRetain):
			return usageErr(e.name, "Error: Will retain given, but no will topic given.")
		case c.IsSet(flagWillQoS):
			return usageErr(e.name, "Error: Will QoS given, but no will topic given.")
		case !cc.props.Will.IsEmpty():
			return usageErr(e.name, "Error: will properties given (-D will ...), but no will topic given.")
		}
		return nil
	}
	topic := c.String(flagWillTopic)
	if mqtt.ValidTopicName(topic) != nil {
		return usageErr(e.name, "Error: Invalid will topic '%s', does it contain '+' or '#'?", topic)
	}
	w := &mqtt.Will{Topic: topic, Payload: []byte(c.String(flagWillPayload)), Retain: c.Bool(flagWillRetain)}
	if c.IsSet(flagWillQoS) {
		q, err := parseQoS(c.String(flagWillQoS))
		if err != nil {
			return usageErr(e.name, "Error: Invalid will QoS %s.", c.String(flagWillQoS))
		}
		w.QoS = q
	}
	if cc.version == mqtt.V5 {
		w.Props = cc.props.Will
	}
	conn.Will = w
	return nil
}

func parseQoS(s string) (mqtt.QoS, error) {
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
