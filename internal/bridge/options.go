package bridge

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// Options configures a Bridge (one mosquitto "connection" section).
type Options struct {
	Name string
	// Addresses are the remote brokers. With RoundRobin false (the
	// default, mosquitto's round_robin false) the first is the primary:
	// every attempt starts with it, and while connected to another one
	// the bridge probes it every PrimaryRetry and goes back to it once it
	// accepts connections. With RoundRobin true they are equals: after a
	// failure the next one is tried, and the bridge stays where it
	// connected until that connection fails.
	Addresses    []client.Endpoint
	RoundRobin   bool
	PrimaryRetry time.Duration // 0 means RestartBase
	Topics       []Topic

	// Start is start_type: Automatic (the default), Lazy or Once.
	Start StartType
	// Threshold (lazy): messages waiting for the remote side that start
	// the bridge; 0 means 10 (mosquitto's default).
	Threshold int
	// IdleTimeout (lazy): a connection that forwarded nothing, either
	// way, for this long is closed; 0 means 60 seconds.
	IdleTimeout time.Duration

	// Local connection (this broker, in process). LocalClientID is
	// local_clientid, "local."+ClientID when empty. The local username
	// and password are sent in its CONNECT: as in mosquitto 2.0, they
	// name the bridge on this broker, which does not check them or apply
	// its ACLs to its own bridges.
	LocalClientID    string
	LocalUsername    string
	HasLocalUsername bool
	LocalPassword    []byte
	HasLocalPassword bool

	// Remote connection.
	Version      mqtt.Version // V311 (default), V31 or V5
	CleanSession bool
	ClientID     string // remote client identifier
	Username     string
	HasUsername  bool
	Password     []byte
	HasPassword  bool
	KeepAlive    uint16 // seconds, 0 = none
	TryPrivate   bool   // 3.1/3.1.1: announce a bridge (level 0x83/0x84)
	// MaxInflight caps QoS 1/2 messages forwarded and not yet
	// acknowledged, per direction (0 means 20, mosquitto's default).
	MaxInflight    int
	ConnectTimeout time.Duration // per address; 0 means 30 seconds

	// RestartBase and RestartCap are restart_timeout: RestartCap 0 means a
	// constant RestartBase between attempts.
	RestartBase time.Duration
	RestartCap  time.Duration

	Notifications          bool
	NotificationTopic      string // required with Notifications
	NotificationsLocalOnly bool
	OutgoingRetain         bool // keep the retain flag on messages sent to the remote broker
	// NoAttemptUnsubscribe is mosquitto's bridge_attempt_unsubscribe
	// false. By default, once connected, the bridge unsubscribes on the
	// remote broker from the remote topics of its "out"-only patterns, so
	// that a pattern changed from "in" to "out" stops coming in from a
	// persistent remote session.
	NoAttemptUnsubscribe bool
	// LocalCleanSession (mosquitto's local_cleansession) is the clean
	// session flag of the local connection; nil means CleanSession. A
	// durable local session (false) keeps what the bridge has not
	// forwarded yet across a restart of the broker with a persistent
	// store.
	LocalCleanSession *bool

	// LocalDial connects to this broker (in process).
	LocalDial func(ctx context.Context) (net.Conn, error)
	Logger    *slog.Logger
}

// StartType is mosquitto's start_type.
type StartType int

const (
	// Automatic connects at start and reconnects after every failure.
	Automatic StartType = iota
	// Lazy connects once Threshold messages wait for the remote side, and
	// disconnects after IdleTimeout without traffic.
	Lazy
	// Once connects at start (every address tried once) and is never
	// restarted: after a failure or a lost connection the bridge stops.
	Once
)

func (s StartType) String() string {
	switch s {
	case Lazy:
		return "lazy"
	case Once:
		return "once"
	}
	return "automatic"
}

// Topic is one "topic" line: Pattern is subscribed as LocalPrefix+Pattern
// on this broker (Out) and as RemotePrefix+Pattern on the remote one (In).
type Topic struct {
	Pattern      string
	In, Out      bool
	QoS          mqtt.QoS
	LocalPrefix  string
	RemotePrefix string
}

// LocalTopic is the filter subscribed on this broker.
func (t Topic) LocalTopic() string { return t.LocalPrefix + t.Pattern }

// RemoteTopic is the filter subscribed on the remote broker.
func (t Topic) RemoteTopic() string { return t.RemotePrefix + t.Pattern }

func (t Topic) remapped() bool { return t.LocalPrefix != "" || t.RemotePrefix != "" }
