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
	if l.Protocol != ProtocolMQTT && l.Protocol != ProtocolWebsockets {
		return fail("protocol", "invalid protocol %q", l.Protocol)
	}
	if l.MaxQoS > 2 {
		return fail("max_qos", "must be 0, 1 or 2")
	}
	if l.Unix != "" && l.Protocol != ProtocolMQTT {
		return fail("protocol", "a unix socket listener speaks plain MQTT only")
	}
	if l.Unix != "" && (l.CertFile != "" || l.KeyFile != "" || l.CAFile != "" || l.CAPath != "") {
		return &Error{Pos: l.Pos, Option: "listener", Msg: "TLS is not offered on a unix socket listener (" + name + ")"}
	}
	switch {
	case l.CertFile != "" && l.KeyFile == "":
		return fail("certfile", "keyfile is required with certfile")
	case l.KeyFile != "" && l.CertFile == "":
		return fail("keyfile", "certfile is required with keyfile")
	}
	if !l.TLS() {
		for _, o := range []struct {
			name string
			set  bool
		}{
			{"cafile", l.CAFile != ""}, {"capath", l.CAPath != ""},
			{"require_certificate", l.RequireCertificate},
			{"use_identity_as_username", l.UseIdentityAsUsername},
			{"tls_version", l.TLSVersion != ""},
		} {
			if o.set {
				return fail(o.name, "needs certfile and keyfile on the same listener")
			}
		}
	}
	switch l.TLSVersion {
	case "", "tlsv1.1", "tlsv1.2", "tlsv1.3":
	default:
		return fail("tls_version", "invalid value %q", l.TLSVersion)
	}
	if l.RequireCertificate && l.CAFile == "" && l.CAPath == "" {
		return fail("require_certificate", "needs cafile or capath to verify client certificates")
	}
	if l.UseIdentityAsUsername && !l.RequireCertificate {
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
