package cliutil

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Hint returns a one-line suggestion for fixing a refusal, or "" when there
// is nothing useful to say. code is a v5 reason code (CONNACK, PUBACK,
// PUBREC, SUBACK, UNSUBACK or DISCONNECT). With v3 true, codes 1-5 are
// read as 3.1/3.1.1 CONNACK return codes (as in the exit status) and 0x80
// as a 3.1.1 SUBACK failure.
func Hint(code mqtt.ReasonCode, v3 bool) string {
	if v3 {
		switch {
		case code >= 1 && code <= 5:
			code = mqtt.ConnackCodeFromV3(byte(code))
		case code == 0x80:
			return "the broker refused the subscription: check the topic filter and the broker's ACL for this user"
		}
	}
	switch code {
	case mqtt.NotAuthorized:
		return "check -u/-P, or allow_anonymous / the ACL on the broker"
	case mqtt.BadUserNameOrPassword:
		return "check -u and -P (or MQ_PASSWORD) against the broker's password file"
	case mqtt.ClientIdentifierNotValid:
		return "the broker rejected the client id: pick another -i (MQTT 3.1 allows at most 23 characters; an empty id needs a clean session)"
	case mqtt.UnsupportedProtocolVersion:
		return "the broker does not speak this MQTT version: try -V 311 or -V 5"
	case mqtt.ServerUnavailable:
		return "the broker cannot accept connections right now: retry later or check its log"
	case mqtt.ServerBusy:
		return "the broker is busy: retry later"
	case mqtt.Banned:
		return "this client is banned by the broker: ask its administrator"
	case mqtt.BadAuthenticationMethod:
		return "the broker does not support the authentication-method given with -D connect"
	case mqtt.ServerShuttingDown:
		return "the broker is shutting down: retry once it is back"
	case mqtt.KeepAliveTimeout:
		return "the broker heard nothing within 1.5 x keepalive: check the network or raise -k"
	case mqtt.SessionTakenOver:
		return "another client connected with the same client id: use a unique -i"
	case mqtt.TopicFilterInvalid:
		return "the broker rejected the topic filter: '+' and '#' must fill a whole level and '#' must be last"
	case mqtt.TopicNameInvalid:
		return "the broker rejected the topic: a publish topic cannot contain '+' or '#'"
	case mqtt.PacketTooLarge:
		return "the message is larger than the broker accepts (its maximum packet size / message_size_limit)"
	case mqtt.MessageRateTooHigh:
		return "publishing too fast for the broker: slow down (e.g. --repeat-delay)"
	case mqtt.QuotaExceeded:
		return "a broker quota was exceeded: slow down, or raise the limit on the broker"
	case mqtt.AdministrativeAction:
		return "an administrator disconnected this client"
	case mqtt.PayloadFormatInvalid:
		return "payload-format-indicator 1 promises UTF-8 but the payload is not valid UTF-8"
	case mqtt.RetainNotSupported:
		return "the broker does not support retained messages: drop -r"
	case mqtt.QoSNotSupported:
		return "the broker's maximum QoS is lower: use a lower -q"
	case mqtt.UseAnotherServer, mqtt.ServerMoved:
		return "the broker redirects clients: connect to the server-reference it sent (see -d)"
	case mqtt.SharedSubscriptionsNotSupported:
		return "the broker does not support $share/... subscriptions"
	case mqtt.ConnectionRateExceeded:
		return "connecting too often: wait a moment and retry"
	case mqtt.MaximumConnectTime:
		return "the broker limits how long a client may stay connected"
	case mqtt.SubscriptionIdentifiersNotSupported:
		return "the broker does not support subscription identifiers: drop --sub-id"
	case mqtt.WildcardSubscriptionsNotSupported:
		return "the broker does not support wildcard subscriptions: subscribe to exact topics"
	case mqtt.NoMatchingSubscribers:
		return "published, but no one is subscribed to this topic"
	case mqtt.NoSubscriptionExisted:
		return "there was no such subscription to remove"
	case mqtt.UnspecifiedError, mqtt.ImplementationSpecificError:
		return "the broker gave no details: check its log (an ACL may deny this topic)"
	case mqtt.MalformedPacket, mqtt.ProtocolError, mqtt.ReceiveMaximumExceeded,
		mqtt.TopicAliasInvalid, mqtt.PacketIdentifierInUse, mqtt.PacketIdentifierNotFound:
		return "the broker saw a protocol error: re-run with -d to see the packets, and please report it"
	}
	return ""
}

