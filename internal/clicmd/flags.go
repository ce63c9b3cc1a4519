package clicmd

import "github.com/urfave/cli/v2"

// Flag names shared by mqpub and mqsub (mosquitto's long option names; the
// one-letter aliases are mosquitto's short options).
const (
	flagHost             = "host"
	flagPort             = "port"
	flagURL              = "url"
	flagUnix             = "unix"
	flagProtocol         = "protocol-version"
	flagID               = "id"
	flagIDPrefix         = "id-prefix"
	flagKeepalive        = "keepalive"
	flagNoClean          = "disable-clean-session"
	flagSessionExpiry    = "session-expiry-interval"
	flagUsername         = "username"
	flagPassword         = "pw"
	flagDebug            = "debug"
	flagDump             = "dump"
	flagTrace            = "trace"
	flagQuiet            = "quiet"
	flagWillTopic        = "will-topic"
	flagWillPayload      = "will-payload"
	flagWillQoS          = "will-qos"
	flagWillRetain       = "will-retain"
	flagProperty         = "D"
	flagCAFile           = "cafile"
	flagCAPath           = "capath"
	flagCert             = "cert"
	flagKey              = "key"
	flagInsecure         = "insecure"
	flagTLSVersion       = "tls-version"
	flagTLSALPN          = "tls-alpn"
	flagTLSUseOSCerts    = "tls-use-os-certs"
	flagTLSKeylog        = "tls-keylog"
	flagBindAddress      = "bind-address"
	flagNoDelay          = "nodelay"
	flagProxy            = "proxy"
	flagWS               = "ws"
	flagHelp             = "help"
	flagVersion          = "version"
	flagNoColor          = "no-color"
	flagDisconnectReason = "disconnect-reason"
	flagQoS              = "qos"
	flagTopic            = "topic"
)

// envPassword is the environment variable holding the password when -u is
// given without -P.
const envPassword = "MQ_PASSWORD"

const (
	catConn   = "Connection"
	catAuth   = "Authentication and will"
	catTLS    = "TLS"
	catOutput = "Diagnostics"
	catMsg    = "Message"
	catSub    = "Subscription"
	catV5     = "MQTT 5"
)

func str(name string, aliases []string, cat, usage string) *cli.StringFlag {
	return &cli.StringFlag{Name: name, Aliases: aliases, Category: cat, Usage: usage}
}

func boolean(name string, aliases []string, cat, usage string) *cli.BoolFlag {
	return &cli.BoolFlag{Name: name, Aliases: aliases, Category: cat, Usage: usage}
}

func short(s string) []string { return []string{s} }

// commonFlags are the options mqpub and mqsub share.
func commonFlags() []cli.Flag {
	return []cli.Flag{
		str(flagHost, short("h"), catConn, "broker host (default localhost); a list a,b:1884,c names several brokers of a cluster, tried in order"),
		str(flagPort, short("p"), catConn, "broker port (default 1883, 8883 with TLS)"),
		str(flagURL, short("L"), catConn, "mqtt|mqtts|ws|wss://[user[:pass]@]host[:port][/topic or /ws-path]"),
		str(flagUnix, nil, catConn, "connect through the unix domain socket at `PATH` instead of -h/-p (broker: listener 0 PATH)"),
		boolean(flagWS, nil, catConn, "MQTT over WebSocket to -h/-p (path /mqtt; wss with TLS); the default port stays 1883/8883"),
		str(flagProxy, nil, catConn, "connect through the SOCKS5 proxy at `URL`: socks5h://[user[:pass]@]host[:port] (default port 1080)"),
		str(flagBindAddress, short("A"), catConn, "bind the outgoing connection to this local IP `ADDRESS`, interface or host name"),
		boolean(flagNoDelay, nil, catConn, "set TCP_NODELAY (disable Nagle's algorithm); always on in mqkit"),
		str(flagOptionsFile, short("o"), catConn, "read default options from `FILE` instead of ~/.config/mqpub or ~/.config/mqsub (mosquitto 2.1)"),
		boolean(flagNoConfig, nil, catConn, "read no configuration file (neither ours nor mosquitto's)"),
		str(flagProtocol, short("V"), catConn, "MQTT version: 31, 311 or 5 (also mqttv31, mqttv311, mqttv5); default 311"),
		str(flagID, short("i"), catConn, "client id (default: assigned by the broker; random for 3.1)"),
		str(flagIDPrefix, short("I"), catConn, "client id prefix; the process id is appended"),
		str(flagKeepalive, short("k"), catConn, "keep alive in seconds, 5-65535 (default 60)"),
		boolean(flagNoClean, short("c"), catConn, "persistent session (clean session 0); needs -i"),
		str(flagSessionExpiry, short("x"), catV5, "session expiry interval in seconds; -1 or ∞ for never (MQTT 5)"),
		str(flagUsername, short("u"), catAuth, "user name"),
		str(flagPassword, short("P"), catAuth, "password (or set "+envPassword+", or be prompted on a terminal)"),
		str(flagWillTopic, nil, catAuth, "topic of the will message"),
		str(flagWillPayload, nil, catAuth, "payload of the will message"),
		str(flagWillQoS, nil, catAuth, "QoS of the will message (0, 1 or 2)"),
		boolean(flagWillRetain, nil, catAuth, "retain the will message"),
		&cli.StringSliceFlag{Name: flagProperty, Aliases: []string{"property"}, Category: catV5,
			Usage: "MQTT 5 property: -D CMD NAME VALUE, or -D CMD user-property KEY VALUE"},
		str(flagDisconnectReason, nil, catV5, "end with a DISCONNECT carrying this reason code (e.g. 4: publish the will)"),
		str(flagCAFile, nil, catTLS, "trusted CA certificates (PEM); enables TLS"),
		str(flagCAPath, nil, catTLS, "directory of trusted CA certificates; enables TLS"),
		str(flagCert, nil, catTLS, "client certificate (PEM)"),
		str(flagKey, nil, catTLS, "client private key (PEM)"),
		boolean(flagInsecure, nil, catTLS, "do not check the server certificate's host name"),
		str(flagTLSVersion, nil, catTLS, "minimum TLS version: tlsv1.3, tlsv1.2 or tlsv1.1"),
		boolean(flagTLSUseOSCerts, nil, catTLS, "trust the system's CA certificates (also with --cafile/--capath); enables TLS"),
		str(flagTLSALPN, nil, catTLS, "offer this ALPN `PROTOCOL` (comma-separated for several) in the TLS handshake; needs TLS"),
		str(flagTLSKeylog, nil, catTLS, "append the TLS session secrets to `FILE` (NSS key log, for Wireshark); needs TLS"),
		boolean(flagDebug, short("d"), catOutput, "print every packet sent and received, in mosquitto's words (as mosquitto_pub/sub -d)"),
		boolean(flagTrace, nil, catOutput, "print every packet sent and received with all its fields and properties (more than -d)"),
		boolean(flagDump, nil, catOutput, "--trace, with each packet's bytes in hex"),
		boolean(flagQuiet, nil, catOutput, "do not print runtime errors"),
		boolean(flagNoColor, nil, catOutput, "never colour the output (also: NO_COLOR=1)"),
		boolean(flagHelp, nil, catOutput, "show this help"),
		boolean(flagVersion, nil, catOutput, "print the version"),
	}
}
