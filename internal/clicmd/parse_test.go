package clicmd

import (
	"math"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/mqtt"
)

func TestPubArgumentErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no topic", []string{"-m", "x"}, "Error: Both topic and message must be supplied."},
		{"no message", []string{"-t", "a"}, "Error: Both topic and message must be supplied."},
		{"-m with -f", []string{"-t", "a", "-m", "x", "-f", "/etc/hostname"}, "Error: Only one type of message can be sent at once."},
		{"-n with -l", []string{"-t", "a", "-n", "-l"}, "Only one type of message"},
		{"wildcard #", []string{"-t", "a/#", "-m", "x"}, "Error: Invalid publish topic 'a/#', does it contain '+' or '#'?"},
		{"wildcard +", []string{"-t", "+/b", "-m", "x"}, "Invalid publish topic '+/b'"},
		{"empty topic", []string{"-t", "", "-m", "x"}, "Invalid publish topic ''"},
		{"qos 3", []string{"-t", "a", "-m", "x", "-q", "3"}, "Error: Invalid QoS given: 3"},
		{"-c without -i", []string{"-t", "a", "-m", "x", "-c"}, "Error: You must provide a client id if you are using the -c option."},
		{"-i with -I", []string{"-t", "a", "-m", "x", "-i", "a", "-I", "b"}, "Error: -i and -I argument cannot be used together."},
		{"-x bad", []string{"-t", "a", "-m", "x", "-x", "soon", "-i", "c"}, "Error: session-expiry-interval not a number."},
		{"-x bad on v3", []string{"-t", "a", "-m", "x", "-x", "1y", "-V", "311"}, "Error: session-expiry-interval not a number."},
		{"-x out of range", []string{"-t", "a", "-m", "x", "-x", "-2"}, "Error: session-expiry-interval out of range."},
		{"-x never without id", []string{"-t", "a", "-m", "x", "-x", "-1", "-V", "5"}, "Error: You must provide a client id if you are using an infinite session expiry interval."},
		{"-c with -I on v3", []string{"-t", "a", "-m", "x", "-c", "-I", "pre"}, "Error: You must provide a client id if you are using the -c option."},
		{"-D connect then -V 31", []string{"-t", "a", "-m", "x", "-D", "connect", "user-property", "a", "b", "-V", "31"}, "CONNECT properties (-D connect) need MQTT 5"},
		{"-D will then -V 311", []string{"-t", "a", "-m", "x", "--will-topic", "w", "-D", "will", "content-type", "a", "-V", "311"}, "will properties (-D will) need MQTT 5"},
		{"-D connect -x twice", []string{"-t", "a", "-m", "x", "-i", "c", "-x", "5", "-D", "connect", "session-expiry-interval", "6"}, "Duplicate property"},
		{"-D bad command", []string{"-t", "a", "-m", "x", "-D", "frob", "content-type", "t"}, "Error: Invalid command frob given in --property argument."},
		{"-D not allowed", []string{"-t", "a", "-m", "x", "-D", "connect", "content-type", "t"}, "content-type property not allowed for connect"},
		{"-D too short", []string{"-t", "a", "-m", "x", "-D", "publish", "content-type"}, "not enough arguments"},
		{"keepalive 4", []string{"-t", "a", "-m", "x", "-k", "4"}, "Error: Invalid keepalive given, it must be between 5 and 65535 inclusive."},
		{"bad version", []string{"-t", "a", "-m", "x", "-V", "6"}, "Error: Invalid protocol version argument given."},
		{"bad port", []string{"-t", "a", "-m", "x", "-p", "70000"}, "Error: Invalid port given: 70000"},
		{"bad URL", []string{"-L", "http://h/a", "-m", "x"}, "unsupported URL scheme"},
		{"repeat with -l", []string{"-t", "a", "-l", "--repeat", "2"}, "--repeat cannot be used with -l"},
		{"repeat 0", []string{"-t", "a", "-m", "x", "--repeat", "0"}, "Error: --repeat argument must be >0."},
		{"repeat-delay negative", []string{"-t", "a", "-m", "x", "--repeat-delay", "-1"}, "--repeat-delay"},
		{"-M 0", []string{"-t", "a", "-m", "x", "-M", "0"}, "Error: Maximum inflight messages must be greater than 0."},
		{"will payload without topic", []string{"-t", "a", "-m", "x", "--will-payload", "p"}, "Error: Will payload given, but no will topic given."},
		{"will qos 3 without topic", []string{"-t", "a", "-m", "x", "--will-qos", "3"}, "Error: Invalid will QoS 3."},
		{"unix URL and -h", []string{"-t", "a", "-m", "x", "-L", "unix:///tmp/s", "-h", "x"}, "cannot be combined with -h, -p or -L"},
		{"unix URL without path", []string{"-t", "a", "-m", "x", "-L", "unix://"}, "no socket path"},
		{"empty stdin", []string{"-t", "a", "-s"}, "Error: Zero length input."}, {"will wildcard", []string{"-t", "a", "-m", "x", "--will-topic", "w/#"}, "Invalid will topic 'w/#'"},
		{"will qos 3", []string{"-t", "a", "-m", "x", "--will-topic", "w", "--will-qos", "3"}, "Invalid will QoS 3"},
		{"cert without TLS", []string{"-t", "a", "-m", "x", "--cert", "c.pem", "--key", "k.pem"}, "--cert/--key need TLS"},
		{"cert without key", []string{"-t", "a", "-m", "x", "--cafile", "ca.pem", "--cert", "c.pem"}, "Both certfile and keyfile must be provided"},
		{"missing cafile", []string{"-t", "a", "-m", "x", "--cafile", "/nonexistent/ca.pem"}, "Problem setting TLS options"},
		{"bad tls version", []string{"-t", "a", "-m", "x", "--tls-version", "sslv3"}, "unsupported TLS version"},
		{"password without user v3", []string{"-t", "a", "-m", "x", "-P", "pw"}, "-P needs -u"},
		{"disconnect reason 135", []string{"-t", "a", "-m", "x", "--disconnect-reason", "135"}, "Invalid --disconnect-reason '135'"},
		{"disconnect reason with -V 311", []string{"-t", "a", "-m", "x", "-V", "311", "--disconnect-reason", "4"}, "--disconnect-reason needs MQTT 5"},
		{"disconnect expiry from 0", []string{"-t", "a", "-m", "x", "-D", "disconnect", "session-expiry-interval", "60"}, "MQTT-3.14.2-2"},
		{"unknown option", []string{"-t", "a", "-m", "x", "-z"}, "Error: Unknown option '-z'."},
		{"stray argument", []string{"-t", "a", "-m", "x", "extra"}, "Error: Unknown option 'extra'."},
		{"missing value", []string{"-t"}, "Error: -t argument given but no value specified."},
		{"missing file", []string{"-t", "a", "-f", "/nonexistent/file"}, "Error loading input file \"/nonexistent/file\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := pub(t, tc.args...)
			if r.code != 1 {
				t.Errorf("exit %d, want 1", r.code)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q lacks %q", r.stderr, tc.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}
}

func TestSubArgumentErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no topic", nil, "Error: You must specify a topic to subscribe to."},
		{"bad filter", []string{"-t", "a/#/b"}, "Error: Invalid subscription topic 'a/#/b', are all '+' and '#' wildcards correct?"},
		{"bad filter-out", []string{"-t", "a", "-T", "a+"}, "Invalid filter topic 'a+'"},
		{"bad unsubscribe", []string{"-U", "#/a"}, "Invalid unsubscribe topic '#/a'"},
		{"-R with --retained-only", []string{"-t", "a", "-R", "--retained-only"}, "Error: Combining '-R' and '--retained-only' makes no sense."},
		{"--json with -F", []string{"-t", "a", "--json", "-F", "%t"}, "--json and -F cannot be used together"},
		{"bad format", []string{"-t", "a", "-F", "%y"}, "Error: Invalid format specifier 'y'."},
		{"-C 0", []string{"-t", "a", "-C", "0"}, `Error: Invalid message count "0".`},
		{"-C word", []string{"-t", "a", "-C", "x"}, `Error: Invalid message count "0".`},
		{"-W 0", []string{"-t", "a", "-W", "0"}, `Error: Invalid timeout "0".`},
		{"-W word", []string{"-t", "a", "-W", "soon"}, `Error: Invalid timeout "soon".`},
		{"retain handling 3", []string{"-t", "a", "--retain-handling", "3"}, "--retain-handling must be 0, 1 or 2"},
		{"sub id 0", []string{"-t", "a", "--sub-id", "0"}, "--sub-id must be between 1 and 268435455"},
		{"no-local with v3", []string{"-t", "a", "--no-local", "-V", "311"}, "--no-local needs MQTT 5"},
		{"no-local shared", []string{"-t", "$share/g/a", "--no-local"}, "--no-local cannot be used with the shared subscription"},
		{"topic-qos bad", []string{"--topic-qos", "a/b"}, "--topic-qos takes FILTER=QOS"},
		{"topic-qos 3", []string{"--topic-qos", "a/b=3"}, "--topic-qos takes FILTER=QOS"},
		{"random filter", []string{"-t", "a", "--random-filter", "0"}, "Error: --random-filter chance must be between 0.1-100.0"},
		{"random filter 1000.1", []string{"-t", "a", "--random-filter", "1000.1"}, "Error: --random-filter chance must be between 0.1-100.0"},
		{"sub-id twice", []string{"-t", "a", "--sub-id", "2", "-D", "subscribe", "subscription-identifier", "3"}, "--sub-id and -D subscribe subscription-identifier both given"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := sub(t, tc.args...)
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", r.code, r.stderr, tc.want)
			}
		})
	}
}

