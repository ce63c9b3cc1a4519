package selftest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// The causal-order probe. Client B writes SUBSCRIBE t; as soon as that
// write has returned, client A (already connected) writes PUBLISH t. B
// sent its SUBSCRIBE first, so B must receive the message: its
// subscription existed, in every observer's view, before the message
// was published. Test suites (Paho's among them) subscribe and publish
// this way without waiting for SUBACK. Nothing in MQTT lets a broker
// reorder packets of different connections against their arrival, and
// mosquitto, which handles sockets in readiness order in one loop, keeps
// this order.
//
// After its PUBLISH, B's side also writes PINGREQ: a message that has not
// arrived LateGrace after the PINGRESP is counted lost (one that arrives
// after the PINGRESP but within the grace is counted late, for
// information: the order held, the delivery was slow). At QoS 1 and 2
// the grace starts once A also has its final acknowledgement (PUBACK,
// PUBCOMP): the broker has then handled A's PUBLISH, so a message still
// missing after the grace was routed without B's subscription. Without
// that wait a broker slowed down (CI under the race detector: 36 of 47
// tries late) could be counted as losing a message it had not handled
// yet. At QoS 2 it matters more: a broker may deliver the message when
// A's PUBREL arrives rather than its PUBLISH (mosquitto does; both are
// allowed, MQTT 5.0 4.3.3, "Method B"), so the delivery waits for A's
// round trip.

// CausalMode is how the connections look when a try starts.
type CausalMode string

const (
	// CausalFresh: B has just connected (CONNACK received).
	CausalFresh CausalMode = "fresh"
	// CausalHot: B has just received a QoS 1 message and writes its
	// PUBACK right before the SUBSCRIBE, A has just published: both
	// connections are busy in the broker when the try starts.
	CausalHot CausalMode = "hot"
	// CausalBusy: two more client pairs flood the broker with QoS 0
	// messages during the tries.
	CausalBusy CausalMode = "busy"
)

// CausalConfig says what the probe does.
type CausalConfig struct {
	Endpoint    client.Endpoint
	Username    string
	HasUsername bool
	Password    []byte
	HasPassword bool
	Version     mqtt.Version
	QoS         mqtt.QoS
	Mode        CausalMode
	Tries       int
	// Topic is the prefix of the topics used (one per try).
	Topic string
	// Timeout bounds each network wait.
	Timeout time.Duration
	// StopAtLoss ends the probe at the first lost message (a lost try
	// costs LateGrace).
	StopAtLoss bool
}

// LateGrace is how long after B's PINGRESP the probe still waits for the
// message before it counts it lost.
const LateGrace = time.Second

// CausalResult counts the tries.
type CausalResult struct {
	Tries, Lost, Late int
}

func (r CausalResult) String() string {
	return fmt.Sprintf("%d tries, %d lost, %d late", r.Tries, r.Lost, r.Late)
}

// rawClient is a connection the probe writes packets on itself.
type rawClient struct {
	nc  net.Conn
	r   *mqtt.Reader
	v   mqtt.Version
	buf []byte
	mu  sync.Mutex // writes
	// comps holds the packet ids of the PUBACKs and PUBCOMPs drainLoop
	// has read (publisher A: try waits for its QoS 1 or 2 exchange); nil:
	// none kept.
	comps *compSet
	// pings is told of each PINGRESP drainLoop reads (a flood publisher
	// paces itself by them); nil: not told.
	pings chan struct{}
}

