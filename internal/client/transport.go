package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mqkit/mqkit/internal/wsconn"
)

// dial opens the transport named by ep.Scheme. TCP failures (including
// the SOCKS5 proxy's, as *ProxyError inside) are returned as *DialError,
// handshake failures as *TLSError.
func dial(ctx context.Context, ep Endpoint) (net.Conn, error) {
	switch ep.Scheme {
	case "", "mqtt", "tcp":
		return dialStream(ctx, ep, ep.Addr())
	case "mqtts", "tls", "ssl":
		conn, err := dialStream(ctx, ep, ep.Addr())
		if err != nil {
			return nil, err
		}
		tc := tls.Client(conn, tlsConfigFor(ep))
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, &TLSError{Err: err}
		}
		return tc, nil
	case "ws", "wss":
		return dialWebSocket(ctx, ep)
	case "unix":
		var d net.Dialer
		conn, err := d.DialContext(ctx, "unix", ep.Socket)
		if err != nil {
			return nil, &DialError{Addr: ep.Socket, Err: err}
		}
		return conn, nil
	}
	return nil, &DialError{Addr: ep.Addr(), Err: fmt.Errorf("unsupported scheme %q", ep.Scheme)}
}

// dialStream opens the TCP connection every TCP-based transport starts
// from: to addr (host:port) directly, or through ep.Proxy, bound to
// ep.LocalAddr, with ep.NoDelay applied. Errors are *DialError for addr.
func dialStream(ctx context.Context, ep Endpoint, addr string) (net.Conn, error) {
	if ep.Proxy == nil {
		conn, err := dialTCP(ctx, ep, addr)
		if err != nil {
			return nil, &DialError{Addr: addr, Err: err}
		}
		return conn, nil
	}
	conn, err := dialTCP(ctx, ep, ep.Proxy.Addr())
	if err != nil {
		return nil, &DialError{Addr: addr, Err: &ProxyError{Proxy: ep.Proxy.Addr(), Err: dialReason(err)}}
	}
	if err := ep.Proxy.connect(ctx, conn, addr); err != nil {
		conn.Close()
		return nil, &DialError{Addr: addr, Err: err}
	}
	return conn, nil
}

// dialTCP connects to addr, bound to ep.LocalAddr when set.
func dialTCP(ctx context.Context, ep Endpoint, addr string) (net.Conn, error) {
	var d net.Dialer
	if ep.LocalAddr != "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if d.LocalAddr, err = localAddrFor(ctx, ep.LocalAddr, host); err != nil {
			return nil, err
		}
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		var se *os.SyscallError
		if d.LocalAddr != nil && errors.As(err, &se) && se.Syscall == "bind" {
			// "dial tcp 192.0.2.1:0->127.0.0.1:1883: bind: cannot assign
			// requested address" hides that -A is the culprit.
			return nil, fmt.Errorf("cannot bind to local address %s (-A): %w", d.LocalAddr.(*net.TCPAddr).IP, se.Err)
		}
		return nil, err
	}
	if ep.NoDelay {
		if tc, ok := conn.(*net.TCPConn); ok {
			if err := tc.SetNoDelay(true); err != nil {
				conn.Close()
				return nil, fmt.Errorf("setting TCP_NODELAY: %w", err)
			}
		}
	}
	return conn, nil
}

// dialReason drops the "dial tcp host:port:" prefix the caller's message
// already carries.
func dialReason(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" && oe.Err != nil {
		return oe.Err
	}
	return err
}

// localAddrFor resolves -A's spec (IP address, interface name or host
// name) to the local address to bind for a connection to remoteHost: the
// first address of spec in the family of remoteHost. When remoteHost is a
// name and spec has addresses of both families, remoteHost is looked up
// and its first address decides.
func localAddrFor(ctx context.Context, spec, remoteHost string) (*net.TCPAddr, error) {
	locals, err := localAddrs(ctx, spec)
	if err != nil {
		return nil, err
	}
	var v4, v6 *net.TCPAddr
	for _, a := range locals {
		switch {
		case a.IP.To4() != nil && v4 == nil:
			v4 = a
		case a.IP.To4() == nil && v6 == nil:
			v6 = a
		}
	}
	// With one family only, use it: the dialer then skips the remote
	// host's addresses of the other family.
	want4 := v4 != nil
	if ip := net.ParseIP(strings.SplitN(remoteHost, "%", 2)[0]); ip != nil {
		want4 = ip.To4() != nil
	} else if v4 != nil && v6 != nil {
		ips, err := net.DefaultResolver.LookupIP(ctx, "ip", remoteHost)
		if err != nil {
			return nil, err
		}
		want4 = ips[0].To4() != nil
	}
	if want4 && v4 != nil {
		return v4, nil
	}
	if !want4 && v6 != nil {
		return v6, nil
	}
	family := "IPv6"
	if want4 {
		family = "IPv4"
	}
	return nil, fmt.Errorf("local address %q (-A) has no %s address to reach %s", spec, family, remoteHost)
}

