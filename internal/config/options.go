package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Value rules follow mosquitto 2.0 (src/conf.c) unless noted: the same
// ranges, the same clamping of negative values, the same duplicate-string
// rule. Stricter than mosquitto: numbers must be integers (mosquitto uses
// atoi, so "10x" is 10) and a single-valued option with a second value
// that is not a '#' comment is an error (mosquitto ignores it).

type handler func(p *parser, a *args) error

var options map[string]handler

func init() {
	options = map[string]handler{
		// Listeners.
		"listener":                 (*parser).optListener,
		"port":                     (*parser).optPort,
		"bind_address":             (*parser).optBindAddress,
		"protocol":                 (*parser).optProtocol,
		"certfile":                 listenerString(func(l *Listener) *string { return &l.CertFile }),
		"keyfile":                  listenerString(func(l *Listener) *string { return &l.KeyFile }),
		"cafile":                   listenerString(func(l *Listener) *string { return &l.CAFile }),
		"capath":                   listenerString(func(l *Listener) *string { return &l.CAPath }),
		"crlfile":                  listenerString(func(l *Listener) *string { return &l.CRLFile }),
		"require_certificate":      listenerBool(func(l *Listener) *bool { return &l.RequireCertificate }),
		"use_identity_as_username": listenerBool(func(l *Listener) *bool { return &l.UseIdentityAsUsername }),
		"use_username_as_clientid": listenerBool(func(l *Listener) *bool { return &l.UseUsernameAsClientID }),
		"tls_version":              (*parser).optTLSVersion,
		"max_connections":          (*parser).optMaxConnections,
		"max_qos":                  (*parser).optMaxQoS,
		"maximum_qos":              (*parser).optMaxQoS,
		"max_topic_alias":          (*parser).optMaxTopicAlias,
		"websockets_path":          (*parser).optWebsocketsPath,
		"websockets_origin":        (*parser).optWebsocketsOrigin,
		"mount_point":              (*parser).optMountPoint,
		"enable_proxy_protocol":    (*parser).optEnableProxyProtocol,
		"proxy_protocol_v2_require_tls": func(p *parser, a *args) error {
			l, err := p.listenerRequired(a)
			if err != nil {
				return err
			}
			v, err := a.bool()
			l.ProxyV2RequireTLS = v
			return err
		},
		"accept_protocol_versions": (*parser).optAcceptProtocolVersions,

		// Security (per listener with per_listener_settings true).
		"per_listener_settings": (*parser).optPerListenerSettings,
		"allow_anonymous":       (*parser).optAllowAnonymous,
		"password_file":         securityString(func(s *Security) *string { return &s.PasswordFile }),
		"acl_file":              securityString(func(s *Security) *string { return &s.ACLFile }),
		"auto_id_prefix":        securityString(func(s *Security) *string { return &s.AutoIDPrefix }),
		"allow_zero_length_clientid": func(p *parser, a *args) error {
			v, err := a.bool()
			if err == nil {
				p.security(a).AllowZeroLengthClientID = v
			}
			return err
		},

		// Persistence.
		"persistence":          globalBool(func(c *Config) *bool { return &c.Persistence }),
		"retained_persistence": globalBool(func(c *Config) *bool { return &c.Persistence }),
		"persistence_location": globalString(func(c *Config) *string { return &c.PersistenceLocation }),
		"persistence_file":     (*parser).optPersistenceFile,
		"autosave_interval": func(p *parser, a *args) error {
			n, err := a.int()
			p.cfg.AutosaveInterval = time.Duration(max(n, 0)) * time.Second
			return err
		},
		"persistent_client_expiration": (*parser).optClientExpiration,

		// Limits.
		"global_max_clients": func(p *parser, a *args) error {
			n, err := a.int()
			p.cfg.GlobalMaxClients = max(n, -1) // negative = unlimited
			return err
		},
		"global_max_connections": func(p *parser, a *args) error {
			n, err := a.int()
			p.cfg.GlobalMaxConnections = max(n, -1)
			return err
		},
		"max_keepalive": func(p *parser, a *args) error {
			n, err := a.intRange(10, 65535)
			p.cfg.MaxKeepalive = uint16(n)
			return err
		},
		"max_packet_size": func(p *parser, a *args) error {
			n, err := a.intRange(20, maxPacket)
			p.cfg.MaxPacketSize = uint32(n)
			return err
		},
		"topic_hierarchy_limit": func(p *parser, a *args) error {
			n, err := a.int()
			if err == nil && (n == 0 || n < -1) {
				return a.errf("must be at least 1, or -1 for no limit, got %d", n)
			}
			p.cfg.TopicHierarchyLimit = n
			return err
		},
		"max_topic_length": func(p *parser, a *args) error {
			n, err := a.intRange(1, 65535)
			p.cfg.MaxTopicLength = n
			return err
		},
		"message_size_limit": func(p *parser, a *args) error {
			n, err := a.intRange(0, maxPayload)
			p.cfg.MessageSizeLimit = uint32(n)
			return err
		},
		"max_inflight_messages": func(p *parser, a *args) error {
			n, err := a.int()
			if err != nil {
				return err
			}
			if n > 65535 {
				return a.errf("must be at most 65535, got %d", n)
			}
			if n < 0 || n == 65535 { // mosquitto: both mean unlimited
				n = 0
			}
			p.cfg.MaxInflightMessages = uint16(n)
			return nil
		},
		"max_queued_messages": func(p *parser, a *args) error {
			n, err := a.int()
			p.cfg.MaxQueuedMessages = max(n, 0)
			return err
		},
		"max_queued_bytes": func(p *parser, a *args) error {
			v, err := a.one()
			if err != nil {
				return err
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return a.errf("invalid value %q: must be an integer", v)
			}
			p.cfg.MaxQueuedBytes = max(n, 0)
			return nil
		},
		"max_inflight_bytes": func(p *parser, a *args) error {
			v, err := a.one()
			if err != nil {
				return err
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return a.errf("invalid value %q: must be an integer", v)
			}
			p.cfg.MaxInflightBytes = max(n, 0) // mosquitto: negative = 0 = unlimited
			return nil
		},
		"check_retain_source":  globalBool(func(c *Config) *bool { return &c.CheckRetainSource }),
		"upgrade_outgoing_qos": globalBool(func(c *Config) *bool { return &c.UpgradeOutgoingQoS }),
		"retain_available":     globalBool(func(c *Config) *bool { return &c.RetainAvailable }),
		"http_allow_publish":   globalBool(func(c *Config) *bool { return &c.HTTPAllowPublish }),
		"sys_interval": func(p *parser, a *args) error {
			n, err := a.intRange(0, 65535)
			p.cfg.SysInterval = time.Duration(n) * time.Second
			return err
		},

		// Logging and process.
		"log_dest":            (*parser).optLogDest,
		"log_type":            (*parser).optLogType,
		"log_timestamp":       globalBool(func(c *Config) *bool { return &c.LogTimestamp }),
		"connection_messages": globalBool(func(c *Config) *bool { return &c.ConnectionMessages }),
		"set_tcp_nodelay":     globalBool(func(c *Config) *bool { return &c.SetTCPNoDelay }),
		"pid_file":            globalString(func(c *Config) *string { return &c.PIDFile }),
		"user":                (*parser).optUser,
		"include_dir":         (*parser).includeDir,
	}
	for name, h := range bridgeOptions() {
		options[name] = h
	}
}

