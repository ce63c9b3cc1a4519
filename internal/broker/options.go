package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// ListenerConfig describes one listener.
type ListenerConfig struct {
	// Name identifies the listener in logs and in Addr; it must be unique.
	// Empty names default to "tcp", "tls", "ws" or "wss" (then "-2", "-3"…).
	Name string
	// Network is "tcp" (the default), "tcp4", "tcp6" or "unix".
	Network string
	// Addr is the address to bind, e.g. "127.0.0.1:1883"; port 0 picks a
	// free port (see Broker.Addr).
	Addr string
	// WebSocket serves MQTT over WebSocket (subprotocol "mqtt", binary
	// frames) instead of raw MQTT.
	WebSocket bool
	// WSPath is the HTTP path accepted for the WebSocket upgrade; "" accepts
	// any path (as mosquitto does). The usual value is "/mqtt".
	WSPath string
	// WSOrigins lists the allowed Origin header values ("*" allows any).
	// When empty, only requests without an Origin header or whose Origin
	// host equals the Host header are accepted.
	WSOrigins []string
	// TLS, when non-nil, turns the listener into TLS (or wss). Set
	// ClientAuth / ClientCAs for client certificates.
	TLS *tls.Config
	// MaxConnections caps simultaneous connections on this listener;
	// <= 0 means unlimited. Extra connections are closed at once.
	MaxConnections int
	// MountPoint (mosquitto's mount_point) isolates the clients of this
	// listener under a topic prefix: it is put in front of the topic of
	// every PUBLISH and will they send and of every filter they subscribe
	// or unsubscribe (the filter inside a $share/GROUP/ one), and removed
	// from the topic of every PUBLISH sent to them; messages whose topic
	// is not strictly below it are not sent to them. Nothing else changes:
	// authorization sees the full topics, properties such as Response
	// Topic are forwarded unchanged. It is a plain string prefix (usually
	// ending in '/'), a valid topic name not starting with "$share/".
	// "" = none.
	MountPoint string

	// ProxyProtocol (mosquitto 2.1's enable_proxy_protocol) is 1 or 2 to
	// make every connection start with a PROXY protocol header of that
	// version (HAProxy's proxy-protocol.txt), sent by a proxy in front of
	// the broker: the client address it gives replaces the socket's in
	// logs and ClientInfo.RemoteAddr(). The header comes before the TLS
	// handshake and before the HTTP request of a WebSocket; a connection
	// without a valid one within ConnectTimeout is closed (logged).
	// Version 1 is the text line "PROXY TCP4|TCP6 SRC DST SPORT DPORT"
	// or "PROXY UNKNOWN"; version 2 the binary header, LOCAL or PROXY
	// command, TCP over IPv4 or IPv6, or a unix socket. A LOCAL command (a
	// proxy's health check) or UNKNOWN keeps the socket's address. v2 TLVs
	// are skipped except PP2_TYPE_SSL (see ProxyRequireTLS). Only enable
	// it on a listener that nobody but the proxy can reach: the header is
	// trusted. 0 = off.
	ProxyProtocol int
	// ProxyRequireTLS (mosquitto's proxy_protocol_v2_require_tls) refuses
	// connections whose v2 header has no PP2_TYPE_SSL TLV saying that the
	// client used TLS (terminated by the proxy). Needs ProxyProtocol 2 and
	// no TLS on the listener.
	ProxyRequireTLS bool
	// ProxyRequireCertificate (mosquitto's require_certificate on a PROXY
	// v2 listener without TLS) refuses connections whose PP2_TYPE_SSL TLV
	// does not say that the client presented a certificate that the proxy
	// verified. The PP2_SUBTYPE_SSL_CN of such a certificate is
	// ClientInfo.CertCommonName. Needs ProxyProtocol 2 and no TLS on the
	// listener.
	ProxyRequireCertificate bool

	// UseUsernameAsClientID (mosquitto's use_username_as_clientid)
	// replaces the client id of this listener's clients by their user
	// name (after authentication), so that nobody can take over a session
	// of another user; a client without a user name is refused as not
	// authorised (CONNACK 0x87 / return code 5).
	UseUsernameAsClientID bool

	// AcceptVersions (mosquitto 2.1's accept_protocol_versions) lists the
	// MQTT versions this listener accepts; a CONNECT of another version is
	// refused with CONNACK 0x01 (3.1/3.1.1) or 0x84 Unsupported Protocol
	// Version (5.0) [MQTT-3.1.2-2]. nil = all.
	AcceptVersions []mqtt.Version

	// DenyZeroLengthClientID refuses clients of this listener that send
	// no client id, as Options.DenyZeroLengthClientID does for all
	// listeners (mosquitto's allow_zero_length_clientid false under
	// per_listener_settings true).
	DenyZeroLengthClientID bool
	// AutoIDPrefix, when set, replaces Options.AutoIDPrefix for the
	// clients of this listener (mosquitto's auto_id_prefix under
	// per_listener_settings true).
	AutoIDPrefix string

	// bridge marks the in-process connections of the broker's own bridges
	// (Broker.ServeBridgeConn).
	bridge bool
}

