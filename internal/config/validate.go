package config

import (
	"fmt"
	"strings"
)

// Validate checks the consistency of a configuration (Parse and LoadFile
// call it). Errors point at the offending option's line when known.
func (c *Config) Validate() error {
	seen := map[string]*Listener{}
	for _, l := range c.Listeners {
		if err := l.validate(); err != nil {
			return err
		}
		if l.Port == 0 && l.Unix == "" {
			continue
		}
		key := fmt.Sprintf("%s|%d", l.Bind, l.Port)
		if l.Unix != "" {
			key = "unix|" + l.Unix
		}
		if prev, dup := seen[key]; dup {
			return &Error{Pos: l.Pos, Option: "listener",
				Msg: fmt.Sprintf("%s is already configured%s", l.Addr(), at(prev.Pos))}
		}
		seen[key] = l
	}
	for _, b := range c.Bridges {
		if err := b.validate(); err != nil {
			return err
		}
	}
	if c.PerListenerSettings {
		for _, l := range c.Listeners {
			if l.Security == nil {
				return &Error{Pos: l.Pos, Option: "listener", Msg: "per_listener_settings is true but the listener has no security settings"}
			}
		}
	}
	return nil
}

func at(p Pos) string {
	if s := p.String(); s != "" {
		return " at " + s
	}
	return ""
}

// validate checks one listener's options against each other.
func (l *Listener) validate() error {
	name := l.describe()
	fail := func(option, format string, v ...any) error {
		return &Error{Pos: l.set[option], Option: option, Msg: fmt.Sprintf(format, v...) + " (" + name + ")"}
	}
	if l.Port < 0 || l.Port > 65535 {
		return &Error{Pos: l.Pos, Option: "listener", Msg: fmt.Sprintf("invalid port %d", l.Port)}
	}
	if l.Protocol == ProtocolHTTP {
		return l.validateHTTP(fail)
	}
	if l.Protocol != ProtocolMQTT && l.Protocol != ProtocolWebsockets {
		return fail("protocol", "invalid protocol %q", l.Protocol)
	}
	if l.MaxQoS > 2 {
		return fail("max_qos", "must be 0, 1 or 2")
	}
	if l.Unix != "" && l.Protocol != ProtocolMQTT {
		return fail("protocol", "a unix socket listener speaks plain MQTT only")
	}
	if l.Unix != "" && (l.CertFile != "" || l.KeyFile != "" || l.CAFile != "" || l.CAPath != "" || l.CRLFile != "") {
		return &Error{Pos: l.Pos, Option: "listener", Msg: "TLS is not offered on a unix socket listener (" + name + ")"}
	}
	switch {
	case l.CertFile != "" && l.KeyFile == "":
		return fail("certfile", "keyfile is required with certfile")
	case l.KeyFile != "" && l.CertFile == "":
		return fail("keyfile", "certfile is required with keyfile")
	}
	// With PROXY v2 and no TLS of its own, a listener gets the TLS facts
	// of a proxy that terminates TLS from the header (mosquitto 2.1):
	// require_certificate and use_identity_as_username then apply to the
	// certificate the proxy verified.
	proxyTLS := l.ProxyProtocol == 2 && !l.TLS()
	if !l.TLS() {
		for _, o := range []struct {
			name string
			set  bool
		}{
			{"cafile", l.CAFile != ""}, {"capath", l.CAPath != ""}, {"crlfile", l.CRLFile != ""},
			{"require_certificate", l.RequireCertificate && !proxyTLS},
			{"use_identity_as_username", l.UseIdentityAsUsername && !proxyTLS},
			{"tls_version", l.TLSVersion != ""},
		} {
			if o.set {
				if l.ProxyProtocol == 1 && (o.name == "require_certificate" || o.name == "use_identity_as_username") {
					return fail(o.name, "needs certfile and keyfile on the same listener, or enable_proxy_protocol 2 (TLS terminated by the proxy)")
				}
				return fail(o.name, "needs certfile and keyfile on the same listener")
			}
		}
	}
	switch l.TLSVersion {
	case "", "tlsv1.1", "tlsv1.2", "tlsv1.3":
	default:
		return fail("tls_version", "invalid value %q", l.TLSVersion)
	}
	if l.RequireCertificate && l.TLS() && l.CAFile == "" && l.CAPath == "" {
		return fail("require_certificate", "needs cafile or capath to verify client certificates")
	}
	switch {
	case l.ProxyProtocol != 0 && l.ProxyProtocol != 1 && l.ProxyProtocol != 2:
		return fail("enable_proxy_protocol", "must be 1 or 2")
	case l.ProxyV2RequireTLS && l.ProxyProtocol != 2:
		return fail("proxy_protocol_v2_require_tls", "needs enable_proxy_protocol 2")
	case l.ProxyV2RequireTLS && l.TLS():
		return fail("proxy_protocol_v2_require_tls", "is for TLS terminated by the proxy; this listener has certfile and keyfile")
	}
	if l.AcceptProtocolVersions != nil {
		if len(l.AcceptProtocolVersions) == 0 {
			return fail("accept_protocol_versions", "no protocol version accepted")
		}
		for _, v := range l.AcceptProtocolVersions {
			if v < 3 || v > 5 {
				return fail("accept_protocol_versions", "invalid protocol version %d: must be 3, 4 or 5", v)
			}
		}
	}
	// On a TLS listener mosquitto 2.0 accepts use_identity_as_username
	// without require_certificate: no client certificate is then
	// requested, so every client is refused (mqbroker warns at start-up).
	// With the certificate a proxy verified (PROXY v2), it needs one.
	if l.UseIdentityAsUsername && !l.RequireCertificate && !l.TLS() {
		return fail("use_identity_as_username", "needs require_certificate true")
	}
	if l.Protocol != ProtocolWebsockets {
		if l.WebsocketsPath != "" {
			return fail("websockets_path", "only valid with protocol websockets")
		}
		if len(l.WebsocketsOrigins) > 0 {
			return fail("websockets_origin", "only valid with protocol websockets")
		}
	}
	if l.WebsocketsPath != "" && !strings.HasPrefix(l.WebsocketsPath, "/") {
		return fail("websockets_path", "must start with '/'")
	}
	if l.MountPoint != "" {
		if err := validMountPoint(l.MountPoint); err != nil {
			return fail("mount_point", "%v", err)
		}
	}
	return nil
}

