// Package config parses mosquitto.conf files (mosquitto 2.0 syntax) into a
// Config for mqbroker.
//
// The syntax is one "name value" per line; a line whose first non-blank
// character is '#' is a comment, blank lines are ignored, and include_dir
// (only in the main file) loads DIR/*.conf in byte order. Every option
// mqbroker does not implement — some bridge options, plugins, TLS-PSK,
// OpenSSL-specific settings... — is an error naming the file,
// line and option; nothing is silently ignored. See options.go for the
// full list and the per-option rules.
//
// Listeners: "listener PORT [ADDRESS]" opens a listener; listener options
// (protocol, certfile, keyfile, cafile, capath, crlfile, require_certificate,
// use_identity_as_username, use_username_as_clientid, tls_version,
// max_connections, max_qos, max_topic_alias, websockets_path, websockets_origin, mount_point,
// enable_proxy_protocol, proxy_protocol_v2_require_tls,
// accept_protocol_versions) apply to the most recent one (mount_point and
// accept_protocol_versions only after a "listener" line, the PROXY
// options after a "listener" line or a default-listener option, as in
// mosquitto). port, bind_address, and listener options given before the
// first "listener" line configure mosquitto's default listener (port 1883
// unless "port" says otherwise), which is opened after the others. With no
// listener at all the broker is in local-only mode: one listener on
// 127.0.0.1:1883 and allow_anonymous defaulting to true (mqbroker opens
// its twin on [::1] when it starts, as mosquitto listens on localhost, both
// addresses; mosquitto forces anonymous access on even when
// allow_anonymous false is given, we keep the explicit value).
//
// Security options (allow_anonymous, password_file, acl_file,
// allow_zero_length_clientid, auto_id_prefix) are global, or with
// per_listener_settings true (which must come before them, as in
// mosquitto) belong to the current listener.
//
// Bridges: "connection NAME" starts a bridge section (see Bridge and
// bridge.go); the bridge options after it (address, topic, ...) apply to
// that bridge, other options stay global. Bridge options mqbroker does
// not implement (local_*, round_robin, lazy/once start types, PSK, ...)
// are errors naming the file and line.
//
// This package does not import internal/broker; cmd/mqbroker adapts a
// Config to the broker's options.
package config

import (
	"fmt"
	"time"
)

// Pos is a position in a configuration file.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	switch {
	case p.File == "" && p.Line == 0:
		return ""
	case p.Line == 0:
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Error is a configuration error. Its text is "file:line: option: message"
// (parts that are unknown are left out), for example
// "mosquitto.conf:12: max_qos: must be 0, 1 or 2".
type Error struct {
	Pos    Pos
	Option string
	Msg    string
}

func (e *Error) Error() string {
	s := e.Msg
	if e.Option != "" {
		s = e.Option + ": " + s
	}
	if p := e.Pos.String(); p != "" {
		s = p + ": " + s
	}
	return s
}

// Protocol is a listener protocol.
type Protocol string

const (
	ProtocolMQTT       Protocol = "mqtt"
	ProtocolWebsockets Protocol = "websockets"
	// ProtocolHTTP (an mqbroker extension) serves the web view, /metrics,
	// /healthz and /readyz instead of MQTT.
	ProtocolHTTP Protocol = "http"
)

// Security holds the options that are global, or per listener when
// per_listener_settings is true.
type Security struct {
	// AllowAnonymous is the effective allow_anonymous: the configured
	// value, or (when not configured) true in local-only mode and false
	// otherwise, as in mosquitto 2.0.
	AllowAnonymous bool
	// AllowAnonymousSet reports whether allow_anonymous was configured.
	AllowAnonymousSet       bool
	PasswordFile            string // password_file ("" = none)
	ACLFile                 string // acl_file ("" = none)
	AllowZeroLengthClientID bool   // allow_zero_length_clientid, default true
	AutoIDPrefix            string // auto_id_prefix, default "auto-"
}

func defaultSecurity() Security {
	return Security{AllowZeroLengthClientID: true, AutoIDPrefix: "auto-"}
}