// Options configures a Broker. The zero value of every field selects the
// documented default, so Options{} is a working broker (with no listener:
// use ServeConn, or add a listener).
type Options struct {
	Listeners []ListenerConfig

	// noEventLoop (tests) gives every connection a goroutine of its own,
	// as on systems without epoll (loop.go).
	noEventLoop bool

	// MaxPacketSize is the largest packet accepted from clients, in bytes,
	// advertised to v5 clients as Maximum Packet Size. 0 = protocol maximum.
	MaxPacketSize uint32
	// MessageSizeLimit (mosquitto's message_size_limit) is the largest
	// application message payload accepted, in bytes; 0 = no limit. A
	// PUBLISH with a larger payload is dropped: QoS 1/2 are still
	// acknowledged (v5 with reason code 0x83 Implementation specific
	// error; mosquitto sends 0x95, not a PUBACK code), nothing is
	// routed or retained. A CONNECT whose will payload is larger is
	// refused (v5: 0x95; 3.1/3.1.1: return code 5, as mosquitto 2.0.11).
	MessageSizeLimit uint32
	// MaxKeepAlive caps client keep alive, in seconds. 0 = no cap. v5
	// clients asking for more (or for 0) get it as Server Keep Alive in
	// CONNACK; 3.1/3.1.1 clients asking for more (or for 0) are refused
	// with return code 2, as mosquitto 2.0.12+ does (CVE-2020-13849).
	MaxKeepAlive uint16
	// MaxInflight is the number of outgoing QoS 1/2 messages a client may
	// have unacknowledged (further capped by a v5 client's Receive
	// Maximum). 0 = 100, negative = 65535. mosquitto's default
	// max_inflight_messages is 20; 100 needs fewer round trips per message
	// (about 1.5× the QoS 1/2 throughput on loopback, see PERFORMANCE.md).
	MaxInflight int
	// MaxQueued is the number of QoS 1/2 messages queued per session
	// beyond the inflight window, and of QoS 0 messages waiting in a
	// connection's write queue. For an offline session it is a hard limit
	// (mosquitto's max_queued_messages): QoS 1/2 messages beyond it are
	// dropped and counted. For a connected client it is the point where
	// publishers wait for it (back-pressure, see StallTimeout); nothing is
	// dropped unless it is a slow consumer. 0 = 1000, negative = unlimited.
	MaxQueued int
	// MaxQueuedBytes limits the payload bytes of those queues in the same
	// way. 0 = unlimited.
	MaxQueuedBytes int64
	// MaxInflightBytes (mosquitto's max_inflight_bytes) also caps the
	// payload bytes of a client's outgoing QoS 1/2 messages in flight: a
	// message enters the inflight window when nothing is in flight or it
	// fits, so a message larger than the limit still goes, alone. 0 = no
	// limit.
	MaxInflightBytes int64
	// UpgradeOutgoingQoS (mosquitto's upgrade_outgoing_qos) sends every
	// message at the QoS of the subscription it matched, even above the
	// QoS it was published with. Non-standard: MQTT requires the lower of
	// the two [MQTT-3.8.4-8] ([MQTT-3.8.4-6] in 3.1.1).
	UpgradeOutgoingQoS bool
	// NoRetainSourceCheck turns off mosquitto's check_retain_source
	// (default on): with an Authorizer, a retained message is sent to a
	// new subscriber only if its publisher may still publish to its topic
	// (AccessWrite with the publisher's ClientInfo), which a reloaded ACL
	// may have revoked. Messages restored from the store and the broker's
	// own are not checked (their publisher is not known).
	NoRetainSourceCheck bool
	// MaxOutboundBytes is the hard cap on the bytes held for one connected
	// client, counted separately for its session queue (QoS 1/2 messages:
	// payload, topic and 80 bytes each) and its write queue; a client
	// above it is a slow consumer and is closed (v5: DISCONNECT 0x97).
	// 0 = 64 MiB, negative = unlimited.
	MaxOutboundBytes int64
	// StallTimeout bounds how long a publisher waits for room in the
	// queues of the connected subscribers it publishes to. A subscriber
	// still full after it is a slow consumer: publishers stop waiting for
	// it until it has caught up, its QoS 0 messages are dropped while its
	// queue is full, and its QoS 1/2 messages are queued up to
	// MaxOutboundBytes. 0 = 2s, negative = never wait (drop QoS 0 beyond
	// MaxQueued at once). A subscriber that was a slow consumer is on
	// probation until it has kept up for 10 x StallTimeout: publishers
	// do not wait for it again meanwhile (DefaultSlowProbation).
	StallTimeout time.Duration
	// WriteTimeout bounds each flush to a client; a client that does not
	// read for this long is closed as a slow consumer. 0 = 30s.
	WriteTimeout time.Duration

	// TopicHierarchyLimit (mosquitto's TOPIC_HIERARCHY_LIMIT) is the
	// largest number of '/' separators a topic name or filter may have:
	// at most TopicHierarchyLimit+1 levels. MaxTopicLength is the longest
	// topic name or filter in bytes. Both are checked on the topic as the
	// client sent it (a filter with its $share/GROUP/ prefix, before any
	// mount point), before the broker keeps anything of the packet, and a
	// packet beyond them is refused as mosquitto 2.0 refuses it: a
	// PUBLISH closes the connection (v5: DISCONNECT 0x82 Protocol Error),
	// a SUBSCRIBE or UNSUBSCRIBE closes it (v5: DISCONNECT 0x81 Malformed
	// Packet) without SUBACK/UNSUBACK, a CONNECT whose will topic is beyond
	// them is closed without CONNACK. TopicHierarchyLimit: 0 = 200
	// (mosquitto's), negative = no limit. MaxTopicLength: 0 = 65535 (the
	// protocol's [MQTT-4.7.3-3]), at most 65535.
	TopicHierarchyLimit int
	MaxTopicLength      int

	// DisableRetain makes retained messages unavailable (v5: Retain
	// Available 0 in CONNACK; a PUBLISH with retain is refused).
	DisableRetain bool
	// MaxQoS is the highest QoS supported; nil = 2. A client publishing
	// above it is disconnected (v5 0x9B), subscriptions are granted at most
	// this QoS.
	MaxQoS *mqtt.QoS
	// MaxTopicAlias is the inbound Topic Alias Maximum announced to v5
	// clients. 0 = 10 (mosquitto's default), negative = no aliases.
	MaxTopicAlias int
	// ReceiveMaximum is the number of inbound QoS 1/2 publishes a v5 client
	// may have unacknowledged by us (we answer 0x93 beyond). Since a
	// publish is acknowledged only once its subscribers have room, it is
	// also how far a v5 publisher can run ahead of them. 0 = 1024.
	ReceiveMaximum uint16

	// DenyZeroLengthClientID refuses clients without a client id instead of
	// assigning one (mosquitto allow_zero_length_clientid false).
	DenyZeroLengthClientID bool
	// AutoIDPrefix prefixes assigned client ids. "" = "auto-".
	AutoIDPrefix string
	// PersistentClientExpiration expires 3.1/3.1.1 durable sessions
	// (clean session 0) after this long offline. 0 = never.
	PersistentClientExpiration time.Duration
	// MaxSessionExpiry caps the v5 Session Expiry Interval (seconds); the
	// cap is returned in CONNACK. 0 = no cap.
	MaxSessionExpiry uint32
	// ConnectTimeout drops connections that do not complete CONNECT in
	// time (on raw PROXY listeners: the PROXY header, TLS handshake and
	// CONNECT together; on WebSocket ones, the PROXY header and the HTTP
	// request, then CONNECT). 0 = 10s.
	ConnectTimeout time.Duration

	// MaxConnections (mosquitto 2.1's global_max_connections) caps the
	// network connections of the whole broker, counting every listener
	// (and bridges); a connection accepted beyond it is closed at once, as
	// ListenerConfig.MaxConnections does. <= 0 = unlimited.
	MaxConnections int
	// MaxClients (mosquitto 2.1's global_max_clients) caps the client
	// sessions of the whole broker: connected clients plus the sessions of
	// disconnected clients that have not expired (3.1/3.1.1 clean session
	// 0, v5 Session Expiry Interval > 0). A CONNECT that would create one
	// more is refused after authentication: v5 clients get CONNACK 0x89
	// Server Busy, 3.1/3.1.1 clients are closed without a CONNACK, as
	// mosquitto does. A client id that has a session already (a reconnect
	// or takeover) is never refused. <= 0 = unlimited.
	MaxClients int

	// SysInterval is the period of $SYS/broker/... updates; 0 (or
	// negative) turns $SYS off, as mosquitto's sys_interval 0 does.
	// mosquitto's default is 10s (DefaultSysInterval).
	SysInterval time.Duration

	// Logger receives mosquitto-style messages (Info level for connection
	// messages and -v traces, Warn/Error for problems). nil = discard.
	Logger *slog.Logger
	// Verbose logs every packet like mosquitto -v.
	Verbose bool
	// ConnectionMessages logs connects and disconnects (mosquitto
	// connection_messages). Verbose implies it.
	ConnectionMessages bool

	// Authenticator checks CONNECT credentials; nil allows everyone.
	Authenticator Authenticator
	// Authorizer checks publish, subscribe and delivery; nil allows all.
	Authorizer Authorizer
	// Store persists retained messages and durable sessions; nil keeps
	// everything in memory only. The caller closes it after Shutdown.
	Store Store
}

