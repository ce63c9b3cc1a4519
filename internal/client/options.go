package client

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Endpoint says where and how to connect.
type Endpoint struct {
	// Scheme is "mqtt" (TCP), "mqtts" (TLS), "ws" (WebSocket), "wss"
	// (WebSocket over TLS) or "unix" (a unix domain socket at Socket).
	// Empty means "mqtt".
	Scheme string
	Host   string
	Port   int
	// Socket is the path of the unix domain socket (Scheme "unix").
	Socket string
	// Path is the WebSocket request path ("/mqtt" when empty).
	Path string
	// TLS configures mqtts and wss. When nil a default configuration with
	// the system roots and ServerName = Host is used.
	TLS *tls.Config

	// LocalAddr binds the outgoing TCP connection to a local address
	// (mosquitto's -A): an IP address, a network interface name or a host
	// name. For an interface or a host name, its first address of the
	// remote address's family is used. Empty lets the system choose.
	LocalAddr string
	// NoDelay sets TCP_NODELAY (mosquitto's --nodelay). Go already sets it
	// on every TCP connection, so false does not turn Nagle's algorithm on.
	NoDelay bool
	// Proxy, when set, reaches Host:Port through this SOCKS5 proxy
	// (mosquitto's --proxy); LocalAddr then binds the connection to the
	// proxy. TLS and WebSocket run on top of the proxied connection.
	Proxy *SOCKS5
}

// Addr is host:port, or the socket path for "unix".
func (e Endpoint) Addr() string {
	if e.Scheme == "unix" {
		return e.Socket
	}
	return net.JoinHostPort(e.Host, strconv.Itoa(e.Port))
}

// String is the endpoint as a URL, e.g. "ws://127.0.0.1:8080/mqtt".
func (e Endpoint) String() string {
	s := e.Scheme
	if s == "" {
		s = "mqtt"
	}
	if s == "unix" {
		return "unix:" + e.Socket
	}
	u := s + "://" + e.Addr()
	if s == "ws" || s == "wss" {
		u += e.wsPath()
	}
	return u
}

func (e Endpoint) wsPath() string {
	if e.Path == "" {
		return "/mqtt"
	}
	if e.Path[0] != '/' {
		return "/" + e.Path
	}
	return e.Path
}

// Options configures a Client.
type Options struct {
	Endpoint Endpoint

	// Connect is the CONNECT packet sent on Connect. Connect.Version selects
	// the protocol (V31, V311 or V5; 0 means V311).
	Connect mqtt.Connect

	// MaxInflight caps outbound QoS 1/2 PUBLISH packets awaiting their
	// final acknowledgement. 0 means no client-side cap; the server's v5
	// Receive Maximum always applies [MQTT-3.3.4-9].
	MaxInflight int

	// ConnectTimeout bounds dialling, the TLS/WebSocket handshakes and the
	// wait for CONNACK. 0 means 30 seconds.
	ConnectTimeout time.Duration

	// WriteTimeout bounds each flush to the network. 0 means 30 seconds.
	WriteTimeout time.Duration

	// OnMessage is called on the reader goroutine for every application
	// message, after topic alias resolution, exactly once per QoS 2
	// message. Return false to leave the message unacknowledged (the server
	// keeps it for a persistent session). The callback must not wait for
	// acknowledgements of the same client (it runs on the reader).
	OnMessage func(p *mqtt.Publish) bool

	// OnConnect, if set, is called once the server accepted the
	// connection (CONNACK), before the client reads anything else: what it
	// queues (Start*, Publish) goes out before any message that follows
	// the CONNACK is handled, as with libmosquitto's on_connect callback.
	// It must not wait for acknowledgements.
	OnConnect func(c *Client)

	// OnRelease, if set, is called on the reader goroutine for every
	// message OnMessage accepted, once the client has acknowledged it:
	// right away for QoS 0, after queuing PUBACK for QoS 1, and for QoS 2
	// after the server's PUBREL and our PUBCOMP. That is the point where
	// libmosquitto hands a message to mosquitto_sub, so a command that
	// decides in OnMessage and prints in OnRelease prints, and traces,
	// in mosquitto's order. QoS 2 messages still waiting for PUBREL when
	// the connection ends are released then. Not used with ManualAck.
	OnRelease func(p *mqtt.Publish)

	// ManualAck, when set, leaves every inbound QoS 1/2 message
	// unacknowledged after OnMessage (whose result is then ignored) until
	// the application calls Client.Ack for it: PUBACK for QoS 1, PUBREC for
	// QoS 2 (PUBCOMP follows the server's PUBREL as usual). A bridge uses it
	// to acknowledge a message only once it was forwarded. Ack must be
	// called in the order the messages arrived [MQTT-4.6.0-2].
	ManualAck bool

	// Dial, if set, opens the connection instead of Endpoint (for example
	// one end of net.Pipe served by an in-process broker). Endpoint then
	// only names the server in errors.
	Dial func(ctx context.Context) (net.Conn, error)

	// OnServerDisconnect, if set, is called when the server sends DISCONNECT.
	OnServerDisconnect func(d *mqtt.Disconnect)

	// Trace, if set, is called for every packet received (before it is
	// handled) and for every packet sent, when it is queued for the writer
	// (in the order the packets go out), from the goroutine that queues
	// it. It must not call the Client.
	Trace func(ev TraceEvent)
}

// TraceEvent describes one packet crossing the wire.
type TraceEvent struct {
	Sent     bool   // true for packets we send, false for received ones
	ClientID string // client identifier in use ("" before CONNACK for v5)
	Packet   mqtt.Packet
	Raw      []byte // the exact bytes on the wire (valid during the call)
}

func (o *Options) connectTimeout() time.Duration {
	if o.ConnectTimeout > 0 {
		return o.ConnectTimeout
	}
	return 30 * time.Second
}

func (o *Options) writeTimeout() time.Duration {
	if o.WriteTimeout > 0 {
		return o.WriteTimeout
	}
	return 30 * time.Second
}
