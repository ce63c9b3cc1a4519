package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// TLSOptions are the mosquitto client TLS options.
type TLSOptions struct {
	CAFile   string // --cafile: PEM file of trusted CAs
	CAPath   string // --capath: directory of PEM files of trusted CAs
	CertFile string // --cert: client certificate (PEM)
	KeyFile  string // --key: client private key (PEM)
	// Insecure skips the server hostname check but still verifies the
	// certificate chain (mosquitto 2.0's --insecure).
	Insecure bool
	// Version is the minimum TLS version: "tlsv1.3", "tlsv1.2" or
	// "tlsv1.1" (mosquitto's --tls-version). Empty means TLS 1.2.
	Version string
	// ServerName overrides the name checked against the certificate.
	ServerName string
	// UseOSCerts trusts the system's CA certificates in addition to CAFile
	// and CAPath (mosquitto's --tls-use-os-certs). Without CAFile and
	// CAPath the system's are trusted anyway.
	UseOSCerts bool
	// ALPN lists the protocols offered with TLS application-layer protocol
	// negotiation (mosquitto's --tls-alpn), e.g. "mqtt" for brokers that
	// serve MQTT and HTTPS on one port.
	ALPN []string
	// KeyLogFile, when set, receives the TLS session secrets in NSS key
	// log format for Wireshark (mosquitto 2.1's --tls-keylog). Lines are
	// appended; a new file is created with mode 0600.
	KeyLogFile string
}

// ParseTLSVersion maps mosquitto's --tls-version values to crypto/tls.
func ParseTLSVersion(s string) (uint16, error) {
	switch strings.ToLower(s) {
	case "", "tlsv1.2", "1.2":
		return tls.VersionTLS12, nil
	case "tlsv1.3", "1.3":
		return tls.VersionTLS13, nil
	case "tlsv1.1", "1.1":
		return tls.VersionTLS11, nil
	}
	return 0, fmt.Errorf("unsupported TLS version %q (use tlsv1.3, tlsv1.2 or tlsv1.1)", s)
}

// Config builds the crypto/tls configuration. With neither CAFile nor
// CAPath the system roots are trusted (mosquitto's --tls-use-os-certs).
func (o TLSOptions) Config() (*tls.Config, error) {
	minVer, err := ParseTLSVersion(o.Version)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: minVer, ServerName: o.ServerName}
	for _, p := range o.ALPN {
		if p == "" || len(p) > 255 {
			return nil, fmt.Errorf("invalid ALPN protocol %q: 1 to 255 bytes", p)
		}
	}
	cfg.NextProtos = o.ALPN
	if o.KeyLogFile != "" {
		kl, err := openKeyLog(o.KeyLogFile)
		if err != nil {
			return nil, err
		}
		cfg.KeyLogWriter = kl
	}
	if o.CAFile != "" || o.CAPath != "" {
		pool := x509.NewCertPool()
		if o.UseOSCerts {
			if pool, err = x509.SystemCertPool(); err != nil {
				return nil, fmt.Errorf("system CA certificates: %w", err)
			}
		}
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, fmt.Errorf("cafile: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("cafile %s: no PEM certificate found", o.CAFile)
			}
		}
		if o.CAPath != "" {
			if err := appendCertDir(pool, o.CAPath); err != nil {
				return nil, err
			}
		}
		cfg.RootCAs = pool
	}
	switch {
	case o.CertFile != "" && o.KeyFile != "":
		pair, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case o.CertFile != "" || o.KeyFile != "":
		return nil, errors.New("both --cert and --key must be given")
	}
	if o.Insecure {
		// Verify the chain ourselves, without the hostname check.
		roots := cfg.RootCAs
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
				Roots: roots, Intermediates: inter,
			})
			return err
		}
	}
	return cfg, nil
}

// appendCertDir adds every PEM certificate found in dir (mosquitto's
// --capath; we read all regular files, hashed names are not required).
func appendCertDir(pool *x509.CertPool, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("capath: %w", err)
	}
	found := false
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		pem, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if pool.AppendCertsFromPEM(pem) {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("capath %s: no PEM certificate found", dir)
	}
	return nil
}

// keyLog appends TLS secrets to a file in NSS key log format. It opens the
// file for each write (a handful per handshake), so nothing stays open
// between connections and concurrent handshakes never interleave lines.
type keyLog struct {
	mu   sync.Mutex
	path string
}

// openKeyLog checks that path can be appended to (creating it with mode
// 0600: the secrets decrypt the session) and returns its writer.
func openKeyLog(path string) (*keyLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("tls-keylog: %w", err)
	}
	f.Close()
	return &keyLog{path: path}, nil
}

func (k *keyLog) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	f, err := os.OpenFile(k.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := f.Write(p)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}