// DefaultSysInterval is mosquitto's sys_interval default.
const DefaultSysInterval = 10 * time.Second

// The defaults of the limits mosquitto.conf has no option for (mqbroker
// --print-config lists them; README "Limits and hardening").
const (
	DefaultReceiveMaximum   = defaultReceiveMaximum                 // Options.ReceiveMaximum
	DefaultMaxOutboundBytes = defaultMaxOutboundBytes               // Options.MaxOutboundBytes
	DefaultStallTimeout     = defaultStallTimeout                   // Options.StallTimeout
	DefaultSlowProbation    = probationFactor * defaultStallTimeout // a slow consumer's probation (Options.StallTimeout)
	DefaultWriteTimeout     = defaultWriteTimeout                   // Options.WriteTimeout
	DefaultConnectTimeout   = defaultConnectTimeout                 // Options.ConnectTimeout
)

// Defaults.
const (
	defaultMaxInflight      = 100
	defaultMaxQueued        = 1000
	defaultMaxOutboundBytes = 64 << 20
	defaultWriteTimeout     = 30 * time.Second
	defaultMaxTopicAlias    = 10
	defaultReceiveMaximum   = 1024
	defaultStallTimeout     = 2 * time.Second
	defaultAutoIDPrefix     = "auto-"
	defaultConnectTimeout   = 10 * time.Second
	defaultHierarchyLimit   = 200   // mosquitto's TOPIC_HIERARCHY_LIMIT
	maxTopicLength          = 65535 // [MQTT-4.7.3-3]
	unlimited               = int(^uint(0) >> 1)
)

