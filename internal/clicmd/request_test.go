package clicmd

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// responder is an MQTT 5 client that answers the requests published on
// one topic with the messages answer returns, sent in order at QoS 1,
// each acknowledged before the next (so the broker forwards them in that
// order [MQTT-4.6.0-6]). Every request it received is on requests.
type responder struct {
	requests chan *mqtt.Publish
}

// startResponder connects the responder and returns once it is subscribed
// to topic; it stops when the test ends.
func startResponder(t *testing.T, tg target, topic string, answer func(req *mqtt.Publish) []*mqtt.Publish) *responder {
	t.Helper()
	port, err := strconv.Atoi(tg.port)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	rs := &responder{requests: make(chan *mqtt.Publish, 16)}
	work := make(chan *mqtt.Publish, 16)
	cl, err := client.Connect(ctx, client.Options{
		Endpoint: client.Endpoint{Host: tg.host, Port: port},
		Connect:  mqtt.Connect{Version: mqtt.V5, CleanStart: true, KeepAlive: 60},
		// The reader must not wait for our own acknowledgements: the
		// answers are sent from the goroutine below.
		OnMessage: func(p *mqtt.Publish) bool {
			select {
			case work <- p:
			default:
				t.Errorf("responder: too many requests")
			}
			return true
		},
	})
	if err != nil {
		cancel()
		t.Fatalf("responder: %v", err)
	}
	sub := &mqtt.Subscribe{Subscriptions: []mqtt.Subscription{{Filter: topic, QoS: 1}}}
	ack, err := cl.Subscribe(ctx, sub)
	if err == nil {
		err = client.SubackErr(sub, ack)
	}
	if err != nil {
		cancel()
		cl.Close()
		t.Fatalf("responder: subscribing to %s: %v", topic, err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case req := <-work:
				select {
				case rs.requests <- req:
				default: // the test does not look at them all
				}
				for _, m := range answer(req) {
					m.QoS = 1
					tok, err := cl.Publish(ctx, m)
					if err == nil {
						err = tok.Wait(ctx)
					}
					if err != nil && ctx.Err() == nil {
						t.Errorf("responder: publishing to %s: %v", m.Topic, err)
					}
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		cl.Close()
	})
	return rs
}

// request returns the next request the responder received.
func (rs *responder) request(t *testing.T) *mqtt.Publish {
	t.Helper()
	select {
	case req := <-rs.requests:
		return req
	case <-time.After(10 * time.Second):
		t.Fatal("the responder received no request")
		return nil
	}
}

// reply is the answer of a well-behaved responder: "re:" and the payload,
// to the Response Topic, with the request's Correlation Data.
func reply(req *mqtt.Publish) *mqtt.Publish {
	m := &mqtt.Publish{Topic: req.Props.ResponseTopic, Payload: append([]byte("re:"), req.Payload...)}
	if req.Props.Has(mqtt.PropCorrelationData) {
		m.Props.SetCorrelationData(req.Props.CorrelationData)
	}
	return m
}

func echo(req *mqtt.Publish) []*mqtt.Publish { return []*mqtt.Publish{reply(req)} }

// randomCorr is the Correlation Data mqpub -e makes up.
var randomCorr = regexp.MustCompile(`^[A-Za-z0-9]{16}$`)

// mqpub -e publishes the request with the Response Topic and a random
// Correlation Data over MQTT 5 (no -V needed), prints the response like
// mqsub (plain, -v, -F, -N, --json) and exits 0, at every QoS.
func TestRequestResponse(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tg target) {
		rs := startResponder(t, tg, "svc/echo", echo)
		tests := []struct {
			name string
			args []string
			want string
		}{
			{"plain", []string{"-m", "hello"}, "re:hello\n"},
			{"-V 5", []string{"-V", "5", "-m", "hello"}, "re:hello\n"},
			{"-v", []string{"-m", "hello", "-v"}, "resp/-v re:hello\n"},
			{"-F", []string{"-m", "hello", "-F", "%t %p"}, "resp/-F re:hello\n"},
			{"-F props", []string{"-m", "hello", "-F", "%q %r %l"}, "0 0 8\n"},
			{"-N", []string{"-m", "hello", "-N"}, "re:hello"},
			{"-n", []string{"-n", "-v"}, "resp/-n re:\n"},
			{"q1", []string{"-m", "hello", "-q", "1", "-F", "%q %p"}, "1 re:hello\n"},
			{"q2", []string{"-m", "hello", "-q", "2", "-F", "%q %p"}, "1 re:hello\n"}, // the responder sends at QoS 1
			{"-s", []string{"-s", "-F", "%p"}, "re:from stdin\n"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				tl := &tool{name: "mqpub", stdin: "from stdin"}
				args := tg.args(append([]string{"-t", "svc/echo", "-e", "resp/" + tc.name}, tc.args...)...)
				r := tl.run(testCtx(t), args...)
				if r.code != 0 || r.stdout != tc.want || r.stderr != "" {
					t.Errorf("mqpub %q: exit %d, stdout %q, stderr %q; want 0 and %q", args, r.code, r.stdout, r.stderr, tc.want)
				}
				req := rs.request(t)
				if req.Props.ResponseTopic != "resp/"+tc.name || !randomCorr.Match(req.Props.CorrelationData) {
					t.Errorf("request response-topic %q correlation-data %q; want resp/%s and 16 letters or digits",
						req.Props.ResponseTopic, req.Props.CorrelationData, tc.name)
				}
			})
		}

		// --json: one object, as mqsub --json, with the echoed correlation data.
		r := pub(t, tg.args("-t", "svc/echo", "-e", "resp/json", "-m", "hi", "--json")...)
		req := rs.request(t)
		var got struct {
			Topic      string
			Payload    string
			Properties map[string]any
		}
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 || got.Topic != "resp/json" || got.Payload != "re:hi" ||
			got.Properties["correlation-data"] != string(req.Props.CorrelationData) || strings.Count(r.stdout, "\n") != 1 {
			t.Errorf("--json: exit %d, stdout %q (%v), stderr %q", r.code, r.stdout, err, r.stderr)
		}
	})
}

