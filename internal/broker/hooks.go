package broker

import "github.com/mqkit/mqkit/internal/mqtt"

// ClientInfo describes a connecting or connected client to the
// Authenticator and Authorizer. It must be treated as read-only.
type ClientInfo struct {
	ClientID   string
	Username   string
	Password   []byte // only set during Authenticate; never logged
	RemoteAddr string
	Listener   string
	// CertCommonName is the Common Name of a verified client certificate,
	// "" when there is none.
	CertCommonName string
	// MountPoint is the mount point of the client's listener, "" = none.
	MountPoint string
	Version    mqtt.Version
	// HasUsername: the CONNECT had a user name (it may be empty). Here,
	// after Version, it takes no padding of its own: ClientInfo is
	// 128 bytes, a size class below the 144 of the order before (every
	// connection keeps one; issue 17).
	HasUsername bool
}

// Authenticator decides whether a client may connect. It returns
// mqtt.Success to accept, or a CONNACK reason code such as
// mqtt.BadUserNameOrPassword (0x86) or mqtt.NotAuthorized (0x87), which the
// broker maps to the 3.1.1 return code for older clients. It may change
// ci.Username (e.g. to the certificate identity); the change is kept.
type Authenticator interface {
	Authenticate(ci *ClientInfo) mqtt.ReasonCode
}

// Access is what a client wants to do with a topic.
type Access int

const (
	AccessRead      Access = 1 // receive a message published to the topic
	AccessWrite     Access = 2 // publish to the topic
	AccessSubscribe Access = 4 // subscribe to the filter
)

// Authorizer decides topic access. topic is a topic name for AccessRead
// and AccessWrite and a topic filter (without any $share prefix) for
// AccessSubscribe. It is called on hot paths and must be fast and safe for
// concurrent use.
type Authorizer interface {
	Authorize(ci *ClientInfo, topic string, acc Access) bool
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(ci *ClientInfo) mqtt.ReasonCode

func (f AuthenticatorFunc) Authenticate(ci *ClientInfo) mqtt.ReasonCode { return f(ci) }

// AuthorizerFunc adapts a function to Authorizer.
type AuthorizerFunc func(ci *ClientInfo, topic string, acc Access) bool

func (f AuthorizerFunc) Authorize(ci *ClientInfo, topic string, acc Access) bool {
	return f(ci, topic, acc)
}
