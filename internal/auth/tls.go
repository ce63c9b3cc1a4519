package auth

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// TLSOptions are a listener's TLS settings, named after mosquitto.conf.
type TLSOptions struct {
	CertFile string // certfile: PEM server certificate (chain)
	KeyFile  string // keyfile: PEM private key for CertFile
	CAFile   string // cafile: PEM CA certificates trusted for client certificates
	CAPath   string // capath: directory of PEM CA certificate files
	// RequireCertificate (require_certificate) makes clients present a
	// certificate signed by CAFile/CAPath. When false no client
	// certificate is requested at all (mosquitto: SSL_VERIFY_NONE).
	RequireCertificate bool
	// TLSVersion (tls_version) is the minimum protocol version: "tlsv1.3",
	// "tlsv1.2" or "tlsv1.1"; "" means TLS 1.2 (mosquitto's default of
	// allowing 1.2 and 1.3).
	TLSVersion string
	// CRLFile (crlfile) holds PEM certificate revocation lists. A client
	// certificate is then refused when the list of its issuer revokes
	// it, when its issuer has no list in the file, or when that list is
	// past its next update (OpenSSL's X509_V_FLAG_CRL_CHECK, which
	// mosquitto sets: the leaf certificate is checked).
	CRLFile string
}

// ParseTLSVersion maps a mosquitto tls_version value to a crypto/tls
// version constant ("" gives TLS 1.2).
func ParseTLSVersion(s string) (uint16, error) {
	switch s {
	case "", "tlsv1.2":
		return tls.VersionTLS12, nil
	case "tlsv1.3":
		return tls.VersionTLS13, nil
	case "tlsv1.1":
		return tls.VersionTLS11, nil
	}
	return 0, fmt.Errorf("tls_version %q: must be tlsv1.3, tlsv1.2 or tlsv1.1", s)
}

// TLSConfig builds a server *tls.Config from opts. It is the static form
// of NewTLSReloader(opts).Config(); use a TLSReloader to re-read the
// files on SIGHUP.
func TLSConfig(opts TLSOptions) (*tls.Config, error) {
	r, err := NewTLSReloader(opts)
	if err != nil {
		return nil, err
	}
	return r.Config(), nil
}

// TLSReloader owns a listener's certificate, key and client CAs and can
// re-read them while the listener runs. Handshakes that start after a
// successful Reload use the new files; established connections are not
// affected. It is safe for concurrent use.
type TLSReloader struct {
	opts TLSOptions
	cur  atomic.Pointer[tls.Config]
}

// NewTLSReloader loads the files named in opts and checks them.
func NewTLSReloader(opts TLSOptions) (*TLSReloader, error) {
	r := &TLSReloader{opts: opts}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload re-reads the certificate, key and CAs. On error the previous
// configuration stays in force.
func (r *TLSReloader) Reload() error {
	cfg, err := loadServerTLS(r.opts)
	if err != nil {
		return err
	}
	r.cur.Store(cfg)
	return nil
}

// Config returns the *tls.Config to hand to tls.NewListener. It resolves
// every handshake through GetConfigForClient to the most recently loaded
// files, and GetCertificate to the current certificate.
func (r *TLSReloader) Config() *tls.Config {
	c := r.cur.Load().Clone()
	c.Certificates = nil
	c.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return &r.cur.Load().Certificates[0], nil
	}
	c.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return r.cur.Load(), nil
	}
	return c
}

func loadServerTLS(o TLSOptions) (*tls.Config, error) {
	if o.CertFile == "" || o.KeyFile == "" {
		return nil, errors.New("tls: certfile and keyfile are both required")
	}
	minVer, err := ParseTLSVersion(o.TLSVersion)
	if err != nil {
		return nil, err
	}
	certPEM, err := os.ReadFile(o.CertFile)
	if err != nil {
		return nil, fmt.Errorf("tls: certfile: %w", err)
	}
	keyPEM, err := os.ReadFile(o.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: keyfile: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tls: certfile %s with keyfile %s: %w", o.CertFile, o.KeyFile, err)
	}
	cfg := &tls.Config{
		MinVersion:   minVer,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.NoClientCert,
	}
	if o.CAFile != "" || o.CAPath != "" {
		pool, cas, err := loadCAs(o.CAFile, o.CAPath)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		completeChain(&cfg.Certificates[0], cas)
	}
	if o.RequireCertificate {
		if cfg.ClientCAs == nil {
			return nil, errors.New("tls: require_certificate needs cafile or capath")
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if o.CRLFile != "" {
		crls, err := loadCRLs(o.CRLFile)
		if err != nil {
			return nil, err
		}
		cfg.VerifyPeerCertificate = func(_ [][]byte, chains [][]*x509.Certificate) error {
			return checkRevocation(chains, crls, time.Now())
		}
	}
	return cfg, nil
}

// loadCRLs reads the PEM "X509 CRL" blocks of file.
func loadCRLs(file string) ([]*x509.RevocationList, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tls: crlfile: %w", err)
	}
	var out []*x509.RevocationList
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "X509 CRL" {
			continue
		}
		l, err := x509.ParseRevocationList(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("tls: crlfile %s: %w", file, err)
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("tls: crlfile %s: no PEM certificate revocation list found", file)
	}
	return out, nil
}

// checkRevocation checks the client certificate of a verified chain
// against the revocation lists: its issuer's list (signed by it) must be
// there and current, and must not list the certificate.
func checkRevocation(chains [][]*x509.Certificate, crls []*x509.RevocationList, now time.Time) error {
	if len(chains) == 0 || len(chains[0]) == 0 {
		return nil // no client certificate: ClientAuth decides
	}
	leaf := chains[0][0]
	issuer := leaf
	if len(chains[0]) > 1 {
		issuer = chains[0][1]
	}
	for _, l := range crls {
		if !bytes.Equal(l.RawIssuer, issuer.RawSubject) || l.CheckSignatureFrom(issuer) != nil {
			continue
		}
		if !l.NextUpdate.IsZero() && now.After(l.NextUpdate) {
			return fmt.Errorf("tls: certificate revocation list of %q has expired", issuer.Subject.CommonName)
		}
		for _, e := range l.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
				return fmt.Errorf("tls: client certificate %q (serial %s) is revoked", leaf.Subject.CommonName, leaf.SerialNumber)
			}
		}
		return nil
	}
	return fmt.Errorf("tls: no certificate revocation list for the issuer %q of client certificate %q",
		issuer.Subject.CommonName, leaf.Subject.CommonName)
}

