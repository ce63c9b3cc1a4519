package clienttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TLSFiles are PEM files of a throwaway CA, a server certificate for
// 127.0.0.1 and localhost, and a client certificate, all signed by the CA.
type TLSFiles struct {
	Dir                   string
	CACert                string
	ServerCert, ServerKey string
	ClientCert, ClientKey string
	// OtherCACert is a CA that signed nothing here (for "unknown
	// authority" tests).
	OtherCACert string
}

// NewTLSFiles writes a fresh CA and certificates into a temporary directory.
// serverNames are the DNS names of the server certificate (besides the
// IP 127.0.0.1); nil means "localhost".
func NewTLSFiles(t testing.TB, serverNames ...string) *TLSFiles {
	t.Helper()
	if serverNames == nil {
		serverNames = []string{"localhost"}
	}
	dir := t.TempDir()
	f := &TLSFiles{
		Dir:         dir,
		CACert:      filepath.Join(dir, "ca.crt"),
		ServerCert:  filepath.Join(dir, "server.crt"),
		ServerKey:   filepath.Join(dir, "server.key"),
		ClientCert:  filepath.Join(dir, "client.crt"),
		ClientKey:   filepath.Join(dir, "client.key"),
		OtherCACert: filepath.Join(dir, "other-ca.crt"),
	}
	caKey, caCert := newCA(t, "mqkit test CA")
	writeCert(t, f.CACert, caCert.Raw)
	_, other := newCA(t, "unrelated CA")
	writeCert(t, f.OtherCACert, other.Raw)

	srv := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: serverNames[0]},
		DNSNames:     serverNames,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	issue(t, srv, caCert, caKey, f.ServerCert, f.ServerKey)
	cli := &x509.Certificate{
		SerialNumber: big.NewInt(3),
		Subject:      pkix.Name{CommonName: "mqkit-client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	issue(t, cli, caCert, caKey, f.ClientCert, f.ClientKey)
	return f
}

func newCA(t testing.TB, name string) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func issue(t testing.TB, tmpl, ca *x509.Certificate, caKey *ecdsa.PrivateKey, certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	writeCert(t, certPath, der)
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, keyPath, "PRIVATE KEY", kb)
}

func writeCert(t testing.TB, path string, der []byte) {
	t.Helper()
	writePEM(t, path, "CERTIFICATE", der)
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// PasswordLine returns a mosquitto password file line for user in the
// default 2.0 format: $7$, PBKDF2-HMAC-SHA512, 101 iterations, 12-byte salt.
func PasswordLine(t testing.TB, user, password string) string {
	t.Helper()
	salt := make([]byte, 12)
	if _, err := rand.Read(salt); err != nil {
		t.Fatal(err)
	}
	hash, err := pbkdf2.Key(sha512.New, password, salt, 101, 64)
	if err != nil {
		t.Fatal(err)
	}
	return user + ":$7$101$" + base64.StdEncoding.EncodeToString(salt) + "$" +
		base64.StdEncoding.EncodeToString(hash)
}

// WritePasswordFile writes a password file with the given user:password
// pairs and returns its path.
func WritePasswordFile(t testing.TB, dir string, users map[string]string) string {
	t.Helper()
	var s string
	for u, p := range users {
		s += PasswordLine(t, u, p) + "\n"
	}
	path := filepath.Join(dir, "passwd")
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
