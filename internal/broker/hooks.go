package broker

import (
	"net/netip"
	"strings"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// ClientInfo describes a connecting or connected client to the
// Authenticator and Authorizer. It must be treated as read-only but
// through SetRemoteAddr and SetListener.
//
// Every connection keeps one (issue 17: an idle connection's memory):
// it is 80 bytes, a Go size class, and an IPv4 client's address is kept
// in it without a string of its own (RemoteAddr formats it); the
// listener's name and mount point are shared by its clients (Listener,
// MountPoint).
type ClientInfo struct {
	ClientID string
	Username string
	// The password is given to Authenticate only (HasPassword: the
	// CONNECT had one, maybe empty); never logged, never kept.
	//
	// CertCommonName is the Common Name of a verified client certificate,
	// "" when there is none.
	CertCommonName string
	where          *listenerInfo // Listener, MountPoint
	// The address (RemoteAddr): ip4 and port when isIP4, else *other
	// (nil: none). A ClientInfo may be copied: SetRemoteAddr replaces
	// other rather than change it.
	other       *string
	ip4         [4]byte
	port        uint16
	isIP4       bool
	Version     mqtt.Version
	HasUsername bool // the CONNECT had a user name (it may be empty)
	HasPassword bool
	// connectedAt is when the client's session took the connection, in
	// Unix seconds (Broker.Clients' ConnectedSince), in what would be
	// padding: the session's 8 bytes (issue 17).
	connectedAt uint32
}

// RemoteAddr is the client's address as net.TCPAddr.String formats it
// ("192.0.2.1:1883", "[2001:db8::1]:1883"), or the PROXY header's; ""
// when there is none (an in-process connection).
func (ci *ClientInfo) RemoteAddr() string {
	switch {
	case ci.isIP4:
		return netip.AddrPortFrom(netip.AddrFrom4(ci.ip4), ci.port).String()
	case ci.other != nil:
		return *ci.other
	}
	return ""
}

// SetRemoteAddr sets RemoteAddr. An IPv4 address in its canonical form
// is kept inline, anything else as given.
func (ci *ClientInfo) SetRemoteAddr(addr string) {
	ci.ip4, ci.port, ci.isIP4, ci.other = [4]byte{}, 0, false, nil
	if ap, ok := canonicalIP4(addr); ok {
		ci.ip4, ci.port, ci.isIP4 = ap.Addr().As4(), ap.Port(), true
	} else if addr != "" {
		other := addr // not &addr: that would move addr to the heap on every call
		ci.other = &other
	}
}

// canonicalIP4 parses addr when it is an IPv4 address and port that
// RemoteAddr gives back byte for byte.
func canonicalIP4(addr string) (netip.AddrPort, bool) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		return netip.AddrPort{}, false
	}
	// netip rejects leading zeros in the address but not in the port.
	if p := addr[strings.LastIndexByte(addr, ':')+1:]; len(p) > 1 && p[0] == '0' {
		return netip.AddrPort{}, false
	}
	return ap, true
}

// listenerInfo is a listener's name and mount point, shared by the
// ClientInfo of its clients.
type listenerInfo struct{ name, mountPoint string }

// Listener is the name of the client's listener.
func (ci *ClientInfo) Listener() string {
	if ci.where == nil {
		return ""
	}
	return ci.where.name
}

// MountPoint is the mount point of the client's listener, "" = none.
func (ci *ClientInfo) MountPoint() string {
	if ci.where == nil {
		return ""
	}
	return ci.where.mountPoint
}

// SetListener sets Listener and MountPoint (for a ClientInfo made
// outside the broker, e.g. to ask the Authorizer).
func (ci *ClientInfo) SetListener(name, mountPoint string) {
	ci.where = &listenerInfo{name: name, mountPoint: mountPoint}
}

// Authenticator decides whether a client may connect. It returns
// mqtt.Success to accept, or a CONNACK reason code such as
// mqtt.BadUserNameOrPassword (0x86) or mqtt.NotAuthorized (0x87), which the
// broker maps to the 3.1.1 return code for older clients. It may change
// ci.Username (e.g. to the certificate identity); the change is kept.
//
// password is the CONNECT's password (nil when it had none,
// ci.HasPassword false): it shares the packet's memory, so it is only
// valid during the call and must not be kept. The broker keeps no
// password (issue 17: ClientInfo has no field for it).
type Authenticator interface {
	Authenticate(ci *ClientInfo, password []byte) mqtt.ReasonCode
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
type AuthenticatorFunc func(ci *ClientInfo, password []byte) mqtt.ReasonCode

func (f AuthenticatorFunc) Authenticate(ci *ClientInfo, password []byte) mqtt.ReasonCode {
	return f(ci, password)
}

// AuthorizerFunc adapts a function to Authorizer.
type AuthorizerFunc func(ci *ClientInfo, topic string, acc Access) bool

func (f AuthorizerFunc) Authorize(ci *ClientInfo, topic string, acc Access) bool {
	return f(ci, topic, acc)
}
