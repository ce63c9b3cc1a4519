package bench

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Scenarios.
const (
	P2P     = "p2p"
	Fanout  = "fanout"
	Latency = "latency"
	Idle    = "idle"
	Slow    = "slow"
)

// Scenarios lists the scenario names.
var Scenarios = []string{P2P, Fanout, Latency, Idle, Slow}

// Hard caps: whatever the flags say, a run is bounded in count and time.
const (
	MaxCount       = 50_000_000       // messages per run (all publishers)
	MaxDeliveries  = 500_000_000      // expected deliveries (bounds tracker memory to ~64 MB)
	MaxDuration    = 10 * time.Minute // publishing time
	MaxDrain       = time.Minute      // waiting for deliveries after publishing
	MaxClients     = 10_000           // publishers + subscribers
	MaxConnections = 200_000          // idle scenario
	MaxHold        = 10 * time.Minute
	MaxStall       = 5 * time.Minute
)

// Config describes one run.
type Config struct {
	Scenario string
	// Addr is host:port, or several separated by commas (the nodes of a
	// cluster): connections are spread over them in turn, subscriber i
	// on node i mod n and publisher i on node i+1 mod n, so with several
	// nodes every message crosses the cluster.
	Addr    string
	Version mqtt.Version
	Label   string // free text copied into the result (e.g. the broker's name)

	QoS         mqtt.QoS
	Pubs        int           // publishers (p2p: also the number of subscribers)
	Subs        int           // subscribers (fanout)
	PayloadSize int           // bytes, at least StampSize
	Count       uint64        // messages over all publishers; 0 = until Duration
	Duration    time.Duration // publishing time limit; 0 = MaxDuration
	Inflight    int           // QoS>0 window per publisher
	Rate        float64       // messages/s over all publishers; 0 = as fast as possible
	Warmup      time.Duration // latency samples of messages sent before this are dropped
	TopicPrefix string
	// Durable subscribers: clean session 0 (v5: Clean Start 0 and a
	// Session Expiry Interval), so a persistent broker stores every
	// message for them until it is acknowledged. Their sessions are
	// removed when the run ends.
	Durable bool

	// Slow: the slow subscriber alternates Pause without reading with
	// Drain of reading as fast as it can.
	Pause time.Duration
	Drain time.Duration

	Connections int           // idle: connections to open
	Hold        time.Duration // idle: how long to hold them
	Parallel    int           // idle: concurrent dialers
	// RatePerConn: idle connections each publish this many messages per
	// second (at QoS) during the hold, to a topic of their own; 0 = none.
	RatePerConn float64

	Stall          time.Duration // stop when nothing progresses for this long
	ConnectTimeout time.Duration
	PID            int // broker process for CPU and RSS; 0 = none
	AllowRemote    bool
}

// Addrs lists the broker addresses of Addr.
func (c *Config) Addrs() []string { return strings.Split(c.Addr, ",") }

// addrFor returns the address of connection i (of n in the rotation),
// shifted by off.
func (c *Config) addrFor(i, off int) string {
	a := c.Addrs()
	return a[(i+off)%len(a)]
}

// Defaults returns the default configuration of a scenario.
func Defaults(scenario string) Config {
	c := Config{
		Scenario: scenario, Addr: "127.0.0.1:1883", Version: mqtt.V311,
		PayloadSize: 64, Inflight: 100, TopicPrefix: "bench",
		Stall: 3 * time.Second, ConnectTimeout: 5 * time.Second,
		Pubs: 1, Subs: 1, Duration: 30 * time.Second,
	}
	switch scenario {
	case P2P:
		c.Pubs, c.Subs, c.Count = 10, 10, 200_000
	case Fanout:
		c.Pubs, c.Subs, c.Count = 1, 100, 10_000
	case Latency:
		c.Rate, c.Duration, c.Warmup = 1000, 10*time.Second, 500*time.Millisecond
	case Idle:
		c.Connections, c.Hold, c.Parallel = 10_000, 3*time.Second, 64
		c.Pubs, c.Subs, c.Duration = 0, 0, 0
	case Slow:
		// Issue 12 item 6: 2.3 s without reading, then a quick drain.
		c.Pubs, c.Subs, c.Duration = 1, 2, 10*time.Second
		c.Pause, c.Drain = 2300*time.Millisecond, 200*time.Millisecond
	}
	return c
}

