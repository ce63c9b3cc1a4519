package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SOCKS5 is a SOCKS version 5 proxy (RFC 1928), used with the CONNECT
// command. The broker's host name is sent to the proxy, which resolves it
// (the "socks5h" flavour); IP addresses are sent as such.
type SOCKS5 struct {
	Host string
	Port int
	// Username and Password are offered with RFC 1929 user name/password
	// authentication when Username is not empty. Each is at most 255 bytes.
	Username string
	Password string
}

// DefaultSOCKS5Port is the port of a --proxy URL without one (RFC 1928
// section 3).
const DefaultSOCKS5Port = 1080

// Addr is the proxy's host:port.
func (p *SOCKS5) Addr() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.Port)) }

// ParseSOCKS5URL parses mosquitto's --proxy argument,
// socks5h://[user[:password]@]host[:port]. User and password may be
// percent-encoded (%40 for '@', %3A for ':', %25 for '%'); IPv6 hosts are
// written in brackets. Only socks5h is accepted, as in mosquitto: the
// proxy, not this machine, resolves the broker's name.
func ParseSOCKS5URL(s string) (*SOCKS5, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || !strings.EqualFold(scheme, "socks5h") {
		return nil, fmt.Errorf("unsupported proxy protocol in %q: use socks5h://[user[:password]@]host[:port]", s)
	}
	rest = strings.TrimSuffix(rest, "/")
	p := &SOCKS5{Port: DefaultSOCKS5Port}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		user, pass, _ := strings.Cut(rest[:at], ":")
		var err error
		if p.Username, err = url.PathUnescape(user); err != nil {
			return nil, errors.New("invalid proxy URL: bad escape in the user name")
		}
		if p.Password, err = url.PathUnescape(pass); err != nil {
			return nil, errors.New("invalid proxy URL: bad escape in the password")
		}
		if p.Username == "" {
			return nil, errors.New("invalid proxy URL: empty user name before '@'")
		}
		if len(p.Username) > 255 || len(p.Password) > 255 {
			return nil, errors.New("invalid proxy URL: the SOCKS5 user name and password are limited to 255 bytes each")
		}
		rest = rest[at+1:]
	}
	host, port, hasPort := rest, "", false
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return nil, errors.New("invalid proxy URL: missing ']' after the IPv6 address")
		}
		host = rest[1:end]
		if after := rest[end+1:]; after != "" {
			if after[0] != ':' {
				return nil, errors.New("invalid proxy URL: bad host")
			}
			port, hasPort = after[1:], true
		}
	} else if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		if strings.Count(rest, ":") > 1 {
			return nil, errors.New("invalid proxy URL: write IPv6 addresses in brackets")
		}
		host, port, hasPort = rest[:i], rest[i+1:], true
	}
	if host == "" || strings.ContainsAny(host, "/?#") {
		return nil, fmt.Errorf("invalid proxy URL %q: no proxy host", s)
	}
	p.Host = host
	if hasPort {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("invalid proxy port %q", port)
		}
		p.Port = n
	}
	return p, nil
}

// ProxyError reports that the SOCKS5 proxy could not be used to reach the
// broker: it was unreachable, refused our authentication, broke the
// protocol, or could not open the connection (Reply). It deliberately does
// not unwrap to the network error, whose usual hints are about the broker.
type ProxyError struct {
	Proxy string // the proxy's host:port
	// Reply is the proxy's SOCKS5 reply code when it failed to connect to
	// the broker (RFC 1928 section 6), 0 otherwise.
	Reply byte
	Err   error
}

func (e *ProxyError) Error() string { return "SOCKS5 proxy " + e.Proxy + ": " + e.Err.Error() }

// socksReplies are the RFC 1928 section 6 reply codes.
var socksReplies = [...]string{
	1: "general SOCKS server failure",
	2: "connection not allowed by ruleset",
	3: "network unreachable",
	4: "host unreachable",
	5: "connection refused",
	6: "TTL expired",
	7: "command not supported",
	8: "address type not supported",
}

// SOCKSReplyText explains an RFC 1928 reply code.
func SOCKSReplyText(code byte) string {
	if int(code) < len(socksReplies) && socksReplies[code] != "" {
		return socksReplies[code]
	}
	return "unknown failure"
}

// SOCKS5 protocol constants (RFC 1928, RFC 1929).
const (
	socksVersion      = 5
	socksCmdConnect   = 1
	socksAuthNone     = 0x00
	socksAuthUserPW   = 0x02
	socksAuthNoAccept = 0xff // "no acceptable methods"
	socksAtypIPv4     = 1
	socksAtypDomain   = 3
	socksAtypIPv6     = 4
	socksUserPWVer    = 1
	socksReplyOK      = 0
	socksMaxNameSize  = 255
)

