package clicmd

import (
	"context"
	"crypto/tls"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
)

var (
	replyLine = regexp.MustCompile(`(?m)^reply from (\S+): seq=(\d+) qos=(\d) time=(\d+\.\d{3}) ms$`)
	rttLine   = regexp.MustCompile(`(?m)^rtt min/avg/max/mdev = (\d+\.\d{3})/(\d+\.\d{3})/(\d+\.\d{3})/(\d+\.\d{3}) ms$`)
	statsLine = regexp.MustCompile(`(?m)^(\d+) sent, (\d+) received, ([0-9.]+)% loss, time (\d+) ms$`)
)

// checkPingOK checks a run in which every one of n probes came back: n
// replies from label, in any order, each once, at the received QoS;
// the statistics; min <= avg <= max.
func checkPingOK(t *testing.T, r result, n int, label string, qos string) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	seen := map[string]bool{}
	for _, m := range replyLine.FindAllStringSubmatch(r.stdout, -1) {
		if m[1] != label || m[3] != qos || seen[m[2]] {
			t.Errorf("reply %q; want from %s at qos %s, once per seq", m[0], label, qos)
		}
		seen[m[2]] = true
	}
	for i := 1; i <= n; i++ {
		if !seen[strconv.Itoa(i)] {
			t.Errorf("no reply for seq=%d:\n%s", i, r.stdout)
		}
	}
	if len(seen) != n {
		t.Errorf("%d replies, want %d:\n%s", len(seen), n, r.stdout)
	}
	if !strings.Contains(r.stdout, "\n--- "+label+" mqtt ping statistics ---\n") {
		t.Errorf("no statistics header for %s:\n%s", label, r.stdout)
	}
	st := statsLine.FindStringSubmatch(r.stdout)
	if st == nil || st[1] != strconv.Itoa(n) || st[2] != strconv.Itoa(n) || st[3] != "0" {
		t.Errorf("statistics %q, want %d sent, %d received, 0%% loss:\n%s", st, n, n, r.stdout)
	}
	rtt := rttLine.FindStringSubmatch(r.stdout)
	if rtt == nil {
		t.Fatalf("no rtt line:\n%s", r.stdout)
	}
	var v [4]float64
	for i := range v {
		v[i], _ = strconv.ParseFloat(rtt[i+1], 64)
	}
	// mdev (a standard deviation) is at most max-min; each figure is
	// rounded to 0.001 ms, so allow for that.
	if !(v[0] <= v[1] && v[1] <= v[2]) || v[3] < 0 || v[3] > v[2]-v[0]+0.0015 {
		t.Errorf("rtt min/avg/max/mdev = %v: not ordered or mdev out of range", v)
	}
}

// Every probe comes back through both brokers, for each protocol version
// and QoS; the reply lines carry the QoS of the echo.
func TestPing(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tg target) {
		for _, v := range []string{"31", "311", "5"} {
			for _, q := range []string{"0", "1", "2"} {
				t.Run("V"+v+"/q"+q, func(t *testing.T) {
					r := pub(t, tg.args("--ping", "-V", v, "-q", q, "--repeat", "3", "--repeat-delay", "0.01", "-W", "10")...)
					checkPingOK(t, r, 3, tg.host+":"+tg.port, q)
					if !strings.HasPrefix(r.stdout, "PING "+tg.host+":"+tg.port+" topic mqkit/ping/") {
						t.Errorf("header: %q", r.stdout)
					}
				})
			}
		}
	})
}

// Without --repeat, --ping sends five probes one second apart.
func TestPingDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 4 s")
	}
	b := clienttest.StartBroker(t, broker.Options{})
	tg := splitAddr(t, b.Addr("tcp").String())
	start := time.Now()
	r := pub(t, tg.args("--ping", "-t", "ping/defaults")...)
	checkPingOK(t, r, 5, tg.host+":"+tg.port, "0")
	if d := time.Since(start); d < 4*time.Second {
		t.Errorf("5 probes took %v; want at least 4 s (one a second)", d)
	}
	if !strings.Contains(r.stdout, "PING "+tg.host+":"+tg.port+" topic ping/defaults qos=0: 5 probes, every 1 s, lost after 2 s\n") {
		t.Errorf("header:\n%s", r.stdout)
	}
}

