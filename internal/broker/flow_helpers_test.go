package broker

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Helpers for the flow-control tests: clients that pipeline publishes and
// acknowledge deliveries at full speed, as a load generator does.

// flowDeadline bounds a whole pipelined transfer (race detector included).
const flowDeadline = 30 * time.Second

// fastClient wraps a connected tclient (its Reader keeps whatever it
// buffered) with a buffered writer that several goroutines may use.
type fastClient struct {
	*tclient
	wmu sync.Mutex
	w   *bufio.Writer
	buf []byte
}

func newFastClient(c *tclient) *fastClient {
	_ = c.nc.SetDeadline(time.Now().Add(flowDeadline))
	return &fastClient{tclient: c, w: bufio.NewWriter(c.nc)}
}

// write encodes p into the write buffer; flush sends it.
func (c *fastClient) write(p mqtt.Packet, flush bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var err error
	c.buf, err = mqtt.Append(c.buf[:0], p, c.v)
	if err != nil {
		return err
	}
	if _, err := c.w.Write(c.buf); err != nil {
		return err
	}
	if flush {
		return c.w.Flush()
	}
	return nil
}

func (c *fastClient) flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.w.Flush()
}

// payloadFor is message i's payload: its sequence number, padded to size.
func payloadFor(i, size int) []byte {
	p := fmt.Appendf(nil, "%08d", i)
	for len(p) < size {
		p = append(p, '.')
	}
	return p
}

func seqOf(p []byte) (int, error) {
	if len(p) < 8 {
		return 0, fmt.Errorf("payload %q without sequence number", p)
	}
	return strconv.Atoi(string(p[:8]))
}

// publishPipelined publishes n messages numbered 0..n-1 on topic with up
// to window of them unacknowledged, and returns when every one is
// acknowledged (QoS 1: PUBACK, QoS 2: PUBCOMP; QoS 0: PINGRESP after the
// last, i.e. the broker handled them all).
func (c *fastClient) publishPipelined(topic string, qos mqtt.QoS, n, window, size int) error {
	var inflight, done, sent int
	for done < n {
		for sent < n && (qos == 0 || inflight < window) {
			p := &mqtt.Publish{Topic: topic, QoS: qos, Payload: payloadFor(sent, size)}
			if qos > 0 {
				p.PacketID = uint16(sent%65535 + 1)
				inflight++
			} else {
				done++
			}
			sent++
			if err := c.write(p, false); err != nil {
				return err
			}
		}
		if qos == 0 {
			if err := c.write(&mqtt.Pingreq{}, true); err != nil {
				return err
			}
			return c.waitPingresp()
		}
		if c.r.Buffered() == 0 {
			if err := c.flush(); err != nil {
				return err
			}
		}
		p, err := c.r.ReadPacket()
		if err != nil {
			return fmt.Errorf("publisher after %d of %d acknowledged: %w", done, n, err)
		}
		a, ok := p.(*mqtt.Ack)
		if !ok {
			return fmt.Errorf("publisher: unexpected %s", mqtt.Describe(p))
		}
		if a.Code.IsError() {
			return fmt.Errorf("publisher: %s", mqtt.Describe(a))
		}
		switch {
		case a.Kind == mqtt.PUBREC && qos == 2:
			if err := c.write(&mqtt.Ack{Kind: mqtt.PUBREL, PacketID: a.PacketID}, false); err != nil {
				return err
			}
		case a.Kind == mqtt.PUBACK && qos == 1, a.Kind == mqtt.PUBCOMP && qos == 2:
			inflight--
			done++
		default:
			return fmt.Errorf("publisher: unexpected %s", mqtt.Describe(a))
		}
	}
	return c.flush()
}

func (c *fastClient) waitPingresp() error {
	for {
		p, err := c.r.ReadPacket()
		if err != nil {
			return err
		}
		if _, ok := p.(*mqtt.Pingresp); ok {
			return nil
		}
	}
}

// consume reads deliveries, acknowledging them as a client must, until
// want distinct sequence numbers arrived. It returns the sequence numbers
// in arrival order, duplicates included.
func (c *fastClient) consume(want int) ([]int, error) {
	var got []int
	seen := make(map[int]bool)
	for len(seen) < want {
		p, err := c.r.ReadPacket()
		if err != nil {
			return got, fmt.Errorf("subscriber after %d of %d: %w", len(seen), want, err)
		}
		switch p := p.(type) {
		case *mqtt.Publish:
			i, err := seqOf(p.Payload)
			if err != nil {
				return got, err
			}
			got = append(got, i)
			seen[i] = true
			switch p.QoS {
			case 1:
				err = c.write(&mqtt.Ack{Kind: mqtt.PUBACK, PacketID: p.PacketID}, false) // [MQTT-4.3.2-2]
			case 2:
				err = c.write(&mqtt.Ack{Kind: mqtt.PUBREC, PacketID: p.PacketID}, false) // [MQTT-4.3.3-2]
			}
			if err != nil {
				return got, err
			}
		case *mqtt.Ack:
			if p.Kind != mqtt.PUBREL {
				return got, fmt.Errorf("subscriber: unexpected %s", mqtt.Describe(p))
			}
			if err := c.write(&mqtt.Ack{Kind: mqtt.PUBCOMP, PacketID: p.PacketID}, false); err != nil {
				return got, err
			}
		default:
			return got, fmt.Errorf("subscriber: unexpected %s", mqtt.Describe(p))
		}
		if c.r.Buffered() == 0 {
			if err := c.flush(); err != nil {
				return got, err
			}
		}
	}
	return got, c.flush()
}

// checkSequence checks deliveries 0..n-1 against the QoS guarantees: at
// QoS 0 and 2 each exactly once, at QoS 1 at least once; first arrivals in
// publish order in every case [MQTT-4.6.0-6].
func checkSequence(t *testing.T, got []int, n int, qos mqtt.QoS) {
	t.Helper()
	count := make([]int, n)
	next := 0
	for _, i := range got {
		if i < 0 || i >= n {
			t.Fatalf("unexpected sequence number %d", i)
		}
		count[i]++
		if count[i] == 1 {
			if i != next {
				t.Fatalf("message %d arrived first where %d was due", i, next)
			}
			next++
		}
	}
	for i, k := range count {
		switch {
		case k == 0:
			t.Fatalf("message %d of %d lost", i, n)
		case k > 1 && qos != 1:
			t.Fatalf("message %d delivered %d times at QoS %d", i, k, qos)
		}
	}
}

// pipeClient connects a client over net.Pipe (no buffering at all: a
// write blocks until the broker reads it), subscribed to filter.
func pipeClient(t *testing.T, b *Broker, id, filter string, qos mqtt.QoS) *tclient {
	t.Helper()
	srv, cli := net.Pipe()
	t.Cleanup(func() { cli.Close() })
	if err := b.ServeConn(srv, "pipe"); err != nil {
		t.Fatal(err)
	}
	c := newTClient(t, cli, mqtt.V311)
	c.connect(connectPacket(mqtt.V311, id, true))
	if filter != "" {
		c.subscribe(filter, qos)
	}
	return c
}

// sessionOf returns the broker's session for a client id.
func sessionOf(t *testing.T, b *Broker, id string) *session {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.sessions.get(id)
	if s == nil {
		t.Fatalf("no session %q", id)
	}
	return s
}

// errAfter runs f in a goroutine and returns a channel with its result.
func errAfter(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

func waitErr(t *testing.T, what string, ch <-chan error) {
	t.Helper()
	select {
	case err := <-ch:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(flowDeadline + time.Second):
		t.Fatalf("%s: no result", what)
	}
}