func (cfg *CausalConfig) dial(ctx context.Context, id string) (*rawClient, error) {
	nc, err := client.Dial(ctx, cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	c := &rawClient{nc: nc, v: cfg.Version}
	c.r = mqtt.NewReader(bufio.NewReader(nc), 0)
	c.r.Version = cfg.Version
	cp := &mqtt.Connect{Version: cfg.Version, CleanStart: true, KeepAlive: 60, ClientID: id,
		HasUsername: cfg.HasUsername, Username: cfg.Username, HasPassword: cfg.HasPassword, Password: cfg.Password}
	if err := c.write(cp); err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetReadDeadline(time.Now().Add(cfg.Timeout))
	p, err := c.r.ReadPacket()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("waiting for CONNACK: %w", err)
	}
	if ack, ok := p.(*mqtt.Connack); !ok || ack.Code != 0 {
		nc.Close()
		return nil, fmt.Errorf("connect refused: %s", mqtt.Describe(p))
	}
	return c, nil
}

func (c *rawClient) write(ps ...mqtt.Packet) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.buf[:0]
	for _, p := range ps {
		var err error
		if b, err = mqtt.Append(b, p, c.v); err != nil {
			return err
		}
	}
	c.buf = b
	_, err := c.nc.Write(b)
	return err
}

// ackInbound answers an inbound PUBLISH or PUBREL as a client must.
func (c *rawClient) ackInbound(p mqtt.Packet) error {
	switch q := p.(type) {
	case *mqtt.Publish:
		switch q.QoS {
		case 1:
			return c.write(&mqtt.Ack{Kind: mqtt.PUBACK, PacketID: q.PacketID})
		case 2:
			return c.write(&mqtt.Ack{Kind: mqtt.PUBREC, PacketID: q.PacketID})
		}
	case *mqtt.Ack:
		switch q.Kind {
		case mqtt.PUBREL:
			return c.write(&mqtt.Ack{Kind: mqtt.PUBCOMP, PacketID: q.PacketID})
		case mqtt.PUBREC:
			return c.write(&mqtt.Ack{Kind: mqtt.PUBREL, PacketID: q.PacketID})
		}
	}
	return nil
}

// drainLoop reads and answers everything c receives until it fails.
func (c *rawClient) drainLoop(count *atomic.Int64) {
	for {
		p, err := c.r.ReadPacket()
		if err != nil {
			return
		}
		if _, ok := p.(*mqtt.Publish); ok && count != nil {
			count.Add(1)
		}
		if p.Type() == mqtt.PINGRESP && c.pings != nil {
			select {
			case c.pings <- struct{}{}:
			default:
			}
		}
		if q, ok := p.(*mqtt.Ack); ok && (q.Kind == mqtt.PUBACK || q.Kind == mqtt.PUBCOMP) && c.comps != nil {
			c.comps.add(q.PacketID)
		}
		if c.ackInbound(p) != nil {
			return
		}
	}
}

// CausalOrder runs the probe and counts lost messages.
func CausalOrder(ctx context.Context, cfg CausalConfig) (CausalResult, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Topic == "" {
		cfg.Topic = TopicRoot + "/causal"
	}
	var res CausalResult
	var closers []func()
	defer func() {
		for _, f := range closers {
			f()
		}
	}()
	tag := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	a, err := cfg.dial(ctx, "causal-a-"+tag)
	if err != nil {
		return res, fmt.Errorf("publisher A: %w", err)
	}
	closers = append(closers, func() { a.nc.Close() })
	_ = a.nc.SetReadDeadline(time.Time{})
	a.comps = newCompSet()
	go a.drainLoop(nil) // A's acks (PUBACK, PUBREC -> PUBREL, PUBCOMP)

	if cfg.Mode == CausalBusy {
		for i := range 2 {
			stop, err := cfg.flood(ctx, fmt.Sprintf("%s-%d", tag, i))
			if err != nil {
				return res, fmt.Errorf("background load: %w", err)
			}
			closers = append(closers, stop)
		}
	}
	var b *rawClient
	for i := 0; i < cfg.Tries; i++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if b == nil || cfg.Mode == CausalFresh {
			if b != nil {
				b.nc.Close()
			}
			if b, err = cfg.dial(ctx, fmt.Sprintf("causal-b-%s-%d", tag, i)); err != nil {
				return res, fmt.Errorf("subscriber B: %w", err)
			}
			bb := b
			closers = append(closers, func() { bb.nc.Close() })
		}
		lost, late, err := cfg.try(a, b, i)
		if err != nil {
			return res, fmt.Errorf("try %d: %w", i, err)
		}
		res.Tries++
		if late {
			res.Late++
		}
		if lost {
			res.Lost++
			if cfg.StopAtLoss {
				break
			}
		}
	}
	return res, nil
}