const (
	maxPayload = 268435455      // largest remaining length [MQTT-2.2.3]
	maxPacket  = maxPayload + 5 // plus the fixed header
)

const bridgeUnsupported = "this bridge option is not implemented; see the README for the supported ones"

// unsupportedReason explains why a known mosquitto option is rejected; ""
// means the option is unknown.
func unsupportedReason(name string) string {
	switch {
	case strings.HasPrefix(name, "bridge_"):
		return bridgeUnsupported
	case strings.HasPrefix(name, "auth_opt_"), strings.HasPrefix(name, "plugin_opt_"):
		return "plugins are not supported"
	}
	return unsupported[name]
}

var unsupported = map[string]string{
	// Bridge options not implemented (the others are in bridge.go).
	"clientid": bridgeUnsupported, "username": bridgeUnsupported, "password": bridgeUnsupported,
	// Plugins.
	"plugin": "plugins are not supported", "auth_plugin": "plugins are not supported",
	"auth_plugin_deny_special_chars": "plugins are not supported",
	"global_plugin":                  "plugins are not supported",
	// TLS variants.
	"psk_file": "TLS-PSK is not supported", "psk_hint": "TLS-PSK is not supported",
	"ciphers":                 "OpenSSL cipher lists are not supported; Go's TLS defaults apply",
	"ciphers_tls1.3":          "OpenSSL cipher lists are not supported; Go's TLS defaults apply",
	"dhparamfile":             "DH parameters are not used by Go's TLS",
	"tls_engine":              "OpenSSL engines are not supported",
	"tls_engine_kpass_sha1":   "OpenSSL engines are not supported",
	"tls_keyform":             "OpenSSL engines are not supported",
	"use_subject_as_username": "only use_identity_as_username is supported",
	// Listener variants.
	"http_dir":       "serving files over HTTP is not supported",
	"socket_domain":  "socket_domain is not supported; give an IPv4 or IPv6 bind address instead",
	"bind_interface": "bind_interface is not supported; give a bind address instead",
	// Other mosquitto options.
	"memory_limit":             "memory_limit is not supported",
	"queue_qos0_messages":      "queue_qos0_messages is not supported",
	"clientid_prefixes":        "clientid_prefixes is not supported",
	"allow_duplicate_messages": "allow_duplicate_messages is deprecated in mosquitto and not supported",
	"autosave_on_changes":      "autosave_on_changes is not supported",
	"log_facility":             "log_facility is not supported",
	"log_timestamp_format":     "log_timestamp_format is not supported",
	"websockets_log_level":     "websockets_log_level is not supported",
	"websockets_headers_size":  "websockets_headers_size is not supported",
	"retry_interval":           "retry_interval was removed from mosquitto",
}

