package cliutil

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testCert makes a CA and a server certificate for names, valid in
// [notBefore, notAfter].
func testCert(t *testing.T, names []string, notBefore, notAfter time.Time) (*x509.CertPool, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	requireNoError(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	requireNoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	requireNoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	requireNoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: notBefore, NotAfter: notAfter,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	requireNoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// loopbackPair returns both ends of a TCP connection on 127.0.0.1 (a
// net.Pipe is unbuffered, and TLS peers that write at the same time, as
// when one sends an alert, deadlock on it).
func loopbackPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	requireNoError(t, err)
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	client, err = net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	requireNoError(t, err)
	r := <-ch
	requireNoError(t, r.err)
	deadline := time.Now().Add(10 * time.Second)
	_ = client.SetDeadline(deadline)
	_ = r.c.SetDeadline(deadline)
	t.Cleanup(func() { client.Close(); r.c.Close() })
	return client, r.c
}

// handshake runs a TLS handshake over loopback and returns the client's
// error.
func handshake(t *testing.T, server *tls.Config, client *tls.Config) error {
	t.Helper()
	c1, c2 := loopbackPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s := tls.Server(c2, server)
		_ = s.HandshakeContext(ctx)
		c2.Close()
	}()
	tc := tls.Client(c1, client)
	err := tc.HandshakeContext(ctx)
	if err == nil {
		// In TLS 1.3 the server checks the client certificate after the
		// client's handshake is done; its alert arrives on the first read.
		_, err = tc.Read(make([]byte, 1))
	}
	c1.Close()
	<-done
	return err
}

func TestTLSHintRealHandshakes(t *testing.T) {
	now := time.Now()
	pool, cert := testCert(t, []string{"broker.example"}, now.Add(-time.Hour), now.Add(time.Hour))
	srv := &tls.Config{Certificates: []tls.Certificate{cert}}

	tests := []struct {
		name   string
		server *tls.Config
		client *tls.Config
		want   string
	}{
		{"unknown CA", srv, &tls.Config{ServerName: "broker.example", RootCAs: x509.NewCertPool()},
			"server certificate is signed by an unknown CA: pass --cafile"},
		{"wrong host", srv, &tls.Config{ServerName: "other.example", RootCAs: pool},
			"certificate is for broker.example, not other.example: use the right -h or --insecure"},
		{"client cert required", &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAnyClientCert, MinVersion: tls.VersionTLS13},
			&tls.Config{ServerName: "broker.example", RootCAs: pool, MinVersion: tls.VersionTLS13},
			"--cert and --key"},
		{"client cert not trusted", &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: x509.NewCertPool()},
			&tls.Config{ServerName: "broker.example", RootCAs: pool, Certificates: []tls.Certificate{cert}},
			"did not accept the client certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := handshake(t, tc.server, tc.client)
			if err == nil {
				t.Fatal("handshake succeeded")
			}
			if got := TLSHint(err); !strings.Contains(got, tc.want) {
				t.Errorf("TLSHint(%v) = %q, want it to contain %q", err, got, tc.want)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		p2, exp := testCert(t, []string{"broker.example"}, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
		err := handshake(t, &tls.Config{Certificates: []tls.Certificate{exp}}, &tls.Config{ServerName: "broker.example", RootCAs: p2})
		if got := TLSHint(err); !strings.Contains(got, "server certificate has expired") {
			t.Errorf("TLSHint(%v) = %q", err, got)
		}
	})
	t.Run("plain server", func(t *testing.T) {
		c1, c2 := loopbackPair(t)
		go func() {
			buf := make([]byte, 512)
			_, _ = c2.Read(buf)
			_, _ = c2.Write([]byte{0x20, 0x02, 0x00, 0x05, 0, 0, 0, 0, 0, 0}) // a CONNACK, not TLS
			c2.Close()
		}()
		err := tls.Client(c1, &tls.Config{ServerName: "x", RootCAs: pool}).Handshake()
		if got := TLSHint(err); !strings.Contains(got, "did not answer with TLS") {
			t.Errorf("TLSHint(%v) = %q", err, got)
		}
	})
}

func TestTLSHintErrorValues(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("boom"), ""},
		{x509.HostnameError{Host: "10.0.0.1"}, "certificate is for another host, not 10.0.0.1"},
		{x509.CertificateInvalidError{Reason: x509.NotAuthorizedToSign}, "not a CA"},
		{x509.CertificateInvalidError{Reason: x509.IncompatibleUsage}, "serverAuth"},
		{x509.CertificateInvalidError{Reason: x509.CANotAuthorizedForThisName}, "name constraints"},
		{x509.SystemRootsError{}, "pass --cafile"},
		{fmt.Errorf("dial: %w", tls.AlertError(alertUnknownCA)), "did not accept the client certificate"},
		{tls.AlertError(alertProtocolVersion), "--tls-version"},
		{tls.AlertError(alertCertificateExpired), "renew --cert"},
		{errors.New("remote error: tls: unknown certificate authority"), "did not accept the client certificate"},
		{errors.New("remote error: tls: internal error"), "the broker rejected the TLS handshake: internal error"},
	}
	for _, tc := range tests {
		got := TLSHint(tc.err)
		if (tc.want == "" && got != "") || !strings.Contains(got, tc.want) {
			t.Errorf("TLSHint(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestNetHint(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, "nothing is listening"},
		{&net.OpError{Op: "dial", Err: &net.DNSError{Name: "nohost.invalid", Err: "no such host"}}, "cannot resolve host nohost.invalid"},
		{fmt.Errorf("read: %w", os.ErrDeadlineExceeded), "no answer in time"},
		{fmt.Errorf("read: %w", io.EOF), "closed the connection"},
		{errors.New("other"), ""},
	}
	for _, tc := range tests {
		got := NetHint(tc.err)
		if (tc.want == "" && got != "") || !strings.Contains(got, tc.want) {
			t.Errorf("NetHint(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
