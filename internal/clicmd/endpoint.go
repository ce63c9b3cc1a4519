package clicmd

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/cliutil"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// parseEndpoint reads -h/-p/-L, --unix, --ws, the TLS options, the
// transport options (-A, --nodelay, --proxy) and the credentials. -L sets
// the host, port, topic and credentials; a -h, -p, -u or -P that follows
// it on the command line overrides them (Run's resolveOrder dropped the
// ones before it), as in mosquitto.
func parseEndpoint(c *cli.Context, e *env, cc *connConfig, conn *mqtt.Connect) error {
	name := e.name
	t := cliutil.Target{Scheme: "mqtt", Host: "localhost", Port: cliutil.DefaultPortMQTT}
	fromURL := c.IsSet(flagURL)
	if fromURL {
		var err error
		if t, err = cliutil.ParseURL(c.String(flagURL)); err != nil {
			return usageErr(name, "%s", err)
		}
		cc.urlTopic = t.Topic
	}
	unix := c.String(flagUnix)
	if t.Scheme == "unix" {
		if c.IsSet(flagUnix) {
			return usageErr(name, "Error: --unix cannot be combined with a unix:// URL.")
		}
		unix = t.Socket
	}
	if c.IsSet(flagUnix) || t.Scheme == "unix" {
		switch {
		case unix == "":
			return usageErr(name, "Error: --unix needs the path of a socket.")
		case c.IsSet(flagHost) || c.IsSet(flagPort) || c.IsSet(flagUnix) && fromURL:
			return usageErr(name, "Error: a unix socket (--unix, -L unix://) cannot be combined with -h, -p or -L.")
		}
	}
	// Several brokers (a cluster): "-h a,b:1884,c" or
	// "-L mqtt://a,b:1884/topic", tried in order.
	more := t.More
	firstPort := 0
	if c.IsSet(flagHost) {
		hl, err := cliutil.SplitHostList(c.String(flagHost))
		if err != nil {
			return usageErr(name, "Error: -h: %v.", err)
		}
		t.Host, firstPort, more = hl[0].Host, hl[0].Port, hl[1:]
	}
	portSet := false
	if c.IsSet(flagPort) {
		p := cc.atoi(c, flagPort, "-p")
		if p < 1 || p > 65535 {
			return usageErr(name, "Error: Invalid port given: %d", p)
		}
		t.Port, portSet = p, true
	}
	if firstPort != 0 {
		t.Port, portSet = firstPort, true
	}
	if c.Bool(flagWS) && !t.WebSocket {
		// --ws (mosquitto 2.1): the same host and port, over WebSocket at
		// /mqtt. As in mosquitto the default port does not change; an
		// mqtt(s):// URL keeps its topic, and TLS below makes it wss.
		t.Scheme, t.WebSocket, t.WSPath = "ws", true, cliutil.DefaultWSPath
	}

	tlsOpts, useTLS, err := parseTLS(c, e, t, portSet)
	if err != nil {
		return err
	}
	ep := client.Endpoint{Scheme: t.Scheme, Host: t.Host, Port: t.Port, Path: t.WSPath}
	if unix != "" {
		if useTLS {
			return usageErr(name, "Error: TLS options cannot be used with --unix.")
		}
		for _, f := range []struct{ flag, shown string }{{flagWS, "--ws"}, {flagProxy, "--proxy"}, {flagBindAddress, "-A"}} {
			if c.IsSet(f.flag) {
				return usageErr(name, "Error: %s cannot be used with --unix.", f.shown)
			}
		}
		ep = client.Endpoint{Scheme: "unix", Socket: unix}
	}
	if useTLS {
		switch ep.Scheme {
		case "mqtt":
			ep.Scheme = "mqtts"
		case "ws":
			ep.Scheme = "wss"
		}
		if !fromURL && !portSet {
			ep.Port = cliutil.DefaultPortMQTTS
		}
		cfg, err := tlsOpts.Config()
		if err != nil {
			return usageErr(name, "Error: Problem setting TLS options: %v.", err)
		}
		ep.TLS = cfg
	}
	if err := parseTransport(c, e, &ep); err != nil {
		return err
	}
	cc.opts.Endpoint = ep
	cc.endpoints = []client.Endpoint{ep}
	for _, h := range more {
		// An entry without a port uses the first address's.
		o := ep
		o.Host = h.Host
		if h.Port != 0 {
			o.Port = h.Port
		}
		cc.endpoints = append(cc.endpoints, o)
	}

	// Credentials: -u/-P override the URL's.
	user, hasUser := t.Username, t.HasUser
	if c.IsSet(flagUsername) {
		user, hasUser = c.String(flagUsername), true
	}
	pw, pwSet := t.Password, t.HasPass
	if c.IsSet(flagPassword) {
		pw, pwSet = c.String(flagPassword), true
	}
	if hasUser {
		var err error
		if pw, pwSet, err = cliutil.ResolvePassword(pw, pwSet, e.getenv, e.prompt(user)); err != nil {
			return cli.Exit("Error: reading the password: "+err.Error(), cliutil.ExitError)
		}
		conn.HasUsername, conn.Username = true, user
	} else if pwSet && cc.version != mqtt.V5 {
		// [MQTT-3.1.2-22]: no password without a user name before v5.
		return usageErr(name, "Error: -P needs -u with MQTT 3.1/3.1.1.")
	}
	if pwSet {
		conn.HasPassword, conn.Password = true, []byte(pw)
	}
	return nil
}

