package auth

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// TestACLSubscribeTableMatchesMosquitto compares the ACL evaluator with
// mosquitto 2.0.11 on a generated table of ACL files x topic filters.
//
// For each ACL file, mosquitto runs with it; an admin publishes a retained
// message on every topic of a small universe; then an anonymous client
// subscribes to each filter in turn (a PINGREQ after each SUBSCRIBE is the
// barrier: mosquitto queues the retained messages before it reads the
// next packet) and records which topics each filter delivered. mosquitto
// never refuses a SUBSCRIBE and filters on read access at delivery, so
// what it delivers for filter F is what F may ever deliver. Our
// evaluator must agree exactly: nothing when it refuses F (Subscribe),
// otherwise the topics F matches that Read allows. So a refusal is only
// ever made for a filter that could deliver nothing (issue 11 item 2).
//
// The rule pool stays clear of the one documented difference (a pattern
// deny overlapping a client's own grant): pattern files have no topic
// rules for the anonymous client.
func TestACLSubscribeTableMatchesMosquitto(t *testing.T) {
	requireTool(t, "mosquitto")
	topics := aclUniverse()
	filters := aclFilters()
	files := aclFiles()
	refused, partial := 0, 0
	for i, body := range files {
		t.Run(fmt.Sprintf("acl%02d", i), func(t *testing.T) {
			acl := mustACL(t, body)
			got := mosquittoDeliveries(t, body, topics, filters)
			for _, f := range filters {
				var want []string
				allowed := acl.Allowed("", false, "me", f, Subscribe)
				if allowed {
					for _, tp := range topics {
						if mqtt.MatchTopic(f, tp) && acl.Allowed("", false, "me", tp, Read) {
							want = append(want, tp)
						}
					}
				} else {
					refused++
				}
				if allowed && len(want) > 0 && len(want) < countMatches(f, topics) {
					partial++
				}
				if !slices.Equal(got[f], want) {
					t.Errorf("ACL:\n%s\nfilter %q: mosquitto delivered %v; ours (subscribe allowed=%v) %v",
						body, f, got[f], allowed, want)
				}
			}
		})
	}
	if refused == 0 || partial == 0 {
		t.Errorf("%d refusals, %d partly filtered filters: the table does not exercise both rules", refused, partial)
	}
}

// aclUniverse: every topic of 1 to 3 levels over {a, b}, plus topics for
// the patterns (c/me/..., c/you/...) and a '$' topic.
func aclUniverse() []string {
	var out []string
	var gen func(prefix string, depth int)
	gen = func(prefix string, depth int) {
		for _, l := range []string{"a", "b"} {
			tp := l
			if prefix != "" {
				tp = prefix + "/" + l
			}
			out = append(out, tp)
			if depth < 3 {
				gen(tp, depth+1)
			}
		}
	}
	gen("", 1)
	out = append(out, "c/me/a", "c/me/b", "c/you/a", "$x/a")
	slices.Sort(out)
	return out
}

// aclFilters: every filter of 1 to 3 levels over {a, b, +}, the same
// prefixes (0 to 2 levels) followed by #, and a few around '$' and c/.
func aclFilters() []string {
	var out []string
	var gen func(prefix string, depth int)
	gen = func(prefix string, depth int) {
		for _, l := range []string{"a", "b", "+"} {
			f := l
			if prefix != "" {
				f = prefix + "/" + l
			}
			out = append(out, f)
			if depth < 3 {
				gen(f, depth+1)
			}
			if depth < 3 {
				out = append(out, f+"/#")
			}
		}
	}
	out = append(out, "#")
	gen("", 1)
	out = append(out, "$x/#", "$x/a", "+/me/#", "c/+/a", "c/me/+")
	return out
}

func countMatches(f string, topics []string) int {
	n := 0
	for _, tp := range topics {
		if mqtt.MatchTopic(f, tp) {
			n++
		}
	}
	return n
}

