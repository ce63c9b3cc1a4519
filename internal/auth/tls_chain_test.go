package auth

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/client/clienttest"
)

// TestTLSSendsChainFromCAFile: with certfile holding only the leaf and
// cafile the intermediate and the root, the server sends leaf and
// intermediate, so a client that trusts only the root verifies it (issue
// 11 item 11; mosquitto does the same through OpenSSL's chain building).
// A chain already complete in certfile is not duplicated, and the
// self-signed root is never sent.
func TestTLSSendsChainFromCAFile(t *testing.T) {
	ch := clienttest.NewTLSChain(t)
	rootPEM, err := os.ReadFile(ch.Root)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)

	leafAndInter := filepath.Join(t.TempDir(), "leaf-chain.crt")
	lb, _ := os.ReadFile(ch.Leaf)
	ib, _ := os.ReadFile(ch.Intermediate)
	if err := os.WriteFile(leafAndInter, append(lb, ib...), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		opts     TLSOptions
		wantCert int // certificates the server sends; 0 = handshake fails
	}{
		{"leaf, cafile intermediate+root", TLSOptions{CertFile: ch.Leaf, KeyFile: ch.Key, CAFile: ch.CAFile}, 2},
		{"leaf, capath", TLSOptions{CertFile: ch.Leaf, KeyFile: ch.Key, CAPath: ch.Dir}, 2},
		{"leaf+intermediate, cafile too", TLSOptions{CertFile: leafAndInter, KeyFile: ch.Key, CAFile: ch.CAFile}, 2},
		{"leaf+intermediate, no cafile", TLSOptions{CertFile: leafAndInter, KeyFile: ch.Key}, 2},
		{"leaf, cafile root only", TLSOptions{CertFile: ch.Leaf, KeyFile: ch.Key, CAFile: ch.Root}, 0},
		{"leaf, no cafile", TLSOptions{CertFile: ch.Leaf, KeyFile: ch.Key}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := TLSConfig(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			n, err := handshakeCount(t, cfg, roots)
			switch {
			case tc.wantCert == 0 && err == nil:
				t.Errorf("handshake succeeded with %d certificates: the chain should be incomplete", n)
			case tc.wantCert > 0 && err != nil:
				t.Errorf("handshake: %v", err)
			case tc.wantCert > 0 && n != tc.wantCert:
				t.Errorf("server sent %d certificates, want %d", n, tc.wantCert)
			}
		})
	}
}

// handshakeCount runs a TLS handshake against cfg with a client trusting
// roots, and returns the number of certificates the server sent.
func handshakeCount(t *testing.T, cfg *tls.Config, roots *x509.CertPool) (int, error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_ = c.(*tls.Conn).Handshake()
	}()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "localhost"})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return len(c.ConnectionState().PeerCertificates), nil
}