// config is Options with every default resolved.
type config struct {
	Options
	maxQoS        mqtt.QoS
	maxInflight   int
	maxQueued     int
	maxOutbound   int64
	topicAliasMax uint16
	recvMax       uint16
	sysInterval   time.Duration // 0 = off
	stallTimeout  time.Duration // 0 = never wait
	hierLimit     int           // most '/' in a topic or filter
	topicMaxLen   int           // longest topic or filter, bytes
}

func (o *Options) resolve() (*config, error) {
	c := &config{Options: *o}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.maxQoS = mqtt.QoS(2)
	if o.MaxQoS != nil {
		if *o.MaxQoS > 2 {
			return nil, fmt.Errorf("broker: MaxQoS %d out of range 0-2", *o.MaxQoS)
		}
		c.maxQoS = *o.MaxQoS
	}
	c.maxInflight = pick(o.MaxInflight, defaultMaxInflight, 65535)
	if c.maxInflight > 65535 {
		c.maxInflight = 65535
	}
	c.maxQueued = pick(o.MaxQueued, defaultMaxQueued, unlimited)
	c.maxOutbound = int64(pick(int(o.MaxOutboundBytes), defaultMaxOutboundBytes, unlimited))
	switch {
	case o.MaxTopicAlias == 0:
		c.topicAliasMax = defaultMaxTopicAlias
	case o.MaxTopicAlias < 0:
		c.topicAliasMax = 0
	case o.MaxTopicAlias > 65535:
		return nil, fmt.Errorf("broker: MaxTopicAlias %d out of range", o.MaxTopicAlias)
	default:
		c.topicAliasMax = uint16(o.MaxTopicAlias)
	}
	c.recvMax = o.ReceiveMaximum
	if c.recvMax == 0 {
		c.recvMax = defaultReceiveMaximum
	}
	if c.AutoIDPrefix == "" {
		c.AutoIDPrefix = defaultAutoIDPrefix
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = defaultConnectTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = defaultWriteTimeout
	}
	switch {
	case o.StallTimeout == 0:
		c.stallTimeout = defaultStallTimeout
	case o.StallTimeout > 0:
		c.stallTimeout = o.StallTimeout
	}
	if o.SysInterval > 0 {
		c.sysInterval = o.SysInterval
	}
	c.hierLimit = pick(o.TopicHierarchyLimit, defaultHierarchyLimit, unlimited)
	switch {
	case o.MaxTopicLength == 0:
		c.topicMaxLen = maxTopicLength
	case o.MaxTopicLength < 0 || o.MaxTopicLength > maxTopicLength:
		return nil, fmt.Errorf("broker: MaxTopicLength %d out of range 1-%d", o.MaxTopicLength, maxTopicLength)
	default:
		c.topicMaxLen = o.MaxTopicLength
	}
	if o.MaxPacketSize != 0 && o.MaxPacketSize < 20 {
		return nil, errors.New("broker: MaxPacketSize must be at least 20 bytes")
	}
	if o.MaxQueuedBytes < 0 {
		c.MaxQueuedBytes = 0
	}
	if c.Verbose {
		c.ConnectionMessages = true
	}
	names := map[string]bool{}
	c.Listeners = append([]ListenerConfig(nil), o.Listeners...)
	for i := range c.Listeners {
		l := &c.Listeners[i]
		if l.Network == "" {
			l.Network = "tcp"
		}
		if l.Name == "" {
			l.Name = defaultListenerName(l, names)
		}
		if names[l.Name] {
			return nil, fmt.Errorf("broker: duplicate listener name %q", l.Name)
		}
		names[l.Name] = true
		if l.WebSocket && l.Network == "unix" {
			return nil, fmt.Errorf("broker: listener %q: WebSocket over a unix socket is not supported", l.Name)
		}
		if m := l.MountPoint; m != "" {
			if err := mqtt.ValidTopicName(m); err != nil || strings.HasPrefix(m, mqtt.SharePrefix) {
				return nil, fmt.Errorf("broker: listener %q: invalid mount point %q: it must be a topic name without wildcards, not starting with %q", l.Name, m, mqtt.SharePrefix)
			}
		}
		if err := l.checkProxy(); err != nil {
			return nil, err
		}
		for _, v := range l.AcceptVersions {
			if v != mqtt.V31 && v != mqtt.V311 && v != mqtt.V5 {
				return nil, fmt.Errorf("broker: listener %q: AcceptVersions: unknown MQTT version %d", l.Name, v)
			}
		}
		if l.AcceptVersions != nil && len(l.AcceptVersions) == 0 {
			return nil, fmt.Errorf("broker: listener %q: AcceptVersions is empty: no client could connect", l.Name)
		}
	}
	return c, nil
}