// Listener is one network listener.
type Listener struct {
	// Port is the TCP port; 0 asks the OS for a free one (an mqbroker
	// extension for tests; mosquitto reserves port 0 for unix sockets).
	Port int
	// Bind is the address to bind; "" means every interface.
	Bind string
	// Unix is the path of a unix domain socket ("listener 0 PATH", as
	// mosquitto); Port and Bind are then unused.
	Unix     string
	Protocol Protocol // protocol, default mqtt

	CertFile              string // certfile
	KeyFile               string // keyfile
	CAFile                string // cafile
	CAPath                string // capath
	CRLFile               string // crlfile: revocation lists for client certificates
	RequireCertificate    bool   // require_certificate
	UseIdentityAsUsername bool   // use_identity_as_username
	// UseUsernameAsClientID (use_username_as_clientid) replaces the client
	// id of the listener's clients by their user name; a client without
	// one is refused as not authorised.
	UseUsernameAsClientID bool
	TLSVersion            string // tls_version: "", "tlsv1.1", "tlsv1.2", "tlsv1.3"

	MaxConnections int    // max_connections, -1 = unlimited (default)
	MaxQoS         byte   // max_qos, default 2
	MaxTopicAlias  uint16 // max_topic_alias, default 10

	// WebsocketsPath (websockets_path, an mqbroker extension) is the HTTP
	// path served on a websockets listener; "" accepts any path.
	WebsocketsPath string
	// WebsocketsOrigins (websockets_origin, from mosquitto 2.1, repeatable)
	// lists the allowed Origin header values; empty allows any origin.
	WebsocketsOrigins []string

	// MountPoint (mount_point) is the topic prefix that isolates the
	// listener's clients: it is added to the topics they publish and
	// subscribe to and removed from the topics sent to them. "" = none.
	MountPoint string

	// ProxyProtocol (enable_proxy_protocol, mosquitto 2.1) is the PROXY
	// protocol version, 1 or 2, of the header every connection starts
	// with (sent by a proxy such as HAProxy); 0 = off.
	ProxyProtocol int
	// ProxyV2RequireTLS (proxy_protocol_v2_require_tls, mosquitto 2.1)
	// refuses PROXY v2 connections whose header does not say that the
	// client used TLS with the proxy.
	ProxyV2RequireTLS bool
	// AcceptProtocolVersions (accept_protocol_versions, mosquitto 2.1)
	// lists the MQTT protocol levels the listener accepts, in increasing
	// order: 3 (MQTT 3.1), 4 (3.1.1), 5 (5.0). nil = all.
	AcceptProtocolVersions []int

	// Security is this listener's own security settings; set only when
	// per_listener_settings is true (use Config.SecurityFor).
	Security *Security

	// Default reports the listener built from port / bind_address and the
	// listener options that appear before the first "listener" line.
	Default bool
	// Local reports the implicit loopback listener of local-only mode (no
	// listener configured at all).
	Local bool
	// Pos is where the listener was declared (for the default listener,
	// its first option).
	Pos Pos

	set map[string]Pos // option name -> where it was set
}

// TLS reports whether the listener uses TLS (certfile and keyfile set).
func (l *Listener) TLS() bool { return l.CertFile != "" && l.KeyFile != "" }

// Network is "unix" for a unix socket listener, "tcp" otherwise.
func (l *Listener) Network() string {
	if l.Unix != "" {
		return "unix"
	}
	return "tcp"
}

// Addr returns "bind:port" (or the socket path) for net.Listen.
func (l *Listener) Addr() string {
	if l.Unix != "" {
		return l.Unix
	}
	if l.Bind != "" && containsColon(l.Bind) {
		return fmt.Sprintf("[%s]:%d", l.Bind, l.Port)
	}
	return fmt.Sprintf("%s:%d", l.Bind, l.Port)
}

func containsColon(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return true
		}
	}
	return false
}

func newListener(pos Pos) *Listener {
	return &Listener{
		Protocol:       ProtocolMQTT,
		MaxConnections: -1,
		MaxQoS:         2,
		MaxTopicAlias:  10,
		Pos:            pos,
		set:            map[string]Pos{},
	}
}

// LogDest is one log destination.
type LogDest struct {
	Kind string // "stdout", "stderr", "syslog", "topic" or "file"
	Path string // for "file"
}