// connect runs the SOCKS5 handshake on conn (already connected to the
// proxy) asking for a connection to addr. On return without error conn
// carries the stream to addr. ctx bounds the handshake.
func (p *SOCKS5) connect(ctx context.Context, conn net.Conn, addr string) error {
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	err := p.handshake(conn, addr)
	if !stop() && err != nil {
		return ctx.Err() // the deadline we set, not the proxy, ended it
	}
	return err
}

func (p *SOCKS5) handshake(conn net.Conn, addr string) error {
	fail := func(reply byte, format string, a ...any) error {
		return &ProxyError{Proxy: p.Addr(), Reply: reply, Err: fmt.Errorf(format, a...)}
	}
	ioFail := func(err error) error {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fail(0, "closed the connection during the SOCKS5 handshake")
		}
		return fail(0, "SOCKS5 handshake: %v", dialReason(err))
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return fail(0, "%v", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return fail(0, "invalid port %q", portStr)
	}

	// Method selection: always "no authentication", plus user name and
	// password when we have them; the proxy picks one.
	methods := []byte{socksAuthNone}
	if p.Username != "" {
		methods = append(methods, socksAuthUserPW)
	}
	if _, err := conn.Write(append([]byte{socksVersion, byte(len(methods))}, methods...)); err != nil {
		return ioFail(err)
	}
	var b [4]byte
	if _, err := io.ReadFull(conn, b[:2]); err != nil {
		return ioFail(err)
	}
	if b[0] != socksVersion {
		return fail(0, "not a SOCKS5 proxy (it answered with version %d)", b[0])
	}
	switch b[1] {
	case socksAuthNone:
	case socksAuthUserPW:
		if p.Username == "" {
			return fail(0, "asked for user name/password authentication we did not offer")
		}
		if err := p.authenticate(conn, fail, ioFail); err != nil {
			return err
		}
	case socksAuthNoAccept:
		if p.Username == "" {
			return fail(0, "requires authentication: give it in --proxy socks5h://user:password@host[:port]")
		}
		return fail(0, "accepts neither user name/password nor no authentication")
	default:
		return fail(0, "chose authentication method %d, which we did not offer", b[1])
	}

	// CONNECT request: the address as IPv4, IPv6 or a domain name that
	// the proxy resolves.
	req := []byte{socksVersion, socksCmdConnect, 0}
	ip := net.ParseIP(host)
	switch {
	case ip != nil && ip.To4() != nil:
		req = append(append(req, socksAtypIPv4), ip.To4()...)
	case ip != nil:
		req = append(append(req, socksAtypIPv6), ip.To16()...)
	default:
		if len(host) > socksMaxNameSize {
			return fail(0, "host name %q is longer than SOCKS5's 255 bytes", host)
		}
		req = append(append(req, socksAtypDomain, byte(len(host))), host...)
	}
	req = append(req, byte(port>>8), byte(port))
	if _, err := conn.Write(req); err != nil {
		return ioFail(err)
	}

	// Reply: VER REP RSV ATYP BND.ADDR BND.PORT. The bound address is read
	// and dropped so that the stream starts with the broker's bytes.
	if _, err := io.ReadFull(conn, b[:4]); err != nil {
		return ioFail(err)
	}
	if b[0] != socksVersion {
		return fail(0, "not a SOCKS5 proxy (it answered with version %d)", b[0])
	}
	if b[1] != socksReplyOK {
		return fail(b[1], "could not connect to %s: %s (SOCKS5 reply %d)", addr, SOCKSReplyText(b[1]), b[1])
	}
	var skip int
	switch b[3] {
	case socksAtypIPv4:
		skip = 4
	case socksAtypIPv6:
		skip = 16
	case socksAtypDomain:
		if _, err := io.ReadFull(conn, b[:1]); err != nil {
			return ioFail(err)
		}
		skip = int(b[0])
	default:
		return fail(0, "sent a reply with unknown address type %d", b[3])
	}
	if _, err := io.ReadFull(conn, make([]byte, skip+2)); err != nil {
		return ioFail(err)
	}
	return nil
}

// authenticate runs RFC 1929 user name/password authentication.
func (p *SOCKS5) authenticate(conn net.Conn, fail func(byte, string, ...any) error, ioFail func(error) error) error {
	req := []byte{socksUserPWVer, byte(len(p.Username))}
	req = append(req, p.Username...)
	req = append(req, byte(len(p.Password)))
	req = append(req, p.Password...)
	if _, err := conn.Write(req); err != nil {
		return ioFail(err)
	}
	var b [2]byte
	if _, err := io.ReadFull(conn, b[:]); err != nil {
		return ioFail(err)
	}
	if b[1] != 0 { // any non-zero status is a failure (RFC 1929 section 2)
		return fail(0, "rejected the user name or password for %q", p.Username)
	}
	return nil
}