// parseTLS reads the TLS options and decides whether TLS is on: with a CA
// option, --tls-use-os-certs, an mqtts/wss URL, or -p 8883 (then with the
// system's CAs, as mosquitto does). --cert/--key, --tls-alpn and
// --tls-keylog only apply to TLS and do not turn it on.
func parseTLS(c *cli.Context, e *env, t cliutil.Target, portSet bool) (client.TLSOptions, bool, error) {
	name := e.name
	o := client.TLSOptions{
		CAFile: c.String(flagCAFile), CAPath: c.String(flagCAPath),
		CertFile: c.String(flagCert), KeyFile: c.String(flagKey),
		Insecure: c.Bool(flagInsecure), Version: c.String(flagTLSVersion),
		UseOSCerts: c.Bool(flagTLSUseOSCerts), KeyLogFile: c.String(flagTLSKeylog),
	}
	if c.IsSet(flagTLSALPN) {
		o.ALPN = strings.Split(c.String(flagTLSALPN), ",")
	}
	useTLS := t.TLS || o.CAFile != "" || o.CAPath != "" || o.UseOSCerts ||
		(portSet && t.Port == cliutil.DefaultPortMQTTS)
	if (o.CertFile == "") != (o.KeyFile == "") {
		return o, false, usageErr(name, "Error: Both certfile and keyfile must be provided if one of them is set.")
	}
	if !useTLS {
		for _, f := range []struct {
			set   bool
			shown string
		}{
			{o.CertFile != "", "--cert/--key need"}, {c.IsSet(flagTLSALPN), "--tls-alpn needs"}, {c.IsSet(flagTLSKeylog), "--tls-keylog needs"},
		} {
			if f.set {
				return o, false, usageErr(name, "Error: %s TLS: add --cafile, --capath or --tls-use-os-certs, use -p 8883, or an mqtts:// or wss:// URL.", f.shown)
			}
		}
	}
	if c.IsSet(flagTLSKeylog) && o.KeyLogFile == "" {
		return o, false, usageErr(name, "Error: --tls-keylog needs the name of a file.")
	}
	if _, err := client.ParseTLSVersion(o.Version); err != nil {
		return o, false, usageErr(name, "Error: %v", err)
	}
	return o, useTLS, nil
}

// parseTransport reads -A, --nodelay and --proxy into ep.
func parseTransport(c *cli.Context, e *env, ep *client.Endpoint) error {
	if c.IsSet(flagBindAddress) {
		if ep.LocalAddr = c.String(flagBindAddress); ep.LocalAddr == "" {
			return usageErr(e.name, "Error: -A argument given but no address specified.")
		}
	}
	// Go turns Nagle's algorithm off on every TCP connection; --nodelay
	// only makes it explicit (and is harmless with --unix).
	ep.NoDelay = c.Bool(flagNoDelay)
	if c.IsSet(flagProxy) {
		p, err := client.ParseSOCKS5URL(c.String(flagProxy))
		if err != nil {
			return usageErr(e.name, "Error: --proxy: %v.", err)
		}
		ep.Proxy = p
	}
	return nil
}