func listenerString(field func(*Listener) *string) handler {
	return func(p *parser, a *args) error { return p.setString(a, field(p.listener(a))) }
}

func listenerBool(field func(*Listener) *bool) handler {
	return func(p *parser, a *args) error {
		v, err := a.bool()
		if err == nil {
			*field(p.listener(a)) = v
		}
		return err
	}
}

func securityString(field func(*Security) *string) handler {
	return func(p *parser, a *args) error { return p.setString(a, field(p.security(a))) }
}

func globalBool(field func(*Config) *bool) handler {
	return func(p *parser, a *args) error {
		v, err := a.bool()
		if err == nil {
			*field(p.cfg) = v
		}
		return err
	}
}

func globalString(field func(*Config) *string) handler {
	return func(p *parser, a *args) error { return p.setString(a, field(p.cfg)) }
}

// optListener handles "listener PORT [ADDRESS]".
func (p *parser) optListener(a *args) error {
	v := a.values()
	if len(v) == 0 {
		return a.errf("missing port")
	}
	if len(v) > 2 {
		return a.errf("unexpected extra value %q (want: listener PORT [ADDRESS])", v[2])
	}
	port, err := strconv.Atoi(v[0])
	if err != nil || port < 0 || port > 65535 {
		return a.errf("invalid port %q: must be 0-65535", v[0])
	}
	l := newListener(a.pos)
	l.Port = port
	if len(v) == 2 {
		if strings.HasPrefix(v[1], "/") || strings.HasPrefix(v[1], ".") {
			// mosquitto: port 0 and a path make a unix socket listener.
			if port != 0 {
				return a.errf("a unix socket listener takes port 0: listener 0 %s", v[1])
			}
			l.Unix = v[1]
		} else {
			l.Bind = strings.Trim(v[1], "[]")
		}
	}
	p.cfg.Listeners = append(p.cfg.Listeners, l)
	p.cur = l
	return nil
}

