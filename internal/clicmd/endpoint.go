package clicmd

import (
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/cliutil"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// parseEndpoint reads -h/-p/-L, the TLS options and the credentials.
func parseEndpoint(c *cli.Context, e *env, cc *connConfig, conn *mqtt.Connect) error {
	name := e.name
	var t cliutil.Target
	fromURL := c.IsSet(flagURL)
	unix := c.String(flagUnix)
	if c.IsSet(flagUnix) && (unix == "" || fromURL || c.IsSet(flagHost) || c.IsSet(flagPort)) {
		if unix == "" {
			return usageErr(name, "Error: --unix needs the path of a socket.")
		}
		return usageErr(name, "Error: --unix cannot be combined with -h, -p or -L.")
	}
	if fromURL {
		if c.IsSet(flagHost) || c.IsSet(flagPort) {
			return usageErr(name, "Error: -L cannot be combined with -h or -p.")
		}
		var err error
		if t, err = cliutil.ParseURL(c.String(flagURL)); err != nil {
			return usageErr(name, "%s", err)
		}
		cc.urlTopic = t.Topic
	} else {
		t = cliutil.Target{Scheme: "mqtt", Host: "localhost", Port: cliutil.DefaultPortMQTT}
		if c.IsSet(flagHost) {
			t.Host = c.String(flagHost)
		}
		if c.IsSet(flagPort) {
			p, err := strconv.Atoi(c.String(flagPort))
			if err != nil || p < 1 || p > 65535 {
				return usageErr(name, "Error: Invalid port given: %s", c.String(flagPort))
			}
			t.Port = p
		}
	}

	tlsOpts := client.TLSOptions{
		CAFile: c.String(flagCAFile), CAPath: c.String(flagCAPath),
		CertFile: c.String(flagCert), KeyFile: c.String(flagKey),
		Insecure: c.Bool(flagInsecure), Version: c.String(flagTLSVersion),
	}
	// TLS is on with a CA option, an mqtts/wss URL, or -p 8883 (then with
	// the system's CAs, as mosquitto does).
	useTLS := t.TLS || tlsOpts.CAFile != "" || tlsOpts.CAPath != "" ||
		(!fromURL && c.IsSet(flagPort) && t.Port == cliutil.DefaultPortMQTTS)
	if (tlsOpts.CertFile == "") != (tlsOpts.KeyFile == "") {
		return usageErr(name, "Error: Both certfile and keyfile must be provided if one of them is set.")
	}
	if tlsOpts.CertFile != "" && !useTLS {
		return usageErr(name, "Error: --cert/--key need TLS: add --cafile or --capath, use -p 8883, or an mqtts:// or wss:// URL.")
	}
	if _, err := client.ParseTLSVersion(tlsOpts.Version); err != nil {
		return usageErr(name, "Error: %v", err)
	}
	ep := client.Endpoint{Scheme: t.Scheme, Host: t.Host, Port: t.Port, Path: t.WSPath}
	if unix != "" {
		if useTLS {
			return usageErr(name, "Error: TLS options cannot be used with --unix.")
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
		if !fromURL && !c.IsSet(flagPort) {
			ep.Port = cliutil.DefaultPortMQTTS
		}
		cfg, err := tlsOpts.Config()
		if err != nil {
			return usageErr(name, "Error: Problem setting TLS options: %v.", err)
		}
		ep.TLS = cfg
	}
	cc.opts.Endpoint = ep

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