// loadCAs reads cafile and every regular file in capath that holds PEM
// certificates (capath directories prepared with `openssl rehash` hold
// PEM files under hashed names; other files are skipped).
// It returns the pool and the certificates it holds.
func loadCAs(file, dir string) (*x509.CertPool, []*x509.Certificate, error) {
	pool := x509.NewCertPool()
	var all []*x509.Certificate
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, nil, fmt.Errorf("tls: cafile: %w", err)
		}
		cs, err := addPEMCerts(pool, data)
		if err != nil {
			return nil, nil, fmt.Errorf("tls: cafile %s: %w", file, err)
		}
		if len(cs) == 0 {
			return nil, nil, fmt.Errorf("tls: cafile %s: no PEM certificates found", file)
		}
		all = append(all, cs...)
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("tls: capath: %w", err)
		}
		total := 0
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
				continue
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, nil, fmt.Errorf("tls: capath: %w", err)
			}
			cs, err := addPEMCerts(pool, data)
			if err != nil {
				return nil, nil, fmt.Errorf("tls: capath file %s: %w", p, err)
			}
			total += len(cs)
			all = append(all, cs...)
		}
		if total == 0 {
			return nil, nil, fmt.Errorf("tls: capath %s: no PEM certificates found", dir)
		}
	}
	return pool, all, nil
}

func addPEMCerts(pool *x509.CertPool, data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return out, nil
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return out, err
		}
		pool.AddCert(c)
		out = append(out, c)
	}
}

// completeChain appends to the server certificate's chain (certfile:
// the leaf, then whatever certificates follow it in the file) the
// intermediate CA certificates of cafile/capath that issued its last
// certificate, up to a self-signed root, which is not sent (the client
// has it or the chain is useless; RFC 8446 section 4.4.2 lets the
// sender omit it). mosquitto gets the same from OpenSSL's automatic
// chain building with its verify store, so clients that trust only the
// root can verify the server ("unable to verify the first certificate"
// otherwise).
func completeChain(cert *tls.Certificate, cas []*x509.Certificate) {
	if len(cert.Certificate) == 0 {
		return
	}
	last, err := x509.ParseCertificate(cert.Certificate[len(cert.Certificate)-1])
	if err != nil {
		return
	}
	in := make(map[string]bool, len(cert.Certificate))
	for _, der := range cert.Certificate {
		in[string(der)] = true
	}
	for range cas { // each step adds one certificate: at most len(cas)
		if selfSigned(last) {
			return
		}
		var next *x509.Certificate
		for _, ca := range cas {
			if ca.IsCA && !in[string(ca.Raw)] && !selfSigned(ca) &&
				bytes.Equal(ca.RawSubject, last.RawIssuer) && last.CheckSignatureFrom(ca) == nil {
				next = ca
				break
			}
		}
		if next == nil {
			return
		}
		cert.Certificate = append(cert.Certificate, next.Raw)
		in[string(next.Raw)] = true
		last = next
	}
}

func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil
}

// CertificateIdentity returns the identity mosquitto's
// use_identity_as_username takes from a client certificate: the Common
// Name of the verified leaf certificate. It fails when the client sent no
// verified certificate or the CN is empty or contains NUL.
func CertificateIdentity(cs *tls.ConnectionState) (string, error) {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.PeerCertificates) == 0 {
		return "", errors.New("tls: no verified client certificate")
	}
	cn := cs.PeerCertificates[0].Subject.CommonName
	if cn == "" {
		return "", errors.New("tls: client certificate has no common name")
	}
	for i := 0; i < len(cn); i++ {
		if cn[i] == 0 {
			return "", errors.New("tls: client certificate common name contains NUL")
		}
	}
	return cn, nil
}