// LogType is a set of log message types (log_type).
type LogType uint

const (
	LogError LogType = 1 << iota
	LogWarning
	LogNotice
	LogInformation
	LogDebug
	LogSubscribe
	LogUnsubscribe
	LogWebsockets
	LogInternal

	LogNone    LogType = 0
	LogAll             = LogError | LogWarning | LogNotice | LogInformation | LogDebug | LogSubscribe | LogUnsubscribe | LogWebsockets | LogInternal
	LogDefault         = LogError | LogWarning | LogNotice | LogInformation
)

// Config is a parsed configuration. Zero-valued fields that mosquitto
// gives a default hold that default after Parse (see Default).
type Config struct {
	// Files lists the files read: the main file, then included ones.
	Files []string

	PerListenerSettings bool // per_listener_settings
	// Security holds the global security settings (all of them when
	// PerListenerSettings is false; see SecurityFor).
	Security Security

	// Listeners lists the listeners to open, in file order, then the
	// default listener (if any). In local-only mode it holds one implicit
	// listener on 127.0.0.1:1883 with Local set.
	Listeners []*Listener
	// LocalOnly reports that no listener was configured (mosquitto's
	// "local only mode", where anonymous access defaults to allowed).
	LocalOnly bool

	Persistence         bool          // persistence (alias retained_persistence)
	PersistenceLocation string        // persistence_location ("" = current directory)
	PersistenceFile     string        // persistence_file, default "mosquitto.db"
	AutosaveInterval    time.Duration // autosave_interval, default 1800s

	GlobalMaxClients     int // global_max_clients (mosquitto 2.1), -1 = unlimited (default)
	GlobalMaxConnections int // global_max_connections (mosquitto 2.1), -1 = unlimited (default)

	MaxKeepalive        uint16 // max_keepalive, default 65535
	MaxPacketSize       uint32 // max_packet_size, 0 = unlimited
	MessageSizeLimit    uint32 // message_size_limit, 0 = unlimited
	MaxInflightMessages uint16 // max_inflight_messages, default 20, 0 = unlimited
	MaxQueuedMessages   int    // max_queued_messages, default 1000, 0 = unlimited
	MaxQueuedBytes      int64  // max_queued_bytes, 0 = unlimited
	MaxInflightBytes    int64  // max_inflight_bytes, 0 = unlimited
	// CheckRetainSource (check_retain_source, default true): the
	// publisher of a retained message must still be allowed to write its
	// topic when the message is sent to a new subscriber.
	CheckRetainSource bool
	// UpgradeOutgoingQoS (upgrade_outgoing_qos, default false): messages
	// go out at the subscription's QoS, even above the published one
	// (non-standard, against [MQTT-3.8.4-8]).
	UpgradeOutgoingQoS bool
	RetainAvailable    bool // retain_available, default true
	// PersistentClientExpiration (persistent_client_expiration); 0 = never.
	PersistentClientExpiration time.Duration
	SysInterval                time.Duration // sys_interval, default 10s, 0 = no $SYS updates
	// HTTPAllowPublish (http_allow_publish, an mqbroker extension) lets
	// the web view of "protocol http" listeners publish; default false
	// (read-only).
	HTTPAllowPublish bool

	// TopicHierarchyLimit (topic_hierarchy_limit, an mqbroker option for
	// mosquitto's built-in TOPIC_HIERARCHY_LIMIT) is the most '/' a topic
	// or filter may have, default 200; -1 = no limit.
	TopicHierarchyLimit int
	// MaxTopicLength (max_topic_length, an mqbroker option) is the longest
	// topic or filter in bytes, default 65535 (the protocol's maximum).
	MaxTopicLength int

	LogDest            []LogDest // log_dest, default stderr; empty = none
	LogTypes           LogType   // log_type, default error|warning|notice|information
	LogTimestamp       bool      // log_timestamp, default true
	ConnectionMessages bool      // connection_messages, default true
	SetTCPNoDelay      bool      // set_tcp_nodelay
	PIDFile            string    // pid_file
	// User (user) is accepted for compatibility but mqbroker never changes
	// its user id: a warning says so.
	User string

	// Bridges lists the "connection" sections in file order.
	Bridges []*Bridge

	// Warnings holds non-fatal remarks ("file:line: ..."), for example for
	// deprecated options. Callers should log them.
	Warnings []string

	strPos map[*string]Pos // where each string option was set
}