// --ping works over WebSocket, TLS and a unix socket; the output names the
// URL or the socket used.
func TestPingTransports(t *testing.T) {
	certs := clienttest.NewTLSFiles(t)
	pair, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "mq.sock")
	b := clienttest.StartBroker(t, broker.Options{Listeners: []broker.ListenerConfig{
		{Name: "ws", Addr: "127.0.0.1:0", WebSocket: true, WSPath: "/mqtt"},
		{Name: "tls", Addr: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{pair}}},
		{Name: "unix", Network: "unix", Addr: sock},
	}})
	tests := []struct {
		name, label string
		args        []string
	}{
		{"ws", "ws://" + b.Addr("ws").String() + "/mqtt", []string{"-L", "ws://" + b.Addr("ws").String() + "/mqtt"}},
		{"tls", "mqtts://" + b.Addr("tls").String(), []string{"-L", "mqtts://" + b.Addr("tls").String(), "--cafile", certs.CACert}},
		{"unix", "unix:" + sock, []string{"--unix", sock}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := pub(t, append(tc.args, "--ping", "-q", "1", "-V", "5", "--repeat", "2", "--repeat-delay", "0", "-W", "10")...)
			checkPingOK(t, r, 2, tc.label, "1")
		})
	}
}

// A probe the broker does not send back (here the ACL denies reading the
// second one) is reported lost after -W, counted in the loss and makes the
// exit status 1; the others are replied to (-W 3 leaves them time on a
// busy machine).
func TestPingLost(t *testing.T) {
	var reads atomic.Int32
	b := clienttest.StartBroker(t, broker.Options{
		Authorizer: broker.AuthorizerFunc(func(_ *broker.ClientInfo, topic string, acc broker.Access) bool {
			switch {
			case acc != broker.AccessRead:
				return true
			case topic == "ping/none":
				return false
			case topic == "ping/lossy":
				return reads.Add(1) != 2 // the broker checks each delivery once
			}
			return true
		}),
	})
	tg := splitAddr(t, b.Addr("tcp").String())
	label := tg.host + ":" + tg.port

	r := pub(t, tg.args("--ping", "-t", "ping/lossy", "-q", "1", "--repeat", "3", "--repeat-delay", "0", "-W", "3")...)
	if r.code != 1 {
		t.Errorf("exit %d, want 1\nstderr: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"reply from " + label + ": seq=1 qos=1 time=",
		"reply from " + label + ": seq=3 qos=1 time=",
		"\nseq=2 lost (no echo within 3 s)\n",
		"\n3 sent, 2 received, 33.3333% loss, time ",
		"\nrtt min/avg/max/mdev = ",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "seq=2 qos") {
		t.Errorf("seq=2 both lost and replied to:\n%s", r.stdout)
	}

	// Nothing comes back: 100% loss and no rtt line.
	r = pub(t, tg.args("--ping", "-t", "ping/none", "-V", "5", "-q", "2", "--repeat", "2", "--repeat-delay", "0", "-W", "0.2")...)
	if r.code != 1 || !strings.Contains(r.stdout, "\nseq=1 lost (no echo within 0.2 s)\nseq=2 lost (no echo within 0.2 s)\n") ||
		!strings.Contains(r.stdout, "\n2 sent, 0 received, 100% loss, time ") || strings.Contains(r.stdout, "rtt ") ||
		strings.Contains(r.stdout, "reply from") {
		t.Errorf("exit %d, output:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

// A refused subscription ends --ping at once with the SUBACK's exit code;
// a v5 publish refused in PUBACK is a lost probe with the reason, and the
// exit status is the reason code, as for a normal mqpub.
func TestPingRefused(t *testing.T) {
	b := clienttest.StartBroker(t, broker.Options{
		Authorizer: broker.AuthorizerFunc(func(_ *broker.ClientInfo, topic string, acc broker.Access) bool {
			return !(topic == "ping/nosub" && acc == broker.AccessSubscribe) && !(topic == "ping/nopub" && acc == broker.AccessWrite)
		}),
	})
	tg := splitAddr(t, b.Addr("tcp").String())
	r := pub(t, tg.args("--ping", "-t", "ping/nosub", "--repeat", "1")...)
	if r.code != 128 || !strings.Contains(r.stderr, "Error: subscription to 'ping/nosub' refused") || strings.Contains(r.stdout, "statistics") {
		t.Errorf("v311 SUBACK failure: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	r = pub(t, tg.args("--ping", "-V", "5", "-t", "ping/nosub", "--repeat", "1")...)
	if r.code != 135 || !strings.Contains(r.stderr, "not authorized (0x87 = 135)") {
		t.Errorf("v5 SUBACK refusal: exit %d\nstderr: %s", r.code, r.stderr)
	}
	r = pub(t, tg.args("--ping", "-V", "5", "-q", "1", "-t", "ping/nopub", "--repeat", "1", "-W", "10")...)
	if r.code != 135 || !strings.Contains(r.stdout, "\nseq=1 lost (refused in PUBACK: not authorized (0x87 = 135))\n") ||
		!strings.Contains(r.stdout, "\n1 sent, 0 received, 100% loss") || !strings.Contains(r.stderr, "publish refused by the broker (PUBACK)") {
		t.Errorf("v5 PUBACK refusal: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

// The -d trace shows the subscription, the probes and their echoes, and
// QoS 2 flows completed both ways before the DISCONNECT.
func TestPingTrace(t *testing.T) {
	b := clienttest.StartBroker(t, broker.Options{})
	tg := splitAddr(t, b.Addr("tcp").String())
	r := pub(t, tg.args("--ping", "-d", "-i", "pinger", "-q", "2", "--repeat", "2", "--repeat-delay", "0", "-W", "10")...)
	checkPingOK(t, r, 2, tg.host+":"+tg.port, "2")
	for _, want := range []string{
		"Client pinger sending SUBSCRIBE (Mid: 1, Topic: mqkit/ping/pinger, QoS: 2, Options: 0x00)\n",
		"Subscribed (mid: 1): 2\n",
		"Client pinger sending PUBLISH (d0, q2, r0, m2, 'mqkit/ping/pinger'",
		"Client pinger received PUBLISH (d0, q2, r0, m",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("trace lacks %q:\n%s", want, r.stdout)
		}
	}
	// Two probes out and two echoes in, each with its full QoS 2 exchange.
	for _, pkt := range []string{"sending PUBREL", "received PUBCOMP", "received PUBREL", "sending PUBCOMP"} {
		if n := strings.Count(r.stdout, "Client pinger "+pkt); n != 2 {
			t.Errorf("%d × %q, want 2:\n%s", n, pkt, r.stdout)
		}
	}
	if last := r.stdout[strings.LastIndex(r.stdout, "Client pinger "):]; !strings.HasPrefix(last, "Client pinger sending DISCONNECT") {
		t.Errorf("last packet: %q, want the DISCONNECT", last)
	}
}

// Ctrl-C stops the probes and prints the statistics so far; with every
// probe sent answered the status is 0. The long --repeat-delay keeps a
// second probe from being in flight when the interrupt comes.
func TestPingInterrupt(t *testing.T) {
	b := clienttest.StartBroker(t, broker.Options{})
	tg := splitAddr(t, b.Addr("tcp").String())
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	tl := &tool{name: "mqpub"}
	replied := tl.out.when("seq=1 qos=0")
	done := make(chan result, 1)
	go func() { done <- tl.run(ctx, tg.args("--ping", "--repeat", "100", "--repeat-delay", "60")...) }()
	select {
	case <-replied:
	case r := <-done:
		t.Fatalf("ended before the first reply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	case <-time.After(10 * time.Second):
		t.Fatalf("no reply:\n%s\n%s", tl.out.String(), tl.errb.String())
	}
	cancel()
	r := waitResult(t, done, tl)
	if r.code != 0 || !strings.Contains(r.stdout, "\n1 sent, 1 received, 0% loss, time ") || r.stderr != "" {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

// With a session that outlives the connection (-c), --ping removes its
// probe subscription before leaving, so the session does not collect
// later messages on the probe topic.
func TestPingDurableSessionUnsubscribes(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tg target) {
		for _, v := range []string{"311", "5"} {
			t.Run("V"+v, func(t *testing.T) {
				id := "ping-durable-" + v
				r := pub(t, tg.args("--ping", "-V", v, "-c", "-i", id, "-q", "1", "--repeat", "1", "-W", "10")...)
				checkPingOK(t, r, 1, tg.host+":"+tg.port, "1")
				if !strings.Contains(r.stdout, " topic mqkit/ping/"+id+" ") {
					t.Fatalf("probe topic not named after the client id:\n%s", r.stdout)
				}
				mustPub(t, tg.args("-t", "mqkit/ping/"+id, "-m", "later", "-q", "1")...)
				r = sub(t, tg.args("-V", v, "-c", "-i", id, "-q", "1", "-t", "unrelated", "-W", "0.3")...)
				if r.code != 27 || r.stdout != "" {
					t.Errorf("the session kept the probe subscription: exit %d, output %q", r.code, r.stdout)
				}
			})
		}
	})
}

// Messages on the probe topic that are not this run's probes (another
// nonce, another format) are ignored, so they cannot pass for echoes.
func TestPingIgnoresStrayMessages(t *testing.T) {
	pg := &pinger{nonce: "abc", wake: make(chan struct{}, 1)}
	for _, payload := range []string{"mqkit-ping xyz 1", "mqkit-ping abc", "mqkit-ping abc x", "hello", "mqkit-ping abc 1 2"} {
		pg.onMessage(&mqtt.Publish{Topic: "t", Payload: []byte(payload)})
	}
	pg.onMessage(&mqtt.Publish{Topic: "t", Payload: []byte("mqkit-ping abc 7"), QoS: 1})
	_, evs := pg.take()
	if len(evs) != 1 || evs[0].seq != 7 || evs[0].qos != 1 {
		t.Errorf("events %+v, want only seq 7", evs)
	}
}

func TestPingUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--ping", "-m", "x"}, "--ping cannot be used with -m, -f, -s, -l, -n or -r"},
		{[]string{"--ping", "-n"}, "--ping cannot be used with"},
		{[]string{"--ping", "-l"}, "--ping cannot be used with"},
		{[]string{"--ping", "-r"}, "--ping cannot be used with"},
		{[]string{"--ping", "-s"}, "--ping cannot be used with"},
		{[]string{"-t", "a", "-m", "x", "-W", "1"}, "-W can only be used with --ping"},
		{[]string{"--ping", "-t", "a/+"}, "Invalid publish topic 'a/+'"},
		{[]string{"--ping", "-t", "$share/g/t"}, "cannot start with $share/"},
		{[]string{"--ping", "-W", "0"}, `Error: Invalid timeout "0".`},
		{[]string{"--ping", "--repeat", "0"}, "Error: --repeat argument must be >0."},
		{[]string{"--ping", "--repeat-delay", "-1"}, "--repeat-delay argument must be"},
	}
	for _, tc := range tests {
		r := pub(t, append([]string{"-p", "1"}, tc.args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "Use 'mqpub --help'") {
			t.Errorf("mqpub %q: exit %d, stderr %q; want a usage error with %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

func TestParsePing(t *testing.T) {
	_, _, pc := parsed(t, "mqpub", []string{"--ping"}, nil)
	if !pc.ping || pc.repeat != 5 || pc.repeatDelay != 1 || pc.timeout != 2*time.Second || pc.topic != "" {
		t.Errorf("defaults: %+v", pc)
	}
	_, _, pc = parsed(t, "mqpub", []string{"--ping", "-t", "p/x", "--repeat", "9", "--repeat-delay", "0", "-W", "0.25", "-q", "2"}, nil)
	if pc.repeat != 9 || pc.repeatDelay != 0 || pc.timeout != 250*time.Millisecond || pc.topic != "p/x" || pc.qos != 2 {
		t.Errorf("given: %+v", pc)
	}
}

func TestRTTStats(t *testing.T) {
	var r rttStats
	for _, ms := range []float64{2, 4, 4, 4, 5, 5, 7, 9} {
		r.add(ms)
	}
	avg, mdev := r.avgMdev()
	if got := fmt.Sprintf("%.3f/%.3f/%.3f/%.3f", r.min, avg, r.max, mdev); got != "2.000/5.000/9.000/2.000" {
		t.Errorf("min/avg/max/mdev = %s", got)
	}
}
