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

// TestTLSCRLFile: with crlfile (mosquitto's option; X509_V_FLAG_CRL_CHECK
// semantics), a client certificate the CA's list revokes is refused, one
// it does not list is accepted; a list past its next update, or no list
// for the client certificate's issuer, refuses every client certificate
// (OpenSSL: "CRL has expired", "unable to get certificate CRL"). A
// reload reads the file again.
func TestTLSCRLFile(t *testing.T) {
	f := clienttest.NewTLSRevocation(t)
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	other := clienttest.NewTLSFiles(t) // a CA without a list in the file
	crl := filepath.Join(t.TempDir(), "crl.pem")
	copyFile := func(from string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(crl, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(f.CRL)
	caFile := filepath.Join(t.TempDir(), "cas.pem")
	otherPEM, _ := os.ReadFile(other.CACert)
	if err := os.WriteFile(caFile, append(caPEM, otherPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := NewTLSReloader(TLSOptions{CertFile: f.ServerCert, KeyFile: f.ServerKey, CAFile: caFile,
		RequireCertificate: true, CRLFile: crl})
	if err != nil {
		t.Fatal(err)
	}
	try := func(cert, key string) error {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		return clientHandshake(t, r.Config(), &tls.Config{RootCAs: roots, ServerName: "localhost", Certificates: []tls.Certificate{pair}})
	}
	if err := try(f.GoodCert, f.GoodKey); err != nil {
		t.Errorf("good certificate refused: %v", err)
	}
	if err := try(f.RevokedCert, f.RevokedKey); err == nil {
		t.Error("revoked certificate accepted")
	}
	if err := try(other.ClientCert, other.ClientKey); err == nil {
		t.Error("certificate of an issuer without a revocation list accepted")
	}
	copyFile(f.ExpiredCRL)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := try(f.GoodCert, f.GoodKey); err == nil {
		t.Error("good certificate accepted with an expired revocation list")
	}
}

// clientHandshake runs a TLS handshake between server and client configs
// and returns the first error either side saw.
func clientHandshake(t *testing.T, server, client *tls.Config) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", server)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srvErr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		srvErr <- c.(*tls.Conn).Handshake()
	}()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), client)
	if err == nil {
		// TLS 1.3: the client may finish before the server checked its
		// certificate; the server's verdict is what counts.
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Read(make([]byte, 1))
		c.Close()
	}
	if serr := <-srvErr; serr != nil {
		return serr
	}
	return err
}