// localAddrs lists the addresses spec stands for: an IP address (IPv6 with
// an optional %zone), the addresses of the interface of that name, or
// those of the host name.
func localAddrs(ctx context.Context, spec string) ([]*net.TCPAddr, error) {
	host, zone, _ := strings.Cut(spec, "%")
	if ip := net.ParseIP(host); ip != nil {
		return []*net.TCPAddr{{IP: ip, Zone: zone}}, nil
	}
	if ifi, err := net.InterfaceByName(spec); err == nil {
		addrs, err := ifi.Addrs()
		if err != nil {
			return nil, fmt.Errorf("local interface %s (-A): %w", spec, err)
		}
		var out []*net.TCPAddr
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				la := &net.TCPAddr{IP: n.IP}
				if n.IP.IsLinkLocalUnicast() {
					la.Zone = ifi.Name
				}
				out = append(out, la)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("local interface %s (-A) has no IP address", spec)
		}
		return out, nil
	}
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip", spec)
	if err != nil {
		return nil, fmt.Errorf("local address %q (-A) is no IP address, interface or known host name", spec)
	}
	out := make([]*net.TCPAddr, len(ips))
	for i, ip := range ips {
		out[i] = &net.TCPAddr{IP: ip}
	}
	return out, nil
}

// tlsConfigFor returns the TLS configuration for ep, defaulting to the
// system roots and the endpoint host as server name (SNI and hostname check).
func tlsConfigFor(ep Endpoint) *tls.Config {
	var cfg *tls.Config
	if ep.TLS != nil {
		cfg = ep.TLS.Clone()
	} else {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = ep.Host
	}
	return cfg
}

// dialWebSocket opens MQTT over WebSocket: subprotocol "mqtt", binary
// frames (MQTT 5.0 section 6, [MQTT-6.0.0-1], [MQTT-6.0.0-3]).
func dialWebSocket(ctx context.Context, ep Endpoint) (net.Conn, error) {
	u := url.URL{Scheme: ep.Scheme, Host: ep.Addr(), Path: ep.wsPath()}
	d := websocket.Dialer{
		NetDialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dialStream(ctx, ep, addr)
		},
		Subprotocols: []string{"mqtt"},
		Proxy:        http.ProxyFromEnvironment,
	}
	if ep.Proxy != nil {
		d.Proxy = nil // --proxy wins over HTTPS_PROXY and friends
	}
	if ep.Scheme == "wss" {
		d.TLSClientConfig = tlsConfigFor(ep)
	}
	ws, resp, err := d.DialContext(ctx, u.String(), nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		var de *DialError
		if errors.As(err, &de) {
			return nil, err // from dialStream, already naming the address
		}
		if isTLSFailure(err) {
			return nil, &TLSError{Err: err}
		}
		if errors.Is(err, websocket.ErrBadHandshake) && resp != nil {
			err = fmt.Errorf("%w (HTTP %s)", err, resp.Status)
		}
		return nil, &DialError{Addr: u.String(), Err: err}
	}
	return wsconn.New(ws, nil, time.Second), nil
}

// isTLSFailure reports whether err came from a TLS handshake.
func isTLSFailure(err error) bool {
	var (
		certErr    *tls.CertificateVerificationError
		hostErr    x509.HostnameError
		unknownCA  x509.UnknownAuthorityError
		invalidErr x509.CertificateInvalidError
		recErr     tls.RecordHeaderError
		alertErr   tls.AlertError
	)
	return errors.As(err, &certErr) || errors.As(err, &hostErr) ||
		errors.As(err, &unknownCA) || errors.As(err, &invalidErr) ||
		errors.As(err, &recErr) || errors.As(err, &alertErr)
}

// Dial opens the transport named by ep.Scheme (TCP, TLS, WebSocket, unix)
// without speaking MQTT on it: for probes that write packets themselves.
func Dial(ctx context.Context, ep Endpoint) (net.Conn, error) { return dial(ctx, ep) }