// parsed runs the argument parsing of mqsub (or mqpub) without connecting.
func parsed(t *testing.T, name string, args []string, tweak func(e *env)) (*connConfig, *subConfig, *pubConfig) {
	t.Helper()
	tl := &tool{name: name}
	e := newEnv(name, strings.NewReader(""), &tl.out, &tl.errb)
	e.getenv = func(string) string { return "" }
	e.prompt = func(string) func() (string, error) { return nil }
	if tweak != nil {
		tweak(e)
	}
	var cc *connConfig
	var sc *subConfig
	var pc *pubConfig
	flags := subFlags()
	if name == "mqpub" {
		flags = pubFlags()
	}
	app := newApp(e, appSpec{flags: flags, action: func(c *cli.Context) error {
		var err error
		if name == "mqpub" {
			if cc, err = parseConn(c, e, nil); err == nil {
				pc, err = parsePub(c, e, cc)
			}
			return err
		}
		if cc, err = parseConn(c, e, subV5Flags); err == nil {
			sc, err = parseSub(c, e, cc)
		}
		return err
	}})
	if code := Run(testCtx(t), app, append([]string{name}, args...)); code != 0 {
		t.Fatalf("%s %q: exit %d: %s", name, args, code, tl.errb.String())
	}
	return cc, sc, pc
}