// optPort sets the default listener's port (deprecated in mosquitto 2.0).
func (p *parser) optPort(a *args) error {
	n, err := a.intRange(1, 65535)
	if err != nil {
		return err
	}
	if _, again := p.def.set["port"]; again {
		p.warnf(a, "default listener port given more than once; the last one is used")
	}
	p.listenerDefault(a).Port = n
	p.warnf(a, "deprecated; use 'listener %d' instead", n)
	return nil
}

func (p *parser) optBindAddress(a *args) error {
	l := p.listenerDefault(a)
	if err := p.setString(a, &l.Bind); err != nil {
		return err
	}
	l.Bind = strings.Trim(l.Bind, "[]")
	p.warnf(a, "deprecated; use 'listener PORT ADDRESS' instead")
	return nil
}

// listenerDefault returns the default listener whatever the current one.
func (p *parser) listenerDefault(a *args) *Listener {
	if !p.defMade {
		p.def.Pos = a.pos
	}
	p.defMade = true
	p.def.set[a.name] = a.pos
	return p.def
}

func (p *parser) optProtocol(a *args) error {
	v, err := a.oneOf(string(ProtocolMQTT), string(ProtocolWebsockets), string(ProtocolHTTP))
	if err != nil {
		return err
	}
	p.listener(a).Protocol = Protocol(v)
	return nil
}

// tlsVersions are the values of tls_version and bridge_tls_version.
var tlsVersions = []string{"tlsv1.3", "tlsv1.2", "tlsv1.1"}

func (p *parser) optTLSVersion(a *args) error {
	v, err := a.oneOf(tlsVersions...)
	if err != nil {
		return err
	}
	l := p.listener(a)
	if prev, dup := p.strPos[&l.TLSVersion]; dup {
		return a.errf("duplicate value (already set at %s)", prev)
	}
	p.strPos[&l.TLSVersion] = a.pos
	l.TLSVersion = v
	return nil
}

func (p *parser) optMaxConnections(a *args) error {
	n, err := a.int()
	if err == nil {
		p.listener(a).MaxConnections = max(n, -1) // mosquitto: negative = unlimited
	}
	return err
}

func (p *parser) optMaxQoS(a *args) error {
	v, err := a.one()
	if err != nil {
		return err
	}
	switch v {
	case "0", "1", "2":
		p.listener(a).MaxQoS = v[0] - '0'
		return nil
	}
	return a.errf("must be 0, 1 or 2")
}

func (p *parser) optMaxTopicAlias(a *args) error {
	n, err := a.intRange(0, 65535)
	if err == nil {
		p.listener(a).MaxTopicAlias = uint16(n)
	}
	return err
}

func (p *parser) optWebsocketsPath(a *args) error {
	v, err := a.one()
	if err != nil {
		return err
	}
	if !strings.HasPrefix(v, "/") {
		return a.errf("must start with '/', got %q", v)
	}
	l := p.listener(a)
	if prev, dup := p.strPos[&l.WebsocketsPath]; dup {
		return a.errf("duplicate value (already set at %s)", prev)
	}
	p.strPos[&l.WebsocketsPath] = a.pos
	l.WebsocketsPath = v
	return nil
}

func (p *parser) optWebsocketsOrigin(a *args) error {
	v, err := a.one()
	if err != nil {
		return err
	}
	l := p.listener(a)
	l.WebsocketsOrigins = append(l.WebsocketsOrigins, v)
	return nil
}