func newConfig() *Config {
	return &Config{
		strPos:              map[*string]Pos{},
		Security:            defaultSecurity(),
		PersistenceFile:     "mosquitto.db",
		AutosaveInterval:    1800 * time.Second,
		MaxKeepalive:        65535,
		TopicHierarchyLimit: 200,
		MaxTopicLength:      65535,
		MaxInflightMessages: 20,
		MaxQueuedMessages:   1000,
		RetainAvailable:     true,
		CheckRetainSource:   true,
		SysInterval:         10 * time.Second,
		LogDest:             []LogDest{{Kind: "stderr"}},
		LogTypes:            LogDefault,
		LogTimestamp:        true,
		ConnectionMessages:  true,

		GlobalMaxClients:     -1,
		GlobalMaxConnections: -1,
	}
}

// Default returns the configuration of a broker started without a config
// file: local-only mode, one listener on 127.0.0.1:1883, anonymous access
// allowed, and mosquitto's defaults everywhere else.
func Default() *Config {
	c := newConfig()
	c.finish(nil, false)
	return c
}

// SecurityFor returns the security settings that apply to clients of l:
// l's own with per_listener_settings, the global ones otherwise.
func (c *Config) SecurityFor(l *Listener) Security {
	if c.PerListenerSettings && l != nil && l.Security != nil {
		return *l.Security
	}
	return c.Security
}

// PersistencePath returns persistence_location joined with
// persistence_file.
func (c *Config) PersistencePath() string {
	if c.PersistenceLocation == "" {
		return c.PersistenceFile
	}
	loc := c.PersistenceLocation
	if loc[len(loc)-1] != '/' {
		loc += "/"
	}
	return loc + c.PersistenceFile
}

// finish turns the parsed default-listener staging area into a listener
// (when created), applies local-only mode and resolves allow_anonymous.
func (c *Config) finish(def *Listener, created bool) {
	if created {
		c.Listeners = append(c.Listeners, def)
	}
	if len(c.Listeners) == 0 {
		c.LocalOnly = true
		l := newListener(Pos{})
		l.Bind, l.Port, l.Local = "127.0.0.1", 1883, true
		if def != nil {
			l.Security = def.Security // per-listener options given before any listener
		}
		c.Listeners = []*Listener{l}
	}
	resolve := func(s *Security) {
		if !s.AllowAnonymousSet {
			s.AllowAnonymous = c.LocalOnly
		}
	}
	resolve(&c.Security)
	for _, l := range c.Listeners {
		if !c.PerListenerSettings {
			l.Security = nil
			continue
		}
		if l.Security == nil {
			s := defaultSecurity()
			l.Security = &s
		}
		resolve(l.Security)
	}
}

// PosOf returns where the string option stored at field (a pointer into
// this Config, one of its listeners, bridges or security settings) was
// set, or the zero Pos when it was not set by a file.
func (c *Config) PosOf(field *string) Pos {
	return c.strPos[field]
}

// securityPtr returns the settings that apply to l, as SecurityFor does,
// but by pointer (for PosOf).
func (c *Config) securityPtr(l *Listener) *Security {
	if c.PerListenerSettings && l != nil && l.Security != nil {
		return l.Security
	}
	return &c.Security
}

// PasswordFilePos and ACLFilePos return where the password_file and
// acl_file that apply to l were set (zero Pos if not by a file).
func (c *Config) PasswordFilePos(l *Listener) Pos { return c.PosOf(&c.securityPtr(l).PasswordFile) }

// ACLFilePos: see PasswordFilePos.
func (c *Config) ACLFilePos(l *Listener) Pos { return c.PosOf(&c.securityPtr(l).ACLFile) }

// OptionPos returns where the listener option name was set, or where the
// listener was declared when it was not set on its own line.
func (l *Listener) OptionPos(name string) Pos {
	if p, ok := l.set[name]; ok {
		return p
	}
	return l.Pos
}
