package brokercmd

import (
	"context"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/client/clienttest"
)

// TestTwinTLSChain: certfile holds only the server certificate, cafile
// the intermediate CA and the root; a client that trusts only the root
// (mosquitto_pub --cafile root.crt) must be able to verify the server, so
// the server sends the chain (issue 11 item 11: mqbroker sent the leaf
// alone, "unable to verify the first certificate"). mosquitto 2.0.11
// sends leaf, intermediate and root.
func TestTwinTLSChain(t *testing.T) {
	pub := clienttest.RequireBinary(t, "mosquitto_pub")
	ch := clienttest.NewTLSChain(t)
	conf := "listener {port} 127.0.0.1\nallow_anonymous true\ncertfile " + ch.Leaf + "\nkeyfile " + ch.Key +
		"\ncafile " + ch.CAFile + "\n"
	twin(t, conf, func(t *testing.T, b *twinBroker) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, pub, "-h", "127.0.0.1", "-p", strconv.Itoa(b.ports[0]),
			"--cafile", ch.Root, "-t", "chain", "-m", "x", "-q", "1").CombinedOutput()
		if err != nil {
			t.Errorf("mosquitto_pub --cafile root: %v\n%s", err, out)
		}
	})
}

// TestTwinCRLFile: crlfile on a listener with require_certificate: a
// client certificate revoked by the CA's list is refused during the
// handshake, another one is accepted (mosquitto.conf(5) crlfile).
func TestTwinCRLFile(t *testing.T) {
	pub := clienttest.RequireBinary(t, "mosquitto_pub")
	f := clienttest.NewTLSRevocation(t)
	conf := "listener {port} 127.0.0.1\nallow_anonymous true\ncertfile " + f.ServerCert + "\nkeyfile " + f.ServerKey +
		"\ncafile " + f.CA + "\nrequire_certificate true\ncrlfile " + f.CRL + "\n"
	twin(t, conf, func(t *testing.T, b *twinBroker) {
		for _, c := range []struct {
			cert, key string
			ok        bool
		}{{f.GoodCert, f.GoodKey, true}, {f.RevokedCert, f.RevokedKey, false}} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			out, err := exec.CommandContext(ctx, pub, "-h", "127.0.0.1", "-p", strconv.Itoa(b.ports[0]),
				"--cafile", f.CA, "--cert", c.cert, "--key", c.key, "-t", "crl", "-m", "x", "-q", "1").CombinedOutput()
			cancel()
			if (err == nil) != c.ok {
				t.Errorf("%s: mosquitto_pub: %v (want success=%v)\n%s", c.cert, err, c.ok, out)
			}
		}
	})
}

// TestTwinIdentityWithoutRequireCertificate: use_identity_as_username
// true with require_certificate false is accepted by mosquitto 2.0, which
// then requests no client certificate (SSL_VERIFY_NONE) and so has no
// identity for anyone: every client is refused with "bad user name or
// password" (3.1.1 return code 4, v5 0x86; mosquitto_pub exits 4 and
// 134), with or without a certificate or a user name. mqbroker does the
// same (and warns at start-up).
func TestTwinIdentityWithoutRequireCertificate(t *testing.T) {
	pub := clienttest.RequireBinary(t, "mosquitto_pub")
	f := clienttest.NewTLSFiles(t)
	conf := "listener {port} 127.0.0.1\nallow_anonymous true\ncertfile " + f.ServerCert + "\nkeyfile " + f.ServerKey +
		"\ncafile " + f.CACert + "\nrequire_certificate false\nuse_identity_as_username true\n"
	twin(t, conf, func(t *testing.T, b *twinBroker) {
		for _, v := range []struct {
			flag string
			exit int
		}{{"mqttv311", 4}, {"mqttv5", 134}} {
			for _, extra := range [][]string{nil, {"--cert", f.ClientCert, "--key", f.ClientKey}, {"-u", "bob"}} {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				args := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(b.ports[0]), "-V", v.flag,
					"--cafile", f.CACert, "-t", "id", "-m", "x"}, extra...)
				out, err := exec.CommandContext(ctx, pub, args...).CombinedOutput()
				cancel()
				code := 0
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				}
				if code != v.exit {
					t.Errorf("mosquitto_pub %v: exit %d (%v), want %d\n%s", args, code, err, v.exit, out)
				}
			}
		}
	})
}