func TestParseConnection(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, cc *connConfig)
	}{
		{"defaults", []string{"-t", "a"}, nil, func(t *testing.T, cc *connConfig) {
			c := cc.opts.Connect
			ep := cc.opts.Endpoint
			if c.Version != mqtt.V311 || c.KeepAlive != 60 || !c.CleanStart || c.ClientID != "" || ep.Host != "localhost" || ep.Port != 1883 || ep.TLS != nil {
				t.Errorf("connect %+v endpoint %+v", c, ep)
			}
		}},
		{"v31 random id", []string{"-t", "a", "-V", "mqttv31"}, nil, func(t *testing.T, cc *connConfig) {
			id := cc.opts.Connect.ClientID
			if !strings.HasPrefix(id, "mqsub-") || len(id) != 23 {
				t.Errorf("client id %q, want mqsub- and 23 characters", id)
			}
		}},
		{"-c v5 never expires", []string{"-t", "a", "-c", "-i", "me", "-V", "5"}, nil, func(t *testing.T, cc *connConfig) {
			c := cc.opts.Connect
			if c.CleanStart || c.Props.SessionExpiry != math.MaxUint32 || !c.Props.Has(mqtt.PropSessionExpiry) {
				t.Errorf("clean %v expiry %d", c.CleanStart, c.Props.SessionExpiry)
			}
		}},
		// mosquitto 2.0 ignores -x on 3.1.1 (the default) and says nothing;
		// mqkit warns.
		{"-x does not switch to v5", []string{"-t", "a", "-x", "∞", "-i", "me"}, nil, func(t *testing.T, cc *connConfig) {
			if cc.version != mqtt.V311 || cc.opts.Connect.Props.Has(mqtt.PropSessionExpiry) || len(cc.warnings) != 1 {
				t.Errorf("version %v expiry %v warnings %q", cc.version, cc.opts.Connect.Props.Has(mqtt.PropSessionExpiry), cc.warnings)
			}
		}},
		{"-x on v5", []string{"-t", "a", "-x", "0x10", "-V", "5"}, nil, func(t *testing.T, cc *connConfig) {
			if p := cc.opts.Connect.Props; cc.version != mqtt.V5 || p.SessionExpiry != 16 || cc.opts.Connect.ClientID != "" {
				t.Errorf("version %v expiry %d id %q", cc.version, p.SessionExpiry, cc.opts.Connect.ClientID)
			}
		}},
		{"-x tutorial on 3.1.1", []string{"-t", "a", "-c", "-i", "me", "-q", "1", "-V", "311", "-x", "600"}, nil, func(t *testing.T, cc *connConfig) {
			if c := cc.opts.Connect; cc.version != mqtt.V311 || c.CleanStart || c.Props.Has(mqtt.PropSessionExpiry) {
				t.Errorf("version %v clean %v", cc.version, c.CleanStart)
			}
		}},
		{"-D after -V switches to v5", []string{"-t", "a", "-V", "311", "-D", "connect", "user-property", "a", "b"}, nil, func(t *testing.T, cc *connConfig) {
			if cc.version != mqtt.V5 || len(cc.opts.Connect.Props.User) != 1 {
				t.Errorf("version %v props %+v", cc.version, cc.opts.Connect.Props)
			}
		}},
		{"-D publish then -V 311 is dropped", []string{"-t", "a", "-D", "subscribe", "user-property", "a", "b", "-V", "311"}, nil, func(t *testing.T, cc *connConfig) {
			if cc.version != mqtt.V311 || !cc.props.IsEmpty() || len(cc.warnings) != 1 {
				t.Errorf("version %v props %+v warnings %q", cc.version, cc.props, cc.warnings)
			}
		}},
		{"-D connect finite expiry without id", []string{"-t", "a", "-D", "connect", "session-expiry-interval", "10"}, nil, func(t *testing.T, cc *connConfig) {
			if c := cc.opts.Connect; cc.version != mqtt.V5 || c.Props.SessionExpiry != 10 || c.ClientID != "" {
				t.Errorf("version %v expiry %d id %q", cc.version, c.Props.SessionExpiry, c.ClientID)
			}
		}},
		// -L and -h/-p: the later one wins, as mosquitto reads them in order.
		{"-L after -h and -p", []string{"-h", "x", "-p", "1", "-L", "mqtt://broker:1234/t"}, nil, func(t *testing.T, cc *connConfig) {
			if ep := cc.opts.Endpoint; ep.Host != "broker" || ep.Port != 1234 {
				t.Errorf("endpoint %+v", ep)
			}
		}},
		{"-L without port after -p", []string{"-p", "1", "-L", "mqtt://broker/t"}, nil, func(t *testing.T, cc *connConfig) {
			if ep := cc.opts.Endpoint; ep.Host != "broker" || ep.Port != 1883 {
				t.Errorf("endpoint %+v", ep)
			}
		}},
		{"-h and -p after -L", []string{"-L", "mqtt://u:p@broker:1234/t", "-h", "other", "-p", "99", "-u", "me"}, nil, func(t *testing.T, cc *connConfig) {
			if ep, c := cc.opts.Endpoint, cc.opts.Connect; ep.Host != "other" || ep.Port != 99 || c.Username != "me" || string(c.Password) != "p" || cc.urlTopic != "t" {
				t.Errorf("endpoint %+v user %q pass %q topic %q", ep, c.Username, c.Password, cc.urlTopic)
			}
		}},
		{"-u before -L with a user", []string{"-u", "me", "-L", "mqtt://bob@broker/t"}, nil, func(t *testing.T, cc *connConfig) {
			if c := cc.opts.Connect; c.Username != "bob" {
				t.Errorf("user %q", c.Username)
			}
		}},
		{"unix URL", []string{"-L", "unix:///run/mq.sock", "-t", "a"}, nil, func(t *testing.T, cc *connConfig) {
			if ep := cc.opts.Endpoint; ep.Scheme != "unix" || ep.Socket != "/run/mq.sock" {
				t.Errorf("endpoint %+v", ep)
			}
		}},
		{"-C caps receive maximum", []string{"-t", "a", "-C", "3", "-V", "5"}, nil, func(t *testing.T, cc *connConfig) {
			if p := cc.opts.Connect.Props; p.ReceiveMaximum != 3 {
				t.Errorf("receive maximum %d", p.ReceiveMaximum)
			}
		}},
		{"-p 8883 is TLS", []string{"-t", "a", "-p", "8883"}, nil, func(t *testing.T, cc *connConfig) {
			if ep := cc.opts.Endpoint; ep.Scheme != "mqtts" || ep.TLS == nil || ep.Port != 8883 {
				t.Errorf("endpoint %+v", ep)
			}
		}},
		{"URL", []string{"-L", "mqtts://bob:s3cr%40t@broker.example:1234/x/y"}, nil, func(t *testing.T, cc *connConfig) {
			ep, c := cc.opts.Endpoint, cc.opts.Connect
			if ep.Scheme != "mqtts" || ep.Host != "broker.example" || ep.Port != 1234 || cc.urlTopic != "x/y" ||
				c.Username != "bob" || string(c.Password) != "s3cr@t" {
				t.Errorf("endpoint %+v user %q pass %q topic %q", ep, c.Username, c.Password, cc.urlTopic)
			}
		}},
		{"ws URL with cafile is wss", []string{"-L", "ws://h:9001/mq", "-t", "a", "--cafile", "/etc/ssl/certs/ca-certificates.crt"}, nil, func(t *testing.T, cc *connConfig) {
			if ep := cc.opts.Endpoint; ep.Scheme != "wss" || ep.Path != "/mq" || ep.Port != 9001 {
				t.Errorf("endpoint %+v", ep)
			}
		}},
		{"password from env", []string{"-t", "a", "-u", "al"}, map[string]string{"MQ_PASSWORD": "envpw"}, func(t *testing.T, cc *connConfig) {
			if c := cc.opts.Connect; !c.HasPassword || string(c.Password) != "envpw" {
				t.Errorf("password %q (%v)", c.Password, c.HasPassword)
			}
		}},
		{"-P wins over env", []string{"-t", "a", "-u", "al", "-P", "flagpw"}, map[string]string{"MQ_PASSWORD": "envpw"}, func(t *testing.T, cc *connConfig) {
			if c := cc.opts.Connect; string(c.Password) != "flagpw" {
				t.Errorf("password %q", c.Password)
			}
		}},
		{"no user, env ignored", []string{"-t", "a"}, map[string]string{"MQ_PASSWORD": "envpw"}, func(t *testing.T, cc *connConfig) {
			if c := cc.opts.Connect; c.HasPassword || c.HasUsername {
				t.Errorf("credentials sent without -u")
			}
		}},
		{"will with v5 properties", []string{"-t", "a", "--will-topic", "w", "--will-payload", "bye", "--will-qos", "2", "--will-retain",
			"-D", "will", "will-delay-interval", "5"}, nil, func(t *testing.T, cc *connConfig) {
			w := cc.opts.Connect.Will
			if w == nil || w.Topic != "w" || string(w.Payload) != "bye" || w.QoS != 2 || !w.Retain || w.Props.WillDelay != 5 {
				t.Errorf("will %+v", w)
			}
		}},
		{"disconnect reason", []string{"-t", "a", "--disconnect-reason", "0x04"}, nil, func(t *testing.T, cc *connConfig) {
			if cc.disconnect.Code != mqtt.DisconnectWithWill || cc.version != mqtt.V5 {
				t.Errorf("disconnect %+v", cc.disconnect)
			}
		}},
		{"-I prefix", []string{"-t", "a", "-I", "dev-"}, nil, func(t *testing.T, cc *connConfig) {
			if id := cc.opts.Connect.ClientID; !strings.HasPrefix(id, "dev-") || len(id) <= 4 {
				t.Errorf("client id %q", id)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cc, _, _ := parsed(t, "mqsub", tc.args, func(e *env) {
				e.getenv = func(k string) string { return tc.env[k] }
			})
			tc.check(t, cc)
		})
	}
}

