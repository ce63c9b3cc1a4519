package config

import (
	"net"
	"strconv"
)

// NewListener returns a plain MQTT listener with mosquitto's per-listener
// defaults, for listeners that come from outside a file (mqbroker
// --listen and -p). pos names its origin in error messages, for example
// Pos{File: "--listen mqtt://:1883"}.
func NewListener(pos Pos) *Listener {
	return newListener(pos)
}

// AddListeners appends listeners that come from the command line. In
// local-only mode the implicit 127.0.0.1:1883 listener is dropped first,
// as a "listener" line would drop it; the configuration stays local-only
// only when every listener added is Local (mqbroker -p). With
// per_listener_settings each added listener without its own settings gets
// a copy of the implicit listener's (security options given before any
// listener), or the defaults. allow_anonymous is not resolved again: the
// caller decides it for the new listeners.
func (c *Config) AddListeners(ls ...*Listener) {
	if len(ls) == 0 {
		return
	}
	template := defaultSecurity()
	if c.LocalOnly {
		if len(c.Listeners) == 1 && c.Listeners[0].Local && c.Listeners[0].Security != nil {
			template = *c.Listeners[0].Security
		}
		c.Listeners = nil
	}
	local := c.LocalOnly
	for _, l := range ls {
		local = local && l.Local
		if c.PerListenerSettings && l.Security == nil {
			s := template
			l.Security = &s
		}
		c.Listeners = append(c.Listeners, l)
	}
	c.LocalOnly = local
}

// Scopes returns every set of security settings in the configuration: the
// global one, then each listener's own (with per_listener_settings).
// Callers may change them through the pointers.
func (c *Config) Scopes() []*Security {
	s := []*Security{&c.Security}
	if c.PerListenerSettings {
		for _, l := range c.Listeners {
			if l.Security != nil {
				s = append(s, l.Security)
			}
		}
	}
	return s
}

// URL renders the listener as a URL: mqtt://, mqtts://, ws://, wss://
// HOST:PORT (a websockets listener with no websockets_path shows "/mqtt",
// the path clients use by default), or unix:PATH. An empty bind address
// (every interface) is shown as 0.0.0.0.
func (l *Listener) URL() string {
	if l.Unix != "" {
		return "unix:" + l.Unix
	}
	ws := l.Protocol == ProtocolWebsockets
	scheme := "mqtt"
	switch {
	case l.Protocol == ProtocolHTTP && l.TLS():
		scheme = "https"
	case l.Protocol == ProtocolHTTP:
		scheme = "http"
	case ws && l.TLS():
		scheme = "wss"
	case ws:
		scheme = "ws"
	case l.TLS():
		scheme = "mqtts"
	}
	host := l.Bind
	if host == "" {
		host = "0.0.0.0"
	}
	u := scheme + "://" + net.JoinHostPort(host, strconv.Itoa(l.Port))
	if ws {
		path := l.WebsocketsPath
		if path == "" {
			path = "/mqtt"
		}
		u += path
	}
	return u
}
