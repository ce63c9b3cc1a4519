package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var serial int64

func newCA(t *testing.T, cn string) *testCA {
	t.Helper()
	k := newKey(t)
	serial++
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: k, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns PEM certificate and key signed by ca.
func (ca *testCA) issue(t *testing.T, cn string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	k := newKey(t)
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &k.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

type tlsFixture struct {
	dir               string
	ca                *testCA
	certFile, keyFile string
	caFile            string
	clientCert        tls.Certificate
	otherCAClientCert tls.Certificate
}

func newTLSFixture(t *testing.T) *tlsFixture {
	t.Helper()
	f := &tlsFixture{dir: t.TempDir(), ca: newCA(t, "test CA")}
	sc, sk := f.ca.issue(t, "server", true)
	f.certFile = writeFile(t, f.dir, "server.crt", string(sc))
	f.keyFile = writeFile(t, f.dir, "server.key", string(sk))
	f.caFile = writeFile(t, f.dir, "ca.crt", string(f.ca.pem))
	var err error
	cc, ck := f.ca.issue(t, "device-42", false)
	if f.clientCert, err = tls.X509KeyPair(cc, ck); err != nil {
		t.Fatal(err)
	}
	oc, ok := newCA(t, "other CA").issue(t, "intruder", false)
	if f.otherCAClientCert, err = tls.X509KeyPair(oc, ok); err != nil {
		t.Fatal(err)
	}
	return f
}

// handshake serves one TLS connection with cfg on 127.0.0.1:0 and dials
// it with client. It returns the server-side state, the leaf certificate
// the client saw, and the server-side handshake error.
func handshake(t *testing.T, cfg *tls.Config, client *tls.Config) (tls.ConnectionState, *x509.Certificate, error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		err   error
		state tls.ConnectionState
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		err = tc.Handshake()
		if err == nil {
			_, err = tc.Write([]byte{1}) // lets the client's Read complete
		}
		done <- result{err, tc.ConnectionState()}
	}()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(), client)
	var leaf *x509.Certificate
	if err == nil {
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		conn.Read(make([]byte, 1)) // TLS 1.3 reports client-cert rejection here
		if pc := conn.ConnectionState().PeerCertificates; len(pc) > 0 {
			leaf = pc[0]
		}
		conn.Close()
	}
	select {
	case r := <-done:
		return r.state, leaf, r.err
	case <-time.After(15 * time.Second):
		t.Fatal("server handshake did not finish")
		return tls.ConnectionState{}, nil, nil
	}
}

func TestTLSHandshakes(t *testing.T) {
	f := newTLSFixture(t)
	roots := x509.NewCertPool()
	roots.AddCert(f.ca.cert)
	capath := filepath.Join(f.dir, "capath")
	if err := os.Mkdir(capath, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, capath, "5a3f1b2c.0", string(f.ca.pem))
	writeFile(t, capath, "README", "not a certificate\n")

	tests := []struct {
		name      string
		opts      TLSOptions
		clientCrt []tls.Certificate
		maxVer    uint16
		wantOK    bool
		wantID    string
	}{
		{"server only", TLSOptions{}, nil, 0, true, ""},
		{"server only ignores client cert", TLSOptions{}, []tls.Certificate{f.clientCert}, 0, true, ""},
		{"mutual with cert", TLSOptions{CAFile: f.caFile, RequireCertificate: true}, []tls.Certificate{f.clientCert}, 0, true, "device-42"},
		{"mutual via capath", TLSOptions{CAPath: capath, RequireCertificate: true}, []tls.Certificate{f.clientCert}, 0, true, "device-42"},
		{"mutual without cert", TLSOptions{CAFile: f.caFile, RequireCertificate: true}, nil, 0, false, ""},
		{"mutual wrong CA", TLSOptions{CAFile: f.caFile, RequireCertificate: true}, []tls.Certificate{f.otherCAClientCert}, 0, false, ""},
		{"mutual TLS 1.2", TLSOptions{CAFile: f.caFile, RequireCertificate: true}, []tls.Certificate{f.clientCert}, tls.VersionTLS12, true, "device-42"},
		{"min 1.3 rejects 1.2 client", TLSOptions{TLSVersion: "tlsv1.3"}, nil, tls.VersionTLS12, false, ""},
		{"min 1.2 accepts 1.2 client", TLSOptions{TLSVersion: "tlsv1.2"}, nil, tls.VersionTLS12, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.CertFile, opts.KeyFile = f.certFile, f.keyFile
			cfg, err := TLSConfig(opts)
			if err != nil {
				t.Fatal(err)
			}
			client := &tls.Config{RootCAs: roots, Certificates: tc.clientCrt, MaxVersion: tc.maxVer}
			state, _, serr := handshake(t, cfg, client)
			if (serr == nil) != tc.wantOK {
				t.Fatalf("server handshake error %v, want ok=%v", serr, tc.wantOK)
			}
			if !tc.wantOK {
				return
			}
			id, err := CertificateIdentity(&state)
			if tc.wantID == "" {
				if err == nil {
					t.Errorf("CertificateIdentity = %q, want error without a verified client cert", id)
				}
			} else if err != nil || id != tc.wantID {
				t.Errorf("CertificateIdentity = %q, %v; want %q", id, err, tc.wantID)
			}
		})
	}
}