func TestPasswordPrompt(t *testing.T) {
	asked := false
	cc, _, _ := parsed(t, "mqsub", []string{"-t", "a", "-u", "al"}, func(e *env) {
		e.prompt = func(user string) func() (string, error) {
			return func() (string, error) { asked = true; return "typed", nil }
		}
	})
	if !asked || string(cc.opts.Connect.Password) != "typed" {
		t.Errorf("asked %v, password %q", asked, cc.opts.Connect.Password)
	}
}

func TestParseSubscriptions(t *testing.T) {
	_, sc, _ := parsed(t, "mqsub", []string{"-t", "a/b", "-t", "c", "--topic-qos", "x=y/#=2", "-q", "1",
		"--no-local", "--retain-as-published", "--retain-handling", "2", "--sub-id", "9"}, nil)
	want := []mqtt.Subscription{
		{Filter: "a/b", QoS: 1, NoLocal: true, RetainAsPublished: true, RetainHandling: 2},
		{Filter: "c", QoS: 1, NoLocal: true, RetainAsPublished: true, RetainHandling: 2},
		{Filter: "x=y/#", QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 2},
	}
	if len(sc.subs) != len(want) {
		t.Fatalf("subs %+v", sc.subs)
	}
	for i := range want {
		if sc.subs[i] != want[i] {
			t.Errorf("sub %d = %+v, want %+v", i, sc.subs[i], want[i])
		}
	}
	if ids := sc.subProps.SubscriptionIDs; len(ids) != 1 || ids[0] != 9 {
		t.Errorf("subscription ids %v", ids)
	}
	// Commas stay inside one filter (no urfave slice splitting).
	_, sc, _ = parsed(t, "mqsub", []string{"-t", "a,b"}, nil)
	if len(sc.subs) != 1 || sc.subs[0].Filter != "a,b" {
		t.Errorf("-t a,b gave %+v", sc.subs)
	}
}