// flood starts a QoS 0 publisher and a subscriber that reads everything.
func (cfg *CausalConfig) flood(ctx context.Context, tag string) (func(), error) {
	sub, err := cfg.dial(ctx, "causal-bg-sub-"+tag)
	if err != nil {
		return nil, err
	}
	topic := cfg.Topic + "/bg/" + tag
	if err := sub.write(&mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: topic}}}); err != nil {
		sub.nc.Close()
		return nil, err
	}
	_ = sub.nc.SetReadDeadline(time.Time{})
	go sub.drainLoop(nil)
	pub, err := cfg.dial(ctx, "causal-bg-pub-"+tag)
	if err != nil {
		sub.nc.Close()
		return nil, err
	}
	_ = pub.nc.SetReadDeadline(time.Time{})
	pub.pings = make(chan struct{}, 1)
	go pub.drainLoop(nil)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		batch := make([]mqtt.Packet, 33)
		for i := range 32 {
			batch[i] = &mqtt.Publish{Topic: topic, Payload: []byte("background load")}
		}
		batch[32] = &mqtt.Pingreq{}
		for {
			select {
			case <-done:
				return
			default:
			}
			if pub.write(batch...) != nil {
				return
			}
			// A batch at a time (the broker answers the PINGREQ once it
			// has read the PUBLISHes before it): the broker stays busy,
			// and holds at most a batch when the flood stops. Unpaced,
			// the flood filled the broker's socket buffer with seconds of
			// work that carried over into the next tries (CI saw
			// mosquitto, logging each message, miss the next
			// subscriber's CONNACK deadline).
			select {
			case <-pub.pings:
			case <-done:
				return
			case <-time.After(cfg.Timeout):
				return
			}
		}
	}()
	return func() {
		close(done)
		pub.nc.Close()
		<-stopped
		sub.nc.Close()
	}, nil
}

var errNoPingresp = errors.New("no PINGRESP")

