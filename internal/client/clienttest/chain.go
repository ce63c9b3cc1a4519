package clienttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TLSChain are PEM files of a three-level PKI: a root CA, an intermediate
// CA signed by the root, and a server certificate for 127.0.0.1 and
// localhost signed by the intermediate.
type TLSChain struct {
	Dir          string
	Root         string // the root certificate only (what clients trust)
	Intermediate string // the intermediate certificate only
	CAFile       string // intermediate then root, as mosquitto's cafile often holds them
	Leaf, Key    string // the server certificate alone, and its key
}

// NewTLSChain writes a fresh root -> intermediate -> leaf chain into a
// temporary directory.
func NewTLSChain(t testing.TB) *TLSChain {
	t.Helper()
	dir := t.TempDir()
	c := &TLSChain{
		Dir: dir, Root: filepath.Join(dir, "root.crt"), Intermediate: filepath.Join(dir, "intermediate.crt"),
		CAFile: filepath.Join(dir, "ca.crt"), Leaf: filepath.Join(dir, "leaf.crt"), Key: filepath.Join(dir, "leaf.key"),
	}
	rootKey, root := newCA(t, "mqkit test root CA")
	writeCert(t, c.Root, root.Raw)
	interTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(10),
		Subject:               pkix.Name{CommonName: "mqkit test intermediate CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, interTmpl, root, &interKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	inter, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	writeCert(t, c.Intermediate, der)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(11),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	issue(t, leaf, inter, interKey, c.Leaf, c.Key)
	ib, err := os.ReadFile(c.Intermediate)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := os.ReadFile(c.Root)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.CAFile, append(ib, rb...), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// TLSRevocation are PEM files of a CA, a server certificate for
// 127.0.0.1 and localhost, two client certificates (CN "good" and
// "revoked") and a certificate revocation list of the CA that revokes
// the second one.
type TLSRevocation struct {
	Dir                     string
	CA                      string
	ServerCert, ServerKey   string
	GoodCert, GoodKey       string
	RevokedCert, RevokedKey string
	CRL                     string // PEM "X509 CRL", valid for a day
	ExpiredCRL              string // the same list, past its next update
}

// NewTLSRevocation writes the files into a temporary directory.
func NewTLSRevocation(t testing.TB) *TLSRevocation {
	t.Helper()
	dir := t.TempDir()
	f := &TLSRevocation{Dir: dir, CA: filepath.Join(dir, "ca.crt"),
		ServerCert: filepath.Join(dir, "server.crt"), ServerKey: filepath.Join(dir, "server.key"),
		GoodCert: filepath.Join(dir, "good.crt"), GoodKey: filepath.Join(dir, "good.key"),
		RevokedCert: filepath.Join(dir, "revoked.crt"), RevokedKey: filepath.Join(dir, "revoked.key"),
		CRL: filepath.Join(dir, "ca.crl"), ExpiredCRL: filepath.Join(dir, "expired.crl")}
	caKey, ca := newCA(t, "mqkit test CRL CA")
	writeCert(t, f.CA, ca.Raw)
	issue(t, &x509.Certificate{
		SerialNumber: big.NewInt(20), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, caKey, f.ServerCert, f.ServerKey)
	for _, c := range []struct {
		serial    int64
		cn        string
		cert, key string
	}{{21, "good", f.GoodCert, f.GoodKey}, {22, "revoked", f.RevokedCert, f.RevokedKey}} {
		issue(t, &x509.Certificate{
			SerialNumber: big.NewInt(c.serial), Subject: pkix.Name{CommonName: c.cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}, ca, caKey, c.cert, c.key)
	}
	for _, l := range []struct {
		path       string
		this, next time.Time
	}{
		{f.CRL, time.Now().Add(-time.Hour), time.Now().Add(24 * time.Hour)},
		{f.ExpiredCRL, time.Now().Add(-48 * time.Hour), time.Now().Add(-24 * time.Hour)},
	} {
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
			Number: big.NewInt(1), ThisUpdate: l.this, NextUpdate: l.next,
			RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: big.NewInt(22), RevocationTime: time.Now().Add(-time.Minute)}},
		}, ca, caKey)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, l.path, "X509 CRL", der)
	}
	return f
}