// optMountPoint handles "mount_point PREFIX" (the rest of the line, as
// mosquitto reads it). Like mosquitto it must follow a "listener" line and
// be a valid topic name (no wildcards); it is a plain prefix, so without
// a trailing '/' it glues onto the client's first topic level (a warning
// says so).
func (p *parser) optMountPoint(a *args) error {
	if p.cur == p.def {
		return a.errf("must follow a \"listener\" line")
	}
	v, err := a.str()
	if err != nil {
		return err
	}
	if err := validMountPoint(v); err != nil {
		return a.errf("%v", err)
	}
	if err := p.setString(a, &p.listener(a).MountPoint); err != nil {
		return err
	}
	if !strings.HasSuffix(v, "/") {
		p.warnf(a, "%q does not end with '/': a client's topic \"x\" becomes \"%sx\"", v, v)
	}
	return nil
}

// validMountPoint checks a mount_point value: a topic name (mosquitto
// checks it with mosquitto_pub_topic_check) that does not start with
// "$share/", which would make mounted filters look like shared
// subscriptions.
func validMountPoint(v string) error {
	switch {
	case strings.ContainsAny(v, "+#"):
		return fmt.Errorf("invalid value %q: a mount point must not contain the wildcards '+' and '#'", v)
	case mqtt.ValidTopicName(v) != nil:
		return fmt.Errorf("invalid value %q: a mount point must be a valid topic name (UTF-8 without U+0000, at most 65535 bytes)", v)
	case strings.HasPrefix(v, mqtt.SharePrefix):
		return fmt.Errorf("invalid value %q: a mount point must not start with %q", v, mqtt.SharePrefix)
	}
	return nil
}

// listenerRequired returns the current listener for an option that, as
// in mosquitto (REQUIRE_LISTENER), needs a listener to exist already: a
// "listener" line or a default-listener option before it.
func (p *parser) listenerRequired(a *args) (*Listener, error) {
	if p.cur == p.def && !p.defMade {
		return nil, a.errf("requires a listener to be defined first")
	}
	return p.listener(a), nil
}

// optEnableProxyProtocol handles "enable_proxy_protocol 1|2".
func (p *parser) optEnableProxyProtocol(a *args) error {
	l, err := p.listenerRequired(a)
	if err != nil {
		return err
	}
	v, err := a.one()
	if err != nil {
		return err
	}
	if v != "1" && v != "2" {
		return a.errf("must be 1 or 2")
	}
	l.ProxyProtocol = int(v[0] - '0')
	return nil
}

