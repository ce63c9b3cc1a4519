package bench

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultsValidate(t *testing.T) {
	for _, s := range Scenarios {
		c := Defaults(s)
		if err := c.Validate(); err != nil {
			t.Errorf("Defaults(%q) does not validate: %v", s, err)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name     string
		scenario string
		mod      func(c *Config)
		want     string
	}{
		{"unknown scenario", "nope", func(*Config) {}, "unknown scenario"},
		{"qos 3", P2P, func(c *Config) { c.QoS = 3 }, "--qos"},
		{"fanout qos 2", Fanout, func(c *Config) { c.QoS = 2 }, "fanout runs at QoS 0 or 1"},
		{"payload below stamp", P2P, func(c *Config) { c.PayloadSize = StampSize - 1 }, "--size"},
		{"count over cap", P2P, func(c *Config) { c.Count = MaxCount + 1 }, "--count is capped"},
		{"duration over cap", P2P, func(c *Config) { c.Duration = MaxDuration + time.Second }, "--duration"},
		{"unbounded", P2P, func(c *Config) { c.Count, c.Duration = 0, 0 }, "--count or a --duration"},
		{"p2p unpaired", P2P, func(c *Config) { c.Subs = 3 }, "must be equal"},
		{"fanout deliveries over cap", Fanout, func(c *Config) { c.Count, c.Subs = MaxCount, 100 }, "deliveries, capped"},
		{"inflight 0", P2P, func(c *Config) { c.Inflight = 0 }, "--inflight"},
		{"negative rate", Latency, func(c *Config) { c.Rate = -1 }, "--rate"},
		{"no stall bound", P2P, func(c *Config) { c.Stall = 0 }, "--stall"},
		{"too many clients", P2P, func(c *Config) { c.Pubs, c.Subs = MaxClients, MaxClients }, "at most"},
		{"idle zero connections", Idle, func(c *Config) { c.Connections = 0 }, "--connections"},
		{"idle too many", Idle, func(c *Config) { c.Connections = MaxConnections + 1 }, "--connections"},
		{"idle publishing qos 2", Idle, func(c *Config) { c.RatePerConn, c.QoS = 1, 2 }, "idle publishes at QoS 0 or 1"},
		{"idle negative rate", Idle, func(c *Config) { c.RatePerConn = -1 }, "--rate-per-conn"},
		{"bad address", P2P, func(c *Config) { c.Addr = "localhost" }, "address"},
		{"bad version", P2P, func(c *Config) { c.Version = 6 }, "protocol version"},
		{"slow qos 2", Slow, func(c *Config) { c.QoS = 2 }, "slow runs at QoS 0 or 1"},
		{"slow three subscribers", Slow, func(c *Config) { c.Subs = 3 }, "one publisher and two subscribers"},
		{"slow with a count", Slow, func(c *Config) { c.Count = 1000 }, "no --count"},
		{"slow without pause", Slow, func(c *Config) { c.Pause = 0 }, "--pause"},
		{"slow paced", Slow, func(c *Config) { c.Rate = 10 }, "no --rate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults(tt.scenario)
			tt.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestPerPublisherSplitsCount(t *testing.T) {
	tests := []struct {
		count uint64
		pubs  int
		want  []uint64
	}{
		{10, 3, []uint64{4, 3, 3}},
		{9, 3, []uint64{3, 3, 3}},
		{2, 3, []uint64{1, 1, 0}},
	}
	for _, tt := range tests {
		c := Defaults(P2P)
		c.Count, c.Pubs, c.Subs = tt.count, tt.pubs, tt.pubs
		var sum uint64
		for i, w := range tt.want {
			if got := c.perPublisher(i); got != w {
				t.Errorf("count %d over %d: publisher %d sends %d, want %d", tt.count, tt.pubs, i, got, w)
			}
			sum += c.perPublisher(i)
		}
		if sum != tt.count {
			t.Errorf("count %d split into %d", tt.count, sum)
		}
	}
	// Bounded by duration only: still a finite per-publisher cap.
	c := Defaults(Fanout)
	c.Count = 0
	if n := c.perPublisher(0); n == 0 || n*uint64(c.Subs) > MaxDeliveries {
		t.Errorf("duration-only fanout cap = %d messages", n)
	}
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		addr   string
		remote bool
		ok     bool
	}{
		{"127.0.0.1:1883", false, true},
		{"[::1]:1883", false, true},
		{"localhost:1883", false, true},
		{"127.1.2.3:1883", false, true},
		{"10.0.0.1:1883", false, false},
		{"8.8.8.8:1883", false, false},
		{"8.8.8.8:1883", true, true},
		{"no-port", false, false},
	}
	for _, tt := range tests {
		err := CheckLoopback(tt.addr, tt.remote)
		if (err == nil) != tt.ok {
			t.Errorf("CheckLoopback(%q, %v) = %v, want ok=%v", tt.addr, tt.remote, err, tt.ok)
		}
	}
}

func TestRunRefusesRemoteBroker(t *testing.T) {
	c := Defaults(P2P)
	c.Addr = "192.0.2.1:1883" // TEST-NET-1: never dialled
	if _, err := Run(t.Context(), c, nil); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("Run against a remote address = %v, want a loopback refusal", err)
	}
}