func TestTLSConfigErrors(t *testing.T) {
	f := newTLSFixture(t)
	_, otherKey := f.ca.issue(t, "other", true)
	wrongKey := writeFile(t, f.dir, "wrong.key", string(otherKey))
	empty := writeFile(t, f.dir, "empty.pem", "no certs here\n")
	emptyDir := filepath.Join(f.dir, "emptydir")
	os.Mkdir(emptyDir, 0o700)
	missing := filepath.Join(f.dir, "missing.pem")
	tests := []struct {
		name string
		opts TLSOptions
		want string
	}{
		{"no certfile", TLSOptions{KeyFile: f.keyFile}, "certfile and keyfile are both required"},
		{"missing certfile", TLSOptions{CertFile: missing, KeyFile: f.keyFile}, "certfile"},
		{"missing keyfile", TLSOptions{CertFile: f.certFile, KeyFile: missing}, "keyfile"},
		{"key does not match", TLSOptions{CertFile: f.certFile, KeyFile: wrongKey}, "does not match"},
		{"bad version", TLSOptions{CertFile: f.certFile, KeyFile: f.keyFile, TLSVersion: "tlsv1.0"}, "tls_version"},
		{"require without CA", TLSOptions{CertFile: f.certFile, KeyFile: f.keyFile, RequireCertificate: true}, "needs cafile or capath"},
		{"missing cafile", TLSOptions{CertFile: f.certFile, KeyFile: f.keyFile, CAFile: missing}, "cafile"},
		{"cafile without certs", TLSOptions{CertFile: f.certFile, KeyFile: f.keyFile, CAFile: empty}, "no PEM certificates"},
		{"capath without certs", TLSOptions{CertFile: f.certFile, KeyFile: f.keyFile, CAPath: emptyDir}, "no PEM certificates"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := TLSConfig(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("TLSConfig error %v, want it to mention %q", err, tc.want)
			}
		})
	}
	if _, err := TLSConfig(TLSOptions{CertFile: missing, KeyFile: f.keyFile}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file error %v does not wrap os.ErrNotExist", err)
	}
}

func TestTLSReload(t *testing.T) {
	f := newTLSFixture(t)
	r, err := NewTLSReloader(TLSOptions{CertFile: f.certFile, KeyFile: f.keyFile})
	if err != nil {
		t.Fatal(err)
	}
	cfg := r.Config()
	roots := x509.NewCertPool()
	roots.AddCert(f.ca.cert)
	client := &tls.Config{RootCAs: roots}

	_, leaf, _ := handshake(t, cfg, client)
	if leaf == nil || leaf.Subject.CommonName != "server" {
		t.Fatalf("first leaf %v", leaf)
	}
	// Replace the files; the running config serves the new certificate
	// only after Reload.
	nc, nk := f.ca.issue(t, "server-renewed", true)
	writeFile(t, f.dir, "server.crt", string(nc))
	writeFile(t, f.dir, "server.key", string(nk))
	if _, leaf, _ = handshake(t, cfg, client); leaf == nil || leaf.Subject.CommonName != "server" {
		t.Fatalf("leaf changed before Reload: %v", leaf)
	}
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, leaf, _ = handshake(t, cfg, client); leaf == nil || leaf.Subject.CommonName != "server-renewed" {
		t.Fatalf("leaf after Reload: %v", leaf)
	}
	// A broken file fails Reload and keeps serving the last good pair.
	writeFile(t, f.dir, "server.key", "garbage")
	if err := r.Reload(); err == nil {
		t.Fatal("Reload with a broken key succeeded")
	}
	if _, leaf, _ = handshake(t, cfg, client); leaf == nil || leaf.Subject.CommonName != "server-renewed" {
		t.Fatalf("leaf after failed Reload: %v", leaf)
	}
}