// optAcceptProtocolVersions handles "accept_protocol_versions 3,4,5":
// protocol levels separated by commas and/or blanks (as mosquitto), only
// after a "listener" line; the last one given wins. Stricter than
// mosquitto, which ignores anything but 3, 4 and 5: another value is an
// error.
func (p *parser) optAcceptProtocolVersions(a *args) error {
	if p.cur == p.def {
		return a.errf("must follow a \"listener\" line")
	}
	var seen [6]bool
	var vs []int
	for _, f := range strings.FieldsFunc(strings.Join(a.values(), " "), func(r rune) bool { return r == ',' || r == ' ' }) {
		if f != "3" && f != "4" && f != "5" {
			return a.errf("invalid value %q: must be 3 (MQTT 3.1), 4 (3.1.1) or 5 (5.0)", f)
		}
		seen[f[0]-'0'] = true
	}
	for v := 3; v <= 5; v++ {
		if seen[v] {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return a.errf("missing value")
	}
	p.listener(a).AcceptProtocolVersions = vs
	return nil
}

func (p *parser) optPerListenerSettings(a *args) error {
	v, err := a.bool()
	if err != nil {
		return err
	}
	if v && p.secSeen {
		return a.errf("must be set before any other security settings")
	}
	p.cfg.PerListenerSettings = v
	return nil
}

func (p *parser) optAllowAnonymous(a *args) error {
	v, err := a.bool()
	if err != nil {
		return err
	}
	s := p.security(a)
	s.AllowAnonymous, s.AllowAnonymousSet = v, true
	return nil
}

func (p *parser) optPersistenceFile(a *args) error {
	return p.setString(a, &p.cfg.PersistenceFile) // replaces the default "mosquitto.db"
}

// optClientExpiration parses N followed by h, d, w, m (30 days) or y
// (365 days), N > 0.
func (p *parser) optClientExpiration(a *args) error {
	v, err := a.one()
	if err != nil {
		return err
	}
	units := map[byte]time.Duration{'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour,
		'm': 30 * 24 * time.Hour, 'y': 365 * 24 * time.Hour}
	unit, ok := units[v[len(v)-1]]
	n, nerr := strconv.Atoi(v[:len(v)-1])
	if !ok || nerr != nil || n <= 0 || time.Duration(n) > time.Duration(1<<62)/unit {
		return a.errf("invalid duration %q: want a positive number followed by h, d, w, m or y", v)
	}
	p.cfg.PersistentClientExpiration = time.Duration(n) * unit
	return nil
}

func (p *parser) optLogDest(a *args) error {
	v := a.values()
	if len(v) == 0 {
		return a.errf("missing value")
	}
	if !p.logDestSet { // the first log_dest replaces the default
		p.cfg.LogDest, p.logDestSet = nil, true
	}
	kind := v[0]
	switch kind {
	case "none":
		p.cfg.LogDest = nil
	case "stdout", "stderr", "syslog", "topic":
		if len(v) > 1 {
			return a.errf("unexpected extra value %q", v[1])
		}
		for _, d := range p.cfg.LogDest {
			if d.Kind == kind {
				return nil
			}
		}
		p.cfg.LogDest = append(p.cfg.LogDest, LogDest{Kind: kind})
	case "file":
		if p.logFileSet {
			return a.errf("duplicate \"log_dest file\" value")
		}
		path := strings.TrimLeft(strings.TrimPrefix(a.rest, "file"), " \t")
		if path == "" {
			return a.errf("missing file name after \"file\"")
		}
		p.logFileSet = true
		p.cfg.LogDest = append(p.cfg.LogDest, LogDest{Kind: "file", Path: path})
	case "dlt":
		return a.errf("dlt is not supported")
	default:
		return a.errf("invalid value %q: must be stdout, stderr, syslog, topic, file PATH or none", kind)
	}
	return nil
}

var logTypes = map[string]LogType{
	"error": LogError, "warning": LogWarning, "notice": LogNotice, "information": LogInformation,
	"debug": LogDebug, "subscribe": LogSubscribe, "unsubscribe": LogUnsubscribe,
	"websockets": LogWebsockets, "internal": LogInternal, "all": LogAll, "none": LogNone,
}

func (p *parser) optLogType(a *args) error {
	v, err := a.one()
	if err != nil {
		return err
	}
	t, ok := logTypes[v]
	if !ok {
		return a.errf("invalid value %q", v)
	}
	if !p.logTypeSet { // the first log_type replaces the default
		p.cfg.LogTypes, p.logTypeSet = 0, true
	}
	if v == "none" {
		p.cfg.LogTypes = LogNone
	} else {
		p.cfg.LogTypes |= t
	}
	return nil
}

func (p *parser) optUser(a *args) error {
	v, err := a.str()
	if err != nil {
		return err
	}
	p.cfg.User = v
	p.warnf(a, "mqbroker does not change its user id; run it as user %q instead (option ignored)", v)
	return nil
}

// String renders a LogType as mosquitto's names.
func (t LogType) String() string {
	if t == LogNone {
		return "none"
	}
	var names []string
	for _, n := range []string{"error", "warning", "notice", "information", "debug", "subscribe", "unsubscribe", "websockets", "internal"} {
		if t&logTypes[n] != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, ",")
}
