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
	"time"

	"github.com/gorilla/websocket"
	"github.com/mqkit/mqkit/internal/wsconn"
)

// dial opens the transport named by ep.Scheme. TCP failures are returned as
// *DialError, handshake failures as *TLSError.
func dial(ctx context.Context, ep Endpoint) (net.Conn, error) {
	switch ep.Scheme {
	case "", "mqtt", "tcp":
		return dialTCP(ctx, ep)
	case "mqtts", "tls", "ssl":
		conn, err := dialTCP(ctx, ep)
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

func dialTCP(ctx context.Context, ep Endpoint) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", ep.Addr())
	if err != nil {
		return nil, &DialError{Addr: ep.Addr(), Err: err}
	}
	return conn, nil
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
		NetDialContext: (&net.Dialer{}).DialContext,
		Subprotocols:   []string{"mqtt"},
		Proxy:          http.ProxyFromEnvironment,
	}
	if ep.Scheme == "wss" {
		d.TLSClientConfig = tlsConfigFor(ep)
	}
	ws, resp, err := d.DialContext(ctx, u.String(), nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
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