// aclFiles returns the ACL files of the table: fixed ones (the Paho
// suite's, the examples) and rule sets drawn with a fixed seed.
func aclFiles() []string {
	const admin = "\nuser admin\ntopic readwrite #\ntopic readwrite $x/#\ntopic readwrite c/#\n"
	files := []string{
		"topic deny a/b\ntopic readwrite #\n", // Paho: topic deny test/nosubscribe, topic readwrite #
		"topic deny a/#\ntopic readwrite #\n",
		"topic read a/b\n",
		"topic read a/#\ntopic deny a/b/#\n",
		"topic read $x/#\ntopic read +/+\n",
		"pattern read c/%c/#\npattern deny c/%c/a\n",
		"pattern read c/%c/b\npattern read +/me/a\n",
	}
	pool := []string{
		"topic read a/#", "topic read a/b", "topic read +/b", "topic read +/+/a", "topic readwrite #",
		"topic read b/#", "topic deny a/b", "topic deny a/#", "topic deny +/a", "topic deny b/+/b",
		"topic write a/#", "topic read $x/#", "topic deny a/b/#", "topic read a/+/b", "topic deny +/+",
		"topic read +", "topic deny b",
	}
	r := rand.New(rand.NewPCG(11, 2))
	for i := 0; i < 12; i++ {
		n := 1 + r.IntN(4)
		var lines []string
		for _, k := range r.Perm(len(pool))[:n] {
			lines = append(lines, pool[k])
		}
		files = append(files, strings.Join(lines, "\n")+"\n")
	}
	for i := range files {
		files[i] += admin
	}
	return files
}

// mosquittoDeliveries runs mosquitto with the ACL and returns, per
// filter, the sorted topics whose retained message it delivered to an
// anonymous client with id "me".
func mosquittoDeliveries(t *testing.T, aclText string, topics, filters []string) map[string][]string {
	t.Helper()
	dir := t.TempDir()
	aclPath := writeFile(t, dir, "acl", aclText)
	pw := filepath.Join(dir, "pw")
	if err := UpdatePasswordFile(pw, true, "admin", []byte("admin-pw")); err != nil {
		t.Fatal(err)
	}
	// set_tcp_nodelay: the many small round trips below would otherwise
	// wait for delayed ACKs (Nagle).
	port := startMosquitto(t, "allow_anonymous true", "password_file "+pw, "acl_file "+aclPath, "set_tcp_nodelay true")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	adm := dialACL(t, addr, &mqtt.Connect{Version: mqtt.V311, ClientID: "admin", CleanStart: true,
		HasUsername: true, Username: "admin", HasPassword: true, Password: []byte("admin-pw")})
	for _, tp := range topics {
		adm.send(&mqtt.Publish{Topic: tp, Payload: []byte("m"), Retain: true})
	}
	adm.ping(nil) // the retained messages are stored

	me := dialACL(t, addr, &mqtt.Connect{Version: mqtt.V311, ClientID: "me", CleanStart: true})
	out := map[string][]string{}
	for i, f := range filters {
		me.send(&mqtt.Subscribe{PacketID: uint16(i + 1), Subscriptions: []mqtt.Subscription{{Filter: f}}})
		var got []string
		me.ping(func(p mqtt.Packet) {
			if pub, ok := p.(*mqtt.Publish); ok {
				got = append(got, pub.Topic)
			}
		})
		slices.Sort(got)
		out[f] = got
	}
	return out
}

// aclClient is a minimal 3.1.1 client for the table.
type aclClient struct {
	t  *testing.T
	nc net.Conn
	r  *mqtt.Reader
}

func dialACL(t *testing.T, addr string, p *mqtt.Connect) *aclClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &aclClient{t: t, nc: nc, r: mqtt.NewReader(bufio.NewReader(nc), 0)}
	c.r.Version = mqtt.V311
	p.KeepAlive = 60
	c.send(p)
	if ack, ok := c.read().(*mqtt.Connack); !ok || ack.Code != mqtt.Success {
		t.Fatalf("%s: CONNACK %v", p.ClientID, ack)
	}
	return c
}

func (c *aclClient) send(p mqtt.Packet) {
	c.t.Helper()
	b, err := mqtt.Append(nil, p, mqtt.V311)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *aclClient) read() mqtt.Packet {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	p, err := c.r.ReadPacket()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if pub, ok := p.(*mqtt.Publish); ok {
		cp := *pub
		cp.Topic = strings.Clone(pub.Topic)
		return &cp
	}
	return p
}

// ping sends PINGREQ and hands every packet before PINGRESP to each.
func (c *aclClient) ping(each func(mqtt.Packet)) {
	c.t.Helper()
	c.send(&mqtt.Pingreq{})
	for {
		p := c.read()
		if _, ok := p.(*mqtt.Pingresp); ok {
			return
		}
		if each != nil {
			each(p)
		}
	}
}