// TLSHint explains which certificate check failed in a TLS handshake
// error, with the usual fix, or returns "" when err is not a TLS problem.
func TLSHint(err error) string {
	if err == nil {
		return ""
	}
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var roots x509.SystemRootsError
	var record tls.RecordHeaderError
	var alert tls.AlertError
	var verr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &unknown):
		return "server certificate is signed by an unknown CA: pass --cafile with the CA that signed it (or --insecure to skip verification)"
	case errors.As(err, &host):
		return "certificate is for " + certNames(host.Certificate) + ", not " + host.Host + ": use the right -h or --insecure"
	case errors.As(err, &invalid):
		return certInvalidHint(invalid)
	case errors.As(err, &roots):
		return "no system CA certificates found: pass --cafile"
	case errors.As(err, &record):
		return "the server did not answer with TLS: it is probably a plain MQTT port (use mqtt:// or drop --cafile, or use the TLS port, usually 8883)"
	case errors.As(err, &alert):
		return alertHint(alert)
	case errors.As(err, &verr):
		return "the server certificate could not be verified: " + verr.Err.Error()
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "tls: failed to verify certificate"):
		return "the server certificate could not be verified: check --cafile"
	case strings.Contains(msg, "remote error: tls: "):
		// Alerts received over TCP are an unexported type; only the text
		// (crypto/tls alertText) identifies them.
		text := msg[strings.Index(msg, "remote error: tls: ")+len("remote error: tls: "):]
		for code, t := range alertTexts {
			if text == t {
				return alertHint(code)
			}
		}
		return "the broker rejected the TLS handshake: " + text
	}
	return ""
}

// alertTexts are crypto/tls's texts for the alerts alertHint explains.
var alertTexts = map[tls.AlertError]string{
	alertCertificateReq:     "certificate required",
	alertBadCertificate:     "bad certificate",
	alertUnsupportedCert:    "unsupported certificate",
	alertUnknownCA:          "unknown certificate authority",
	alertCertificateExpired: "expired certificate",
	alertCertificateRevoked: "revoked certificate",
	alertProtocolVersion:    "protocol version not supported",
	alertHandshakeFailure:   "handshake failure",
}

func certInvalidHint(e x509.CertificateInvalidError) string {
	switch e.Reason {
	case x509.Expired:
		d := ""
		if e.Detail != "" {
			d = " (" + e.Detail + ")"
		}
		if e.Cert != nil {
			now := time.Now()
			if now.Before(e.Cert.NotBefore) {
				return "server certificate is not valid yet" + d + ": check this machine's clock"
			}
		}
		return "server certificate has expired" + d + ": renew it on the broker, or check this machine's clock"
	case x509.NotAuthorizedToSign:
		return "a certificate in the chain is not a CA but signed another: fix the broker's certificate chain"
	case x509.CANotAuthorizedForThisName, x509.UnconstrainedName, x509.NameConstraintsWithoutSANs:
		return "the CA's name constraints do not allow this server name: check -h and the broker certificate"
	case x509.IncompatibleUsage, x509.CANotAuthorizedForExtKeyUsage:
		return "the server certificate is not meant for TLS servers (extended key usage): reissue it with serverAuth"
	case x509.TooManyIntermediates, x509.TooManyConstraints:
		return "the certificate chain is too long or too complex to verify"
	case x509.NoValidChains:
		return "no valid certificate chain: " + e.Detail
	}
	return "server certificate is invalid: " + e.Error()
}

// TLS alert numbers (RFC 8446 section 6.2).
const (
	alertBadCertificate     = 42
	alertUnsupportedCert    = 43
	alertCertificateRevoked = 44
	alertCertificateExpired = 45
	alertUnknownCA          = 48
	alertProtocolVersion    = 70
	alertHandshakeFailure   = 40
	alertCertificateReq     = 116
)

func alertHint(a tls.AlertError) string {
	switch a {
	case alertCertificateReq:
		return "the broker requires a client certificate: pass --cert and --key"
	case alertBadCertificate, alertUnsupportedCert, alertUnknownCA:
		return "the broker did not accept the client certificate: check --cert/--key and the broker's cafile"
	case alertCertificateExpired:
		return "the broker says the client certificate has expired: renew --cert"
	case alertCertificateRevoked:
		return "the broker says the client certificate was revoked"
	case alertProtocolVersion:
		return "no common TLS version: try another --tls-version"
	case alertHandshakeFailure:
		return "no common TLS parameters with the broker: check --tls-version and the broker's ciphers"
	}
	return "the broker ended the TLS handshake: " + a.Error()
}

func certNames(c *x509.Certificate) string {
	if c == nil {
		return "another host"
	}
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = append(names, c.Subject.CommonName)
	}
	if len(names) == 0 {
		return "no host name"
	}
	if len(names) > 4 {
		names = append(names[:4], "...")
	}
	return strings.Join(names, ", ")
}

// NetHint gives a one-line suggestion for a connection error that is not a
// TLS problem (connection refused, unknown host, timeout, reset), or "".
func NetHint(err error) string {
	if err == nil {
		return ""
	}
	var dns *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing is listening there: is the broker running, and are -h/-p (or -L) right?"
	case errors.As(err, &dns):
		return "cannot resolve host " + dns.Name + ": check -h"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "no answer in time: check -h/-p and any firewall in between"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the broker closed the connection: check its log; a TLS port also does this to a plain MQTT client"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "the host is unreachable: check -h and the network"
	}
	var to interface{ Timeout() bool }
	if errors.As(err, &to) && to.Timeout() {
		return "no answer in time: check -h/-p and any firewall in between"
	}
	return ""
}
