package config

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Bridge is one "connection NAME" section: a link from this broker to a
// remote one (mosquitto's bridges). Every bridge option applies to the
// most recent "connection" line, as in mosquitto.
type Bridge struct {
	Name string
	Pos  Pos // the "connection" line

	// Addresses are the remote brokers (address / addresses). With
	// RoundRobin false (the default) the first is the primary, tried
	// first and returned to once it is back; with true they are equals,
	// used in turn (round_robin).
	Addresses  []BridgeAddress
	RoundRobin bool
	Topics     []BridgeTopic

	// StartType is start_type: automatic (default), lazy or once.
	// Threshold (default 10 messages) and IdleTimeout (default 60
	// seconds) apply to lazy bridges.
	StartType   string
	Threshold   int
	IdleTimeout int

	// LocalClientID (local_clientid, "" = "local."+ClientID()),
	// LocalUsername and LocalPassword identify the bridge's connection to
	// this broker.
	LocalClientID    string
	LocalUsername    string
	LocalPassword    string
	HasLocalPassword bool

	ProtocolVersion string // bridge_protocol_version: mqttv311 (default), mqttv31, mqttv50
	CleanSession    bool   // cleansession, default false
	// RemoteClientID is remote_clientid as configured; "" means
	// mosquitto's default HOSTNAME.NAME (see ClientID).
	RemoteClientID    string
	RemoteUsername    string
	RemotePassword    string
	HasRemotePassword bool
	KeepaliveInterval int // keepalive_interval, default 60 seconds

	// RestartBase and RestartCap are restart_timeout: one value gives a
	// constant delay (RestartCap 0), two values a backoff from base to
	// cap with jitter. The default is 5 and 30 seconds.
	RestartBase time.Duration
	RestartCap  time.Duration

	TryPrivate             bool   // try_private, default true
	Notifications          bool   // notifications, default true
	NotificationTopic      string // notification_topic ("" = $SYS/broker/connection/<id>/state)
	NotificationsLocalOnly bool   // notifications_local_only
	OutgoingRetain         bool   // bridge_outgoing_retain, default true
	// AttemptUnsubscribe (bridge_attempt_unsubscribe, default true): on
	// connecting, unsubscribe on the remote broker from the topics that
	// are "out" only, so that one changed from "in" to "out" stops coming
	// in from a persistent remote session.
	AttemptUnsubscribe bool
	// LocalCleanSession (local_cleansession) is the clean session flag of
	// the bridge's local connection; unless set (LocalCleanSessionSet),
	// cleansession's value (see LocalClean).
	LocalCleanSession    bool
	LocalCleanSessionSet bool

	CAFile     string // bridge_cafile
	CAPath     string // bridge_capath
	CertFile   string // bridge_certfile
	KeyFile    string // bridge_keyfile
	Insecure   bool   // bridge_insecure
	TLSVersion string // bridge_tls_version

	set map[string]Pos // option name -> where it was set
}

// BridgeAddress is one remote broker address.
type BridgeAddress struct {
	Host string
	Port int // default 1883
}

func (a BridgeAddress) String() string { return net.JoinHostPort(a.Host, strconv.Itoa(a.Port)) }

// Bridge topic directions.
const (
	DirectionOut  = "out"
	DirectionIn   = "in"
	DirectionBoth = "both"
)

// BridgeTopic is one "topic PATTERN [in|out|both [QOS [LOCAL-PREFIX
// REMOTE-PREFIX]]]" line. The pattern is subscribed as LocalPrefix+Pattern
// on this broker (out, both) and as RemotePrefix+Pattern on the remote
// one (in, both); a message matching one side's filter has that side's
// prefix replaced by the other's.
type BridgeTopic struct {
	Pattern      string // "" (written `""`) means the prefixes are whole topics
	Direction    string // out (default), in or both
	QoS          byte   // default 0
	LocalPrefix  string
	RemotePrefix string
	Pos          Pos
}

// LocalTopic is the filter subscribed on this broker.
func (t BridgeTopic) LocalTopic() string { return t.LocalPrefix + t.Pattern }