// Validate checks the configuration against the caps and the scenario.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch c.Scenario {
	case P2P, Fanout, Latency, Idle, Slow:
	default:
		return fmt.Errorf("unknown scenario %q (want one of %s)", c.Scenario, strings.Join(Scenarios, ", "))
	}
	for _, a := range c.Addrs() {
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad("address %q: %v", a, err)
		}
	}
	switch c.Version {
	case mqtt.V31, mqtt.V311, mqtt.V5:
	default:
		bad("unsupported protocol version %d", c.Version)
	}
	if c.Stall <= 0 || c.Stall > MaxStall {
		bad("--stall must be in (0, %s]", MaxStall)
	}
	if c.ConnectTimeout <= 0 {
		bad("--connect-timeout must be positive")
	}
	if c.Scenario == Idle {
		if c.Connections < 1 || c.Connections > MaxConnections {
			bad("--connections must be in [1, %d]", MaxConnections)
		}
		if c.Hold < 0 || c.Hold > MaxHold {
			bad("--hold must be in [0, %s]", MaxHold)
		}
		if c.Parallel < 1 || c.Parallel > 4096 {
			bad("--parallel must be in [1, 4096]")
		}
		if c.Durable {
			bad("--durable applies to p2p, fanout and latency")
		}
		if c.RatePerConn < 0 || c.RatePerConn > 100 {
			bad("--rate-per-conn must be in [0, 100]")
		}
		if c.RatePerConn > 0 && c.QoS > 1 {
			bad("idle publishes at QoS 0 or 1")
		}
		if c.RatePerConn > 0 && (c.PayloadSize < 1 || c.PayloadSize > 1<<20) {
			bad("--size must be in [1, %d] for idle publishing", 1<<20)
		}
		return errors.Join(errs...)
	}
	if c.QoS > 2 {
		bad("--qos must be 0, 1 or 2")
	}
	if c.Durable && c.QoS == 0 {
		bad("--durable needs QoS 1 or 2 (QoS 0 messages are not stored for sessions)")
	}
	if c.Scenario == Fanout && c.QoS > 1 {
		bad("fanout runs at QoS 0 or 1")
	}
	if c.Scenario == Slow {
		if c.QoS > 1 {
			bad("slow runs at QoS 0 or 1")
		}
		if c.Pubs != 1 || c.Subs != 2 {
			bad("slow has one publisher and two subscribers (one normal, one slow)")
		}
		if c.Durable {
			bad("--durable applies to p2p, fanout and latency")
		}
		if c.Count != 0 || c.Duration <= 0 {
			bad("slow runs for --duration per phase (no --count)")
		}
		if c.Pause <= 0 || c.Pause > time.Minute || c.Drain <= 0 || c.Drain > time.Minute {
			bad("--pause and --drain must be in (0, 1m]")
		}
		if c.Rate != 0 {
			bad("slow publishes as fast as possible (no --rate)")
		}
	}
	if c.PayloadSize < StampSize || c.PayloadSize > 256<<20 {
		bad("--size must be in [%d, %d] (the stamp takes %d bytes)", StampSize, 256<<20, StampSize)
	}
	if c.Pubs < 1 || c.Subs < 1 || c.Pubs+c.Subs > MaxClients {
		bad("need at least one publisher and one subscriber, at most %d clients", MaxClients)
	}
	if c.Scenario != Fanout && c.Scenario != Slow && c.Pubs != c.Subs {
		bad("%s pairs publishers with subscribers: --pubs and --subs must be equal", c.Scenario)
	}
	if c.Count > MaxCount {
		bad("--count is capped at %d", MaxCount)
	}
	if c.Count == 0 && c.Duration == 0 {
		bad("give a --count or a --duration")
	}
	if c.Duration < 0 || c.Duration > MaxDuration {
		bad("--duration must be in [0, %s]", MaxDuration)
	}
	if c.Inflight < 1 || c.Inflight > 65535 {
		bad("--inflight must be in [1, 65535]")
	}
	if c.Rate < 0 {
		bad("--rate must not be negative")
	}
	if c.Count > 0 && c.Count*uint64(c.subsPerTopic()) > MaxDeliveries {
		bad("--count x subscribers per topic = %d deliveries, capped at %d",
			c.Count*uint64(c.subsPerTopic()), uint64(MaxDeliveries))
	}
	return errors.Join(errs...)
}

// publishLimit is how long publishers may run.
func (c *Config) publishLimit() time.Duration {
	if c.Duration <= 0 {
		return MaxDuration
	}
	return c.Duration
}

// countCap is the number of messages the run sends at most: the count,
// or for a run bounded by duration only, what the caps allow.
func (c *Config) countCap() uint64 {
	if c.Count > 0 {
		return c.Count
	}
	return min(uint64(MaxCount), MaxDeliveries/uint64(c.subsPerTopic()))
}

// perPublisher is how many messages publisher i sends at most (the
// duration may end it sooner).
func (c *Config) perPublisher(i int) uint64 {
	total := c.countCap()
	n := total / uint64(c.Pubs)
	if uint64(i) < total%uint64(c.Pubs) {
		n++
	}
	return n
}

// maxSeq bounds the sequence numbers a publisher can send, for the
// tracker.
func (c *Config) maxSeq() uint64 { return c.perPublisher(0) }

// subsPerTopic is how many subscribers receive each message.
func (c *Config) subsPerTopic() int {
	if c.Scenario == Fanout {
		return c.Subs
	}
	return 1
}

// CheckLoopback refuses hosts that are not loopback addresses unless
// allowRemote: a load generator pointed at someone else's broker is an
// attack.
func CheckLoopback(addr string, allowRemote bool) error {
	if allowRemote {
		return nil
	}
	if list := strings.Split(addr, ","); len(list) > 1 {
		for _, a := range list {
			if err := CheckLoopback(a, false); err != nil {
				return err
			}
		}
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return fmt.Errorf("resolving %q: %w", host, err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("%s resolves to %s, which is not a loopback address: mqbench only loads brokers on this machine unless --allow-remote is given", host, ip)
		}
	}
	return nil
}
