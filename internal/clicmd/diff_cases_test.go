package clicmd

import (
	"regexp"
	"strings"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// dcase is one row of the differential table: steps run in order against
// one fresh broker, first with mosquitto's tools, then with ours.
type dcase struct {
	name  string
	setup []dmsg // published (QoS >= 1, acknowledged) before the first step
	steps []dstep
	// mosquittoOnly skips the run against mqbroker (say why in the case).
	mosquittoOnly bool
	// auth: the broker only lets diffUsers in (alice/secret).
	auth bool
	// norm are extra parts of stdout that differ between any two runs
	// (timestamps, process ids); they are replaced before comparing.
	norm []*regexp.Regexp
	// skipExit, skipStdout and skipReceived leave the exit status, stdout
	// or what the reference subscriber got out of the comparison, because
	// of a mosquitto bug or a deliberate difference; why says which (the
	// README's mosquitto → mqkit table lists them).
	skipExit, skipStdout, skipReceived bool
	why                                string
	// usage: mosquitto prints its whole usage on stdout (mqkit prints one
	// error line on stderr); only the exit statuses are compared.
	usage bool
	// unordered: the broker sends several retained messages in no
	// particular order (mqbroker), so lines are compared sorted.
	unordered bool
	// extension marks a command line mosquitto 2.0.11 refuses (exit 1)
	// and mqkit accepts, exiting with extensionCode; README lists it.
	extension     bool
	extensionCode int
}

// dstep is one command line (tool "pub" or "sub"), or, with tool "", a
// list of messages the harness publishes at that point.
type dstep struct {
	tool  string
	args  string
	stdin string
	// feed is published once the subscriber has its SUBACK (tool "sub"),
	// or at once (tool "").
	feed []dmsg
	// kill ends the subscriber with SIGKILL after the feed (a will test).
	kill bool
}

// The command lines get "-h 127.0.0.1 -p {port}" in front unless they
// name {port} themselves.
func withBroker(args string) string {
	if strings.Contains(args, "{port}") {
		return args
	}
	return "-h 127.0.0.1 -p {port} " + args
}

// pubCase runs mosquitto_pub / mqpub with args (and stdin).
func pubCase(name, args string, stdin ...string) dcase {
	return dcase{name: name, steps: []dstep{{tool: "pub", args: withBroker(args), stdin: strings.Join(stdin, "")}}}
}

// subCase runs mosquitto_sub / mqsub with args; feed, if any, is
// published once it has subscribed.
func subCase(name, args string, feed ...dmsg) dcase {
	return dcase{name: name, steps: []dstep{{tool: "sub", args: withBroker(args), feed: feed}}}
}

func (c dcase) retained(msgs ...dmsg) dcase {
	for i := range msgs {
		msgs[i].retain = true
	}
	c.setup = append(c.setup, msgs...)
	return c
}

func (c dcase) normalizing(res ...string) dcase {
	for _, re := range res {
		c.norm = append(c.norm, regexp.MustCompile(re))
	}
	return c
}

func msg(topic, payload string) dmsg { return dmsg{topic: topic, payload: payload} }

func msgQ(topic, payload string, q mqtt.QoS) dmsg {
	return dmsg{topic: topic, payload: payload, qos: q}
}

// msgProps is a QoS 0 message with v5 properties.
func msgProps(topic, payload string, set func(p *mqtt.Properties)) dmsg {
	m := dmsg{topic: topic, payload: payload}
	set(&m.props)
	return m
}

// allProps sets every property a publisher may set on a PUBLISH.
func allProps(p *mqtt.Properties) {
	p.User = []mqtt.UserProperty{{Key: "k", Value: "v"}, {Key: "k2", Value: "v 2"}}
	p.SetContentType("text/plain")
	p.SetResponseTopic("reply/here")
	p.SetCorrelationData([]byte("corr-42"))
	p.SetPayloadFormat(1)
	p.SetMessageExpiry(3600)
}

// Timestamps in -F output: %I, %U, @ strftime, and %j's "tst".
const (
	reISO  = `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}`
	reUnix = `\d{9,}\.\d{9}`
	reTST  = `"tst":\s*"[^"]*"`
)

// diffCases is the table: every case of issue 13 and a sweep over the
// options of mosquitto_pub and mosquitto_sub 2.0.11.
func diffCases() []dcase {
	var cs []dcase
	cs = append(cs, pubCases()...)
	cs = append(cs, pubDebugCases()...)
	cs = append(cs, pubV5Cases()...)
	cs = append(cs, connCases()...)
	cs = append(cs, subCases()...)
	cs = append(cs, formatCases()...)
	cs = append(cs, subDebugCases()...)
	cs = append(cs, sessionCases()...)
	cs = append(cs, badArgCases()...)
	cs = append(cs, authCases()...)
	cs = append(cs, moreCases()...)
	return cs
}

// authCases run against brokers that want a user name and password:
// refused connections exit with the CONNACK code.
func authCases() []dcase {
	a := func(c dcase) dcase { c.auth = true; return c }
	return []dcase{
		a(pubCase("auth/pub-ok", "-u alice -P secret -t t -m x -q 1 -d")),
		a(pubCase("auth/pub-bad-password", "-u alice -P wrong -t t -m x -d")),
		a(pubCase("auth/pub-bad-password-V5", "-u alice -P wrong -t t -m x -d -V 5")),
		a(pubCase("auth/pub-anonymous", "-t t -m x")),
		a(pubCase("auth/pub-anonymous-quiet", "-t t -m x --quiet")),
		a(pubCase("auth/pub-anonymous-V31", "-t t -m x -V 31")),
		a(pubCase("auth/pub-url-userinfo", "-L mqtt://alice:secret@127.0.0.1:{port}/t -m x")),
		// -P after -L wins over the URL's password; before it, the URL's.
		a(pubCase("auth/pub-url-then-P", "-L mqtt://alice:wrong@127.0.0.1:{port}/t -P secret -m x")),
		a(pubCase("auth/pub-P-then-url", "-P secret -L mqtt://alice:wrong@127.0.0.1:{port}/t -m x")),
		a(pubCase("auth/pub-u-then-url-without-user", "-u alice -P secret -L mqtt://127.0.0.1:{port}/t -m x")),
		a(subCase("auth/sub-ok", "-u alice -P secret -t t -C 1 -v", msg("t", "x"))),
		a(subCase("auth/sub-anonymous", "-t t -d")),
		a(subCase("auth/sub-anonymous-V5", "-t t -d -V 5")),
	}
}

func moreCases() []dcase {
	return []dcase{
		// PINGREQ and PINGRESP in -d, after 5 s of silence.
		subCase("more/keepalive-ping", "-t t -d -k 5 -W 7"),
		subCase("more/keepalive-ping-V5", "-t t -d -k 5 -W 7 -V 5"),
		// Properties in the order the publisher sent them (mosquitto_pub
		// writes them in the order of its -D options).
		subCase("more/props-wire-order", "-V 5 -t t -C 1 -F '%j'", dmsg{mosquittoPub: "-V 5 -t t -m p -q 1 " +
			"-D publish payload-format-indicator 1 -D publish response-topic r -D publish user-property a b " +
			"-D publish content-type c -D publish user-property d e -D publish correlation-data x"}).normalizing(reTST),
		subCase("more/props-wire-order-pretty", "-V 5 -t t -C 1 -F '%J' --pretty", dmsg{mosquittoPub: "-V 5 -t t -m [1] -q 1 " +
			"-D publish message-expiry-interval 600 -D publish content-type c -D publish user-property a b"}).normalizing(reTST),
		subCase("more/props-F-order", "-V 5 -t t -C 1 -F '%P|%C|%R|%D|%F'", dmsg{mosquittoPub: "-V 5 -t t -m p -q 1 " +
			"-D publish user-property a b -D publish response-topic r -D publish user-property c d -D publish correlation-data cd"}),
		subCase("more/overlapping-filters", "-t 'a/#' -t a/b -C 2 -v -W 1", msg("a/b", "x")),
		subCase("more/unicode", "-t '#' -C 1 -v", msg("ü/✓", "ünïcödé ✓")),
		subCase("more/big-payload", "-t t -C 1 -F '%l %.10p'", msg("t", diffFixtures["big"])),
		pubCase("more/big-file", "-t t -f {big} -q 1"),
		subCase("more/retained-R-C", "-t '#' -R -C 1 -v", msg("live", "1")).retained(msg("old", "0")),
		subCase("more/filter-out-plus", "-t '#' -T '+/x' -C 1 -v", msg("a/x", "no"), msg("a/y", "yes")),
		subCase("more/quiet-debug", "-t t -C 1 -d --quiet", msg("t", "x")),
		pubCase("more/D-will-without-topic", "-t t -m x -D will content-type a"),
		subCase("more/retained-only-live-q1", "-t '#' --retained-only -q 1 -v", msgQ("x", "live", 1)).retained(msg("a", "1")),
		subCase("more/retained-only-live-q1-debug", "-t '#' --retained-only -q 1 -d", msgQ("x", "live", 1)).retained(msg("a", "1")).
			differs("deliberate: mqsub does not acknowledge the live message that ends --retained-only (a durable session keeps it); mosquitto_sub does (PUBACK in -d)", "stdout"),
		pubCase("more/D-disconnect-expiry-from-0", "-t t -m x -V 5 -i me -D disconnect session-expiry-interval 5").
			differs("deliberate: raising the session expiry from 0 at DISCONNECT is a protocol error [MQTT-3.14.2-2]; mqpub refuses it (exit 1), mosquitto_pub sends it", "exit", "stdout", "received"),
		{name: "more/session-present-debug", steps: []dstep{
			{tool: "sub", args: withBroker("-c -i dur -q 2 -t t -E -V 5 -x 60 -d")},
			{feed: []dmsg{msgQ("t", "one", 2), msgQ("t", "two", 1)}},
			{tool: "sub", args: withBroker("-c -i dur -q 2 -t t -C 2 -V 5 -x 60 -d -v")},
		}},
		{name: "more/session-qos2-V311", steps: []dstep{
			{tool: "sub", args: withBroker("-c -i dur -q 2 -t 't/#' -E")},
			{feed: []dmsg{msgQ("t/1", "one", 2), msgQ("t/2", "two", 1), msgQ("t/3", "three", 2), msgQ("t/4", "gone", 0)}},
			{tool: "sub", args: withBroker("-c -i dur -q 2 -t 't/#' -C 3 -F '%t %p %q %m'")},
		}},
		// mosquitto exits 1 for --help and --version (mqkit: 0), 8 for a
		// TLS failure (mqkit: 1 for every connection failure).
		pubCase("more/help", "--help").mosquittoRefuses(0),
		subCase("more/version", "--version").mosquittoRefuses(0),
		pubCase("more/tls-to-plain-port", "-t t -m x --cafile {ca}").
			differs("deliberate: mqkit exits 1 for every connection or TLS failure (mosquitto: 8 here)", "exit"),
	}
}

func pubCases() []dcase {
	return []dcase{
		pubCase("pub/m", "-t t -m hello"),
		pubCase("pub/m-empty", "-t t -m ''"),
		pubCase("pub/q1", "-t t -m hello -q 1"),
		pubCase("pub/q2", "-t t -m hello -q 2"),
		pubCase("pub/retain", "-t t -m kept -r"),
		pubCase("pub/retain-q1", "-t t -m kept -r -q 1"),
		pubCase("pub/null", "-t t -n"),
		pubCase("pub/null-retain-clears", "-t t -n -r").retained(msg("t", "old")),
		pubCase("pub/file", "-t t -f {text}"),
		pubCase("pub/file-empty", "-t t -f {empty}"),
		pubCase("pub/file-binary", "-t t -f {binary} -q 1"),
		pubCase("pub/file-missing", "-t t -f {dir}/missing"),
		pubCase("pub/stdin-file", "-t t -s", "hello\nworld\n"),
		pubCase("pub/stdin-file-binary", "-t t -s -q 2", "\x00\x01\xff"),
		// mosquitto refuses an empty stdin and publishes nothing.
		pubCase("pub/stdin-file-empty", "-t t -s"),
		pubCase("pub/stdin-file-empty-debug", "-t t -s -d"),
		pubCase("pub/stdin-line", "-t t -l", "a\nb\n\nc\n"),
		pubCase("pub/stdin-line-q1", "-t t -l -q 1", "one\ntwo\n"),
		pubCase("pub/stdin-line-q2-retain", "-t t -l -q 2 -r", "one\ntwo\n"),
		pubCase("pub/stdin-line-empty", "-t t -l"),
		pubCase("pub/stdin-line-crlf", "-t t -l", "a\r\nb\r\n"),
		pubCase("pub/repeat", "-t t -m x --repeat 3"),
		pubCase("pub/repeat-q1-delay", "-t t -m x --repeat 2 --repeat-delay 0.05 -q 1"),
		pubCase("pub/max-inflight", "-t t -m x --repeat 5 -q 1 -M 2"),
		pubCase("pub/V31", "-t t -m x -V 31"),
		pubCase("pub/V311", "-t t -m x -V 311"),
		pubCase("pub/V5", "-t t -m x -V 5"),
		pubCase("pub/mqttv31", "-t t -m x -V mqttv31"),
		pubCase("pub/mqttv311", "-t t -m x -V mqttv311"),
		pubCase("pub/mqttv5", "-t t -m x -V mqttv5 -q 1"),
		pubCase("pub/id", "-t t -m x -i my-id"),
		pubCase("pub/id-prefix", "-t t -m x -I pre -d").normalizing(`pre\d+`),
		pubCase("pub/keepalive-5", "-t t -m x -k 5"),
		pubCase("pub/keepalive-65535", "-t t -m x -k 65535"),
		pubCase("pub/user-pw", "-t t -m x -u alice -P secret"),
		pubCase("pub/user", "-t t -m x -u alice"),
		pubCase("pub/will", "-t t -m x --will-topic w --will-payload bye --will-qos 1 --will-retain"),
		// mosquitto accepts --will-qos alone (there is no will).
		pubCase("pub/will-qos-alone", "-t t -m x --will-qos 1"),
		pubCase("pub/nodelay", "-t t -m x --nodelay"),
		pubCase("pub/bind-address", "-t t -m x -A 127.0.0.1"),
		pubCase("pub/quiet", "-t t -m x --quiet -q 1"),
		pubCase("pub/topic-utf8", "-t 'ü/✓' -m 'ünï'"),
		pubCase("pub/topic-sys", "-t '$SYS/x' -m x"),
		pubCase("pub/topic-twice", "-t a -t b -m x"),
		pubCase("pub/qos-twice", "-t a -m x -q 2 -q 1"),
		pubCase("pub/url", "-L mqtt://127.0.0.1:{port}/t/u -m x"),
		pubCase("pub/url-q1-debug", "-L mqtt://127.0.0.1:{port}/t -m x -q 1 -d"),
		pubCase("pub/url-userinfo", "-L mqtt://alice:secret@127.0.0.1:{port}/t -m x"),
		// -L and -h/-p/-t: the last one given wins, field by field.
		pubCase("pub/url-after-host", "-h nohost.invalid -p 1 -L mqtt://127.0.0.1:{port}/t -m x"),
		pubCase("pub/url-before-port", "-L mqtt://127.0.0.1:1/t -p {port} -m x"),
		pubCase("pub/url-before-host", "-L mqtt://nohost.invalid:{port}/t -h 127.0.0.1 -m x"),
		pubCase("pub/url-before-topic", "-L mqtt://127.0.0.1:{port}/t -t other -m x"),
		pubCase("pub/url-after-topic", "-t other -L mqtt://127.0.0.1:{port}/t -m x"),
		pubCase("pub/url-default-port", "-p {port} -L mqtt://127.0.0.1/t -m x"),
		pubCase("pub/url-then-port", "-L mqtt://127.0.0.1/t -p {port} -m x -d"),
	}
}

func pubDebugCases() []dcase {
	return []dcase{
		pubCase("pub-d/q0", "-t t -m x -d"),
		pubCase("pub-d/q1", "-t t -m x -q 1 -d"),
		pubCase("pub-d/q2", "-t t -m x -q 2 -d"),
		pubCase("pub-d/retain", "-t t -m x -r -d"),
		pubCase("pub-d/null", "-t t -n -d"),
		pubCase("pub-d/id", "-t t -m hello -i me -q 2 -d"),
		pubCase("pub-d/V31", "-t t -m x -V 31 -d"),
		pubCase("pub-d/V5", "-t t -m x -V 5 -d"),
		pubCase("pub-d/V5-q1", "-t t -m x -V 5 -q 1 -d"),
		pubCase("pub-d/V5-q2", "-t t -m x -V 5 -q 2 -d"),
		pubCase("pub-d/V5-id", "-t t -m x -V 5 -i me -q 1 -d"),
		// With QoS 1 the PUBACK of one line and the PUBLISH of the next
		// race in both tools: one line, or QoS 0.
		pubCase("pub-d/lines", "-t t -l -d", "a\nbb\n\nccc"),
		pubCase("pub-d/line-q1", "-t t -l -q 1 -d", "a\n"),
		pubCase("pub-d/line-q2", "-t t -l -q 2 -d", "a\n"),
		pubCase("pub-d/repeat", "-t t -m x --repeat 3 -q 1 -d"),
		pubCase("pub-d/stdin", "-t t -s -d", "data"),
		pubCase("pub-d/file-empty", "-t t -f {empty} -d -q 2"),
		pubCase("pub-d/quiet", "-t t -m x -d --quiet"),
		pubCase("pub-d/long-topic", "-t a/b/c/d/e/f/g -m 0123456789 -d"),
	}
}

func pubV5Cases() []dcase {
	return []dcase{
		pubCase("pub-D/content-type", "-t t -m x -D publish content-type text/plain"),
		pubCase("pub-D/user-property", "-t t -m x -D publish user-property k v -D publish user-property k2 'v 2'"),
		pubCase("pub-D/message-expiry", "-t t -m x -D publish message-expiry-interval 60"),
		pubCase("pub-D/payload-format", "-t t -m x -D publish payload-format-indicator 1"),
		pubCase("pub-D/response-topic", "-t t -m x -D publish response-topic r/t"),
		pubCase("pub-D/correlation-data", "-t t -m x -D publish correlation-data abc"),
		pubCase("pub-D/all-debug", "-t t -m x -q 1 -d -D publish content-type a -D publish response-topic r -D publish user-property a b"),
		pubCase("pub-D/connect-receive-maximum", "-t t -m x -q 1 -D connect receive-maximum 5"),
		pubCase("pub-D/connect-user-property", "-t t -m x -D connect user-property a b"),
		// Issue 13: mosquitto publishes with a finite session expiry and no -i.
		pubCase("pub-D/connect-session-expiry-no-id", "-t t -m x -D connect session-expiry-interval 10 -d"),
		pubCase("pub-D/connect-maximum-packet-size", "-t t -m x -D connect maximum-packet-size 1000"),
		pubCase("pub-D/disconnect-session-expiry", "-t t -m x -i me -x 10 -V 5 -D disconnect session-expiry-interval 0"),
		pubCase("pub-D/will-props", "-t t -m x --will-topic w -D will content-type a -D will will-delay-interval 5"),
		// -D switches to MQTT 5 unless a later -V says otherwise.
		pubCase("pub-D/V311-then-D", "-t t -m x -V 311 -D publish content-type a -d"),
		pubCase("pub-D/V311-then-D-connect", "-t t -m x -V 31 -D connect user-property a b -d"),
		// mosquitto refuses CONNECT and will properties on an MQTT 3
		// connection (exit 1)...
		pubCase("pub-D/D-connect-then-V311", "-t t -m x -D connect user-property a b -V 311"),
		pubCase("pub-D/D-will-then-V311", "-t t -m x --will-topic w -D will content-type a -V 311"),
		// ... and connects but publishes nothing, exit 0, for PUBLISH
		// properties (a mosquitto bug: the message is lost without a word;
		// mqpub publishes it without the properties and warns).
		pubCase("pub-D/D-publish-then-V311", "-t t -m x -D publish content-type a -V 311").
			differs("mosquitto bug: it connects and publishes nothing, exit 0; mqpub publishes without the properties and warns", "received"),
		pubCase("pub-D/bad-command", "-t t -m x -D bogus content-type a"),
		pubCase("pub-D/bad-name", "-t t -m x -D publish bogus a"),
		pubCase("pub-D/not-for-publish", "-t t -m x -D publish session-expiry-interval 5"),
		pubCase("pub-D/missing-value", "-t t -m x -D publish content-type"),
		pubCase("pub-D/missing-name", "-t t -m x -D publish"),
		pubCase("pub-D/user-property-missing-value", "-t t -m x -D publish user-property k"),
		pubCase("pub-D/bad-number", "-t t -m x -D publish message-expiry-interval abc"),
		pubCase("pub-D/topic-alias", "-t t -m x -D publish topic-alias 1 -q 1"),
	}
}

// connCases: session, protocol version and connection options.
func connCases() []dcase {
	return []dcase{
		// Issue 13: -x needs MQTT 5; mosquitto 2.0 ignores it on 3.1.1.
		pubCase("x/V311-ignored", "-t t -m x -x 60 -d"),
		pubCase("x/explicit-V311", "-t t -m x -x 60 -V 311 -q 1"),
		pubCase("x/V31", "-t t -m x -x 60 -V 31"),
		pubCase("x/V5", "-t t -m x -x 60 -V 5 -d"),
		pubCase("x/V5-infinite-no-id", "-t t -m x -x -1 -V 5"),
		pubCase("x/V5-infinite-id", "-t t -m x -x -1 -V 5 -i me"),
		pubCase("x/V5-max", "-t t -m x -x 4294967295 -V 5 -i me"),
		pubCase("x/V5-out-of-range", "-t t -m x -x 4294967296 -V 5 -i me"),
		pubCase("x/not-a-number", "-t t -m x -x abc"),
		pubCase("x/not-a-number-V5", "-t t -m x -x 1y -V 5"),
		pubCase("x/negative", "-t t -m x -x -2 -V 5"),
		pubCase("x/zero", "-t t -m x -x 0 -V 5"),
		pubCase("c/V311-no-id", "-t t -m x -c"),
		pubCase("c/V311-id", "-t t -m x -c -i me -q 1"),
		pubCase("c/V5-no-id", "-t t -m x -c -V 5"),
		pubCase("c/V5-id", "-t t -m x -c -i me -V 5"),
		pubCase("c/V5-x-no-id", "-t t -m x -c -x 10 -V 5"),
		pubCase("c/V5-x0-id", "-t t -m x -c -x 0 -i me -V 5"),
		pubCase("c/id-prefix", "-t t -m x -c -I pre"),
		pubCase("c/V5-id-prefix", "-t t -m x -c -I pre -V 5"),
		pubCase("c/V5-id-prefix-x", "-t t -m x -c -I pre -x 5 -V 5 -d").normalizing(`pre\d+`),
		pubCase("conn/refused-port", "-h 127.0.0.1 -p 1 -t t -m x"),
		pubCase("conn/refused-port-quiet", "-h 127.0.0.1 -p 1 -t t -m x --quiet"),
		pubCase("conn/refused-port-debug", "-h 127.0.0.1 -p 1 -t t -m x -d"),
		pubCase("conn/password-no-user-V311", "-t t -m x -P secret"),
		pubCase("conn/password-no-user-V5", "-t t -m x -P secret -V 5"),
		pubCase("conn/id-and-prefix", "-t t -m x -i a -I b"),
		pubCase("conn/id-empty", "-t t -m x -i ''"),
		pubCase("conn/id-empty-V5", "-t t -m x -i '' -V 5"),
		subCase("conn/sub-url", "-L mqtt://127.0.0.1:{port}/t -C 1 -v", msg("t", "via url")),
		subCase("conn/sub-url-and-topic", "-L mqtt://127.0.0.1:{port}/t -t u -C 2 -v", msg("u", "1"), msg("t", "2")),
		subCase("conn/sub-url-after-port", "-p 1 -L mqtt://127.0.0.1:{port}/t -C 1 -v", msg("t", "x")),
	}
}

func subCases() []dcase {
	return []dcase{
		subCase("sub/one", "-t t -C 1", msg("t", "hello")),
		subCase("sub/verbose", "-t 'a/#' -C 3 -v", msg("a", "1"), msg("a/b", "2"), msg("a/b/c", "with  spaces")),
		subCase("sub/two-topics", "-t a -t b -C 2 -v", msg("b", "1"), msg("a", "2")),
		subCase("sub/plus", "-t '+/x' -C 2 -v", msg("a/x", "1"), msg("a/y", "no"), msg("b/x", "2")),
		subCase("sub/q1-feed-q2", "-t t -q 1 -C 1 -F '%q %m %p'", msgQ("t", "x", 2)),
		subCase("sub/q2-feed-q1", "-t t -q 2 -C 1 -F '%q %m %p'", msgQ("t", "x", 1)),
		subCase("sub/q2-feed-q2", "-t t -q 2 -C 2 -F '%q %m %p'", msgQ("t", "x", 2), msgQ("t", "y", 2)),
		subCase("sub/q0-feed-q2", "-t t -C 1 -F '%q %m %p'", msgQ("t", "x", 2)),
		subCase("sub/no-eol", "-t t -C 2 -N", msg("t", "a"), msg("t", "b")),
		subCase("sub/verbose-no-eol", "-t t -C 2 -v -N", msg("t", "a"), msg("t", "b")),
		subCase("sub/empty-payload", "-t t -C 1 -v", msg("t", "")),
		subCase("sub/binary-payload", "-t t -C 1", msg("t", "\x00\x01\xfe")),
		subCase("sub/skip-retained", "-t t -R -C 1 -v", msg("t", "live")).retained(msg("t", "stale")),
		subCase("sub/retained", "-t t -C 2 -F '%t %p %r'", msg("t", "live")).retained(msg("t", "stale")),
		subCase("sub/retained-only", "-t '#' --retained-only -v", msg("x", "live")).retained(msg("a", "1"), msg("b", "2")).inAnyOrder(),
		subCase("sub/remove-retained", "-t '#' --retained-only --remove-retained -v -W 2", msg("x", "live")).
			retained(msg("a", "1"), msg("b", "2")).inAnyOrder().
			differs("mosquitto bug: with --remove-retained, --retained-only does not end at the live message (it waits for -W: 27)", "exit"),
		subCase("sub/remove-retained-filter-out", "-t '#' --retained-only --remove-retained -T b -v -W 2", msg("x", "live")).
			retained(msg("a", "1"), msg("b", "2")).inAnyOrder().
			differs("mosquitto bug: with --remove-retained, --retained-only does not end at the live message (it waits for -W: 27)", "exit"),
		subCase("sub/remove-retained-C", "-t '#' --remove-retained -C 2 -v -W 2").retained(msg("a", "1"), msg("b", "2")).inAnyOrder().
			differs("mosquitto bug: with --remove-retained, -C does not end it either (it waits for -W: 27)", "exit"),
		subCase("sub/remove-retained-R", "-t '#' --remove-retained -R -C 1 -v", msg("x", "live")).retained(msg("a", "1")),
		subCase("sub/filter-out", "-t '#' -T 'a/#' -C 1 -v", msg("a/x", "no"), msg("a", "no"), msg("b/y", "yes")),
		subCase("sub/filter-out-twice", "-t '#' -T a -T b -C 1 -v", msg("a", "no"), msg("b", "no"), msg("c", "yes")),
		subCase("sub/exit-after-subscribe", "-t t -E"),
		subCase("sub/exit-after-subscribe-two", "-t t -t u -q 1 -E -d"),
		subCase("sub/unsubscribe", "-t t -U t -W 1", msg("t", "not received")),
		subCase("sub/timeout", "-t t -W 1"),
		subCase("sub/timeout-garbage", "-t t -W 1s"),
		subCase("sub/count-before-timeout", "-t t -C 1 -W 5", msg("t", "x")),
		subCase("sub/random-filter-100", "-t t -C 1 --random-filter 100", msg("t", "x")).
			differs("mosquitto bug: --random-filter 100 prints only 10% of the messages (it counts in tenths of a percent)", "stdout"),
		subCase("sub/V31", "-t t -C 1 -V 31 -v", msg("t", "x")),
		subCase("sub/V5", "-t t -C 1 -V 5 -v", msg("t", "x")),
		subCase("sub/V5-rap", "-t t -C 1 -V 5 --retain-as-published -F '%r %p'", dmsg{topic: "t", payload: "x", retain: true}),
		subCase("sub/V5-D-subscribe", "-t t -C 1 -D subscribe user-property a b -v", msg("t", "x")),
		subCase("sub/V5-D-connect", "-t t -C 1 -D connect receive-maximum 1 -q 1 -v", msgQ("t", "x", 1)),
		// -D unsubscribe with -U: the UNSUBSCRIBE carries it.
		subCase("sub/V5-D-unsubscribe", "-t t -U t -D unsubscribe user-property a b -E"),
		subCase("sub/will-killed", "-t t --will-topic w --will-payload bye --will-qos 1 --will-retain -q 1", msgQ("t", "x", 1)).killed(),
		subCase("sub/quiet", "-t t -C 1 --quiet", msg("t", "x")),
		subCase("sub/keepalive", "-t t -C 1 -k 5 -i sub-id", msg("t", "x")),
		subCase("sub/json-non-json-brackets", "-t t -C 1 -F '[%J]'", msg("t", "not json")),
		subCase("sub/json-non-json-rest", "-t t -C 1 -F 'a%Jb|%p'", msg("t", "not json")),
		subCase("sub/json-valid", "-t t -C 1 -F '%J'", msg("t", `{"a": [1, 2.5, "x", null, true]}`)).normalizing(reTST),
		subCase("sub/json-pretty", "-t t -C 1 -F '%J' --pretty", msg("t", `{"a":{"b":[1,2]}}`)).normalizing(reTST),
		subCase("sub/j-pretty", "-t t -C 1 -F '%j' --pretty -q 1", msgQ("t", "text", 1)).normalizing(reTST),
		subCase("sub/j-empty", "-t t -C 1 -F '%j'", msg("t", "")).normalizing(reTST),
		subCase("sub/j-escapes", "-t t -C 1 -F '%j'", msg("t", "quote\" back\\ tab\t nl\n")).normalizing(reTST),
		subCase("sub/j-V5-props", "-t t -C 1 -V 5 -F '%j'", msgProps("t", "p", allProps)).normalizing(reTST),
		subCase("sub/J-V5-props", "-t t -C 1 -V 5 -F '%J'", msgProps("t", "[1]", allProps)).normalizing(reTST),
		subCase("sub/j-V3-props-dropped", "-t t -C 1 -F '%j'", msgProps("t", "p", allProps)).normalizing(reTST),
	}
}

func formatCases() []dcase {
	f := func(name, format string, feed ...dmsg) dcase {
		if len(feed) == 0 {
			feed = []dmsg{msgQ("a/b", "hello world", 1)}
		}
		return subCase("F/"+name, "-t '#' -C 1 -q 1 -F '"+format+"'", feed...)
	}
	v5 := func(name, format string) dcase {
		c := subCase("F5/"+name, "-V 5 -t '#' -C 1 -q 1 -F '"+format+"'", msgProps("a/b", "payload", allProps))
		return c
	}
	return []dcase{
		f("empty", ""),
		f("topic-payload", "%t %p"),
		f("all-plain", `%t|%p|%q|%r|%l|%x|%X|%m|%%`),
		f("hex-binary", "%x %X", msg("a", "\x00\x01\xfe\xff")),
		f("width", "[%10t] [%-10t] [%3t]"),
		f("width-payload", "[%20p] [%-20p] [%5p]"),
		f("width-hex", "[%20x] [%-20X] [%4x]"),
		f("zero-pad", "[%05l] [%08m] [%-05l] [%03q]"),
		f("precision", "[%.2t] [%5.2t] [%-5.2t] [%.10t] [%.0t]"),
		f("precision-other", "[%.2p] [%.2l] [%3.1m]"),
		f("escapes", `a\tb\\c\nd\ee\af\rg\vh`),
		f("nul", `%t\0%p\0`),
		f("at-literal", "@@ %t"),
		f("strftime", "@Y-@m-@dT@H:@M:@S @z @N %t").normalizing(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d [+-]\d{4} \d{9}`),
		f("iso", "%I %t").normalizing(reISO),
		f("iso-width", "[%30I] [%-30I] [%.10I]").normalizing(`\[ *`+reISO+` *\]`, `\[\d{4}-\d\d-\d\d\]`),
		f("unix", "%U %t").normalizing(reUnix),
		f("j", "%j").normalizing(reTST),
		f("j-q0", "%j", msg("a", "x")).normalizing(reTST),
		f("j-retained", "%j").normalizing(reTST).retained(msg("r", "kept")),
		f("J-number", "%J", msg("a", "42")).normalizing(reTST),
		f("J-string", "%J", msg("a", `"s"`)).normalizing(reTST),
		f("J-trailing-garbage", "%J|", msg("a", `{"a":1} x`)).normalizing(reTST),
		f("J-nested", "%J", msg("a", `{"a":{"b":{"c":[[],{}]}},"d":-1.5e3}`)).normalizing(reTST),
		f("v3-props-blank", "[%A][%C][%D][%E][%F][%P][%R][%S]"),
		f("v3-props-width", "[%5A][%5C][%5E][%05F][%5R][%05S]"),
		v5("props", "[%A][%C][%D][%E][%F][%P][%R][%S]"),
		v5("props-width", "[%8C][%-8C][%.3C][%5E][%05E][%-5F][%12R][%.3R]"),
		v5("j", "%j").normalizing(reTST),
		subCase("F5/j-pretty", "-V 5 -t '#' -C 1 -q 1 --pretty -F '%j'", msgProps("a/b", "payload", allProps)).normalizing(reTST),
		subCase("F5/sub-id", "-V 5 -t '#' -C 1 -F '[%S][%5S][%-5S]' -D subscribe subscription-identifier 42", msg("a", "x")),
		subCase("F5/sub-id-j", "-V 5 -t '#' -C 1 -F '%j' -D subscribe subscription-identifier 7", msgProps("a", "x", allProps)).normalizing(reTST),
		subCase("F/format-and-verbose", "-t '#' -C 1 -v -F '%p'", msg("a", "x")),
		subCase("F/format-no-eol", "-t '#' -C 2 -N -F '%p;'", msg("a", "x"), msg("a", "y")),
		// Issue 13: -F '' prints an empty line per message.
		subCase("F/empty-format", "-t '#' -C 2 -F ''", msg("a", "x"), msg("a", "y")),
		subCase("F/empty-format-no-eol", "-t '#' -C 2 -F '' -N", msg("a", "x"), msg("a", "y")),
		subCase("F/bad-specifier", "-t '#' -F '%z'"),
		subCase("F/incomplete", "-t '#' -F 'abc%'"),
		subCase("F/incomplete-width", "-t '#' -F '%10'"),
		subCase("F/incomplete-flag", "-t '#' -F '%-'"),
		subCase("F/incomplete-at", "-t '#' -F 'abc@'"),
		subCase("F/bad-escape", `-t '#' -F '\q'`),
		subCase("F/incomplete-escape", `-t '#' -F 'a\'`),
	}
}

func subDebugCases() []dcase {
	return []dcase{
		subCase("sub-d/q0", "-t t -C 1 -d", msg("t", "x")),
		subCase("sub-d/q1", "-t t -q 1 -C 1 -d", msgQ("t", "x", 1)),
		subCase("sub-d/q2", "-t t -q 2 -C 1 -d", msgQ("t", "x", 2)),
		subCase("sub-d/mixed", "-t t -q 2 -C 3 -d -v", msgQ("t", "1", 1), msgQ("t", "0", 0), msgQ("t", "2", 2)),
		subCase("sub-d/retained", "-t t -q 1 -C 1 -d", msg("t", "x")).retained(msg("t", "kept")),
		subCase("sub-d/two-topics", "-t a -t 'b/#' -q 1 -C 1 -d", msg("a", "x")),
		subCase("sub-d/V5", "-t t -C 1 -d -V 5", msg("t", "x")),
		subCase("sub-d/V5-q2", "-t t -C 1 -d -V 5 -q 2", msgQ("t", "x", 2)),
		subCase("sub-d/V5-id", "-t t -C 1 -d -V 5 -i me -q 1", msgQ("t", "x", 1)),
		subCase("sub-d/V5-rap-options", "-t t -C 1 -d -V 5 --retain-as-published -q 1", msg("t", "x")),
		subCase("sub-d/skip-retained-options", "-t t -C 1 -d -R -V 5", msg("t", "x")),
		subCase("sub-d/V31", "-t t -C 1 -d -V 31", msg("t", "x")),
		subCase("sub-d/unsubscribe", "-t t -U u -d -E"),
		subCase("sub-d/unsubscribe-unsuback", "-t t -U u -d -W 1"),
		subCase("sub-d/unsubscribe-unsuback-V5", "-t t -U u -U w -d -W 1 -V 5"),
		subCase("sub-d/unsubscribe-two", "-t t -U u -U 'v/#' -d -E -V 5"),
		subCase("sub-d/sys-topic", "-t '$SYS/#' -t t -C 1 -d", msg("t", "x")),
		subCase("sub-d/verbose", "-t t -C 1 -d -v", msg("t", "x")),
		subCase("sub-d/filter-out", "-t '#' -T a -C 1 -d -v", msg("a", "hidden"), msg("b", "shown")),
	}
}

// sessionCases: durable sessions, as the seed tutorials use them.
func sessionCases() []dcase {
	durable := func(name, flags string) dcase {
		return dcase{name: name, steps: []dstep{
			{tool: "sub", args: withBroker("-c -i tut -q 1 -t 'orders/#' -E " + flags)},
			{feed: []dmsg{msgQ("orders/1", "one", 1), msgQ("orders/2", "two", 1)}},
			{tool: "sub", args: withBroker("-c -i tut -q 1 -t 'orders/#' -C 2 -v " + flags)},
		}}
	}
	return []dcase{
		// Issue 13: the durable-session tutorial commands, unchanged.
		durable("session/V311-x600", "-V 311 -x 600"),
		durable("session/V311", ""),
		durable("session/V5-x600", "-V 5 -x 600"),
		durable("session/V5-c", "-V 5"),
		durable("session/V311-x600-debug", "-V 311 -x 600 -d"),
		durable("session/V5-debug", "-V 5 -x 600 -d"),
		{name: "session/V5-expired", steps: []dstep{
			{tool: "sub", args: withBroker("-c -i tut -q 1 -t t -E -V 5 -x 0")},
			{feed: []dmsg{msgQ("t", "lost", 1)}},
			{tool: "sub", args: withBroker("-c -i tut -q 1 -t t -W 1 -V 5 -v")},
		}},
		{name: "session/unsubscribe-cleans", steps: []dstep{
			{tool: "sub", args: withBroker("-c -i tut -q 1 -t t -E")},
			{tool: "sub", args: withBroker("-c -i tut -q 1 -t u -U t -E")},
			{feed: []dmsg{msgQ("t", "lost", 1)}},
			{tool: "sub", args: withBroker("-c -i tut -q 1 -t u -W 1 -v")},
		}},
	}
}

// badArgCases: command lines mosquitto refuses, or reads oddly. How the
// tools read their arguments does not depend on the broker: they run
// against mosquitto only.
func badArgCases() []dcase {
	p := func(name, args string) dcase {
		c := pubCase("bad-pub/"+name, args)
		c.mosquittoOnly = true
		return c
	}
	s := func(name, args string) dcase {
		c := subCase("bad-sub/"+name, args)
		c.mosquittoOnly = true
		return c
	}
	return []dcase{
		p("unknown-long", "-t t -m x --bogus"),
		p("unknown-short", "-t t -m x -Z"),
		p("unknown-word", "-t t -m x extra"),
		p("sub-option", "-t t -m x -C 1"),
		p("sub-option-E", "-t t -m x -E"),
		p("no-topic", "-m x").printsUsage(),
		p("no-message", "-t t").printsUsage(),
		p("nothing", "").printsUsage(),
		p("two-messages", "-t t -m x -n"),
		p("message-and-file", "-t t -m x -f {text}"),
		p("message-and-stdin", "-t t -m x -s"),
		p("missing-value", "-t t -m"),
		p("missing-topic-value", "-m x -t"),
		p("wildcard-topic", "-t 'a/#' -m x"),
		p("plus-topic", "-t 'a/+/b' -m x"),
		p("empty-topic", "-t '' -m x").differs("mosquitto bug: it prints \"Error: Invalid input\" but exits 0; mqpub exits 1", "exit"),
		p("qos-3", "-t t -m x -q 3"),
		p("qos-negative", "-t t -m x -q -1"),
		p("qos-word", "-t t -m x -q one"),
		p("qos-garbage", "-t t -m x -q 1x"),
		p("keepalive-4", "-t t -m x -k 4"),
		p("keepalive-65536", "-t t -m x -k 65536"),
		p("keepalive-word", "-t t -m x -k abc"),
		p("port-65536", "-h 127.0.0.1 -t t -m x -p 65536"),
		p("port-negative", "-h 127.0.0.1 -t t -m x -p -1"),
		p("version", "-t t -m x -V 4"),
		p("version-word", "-t t -m x -V mqtt"),
		p("repeat-0", "-t t -m x --repeat 0"),
		p("repeat-word", "-t t -m x --repeat x"),
		p("repeat-delay-negative", "-t t -m x --repeat-delay -1"),
		p("max-inflight-0", "-t t -m x -M 0"),
		p("will-payload-alone", "-t t -m x --will-payload x"),
		p("will-retain-alone", "-t t -m x --will-retain"),
		p("will-wildcard", "-t t -m x --will-topic 'w/#'"),
		p("will-qos-3", "-t t -m x --will-topic w --will-qos 3"),
		p("url-no-topic", "-L mqtt://127.0.0.1:{port} -m x"),
		p("url-scheme", "-L http://127.0.0.1:{port}/t -m x"),
		p("url-wildcard-topic", "-L mqtt://127.0.0.1:{port}/a/# -m x"),
		p("cert-without-key", "-t t -m x --cert {text}"),
		p("cafile-missing", "-t t -m x --cafile {dir}/missing"),
		p("tls-version-bad", "-t t -m x --cafile {text} --tls-version tlsv9"),
		p("proxy-bad", "-t t -m x --proxy http://x"),
		s("no-topic", "-C 1"),
		s("unsubscribe-only-V311", "-U t -E -V 311 -W 1").mosquittoRefuses(0),
		s("pub-option", "-t t -m x"),
		s("pub-option-r", "-t t -r"),
		s("bad-filter", "-t 'a/#/b'"),
		s("bad-filter-plus", "-t 'a+'"),
		s("bad-filter-out", "-t t -T 'a/#/b'"),
		s("bad-unsubscribe", "-t t -U 'a#'"),
		s("count-0", "-t t -C 0"),
		s("count-word", "-t t -C x"),
		s("timeout-0", "-t t -W 0"),
		s("timeout-fraction", "-t t -W 0.5").mosquittoRefuses(27),
		s("qos-3", "-t t -q 3"),
		s("random-filter-0", "-t t --random-filter 0"),
		s("random-filter-101", "-t t --random-filter 101"),
		s("retained-only-and-R", "-t t --retained-only -R"),
		s("F-missing", "-t t -F"),
		s("id-and-prefix", "-t t -i a -I b"),
		s("c-no-id", "-t t -c"),
		s("D-subscribe-bad", "-t t -D subscribe content-type x"),
	}
}

// mosquittoRefuses marks an mqkit extension: mosquitto 2.0.11 refuses the
// command line (exit 1), mqkit accepts it (README, mosquitto → mqkit).
func (c dcase) mosquittoRefuses(code int) dcase {
	c.extension, c.extensionCode = true, code
	return c
}

// killed ends the subscriber of the (single) step with SIGKILL once the
// feed is published; stdout is not compared (what a killed process had
// buffered is lost).
func (c dcase) killed() dcase {
	c.steps[0].kill = true
	c.skipStdout = true
	return c
}

// differs leaves what (any of "exit", "stdout", "received") out of the
// comparison for the reason why.
func (c dcase) differs(why string, what ...string) dcase {
	c.why = why
	for _, w := range what {
		switch w {
		case "exit":
			c.skipExit = true
		case "stdout":
			c.skipStdout = true
		case "received":
			c.skipReceived = true
		default:
			panic("differs: " + w)
		}
	}
	return c
}

func (c dcase) printsUsage() dcase { c.usage = true; return c }

func (c dcase) inAnyOrder() dcase { c.unordered = true; return c }