// A subscriber to the request topic sees the Response Topic (%R) and the
// Correlation Data (%D): a random one, or the one given with -D, which
// the response must then carry.
func TestRequestProperties(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tg target) {
		startResponder(t, tg, "svc/props", echo)
		wait := bgSub(t, tg.args("-V", "5", "-t", "svc/props", "-F", "%R %D", "-C", "2")...)
		r := pub(t, tg.args("-t", "svc/props", "-e", "resp/props", "-m", "one")...)
		if r.code != 0 || r.stdout != "re:one\n" {
			t.Errorf("random correlation data: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		r = pub(t, tg.args("-t", "svc/props", "-e", "resp/props", "-m", "two", "-D", "publish", "correlation-data", "job-42", "-F", "%D %p")...)
		if r.code != 0 || r.stdout != "job-42 re:two\n" {
			t.Errorf("-D correlation-data: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		s := wait()
		lines := strings.Split(messages(s.stdout), "\n")
		if s.code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "resp/props ") ||
			!randomCorr.MatchString(strings.TrimPrefix(lines[0], "resp/props ")) || lines[1] != "resp/props job-42" {
			t.Errorf("mqsub -F '%%R %%D': exit %d, output %q; want the response topic and the correlation data of each request", s.code, lines)
		}
	})
}

// Messages on the response topic that are not the response are skipped:
// one with another Correlation Data (sent just before the real response),
// a retained one and a lasting session's backlog (older than the
// request). A response without any Correlation Data is taken: many
// responders do not echo it.
func TestRequestSkipsOtherMessages(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tg target) {
		mustPub(t, tg.args("-t", "resp/strays", "-r", "-m", "stale retained")...)
		startResponder(t, tg, "svc/strays", func(req *mqtt.Publish) []*mqtt.Publish {
			stray := &mqtt.Publish{Topic: req.Props.ResponseTopic, Payload: []byte("not for you")}
			stray.Props.SetCorrelationData([]byte("someone else"))
			return []*mqtt.Publish{stray, reply(req)}
		})
		r := pub(t, tg.args("-t", "svc/strays", "-e", "resp/strays", "-m", "hi", "-v", "-q", "1")...)
		if r.code != 0 || r.stdout != "resp/strays re:hi\n" {
			t.Errorf("exit %d, stdout %q, stderr %q; want only the response", r.code, r.stdout, r.stderr)
		}

		startResponder(t, tg, "svc/nocorr", func(req *mqtt.Publish) []*mqtt.Publish {
			return []*mqtt.Publish{{Topic: req.Props.ResponseTopic, Payload: []byte("anonymous")}}
		})
		r = pub(t, tg.args("-t", "svc/nocorr", "-e", "resp/nocorr", "-m", "hi")...)
		if r.code != 0 || r.stdout != "anonymous\n" {
			t.Errorf("no correlation data: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}

		// A lasting session's backlog on the response topic, delivered
		// before the request is published, is not the response, even
		// without Correlation Data.
		if r := sub(t, tg.args("-V", "5", "-t", "resp/backlog", "-q", "1", "-c", "-i", "rr-backlog", "-E")...); r.code != 0 {
			t.Fatalf("mqsub -E: exit %d, stderr %q", r.code, r.stderr)
		}
		mustPub(t, tg.args("-t", "resp/backlog", "-q", "1", "-m", "old")...)
		r = pub(t, tg.args("-t", "svc/nocorr", "-e", "resp/backlog", "-q", "1", "-c", "-i", "rr-backlog", "-m", "hi")...)
		if r.code != 0 || r.stdout != "anonymous\n" {
			t.Errorf("backlog: exit %d, stdout %q, stderr %q; want the response, not the backlog", r.code, r.stdout, r.stderr)
		}
	})
}

// Without a response, -W ends the wait with mosquitto_rr's "Timed out"
// and status 27.
func TestRequestTimeout(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tg target) {
		r := pub(t, tg.args("-t", "svc/nobody", "-e", "resp/timeout", "-m", "hi", "-W", "0.3")...)
		if r.code != 27 || r.stderr != "Timed out\n" || r.stdout != "" {
			t.Errorf("exit %d, stdout %q, stderr %q; want 27 and Timed out", r.code, r.stdout, r.stderr)
		}
	})
}