// RemoteTopic is the filter subscribed on the remote broker.
func (t BridgeTopic) RemoteTopic() string { return t.RemotePrefix + t.Pattern }

// In reports whether messages flow from the remote broker to this one.
func (t BridgeTopic) In() bool { return t.Direction == DirectionIn || t.Direction == DirectionBoth }

// Out reports whether messages flow from this broker to the remote one.
func (t BridgeTopic) Out() bool { return t.Direction == DirectionOut || t.Direction == DirectionBoth }

// LocalClean is the clean session flag of the bridge's local
// connection: local_cleansession, or cleansession when it is not set
// (mosquitto's default).
func (b *Bridge) LocalClean() bool {
	if b.LocalCleanSessionSet {
		return b.LocalCleanSession
	}
	return b.CleanSession
}

// TLS reports whether the bridge connects with TLS: as in mosquitto 2.0,
// when bridge_cafile or bridge_capath is set.
func (b *Bridge) TLS() bool { return b.CAFile != "" || b.CAPath != "" }

// ClientID is the client identifier used on the remote broker:
// remote_clientid, or mosquitto's default "HOSTNAME.NAME".
func (b *Bridge) ClientID() string {
	if b.RemoteClientID != "" {
		return b.RemoteClientID
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return host + "." + b.Name
}

// StateTopic is where the connection state is published: notification_topic
// or $SYS/broker/connection/<client id>/state.
func (b *Bridge) StateTopic() string {
	if b.NotificationTopic != "" {
		return b.NotificationTopic
	}
	return "$SYS/broker/connection/" + b.ClientID() + "/state"
}

func newBridge(name string, pos Pos) *Bridge {
	return &Bridge{
		Name: name, Pos: pos,
		ProtocolVersion:    "mqttv311",
		KeepaliveInterval:  60,
		RestartBase:        5 * time.Second,
		RestartCap:         30 * time.Second,
		TryPrivate:         true,
		Notifications:      true,
		OutgoingRetain:     true,
		AttemptUnsubscribe: true,
		StartType:          "automatic",
		Threshold:          10,
		IdleTimeout:        60,
		set:                map[string]Pos{},
	}
}

// bridgeOptions are the handlers of the bridge options (merged into
// options by its init).
func bridgeOptions() map[string]handler {
	return map[string]handler{
		"connection":                 (*parser).optConnection,
		"address":                    (*parser).optAddress,
		"addresses":                  (*parser).optAddress,
		"topic":                      (*parser).optTopic,
		"bridge_protocol_version":    (*parser).optBridgeProtocol,
		"cleansession":               bridgeBool(func(b *Bridge) *bool { return &b.CleanSession }),
		"remote_clientid":            bridgeString(func(b *Bridge) *string { return &b.RemoteClientID }),
		"remote_username":            bridgeString(func(b *Bridge) *string { return &b.RemoteUsername }),
		"remote_password":            (*parser).optRemotePassword,
		"keepalive_interval":         (*parser).optBridgeKeepalive,
		"restart_timeout":            (*parser).optRestartTimeout,
		"try_private":                bridgeBool(func(b *Bridge) *bool { return &b.TryPrivate }),
		"notifications":              bridgeBool(func(b *Bridge) *bool { return &b.Notifications }),
		"notification_topic":         (*parser).optNotificationTopic,
		"notifications_local_only":   bridgeBool(func(b *Bridge) *bool { return &b.NotificationsLocalOnly }),
		"bridge_outgoing_retain":     bridgeBool(func(b *Bridge) *bool { return &b.OutgoingRetain }),
		"bridge_attempt_unsubscribe": bridgeBool(func(b *Bridge) *bool { return &b.AttemptUnsubscribe }),
		"local_cleansession": func(p *parser, a *args) error {
			b, err := p.bridge(a)
			if err != nil {
				return err
			}
			v, err := a.bool()
			if err == nil {
				b.LocalCleanSession, b.LocalCleanSessionSet = v, true
			}
			return err
		},
		"bridge_cafile":      bridgeString(func(b *Bridge) *string { return &b.CAFile }),
		"bridge_capath":      bridgeString(func(b *Bridge) *string { return &b.CAPath }),
		"bridge_certfile":    bridgeString(func(b *Bridge) *string { return &b.CertFile }),
		"bridge_keyfile":     bridgeString(func(b *Bridge) *string { return &b.KeyFile }),
		"bridge_insecure":    bridgeBool(func(b *Bridge) *bool { return &b.Insecure }),
		"bridge_tls_version": (*parser).optBridgeTLSVersion,
		"start_type":         (*parser).optStartType,
		"round_robin":        bridgeBool(func(b *Bridge) *bool { return &b.RoundRobin }),
		"threshold":          bridgeInt(1, 1<<31-1, func(b *Bridge) *int { return &b.Threshold }),
		"idle_timeout":       bridgeInt(1, 1<<31-1, func(b *Bridge) *int { return &b.IdleTimeout }),
		"local_clientid":     bridgeString(func(b *Bridge) *string { return &b.LocalClientID }),
		"local_username":     bridgeString(func(b *Bridge) *string { return &b.LocalUsername }),
		"local_password": func(p *parser, a *args) error {
			b, err := p.bridge(a)
			if err != nil {
				return err
			}
			if err := p.setString(a, &b.LocalPassword); err != nil {
				return err
			}
			b.HasLocalPassword = true
			return nil
		},
	}
}

// bridge returns the bridge that bridge options apply to.
func (p *parser) bridge(a *args) (*Bridge, error) {
	if p.curBridge == nil {
		return nil, a.errf("bridge option before any \"connection NAME\" line")
	}
	p.curBridge.set[a.name] = a.pos
	return p.curBridge, nil
}

func bridgeBool(field func(*Bridge) *bool) handler {
	return func(p *parser, a *args) error {
		b, err := p.bridge(a)
		if err != nil {
			return err
		}
		v, err := a.bool()
		if err == nil {
			*field(b) = v
		}
		return err
	}
}

func bridgeInt(lo, hi int, field func(*Bridge) *int) handler {
	return func(p *parser, a *args) error {
		b, err := p.bridge(a)
		if err != nil {
			return err
		}
		v, err := a.intRange(lo, hi)
		if err == nil {
			*field(b) = v
		}
		return err
	}
}

func bridgeString(field func(*Bridge) *string) handler {
	return func(p *parser, a *args) error {
		b, err := p.bridge(a)
		if err != nil {
			return err
		}
		return p.setString(a, field(b))
	}
}

func (p *parser) optConnection(a *args) error {
	name, err := a.one()
	if err != nil {
		return err
	}
	for _, b := range p.cfg.Bridges {
		if b.Name == name {
			return a.errf("duplicate bridge name %q (already at %s)", name, b.Pos)
		}
	}
	b := newBridge(name, a.pos)
	p.cfg.Bridges = append(p.cfg.Bridges, b)
	p.curBridge = b
	return nil
}

// optAddress handles "address HOST[:PORT]" and "addresses HOST[:PORT] ...".
func (p *parser) optAddress(a *args) error {
	b, err := p.bridge(a)
	if err != nil {
		return err
	}
	if len(b.Addresses) > 0 {
		return a.errf("duplicate address/addresses value in bridge %q", b.Name)
	}
	v := a.values()
	if len(v) == 0 {
		return a.errf("missing value")
	}
	for _, s := range v {
		addr, err := parseBridgeAddress(s)
		if err != nil {
			return a.errf("%v", err)
		}
		b.Addresses = append(b.Addresses, addr)
	}
	return nil
}

func parseBridgeAddress(s string) (BridgeAddress, error) {
	host, port := s, "1883"
	switch {
	case strings.HasPrefix(s, "["): // [IPv6]:port, an mqbroker extension
		h, pt, err := net.SplitHostPort(s)
		if err != nil {
			h, pt = strings.Trim(s, "[]"), "1883"
		}
		host, port = h, pt
	case strings.Count(s, ":") == 1:
		host, port, _ = strings.Cut(s, ":")
	}
	n, err := strconv.Atoi(port)
	if host == "" || err != nil || n < 1 || n > 65535 {
		return BridgeAddress{}, fmt.Errorf("invalid address %q: want HOST[:PORT]", s)
	}
	return BridgeAddress{Host: host, Port: n}, nil
}

// optTopic parses "topic PATTERN [in|out|both [QOS [LOCAL-PREFIX
// REMOTE-PREFIX]]]", where `""` is an empty pattern or prefix. The pattern
// itself may be "#", so a '#' token is a comment only after it.
func (p *parser) optTopic(a *args) error {
	b, err := p.bridge(a)
	if err != nil {
		return err
	}
	f := a.fields
	for i := 1; i < len(f); i++ {
		if strings.HasPrefix(f[i], "#") {
			f = f[:i]
			break
		}
	}
	if len(f) == 0 {
		return a.errf("missing topic pattern")
	}
	if len(f) > 5 {
		return a.errf("unexpected extra value %q (want: topic PATTERN [in|out|both [QOS [LOCAL-PREFIX REMOTE-PREFIX]]])", f[5])
	}
	unquote := func(s string) string {
		if s == `""` {
			return ""
		}
		return s
	}
	t := BridgeTopic{Pattern: unquote(f[0]), Direction: DirectionOut, Pos: a.pos}
	if len(f) > 1 {
		switch d := strings.ToLower(f[1]); d {
		case DirectionOut, DirectionIn, DirectionBoth:
			t.Direction = d
		default:
			return a.errf("invalid direction %q: must be in, out or both", f[1])
		}
	}
	if len(f) > 2 {
		switch f[2] {
		case "0", "1", "2":
			t.QoS = f[2][0] - '0'
		default:
			return a.errf("invalid QoS %q: must be 0, 1 or 2", f[2])
		}
	}
	if len(f) > 3 {
		t.LocalPrefix = unquote(f[3])
	}
	if len(f) > 4 {
		t.RemotePrefix = unquote(f[4])
	}
	for _, pf := range []struct{ name, v string }{{"local", t.LocalPrefix}, {"remote", t.RemotePrefix}} {
		if strings.ContainsAny(pf.v, "+#") || !utf8.ValidString(pf.v) {
			return a.errf("invalid %s prefix %q: no wildcards allowed", pf.name, pf.v)
		}
	}
	if t.Pattern == "" && (t.LocalPrefix == "" || t.RemotePrefix == "") {
		// mosquitto: an empty pattern needs both prefixes, which are then
		// the whole local and remote topics.
		return a.errf(`an empty pattern ("") needs a local and a remote prefix`)
	}
	for _, filter := range []string{t.LocalTopic(), t.RemoteTopic()} {
		if err := mqtt.ValidTopicFilter(filter); err != nil {
			return a.errf("invalid topic filter %q", filter)
		}
	}
	b.Topics = append(b.Topics, t)
	return nil
}

func (p *parser) optBridgeProtocol(a *args) error {
	b, err := p.bridge(a)
	if err != nil {
		return err
	}
	v, err := a.oneOf("mqttv311", "mqttv31", "mqttv50")
	if err != nil {
		return err
	}
	b.ProtocolVersion = v
	return nil
}

func (p *parser) optRemotePassword(a *args) error {
	b, err := p.bridge(a)
	if err != nil {
		return err
	}
	if err := p.setString(a, &b.RemotePassword); err != nil {
		return err
	}
	b.HasRemotePassword = true
	return nil
}

func (p *parser) optBridgeKeepalive(a *args) error {
	b, err := p.bridge(a)
	if err != nil {
		return err
	}
	n, err := a.intRange(0, 65535)
	if err != nil {
		return err
	}
	if n != 0 && n < 5 {
		// mosquitto raises values below 5 to 5.
		p.warnf(a, "keepalive_interval %d is too low, using 5 seconds", n)
		n = 5
	}
	b.KeepaliveInterval = n
	return nil
}

// optRestartTimeout parses "restart_timeout CONSTANT" or
// "restart_timeout BASE CAP" (seconds).
func (p *parser) optRestartTimeout(a *args) error {
	b, err := p.bridge(a)
	if err != nil {
		return err
	}
	v := a.values()
	if len(v) == 0 || len(v) > 2 {
		return a.errf("want one value or two (restart_timeout BASE CAP)")
	}
	var n [2]int
	for i, s := range v {
		if n[i], err = strconv.Atoi(s); err != nil || n[i] < 1 {
			return a.errf("invalid value %q: must be a positive number of seconds", s)
		}
	}
	b.RestartBase, b.RestartCap = time.Duration(n[0])*time.Second, 0
	if len(v) == 2 {
		if n[1] < n[0] {
			return a.errf("cap %d is below base %d", n[1], n[0])
		}
		b.RestartCap = time.Duration(n[1]) * time.Second
	}
	return nil
}

func (p *parser) optNotificationTopic(a *args) error {
	b, err := p.bridge(a)
	if err != nil {
		return err
	}
	if err := p.setString(a, &b.NotificationTopic); err != nil {
		return err
	}
	if mqtt.ValidTopicName(b.NotificationTopic) != nil {
		return a.errf("invalid topic %q", b.NotificationTopic)
	}
	return nil
}

func (p *parser) optBridgeTLSVersion(a *args) error {
	b, err := p.bridge(a)
	if err != nil {
		return err
	}
	v, err := a.oneOf(tlsVersions...)
	if err != nil {
		return err
	}
	b.TLSVersion = v
	return nil
}

func (p *parser) optStartType(a *args) error {
	b, err := p.bridge(a)
	if err != nil {
		return err
	}
	v, err := a.oneOf("automatic", "lazy", "once")
	if err != nil {
		return err
	}
	b.StartType = v
	return nil
}

// LocalID is the client identifier of the bridge's local connection:
// local_clientid, or mosquitto's default "local.<remote client id>".
func (b *Bridge) LocalID() string {
	if b.LocalClientID != "" {
		return b.LocalClientID
	}
	return "local." + b.ClientID()
}

// validate checks one bridge's options against each other.
func (b *Bridge) validate() error {
	fail := func(option, format string, v ...any) error {
		pos, ok := b.set[option]
		if !ok {
			pos = b.Pos
		}
		return &Error{Pos: pos, Option: option, Msg: fmt.Sprintf(format, v...) + fmt.Sprintf(" (bridge %s)", b.Name)}
	}
	if len(b.Addresses) == 0 {
		return &Error{Pos: b.Pos, Option: "connection", Msg: fmt.Sprintf("bridge %s has no address", b.Name)}
	}
	if len(b.Topics) == 0 {
		return &Error{Pos: b.Pos, Option: "connection", Msg: fmt.Sprintf("bridge %s has no topic", b.Name)}
	}
	if b.HasRemotePassword && b.RemoteUsername == "" && b.ProtocolVersion != "mqttv50" {
		return fail("remote_password", "needs remote_username")
	}
	if b.LocalID() == b.ClientID() {
		// mosquitto.conf(5): a bridge to this very broker needs
		// different local and remote client ids; with the same one the
		// two connections would take each other over.
		return fail("local_clientid", "is the same as the remote client id %q", b.ClientID())
	}
	switch {
	case b.CertFile != "" && b.KeyFile == "":
		return fail("bridge_certfile", "bridge_keyfile is required with bridge_certfile")
	case b.KeyFile != "" && b.CertFile == "":
		return fail("bridge_keyfile", "bridge_certfile is required with bridge_keyfile")
	}
	if !b.TLS() {
		for _, o := range []struct {
			name string
			set  bool
		}{
			{"bridge_certfile", b.CertFile != ""}, {"bridge_insecure", b.Insecure},
			{"bridge_tls_version", b.TLSVersion != ""},
		} {
			if o.set {
				return fail(o.name, "needs bridge_cafile or bridge_capath (which turn TLS on)")
			}
		}
	}
	return nil
}

// OptionPos returns where the bridge option name was set, or the bridge's
// "connection" line when it was not.
func (b *Bridge) OptionPos(name string) Pos {
	if p, ok := b.set[name]; ok {
		return p
	}
	return b.Pos
}
