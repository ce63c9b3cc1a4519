package brokercmd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// Twin tests: the same test body runs against mqbroker (in process, built
// from a mosquitto.conf text by the real command) and against mosquitto
// 2.0.11 started with the very same text, so that the reference is the
// reference broker and not our reading of it. The bodies speak raw bytes
// (wire below) and compare bytes and closes.
//
// The configuration names its first listener "listener {port} 127.0.0.1"
// ({port2} for a second one): mosquitto gets free ports, mqbroker port 0.
// When mosquitto is not installed its half is skipped (it fails when
// CI=true, clienttest.RequireBinary).

// twinBroker is one of the two brokers under test.
type twinBroker struct {
	name  string // "mqbroker" or "mosquitto"
	ports []int  // the listeners' ports, in configuration order
	log   func() string
	pid   int // process to send SIGHUP to (reload)
}

// reload makes the broker re-read its password, ACL and TLS files
// (SIGHUP; mqbroker runs in this process). The caller waits for the
// effect it expects.
func (b *twinBroker) reload(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(b.pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

func (b *twinBroker) mosquitto() bool { return b.name == "mosquitto" }

func (b *twinBroker) addr() string { return b.addrN(0) }

func (b *twinBroker) addrN(i int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.ports[i]))
}

// twin runs body as two subtests, "mqbroker" and "mosquitto".
func twin(t *testing.T, conf string, body func(t *testing.T, b *twinBroker)) {
	t.Helper()
	t.Run("mqbroker", func(t *testing.T) {
		c := strings.ReplaceAll(strings.ReplaceAll(conf, "{port}", "0"), "{port2}", "0")
		logs := startTwinMqbroker(t, c)
		b := &twinBroker{name: "mqbroker", log: logs.String, pid: os.Getpid()}
		b.ports = bannerPorts(t, logs.String())
		body(t, b)
	})
	t.Run("mosquitto", func(t *testing.T) {
		m := clienttest.StartMosquitto(t, conf)
		b := &twinBroker{name: "mosquitto", ports: []int{m.Port}, log: m.Log, pid: m.PID}
		if m.Port2 != 0 {
			b.ports = append(b.ports, m.Port2)
		}
		body(t, b)
	})
}

// startTwinMqbroker runs the mqbroker command in process with the
// configuration text until the test ends, and returns its log once the
// banner is out (every listener bound).
func startTwinMqbroker(t *testing.T, conf string) *syncBuffer {
	t.Helper()
	path := writeFile(t, t.TempDir(), "mqbroker.conf", conf)
	var out, errb syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewApp(&out, &errb).RunContext(ctx, []string{"mqbroker", "-c", path}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(twinTimeout):
			t.Error("mqbroker did not stop")
		}
		if t.Failed() {
			t.Logf("mqbroker log:\n%s", errb.String())
		}
	})
	deadline := time.NewTimer(twinTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(errb.String(), " ready\n") || !strings.Contains(errb.String(), "listening on ") {
		select {
		case err := <-done:
			t.Fatalf("mqbroker stopped: %v\n%s", err, errb.String())
		case <-deadline.C:
			t.Fatalf("no banner within %v:\n%s", twinTimeout, errb.String())
		case <-tick.C:
		}
	}
	return &errb
}

// bannerPorts returns the ports of mqbroker's listeners from its banner
// ("listening on mqtt://127.0.0.1:PORT", mqtts://, ws://, wss://).
func bannerPorts(t *testing.T, banner string) []int {
	t.Helper()
	var ports []int
	for _, line := range strings.Split(banner, "\n") {
		i := strings.Index(line, "listening on ")
		if i < 0 {
			continue
		}
		u := strings.Fields(line[i+len("listening on "):])[0]
		u = u[strings.Index(u, "://")+3:]
		if j := strings.IndexByte(u, '/'); j >= 0 {
			u = u[:j]
		}
		_, p, err := net.SplitHostPort(u)
		if err != nil {
			t.Fatalf("banner line %q: %v", line, err)
		}
		n, _ := strconv.Atoi(p)
		ports = append(ports, n)
	}
	if len(ports) == 0 {
		t.Fatalf("no listener in the banner:\n%s", banner)
	}
	return ports
}

// twinTimeout bounds every wait of a twin test; quiet is how long a body
// waits for something that must not happen (after a barrier).
const (
	twinTimeout = 5 * time.Second
	quiet       = 300 * time.Millisecond
)

// wire is a raw MQTT connection: it sends bytes or encoded packets and
// reads whole packets as bytes (framing only), so tests can compare the
// exact bytes two brokers send, including ones our codec would refuse.
type wire struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
	v  mqtt.Version
}

func dialWire(t *testing.T, addr string, v mqtt.Version) *wire {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, twinTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &wire{t: t, nc: nc, br: bufio.NewReader(nc), v: v}
}

