package brokercmd

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
	"github.com/mqkit/mqkit/internal/testtool"
)

// Reference tests: the same client script runs against mqbroker (the
// command, in process) and mosquitto 2.0.11 started from the same
// configuration, and their answers are compared. mosquitto is required
// under CI=true (clienttest.RequireBinary); without it the mqbroker half
// still runs.

// refTarget is one broker under test.
type refTarget struct {
	name  string
	ports []int         // listener ports, in configuration order
	hup   func()        // sends SIGHUP and returns once the files are reloaded
	log   func() string // what the broker logged so far
}

func (r refTarget) dial(i int) dialer {
	return tcpDialer("tcp", "127.0.0.1:"+strconv.Itoa(r.ports[i]), nil)
}

// refBrokers starts mqbroker and (when installed, always under CI)
// mosquitto from conf, whose listeners are written "listener {port}
// 127.0.0.1" and "listener {port2} 127.0.0.1".
func refBrokers(t *testing.T, conf string) []refTarget {
	t.Helper()
	mq := strings.NewReplacer("{port}", "0", "{port2}", "0").Replace(conf)
	_, logs := startMqbroker(t, mq)
	reloaded := "Reloaded password, ACL and certificate files."
	out := []refTarget{{
		name:  "mqbroker",
		ports: listenerPorts(t, logs),
		log:   logs.String,
		hup: func() {
			n := strings.Count(logs.String(), reloaded)
			if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			waitCount(t, logs.String, reloaded, n+1)
		},
	}}
	if !testtool.InCI() && testtool.Missing("mosquitto") != "" {
		t.Log("mosquitto not installed: the reference half of this test is skipped")
		return out
	}
	m := clienttest.StartMosquitto(t, conf)
	ports := []int{m.Port}
	if m.Port2 != 0 {
		ports = append(ports, m.Port2)
	}
	return append(out, refTarget{
		name:  "mosquitto",
		ports: ports,
		log:   m.Log,
		hup: func() {
			// mosquitto logs this line in its main loop right before it
			// re-reads the files, before it serves the next network event.
			n := strings.Count(m.Log(), "Reloading config.")
			if err := syscall.Kill(m.PID, syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			waitCount(t, m.Log, "Reloading config.", n+1)
		},
	})
}

// waitCount waits until text() contains sub n times.
func waitCount(t *testing.T, text func() string, sub string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(text(), sub) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%q not logged %d times:\n%s", sub, n, text())
		}
		<-time.After(10 * time.Millisecond)
	}
}

// rawDial opens a connection for a client script without sending
// anything.
func rawDial(t *testing.T, d dialer, v mqtt.Version) *conn {
	t.Helper()
	c := &conn{t: t, c: d(t), v: v}
	t.Cleanup(func() { c.c.Close() })
	c.r = mqtt.NewReader(c.c, 0)
	c.r.Version = v
	return c
}

// next returns the next packet, or nil when the connection was closed
// (or nothing came within wait).
func (c *conn) next(wait time.Duration) (mqtt.Packet, error) {
	c.c.SetReadDeadline(time.Now().Add(wait))
	p, err := c.r.ReadPacket()
	if err != nil {
		return nil, err
	}
	switch p := p.(type) { // the reader reuses these
	case *mqtt.Publish:
		cp := *p
		return &cp, nil
	case *mqtt.Ack:
		cp := *p
		return &cp, nil
	}
	return p, nil
}

// describe reads until the connection closes or is quiet for wait, and
// describes what came: packet traces, then "closed" or "open".
func (c *conn) describe(wait time.Duration) string {
	var out []string
	for {
		p, err := c.next(wait)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return strings.Join(append(out, "open"), " | ")
			}
			return strings.Join(append(out, "closed"), " | ")
		}
		switch p := p.(type) {
		case *mqtt.Disconnect:
			out = append(out, fmt.Sprintf("DISCONNECT %#x", byte(p.Code)))
		case *mqtt.Connack:
			out = append(out, fmt.Sprintf("CONNACK %#x sp%d", byte(p.Code), b2i(p.SessionPresent)))
		default:
			out = append(out, mqtt.Describe(p))
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// connectWith sends CONNECT and returns the CONNACK, or nil when the
// broker closed the connection instead.
func (c *conn) connectWith(p *mqtt.Connect) *mqtt.Connack {
	c.t.Helper()
	c.send(p)
	pk, err := c.next(10 * time.Second)
	if err != nil {
		return nil
	}
	ack, ok := pk.(*mqtt.Connack)
	if !ok {
		c.t.Fatalf("want CONNACK, got %s", mqtt.Describe(pk))
	}
	return ack
}