func TestParsePublish(t *testing.T) {
	cc, _, pc := parsed(t, "mqpub", []string{"-L", "mqtt://h/t/x", "-n", "-r", "-q", "2", "--repeat", "3",
		"--repeat-delay", "0.5", "-M", "5", "-D", "publish", "user-property", "k", "v"}, nil)
	if pc.topic != "t/x" || pc.mode != "n" || !pc.retain || pc.qos != 2 || pc.repeat != 3 || pc.repeatDelay != 0.5 || pc.maxInflight != 5 {
		t.Errorf("pub config %+v", pc)
	}
	if u := cc.props.Publish.User; len(u) != 1 || u[0].Key != "k" || u[0].Value != "v" || cc.version != mqtt.V5 {
		t.Errorf("user properties %v, version %v", u, cc.version)
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, name := range []string{"mqpub", "mqsub"} {
		r := (&tool{name: name}).run(testCtx(t), "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "EXAMPLES:") || !strings.Contains(r.stdout, "EXIT STATUS:") ||
			!strings.Contains(r.stdout, "--host value, -h value") {
			t.Errorf("%s --help: exit %d\n%s", name, r.code, r.stdout)
		}
		r = (&tool{name: name}).run(testCtx(t), "--version")
		if r.code != 0 || !strings.HasPrefix(r.stdout, name+" version ") {
			t.Errorf("%s --version: %q", name, r.stdout)
		}
		r = (&tool{name: name}).run(testCtx(t), "-", "--generate-bash-completion")
		if r.code != 0 || !strings.Contains(r.stdout, "--topic\n") || !strings.Contains(r.stdout, "-t\n") {
			t.Errorf("%s completion: %q", name, r.stdout)
		}
		r = (&tool{name: name}).run(testCtx(t), "--completion", "bash")
		if r.code != 0 || !strings.Contains(r.stdout, "complete -o filenames -F _mqkit_"+name+" "+name) {
			t.Errorf("%s --completion bash: %q", name, r.stdout)
		}
	}
}