// try runs one try: returns whether the message was lost or late.
func (cfg *CausalConfig) try(a, b *rawClient, i int) (lost, late bool, err error) {
	topic := fmt.Sprintf("%s/%d", cfg.Topic, i)
	payload := []byte("causal " + strconv.Itoa(i))
	if cfg.Mode == CausalHot {
		// B gets a QoS 1 message and holds its PUBACK back, so that the
		// PUBACK and the SUBSCRIBE reach the broker back to back.
		warm := topic + "/warm"
		if err := b.write(&mqtt.Subscribe{PacketID: 2, Subscriptions: []mqtt.Subscription{{Filter: warm, QoS: 1}}}); err != nil {
			return false, false, err
		}
		if _, err := b.until(cfg.Timeout, func(p mqtt.Packet) bool { return p.Type() == mqtt.SUBACK }); err != nil {
			return false, false, fmt.Errorf("warm-up SUBACK: %w", err)
		}
		if err := a.write(&mqtt.Publish{Topic: warm, Payload: []byte("warm"), QoS: 1, PacketID: 1}); err != nil {
			return false, false, err
		}
		p, err := b.until(cfg.Timeout, func(p mqtt.Packet) bool { q, ok := p.(*mqtt.Publish); return ok && q.Topic == warm })
		if err != nil {
			return false, false, fmt.Errorf("warm-up message: %w", err)
		}
		if err := b.write(&mqtt.Ack{Kind: mqtt.PUBACK, PacketID: p.(*mqtt.Publish).PacketID}); err != nil {
			return false, false, err
		}
	}
	if err := b.write(&mqtt.Subscribe{PacketID: 3, Subscriptions: []mqtt.Subscription{{Filter: topic, QoS: cfg.QoS}}}); err != nil {
		return false, false, err
	}
	// B's write has returned: the SUBSCRIBE is in the broker's socket.
	pub := &mqtt.Publish{Topic: topic, Payload: payload, QoS: cfg.QoS}
	if cfg.QoS > 0 {
		pub.PacketID = uint16(i%60000) + 10
	}
	a.dropComps()
	if err := a.write(pub); err != nil {
		return false, false, err
	}
	if err := b.write(&mqtt.Pingreq{}); err != nil {
		return false, false, err
	}
	// First until the PINGRESP, noting the message if it comes before...
	got := false
	_, err = b.until(cfg.Timeout, func(p mqtt.Packet) bool {
		if q, ok := p.(*mqtt.Publish); ok && q.Topic == topic {
			got = true
		}
		return p.Type() == mqtt.PINGRESP
	})
	if err != nil {
		return false, false, fmt.Errorf("%w: %v", errNoPingresp, err)
	}
	if got {
		return false, false, nil
	}
	if cfg.QoS > 0 {
		if err := a.awaitComp(pub.PacketID, cfg.Timeout); err != nil {
			return false, false, err
		}
	}
	// ... then LateGrace for it, no more: a lost try costs LateGrace.
	_, err = b.until(LateGrace, func(p mqtt.Packet) bool {
		q, ok := p.(*mqtt.Publish)
		return ok && q.Topic == topic
	})
	return err != nil, err == nil, nil
}

// compSet is the final acknowledgements (PUBACK, PUBCOMP) a publisher
// has received, by packet id. A
// set, not a channel: when A's acks are held up (a TCP segment lost and
// sent again later), the PUBCOMPs of many tries arrive at once, and a
// bounded channel dropped the one a try was waiting for (CI:
// TestCausalOrder/mqbroker/*/qos2/busy, "no PUBCOMP ... within 5s" with
// the PUBCOMP already read).
type compSet struct {
	mu     sync.Mutex
	ids    map[uint16]bool
	notify chan struct{} // told of each one (capacity 1)
}

func newCompSet() *compSet {
	return &compSet{ids: make(map[uint16]bool), notify: make(chan struct{}, 1)}
}

func (s *compSet) add(pid uint16) {
	s.mu.Lock()
	s.ids[pid] = true
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default: // already told
	}
}

// take reports whether pid's acknowledgement was received, forgetting it.
func (s *compSet) take(pid uint16) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ids[pid] {
		return false
	}
	delete(s.ids, pid)
	return true
}

// reset forgets the acknowledgements received so far.
func (s *compSet) reset() {
	s.mu.Lock()
	clear(s.ids)
	s.mu.Unlock()
}

// dropComps forgets the acknowledgements received so far (earlier tries').
func (c *rawClient) dropComps() { c.comps.reset() }

// awaitComp waits up to d for the PUBACK or PUBCOMP of packet id pid.
func (c *rawClient) awaitComp(pid uint16, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for !c.comps.take(pid) {
		select {
		case <-c.comps.notify:
		case <-timer.C:
			return fmt.Errorf("no PUBACK or PUBCOMP for the PUBLISH (packet id %d) within %v", pid, d)
		}
	}
	return nil
}

// until reads (answering as a client must) until match is true, for at
// most d; it returns the matching packet.
func (c *rawClient) until(d time.Duration, match func(mqtt.Packet) bool) (mqtt.Packet, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	defer c.nc.SetReadDeadline(time.Time{})
	for {
		p, err := c.r.ReadPacket()
		if err != nil {
			return nil, err
		}
		if err := c.ackInbound(p); err != nil {
			return nil, err
		}
		if match(p) {
			return p, nil
		}
	}
}