// A QoS 1 request that reaches no subscriber (PUBACK 0x10) is reported;
// Ctrl-C before the response exits 1, after removing the response
// subscription from a lasting session.
func TestRequestNoSubscribersAndInterrupt(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tg target) {
		tl := &tool{name: "mqpub"}
		warned := tl.errb.when("the broker says no one is subscribed to 'svc/none'")
		ctx, cancel := context.WithCancel(testCtx(t))
		defer cancel()
		done := make(chan result, 1)
		go func() {
			done <- tl.run(ctx, tg.args("-t", "svc/none", "-e", "resp/none", "-m", "hi", "-q", "1", "-c", "-i", "rr-interrupt")...)
		}()
		select {
		case <-warned:
		case r := <-done:
			t.Fatalf("mqpub ended: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		case <-time.After(10 * time.Second):
			t.Fatalf("no warning: stderr %q", tl.errb.String())
		}
		cancel()
		r := <-done
		if r.code != 1 || !strings.HasSuffix(r.stderr, "\nError: interrupted before the response arrived.\n") || r.stdout != "" {
			t.Errorf("exit %d, stdout %q, stderr %q; want 1 and interrupted", r.code, r.stdout, r.stderr)
		}
		// The session has no subscription left: a message on the response
		// topic is not kept for it (it would come before the marker).
		mustPub(t, tg.args("-t", "resp/none", "-q", "1", "-m", "late")...)
		wait := bgSub(t, tg.args("-t", "marker", "-c", "-i", "rr-interrupt", "-q", "1", "-C", "1")...)
		mustPub(t, tg.args("-t", "marker", "-q", "1", "-m", "marker")...)
		if r := wait(); r.code != 0 || messages(r.stdout) != "marker\n" {
			t.Errorf("the session kept the response subscription: exit %d, output %q", r.code, messages(r.stdout))
		}
	})
}

// The broker's refusals end the request with the reason code: of the
// SUBACK for the response topic, of the PUBACK for the request.
func TestRequestRefused(t *testing.T) {
	b := clienttest.StartBroker(t, broker.Options{
		Authorizer: broker.AuthorizerFunc(func(_ *broker.ClientInfo, topic string, acc broker.Access) bool {
			return !(topic == "resp/denied" && acc == broker.AccessSubscribe) && !(topic == "svc/denied" && acc == broker.AccessWrite)
		}),
	})
	tg := splitAddr(t, b.Addr("tcp").String())
	r := pub(t, tg.args("-t", "svc/x", "-e", "resp/denied", "-m", "hi", "-W", "10")...)
	if r.code != 135 || !strings.Contains(r.stderr, "Error: subscription to 'resp/denied' refused: not authorized (0x87 = 135)") {
		t.Errorf("SUBACK refusal: exit %d, stderr %q", r.code, r.stderr)
	}
	r = pub(t, tg.args("-t", "svc/denied", "-e", "resp/ok", "-m", "hi", "-q", "1", "-W", "10")...)
	if r.code != 135 || !strings.Contains(r.stderr, "publish refused by the broker (PUBACK): not authorized (0x87 = 135)") {
		t.Errorf("PUBACK refusal: exit %d, stderr %q", r.code, r.stderr)
	}
}

