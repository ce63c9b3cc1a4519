package bridge

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// cutProxy forwards MQTT connections to target packet by packet. Once
// armed, it cuts the first connection on which it sees a packet of type
// cutOn (in either direction): that packet is not forwarded and both
// sides are closed. Later connections are forwarded untouched.
type cutProxy struct {
	target string
	cutOn  mqtt.PacketType
	armed  atomic.Bool
	cuts   atomic.Int32
}

func startCutProxy(t *testing.T, target string, cutOn mqtt.PacketType) (*cutProxy, string) {
	p := &cutProxy{target: target, cutOn: cutOn}
	addr := clienttest.ServeTCP(t, func(c net.Conn) {
		up, err := net.Dial("tcp", target)
		if err != nil {
			return
		}
		var once sync.Once
		closeBoth := func() { once.Do(func() { c.Close(); up.Close() }) }
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); p.pipe(c, up, closeBoth) }()
		go func() { defer wg.Done(); p.pipe(up, c, closeBoth) }()
		wg.Wait()
		closeBoth()
	})
	return p, addr.String()
}

// pipe copies packets from src to dst until either side ends or the cut.
func (p *cutProxy) pipe(src, dst net.Conn, closeBoth func()) {
	defer closeBoth()
	r := bufio.NewReader(src)
	for {
		frame, err := readFrame(r)
		if err != nil {
			return
		}
		if mqtt.PacketType(frame[0]>>4) == p.cutOn && p.armed.CompareAndSwap(true, false) {
			p.cuts.Add(1)
			return
		}
		if _, err := dst.Write(frame); err != nil {
			return
		}
	}
}

// readFrame reads one MQTT packet: fixed header, remaining length, body.
func readFrame(r *bufio.Reader) ([]byte, error) {
	h, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	frame := []byte{h}
	n, mult := 0, 1
	for i := 0; ; i++ {
		b, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		frame = append(frame, b)
		n += int(b&0x7f) * mult
		mult *= 128
		if b&0x80 == 0 || i == 3 {
			break
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return append(frame, body...), nil
}

// TestBridgeQoS2AcrossReconnect: QoS 2 stays exactly once across a
// reconnection to a broker that kept the bridge's session (cleansession
// false). The connection is cut in the middle of a QoS 2 flow, once before
// the PUBREC reaches the bridge and once before its PUBREL reaches the
// remote broker; the bridge resumes the session and sends the PUBLISH
// (DUP, same packet identifier) or the PUBREL again. The remote
// subscriber gets every message once, in order. Run against mqbroker and
// mosquitto as the remote broker.
func TestBridgeQoS2AcrossReconnect(t *testing.T) {
	remotes := []struct {
		name  string
		start func(t *testing.T) string
	}{
		{"mqbroker", func(t *testing.T) string {
			return clienttest.StartBroker(t, broker.Options{}).Addr("tcp").String()
		}},
		{"mosquitto", func(t *testing.T) string {
			return clienttest.StartMosquitto(t, clienttest.AnonymousConf).Addr()
		}},
	}
	for _, rm := range remotes {
		for _, cutOn := range []mqtt.PacketType{mqtt.PUBREC, mqtt.PUBREL} {
			t.Run(rm.name+"/cut on "+cutOn.String(), func(t *testing.T) {
				ra := rm.start(t)
				local := clienttest.StartBroker(t, broker.Options{})
				proxy, pa := startCutProxy(t, ra, cutOn)
				rsub := subscriber(t, ra, "rsub", "q2/#", 2)
				lstate := subscriber(t, local.Addr("tcp").String(), "lstate", "st", 1)
				runBridge(t, local, Options{
					Addresses: []client.Endpoint{endpointOf(t, pa)}, Version: mqtt.V311, ClientID: "q2-bridge",
					CleanSession: false, KeepAlive: 30, MaxInflight: 1,
					Notifications: true, NotificationTopic: "st", NotificationsLocalOnly: true,
					Topics: []Topic{{Pattern: "q2/#", Out: true, QoS: 2}},
				})
				waitState(t, lstate, "1")
				lpub := connectTo(t, local.Addr("tcp").String(), "lpub", nil)
				publish(t, lpub, "q2/x", "warm-up", 2, false)
				rsub.expect("q2/x", "warm-up")

				proxy.armed.Store(true)
				const n = 5
				for i := range n {
					publish(t, lpub, "q2/x", strconv.Itoa(i), 2, false)
				}
				waitState(t, lstate, "0") // the cut
				waitState(t, lstate, "1") // reconnected
				publish(t, lpub, "q2/x", "end", 2, false)
				for i := range n {
					if p := rsub.next(); string(p.Payload) != strconv.Itoa(i) {
						t.Fatalf("message %d: got %q (a duplicate or a loss)", i, p.Payload)
					}
				}
				rsub.expect("q2/x", "end")
				if proxy.cuts.Load() != 1 {
					t.Fatalf("%d cuts", proxy.cuts.Load())
				}
			})
		}
	}
}