// checkProxy checks the PROXY protocol settings of l.
func (l *ListenerConfig) checkProxy() error {
	switch {
	case l.ProxyProtocol != 0 && l.ProxyProtocol != 1 && l.ProxyProtocol != 2:
		return fmt.Errorf("broker: listener %q: ProxyProtocol must be 1 or 2, got %d", l.Name, l.ProxyProtocol)
	case (l.ProxyRequireTLS || l.ProxyRequireCertificate) && l.ProxyProtocol != 2:
		return fmt.Errorf("broker: listener %q: ProxyRequireTLS and ProxyRequireCertificate need ProxyProtocol 2", l.Name)
	case (l.ProxyRequireTLS || l.ProxyRequireCertificate) && l.TLS != nil:
		return fmt.Errorf("broker: listener %q: ProxyRequireTLS and ProxyRequireCertificate are for TLS terminated by the proxy, not with TLS on the listener", l.Name)
	}
	return nil
}

// acceptsVersion reports whether a CONNECT of version v may connect on l.
func (l *listener) acceptsVersion(v mqtt.Version) bool {
	return l.cfg.AcceptVersions == nil || slices.Contains(l.cfg.AcceptVersions, v)
}

// pick resolves an int option: 0 = def, negative = unset (max).
func pick(v, def, max int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return max
	}
	return v
}

func defaultListenerName(l *ListenerConfig, used map[string]bool) string {
	base := "tcp"
	switch {
	case l.WebSocket && l.TLS != nil:
		base = "wss"
	case l.WebSocket:
		base = "ws"
	case l.TLS != nil:
		base = "tls"
	case l.Network == "unix":
		base = "unix"
	}
	if !used[base] {
		return base
	}
	for i := 2; ; i++ {
		if n := fmt.Sprintf("%s-%d", base, i); !used[n] {
			return n
		}
	}
}

// topicOverLimit reports whether a topic name or filter, as the client
// sent it, is beyond MaxTopicLength or TopicHierarchyLimit. It costs one
// comparison for topics shorter than the hierarchy limit (they cannot
// have more separators than bytes), a vectorised count otherwise.
func (c *config) topicOverLimit(t string) bool {
	return len(t) > c.topicMaxLen || (len(t) > c.hierLimit && strings.Count(t, "/") > c.hierLimit)
}