func (l *Listener) describe() string {
	switch {
	case l.Local:
		return "local-only listener"
	case l.Default:
		return fmt.Sprintf("default listener %s", l.Addr())
	}
	s := fmt.Sprintf("listener %s", l.Addr())
	if p := l.Pos.String(); p != "" {
		s += " at " + p
	}
	return s
}

// validateHTTP checks a "protocol http" listener (mqbroker's web view):
// TCP, optionally TLS with certfile and keyfile, and none of the MQTT
// listener options.
func (l *Listener) validateHTTP(fail func(option, format string, v ...any) error) error {
	if l.Unix != "" {
		return fail("protocol", "an http listener needs a TCP port, not a unix socket")
	}
	switch {
	case l.CertFile != "" && l.KeyFile == "":
		return fail("certfile", "keyfile is required with certfile")
	case l.KeyFile != "" && l.CertFile == "":
		return fail("keyfile", "certfile is required with keyfile")
	}
	for _, o := range []struct {
		name string
		set  bool
	}{
		{"cafile", l.CAFile != ""}, {"capath", l.CAPath != ""}, {"crlfile", l.CRLFile != ""},
		{"require_certificate", l.RequireCertificate}, {"use_identity_as_username", l.UseIdentityAsUsername},
		{"use_username_as_clientid", l.UseUsernameAsClientID},
		{"websockets_path", l.WebsocketsPath != ""}, {"websockets_origin", len(l.WebsocketsOrigins) > 0},
		{"mount_point", l.MountPoint != ""}, {"enable_proxy_protocol", l.ProxyProtocol != 0},
		{"accept_protocol_versions", l.AcceptProtocolVersions != nil},
	} {
		if o.set {
			return fail(o.name, "not valid on a protocol http listener (it serves the web view, not MQTT)")
		}
	}
	switch l.TLSVersion {
	case "", "tlsv1.1", "tlsv1.2", "tlsv1.3":
	default:
		return fail("tls_version", "invalid value %q", l.TLSVersion)
	}
	if l.TLSVersion != "" && !l.TLS() {
		return fail("tls_version", "needs certfile and keyfile on the same listener")
	}
	return nil
}