// -e needs MQTT 5 and one request: the conflicts are usage errors.
func TestRequestUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-t", "a", "-e", "r", "-m", "x", "-V", "311"}, "Error: -e needs MQTT 5; use -V 5 (or drop -V)."},
		{[]string{"-t", "a", "-e", "r", "-m", "x", "-V", "31"}, "Error: -e needs MQTT 5"},
		{[]string{"-t", "a", "-e", "r/#", "-m", "x"}, "Error: Invalid response topic 'r/#', does it contain '+' or '#'?"},
		{[]string{"-t", "a", "-e", "", "-m", "x"}, "Invalid response topic ''"},
		{[]string{"-t", "a", "-e", "$share/g/r", "-m", "x"}, "it cannot start with $share/"},
		{[]string{"-t", "a", "-e", "r"}, "Error: All of topic, message, and response topic must be supplied."},
		{[]string{"-e", "r", "-m", "x"}, "All of topic, message, and response topic"},
		{[]string{"-t", "a", "-e", "r", "-l"}, "Error: -e cannot be used with -l, -r, --repeat or --repeat-delay"},
		{[]string{"-t", "a", "-e", "r", "-m", "x", "-r"}, "-e cannot be used with"},
		{[]string{"-t", "a", "-e", "r", "-m", "x", "--repeat", "2"}, "-e cannot be used with"},
		{[]string{"-t", "a", "-e", "r", "-m", "x", "--repeat-delay", "1"}, "-e cannot be used with"},
		{[]string{"-e", "r", "--ping"}, "Error: -e and --ping cannot be used together."},
		{[]string{"-t", "a", "-e", "r", "-m", "x", "-W", "0"}, `Error: Invalid timeout "0".`},
		{[]string{"-t", "a", "-e", "r", "-m", "x", "-F", "%y"}, "Error: Invalid format specifier 'y'."},
		{[]string{"-t", "a", "-e", "r", "-m", "x", "-F", "%t", "--json"}, "--json and -F cannot be used together"},
		{[]string{"-t", "a", "-e", "r", "-m", "x", "-D", "publish", "response-topic", "other"}, "-e and -D publish response-topic cannot be used together"},
		{[]string{"-t", "a", "-m", "x", "-v"}, "Error: -v, -N, -F, --pretty and --json can only be used with -e"},
		{[]string{"-t", "a", "-m", "x", "--json"}, "can only be used with -e"},
		{[]string{"-t", "a", "-m", "x", "-W", "1"}, "Error: -W can only be used with --ping or -e."},
	}
	for _, tc := range tests {
		r := pub(t, append([]string{"-p", "1"}, tc.args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "Use 'mqpub --help'") || r.stdout != "" {
			t.Errorf("mqpub %q: exit %d, stderr %q; want a usage error with %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// --help shows -e and the options printing the response in their own
// category, the request/response usage line, an example and the exit
// statuses.
func TestRequestHelp(t *testing.T) {
	r := (&tool{name: "mqpub"}).run(testCtx(t), "--help")
	sec := section(r.stdout, "   Request/response (-e, MQTT 5):")
	for _, f := range []string{"--response-topic TOPIC, -e TOPIC", "--verbose, -v", "--no-eol, -N", "--format value, -F value", "--pretty", "--json"} {
		if !strings.Contains(sec, f) {
			t.Errorf("%q not under Request/response:\n%s", f, sec)
		}
	}
	if !strings.Contains(r.stdout, "-t topic -e response-topic {-m message | -f file | -s | -n}") || !strings.Contains(r.stdout, "mqpub -t svc/time -e reply/me") {
		t.Errorf("no -e usage line or example:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "mqpub -e -W: no response in time") || !strings.Contains(r.stdout, "mqpub -e: interrupted") {
		t.Errorf("EXIT STATUS does not mention mqpub -e:\n%s", r.stdout)
	}
}