func (w *wire) write(b []byte) {
	w.t.Helper()
	_ = w.nc.SetWriteDeadline(time.Now().Add(twinTimeout))
	if _, err := w.nc.Write(b); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// encode returns p's bytes for the connection's version.
func (w *wire) encode(p mqtt.Packet) []byte {
	w.t.Helper()
	b, err := mqtt.Append(nil, p, w.v)
	if err != nil {
		w.t.Fatalf("encode %s: %v", p.Type(), err)
	}
	return b
}

func (w *wire) send(p mqtt.Packet) { w.t.Helper(); w.write(w.encode(p)) }

// frame reads one packet's bytes within d.
func (w *wire) frame(d time.Duration) ([]byte, error) {
	_ = w.nc.SetReadDeadline(time.Now().Add(d))
	h, err := w.br.ReadByte()
	if err != nil {
		return nil, err
	}
	out := []byte{h}
	n, mul := 0, 1
	for i := 0; ; i++ {
		b, err := w.br.ReadByte()
		if err != nil {
			return nil, io.ErrUnexpectedEOF
		}
		out = append(out, b)
		n += int(b&127) * mul
		mul *= 128
		if b&128 == 0 {
			break
		}
		if i == 3 {
			return nil, errors.New("malformed remaining length")
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(w.br, body); err != nil {
		return nil, io.ErrUnexpectedEOF
	}
	return append(out, body...), nil
}

// next returns the next packet's bytes; the test fails if none comes.
func (w *wire) next() []byte {
	w.t.Helper()
	b, err := w.frame(twinTimeout)
	if err != nil {
		w.t.Fatalf("waiting for a packet: %v", err)
	}
	return b
}

// decode decodes a frame with the connection's version.
func (w *wire) decode(b []byte) mqtt.Packet {
	w.t.Helper()
	r := mqtt.NewReader(bytes.NewReader(b), 0)
	r.Version = w.v
	p, err := r.ReadPacket()
	if err != nil {
		w.t.Fatalf("decode % x: %v", b, err)
	}
	return p
}

// packet returns the next packet, decoded.
func (w *wire) packet() mqtt.Packet { w.t.Helper(); return w.decode(w.next()) }

// closed waits until the broker closes the connection and returns the
// packets it sent before (a v5 DISCONNECT, say) as bytes.
func (w *wire) closed() [][]byte {
	w.t.Helper()
	var got [][]byte
	for {
		b, err := w.frame(twinTimeout)
		if err == nil {
			got = append(got, b)
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			w.t.Fatalf("connection not closed within %v (received % x)", twinTimeout, got)
		}
		return got
	}
}

// sync sends PINGREQ and returns the packets received before PINGRESP:
// what the broker sent before it handled the PINGREQ.
func (w *wire) sync() [][]byte {
	w.t.Helper()
	w.write([]byte{0xc0, 0})
	var got [][]byte
	for {
		b := w.next()
		if b[0] == 0xd0 {
			return got
		}
		got = append(got, b)
	}
}

// nothing checks that nothing arrives within quiet (after the caller's
// barrier, if any) and that the connection is still open.
func (w *wire) nothing() {
	w.t.Helper()
	if b, err := w.frame(quiet); err == nil {
		w.t.Fatalf("unexpected packet % x", b)
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		w.t.Fatalf("connection lost: %v", err)
	}
}

// connect sends CONNECT and returns the CONNACK bytes.
func (w *wire) connect(p *mqtt.Connect) []byte {
	w.t.Helper()
	w.send(p)
	b := w.next()
	if b[0] != 0x20 {
		w.t.Fatalf("want CONNACK, got % x", b)
	}
	return b
}

// login connects a client that must be accepted.
func twinLogin(t *testing.T, b *twinBroker, v mqtt.Version, id string, clean bool) *wire {
	t.Helper()
	w := dialWire(t, b.addr(), v)
	ack := w.connect(&mqtt.Connect{Version: v, ClientID: id, CleanStart: clean, KeepAlive: 60})
	if ack[3] != 0 {
		t.Fatalf("%s: CONNACK % x", id, ack)
	}
	return w
}

// subscribe subscribes to filter and checks the SUBACK grants qos.
func (w *wire) subscribe(filter string, qos mqtt.QoS) {
	w.t.Helper()
	w.send(&mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: filter, QoS: qos}}})
	p, ok := w.packet().(*mqtt.Suback)
	if !ok || len(p.Codes) != 1 || p.Codes[0] != mqtt.ReasonCode(qos) {
		w.t.Fatalf("SUBACK for %q: %v", filter, p)
	}
}

// hexs formats frames for messages.
func hexs(fs [][]byte) string {
	var sb strings.Builder
	for i, f := range fs {
		if i > 0 {
			sb.WriteString(" | ")
		}
		fmt.Fprintf(&sb, "% x", f)
	}
	return sb.String()
}

// ackBack completes the QoS flow of a PUBLISH received by w (QoS 1:
// PUBACK; QoS 2: PUBREC, the broker's PUBREL, PUBCOMP).
func (w *wire) ackBack(p *mqtt.Publish) {
	w.t.Helper()
	pid := []byte{byte(p.PacketID >> 8), byte(p.PacketID)}
	switch p.QoS {
	case 1:
		w.write(append([]byte{0x40, 2}, pid...))
	case 2:
		w.write(append([]byte{0x50, 2}, pid...))
		if got := w.next(); !bytes.Equal(got, append([]byte{0x62, 2}, pid...)) {
			w.t.Fatalf("want PUBREL for %d, got % x", p.PacketID, got)
		}
		w.write(append([]byte{0x70, 2}, pid...))
	}
}
